"""Survival analyses (PFS, OS): spec -> fitted model -> HR, curves, medians, RMST, mean survival.

The family ``auto`` is the recommended extrapolation of
:mod:`prrt_bayes.survival.extrapolation` (flexible M-spline excess hazard, general-population
mortality, the series as survivor counts); ``ph_piecewise`` is the proportional-hazards
piecewise-exponential model of :mod:`prrt_bayes.survival.ph` (beyond the last breakpoint its
hazard stays constant, i.e. it extrapolates exponentially); the parametric families are those
of :mod:`prrt_bayes.survival.parametric`. Every analysis also states what drives its tail and,
unless ``export.scenarios = false``, tabulates the extrapolation scenarios
(:attr:`~prrt_bayes.core.results.AnalysisResult.extrapolation`). Reported quantities (fixed
vocabulary):

- ``hazard_ratio`` (PH families; ``hazard_ratio_<a>-<b>m`` per period for the non-PH variant,
  plus ``probability_hr_increases``), ``excess_hazard_ratio`` (``auto`` with a
  general-population floor: the ratio of the hazards above the population's), or
  ``time_ratio`` (AFT families: acceleration factor of 177Lu-Dotatate vs control) — group
  ``<treatment>_vs_control`` (``lu177_vs_control`` for the bundled data);
- per arm: ``median_survival_months``, ``survival_probability_<t>m`` and ``rmst_<t>m`` at the
  spec's landmarks, ``mean_survival_months`` (restricted to the spec's horizon);
- ``rmst_difference_<t>m`` and ``mean_survival_difference_months`` for the contrast;
- with borrowing, ``hazard_ratio_without_borrowing`` and the treatment arm's
  ``median_survival_months_without_borrowing`` (the trial alone); for ``auto`` with the series
  or external counts, that median from the same model without them (every member refitted).

On bundled evidence every member of the reconstruction ensemble is fitted and the draws pooled
(:func:`run`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from prrt_bayes.core.diagnostics import Diagnostics, worst_of
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.posterior import (
    QUANTITIES,
    attach_quantities,
    parameter_frame,
    summary_from_tree,
)
from prrt_bayes.core.priors import Prior, attach_priors, describe_priors
from prrt_bayes.core.results import (
    PRIOR_POSTERIOR_COLUMNS,
    RECONSTRUCTION_SPREAD_COLUMNS,
    AnalysisResult,
)
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.core.summary import equal_tailed
from prrt_bayes.core.vocabulary import (
    Kind,
    Quantity,
    contrast,
    rmst_difference,
    survival_probability,
)
from prrt_bayes.core.vocabulary import rmst as rmst_quantity
from prrt_bayes.reconstruct.curves import read_rows
from prrt_bayes.survival import parametric
from prrt_bayes.survival.extrapolation import (
    build_extrapolation,
    by_chain,
    fit_recommended,
    spec_waning,
    tail_evidence,
)
from prrt_bayes.survival.intervals import CONTROL, default_breakpoints, validate_ipd
from prrt_bayes.survival.ph import DEFAULT_PH_PRIORS, fit_ph
from prrt_bayes.survival.quantities import mean_survival, median_survival, rmst, survival_at
from prrt_bayes.survival.spec import RECOMMENDED_FAMILY, SurvivalSpec


def read_ipd_csv(path: Path, *, treatment: str) -> pd.DataFrame:
    """Read a user's IPD CSV (columns ``time, event, arm``), naming file, row and field on error.

    Parameters
    ----------
    path
        CSV file with a header row; extra columns are allowed. ``time`` in months, ``event``
        0/1, ``arm`` the treatment or control (``control``) label.
    treatment
        Label of the treatment arm in ``arm``.

    Returns
    -------
    pandas.DataFrame
        A new frame with only the columns ``time`` (float), ``event`` (int), ``arm`` (str),
        validated by :func:`prrt_bayes.survival.intervals.validate_ipd`.

    Raises
    ------
    InputError
        The file is missing or empty (read with
        :func:`prrt_bayes.reconstruct.curves.read_rows`: comma, semicolon or tab separated), a
        column is missing or repeated, a ``time`` or ``event`` value is not a number, a row has
        more or fewer cells than the header, or the IPD fails validation; ``row`` is the file's
        line number (blank lines are skipped but counted, so a blank first line is allowed).
    """
    rows = read_rows(Path(path), expected="a header row (time, event, arm) and data rows")
    (header_line, header), body = rows[0], rows[1:]
    missing = {"time", "event", "arm"} - set(header)
    if missing:
        raise InputError(f"missing column(s) {sorted(missing)}", file=path, row=header_line)
    repeated = sorted(n for n in ("time", "event", "arm") if header.count(n) > 1)
    if repeated:
        raise InputError(f"column(s) {repeated} appear more than once", file=path,
                         row=header_line)
    for line, row in body:
        if len(row) != len(header):
            raise InputError(f"expected {len(header)} cells (as in the header), found {len(row)}",
                             file=path, row=line)
    columns = {name: [row[header.index(name)] for _, row in body]
               for name in ("time", "event", "arm")}
    frame = pd.DataFrame(columns, dtype=str)
    lines = np.array([line for line, _ in body], dtype=int)
    for column in ("time", "event"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if bad.size:
            raise InputError(f"not a number: {frame[column].iloc[bad[0]]!r}", file=path,
                             row=int(lines[bad[0]]), field=column)
        frame[column] = values
    try:
        return validate_ipd(frame, treatment=treatment, control=CONTROL)
    except InputError as err:
        row = int(lines[err.row]) if isinstance(err.row, int) else err.row
        raise InputError(err.message, file=path, row=row, field=err.field) from None


def load_ipd(spec: SurvivalSpec) -> tuple[list[pd.DataFrame], pd.DataFrame | None]:
    """The IPD a survival spec names: the bundled NETTER-1 reconstruction(s) or a user's CSV.

    Parameters
    ----------
    spec
        Survival spec. With ``evidence.ipd`` set, that CSV is read (treatment arm
        ``evidence.treatment_arm``, see :func:`read_ipd_csv`); otherwise the bundled
        reconstruction(s) of ``evidence.endpoint`` and ``evidence.cut`` that
        ``evidence.reconstruction`` names: every ensemble member (``"ensemble"``), the default
        member (``"default"``) or member ``k``.

    Returns
    -------
    tuple
        One data set per fit (one, or one per ensemble member, the default member first), each
        with columns ``time`` (months), ``event`` (0/1), ``arm``; and for bundled pseudo-IPD
        the assumptions of the members used (rows of
        :func:`prrt_bayes.reconstruct.netter1_ipd.netter1_ensemble`'s table), else ``None``.

    Raises
    ------
    InputError
        The user's CSV is missing or invalid, or member ``k`` does not exist.
    """
    evidence = spec.evidence
    if evidence.ipd is not None:
        return [read_ipd_csv(evidence.ipd, treatment=evidence.treatment_arm)], None
    from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd, netter1_ensemble

    choice = evidence.reconstruction
    if choice == "ensemble":
        ensemble = netter1_ensemble(evidence.endpoint, evidence.cut)
        return list(ensemble.members), ensemble.table
    member = None if choice == "default" else int(choice)
    ipd = load_netter1_ipd(evidence.endpoint, evidence.cut, member=member)
    return [ipd], pd.DataFrame([ipd.attrs["assumptions"]])


def _ph_priors(priors: dict[str, Prior], *, smoothing: bool) -> dict[str, Prior]:
    """The spec's priors over the PH defaults; without smoothing no ``rw_step``."""
    unknown = set(priors) - set(DEFAULT_PH_PRIORS)
    if unknown:
        raise InputError(f"unknown prior(s) {sorted(unknown)} for ph_piecewise; known: "
                         f"{sorted(DEFAULT_PH_PRIORS)}", field="priors")
    chosen = {**DEFAULT_PH_PRIORS, **priors}
    if not smoothing:
        del chosen["rw_step"]
    return chosen


@dataclass
class _Fitted:
    """One fit of the spec's family (or several pooled) and what the analysis reads from it."""

    tree: xr.DataTree
    diagnostics: Diagnostics
    survival: xr.DataArray
    effect: list
    priors: dict[str, Prior]
    flexible: list = field(default_factory=list)
    """The flexible fits behind it (family ``auto``), for the scenarios and hazard plots."""


def _fit(spec: SurvivalSpec, ipd: pd.DataFrame, grid: np.ndarray, settings: SamplerSettings,
         cuts: tuple[list[float] | None, list[float] | None], log_median_prior=None
         ) -> _Fitted:
    """Fit the spec's family (not ``auto``: see :func:`_fit_members`): the fit, survival draws
    (arm, time), effect items and priors.

    ``cuts``: the PH baseline and HR period cut points (``None``: event-time quantiles of
    ``ipd``). ``log_median_prior``: optional ``(weights, means, sds)`` of external information
    on the treatment arm's log median (``ph_piecewise`` only).
    """
    family = spec.model.family
    treatment = spec.evidence.treatment_arm
    group = contrast(treatment, CONTROL)
    if family == "ph_piecewise":
        priors = _ph_priors(spec.prior_objects(), smoothing=spec.model.smoothing)
        fit = fit_ph(ipd, settings=settings, breakpoints=cuts[0], hr_breakpoints=cuts[1],
                     n_intervals=spec.model.intervals, treatment=treatment, priors=priors,
                     time_varying=spec.model.time_varying_hr, check="record",
                     log_median_prior=log_median_prior)
        effect = [(quantity, group, draws) for quantity, draws in fit.effect_draws()]
        if fit.period_cuts is not None:
            change = (fit.tree.posterior["log_hr_change"] > 0).astype(float)
            effect.append((Quantity.PROBABILITY_HR_INCREASES, group, change))
        return _Fitted(fit.tree, fit.diagnostics, fit.survival(grid), effect, fit.priors)
    fit = parametric.fit(family, ipd, settings=settings, treatment=treatment,
                         priors=spec.prior_objects() or None)
    posterior = fit.tree.posterior
    if "log_hr" in posterior:
        effect = [(Quantity.HAZARD_RATIO, group, np.exp(posterior["log_hr"]))]
    else:
        effect = [(Quantity.TIME_RATIO, group, np.exp(posterior["log_time_ratio"]))]
    return _Fitted(fit.tree, fit.diagnostics, fit.survival(grid), effect, fit.priors)


def _shared_cuts(spec: SurvivalSpec, ipds: list[pd.DataFrame]
                 ) -> tuple[list[float] | None, list[float] | None]:
    """PH baseline cut points and (non-PH) HR period cut points every member is fitted with:
    the spec's, else those :func:`~prrt_bayes.survival.ph.fit_ph` would choose for the first
    data set (event-time quantiles). One interval definition, so the members' baseline hazards,
    period HRs and PSA parameters mean the same thing; one model structure, so one compile."""
    if spec.model.family != "ph_piecewise" or len(ipds) == 1:
        return spec.model.breakpoints, None
    time, event = ipds[0]["time"].to_numpy(), ipds[0]["event"].to_numpy()
    breakpoints = spec.model.breakpoints
    if breakpoints is None:
        breakpoints = list(default_breakpoints(time, event, spec.model.intervals))
    periods = list(default_breakpoints(time, event, 2)) if spec.model.time_varying_hr else None
    return breakpoints, periods


def _pool(fits: list[_Fitted]) -> _Fitted:
    """Pool the fits of the ensemble members with equal weights: their chains side by side.

    Each member keeps its own convergence record (labelled ``member k``; the pooled chains are
    not compared with each other, since members differ by design). Members must have the same
    number of chains and draws (one sampler setting), which makes the weights equal.
    """
    if len(fits) == 1:
        return fits[0]
    chains = fits[0].survival.sizes["chain"]
    groups = {}
    for name in ("posterior", "sample_stats"):
        groups[name] = by_chain([f.tree[name].dataset for f in fits])
    tree = xr.DataTree.from_dict(groups)
    tree.posterior.attrs = dict(fits[0].tree.posterior.attrs) | {
        "reconstruction_members": len(fits),
        "reconstruction_pooling": f"members' chains side by side, {chains} chains per member "
                                  "(member k: chains k*{chains} to k*{chains}+{chains - 1}); "
                                  "equal weights",
    }
    effect = [(quantity, group, by_chain([f.effect[i][2] for f in fits]))
              for i, (quantity, group, _) in enumerate(fits[0].effect)]
    return _Fitted(tree, worst_of(*(f.diagnostics.labelled(f"member {k}")
                                     for k, f in enumerate(fits))),
                   by_chain([f.survival for f in fits]), effect, fits[0].priors,
                   [flex for f in fits for flex in f.flexible])


def _fit_members(spec: SurvivalSpec, ipds: list[pd.DataFrame], grid: np.ndarray,
                 settings: SamplerSettings, log_median_prior=None, evidence=None
                 ) -> tuple[_Fitted, list[_Fitted]]:
    """Fit every data set with the same settings and cut points; (pooled fit, member fits).

    ``evidence``: the tail evidence of family ``auto``
    (:func:`prrt_bayes.survival.extrapolation.tail_evidence`)."""
    if spec.model.family == RECOMMENDED_FAMILY:
        members = [_flexible_fitted(spec, f, grid)
                   for f in fit_recommended(spec, ipds, evidence, settings)]
        return _pool(members), members
    cuts = _shared_cuts(spec, ipds)
    members = [_fit(spec, ipd, grid, settings, cuts, log_median_prior) for ipd in ipds]
    return _pool(members), members


def _flexible_fitted(spec: SurvivalSpec, fit, grid: np.ndarray) -> _Fitted:
    """A flexible fit as the analysis reads it (survival with the spec's waning, effects)."""
    group = contrast(spec.evidence.treatment_arm, CONTROL)
    waning = spec_waning(spec, fit.data.follow_up)
    effect = [(quantity, group, draws) for quantity, draws in fit.effect_draws()]
    if fit.data.n_periods > 1:
        change = (fit.posterior["log_hr_change"] > 0).astype(float)
        effect.append((Quantity.PROBABILITY_HR_INCREASES, group, change))
    return _Fitted(fit.tree, fit.diagnostics, fit.survival(grid, waning), effect,
                   fit.model.priors(), [fit])


def _arm_quantities(surv: xr.DataArray, arms: list[str], landmarks: list[float], horizon: float,
                    follow_up: float) -> list:
    items = []
    for arm in arms:
        s = surv.sel(arm=arm, drop=True)
        items.append((Quantity.MEDIAN_SURVIVAL, arm, median_survival(s)))
        for t in landmarks:
            items.append((survival_probability(t), arm, survival_at(s, t)))
            items.append((rmst_quantity(t), arm, rmst(s, t)))
        items.append((Quantity.MEAN_SURVIVAL, arm,
                      mean_survival(s, follow_up=follow_up, horizon=horizon)))
    return items


def _contrast_quantities(surv: xr.DataArray, treatment: str, landmarks: list[float],
                         horizon: float, follow_up: float) -> list:
    group = contrast(treatment, CONTROL)
    lu, control = surv.sel(arm=treatment, drop=True), surv.sel(arm=CONTROL, drop=True)
    items = [(rmst_difference(t), group, rmst(lu, t) - rmst(control, t)) for t in landmarks]
    mean = {arm: mean_survival(s, follow_up=follow_up, horizon=horizon)
            for arm, s in ((treatment, lu), (CONTROL, control))}
    items.append((Quantity.MEAN_SURVIVAL_DIFFERENCE, group, mean[treatment] - mean[CONTROL]))
    return items


def _parameters(tree: xr.DataTree) -> pd.DataFrame:
    """Parameters per draw for PSA: real-line (log scale for positive ones), and the flexible
    model's spline ``weights`` as they are (a point on the simplex)."""
    posterior = tree.posterior.dataset
    names = ("log_baseline_hazard", "log_hazard_scale", "weights", "log_hr",
             "log_time_ratio", "log_rate", "log_shape",
             "log_scale", "meanlog", "log_sdlog", "mu", "log_sigma", "Q", "shape")
    return parameter_frame({name: posterior[name] for name in names if name in posterior})


def run(spec: SurvivalSpec) -> AnalysisResult:
    """Fit one survival spec and derive everything the summary and exports report.

    Every fit (the main one, the one without borrowing, the LOO candidates, the extrapolation
    scenarios) runs with ``spec.sampler_settings()``. On bundled evidence with
    ``evidence.reconstruction = "ensemble"`` the model is fitted to every member of the
    reconstruction ensemble (same settings, same PH cut points or spline basis: one compiled
    model) and the members' draws are pooled with
    equal weights; each member's convergence is gated on its own. The LOO candidates are
    compared on the first (default) member.

    Parameters
    ----------
    spec
        Survival spec: evidence, family, priors, borrowing (only with ``ph_piecewise`` and
        proportional hazards), sampler settings, seed, horizon, cycle length, landmarks and
        PSA pairing; ``model.candidates`` adds a PSIS-LOO table.

    Returns
    -------
    AnalysisResult
        Summary rows (vocabulary in the module docstring), diagnostics, the posterior tree
        (priors and quantities attached), ``survival`` per arm on the cycle grid
        ``0, c, 2c, ...`` up to the horizon (months), PSA ``parameters``, the ``ipd`` (the
        default member's), ``borrowing`` and ``prior_posterior`` (with borrowing), ``loo`` (with
        candidates), ``psa_pair`` (``export.pair_with``) and, pooled over an ensemble,
        ``reconstruction_spread``. Convergence is recorded in ``diagnostics`` (with
        borrowing, the worse of the fits with and without it), not enforced.

    Raises
    ------
    InputError
        Bad evidence (see :func:`load_ipd`; a bad life table, cohort or external-counts file),
        a horizon shorter than the follow-up, waning that starts inside follow-up, an unknown
        prior name, or borrowing with a family other than PH ``ph_piecewise``.
    """
    ipds, members_table = load_ipd(spec)
    export = spec.export
    follow_up = max(float(ipd["time"].max()) for ipd in ipds)
    if export.horizon_months < follow_up:
        raise InputError(
            f"horizon {export.horizon_months:g} months is shorter than the follow-up "
            f"({follow_up:.1f} months)", field="export.horizon_months",
        )
    grid = np.unique(np.concatenate([
        np.arange(0.0, export.horizon_months + export.cycle_months / 2, export.cycle_months),
        export.landmarks_months, [export.horizon_months],
    ]))
    grid = grid[grid <= export.horizon_months]
    settings = spec.sampler_settings()
    borrowing = prior_posterior = loo = None
    auto = spec.model.family == RECOMMENDED_FAMILY
    evidence = tail_evidence(spec) if auto or spec.export.scenarios else None
    if auto:
        spec_waning(spec, follow_up)  # a waning that starts inside follow-up is bad input
    without_external = None
    if spec.borrowing.method == "none":
        main, members = _fit_members(spec, ipds, grid, settings, evidence=evidence)
        priors, supporting = main.priors, []
        if auto and evidence.external is not None:
            without_external = _without_external(spec, ipds, grid, settings, evidence, main,
                                                 members)
            supporting = [without_external.diagnostics.labelled("fit without external evidence")]
    else:
        main, members, alone, borrowing, prior_posterior, priors = _fit_borrowing(
            spec, ipds, grid, settings)
        supporting = [alone.diagnostics.labelled("fit without borrowing")]
    diagnostics = worst_of(main.diagnostics, *supporting)
    if spec.model.candidates:
        loo = _compare_candidates(spec, ipds[0], settings)
    landmarks = [t for t in export.landmarks_months if t <= export.horizon_months]
    treatment = spec.evidence.treatment_arm

    def quantities(fitted: _Fitted) -> list:
        return (fitted.effect
                + _arm_quantities(fitted.survival, [treatment, CONTROL], landmarks,
                                  export.horizon_months, follow_up)
                + _contrast_quantities(fitted.survival, treatment, landmarks,
                                       export.horizon_months, follow_up))

    tree, items = main.tree, quantities(main)
    attach_priors(tree, priors)
    attach_quantities(tree, items, analysis=spec.name, endpoint=spec.evidence.endpoint)
    spread = None
    if len(members) > 1:
        # the pooled rows from the stored draws (float32 precision), as the summary's
        stored = tree[QUANTITIES].dataset["draws"].values
        pooled = [(q, g, stored[i]) for i, (q, g, *_) in enumerate(items)]
        spread = _reconstruction_spread(spec.name, pooled, [quantities(m) for m in members])
    cycle_times = np.arange(0.0, export.horizon_months + export.cycle_months / 2,
                            export.cycle_months)
    curves = main.survival.sel(time=cycle_times)
    breakpoints = tree.posterior.attrs.get("breakpoints")
    extrapolation = build_extrapolation(
        spec, ipds, main.flexible if auto else None, evidence, settings, grid, follow_up,
        breakpoints, without_external.flexible if without_external else None,
    ) if evidence is not None else None
    return AnalysisResult(
        name=spec.name, kind=Kind.SURVIVAL, endpoint=spec.evidence.endpoint,
        summary=summary_from_tree(tree), diagnostics=diagnostics,
        tree=tree, survival={arm: curves.sel(arm=arm, drop=True) for arm in curves.arm.values},
        parameters=_parameters(tree), ipd=ipds[0], priors=describe_priors(priors),
        borrowing=borrowing, loo=loo, prior_posterior=prior_posterior,
        psa_pair=export.pair_with, reconstruction_spread=spread,
        reconstruction_members=members_table, extrapolation=extrapolation,
    )


def _with_and_without(main: _Fitted, alone: _Fitted, members: list[_Fitted],
                      alone_members: list[_Fitted]) -> list[tuple[_Fitted, _Fitted]]:
    """Pairs (fit, the same fit without the external information): the pooled one and, when
    pooled from several members, each member's (a single member *is* the pooled fit)."""
    pairs = [(main, alone)]
    if len(members) > 1:
        pairs += list(zip(members, alone_members, strict=True))
    return pairs


def _without_external(spec: SurvivalSpec, ipds: list[pd.DataFrame], grid: np.ndarray,
                      settings: SamplerSettings, evidence, main: _Fitted,
                      members: list[_Fitted]) -> _Fitted:
    """The recommended model without the series and external counts, on every member.

    Adds the treatment arm's ``median_survival_months_without_borrowing`` to the effects of
    ``main`` and of each member (how far the external evidence moved the answer, pooled over
    the same members), and returns the pooled fit (its convergence gates the analysis; its
    flexible fits are the scenario ``without_external_evidence``).
    """
    treatment = spec.evidence.treatment_arm
    alone, alone_members = _fit_members(spec, ipds, grid, settings,
                                        evidence=evidence.without_external())
    for fitted, without in _with_and_without(main, alone, members, alone_members):
        fitted.effect.append((Quantity.MEDIAN_SURVIVAL_WITHOUT_BORROWING, treatment,
                              median_survival(without.survival.sel(arm=treatment, drop=True))))
    return alone


def _reconstruction_spread(name: str, pooled: list, members: list[list]) -> pd.DataFrame:
    """Median and 95% interval of every quantity per ensemble member and pooled."""
    rows = []
    for label, items in [*((str(k), m) for k, m in enumerate(members)), ("pooled", pooled)]:
        for quantity, group, draws in items:
            rows.append((name, str(quantity), str(group), label, *equal_tailed(draws)))
    return pd.DataFrame(rows, columns=list(RECONSTRUCTION_SPREAD_COLUMNS))


_METHOD_SETTINGS = {"map": (), "robust-map": ("robust_weight",),
                    "power": ("a0", "max_prior_ess_fraction"),
                    "commensurate": ("tau", "tau_hyperprior"), "commensurate-fixed": ("tau",)}
"""The ``[borrowing]`` settings each method uses (shown in its borrowing report)."""


def _fit_borrowing(spec: SurvivalSpec, ipds: list[pd.DataFrame], grid: np.ndarray,
                   settings: SamplerSettings):
    """Fit with and without the series' information on the 177Lu arm's log median.

    Returns the pooled fit with borrowing (the rows ``hazard_ratio_without_borrowing`` and the
    treatment arm's ``median_survival_months_without_borrowing`` added to its effects, so the
    outputs show how far the series moved the answer) and its member fits, the pooled fit
    without it (its convergence gates the analysis too; it gives the trial's own estimate of
    that median for the prior-data conflict check), the borrowing report, the
    prior-vs-posterior frame and the priors.
    """
    from prrt_bayes.borrowing.survival import (
        borrowing_report,
        external_log_median_prior,
        power_cap,
    )

    if spec.model.family != "ph_piecewise" or spec.model.time_varying_hr:
        raise InputError("borrowing for survival analyses needs family 'ph_piecewise' with "
                         "proportional hazards", field="borrowing.method")
    b = spec.borrowing
    treatment = spec.evidence.treatment_arm
    cap = None
    if b.method == "power":  # ESS unit: the 177Lu arm's events (mean over the members)
        events = np.mean([ipd.loc[ipd["arm"] == treatment, "event"].sum() for ipd in ipds])
        cap = power_cap(spec.evidence.endpoint, b.a0, float(events),
                        max_prior_ess_fraction=b.max_prior_ess_fraction)
    prior, included, excluded = external_log_median_prior(
        spec.evidence.endpoint, b.method, robust_weight=b.robust_weight,
        a0=b.a0 if cap is None else cap.a0, tau=b.tau, tau_hyperprior=b.tau_hyperprior)
    alone, alone_members = _fit_members(spec, ipds, grid, settings)
    log_median_alone = np.log(median_survival(alone.survival.sel(arm=treatment, drop=True)))
    main, members = _fit_members(spec, ipds, grid, settings,
                                 log_median_prior=(prior.weights, prior.means, prior.sds))
    for fitted, without in _with_and_without(main, alone, members, alone_members):
        hr_alone = next(draws for quantity, _, draws in without.effect
                        if quantity == Quantity.HAZARD_RATIO)
        fitted.effect += [
            (Quantity.HAZARD_RATIO_WITHOUT_BORROWING, fitted.effect[0][1], hr_alone),
            (Quantity.MEDIAN_SURVIVAL_WITHOUT_BORROWING, treatment,
             median_survival(without.survival.sel(arm=treatment, drop=True)))]
    # the trial's own estimate: posterior median and a quantile-based SE (robust to the draws
    # whose median lies beyond the horizon, which are +inf)
    low, mid, high = np.quantile(log_median_alone.values.ravel(), [0.159, 0.5, 0.841])
    report = borrowing_report(prior, included, excluded, method=b.method,
                              settings={name: getattr(b, name)
                                        for name in _METHOD_SETTINGS[b.method]}
                              | ({} if cap is None else {"power prior ESS cap": cap.describe()}),
                              trial_log_median=float(mid),
                              trial_std_error=float((high - low) / 2))
    months = np.linspace(1.0, 200.0, 400)
    parameter = (f"median {spec.evidence.endpoint.upper()}, 177Lu-Dotatate (months)")
    prior_posterior = pd.concat([
        pd.DataFrame({"parameter": parameter, "distribution": f"{b.method} prior",
                      "x": months, "density": prior.pdf(np.log(months)) / months}),
        pd.DataFrame({"parameter": parameter, "distribution": "posterior",
                      "value": main.tree.posterior["median_treatment"].values.ravel()}),
    ], ignore_index=True).reindex(columns=list(PRIOR_POSTERIOR_COLUMNS))
    priors = {**main.priors, "log_median_treatment": prior}
    return main, members, alone, report, prior_posterior, priors


def _compare_candidates(spec: SurvivalSpec, ipd: pd.DataFrame,
                        settings: SamplerSettings) -> pd.DataFrame:
    """PSIS-LOO table of the spec's candidate parametric families (failures recorded)."""
    from prrt_bayes.survival.comparison import compare_fits

    fits = parametric.fit_all(ipd, spec.model.candidates, settings=settings,
                              treatment=spec.evidence.treatment_arm)
    return compare_fits(fits)
