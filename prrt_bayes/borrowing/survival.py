"""External information on the 177Lu-Dotatate arm's median PFS / OS from the single-arm series.

The prior acts on the **log median survival (months) of the 177Lu-Dotatate arm**; the PH model
adds it as a density on the median implied by that arm's piecewise hazards
(:func:`prrt_bayes.survival.ph.build_ph_model`, ``log_median_prior``), so the hazard ratio vs
control is then informed through the 177Lu arm.

Series rules (every exclusion is returned with its reason):

- endpoint: PFS uses ``pfs_median_months`` only (time to progression is a different endpoint:
  TTP cohorts are excluded); OS uses ``os_median_months``;
- cohorts are excluded by their regimen, never their outcome
  (:data:`~prrt_bayes.evidence.series_rules.REGIMEN_FLAGS`: mixed radionuclides,
  chemotherapy, re-treatment, a non-standard activity);
- a median that was not reached is a lower bound, not an estimate: with a reported median
  follow-up ``F`` the cohort is kept as censored information (``censored`` True, ``median`` =
  ``F``: the Kaplan-Meier curve stayed above 1/2 at least that long), its SE that of a median
  estimated at the bound (``1/(log 2 sqrt(d))`` with ``d`` from N and ``F``). The MAP routes
  use it as ``log median > log F`` (:func:`~prrt_bayes.borrowing.meta_regression.
  censored_predictive_draws`); the power and commensurate priors, which pool point
  estimates, and the survivor counts leave it out with that reason
  (:func:`point_estimates_only`). Without a follow-up there is no bound and the cohort is
  excluded;
- one cohort per overlap group (the one with more patients; e.g. Brabander 2017 replaces
  Kwekkeboom 2008 in Rotterdam);
- standard error of the log median: from the reported 95% CI (an interval reported as a
  range is not used); otherwise the Kaplan-Meier median's 1/(log 2 sqrt(events)) with the
  events approximated from N (and the
  median follow-up when reported) under an exponential model
  (:func:`prrt_bayes.borrowing.inputs.log_median_estimate`) — flagged ``approximated``; a
  cohort with neither a 95% CI nor N is excluded.

Methods: ``map`` (meta-analytic-predictive normal mixture, half-normal(0.5) heterogeneity on the
log scale, with the population covariate of the response MAP: pancreatic cohorts get an offset
with prior :data:`POPULATION_COEF_PRIOR`, and NETTER-1's midgut population is predicted at the
GEP level; :func:`population_covariate`), ``robust-map`` (MAP mixed with a unit-information
Normal(MAP mean, 1) component of weight ``robust_weight``), ``power`` (pooled series estimate
with precision scaled by ``a0``; :func:`power_cap` keeps its ESS at most a stated fraction of
the trial arm's events), ``commensurate`` (Hobbs et al.: pooled estimate with a between-source
SD ``tau`` ~ half-Cauchy of scale ``tau``, or the spike-and-slab, fitted jointly with the trial
as a scale mixture; see :mod:`prrt_bayes.borrowing.commensurate`), ``commensurate-fixed``
(``tau`` fixed).
"""

from __future__ import annotations

import math

import pandas as pd

from prrt_bayes.borrowing.commensurate import (
    SpikeSlab,
    commensurate_prior,
    commensurate_prior_fixed,
)
from prrt_bayes.borrowing.conflict import conflict
from prrt_bayes.borrowing.ess import describe_ess
from prrt_bayes.borrowing.inputs import log_median_estimate
from prrt_bayes.borrowing.map_prior import map_prior_estimates
from prrt_bayes.borrowing.power import (
    MAX_PRIOR_ESS_FRACTION,
    VAGUE_NORMAL,
    PowerPriorCap,
    power_prior,
    power_prior_cap,
)
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import HalfCauchy, Normal, NormalMixture
from prrt_bayes.core.results import BorrowingReport
from prrt_bayes.evidence import load_series
from prrt_bayes.evidence.series_rules import POPULATION_LEVELS, regimen_exclusion

QUANTITY = {"pfs": "pfs_median_months", "os": "os_median_months"}


def series_log_medians(endpoint: str, series=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Log medians with standard errors from the series, after the rules of the module docstring.

    Parameters
    ----------
    endpoint
        ``"pfs"`` (``pfs_median_months``) or ``"os"`` (``os_median_months``).
    series
        :class:`~prrt_bayes.evidence.loaders.SeriesEvidence` to use; ``None`` loads the bundled
        ``series.toml``.

    Returns
    -------
    included : pandas.DataFrame
        One row per kept cohort, sorted by study: ``study, population, overlap_group, n,
        median`` (months), ``log_median, std_error`` (log scale), ``se_method, approximated,
        censored`` (True: a median not reached, ``median`` is the follow-up it exceeds).
        Empty (no columns) when no cohort qualifies.
    excluded : pandas.DataFrame
        Columns ``study, reason``: every cohort left out and why.

    Raises
    ------
    InputError
        For an unknown ``endpoint``, or a kept cohort whose median or 95% CI cannot be used
        (e.g. a lower limit of 0 on the log scale), naming the study. A cohort whose median has
        neither a 95% CI nor a number of patients is excluded, with its reason, not an error.
    """
    if endpoint not in QUANTITY:
        raise InputError(f"endpoint must be 'pfs' or 'os', got {endpoint!r}", field="endpoint")
    series = series if series is not None else load_series()
    rows, excluded = [], []
    for study_id, study in series.studies.items():
        records = {r.quantity: r for r in series.records if r.study == study_id and r.primary}
        record = records.get(QUANTITY[endpoint])
        if record is None:
            if endpoint == "pfs" and "ttp_median_months" in records:
                excluded.append((study_id, "reports time to progression, not PFS"))
            else:
                excluded.append((study_id, f"no {QUANTITY[endpoint]} reported"))
            continue
        regimen = regimen_exclusion(study)
        if regimen:
            excluded.append((study_id, regimen))
            continue
        n_record = records.get("n_efficacy")
        n = record.denominator or (n_record.value if n_record else None)
        follow_up = records.get("median_follow_up_months")
        if record.value is None:
            if follow_up is None or n is None:
                excluded.append((study_id, "median not reached and no "
                                 + ("median follow-up" if follow_up is None else "N")
                                 + " reported: no lower bound to enter as censored information"))
                continue
            estimate = log_median_estimate(follow_up.value, n=int(n), follow_up=follow_up.value)
            rows.append({"study": study_id, "population": study.population,
                         "overlap_group": study.overlap_group, "n": n,
                         "median": follow_up.value, "log_median": estimate.estimate,
                         "std_error": estimate.std_error, "se_method": estimate.method,
                         "approximated": True, "censored": True})
            continue
        ci = None
        if (record.interval == "95% CI" and record.lower is not None
                and record.upper is not None):
            ci = (record.lower, record.upper)
        if ci is None and n is None:
            excluded.append((study_id, "no 95% CI and no number of patients for the median"))
            continue
        try:
            estimate = log_median_estimate(
                record.value, ci=ci, n=None if n is None else int(n),
                follow_up=follow_up.value if follow_up else None,
            )
        except InputError as err:
            raise InputError(err.message, row=f"study {study_id}",
                             field=QUANTITY[endpoint]) from None
        rows.append({"study": study_id, "population": study.population,
                     "overlap_group": study.overlap_group, "n": n, "median": record.value,
                     "log_median": estimate.estimate, "std_error": estimate.std_error,
                     "se_method": estimate.method, "approximated": estimate.approximated,
                     "censored": False})
    included = pd.DataFrame(rows)
    if not included.empty:
        keep = included.sort_values("n", ascending=False).drop_duplicates("overlap_group")
        for row in included[~included.study.isin(keep.study)].itertuples():
            larger = keep.loc[keep.overlap_group == row.overlap_group, "study"].iloc[0]
            excluded.append((row.study, f"overlaps with {larger} (overlap group "
                                        f"'{row.overlap_group}'); the larger cohort is kept"))
        included = keep.sort_values("study").reset_index(drop=True)
    return included, pd.DataFrame(excluded, columns=["study", "reason"])


def point_estimates_only(included: pd.DataFrame, excluded: pd.DataFrame,
                         user: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohorts of :func:`series_log_medians` a route that needs a point estimate can use.

    Parameters
    ----------
    included, excluded
        The two tables of :func:`series_log_medians`.
    user
        The route, for the reason (e.g. ``"the power prior"``).

    Returns
    -------
    included, excluded : pandas.DataFrame
        New tables: the censored cohorts (median not reached) moved from ``included`` to
        ``excluded``, with the reason that ``user`` needs a reached median.
    """
    if included.empty or not included["censored"].any():
        return included, excluded
    moved = included[included["censored"]]
    reasons = [(row.study, f"median not reached (> {row.median:g} months, the median "
                           f"follow-up): censored information, used by the MAP routes; {user} "
                           "needs a reached median") for row in moved.itertuples()]
    return (included[~included["censored"]].reset_index(drop=True),
            pd.concat([excluded, pd.DataFrame(reasons, columns=list(excluded.columns))],
                      ignore_index=True))


POPULATION_COEF_PRIOR = Normal(0.0, 1.0)
"""Prior of the population offset of the survival MAP (log median scale): a pancreatic vs GEP
difference within a factor e (2.7) at one SD, as the response MAP's Normal(0, 1) on the logit
scale."""


def population_covariate(included: pd.DataFrame) -> dict:
    """The population covariate of the survival MAP, as for response: NETTER-1 (midgut) is
    predicted at the ``gep`` level of :data:`~prrt_bayes.evidence.series_rules.POPULATION_LEVELS`
    and pancreatic cohorts get an offset.

    Parameters
    ----------
    included
        The cohorts of :func:`series_log_medians` (column ``population``).

    Returns
    -------
    dict
        ``covariates``, ``new_covariates`` and ``coef_prior`` for
        :func:`~prrt_bayes.borrowing.map_prior.map_prior_estimates`, or an empty dict when
        every cohort is at the target level (exchangeable, no covariate).
    """
    pancreatic = (included["population"].map(POPULATION_LEVELS) == "pancreatic").to_numpy()
    if not pancreatic.any():
        return {}
    return {"covariates": pancreatic[:, None].astype(float), "new_covariates": [0.0],
            "coef_prior": POPULATION_COEF_PRIOR}


def external_log_median_prior(
    endpoint: str,
    method: str,
    *,
    robust_weight: float = 0.2,
    a0: float = 0.5,
    tau: float = 0.5,
    tau_hyperprior: str = "halfcauchy",
    series=None,
) -> tuple[NormalMixture, pd.DataFrame, pd.DataFrame]:
    """The borrowing prior on the 177Lu arm's log median (months) and the cohorts behind it.

    Parameters
    ----------
    endpoint
        ``"pfs"`` or ``"os"``.
    method
        ``"map"``, ``"robust-map"``, ``"power"``, ``"commensurate"`` or
        ``"commensurate-fixed"`` (see module docstring).
    robust_weight
        Weight of the unit-information ``Normal(MAP mean, 1)`` component (``robust-map`` only).
    a0
        Power-prior discount in [0, 1] (``power`` only; cap it first with :func:`power_cap`).
    tau
        Between-source SD on the log scale, > 0: the half-Cauchy scale of ``commensurate``, the
        fixed value of ``commensurate-fixed``.
    tau_hyperprior
        ``"halfcauchy"`` (scale ``tau``) or ``"spike-slab"``
        (:class:`~prrt_bayes.borrowing.commensurate.SpikeSlab`) for ``commensurate``.
    series
        :class:`~prrt_bayes.evidence.loaders.SeriesEvidence` to use; ``None`` loads the bundled
        ``series.toml``.

    Returns
    -------
    prior : NormalMixture
        Prior on the log median survival (months) of the 177Lu-Dotatate arm.
    included, excluded : pandas.DataFrame
        The cohorts used and those left out, as returned by :func:`series_log_medians`.

    Raises
    ------
    InputError
        For an unknown ``endpoint`` or ``method``, fewer than 2 cohorts left after the rules, or
        an invalid ``robust_weight``, ``a0`` or ``tau``.
    """
    included, excluded = series_log_medians(endpoint, series)
    if method not in ("map", "robust-map"):
        included, excluded = point_estimates_only(included, excluded, f"the {method} prior")
    n_reached = int((~included["censored"]).sum()) if not included.empty else 0
    if n_reached < 2:
        raise InputError(f"{endpoint}: {n_reached} series cohort(s) with a reached median left "
                         "after the rules; borrowing needs at least 2", field="borrowing")
    y, s = included["log_median"].to_numpy(), included["std_error"].to_numpy()
    if method in ("map", "robust-map"):
        prior = map_prior_estimates(
            y, s, **population_covariate(included), censored=included["censored"].to_numpy(),
            robust_weight=robust_weight if method == "robust-map" else None, robust_sd=1.0)
    elif method == "power":
        prior = power_prior(VAGUE_NORMAL, y, s, a0)
    elif method == "commensurate":
        hyperprior = SpikeSlab() if tau_hyperprior == "spike-slab" else HalfCauchy(tau)
        prior = commensurate_prior(VAGUE_NORMAL, y, s, tau_prior=hyperprior)
    elif method == "commensurate-fixed":
        prior = commensurate_prior_fixed(VAGUE_NORMAL, y, s, tau)
    else:
        raise InputError(f"unknown borrowing method {method!r}", field="borrowing.method")
    return prior, included, excluded


def power_cap(endpoint: str, a0: float, trial_events: float, *,
              max_prior_ess_fraction: float = MAX_PRIOR_ESS_FRACTION,
              series=None) -> PowerPriorCap:
    """The power prior's ``a0`` capped so that it borrows at most a fraction of the trial arm.

    Parameters
    ----------
    endpoint
        ``"pfs"`` or ``"os"``.
    a0
        Requested discount in [0, 1].
    trial_events
        Events in the trial's 177Lu-Dotatate arm (the ESS unit of a log median).
    max_prior_ess_fraction
        Largest borrowed ESS as a fraction of ``trial_events``.
    series
        :class:`~prrt_bayes.evidence.loaders.SeriesEvidence` to use; ``None`` loads the bundled
        ``series.toml``.

    Returns
    -------
    PowerPriorCap
        The ``a0`` to use and the ESS before and after the cap
        (:func:`~prrt_bayes.borrowing.power.power_prior_cap`).
    """
    included, _ = point_estimates_only(*series_log_medians(endpoint, series), "the power prior")
    return power_prior_cap(VAGUE_NORMAL, included["log_median"].to_numpy(),
                           included["std_error"].to_numpy(), a0=a0, trial_size=trial_events,
                           max_prior_ess_fraction=max_prior_ess_fraction)


PRIOR_SCALE = "log median survival (months) of the 177Lu-Dotatate arm"
"""The scale the survival borrowing prior acts on."""


def borrowing_report(
    prior: NormalMixture,
    included: pd.DataFrame,
    excluded: pd.DataFrame,
    *,
    method: str,
    settings: dict[str, float | str],
    trial_log_median: float,
    trial_std_error: float,
) -> BorrowingReport:
    """What was borrowed and how well it agrees with the trial (for the report and the CLI).

    Parameters
    ----------
    prior
        The borrowing prior on the 177Lu arm's log median (months).
    included, excluded
        The cohort tables of :func:`series_log_medians`.
    method
        The borrowing method (``map``, ``robust-map``, ``power``, ``commensurate``).
    settings
        The method's settings, ``{name: value}`` (e.g. ``{"robust_weight": 0.2}``), one line
        each, in the given order.
    trial_log_median, trial_std_error
        The trial's own estimate of the 177Lu arm's log median (months) without borrowing and
        its standard error, for the prior-data conflict check.

    Returns
    -------
    prrt_bayes.core.results.BorrowingReport
        ``method``; ``conflict_p_box`` (Box p-value of
        :func:`~prrt_bayes.borrowing.conflict.conflict`); ``lines``: the prior's scale and
        mixture, its median and 95% interval (months), its ESS in events (moment and ELIR,
        reference SD 1 on the log scale), the settings, the trial's median without borrowing
        and the conflict p-value, one ``("cohort used", ...)`` line per cohort and one
        ``("cohort excluded", ...)`` line per excluded cohort with its reason.
    """
    check = conflict(prior, trial_log_median, trial_std_error)
    low, median, high = (math.exp(float(prior.ppf(q))) for q in (0.025, 0.5, 0.975))
    prior_ess = describe_ess(prior, "events")
    lines = [
        ("prior scale", PRIOR_SCALE),
        ("prior", prior.describe() if len(prior.weights) <= 4
         else f"{len(prior.weights)}-component normal mixture (mean {prior.mean():.3g})"),
        ("prior median", f"{median:.3g} months (95% interval {low:.3g} to {high:.3g})"),
        ("prior ESS", prior_ess),
        *((name, value if isinstance(value, str) else f"{value:g}")
          for name, value in settings.items()),
        ("trial median without borrowing", f"{math.exp(trial_log_median):.3g} months"),
        ("prior-data conflict", f"Box p = {check.p_box:.3g}, tail p = {check.p_tail:.3g}"),
        *(("cohort used", f"{r.study}: {_median_words(r)}, SE(log) {r.std_error:.3f} "
                          f"({r.se_method})") for r in included.itertuples()),
        *(("cohort excluded", f"{r.study}: {r.reason}") for r in excluded.itertuples()),
    ]
    return BorrowingReport(method=method, conflict_p_box=float(check.p_box), lines=tuple(lines),
                           sources=tuple(f"{r.study} ({_median_words(r)})"
                                         for r in included.itertuples()),
                           prior_ess=prior_ess)


def _median_words(cohort) -> str:
    """``median 29 months``, or for a censored cohort ``median > 24.5 months (not reached)``."""
    if getattr(cohort, "censored", False):
        return f"median > {cohort.median:g} months (not reached)"
    return f"median {cohort.median:g} months"
