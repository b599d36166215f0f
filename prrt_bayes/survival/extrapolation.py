"""The recommended extrapolation and its scenarios: what drives each survival analysis's tail.

The recommended model (``family = "auto"``, NICE DSU TSD 21's advice made the default) is the
flexible excess-hazard model of :mod:`prrt_bayes.survival.flexible` with

- general-population mortality as a floor (:mod:`prrt_bayes.survival.background`): the bundled
  US period life table (SSA OCACT, TR2020, year 2017) matched to each arm's age and sex mix —
  NEJM 2017 Table 1 for the bundled NETTER-1 data, ``[evidence] age_mean, age_sd,
  male_fraction`` (and optionally ``life_table``) for a user's IPD;
- the single-arm 177Lu-DOTATATE series as survivor counts on the 177Lu-Dotatate arm
  (:func:`prrt_bayes.survival.external.series_survivor_counts`), exchangeable with the trial;
- a user's own survivor counts (``[evidence] external``);

fitted to every member of the reconstruction ensemble. :func:`extrapolation_scenarios` refits
the alternatives an appraisal committee asks for — the constant-tail piecewise PH model (also
with the series as a robust MAP prior on the 177Lu arm's median instead of survivor counts: the
other route for the same series, never both in one fit), the six parametric families of NICE
DSU TSD 14, treatment-effect waning, the model without external
evidence and without the population floor, and for OS the control arm from its pre-crossover
data cut — and tabulates each one's median, mean to the horizon and restricted means.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import xarray as xr

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.results import (
    BACKGROUND_SCENARIO,
    EXTRAPOLATION_CURVE_COLUMNS,
    EXTRAPOLATION_SCENARIO_COLUMNS,
    RECOMMENDED_SCENARIO,
    WITHOUT_EXTERNAL_SCENARIO,
    Extrapolation,
)
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.core.summary import equal_tailed
from prrt_bayes.core.vocabulary import Quantity, contrast
from prrt_bayes.core.vocabulary import rmst as rmst_quantity
from prrt_bayes.survival import parametric
from prrt_bayes.survival.flexible import (
    DEFAULT_FLEXIBLE_PRIORS,
    FlexibleFit,
    Waning,
    fit_flexible,
    flexible_basis,
)
from prrt_bayes.survival.intervals import CONTROL, default_breakpoints
from prrt_bayes.survival.mspline import MSplineBasis
from prrt_bayes.survival.quantities import hazard_from_survival, median_survival, rmst
from prrt_bayes.survival.spec import DEFAULT_MODELS, SurvivalSpec

SCENARIO_WANING = (("waning_linear_5y", "linear", 60.0), ("waning_exponential_10y",
                                                         "exponential", 120.0))
"""Waning scenarios: the excess-hazard ratio wanes to 1 from the end of follow-up over 5 years
(linear) or 10 years (exponential)."""

RMST_YEARS = (5, 10)
"""Restricted means reported at 5 and 10 years (60 and 120 months) in every scenario."""

RMST_FOLLOW_UP = "rmst_follow_up_months"
"""Scenario quantity: RMST at the end of the trial's follow-up (observed, not extrapolated)."""


@dataclass(frozen=True)
class TailEvidence:
    """The long-term evidence a flexible fit uses.

    Parameters
    ----------
    background
        ``{arm: BackgroundMortality}`` or ``None`` (no population floor).
    background_note
        One line on the floor: table, cohort, or why there is none.
    external
        All external survivor counts (series rows with ``group`` = study), or ``None``.
    series
        The series rows used (``study, start, stop, n, r, basis``), or ``None``.
    series_excluded
        Series cohorts left out, with reasons, or ``None``.
    """

    background: dict | None
    background_note: str
    external: pd.DataFrame | None
    series: pd.DataFrame | None
    series_excluded: pd.DataFrame | None

    def without_external(self) -> TailEvidence:
        """The same evidence without any external counts.

        Returns
        -------
        TailEvidence
            A copy with ``external``, ``series`` and ``series_excluded`` set to ``None``.
        """
        return replace(self, external=None, series=None, series_excluded=None)

    def without_background(self) -> TailEvidence:
        """The same evidence without the general-population floor.

        Returns
        -------
        TailEvidence
            A copy with ``background`` ``None``.
        """
        return replace(self, background=None, background_note="no general-population floor "
                                                                "(scenario)")


def _cohorts(spec: SurvivalSpec, arms: tuple[str, str]):
    """The cohort per arm: the spec's (both arms), NETTER-1's Table 1, or ``None``."""
    from prrt_bayes.survival.background import Cohort, netter1_cohort

    e = spec.evidence
    if e.age_mean is not None:
        cohort = Cohort(age_mean=e.age_mean, age_sd=e.age_sd, male_fraction=e.male_fraction,
                        source="the spec's [evidence] age_mean, age_sd, male_fraction")
        return {arm: cohort for arm in arms}
    if e.ipd is None:
        return {arm: netter1_cohort(arm) for arm in arms}
    return None


def tail_evidence(spec: SurvivalSpec) -> TailEvidence:
    """The population floor and external counts the spec's recommended model uses.

    Parameters
    ----------
    spec
        A survival spec (``model.background``, ``model.series``, ``evidence.external``, the
        cohort and ``evidence.life_table``).

    Returns
    -------
    TailEvidence
        The evidence; without a cohort (a user's IPD without ``age_mean`` ...), no floor and a
        note that says so.

    Raises
    ------
    InputError
        A bad life table, cohort or external-counts file (file, row and field named).
    """
    from prrt_bayes.survival.background import cohort_background, load_life_table
    from prrt_bayes.survival.external import read_external_counts, series_survivor_counts

    e, m = spec.evidence, spec.model
    arms = (CONTROL, e.treatment_arm)
    background, note = None, ""
    cohorts = _cohorts(spec, arms) if m.background else None
    if not m.background:
        note = "no general-population floor (model.background = false)"
    elif cohorts is None:
        note = ("no general-population floor: the cohort's age and sex are not given "
                "([evidence] age_mean, age_sd, male_fraction)")
    else:
        table = load_life_table(e.life_table)
        background = {arm: cohort_background(table, cohorts[arm]) for arm in arms}
        note = f"{table.source}, matched to each arm's cohort: " + "; ".join(
            f"{arm} age {c.age_mean:g} ± {c.age_sd:g} years, {c.male_fraction:.1%} male "
            f"({c.source})" for arm, c in cohorts.items())
    frames, series, excluded = [], None, None
    use_series = m.series if m.series is not None else e.ipd is None
    if use_series:
        series, excluded = series_survivor_counts(e.endpoint)
        if len(series):
            frames.append(series.assign(arm=e.treatment_arm, group=series["study"])[
                ["start", "stop", "n", "r", "arm", "group"]])
    if e.external is not None:
        user = read_external_counts(e.external, treatment=e.treatment_arm, control=CONTROL)
        frames.append(user.assign(group="")[["start", "stop", "n", "r", "arm", "group"]])
    external = pd.concat(frames, ignore_index=True) if frames else None
    return TailEvidence(background, note, external, series, excluded)


def period_cuts(spec: SurvivalSpec, ipd: pd.DataFrame) -> tuple[float, ...]:
    """HR period cut of the non-PH variant (median event time of ``ipd``), else none.

    Parameters
    ----------
    spec
        The survival spec (``model.time_varying_hr``).
    ipd
        The data set that places the cut (the first reconstruction member).

    Returns
    -------
    tuple[float, ...]
        One cut (months) or none.
    """
    if not spec.model.time_varying_hr:
        return ()
    time, event = ipd["time"].to_numpy(), ipd["event"].to_numpy()
    return tuple(float(c) for c in default_breakpoints(time, event, 2))


def spec_waning(spec: SurvivalSpec, follow_up: float) -> Waning | None:
    """The spec's ``[model.waning]``, checked to start no earlier than the end of follow-up.

    Parameters
    ----------
    spec
        The survival spec.
    follow_up
        End of the trial's follow-up (months).

    Returns
    -------
    Waning | None
        The waning, or ``None``.

    Raises
    ------
    InputError
        When waning starts before the end of follow-up (field ``model.waning.start``).
    """
    w = spec.model.waning
    if w is None:
        return None
    if w.start < follow_up:
        raise InputError(f"waning starts at {w.start:g} months, before the end of follow-up "
                         f"({follow_up:.1f} months): the trial data cover that time",
                         field="model.waning.start")
    return Waning(w.kind, w.start, w.end)


def fit_recommended(spec: SurvivalSpec, ipds: list[pd.DataFrame], evidence: TailEvidence,
                    settings: SamplerSettings, basis: MSplineBasis | None = None
                    ) -> list[FlexibleFit]:
    """Fit the flexible model to every data set with one basis and period cut (one compile).

    Parameters
    ----------
    spec
        The survival spec (priors — for a spec of another family only those the flexible
        model takes —, knots, arms, non-PH option).
    ipds
        The data sets (reconstruction members, or one user IPD).
    evidence
        Background and external counts.
    settings
        Sampler settings.
    basis
        The basis to use (default: :func:`~prrt_bayes.survival.flexible.flexible_basis` of the
        data sets and the external counts).

    Returns
    -------
    list[FlexibleFit]
        One fit per data set.
    """
    basis = basis or flexible_basis(ipds, evidence.external, n_interior=spec.model.knots)
    cuts = period_cuts(spec, ipds[0])
    priors = spec.prior_objects()
    if spec.model.family != "auto":  # the scenario of another family's spec: default priors
        priors = {k: v for k, v in priors.items() if k in DEFAULT_FLEXIBLE_PRIORS}
    return [fit_flexible(ipd, settings=settings, basis=basis, priors=priors,
                         treatment=spec.evidence.treatment_arm, period_cuts=cuts,
                         background=evidence.background, external=evidence.external)
            for ipd in ipds]


SCENARIO_DRAWS = 4000
"""Posterior draws per scenario (evenly thinned from the pooled chains): enough for the
scenario table's medians and 95% intervals (Monte Carlo error of a quantile about 1.5% of a
posterior SD), and it bounds the memory of ensembles with many members."""


def _per_chain(fits: list[FlexibleFit]) -> int:
    chains = sum(f.posterior.sizes["chain"] for f in fits)
    return max(1, -(-SCENARIO_DRAWS // chains))


def pooled_survival(fits: list[FlexibleFit], times: np.ndarray,
                    waning: Waning | None = None) -> xr.DataArray:
    """S(t) draws of several fits side by side (chains renumbered), thinned evenly to about
    :data:`SCENARIO_DRAWS` in all: dims (chain, draw, arm, time).

    Parameters
    ----------
    fits
        Fits with the same number of draws.
    times
        Months from 0.
    waning
        Optional waning of the excess-hazard ratio.

    Returns
    -------
    xarray.DataArray
        The pooled survival draws.
    """
    per_chain = _per_chain(fits)
    return by_chain([f.survival(times, waning, per_chain) for f in fits])


def pooled_hazard(fits: list[FlexibleFit], times: np.ndarray,
                  waning: Waning | None = None) -> xr.DataArray:
    """h(t) draws of several fits side by side, thinned as :func:`pooled_survival`: dims
    (chain, draw, arm, time), per month.

    Parameters
    ----------
    fits
        Fits with the same number of draws.
    times
        Months.
    waning
        Optional waning of the excess-hazard ratio.

    Returns
    -------
    xarray.DataArray
        The pooled hazard draws.
    """
    per_chain = _per_chain(fits)
    return by_chain([f.hazard(times, waning, per_chain) for f in fits])


def by_chain(parts: list):
    """Concatenate xarray objects along ``chain``, numbering the chains 0, 1, ... afresh.

    Parameters
    ----------
    parts
        DataArrays or Datasets with the same dims apart from ``chain``.

    Returns
    -------
    xarray.DataArray | xarray.Dataset
        The pooled object (attributes of the first).
    """
    pooled = xr.concat(parts, dim="chain", join="exact", combine_attrs="override")
    return pooled.assign_coords(chain=np.arange(pooled.sizes["chain"]))


def scenario_rows(name: str, scenario: str, survival: xr.DataArray, treatment: str,
                  follow_up: float, horizon: float) -> list[tuple]:
    """The scenario table's rows for one scenario's survival draws.

    Parameters
    ----------
    name
        Analysis name.
    scenario
        Scenario label.
    survival
        Draws ``(chain, draw, arm, time)`` on a grid from 0 to ``horizon``.
    treatment
        Treatment arm label (the contrast is treatment vs control).
    follow_up
        End of follow-up (months).
    horizon
        The spec's horizon (months).

    Returns
    -------
    list[tuple]
        Rows of :data:`~prrt_bayes.core.results.EXTRAPOLATION_SCENARIO_COLUMNS`: per arm the
        median, the mean to the horizon, the RMST at the end of follow-up and at 5 and 10
        years; for the contrast the mean difference.
    """
    rows = []
    means = {}
    for arm in (treatment, CONTROL):
        s = survival.sel(arm=arm, drop=True)
        means[arm] = rmst(s, horizon)
        items = [(Quantity.MEDIAN_SURVIVAL.value, median_survival(s)),
                 (Quantity.MEAN_SURVIVAL.value, means[arm]),
                 (Quantity.RMST_FOLLOW_UP.value, rmst(s, follow_up))]
        items += [(rmst_quantity(12 * y), rmst(s, 12.0 * y)) for y in RMST_YEARS
                  if 12 * y <= horizon]
        rows += [(name, scenario, arm, quantity, *equal_tailed(draws)) for quantity, draws in items]
    rows.append((name, scenario, contrast(treatment, CONTROL),
                 Quantity.MEAN_SURVIVAL_DIFFERENCE.value,
                 *equal_tailed(means[treatment] - means[CONTROL])))
    return rows


def _median_curves(scenario: str, survival: xr.DataArray, hazard: xr.DataArray) -> pd.DataFrame:
    s = survival.median(("chain", "draw"))
    h = hazard.median(("chain", "draw"))
    frames = [pd.DataFrame({"scenario": scenario, "arm": arm, "time": s["time"].values,
                            "survival": s.sel(arm=arm).values, "hazard": h.sel(arm=arm).values})
              for arm in s["arm"].values]
    return pd.concat(frames, ignore_index=True)


@dataclass
class Scenario:
    """One extrapolation scenario's survival and hazard draws on the analysis grid.

    ``problem``: why the scenario is not a result (its refit failed the convergence gate or
    could not be fitted), or ``""``; such scenarios are left out of the table and named.
    """

    label: str
    survival: xr.DataArray | None
    hazard: xr.DataArray | None
    problem: str = ""


def _refitted(label: str, fits: list[FlexibleFit], grid: np.ndarray,
              waning: Waning | None) -> Scenario:
    problems = [p for f in fits for p in f.diagnostics.problems]
    return Scenario(label, pooled_survival(fits, grid, waning), pooled_hazard(fits, grid, waning),
                    "; ".join(problems))


def extrapolation_scenarios(spec: SurvivalSpec, ipds: list[pd.DataFrame],
                            recommended: list[FlexibleFit], evidence: TailEvidence,
                            settings: SamplerSettings, grid: np.ndarray,
                            follow_up: float,
                            without_external: list[FlexibleFit] | None = None
                            ) -> list[Scenario]:
    """Fit or derive every scenario of the module docstring on the first data set.

    Scenarios needing a refit use the first data set (the default reconstruction member) and
    the spec's sampler settings; the recommended model and its waning variants use every
    member's draws (``recommended``), and so does the model without external evidence when its
    fits are given (``without_external``).

    Parameters
    ----------
    spec
        The survival spec.
    ipds
        The data sets (the first one is refitted for the scenarios).
    recommended
        The recommended fits (one per data set, or one fit of the first data set when the
        spec's family is not ``auto``).
    evidence
        The recommended model's tail evidence.
    settings
        Sampler settings.
    grid
        Times (months) from 0 to the horizon.
    follow_up
        End of follow-up (months).
    without_external
        Fits of the recommended model without external evidence (one per data set), or
        ``None`` to refit the first data set.

    Returns
    -------
    list[Scenario]
        In table order.
    """
    from prrt_bayes.survival.ph import fit_ph

    treatment = spec.evidence.treatment_arm
    first = ipds[:1]
    waning = spec_waning(spec, follow_up)
    out = [Scenario(RECOMMENDED_SCENARIO, pooled_survival(recommended, grid, waning),
                    pooled_hazard(recommended, grid, waning))]
    if waning is not None:
        out.append(Scenario("recommended_without_waning", pooled_survival(recommended, grid),
                            pooled_hazard(recommended, grid)))
    for label, kind, length in SCENARIO_WANING:
        w = Waning(kind, follow_up, follow_up + length)
        out.append(Scenario(label, pooled_survival(recommended, grid, w),
                            pooled_hazard(recommended, grid, w)))
    if evidence.external is not None:
        fits = without_external or fit_recommended(spec, first, evidence.without_external(),
                                                   settings)
        out.append(_refitted(WITHOUT_EXTERNAL_SCENARIO, fits, grid, waning))
    if evidence.background is not None:
        fits = fit_recommended(spec, first, evidence.without_background(), settings)
        out.append(_refitted("without_background_mortality", fits, grid, waning))
    crossover = _pre_crossover(spec, evidence, settings, grid, out[0])
    if crossover is not None:
        out.append(crossover)
    ph = fit_ph(first[0], settings=settings, treatment=treatment,
                n_intervals=spec.model.intervals)
    out.append(Scenario("piecewise_ph_constant_tail", ph.survival(grid), ph.hazard(grid),
                        "; ".join(ph.diagnostics.problems)))
    if evidence.series is not None and len(evidence.series):
        out.append(_series_as_median_prior(spec, first[0], settings, grid))
    fits = parametric.fit_all(first[0], DEFAULT_MODELS, settings=settings, treatment=treatment)
    for family, fit in fits.items():
        if isinstance(fit, parametric.FitFailure):
            out.append(Scenario(family, None, None, f"not fitted: {fit.error}"))
            continue
        surv = fit.survival(grid)
        out.append(Scenario(family, surv, hazard_from_survival(surv),
                            "; ".join(fit.diagnostics.problems)))
    return out


SERIES_MEDIAN_PRIOR_SCENARIO = "piecewise_ph_series_as_median_prior"
"""The other route for the series (issue 17: one route per endpoint in a fit, the other a
scenario): the piecewise PH model with the series' robust MAP prior on the 177Lu arm's log
median instead of the series as survivor counts."""


def _series_as_median_prior(spec: SurvivalSpec, ipd: pd.DataFrame, settings: SamplerSettings,
                            grid: np.ndarray) -> Scenario:
    """The piecewise PH model (constant tail) with the series as a robust MAP median prior
    (:func:`~prrt_bayes.borrowing.survival.external_log_median_prior`, the spec's
    ``[borrowing] robust_weight``) instead of survivor counts."""
    from prrt_bayes.borrowing.survival import external_log_median_prior
    from prrt_bayes.survival.ph import fit_ph

    try:
        prior, _, _ = external_log_median_prior(spec.evidence.endpoint, "robust-map",
                                                robust_weight=spec.borrowing.robust_weight)
    except InputError as err:
        return Scenario(SERIES_MEDIAN_PRIOR_SCENARIO, None, None, f"not fitted: {err.message}")
    fit = fit_ph(ipd, settings=settings, treatment=spec.evidence.treatment_arm,
                 n_intervals=spec.model.intervals,
                 log_median_prior=(prior.weights, prior.means, prior.sds))
    return Scenario(SERIES_MEDIAN_PRIOR_SCENARIO, fit.survival(grid), fit.hazard(grid),
                    "; ".join(fit.diagnostics.problems))


def _pre_crossover(spec, evidence, settings, grid, recommended: Scenario) -> Scenario | None:
    """OS of the bundled final cut: the control arm extrapolated from the 2016 cut (before most
    crossover to radioligand therapy), the 177Lu arm from the recommended scenario."""
    e = spec.evidence
    if e.ipd is not None or e.endpoint != "os" or e.cut != "final":
        return None
    from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd

    early = load_netter1_ipd("os", "update_2016")
    fits = fit_recommended(spec, [early], evidence, settings)
    control_s = pooled_survival(fits, grid).sel(arm=[CONTROL])
    control_h = pooled_hazard(fits, grid).sel(arm=[CONTROL])
    lu_s = recommended.survival.sel(arm=[e.treatment_arm])
    lu_h = recommended.hazard.sel(arm=[e.treatment_arm])
    draws = min(control_s.sizes["chain"] * control_s.sizes["draw"],
                lu_s.sizes["chain"] * lu_s.sizes["draw"])

    def flat(a: xr.DataArray) -> xr.DataArray:
        stacked = a.stack(sample=("chain", "draw")).isel(sample=slice(0, draws))
        return stacked.drop_vars(["sample", "chain", "draw"]).rename(sample="draw").expand_dims(
            chain=[0]).transpose("chain", "draw", "arm", "time")

    return Scenario("control_from_pre_crossover_2016_cut",
                    xr.concat([flat(lu_s), flat(control_s)], dim="arm"),
                    xr.concat([flat(lu_h), flat(control_h)], dim="arm"),
                    "; ".join(p for f in fits for p in f.diagnostics.problems))


def summarise_scenarios(name: str, scenarios: list[Scenario], treatment: str, follow_up: float,
                        horizon: float, background_survival: pd.DataFrame | None
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scenario table and the posterior-median curves of every scenario.

    Parameters
    ----------
    name
        Analysis name.
    scenarios
        From :func:`extrapolation_scenarios`; those with a ``problem`` are left out.
    treatment
        Treatment arm label.
    follow_up
        End of follow-up (months).
    horizon
        The spec's horizon (months).
    background_survival
        The population cohort's curves (``arm, time, survival, hazard``), or ``None``.

    Returns
    -------
    tuple[pandas.DataFrame, pandas.DataFrame]
        Rows of :data:`~prrt_bayes.core.results.EXTRAPOLATION_SCENARIO_COLUMNS` and of
        :data:`~prrt_bayes.core.results.EXTRAPOLATION_CURVE_COLUMNS`.
    """
    rows, curves = [], []
    for s in scenarios:
        if s.problem:
            continue
        rows += scenario_rows(name, s.label, s.survival, treatment, follow_up, horizon)
        curves.append(_median_curves(s.label, s.survival, s.hazard))
    if background_survival is not None:
        curves.append(background_survival.assign(scenario=BACKGROUND_SCENARIO))
    table = pd.DataFrame(rows, columns=list(EXTRAPOLATION_SCENARIO_COLUMNS))
    curve_frame = pd.concat(curves, ignore_index=True)[list(EXTRAPOLATION_CURVE_COLUMNS)]
    return table, curve_frame


def background_curves(evidence: TailEvidence, grid: np.ndarray) -> pd.DataFrame | None:
    """The population cohort's survival and hazard per arm on ``grid``, or ``None``.

    Parameters
    ----------
    evidence
        The tail evidence (its ``background``).
    grid
        Months.

    Returns
    -------
    pandas.DataFrame | None
        Columns ``arm, time, survival, hazard``.
    """
    if evidence.background is None:
        return None
    return pd.concat([pd.DataFrame({"arm": arm, "time": grid,
                                    "survival": b.survival(grid), "hazard": b.hazard(grid)})
                      for arm, b in evidence.background.items()], ignore_index=True)


def drivers(spec: SurvivalSpec, fits: list[FlexibleFit], evidence: TailEvidence,
            follow_up: float, ess_events: float | None = None) -> tuple[str, ...]:
    """What drives the recommended model's tail, in lines for the report and the CLI.

    Parameters
    ----------
    spec
        The survival spec.
    fits
        The recommended fits (their basis, periods and series offsets).
    evidence
        The tail evidence.
    follow_up
        End of follow-up (months).
    ess_events
        The series' effective sample size in trial events (precision ratio, see
        :func:`series_ess_events`), or ``None`` when not computed.

    Returns
    -------
    tuple[str, ...]
        The lines.
    """
    data = fits[0].data
    basis = data.basis
    reach = ("the last external survivor count" if basis.boundary > follow_up * 1.0001
             else "the end of the trial's follow-up")
    lines = [f"Hazard: flexible M-spline excess hazard (knots at "
             f"{', '.join(f'{k:.1f}' for k in basis.interior_knots)} months), fitted to the trial "
             f"up to the end of follow-up at {follow_up:.1f} months; the excess hazard is held "
             f"constant after {basis.boundary:.1f} months ({reach})."]
    waning = spec_waning(spec, follow_up)
    effect = "excess-hazard ratio" if evidence.background is not None else "hazard ratio"
    if data.n_periods > 1:
        cut = data.period_edges[1]
        lines.append(f"Treatment effect: one {effect} before and one after {cut:.1f} months, "
                     "the second carried to the horizon.")
    else:
        lines.append(f"Treatment effect: one {effect} from randomisation to the horizon.")
    if waning is not None:
        lines.append(f"Waning: {waning.describe()} (spec [model.waning]).")
    lines.append(f"General-population mortality: {evidence.background_note}.")
    if evidence.series is not None and len(evidence.series):
        studies = ", ".join(f"{r.study} (S = {r.r / r.n:.2f} at {r.stop:g} months, "
                            f"n = {r.n:.0f})" for r in evidence.series.itertuples())
        tau = np.concatenate([f.posterior["series_sd"].values.ravel() for f in fits])
        nominal = float((evidence.series["n"] - evidence.series["r"]).sum())
        ess = "" if ess_events is None else f"; effective sample size {ess_events:.0f} events"
        lines.append(f"Series evidence on the 177Lu-Dotatate arm, as survivor counts: {studies}; "
                     f"exchangeable with the trial, between-source SD median {np.median(tau):.2f}"
                     f" (nominal {nominal:.0f} deaths{ess}).")
    else:
        lines.append("Series evidence: none used.")
    if spec.evidence.external is not None:
        lines.append(f"External survivor counts from {spec.evidence.external.name}, taken to "
                     "describe the trial's population.")
    if spec.evidence.endpoint == "os":
        lines.append(_estimand())
    return tuple(lines)


def _estimand() -> str:
    """The OS estimand, with the crossover count from the bundled evidence."""
    from prrt_bayes.evidence import load_netter1

    record = next(r for r in load_netter1().records if r.quantity == "crossover_to_rlt")
    return (f"OS estimand: intention to treat (treatment policy): {record.value:.0f} of "
            f"{record.denominator:.0f} control patients later received radioligand therapy "
            f"({record.source}), so the control arm's OS includes its effect; the scenario "
            "control_from_pre_crossover_2016_cut (final cut) extrapolates the control arm from "
            "the 2016 cut instead.")


def series_ess_events(with_series: xr.DataArray, without: xr.DataArray, ipd: pd.DataFrame,
                      treatment: str, at: float) -> float:
    """The series' effective sample size in trial events, by the precision ratio.

    ESS = d x (V0 / V1 - 1), with V0 and V1 the posterior variances of the 177Lu-Dotatate arm's
    log cumulative hazard at time ``at`` without and with the series, and d the arm's trial
    events: the number of trial events the series' information at ``at`` is worth.

    Parameters
    ----------
    with_series, without
        Survival draws ``(chain, draw, arm, time)`` with and without the series.
    ipd
        The trial data (events counted on the treatment arm).
    treatment
        Treatment arm label.
    at
        The time (months): the latest series time.

    Returns
    -------
    float
        The effective sample size (events).
    """
    def variance(s: xr.DataArray) -> float:
        from prrt_bayes.survival.quantities import survival_at

        values = survival_at(s.sel(arm=treatment, drop=True), at).values.ravel()
        return float(np.var(np.log(-np.log(np.clip(values, 1e-300, 1 - 1e-15)))))

    events = float(ipd.loc[ipd["arm"] == treatment, "event"].sum())
    return events * (variance(without) / variance(with_series) - 1.0)


def family_drivers(spec: SurvivalSpec, follow_up: float,
                   breakpoints: list[float] | None) -> tuple[str, ...]:
    """What drives the tail of a spec whose family is not ``auto``, in lines.

    Parameters
    ----------
    spec
        The survival spec (its family).
    follow_up
        End of follow-up (months).
    breakpoints
        The piecewise model's baseline breakpoints (months), or ``None``.

    Returns
    -------
    tuple[str, ...]
        The lines.
    """
    family = spec.model.family
    if family == "ph_piecewise":
        last = max(breakpoints) if breakpoints else 0.0
        hazard = (f"Hazard: piecewise-constant baseline; after the last breakpoint at "
                  f"{last:.1f} months the hazard of the last interval (fitted to the trial's "
                  f"events after it) is carried unchanged to the horizon; follow-up ends at "
                  f"{follow_up:.1f} months.")
    else:
        hazard = (f"Hazard: the {family} model fitted to the trial up to {follow_up:.1f} "
                  "months; its parametric shape alone sets the hazard to the horizon.")
    effect = ("one hazard ratio per period, the last carried to the horizon"
              if spec.model.time_varying_hr else "one hazard ratio carried to the horizon")
    lines = [hazard, f"Treatment effect: {effect}.",
             "General-population mortality: none (no floor).",
             "Series and external evidence: none used in this model (see the scenario "
             "'recommended')."]
    if spec.evidence.endpoint == "os":
        lines.append(_estimand())
    return tuple(lines)


def build_extrapolation(spec: SurvivalSpec, ipds: list[pd.DataFrame],
                        recommended: list[FlexibleFit] | None, evidence: TailEvidence,
                        settings: SamplerSettings, grid: np.ndarray, follow_up: float,
                        breakpoints: list[float] | None = None,
                        without_external: list[FlexibleFit] | None = None) -> Extrapolation:
    """Drivers, scenario table and curves of one survival analysis.

    Parameters
    ----------
    spec
        The survival spec (``export.scenarios`` off: drivers only, no scenarios).
    ipds
        The data sets.
    recommended
        The recommended fits, or ``None`` when the spec's family is not ``auto`` (then fitted
        to the first data set for the scenarios).
    evidence
        The recommended model's tail evidence.
    settings
        Sampler settings.
    grid
        Times (months) from 0 to the horizon.
    follow_up
        End of follow-up (months).
    breakpoints
        The piecewise model's baseline breakpoints (family ``ph_piecewise``), or ``None``.
    without_external
        The recommended model's fits without external evidence, one per data set (the analysis
        fits them for its ``median_survival_months_without_borrowing``), or ``None``: the
        scenario then refits the first data set.

    Returns
    -------
    Extrapolation
        Drivers, scenarios (empty when off) and curves.
    """
    horizon = spec.export.horizon_months
    treatment = spec.evidence.treatment_arm
    auto = spec.model.family == "auto"
    if not spec.export.scenarios:
        lines = (drivers(spec, recommended, evidence, follow_up) if auto
                 else family_drivers(spec, follow_up, breakpoints))
        return Extrapolation(lines, pd.DataFrame(columns=list(EXTRAPOLATION_SCENARIO_COLUMNS)),
                             pd.DataFrame(columns=list(EXTRAPOLATION_CURVE_COLUMNS)), follow_up)
    if recommended is None:
        recommended = fit_recommended(spec, ipds[:1], evidence, settings)
    scenarios = extrapolation_scenarios(spec, ipds, recommended, evidence, settings, grid,
                                        follow_up, without_external)
    ess = None
    labels = [s.label for s in scenarios]
    if (evidence.series is not None and len(evidence.series)
            and WITHOUT_EXTERNAL_SCENARIO in labels and spec.evidence.external is None
            and not scenarios[labels.index(WITHOUT_EXTERNAL_SCENARIO)].problem):
        ess = series_ess_events(scenarios[0].survival,
                                scenarios[labels.index(WITHOUT_EXTERNAL_SCENARIO)].survival,
                                ipds[0], treatment, float(evidence.series["stop"].max()))
    table, curves = summarise_scenarios(spec.name, scenarios, treatment, follow_up, horizon,
                                        background_curves(evidence, grid))
    lines = (drivers(spec, recommended, evidence, follow_up, ess) if auto
             else family_drivers(spec, follow_up, breakpoints))
    left_out = [f"{s.label} ({s.problem})" for s in scenarios if s.problem]
    if left_out:
        lines += (f"Scenarios left out (not converged or not fitted, so not results): "
                  f"{'; '.join(left_out)}.",)
    return Extrapolation(lines, table, curves, follow_up)
