"""Objective response: the Bayesian binomial model per arm for NETTER-1.

Two-arm model (arms ``a`` in ``lu177``, ``control``), fitted with NUTS::

    r_a | p_a ~ Binomial(n_a, p_a)
    p_a       ~ Beta(alpha, beta)              default Beta(1, 1) (uniform), same for both arms

    risk_difference = p_lu177 - p_control
    odds_ratio      = [p_lu177 / (1 - p_lu177)] / [p_control / (1 - p_control)]

With the default prior the exact posterior of each rate is ``Beta(1 + r_a, 1 + n_a - r_a)``; the
tests check the sampler against it. NETTER-1 (NEJM 2017, Table 2) is analysed in the evaluable
population (18/101 vs 3/100, the primary view) and, as a labelled sensitivity analysis, in the
ITT population (116 / 113 randomised, non-evaluable patients counted as non-responders).
Borrowing from the single-arm series is in :mod:`prrt_bayes.response.borrowing`.

Reported quantities (:func:`response_quantities`, endpoint ``response``): ``response_rate``
(group: arm), ``risk_difference``, ``odds_ratio`` and ``probability_risk_difference_positive``
(group ``lu177_vs_control``). The last is P(p_lu177 > p_control), a probability held in
``mean`` (``median``, ``lower`` and ``upper`` summarise the 0/1 indicator draws and carry no
extra information).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from prrt_bayes.core import fit as core_fit
from prrt_bayes.core.diagnostics import Diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.fit import BayesianModel, QuantityDraws
from prrt_bayes.core.posterior import attach_quantities, summary_from_tree
from prrt_bayes.core.priors import Beta, Prior, describe_priors
from prrt_bayes.core.sampling import DEFAULT_SEED, SamplerSettings
from prrt_bayes.core.vocabulary import ARMS, LU177_VS_CONTROL, Arm, Endpoint, Quantity
from prrt_bayes.evidence import load_netter1
from prrt_bayes.evidence.series_rules import check_count

DEFAULT_RATE_PRIOR = Beta(1.0, 1.0)
"""Prior of each arm's response rate: uniform."""


@dataclass(frozen=True)
class ResponseCounts:
    """Responders and patients per arm of a two-arm comparison, with a label for the analysis."""

    lu177_events: int
    lu177_total: int
    control_events: int
    control_total: int
    label: str = "custom"

    def __post_init__(self) -> None:
        for arm in ARMS:
            events, total = check_count(
                getattr(self, f"{arm}_events"), getattr(self, f"{arm}_total"),
                what=f"{self.label} {arm} arm",
            )
            object.__setattr__(self, f"{arm}_events", events)
            object.__setattr__(self, f"{arm}_total", total)

    def events(self) -> np.ndarray:
        """Responders in arm order ``ARMS``.

        Returns
        -------
        numpy.ndarray
            A new int array of shape ``(2,)``: ``[lu177_events, control_events]``.
        """
        return np.array([self.lu177_events, self.control_events])

    def totals(self) -> np.ndarray:
        """Patients in arm order ``ARMS``.

        Returns
        -------
        numpy.ndarray
            A new int array of shape ``(2,)``: ``[lu177_total, control_total]``.
        """
        return np.array([self.lu177_total, self.control_total])


def netter1_response(view: str = "evaluable", netter1=None) -> ResponseCounts:
    """NETTER-1 objective responses (primary 2015 cut, RECIST 1.1) from the bundled evidence.

    Parameters
    ----------
    view
        ``"evaluable"`` (NEJM Table 2: 18/101 vs 3/100, the primary analysis) or ``"itt"``
        (sensitivity: all randomised, 116 / 113, non-evaluable patients as non-responders).
    netter1
        A :class:`~prrt_bayes.evidence.Netter1Evidence` (default: the bundled one).

    Returns
    -------
    ResponseCounts
        Labelled ``netter1_evaluable`` or ``netter1_itt_sensitivity``.

    Raises
    ------
    InputError
        When ``view`` is not ``"evaluable"`` or ``"itt"``.
    """
    if view not in ("evaluable", "itt"):
        raise InputError(f"response view must be 'evaluable' or 'itt', got {view!r}", field="view")
    ev = netter1 or load_netter1()
    values = {}
    for arm in ARMS:
        record = ev.get("primary_2015", "objective_responses", arm)
        total = (
            record.denominator if view == "evaluable"
            else ev.get("primary_2015", "n_randomised", arm).value
        )
        values[f"{arm}_events"], values[f"{arm}_total"] = record.value, total
    label = "netter1_evaluable" if view == "evaluable" else "netter1_itt_sensitivity"
    return ResponseCounts(**values, label=label)


# ---------------------------------------------------------------------------- two-arm model
def _check_rate_prior(prior: Prior) -> Beta:
    if not isinstance(prior, Beta):
        raise InputError(f"the response-rate prior must be a Beta prior, got {prior.describe()}")
    return prior


def response_model(counts: ResponseCounts, prior: Beta = DEFAULT_RATE_PRIOR) -> pm.Model:
    """Build the two-arm binomial model of the module docstring (data in ``pm.Data``).

    Parameters
    ----------
    counts
        Responders and patients per arm (``pm.Data`` ``events`` and ``totals``, dim ``arm``).
    prior
        Beta prior of each arm's response rate (default Beta(1, 1)), the same for both arms.

    Returns
    -------
    pymc.Model
        A new model with coords ``arm`` (``ARMS``): free ``p`` (dim ``arm``), observed
        ``responders``, deterministics ``risk_difference``, ``log_odds_ratio`` and
        ``odds_ratio`` (lu177 vs control).

    Raises
    ------
    InputError
        When ``prior`` is not a :class:`~prrt_bayes.core.priors.Beta`.
    """
    prior = _check_rate_prior(prior)
    with pm.Model(coords={"arm": list(ARMS)}) as model:
        events = pm.Data("events", counts.events(), dims="arm")
        totals = pm.Data("totals", counts.totals(), dims="arm")
        p = prior.to_pymc("p", dims="arm")
        pm.Binomial("responders", n=totals, p=p, observed=events, dims="arm")
        pm.Deterministic("risk_difference", p[0] - p[1])
        log_or = pm.Deterministic(
            "log_odds_ratio", pm.math.logit(p[0]) - pm.math.logit(p[1])
        )
        pm.Deterministic("odds_ratio", pm.math.exp(log_or))
    return model


def _odds(p: xr.DataArray) -> xr.DataArray:
    return p / (1 - p)


def response_quantities(lu177: xr.DataArray, control: xr.DataArray) -> list[QuantityDraws]:
    """The reported quantities of a two-arm comparison from draws of the two response rates.

    Parameters
    ----------
    lu177, control
        Draws of the 177Lu-Dotatate and control response rates, dims ``chain, draw`` (the same
        sizes).

    Returns
    -------
    list
        ``(quantity, group, draws)`` items in this order: ``response_rate`` per arm,
        ``risk_difference``, ``odds_ratio`` (ratio of the odds) and
        ``probability_risk_difference_positive`` (0/1 indicators) for ``lu177_vs_control``.
    """
    difference = lu177 - control
    return [
        (Quantity.RESPONSE_RATE, Arm.LU177, lu177),
        (Quantity.RESPONSE_RATE, Arm.CONTROL, control),
        (Quantity.RISK_DIFFERENCE, LU177_VS_CONTROL, difference),
        (Quantity.ODDS_RATIO, LU177_VS_CONTROL, _odds(lu177) / _odds(control)),
        (Quantity.PROBABILITY_RISK_DIFFERENCE_POSITIVE, LU177_VS_CONTROL,
         (difference > 0).astype(float)),
    ]


class TwoArmResponseModel(BayesianModel):
    """The two-arm binomial model (module docstring) for :func:`~prrt_bayes.core.fit.fit`.

    Every model with the same prior shares one graph (:func:`response_model` built on
    placeholder counts; the data fill ``events`` and ``totals`` in ``ARMS`` order). The priors
    recorded are ``p[lu177]`` and ``p[control]``; the quantities those of
    :func:`response_quantities`.

    Parameters
    ----------
    counts
        Responders and patients per arm.
    prior
        Beta prior of each arm's response rate, the same for both arms.

    Raises
    ------
    InputError
        When ``prior`` is not a :class:`~prrt_bayes.core.priors.Beta`.
    """

    what = "response model"
    gate_vars = ("p",)
    # fitted once per analysis: PyTensor's disk-cached C compile (about 0.5 s) beats numba's
    # per-process compile (5-10 s) although it samples slower (benchmarks/README.md)
    preferred_backend = "nutpie-c"

    def __init__(self, counts: ResponseCounts, prior: Beta) -> None:
        self.counts = counts
        self.prior = _check_rate_prior(prior)

    def structure(self) -> Hashable:
        return (self.prior,)

    def build(self) -> pm.Model:
        return response_model(ResponseCounts(0, 1, 0, 1, label="placeholder"), self.prior)

    def data(self) -> Mapping[str, np.ndarray]:
        return {"events": self.counts.events(), "totals": self.counts.totals()}

    def priors(self) -> Mapping[str, Prior]:
        return {f"p[{arm}]": self.prior for arm in ARMS}

    def quantities(self, tree: xr.DataTree) -> list[QuantityDraws]:
        p = tree.posterior.dataset["p"]
        return response_quantities(p.sel(arm=Arm.LU177, drop=True),
                                   p.sel(arm=Arm.CONTROL, drop=True))


@dataclass
class ResponseFit:
    """A fitted two-arm response model: posterior, diagnostics, summary rows, priors."""

    counts: ResponseCounts
    tree: xr.DataTree
    diagnostics: Diagnostics
    summary: pd.DataFrame
    priors: dict[str, Prior] = field(default_factory=dict)

    def probability_superior(self) -> float:
        """Posterior P(p_lu177 > p_control).

        Returns
        -------
        float
            Share of posterior draws with ``risk_difference > 0`` (a probability).
        """
        return float((self.tree.posterior["risk_difference"] > 0).mean())


def fit_response(
    counts: ResponseCounts, settings: SamplerSettings, *, prior: Beta = DEFAULT_RATE_PRIOR
) -> ResponseFit:
    """Fit the two-arm binomial model to ``counts`` and summarise it.

    Parameters
    ----------
    counts
        Responders and patients per arm; ``counts.label`` becomes the ``analysis`` of the
        summary rows.
    settings
        Sampler settings of the fit.
    prior
        Beta prior of each arm's response rate (default Beta(1, 1)), the same for both arms.

    Returns
    -------
    ResponseFit
        ``summary`` (endpoint ``response``, its priors in ``attrs["priors"]``) has rows
        ``response_rate`` per arm and ``risk_difference``, ``odds_ratio``,
        ``probability_risk_difference_positive`` for ``lu177_vs_control``, also stored in the
        tree's ``quantities`` group; ``diagnostics`` are the convergence checks of ``p``
        (recorded, not enforced: an unconverged fit does not raise); the priors are in
        ``tree.posterior.attrs``.

    Raises
    ------
    InputError
        When ``prior`` is not a :class:`~prrt_bayes.core.priors.Beta`.
    """
    result = core_fit.fit(TwoArmResponseModel(counts, prior), settings)
    priors = dict(result.model.priors())
    attach_quantities(result.tree, result.quantities(), analysis=counts.label,
                      endpoint=Endpoint.RESPONSE)
    summary = summary_from_tree(result.tree)
    summary.attrs["priors"] = describe_priors(priors)
    return ResponseFit(counts, result.tree, result.diagnostics, summary, priors)


def posterior_predictive_check(fit: ResponseFit, *, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Replicated responders per arm (one binomial draw per posterior draw) vs observed.

    Parameters
    ----------
    fit
        A fit from :func:`fit_response`; draws of all chains are pooled.
    seed
        Seed of the binomial replication.

    Returns
    -------
    pandas.DataFrame
        One row per arm (``ARMS`` order): ``arm``, ``observed``, ``total``,
        ``replicated_mean``, ``replicated_lower`` / ``replicated_upper`` (95% interval) and the
        posterior predictive tail probabilities ``p_replicated_ge_observed`` and
        ``p_replicated_le_observed``.
    """
    rng = np.random.default_rng(seed)
    p = fit.tree.posterior["p"]
    rows = []
    for arm, observed, total in zip(ARMS, fit.counts.events(), fit.counts.totals(), strict=True):
        draws = np.asarray(p.sel(arm=arm)).ravel()
        replicated = rng.binomial(total, draws)
        lower, upper = np.quantile(replicated, [0.025, 0.975])
        rows.append({
            "arm": arm, "observed": int(observed), "total": int(total),
            "replicated_mean": float(replicated.mean()),
            "replicated_lower": float(lower), "replicated_upper": float(upper),
            "p_replicated_ge_observed": float((replicated >= observed).mean()),
            "p_replicated_le_observed": float((replicated <= observed).mean()),
        })
    return pd.DataFrame(rows)


def prior_predictive_check(
    counts: ResponseCounts, *, prior: Beta = DEFAULT_RATE_PRIOR, draws: int = 2000,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Prior predictive responders per arm at the observed arm sizes.

    Parameters
    ----------
    counts
        Gives the arm sizes (the responders are not used).
    prior
        Beta prior of each arm's response rate (default Beta(1, 1)).
    draws, seed
        Number of draws and random seed of :func:`pymc.sample_prior_predictive`.

    Returns
    -------
    pandas.DataFrame
        One row per arm (``ARMS`` order): ``arm``, ``total``, ``rate_mean``,
        ``rate_lower``, ``rate_upper`` (95% prior interval of the rate) and
        ``responders_mean``, ``responders_lower``, ``responders_upper`` (mean and 95% interval
        of the simulated responders).

    Raises
    ------
    InputError
        When ``prior`` is not a :class:`~prrt_bayes.core.priors.Beta`.
    """
    model = response_model(counts, prior)
    prior_tree = pm.sample_prior_predictive(draws=draws, model=model, random_seed=seed)
    rates = prior_tree.prior["p"]
    simulated = prior_tree.prior_predictive["responders"]
    rows = []
    for arm, total in zip(ARMS, counts.totals(), strict=True):
        r = np.asarray(rates.sel(arm=arm)).ravel()
        y = np.asarray(simulated.sel(arm=arm)).ravel()
        rows.append({
            "arm": arm, "total": int(total), "rate_mean": float(r.mean()),
            "rate_lower": float(np.quantile(r, 0.025)), "rate_upper": float(np.quantile(r, 0.975)),
            "responders_mean": float(y.mean()),
            "responders_lower": float(np.quantile(y, 0.025)),
            "responders_upper": float(np.quantile(y, 0.975)),
        })
    return pd.DataFrame(rows)


