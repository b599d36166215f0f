"""MCMC convergence checks on a fitted posterior: the gate before any result is reported.

:func:`check_diagnostics` computes rank-normalised split R-hat, bulk and tail effective sample
sizes (ArviZ ``rhat``/``ess``), the number of divergent transitions and the energy Bayesian
fraction of missing information (E-BFMI, ArviZ ``bfmi``), and compares them with thresholds
(defaults from Vehtari et al. 2021: R-hat <= 1.01, ESS >= 400, BFMI >= 0.3).
:func:`require_convergence` turns a failed check into a :class:`ConvergenceError` (or a loud
:class:`ConvergenceWarning`), so an unconverged fit is never silently a result.

The parameters converging is not enough for a derived headline number (a 30-year mean, a median
far in the tail): :func:`check_reported_quantities` checks the Monte Carlo standard error of
every headline quantity (:func:`~prrt_bayes.core.summary.headline_rows`) against its posterior
spread (at most :data:`MCSE_MAX_RATIO` of it) and :func:`with_quantity_check` adds that verdict
to an analysis's record.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

import arviz as az
import numpy as np
import xarray as xr
from arviz_stats.base import array_stats


@dataclass(frozen=True)
class Diagnostics:
    """Worst-case convergence figures of one fit and the verdict against the thresholds."""

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    min_bfmi: float
    passed: bool
    problems: tuple[str, ...]
    max_mcse_ratio: float = math.nan
    """Largest Monte Carlo standard error of a reported quantity over its posterior SD (NaN:
    not checked; see :func:`check_reported_quantities`)."""

    def labelled(self, label: str) -> Diagnostics:
        """The same record with every problem prefixed by ``label`` (which fit it concerns).

        Parameters
        ----------
        label
            Short name of the fit, e.g. ``"fit without borrowing"``.

        Returns
        -------
        Diagnostics
            A new record; figures and verdict unchanged, problems as ``"<label>: <problem>"``.
        """
        return replace(self, problems=tuple(f"{label}: {p}" for p in self.problems))

    def to_dict(self) -> dict:
        """Return the record as a plain dict (problems as a list).

        Returns
        -------
        dict
            A new dict with one key per field (``max_rhat``, ..., ``passed``), ``problems`` as
            a ``list[str]``.
        """
        out = asdict(self)
        out["problems"] = list(self.problems)
        return out


class ConvergenceError(RuntimeError):
    """A fit failed its convergence checks; ``.diagnostics`` holds the figures.

    Parameters
    ----------
    diagnostics
        The failed checks (:class:`Diagnostics`); kept as ``.diagnostics``, and its
        ``problems`` form the message.
    what
        What did not converge, for the message (e.g. the analysis name).
    """

    def __init__(self, diagnostics: Diagnostics, what: str = "fit") -> None:
        self.diagnostics = diagnostics
        super().__init__(f"{what} did not converge: " + "; ".join(diagnostics.problems))


class ConvergenceWarning(UserWarning):
    """Warning category for a fit that failed its convergence checks."""


def _varying(ds: xr.Dataset, var_names: Sequence[str] | None) -> list[str]:
    """Names of the requested variables, minus those whose draws are all identical."""
    names = list(ds.data_vars) if var_names is None else list(var_names)
    missing = [n for n in names if n not in ds.data_vars]
    if missing:
        raise KeyError(f"variables not in the posterior: {missing}")
    return [n for n in names if float(ds[n].max() - ds[n].min()) > 0.0]


def _extreme(result: xr.DataTree | xr.Dataset, names: list[str], how: str) -> float:
    """Max or min over all elements of all variables of an ArviZ result; NaN propagates."""
    ds = result.to_dataset() if isinstance(result, xr.DataTree) else result
    values = np.concatenate([np.ravel(ds[n].values) for n in names])
    if np.isnan(values).any():
        return math.nan
    return float(values.max() if how == "max" else values.min())


def check_diagnostics(
    tree: xr.DataTree,
    var_names: Sequence[str] | None = None,
    *,
    rhat_max: float = 1.01,
    ess_min: float = 400,
    bfmi_min: float = 0.3,
) -> Diagnostics:
    """Check convergence of a posterior sampled with NUTS.

    Parameters
    ----------
    tree
        Result of :func:`prrt_bayes.core.sampling.sample` (needs ``posterior``; ``sample_stats``
        with
        ``diverging`` and ``energy`` for the divergence and BFMI checks).
    var_names
        Posterior variables to check (default: all). Elements with identical draws (constants)
        are skipped, as R-hat is undefined for them.
    rhat_max, ess_min, bfmi_min
        Thresholds: largest acceptable R-hat, smallest bulk and tail ESS, smallest E-BFMI.

    Returns
    -------
    Diagnostics
        Worst values over the checked variables, ``passed`` and the list of problems.
    """
    posterior = tree.posterior.to_dataset()
    names = _varying(posterior, var_names)
    problems: list[str] = []
    if posterior.sizes.get("chain", 1) < 2:
        problems.append("fewer than 2 chains: R-hat cannot detect non-convergence")
    if names:
        max_rhat = _extreme(az.rhat(tree, var_names=names), names, "max")
        ess_bulk = _extreme(az.ess(tree, var_names=names, method="bulk"), names, "min")
        ess_tail = _extreme(az.ess(tree, var_names=names, method="tail"), names, "min")
    else:
        max_rhat, ess_bulk, ess_tail = 1.0, math.inf, math.inf
    stats = tree["sample_stats"].to_dataset() if "sample_stats" in tree.children else None
    divergences = int(stats["diverging"].sum()) if stats is not None else 0
    if stats is not None and "energy" in stats:
        min_bfmi = float(np.min(az.bfmi(tree).to_dataset()["energy"].values))
    else:
        min_bfmi = math.nan
    if not max_rhat <= rhat_max:
        problems.append(f"max R-hat {max_rhat:.3f} > {rhat_max}")
    if not ess_bulk >= ess_min:
        problems.append(f"min bulk ESS {ess_bulk:.0f} < {ess_min}")
    if not ess_tail >= ess_min:
        problems.append(f"min tail ESS {ess_tail:.0f} < {ess_min}")
    if divergences > 0:
        problems.append(f"{divergences} divergent transitions")
    if stats is None:
        problems.append("no sample_stats: divergences and BFMI not checked")
    elif not min_bfmi >= bfmi_min:
        problems.append(f"min E-BFMI {min_bfmi:.2f} < {bfmi_min}")
    return Diagnostics(
        max_rhat=max_rhat,
        min_ess_bulk=ess_bulk,
        min_ess_tail=ess_tail,
        divergences=divergences,
        min_bfmi=min_bfmi,
        passed=not problems,
        problems=tuple(problems),
    )


def require_convergence(
    tree: xr.DataTree,
    var_names: Sequence[str] | None = None,
    *,
    on_fail: Literal["raise", "warn"] = "raise",
    what: str = "fit",
    **thresholds: float,
) -> Diagnostics:
    """Check convergence and raise :class:`ConvergenceError` (or warn loudly) if it failed.

    The diagnostics are also written to ``tree.posterior.attrs`` (``converged``,
    ``diagnostics_problems``) so a saved posterior carries its own verdict.

    Parameters
    ----------
    tree, var_names
        As for :func:`check_diagnostics`; ``tree.posterior.attrs`` is modified in place.
    on_fail
        ``"raise"`` (default) or ``"warn"`` (a :class:`ConvergenceWarning`).
    what
        Name of the fit used in the message, e.g. ``"PH model, PFS"``.
    **thresholds
        ``rhat_max``, ``ess_min``, ``bfmi_min``, passed to :func:`check_diagnostics`.

    Returns
    -------
    Diagnostics
        The figures and verdict (returned also when the check failed with ``on_fail="warn"``).

    Raises
    ------
    ConvergenceError
        The check failed and ``on_fail`` is ``"raise"`` (the attributes are written first).
    """
    diag = check_diagnostics(tree, var_names, **thresholds)
    tree.posterior.attrs["converged"] = int(diag.passed)
    tree.posterior.attrs["diagnostics_problems"] = "; ".join(diag.problems)
    if not diag.passed:
        if on_fail == "raise":
            raise ConvergenceError(diag, what)
        warnings.warn(str(ConvergenceError(diag, what)), ConvergenceWarning, stacklevel=2)
    return diag


def worst_of(*diagnostics: Diagnostics) -> Diagnostics:
    """Combine the diagnostics of several fits of one analysis: the worst figure of each kind.

    Parameters
    ----------
    *diagnostics
        One or more :class:`Diagnostics`.

    Returns
    -------
    Diagnostics
        A new record: largest R-hat, smallest ESS and E-BFMI, total divergences, ``passed``
        only if every fit passed, and all problems in order. A NaN figure (not computable, which
        :func:`check_diagnostics` counts as a failed check) is the worst value: it propagates
        whatever the order of the fits, as within one fit.

    Raises
    ------
    ValueError
        No diagnostics given.
    """
    if not diagnostics:
        raise ValueError("no diagnostics to combine")

    def worst(values: list[float], how: str) -> float:
        if any(math.isnan(v) for v in values):
            return math.nan
        return float(max(values) if how == "max" else min(values))

    return Diagnostics(
        max_rhat=worst([d.max_rhat for d in diagnostics], "max"),
        min_ess_bulk=worst([d.min_ess_bulk for d in diagnostics], "min"),
        min_ess_tail=worst([d.min_ess_tail for d in diagnostics], "min"),
        divergences=sum(d.divergences for d in diagnostics),
        min_bfmi=worst([d.min_bfmi for d in diagnostics], "min"),
        passed=all(d.passed for d in diagnostics),
        problems=tuple(p for d in diagnostics for p in d.problems),
        max_mcse_ratio=float(np.nanmax([d.max_mcse_ratio for d in diagnostics]))
        if any(not math.isnan(d.max_mcse_ratio) for d in diagnostics) else math.nan,
    )


MCSE_MAX_RATIO = 0.1
"""Largest acceptable Monte Carlo standard error of a reported quantity, as a fraction of its
posterior SD: the Monte Carlo error then adds at most 1% to the posterior variance, and the
reported median moves by less than a tenth of its uncertainty between seeds."""


def _pooled_standard_error(indicator: np.ndarray) -> np.ndarray:
    """Standard error of the pooled mean of 0/1 draws (..., chain, draw): each chain's own
    autocorrelation (ESS of the chain alone), chains independent, equally weighted.

    Chains may come from different fits (reconstruction members pooled as a mixture), so the
    between-chain spread is posterior spread, not Monte Carlo error; convergence within each fit
    is the parameters' R-hat check.
    """
    n_chains = indicator.shape[-2]
    ess = array_stats.ess(indicator[..., None, :], method="mean")  # (..., chain)
    variance = indicator.mean(axis=-1) * (1 - indicator.mean(axis=-1))
    terms = np.where(variance > 0, variance / np.where(ess > 0, ess, np.nan), 0.0)
    return np.sqrt(terms.sum(axis=-1)) / n_chains


def quantity_mcse_ratio(draws: np.ndarray) -> float:
    """Monte Carlo standard error of a reported quantity over its posterior spread.

    A 0/1 indicator (a posterior probability) is reported by its mean: the ratio is the MCSE of
    the mean over the SD ``sqrt(p (1 - p))``. Any other quantity is reported by its median and
    interval: the ratio is the MCSE of the median (the pooled CDF's standard error at the median,
    mapped through the draws' quantiles, as ArviZ does for quantiles) over a robust SD
    (interquartile range / 1.349, which allows infinite draws such as a median not reached in
    some draws). NaN when it cannot be assessed: constant draws, an infinite median or quartile.

    Parameters
    ----------
    draws
        The quantity's draws, shape ``(chain, draw)``.

    Returns
    -------
    float
        The ratio, or NaN.
    """
    x = np.asarray(draws, dtype=float)
    finite = x[np.isfinite(x)]
    if finite.size == 0 or (finite.size == x.size and np.ptp(finite) == 0):
        return math.nan
    if np.isin(x, (0.0, 1.0)).all():
        p = float(x.mean())
        return float(_pooled_standard_error(x) / math.sqrt(p * (1 - p)))
    low, median, high = np.quantile(x, [0.25, 0.5, 0.75])
    if not np.isfinite([low, median, high]).all() or high <= low:
        return math.nan
    se = float(_pooled_standard_error((x <= median).astype(float)))
    lower, upper = np.quantile(x, [max(0.5 - se, 0.0), min(0.5 + se, 1.0)])
    if not np.isfinite([lower, upper]).all():
        return math.inf
    return float((upper - lower) / 2 / ((high - low) / 1.349))


def check_reported_quantities(
    tree: xr.DataTree, summary, max_ratio: float = MCSE_MAX_RATIO
) -> tuple[float, tuple[str, ...]]:
    """MCSE check of every headline quantity of an analysis (in its ``quantities`` group).

    Headline rows are those :func:`~prrt_bayes.core.summary.headline_rows` selects (hazard
    ratios, medians, means, response, adverse events with a clear P(RD > 0), long-term risks):
    the numbers a reader takes away. The others are reported but not gated: e.g. the median
    risk difference of an adverse event with about half its posterior mass at exactly no
    difference (Berry & Berry) flips between 0 and a positive value from seed to seed, which
    its P(RD > 0) and P(no difference) rows say plainly.

    Parameters
    ----------
    tree
        Posterior tree with a ``quantities`` group (variable ``draws``, dims ``chain, draw,
        row``; coordinates ``quantity``, ``group``, ``endpoint`` along ``row``; see
        :mod:`prrt_bayes.core.posterior`).
    summary
        Its summary, row ``i`` summarising the group's row ``i``
        (:func:`~prrt_bayes.core.posterior.summary_from_tree`, as every analysis reports it).
    max_ratio
        Largest acceptable ratio (:func:`quantity_mcse_ratio`).

    Returns
    -------
    tuple[float, tuple[str, ...]]
        The largest ratio over the rows that could be assessed (NaN if none) and one problem per
        row above ``max_ratio``.
    """
    from prrt_bayes.core.summary import headline_rows

    draws = tree["quantities"].dataset["draws"].transpose("row", "chain", "draw")
    ratios, problems = [], []
    for index in headline_rows(summary.reset_index(drop=True)).index:
        row = draws.isel(row=index)
        ratio = quantity_mcse_ratio(row.values)
        if math.isnan(ratio):
            continue
        ratios.append(ratio)
        if not ratio <= max_ratio:
            problems.append(f"MCSE of {row.quantity.values} ({row.group.values}, "
                            f"{row.endpoint.values}) is {ratio:.2f} of its posterior SD "
                            f"> {max_ratio:g}: draw more")
    return (max(ratios) if ratios else math.nan), tuple(problems)


def with_quantity_check(diagnostics: Diagnostics, tree: xr.DataTree | None, summary,
                        max_ratio: float = MCSE_MAX_RATIO) -> Diagnostics:
    """An analysis's record with the MCSE check of its reported quantities added.

    Parameters
    ----------
    diagnostics
        The record of the analysis's fits.
    tree
        Its posterior tree; ``None`` or a tree without a ``quantities`` group leaves the record
        unchanged.
    summary
        Its summary (:func:`check_reported_quantities`).
    max_ratio
        Largest acceptable ratio (:func:`quantity_mcse_ratio`).

    Returns
    -------
    Diagnostics
        A new record: ``max_mcse_ratio`` set, and failed with the problems when a quantity's
        MCSE is too large.
    """
    if tree is None or "quantities" not in tree.children:
        return diagnostics
    ratio, problems = check_reported_quantities(tree, summary, max_ratio)
    return replace(diagnostics, max_mcse_ratio=ratio,
                   passed=diagnostics.passed and not problems,
                   problems=diagnostics.problems + problems)
