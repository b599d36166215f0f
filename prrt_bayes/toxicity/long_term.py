"""Long-term MDS / leukaemia risk of 177Lu-Dotatate: event rate per person-year, pooled by MAP.

Myelodysplastic syndrome (MDS) and acute leukaemia after PRRT are rare and late, and the cohorts
follow their patients for very different times (NETTER-R 24.5 months, NETTER-1 final 76.3
months), so a crude proportion cases / patients has no time horizon. This module pools an
*event rate per person-year* instead and reports the cumulative incidence at stated horizons.

**Data.** Per cohort (:func:`long_term_counts`): ``r_i`` cases among ``n_i`` patients (the series
rules of :func:`~prrt_bayes.evidence.series_rules.select_series_counts`, patient denominators;
plus NETTER-1's 177Lu arm at the final 2021 cut, MDS 2/111, for ``mds``) and the cohort's
reported follow-up ``F_i`` in months. Person-years ``PY_i = n_i F_i / 12`` (*approximation*):
exact with the mean observed follow-up, used when reported; otherwise the median follow-up
stands in for the mean, and a (reverse Kaplan-Meier) median follow-up overstates the time at
risk when patients die during follow-up, which understates the rate. A cohort reporting no
follow-up is excluded and listed with that reason; its follow-up is never filled in.

**Model** (:func:`long_term_model`), Poisson-log MAP across cohorts, non-centred::

    r_i | lambda_i   ~ Poisson(lambda_i PY_i)
    log lambda_i     = mu + tau z_i,    z_i ~ Normal(0, 1)
    mu               ~ Normal(log 0.005, 1.5)   (log rate per person-year; a Normal prior)
    tau              ~ HalfNormal(1)           (between-cohort SD of log rates; or HalfCauchy)
    log lambda_new   = mu + tau z_new,  z_new ~ Normal(0, 1)

(defaults :data:`LONG_TERM_PRIORS`). The prior of ``mu`` is centred on a rare event, 0.5% per
person-year (a median cumulative incidence of 2.5% at 5 years), and wide: its 95% range, rate
0.03% to 9.5% per year, implies a 5-year cumulative incidence of 0.13% to 38%
(:func:`prior_cumulative_incidence` is the prior predictive check). With one cohort ``tau`` is
informed by its prior only, and the predictive rate carries that prior's heterogeneity.

**Reported quantity.** The cumulative incidence by ``H`` months under a constant hazard::

    CI(H) = 1 - exp(-lambda H / 12)

for the pooled rate ``lambda = exp(mu)`` (analysis ``long_term_map_pooled``) and the rate of a
new cohort ``lambda_new`` (``long_term_map_predictive``); quantity
:func:`~prrt_bayes.core.vocabulary.cumulative_incidence` (e.g. ``cumulative_incidence_60m``),
``group="lu177"``, ``endpoint`` the risk (``mds`` or ``mds_or_acute_leukaemia``).

**Assumptions a reader should weigh** (also written to the fit's ``notes`` and the posterior's
attributes):

* *Constant hazard.* Each cohort reports one count over one follow-up, which cannot inform a
  time-varying hazard. MDS after PRRT appears after a latency of years (median 41 months in
  Bergsma 2018), so the true hazard is likely low early and higher later: ``CI(H)`` spreads the
  follow-up's average rate evenly and overstates the risk at short horizons.
* *Horizons.* The default horizons, 24 and 60 months (:data:`LONG_TERM_HORIZONS_MONTHS`), are
  kept only where they do not exceed the longest follow-up among the pooled cohorts (for
  ``mds``: NETTER-1's 76.3 months, so 24 and 60; for ``mds_or_acute_leukaemia``: NETTER-R's 24.5
  months, so 24). A longer horizon (e.g. 10 years) rests on the constant-hazard assumption
  alone, beyond every observed follow-up; it is refused unless asked for with
  ``allow_extrapolation=True``.
* *Competing risk.* ``CI(H)`` is the net risk in the absence of death. A model with mortality
  (e.g. a partitioned-survival model) should apply ``lambda`` as a hazard among survivors.

Acute grade 3/4 haematological toxicity is not a long-term risk: it occurs during treatment and
is a per-patient proportion, not a rate over follow-up, so it is not modelled here.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from prrt_bayes.core import fit as core_fit
from prrt_bayes.core.diagnostics import Diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.fit import BayesianModel
from prrt_bayes.core.priors import HalfCauchy, HalfNormal, Normal, Prior, describe_priors
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.core.summary import summarize_draws, summary_frame
from prrt_bayes.core.vocabulary import Arm, cumulative_incidence
from prrt_bayes.evidence import load_netter1, load_series
from prrt_bayes.evidence.series_rules import SeriesSelection, check_count, select_series_counts

LONG_TERM_ENDPOINTS: dict[str, list[tuple[str, ...]]] = {
    "mds": [("mds_cases",)],
    "mds_or_acute_leukaemia": [("mds_or_aml_cases",), ("mds_cases", "acute_leukaemia_cases")],
}
"""Long-term risk -> series quantities (first one reported is used; a tuple is summed)."""

NETTER1_LONG_TERM: dict[str, tuple[str, str, str]] = {
    "mds": ("final_2021", "mds_cases", Arm.LU177.value),
}
"""Long-term risk -> the NETTER-1 record (cut, quantity, arm) added to the series."""

FOLLOW_UP_QUANTITIES: tuple[str, ...] = ("mean_follow_up_months", "median_follow_up_months")
"""Follow-up records used for person-years, in order of preference (mean first: exact)."""

LONG_TERM_HORIZONS_MONTHS: tuple[float, ...] = (24.0, 60.0)
"""Default horizons (months), each kept if within the longest follow-up of the pooled cohorts."""

PRIOR_MEDIAN_RATE = 0.005
"""Prior median of the pooled event rate per person-year (0.5% per year)."""

LONG_TERM_PRIORS: dict[str, Prior] = {"mu": Normal(float(np.log(PRIOR_MEDIAN_RATE)), 1.5),
                                      "tau": HalfNormal(1.0)}
"""Default priors of the long-term model (log rate per person-year)."""

_ALLOWED = {"mu": (Normal,), "tau": (HalfNormal, HalfCauchy)}
_POOLED, _PREDICTIVE = "long_term_map_pooled", "long_term_map_predictive"

CONSTANT_HAZARD_NOTE = (
    "constant hazard: each cohort reports one count over one follow-up, which cannot inform a"
    " time-varying hazard; MDS after PRRT appears after a latency of years (median 41 months in"
    " Bergsma 2018), so the cumulative incidence at short horizons is likely overstated")
COMPETING_RISK_NOTE = (
    "cumulative incidence 1 - exp(-rate x horizon) is the net risk without death as a competing"
    " risk; a model with mortality should apply the rate as a hazard among survivors")


def _series_follow_up(series, study: str) -> tuple[float, str] | None:
    """``(months, statistic)`` of a series cohort's follow-up, or None if it reports none."""
    for quantity in FOLLOW_UP_QUANTITIES:
        records = [r for r in series.records
                   if (r.study, r.quantity) == (study, quantity) and r.primary]
        if records and records[0].value is not None:
            return float(records[0].value), quantity.split("_")[0]
    return None


def long_term_counts(endpoint: str, *, series=None, netter1=None) -> SeriesSelection:
    """Cohorts pooled for a long-term risk, each with its follow-up and person-years.

    The series rules of :func:`~prrt_bayes.evidence.series_rules.select_series_counts` apply
    with patient denominators only; NETTER-1's 177Lu arm (final 2021 cut, MDS 2/111, median
    follow-up 76.3 months) is added for ``mds``. A cohort kept by those rules but reporting no
    follow-up (:data:`FOLLOW_UP_QUANTITIES`) is then excluded with that reason (its follow-up is
    never filled in). The follow-up rule comes after the series rules' overlap rule, so a
    smaller overlapping cohort with follow-up does not replace a larger one without (no bundled
    cohort is in that case).

    Parameters
    ----------
    endpoint
        A key of :data:`LONG_TERM_ENDPOINTS`: ``"mds"`` or ``"mds_or_acute_leukaemia"``.
    series
        A :class:`~prrt_bayes.evidence.SeriesEvidence` (default: the bundled series).
    netter1
        A :class:`~prrt_bayes.evidence.Netter1Evidence` (default: the bundled one); used for
        ``mds`` only.

    Returns
    -------
    SeriesSelection
        ``included``: the columns of the series rules (``level`` empty; the NETTER-1 row, if
        any, last as study ``netter1_final_2021``) plus ``follow_up_months``,
        ``follow_up_statistic`` (``"mean"`` or ``"median"``) and ``person_years``
        (``total * follow_up_months / 12``); ``excluded`` with reasons.

    Raises
    ------
    InputError
        When ``endpoint`` is unknown or a count is invalid.
    """
    if endpoint not in LONG_TERM_ENDPOINTS:
        raise InputError(f"long-term endpoint must be one of {sorted(LONG_TERM_ENDPOINTS)},"
                         f" got {endpoint!r}", field="endpoint")
    series = series or load_series()
    selection = select_series_counts(LONG_TERM_ENDPOINTS[endpoint], series=series,
                                     require_patient_denominator=True)
    rows, excluded = [], list(selection.excluded.to_dict("records"))
    for row in selection.included.to_dict("records"):
        follow_up = _series_follow_up(series, row["study"])
        if follow_up is None:
            excluded.append({"study": row["study"], "reason": "no follow-up reported (mean or"
                             " median): person-years cannot be formed; not imputed"})
            continue
        rows.append(row | {"follow_up_months": follow_up[0], "follow_up_statistic": follow_up[1]})
    if endpoint in NETTER1_LONG_TERM:
        cut, quantity, arm = NETTER1_LONG_TERM[endpoint]
        netter1 = netter1 or load_netter1()
        record = netter1.get(cut, quantity, arm)
        events, total = check_count(record.value, record.denominator,
                                    what=f"NETTER-1 {cut} {quantity}")
        months = netter1.get(cut, "median_follow_up_months", arm).value
        rows.append({"study": f"netter1_{cut}", "population": "midgut", "level": None,
                     "overlap_group": "netter1", "quantity": quantity, "events": events,
                     "total": total, "note": "NETTER-1 177Lu arm, safety population; median"
                     " follow-up of the randomised arm", "follow_up_months": float(months),
                     "follow_up_statistic": "median"})
    columns = [*selection.included.columns, "follow_up_months", "follow_up_statistic"]
    included = pd.DataFrame(rows, columns=columns)
    included["person_years"] = included["total"] * included["follow_up_months"] / 12.0
    return SeriesSelection(included, pd.DataFrame(excluded, columns=["study", "reason"]))


def long_term_priors(priors: Mapping[str, Prior] | None = None) -> dict[str, Prior]:
    """The long-term model's priors: ``priors`` over the defaults :data:`LONG_TERM_PRIORS`.

    Parameters
    ----------
    priors
        ``{parameter: Prior}`` for ``mu`` (a :class:`~prrt_bayes.core.priors.Normal` on the log
        rate per person-year) and/or ``tau`` (a :class:`~prrt_bayes.core.priors.HalfNormal` or
        :class:`~prrt_bayes.core.priors.HalfCauchy`); ``None``: the defaults.

    Returns
    -------
    dict[str, Prior]
        A new dict ``{"mu": ..., "tau": ...}``.

    Raises
    ------
    InputError
        When ``priors`` names another parameter or gives a prior of another family.
    """
    priors = dict(priors or {})
    unknown = sorted(set(priors) - set(LONG_TERM_PRIORS))
    if unknown:
        raise InputError(f"the long-term rate model has no parameter {unknown[0]!r}; its priors"
                         f" are {', '.join(LONG_TERM_PRIORS)}", field="priors")
    out = {name: priors.get(name, default) for name, default in LONG_TERM_PRIORS.items()}
    for name, prior in out.items():
        if not isinstance(prior, _ALLOWED[name]):
            allowed = " or ".join(cls.__name__ for cls in _ALLOWED[name])
            raise InputError(f"the {name} prior must be {allowed}, got {prior.describe()}",
                             field=name)
    return out


def _check_cohorts(used: pd.DataFrame) -> None:
    if len(used) < 1:
        raise InputError("no cohort with a count and a follow-up: the rate model needs at"
                         " least 1", field="used")
    for row in used.itertuples():
        check_count(row.events, row.total, what=f"cohort {row.study}")
        if not (np.isfinite(row.person_years) and row.person_years > 0):
            raise InputError(f"cohort {row.study}: person-years must be > 0, got"
                             f" {row.person_years!r}", field="person_years")


def long_term_model(
    used: pd.DataFrame, priors: Mapping[str, Prior] | None = None
) -> pm.Model:
    """The Poisson-log MAP model of the module docstring, non-centred.

    Parameters
    ----------
    used
        Cohorts with columns ``study``, ``events``, ``total`` and ``person_years`` (e.g.
        ``long_term_counts("mds").included``), at least 1.
    priors
        Priors of ``mu`` and ``tau`` over the defaults (:func:`long_term_priors`).

    Returns
    -------
    pymc.Model
        A new model with coords ``study``: ``pm.Data`` ``r`` (cases) and ``py``
        (person-years); free ``mu``, ``tau``, ``z`` (dim ``study``) and ``z_new``;
        deterministics ``log_rate`` (dim ``study``) and ``log_rate_new``; observed ``r_obs``.

    Raises
    ------
    InputError
        When no cohort is given, a count or person-years value is invalid, or the priors are
        not those of the model.
    """
    priors = long_term_priors(priors)
    _check_cohorts(used)
    with pm.Model(coords={"study": list(used["study"])}) as model:
        r = pm.Data("r", used["events"].to_numpy(int), dims="study")
        py = pm.Data("py", used["person_years"].to_numpy(float), dims="study")
        mu = priors["mu"].to_pymc("mu")
        tau = priors["tau"].to_pymc("tau")
        z = pm.Normal("z", 0.0, 1.0, dims="study")
        z_new = pm.Normal("z_new", 0.0, 1.0)
        log_rate = pm.Deterministic("log_rate", mu + tau * z, dims="study")
        pm.Deterministic("log_rate_new", mu + tau * z_new)
        pm.Poisson("r_obs", mu=pm.math.exp(log_rate) * py, observed=r, dims="study")
    return model


def cumulative_incidence_draws(log_rate, horizon_months: float):
    """``1 - exp(-exp(log_rate) * horizon_months / 12)``: constant-hazard cumulative incidence.

    Parameters
    ----------
    log_rate
        Draws (DataArray or array) of a log event rate per person-year.
    horizon_months
        Horizon in months.

    Returns
    -------
    xarray.DataArray or numpy.ndarray
        The probability of the event by the horizon, same type and shape as ``log_rate``.
    """
    return -np.expm1(-np.exp(log_rate) * horizon_months / 12.0)


def long_term_quantities(
    posterior: xr.Dataset, horizons_months: Sequence[float]
) -> list[tuple[str, str, xr.DataArray]]:
    """Cumulative incidence draws of the pooled and the new-cohort rate at each horizon.

    Parameters
    ----------
    posterior
        Posterior of :func:`long_term_model` (``mu`` and ``log_rate_new``, dims chain, draw).
    horizons_months
        Horizons in months.

    Returns
    -------
    list[tuple[str, str, xarray.DataArray]]
        ``(analysis, quantity, draws)``: ``long_term_map_pooled`` (from ``exp(mu)``) and
        ``long_term_map_predictive`` (from ``exp(log_rate_new)``) per horizon, quantity
        ``cumulative_incidence_<H>m``.
    """
    return [(analysis, cumulative_incidence(h), cumulative_incidence_draws(posterior[var], h))
            for h in horizons_months
            for analysis, var in ((_POOLED, "mu"), (_PREDICTIVE, "log_rate_new"))]


def long_term_horizons(
    used: pd.DataFrame,
    horizons_months: Sequence[float] | None = None,
    *,
    allow_extrapolation: bool = False,
) -> tuple[float, ...]:
    """The horizons reported: within the longest follow-up of the pooled cohorts.

    Parameters
    ----------
    used
        Cohorts with a ``follow_up_months`` column.
    horizons_months
        Horizons in months; ``None``: those of :data:`LONG_TERM_HORIZONS_MONTHS` not beyond
        the longest follow-up.
    allow_extrapolation
        Accept given horizons beyond the longest follow-up (the constant hazard then carries
        the result alone).

    Returns
    -------
    tuple[float, ...]
        The horizons, sorted.

    Raises
    ------
    InputError
        When a horizon is not positive, a given horizon exceeds the longest follow-up without
        ``allow_extrapolation``, or no default horizon is within it.
    """
    longest = float(used["follow_up_months"].max())
    if horizons_months is None:
        kept = tuple(h for h in LONG_TERM_HORIZONS_MONTHS if h <= longest)
        if not kept:
            raise InputError(f"no default horizon {LONG_TERM_HORIZONS_MONTHS} is within the"
                             f" longest follow-up, {longest:g} months; give horizons_months",
                             field="horizons_months")
        return kept
    horizons = tuple(sorted(float(h) for h in horizons_months))
    if not horizons or horizons[0] <= 0:
        raise InputError(f"horizons must be positive months, got {list(horizons_months)}",
                         field="horizons_months")
    if horizons[-1] > longest and not allow_extrapolation:
        raise InputError(f"horizon {horizons[-1]:g} months is beyond the longest follow-up of"
                         f" the pooled cohorts ({longest:g} months): the constant hazard alone"
                         " would carry it; pass allow_extrapolation=True to accept that",
                         field="horizons_months")
    return horizons


def prior_cumulative_incidence(
    horizon_months: float,
    priors: Mapping[str, Prior] | None = None,
    *,
    draws: int,
    seed: int,
) -> pd.DataFrame:
    """Prior predictive check: the cumulative incidence at a horizon implied by the priors.

    Parameters
    ----------
    horizon_months
        Horizon in months.
    priors
        Priors of ``mu`` and ``tau`` over the defaults (:func:`long_term_priors`).
    draws
        Number of prior draws.
    seed
        Seed of the generator.

    Returns
    -------
    pandas.DataFrame
        Index ``long_term_map_pooled`` (``exp(mu)``) and ``long_term_map_predictive``
        (``exp(mu + tau z_new)``); columns ``median``, ``lower``, ``upper`` (2.5% and 97.5%).
    """
    priors = long_term_priors(priors)
    rng = np.random.default_rng(seed)
    mu = priors["mu"].ppf(rng.uniform(size=draws))
    tau = priors["tau"].ppf(rng.uniform(size=draws))
    rows = {}
    for analysis, log_rate in ((_POOLED, mu), (_PREDICTIVE, mu + tau * rng.normal(size=draws))):
        ci = cumulative_incidence_draws(log_rate, horizon_months)
        rows[analysis] = dict(zip(("lower", "median", "upper"),
                                  np.quantile(ci, [0.025, 0.5, 0.975]), strict=True))
    return pd.DataFrame.from_dict(rows, orient="index")[["median", "lower", "upper"]]


def long_term_notes(used: pd.DataFrame) -> tuple[str, ...]:
    """The assumptions of a long-term fit, as printed lines (outputs carry them).

    Parameters
    ----------
    used
        Cohorts pooled (columns of :func:`long_term_counts`' ``included``).

    Returns
    -------
    tuple[str, ...]
        The constant-hazard and competing-risk notes, one line per cohort with its
        person-years and how they were formed, and the single-cohort note when it applies.
    """
    cohorts = tuple(
        f"{row.study}: {row.events} cases, person-years {row.total} patients x"
        f" {row.follow_up_months:g} months {row.follow_up_statistic} follow-up / 12 ="
        f" {row.person_years:.1f}"
        + ("" if row.follow_up_statistic == "mean" else " (approximation: the median stands in"
           " for the mean and overstates time at risk when patients die)")
        for row in used.itertuples())
    single = (("one cohort: the between-cohort SD tau is informed by its prior only",)
              if len(used) == 1 else ())
    return (CONSTANT_HAZARD_NOTE, COMPETING_RISK_NOTE, *cohorts, *single)


class LongTermRiskModel(BayesianModel):
    """The long-term rate model (:func:`long_term_model`) for :func:`~prrt_bayes.core.fit.fit`.

    Its structure is the cohort names and the priors; the graph is built on placeholder data
    and :meth:`data` fills ``r`` and ``py`` (cases and person-years per cohort, in order).

    Parameters
    ----------
    used
        Cohorts with columns ``study``, ``events``, ``total``, ``person_years``,
        ``follow_up_months`` and ``follow_up_statistic``, at least 1.
    priors
        Priors of ``mu`` and ``tau`` over the defaults :data:`LONG_TERM_PRIORS`.

    Raises
    ------
    InputError
        When the priors are not those of the model or a cohort is invalid.
    """

    what = "long-term rate model"
    gate_vars = ("mu", "tau", "log_rate", "log_rate_new")
    # fitted once per analysis: PyTensor's disk-cached C compile (about 0.5 s) beats numba's
    # per-process compile (5-10 s) although it samples slower (benchmarks/README.md)
    preferred_backend = "nutpie-c"

    def __init__(self, used: pd.DataFrame, priors: Mapping[str, Prior] | None) -> None:
        _check_cohorts(used)
        self.used = used
        self.prior_map = long_term_priors(priors)

    def structure(self) -> Hashable:
        return (tuple(self.used["study"]), tuple(self.prior_map.items()))

    def build(self) -> pm.Model:
        placeholder = pd.DataFrame({"study": list(self.used["study"]), "events": 0, "total": 1,
                                    "person_years": 1.0})
        return long_term_model(placeholder, self.prior_map)

    def data(self) -> Mapping[str, np.ndarray]:
        return {"r": self.used["events"].to_numpy(int),
                "py": self.used["person_years"].to_numpy(float)}

    def priors(self) -> Mapping[str, Prior]:
        return dict(self.prior_map)

    def attrs(self) -> Mapping[str, Any]:
        return {"long_term_person_years": self.used["person_years"].astype(float).tolist(),
                "long_term_notes": list(long_term_notes(self.used))}


@dataclass
class LongTermFit:
    """Pooled long-term rate: cohorts, posterior, diagnostics, summary, horizons, assumptions."""

    endpoint: str
    selection: SeriesSelection
    tree: xr.DataTree
    diagnostics: Diagnostics
    summary: pd.DataFrame
    priors: dict[str, Prior] = field(default_factory=dict)
    horizons_months: tuple[float, ...] = ()
    notes: tuple[str, ...] = ()


def fit_long_term_risk(
    endpoint: str,
    settings: SamplerSettings,
    *,
    priors: Mapping[str, Prior] | None = None,
    series=None,
    netter1=None,
    horizons_months: Sequence[float] | None = None,
    allow_extrapolation: bool = False,
) -> LongTermFit:
    """Pool a long-term risk of 177Lu-Dotatate as a rate per person-year; report CI(H).

    Parameters
    ----------
    endpoint
        ``"mds"`` (series + NETTER-1 final) or ``"mds_or_acute_leukaemia"`` (series).
    settings
        Sampler settings of the fit (a high ``target_accept``, e.g. 0.99, suits this
        hierarchical model with few cohorts).
    priors
        Priors of ``mu`` (Normal, log rate per person-year) and ``tau`` (HalfNormal or
        HalfCauchy) over the defaults :data:`LONG_TERM_PRIORS` (from a ``family:params`` string
        with :func:`prrt_bayes.core.priors.parse_prior`).
    series, netter1
        Evidence to use instead of the bundled series and NETTER-1 (see
        :func:`long_term_counts`).
    horizons_months
        Horizons of the cumulative incidence in months; ``None``: the defaults within the
        longest follow-up (:func:`long_term_horizons`).
    allow_extrapolation
        Accept horizons beyond the longest follow-up of the pooled cohorts.

    Returns
    -------
    LongTermFit
        ``summary`` rows (group ``lu177``, quantity ``cumulative_incidence_<H>m`` per
        horizon): analysis ``long_term_map_pooled`` and ``long_term_map_predictive``;
        ``selection`` lists cohorts used (with person-years) and excluded; ``notes`` the
        assumptions (also in ``tree.posterior.attrs["long_term_notes"]``). Diagnostics are
        recorded, not enforced.

    Raises
    ------
    InputError
        When a prior is of another family or names an unknown parameter, ``endpoint`` is
        unknown, no cohort has a count and a follow-up, or a horizon is refused
        (:func:`long_term_horizons`).
    """
    model_priors = long_term_priors(priors)
    selection = long_term_counts(endpoint, series=series, netter1=netter1)
    used = selection.included
    if used.empty:
        raise InputError(f"{endpoint}: no cohort left with a count and a follow-up",
                         field="endpoint")
    horizons = long_term_horizons(used, horizons_months, allow_extrapolation=allow_extrapolation)
    result = core_fit.fit(LongTermRiskModel(used, model_priors), settings)
    rows = [summarize_draws(draws, quantity=quantity, group=Arm.LU177, endpoint=endpoint,
                            analysis=analysis)
            for analysis, quantity, draws in long_term_quantities(result.posterior, horizons)]
    summary = summary_frame(rows, priors=describe_priors(model_priors))
    return LongTermFit(endpoint, selection, result.tree, result.diagnostics, summary,
                       model_priors, horizons, long_term_notes(used))
