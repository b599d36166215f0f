"""Objective response borrowing: the 177Lu arm's rate informed by single-arm 177Lu-DOTATATE series.

Covariate MAP model (:func:`series_map_model`, fitted by :func:`fit_series_response_map`): a
binomial-logit meta-analytic model with population type as a study-level covariate::

    r_i | theta_i ~ Binomial(n_i, logit^-1(theta_i))
    theta_i       = alpha + sum_l beta_l [level_i = l] + tau z_i,   z_i ~ Normal(0, 1)
    alpha         ~ Normal(0, 2)        (log-odds of response in the target's population level)
    beta_l        ~ Normal(0, 1)        (one offset per other population level present)
    tau           ~ HalfNormal(1)       (between-study SD, logit scale)
    theta_new     = alpha + tau z_new   (a new study in the target's level: the MAP prior)

(defaults :data:`SERIES_MAP_PRIORS`). The series populations are mapped to levels by
:data:`~prrt_bayes.evidence.series_rules.POPULATION_LEVELS`; NETTER-1 (midgut) is a subset of
GEP-NET, and no bundled series is midgut-only, so midgut is predicted from the GEP level
(``gep`` and ``mixed`` cohorts; the mixed cohorts are mostly GEP-NET) and pancreatic NET gets its
own offset. The MAP prior is the predictive distribution of ``p_new``, approximated by a beta
mixture (:func:`prrt_bayes.borrowing.mixtures.fit_mixture_auto`) so that updating with
NETTER-1's 18/101 is exact.

:func:`borrowing_comparison` sets this MAP prior beside the other borrowing methods (robust MAP,
exchangeable MAP, power, commensurate, full pooling), with the prior-data conflict of each.
Summary rows use endpoint ``response`` and the quantities of
:func:`prrt_bayes.response.model.response_quantities`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from prrt_bayes.borrowing import (
    MAX_PRIOR_ESS_FRACTION,
    UNIFORM_BETA,
    PowerPriorCap,
    SpikeSlab,
    commensurate_prior,
    commensurate_prior_fixed,
    conflict,
    ess,
    full_pooling,
    map_prior_counts,
    no_borrowing,
    power_prior,
    power_prior_cap,
    robustify,
)
from prrt_bayes.borrowing.mixtures import fit_mixture_auto
from prrt_bayes.core import fit as core_fit
from prrt_bayes.core.diagnostics import Diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.fit import BayesianModel
from prrt_bayes.core.priors import (
    BetaMixture,
    HalfCauchy,
    HalfNormal,
    Normal,
    Prior,
    describe_priors,
)
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.core.summary import summarize_draws, summary_frame
from prrt_bayes.core.vocabulary import LU177_VS_CONTROL, Arm, Endpoint, Quantity
from prrt_bayes.evidence.series_rules import (
    POPULATION_LEVELS,
    SeriesSelection,
    check_count,
    select_series_counts,
)
from prrt_bayes.response.model import ResponseCounts

RESPONSE_QUANTITIES: tuple[tuple[str, ...], ...] = (
    ("objective_responses",),
    ("complete_responses", "partial_responses"),
)
"""Series quantities for objective response: the reported count, else CR + PR."""


def series_response_counts(
    *, series=None, levels: Mapping[str, str] = POPULATION_LEVELS,
    exclude_non_recist: bool = False,
) -> SeriesSelection:
    """Series cohorts for objective response after the series rules.

    The rules are those of :func:`~prrt_bayes.evidence.series_rules.select_series_counts`; the
    count is ``objective_responses``, else complete + partial responses
    (:data:`RESPONSE_QUANTITIES`); denominators other than patients are accepted unless they
    count administrations.

    Parameters
    ----------
    series
        A :class:`~prrt_bayes.evidence.SeriesEvidence` (default: the bundled series).
    levels
        Population -> covariate level (default
        :data:`~prrt_bayes.evidence.series_rules.POPULATION_LEVELS`); cohorts whose
        population has no level are excluded.
    exclude_non_recist
        Exclude cohorts assessed with non-RECIST criteria instead of noting them.

    Returns
    -------
    SeriesSelection
        Cohorts used (with their ``level``) and cohorts excluded with reasons.
    """
    return select_series_counts(RESPONSE_QUANTITIES, series=series, levels=levels,
                                require_patient_denominator=False,
                                exclude_non_recist=exclude_non_recist)


SERIES_MAP_PRIORS: dict[str, Prior] = {
    "alpha": Normal(0.0, 2.0),
    "beta": Normal(0.0, 1.0),
    "tau": HalfNormal(1.0),
}
"""Default priors of the covariate MAP model (module docstring), on the logit scale."""


def series_map_priors(priors: Mapping[str, Prior] | None = None) -> dict[str, Prior]:
    """The covariate MAP model's priors: ``priors`` over the defaults :data:`SERIES_MAP_PRIORS`.

    Parameters
    ----------
    priors
        ``{parameter: Prior}`` for some of ``alpha``, ``beta`` and ``tau`` (``None``: none).

    Returns
    -------
    dict[str, Prior]
        A new dict with every parameter, in the order of :data:`SERIES_MAP_PRIORS`.

    Raises
    ------
    InputError
        When ``priors`` names another parameter.
    """
    priors = dict(priors or {})
    unknown = sorted(set(priors) - set(SERIES_MAP_PRIORS))
    if unknown:
        raise InputError(f"the series MAP model has no parameter {unknown[0]!r}; its priors are"
                         f" {', '.join(SERIES_MAP_PRIORS)}", field="priors")
    return {name: priors.get(name, default) for name, default in SERIES_MAP_PRIORS.items()}


def _map_structure(included: pd.DataFrame, target_level: str):
    """Study names, other levels and the study x other-level indicator matrix."""
    if included.empty:
        raise InputError("no series cohort left for the MAP prior")
    if target_level not in set(included["level"]):
        raise InputError(f"no series cohort in the target's population level {target_level!r};"
                         " map it to a level with data (see POPULATION_LEVELS)",
                         field="target_level")
    others = sorted(set(included["level"]) - {target_level})
    x = np.array([[float(level == o) for o in others] for level in included["level"]])
    return tuple(included["study"]), tuple(others), x.reshape(len(included), len(others))


def series_map_model(
    included: pd.DataFrame, *, target_level: str = "gep",
    priors: Mapping[str, Prior] | None = None,
) -> pm.Model:
    """Binomial-logit MAP model with population level as covariate (module docstring).

    Parameters
    ----------
    included
        Cohorts with columns ``study``, ``level``, ``events``, ``total`` (e.g.
        ``series_response_counts().included``).
    target_level
        Level of the target population: ``alpha`` is its log-odds and the predictive ``p_new``
        is for a new study in it; every other level present gets an offset ``beta``.
    priors
        Priors of ``alpha``, ``beta`` and ``tau`` (logit scale) over the defaults
        :data:`SERIES_MAP_PRIORS` (:func:`series_map_priors`).

    Returns
    -------
    pymc.Model
        A new model with coords ``study`` and ``offset_level``: free ``alpha``, ``tau``, ``z``,
        ``beta`` (only with other levels), ``z_new``; observed ``responders``; deterministics
        ``theta``, ``target_rate`` (inverse logit of ``alpha``), ``level_rate`` (per other
        level) and ``p_new``.

    Raises
    ------
    InputError
        When ``included`` is empty, has no cohort in ``target_level``, has an invalid count, or
        ``priors`` names an unknown parameter.
    """
    priors = series_map_priors(priors)
    studies, others, x = _map_structure(included, target_level)
    for row in included.itertuples():
        check_count(row.events, row.total, what=f"series {row.study}")
    with pm.Model(coords={"study": list(studies), "offset_level": list(others)}) as model:
        events = pm.Data("events", included["events"].to_numpy(int), dims="study")
        totals = pm.Data("totals", included["total"].to_numpy(int), dims="study")
        alpha = priors["alpha"].to_pymc("alpha")
        tau = priors["tau"].to_pymc("tau")
        z = pm.Normal("z", 0.0, 1.0, dims="study")
        linear = alpha + tau * z
        if others:
            beta = priors["beta"].to_pymc("beta", dims="offset_level")
            linear = linear + pm.math.dot(x, beta)
            pm.Deterministic("level_rate", pm.math.invlogit(alpha + beta), dims="offset_level")
        theta = pm.Deterministic("theta", linear, dims="study")
        pm.Binomial("responders", n=totals, logit_p=theta, observed=events, dims="study")
        pm.Deterministic("target_rate", pm.math.invlogit(alpha))
        z_new = pm.Normal("z_new", 0.0, 1.0)
        pm.Deterministic("p_new", pm.math.invlogit(alpha + tau * z_new))
    return model


class SeriesMapModel(BayesianModel):
    """The covariate MAP model (:func:`series_map_model`) for :func:`~prrt_bayes.core.fit.fit`.

    The structure is the cohorts, their levels, the target level and the priors; the graph is
    built on placeholder counts and the data fill ``events`` and ``totals`` in cohort order.

    Parameters
    ----------
    included
        Cohorts with columns ``study``, ``level``, ``events``, ``total``.
    target_level
        Population level of the target (see :func:`series_map_model`).
    priors
        Priors over the defaults :data:`SERIES_MAP_PRIORS`.

    Raises
    ------
    InputError
        When ``included`` is empty or has no cohort in ``target_level``, a count is invalid or
        ``priors`` names an unknown parameter.
    """

    what = "series MAP fit"
    gate_vars = ("alpha", "beta", "tau", "theta", "p_new")
    # the default nutpie-numba, although fitted once per analysis: at the bundled settings
    # (4 x 3,000 iterations, target acceptance 0.99) it compiles and samples in 8.5 s where
    # nutpie-c takes 20.5 s, with the same draws (benchmarks/README.md)

    def __init__(self, included: pd.DataFrame, target_level: str,
                 priors: Mapping[str, Prior] | None) -> None:
        _map_structure(included, target_level)
        for row in included.itertuples():
            check_count(row.events, row.total, what=f"series {row.study}")
        self.included = included
        self.target_level = target_level
        self.prior_map = series_map_priors(priors)

    def structure(self) -> Hashable:
        return (tuple(self.included["study"]), tuple(self.included["level"]), self.target_level,
                tuple(self.prior_map.items()))

    def build(self) -> pm.Model:
        placeholder = pd.DataFrame({"study": list(self.included["study"]),
                                    "level": list(self.included["level"]),
                                    "events": 0, "total": 1})
        return series_map_model(placeholder, target_level=self.target_level,
                                priors=self.prior_map)

    def data(self) -> Mapping[str, np.ndarray]:
        return {"events": self.included["events"].to_numpy(int),
                "totals": self.included["total"].to_numpy(int)}

    def priors(self) -> Mapping[str, Prior]:
        return dict(self.prior_map)


@dataclass
class SeriesMapFit:
    """Covariate MAP model fit: cohorts used/excluded, posterior, diagnostics, mixture prior."""

    selection: SeriesSelection
    target_level: str
    tree: xr.DataTree
    diagnostics: Diagnostics
    summary: pd.DataFrame
    mixture: BetaMixture
    priors: dict[str, Prior] = field(default_factory=dict)


def fit_series_response_map(
    settings: SamplerSettings,
    *,
    selection: SeriesSelection | None = None,
    target_level: str = "gep",
    priors: Mapping[str, Prior] | None = None,
) -> SeriesMapFit:
    """Fit the covariate MAP model to the series and fit a beta mixture to ``p_new``.

    Parameters
    ----------
    settings
        Sampler settings of the fit: an analysis passes its own (a high ``target_accept``,
        e.g. 0.99, avoids divergences in this hierarchical model with few cohorts).
    selection
        Cohorts to pool (default: :func:`series_response_counts` of the bundled series).
    target_level
        Population level of the target (NETTER-1 midgut -> ``"gep"``); see
        :func:`series_map_model`.
    priors
        Priors over the defaults :data:`SERIES_MAP_PRIORS` (logit scale).

    Returns
    -------
    SeriesMapFit
        ``summary``: ``response_rate`` rows (group ``lu177``) for the predictive ``p_new``
        (analysis ``series_map_predictive``) and the pooled rate per level
        (``series_map_pooled_<level>``); ``mixture``: a
        :class:`~prrt_bayes.core.priors.BetaMixture` fitted by EM (1-3 components, AIC)
        to the ``p_new`` draws: the MAP prior for NETTER-1's 177Lu arm. Diagnostics are
        recorded, not enforced.

    Raises
    ------
    InputError
        When the selection is empty or has no cohort in ``target_level``, or ``priors`` names
        an unknown parameter.
    """
    selection = selection or series_response_counts()
    result = core_fit.fit(SeriesMapModel(selection.included, target_level, priors), settings)
    prior_map = dict(result.model.priors())
    post = result.tree.posterior
    estimates = [("series_map_predictive", post["p_new"]),
                 (f"series_map_pooled_{target_level}", post["target_rate"])]
    if "level_rate" in post:
        estimates += [(f"series_map_pooled_{level}", post["level_rate"].sel(offset_level=level))
                      for level in post["level_rate"].coords["offset_level"].values]
    rows = [summarize_draws(draws, quantity=Quantity.RESPONSE_RATE, group=Arm.LU177,
                            endpoint=Endpoint.RESPONSE, analysis=analysis)
            for analysis, draws in estimates]
    summary = summary_frame(rows, priors=describe_priors(prior_map))
    mixture = fit_mixture_auto(np.asarray(post["p_new"]).ravel(), "beta", 3)
    return SeriesMapFit(selection, target_level, result.tree, result.diagnostics, summary,
                        mixture, prior_map)


@dataclass
class BorrowingComparison:
    """What each borrowing method does with NETTER-1's 177Lu-arm response.

    ``table``: one row per method with the prior (mean, 95% interval, ESS by ELIR and moments),
    the prior-data conflict p-values (``conflict_p_box``, ``conflict_p_tail``: how surprising
    NETTER-1's responders are under the prior), the posterior of the 177Lu rate (mean, median,
    95% CrI), the posterior weight of the informative part (robust priors), and the posterior
    risk difference vs control and P(RD > 0). ``summary``: the same posteriors as summary rows
    (analysis ``borrowing_<method>``). ``map_fit``: the covariate MAP fit behind ``map``.
    ``priors`` / ``posteriors``: method -> prior and exact posterior (beta mixtures) of the
    177Lu response rate. ``power_cap``: the power prior's requested and capped ``a0`` with its
    ESS before and after the cap.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    map_fit: SeriesMapFit
    notes: tuple[str, ...]
    posteriors: dict[str, BetaMixture] = field(default_factory=dict)
    priors: dict[str, BetaMixture] = field(default_factory=dict)
    power_cap: PowerPriorCap | None = None


@lru_cache(maxsize=256)
def _ess_or_nan(mix: BetaMixture, method: str) -> float:
    """ESS of ``mix`` by ``method``; NaN where undefined (ELIR needs every a, b >= 1).

    Cached: a mixture is frozen (hashable) and its ESS deterministic, and the same priors recur
    in every response analysis of a run, sweep or test session (about 0.17 s each).
    """
    try:
        return float(ess(mix, method))
    except InputError:
        return float("nan")


def _hyperprior(commensurate_tau: float, tau_hyperprior: str) -> SpikeSlab | HalfCauchy:
    """The commensurate prior's hyperprior on the between-source SD (logit scale)."""
    return SpikeSlab() if tau_hyperprior == "spike-slab" else HalfCauchy(commensurate_tau)


@lru_cache(maxsize=32)
def _series_priors(
    r_all: tuple[int, ...], n_all: tuple[int, ...], r_lvl: tuple[int, ...],
    n_lvl: tuple[int, ...], seed: int, commensurate_tau: float, tau_hyperprior: str,
) -> tuple[BetaMixture, BetaMixture, BetaMixture]:
    """Exchangeable MAP, commensurate and fixed-SD commensurate priors from the series counts.

    They depend on the series and the settings only, not on the trial's counts, so they are
    built once per process and reused (about 3 s together; deterministic given ``seed``).

    Parameters
    ----------
    r_all, n_all
        Responders and patients of every included series (exchangeable MAP).
    r_lvl, n_lvl
        Those of the series in the target's population level (commensurate priors).
    seed
        Seed of the MAP quadrature draws and of the fixed-SD commensurate prior's draws.
    commensurate_tau
        Half-Cauchy scale, or the fixed SD, of the between-source SD (logit scale).
    tau_hyperprior
        ``"halfcauchy"`` or ``"spike-slab"``.

    Returns
    -------
    tuple of BetaMixture
        ``(map_exchangeable, commensurate, commensurate_fixed)``.
    """
    r_all, n_all, r_lvl, n_lvl = map(np.asarray, (r_all, n_all, r_lvl, n_lvl))
    return (
        map_prior_counts(r_all, n_all, seed=seed),
        commensurate_prior(UNIFORM_BETA, r_lvl, n_lvl,
                           tau_prior=_hyperprior(commensurate_tau, tau_hyperprior)),
        commensurate_prior_fixed(UNIFORM_BETA, r_lvl, n_lvl, commensurate_tau, seed=seed),
    )


def borrowing_comparison(
    counts: ResponseCounts,
    settings: SamplerSettings,
    *,
    map_fit: SeriesMapFit | None = None,
    robust_weight: float = 0.2,
    a0: float = 0.5,
    max_prior_ess_fraction: float = MAX_PRIOR_ESS_FRACTION,
    commensurate_tau: float = 0.5,
    tau_hyperprior: str = "halfcauchy",
    n_draws: int = 20_000,
) -> BorrowingComparison:
    """Posterior of the 177Lu-arm response rate under each borrowing method, with conflict.

    Methods (priors for the 177Lu rate; the control arm always has Beta(1, 1)):

    * ``none``: Beta(1, 1);
    * ``map``: the covariate MAP prior (:func:`fit_series_response_map`); ``robust_map``: the
      same mixed with Beta(1, 1) at weight ``robust_weight``;
    * ``map_exchangeable`` / ``robust_map_exchangeable``: MAP from all included series ignoring
      population (exact quadrature, :func:`prrt_bayes.borrowing.map_prior_counts`);
    * ``power_prior`` (``a0``, capped so that it borrows at most ``max_prior_ess_fraction`` of
      the trial arm's patients), ``commensurate`` (Hobbs: half-Cauchy hyperprior of scale
      ``commensurate_tau`` on the logit-scale between-source SD, or the spike-and-slab),
      ``commensurate_fixed`` (SD fixed at ``commensurate_tau``) and ``full_pooling``: from the
      series in the target's population level only.

    Every prior is a beta mixture, so posteriors are exact conjugate updates; risk differences
    use ``n_draws`` Monte Carlo draws (seeded with ``settings.seed``).

    Parameters
    ----------
    counts
        NETTER-1 counts to update with (e.g. ``netter1_response("evaluable")``, 18/101 vs
        3/100).
    settings
        Sampler settings of the covariate MAP fit when ``map_fit`` is not given; their
        ``seed`` also seeds the Monte Carlo draws, the exchangeable MAP prior and the
        commensurate prior.
    map_fit
        Covariate MAP fit (default: :func:`fit_series_response_map` of the bundled series with
        ``settings``, which runs MCMC); its selection and target level also define the series
        used by the other methods.
    robust_weight
        Weight of the Beta(1, 1) component in the robust priors, in [0, 1].
    a0
        Requested power-prior discount, in [0, 1] (0: no borrowing, 1: full pooling).
    max_prior_ess_fraction
        Largest ESS the power prior may borrow, as a fraction of NETTER-1's 177Lu patients.
    commensurate_tau
        Between-source SD, logit scale (> 0): the half-Cauchy scale of ``commensurate``, the
        fixed value of ``commensurate_fixed``.
    tau_hyperprior
        ``"halfcauchy"`` or ``"spike-slab"`` (the ``commensurate`` row).
    n_draws
        Monte Carlo draws per method for the risk differences (the commensurate prior's
        mixture is fitted to its own default number of draws).

    Returns
    -------
    BorrowingComparison
        ``table`` (one row per method), ``summary`` rows, the ``map_fit`` used, ``notes``
        (counts, settings, cohort notes and exclusions) and per-method ``priors`` and
        ``posteriors`` of the 177Lu response rate.

    Raises
    ------
    InputError
        When ``robust_weight`` or ``a0`` is outside [0, 1] or ``commensurate_tau`` is negative
        or not finite.
    """
    seed = settings.seed
    map_fit = map_fit or fit_series_response_map(settings)
    included = map_fit.selection.included
    same_level = included[included["level"] == map_fit.target_level]
    r_all, n_all = included["events"].to_numpy(), included["total"].to_numpy()
    r_lvl, n_lvl = same_level["events"].to_numpy(), same_level["total"].to_numpy()
    exchangeable, commensurate, commensurate_fixed = _series_priors(
        tuple(r_all), tuple(n_all), tuple(r_lvl), tuple(n_lvl), seed, commensurate_tau,
        tau_hyperprior)
    cap = power_prior_cap(UNIFORM_BETA, r_lvl, n_lvl, a0=a0, trial_size=counts.lu177_total,
                          max_prior_ess_fraction=max_prior_ess_fraction)
    hyperprior = _hyperprior(commensurate_tau, tau_hyperprior)
    priors = {
        "none": no_borrowing(UNIFORM_BETA),
        "map": map_fit.mixture,
        "robust_map": robustify(map_fit.mixture, robust_weight),
        "map_exchangeable": exchangeable,
        "robust_map_exchangeable": robustify(exchangeable, robust_weight),
        "power_prior": power_prior(UNIFORM_BETA, r_lvl, n_lvl, cap.a0),
        "commensurate": commensurate,
        "commensurate_fixed": commensurate_fixed,
        "full_pooling": full_pooling(UNIFORM_BETA, r_lvl, n_lvl),
    }
    rng = np.random.default_rng(seed)
    control = no_borrowing(UNIFORM_BETA).posterior(counts.control_events, counts.control_total)
    control_draws = control.sample(n_draws, rng)
    rows, summary_rows, posteriors = [], [], {}
    for method, prior in priors.items():
        post = prior.posterior(counts.lu177_events, counts.lu177_total)
        posteriors[method] = post
        check = conflict(prior, counts.lu177_events, counts.lu177_total)
        robust = method.startswith("robust")
        draws = post.sample(n_draws, rng)
        rd = draws - control_draws
        rows.append({
            "method": method,
            "prior_mean": prior.mean(), "prior_lower": float(prior.ppf(0.025)),
            "prior_upper": float(prior.ppf(0.975)),
            "ess_elir": _ess_or_nan(prior, "elir"), "ess_moment": _ess_or_nan(prior, "moment"),
            "conflict_p_box": check.p_box, "conflict_p_tail": check.p_tail,
            "posterior_mean": post.mean(), "posterior_median": float(post.ppf(0.5)),
            "posterior_lower": float(post.ppf(0.025)), "posterior_upper": float(post.ppf(0.975)),
            "prior_informative_weight": 1 - robust_weight if robust else np.nan,
            "posterior_informative_weight": 1 - post.weights[-1] if robust else np.nan,
            "rd_mean": float(rd.mean()), "rd_lower": float(np.quantile(rd, 0.025)),
            "rd_upper": float(np.quantile(rd, 0.975)),
            "probability_rd_positive": float((rd > 0).mean()),
        })
        analysis = f"borrowing_{method}"
        summary_rows += [
            summarize_draws(values, quantity=quantity, group=group, endpoint=Endpoint.RESPONSE,
                            analysis=analysis)
            for quantity, group, values in (
                (Quantity.RESPONSE_RATE, Arm.LU177, draws),
                (Quantity.RISK_DIFFERENCE, LU177_VS_CONTROL, rd),
                (Quantity.PROBABILITY_RISK_DIFFERENCE_POSITIVE, LU177_VS_CONTROL,
                 (rd > 0).astype(float)))
        ]
    notes = (
        f"NETTER-1 {counts.label}: {counts.lu177_events}/{counts.lu177_total} responders"
        f" (177Lu) vs {counts.control_events}/{counts.control_total} (control)",
        f"map / robust_map: population covariate, target level {map_fit.target_level!r}"
        f" (NETTER-1 midgut); robust weight {robust_weight:g}",
        f"power_prior ({cap.describe()}, in patients), commensurate (tau ~ "
        f"{hyperprior.describe()}), commensurate_fixed (tau={commensurate_tau:g}) and"
        f" full_pooling use the {len(same_level)} series in level {map_fit.target_level!r}:"
        f" {', '.join(same_level['study'])}",
        *(f"{row.study}: {row.note}" for row in included.itertuples() if row.note),
        *(f"excluded {row.study}: {row.reason}" for row in map_fit.selection.excluded.itertuples()),
    )
    return BorrowingComparison(pd.DataFrame(rows), summary_frame(summary_rows), map_fit, notes,
                               posteriors, priors, cap)
