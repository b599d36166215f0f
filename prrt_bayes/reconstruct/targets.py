"""What a two-arm reconstruction must reproduce: published-style summaries and their tolerances.

:class:`SurvivalTargets` holds the numbers a trial report gives for one endpoint and data cut
(per arm: patients, events, Kaplan-Meier landmarks, median or "not reached", events before a
time; overall: hazard ratio with 95% CI, median follow-up, accrual window).
:func:`published_style_targets` computes such a set from any two-arm IPD (for round-trip tests;
the accrual window is left unknown, and an arm whose reverse Kaplan-Meier never reaches 1/2
publishes no median follow-up), and :func:`check_targets` measures how a pseudo-IPD meets every
target:

- events exact (per arm, or the total when only the total is published); events before a time
  exact;
- Kaplan-Meier landmarks within :data:`LANDMARK_TOL` (1 percentage point), or half the
  smallest Kaplan-Meier step of the arm when that is larger (:func:`landmark_tolerance`: arms
  of fewer than 50 patients);
- medians within :data:`MEDIAN_TOL` months; "not reached" stays not reached;
- Cox hazard ratio (Efron ties) within :data:`HR_TOL` (5%) of the published one and each CI
  limit within :data:`HR_CI_TOL` (10%);
- median follow-up within :data:`FOLLOW_UP_TOL` months, in the member's reading (reverse
  Kaplan-Meier, or median observation time), counting patients with zero follow-up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from prrt_bayes.core.errors import InputError
from prrt_bayes.reconstruct.cox import cox_hazard_ratio_efron

LANDMARK_TOL = 0.01
"""Largest allowed |KM - published| at a landmark (probability scale), for arms of at least 50
patients (:func:`landmark_tolerance`)."""
MEDIAN_TOL = 0.3
"""Largest allowed |KM median - published| (months)."""
HR_TOL = 0.05
"""Largest allowed relative error of the Cox hazard ratio."""
HR_CI_TOL = 0.10
"""Largest allowed relative error of each 95% CI limit of the Cox hazard ratio."""
FOLLOW_UP_TOL = 1.0
"""Largest allowed |median follow-up - published| (months)."""


def landmark_tolerance(n: int) -> float:
    """Largest allowed |KM - published| at a landmark of an arm of ``n`` patients.

    A Kaplan-Meier estimate of ``n`` patients falls by at least ``1/n`` at each event (by
    ``S(t-) / n_at_risk``, and censoring only makes ``S(t-)`` larger than ``n_at_risk / n``), so
    rows can be asked to land no closer than half a step: ``max(LANDMARK_TOL, 0.5 / n)``, which
    is :data:`LANDMARK_TOL` from 50 patients up (NETTER-1: 116 and 113).

    Parameters
    ----------
    n
        Patients in the arm (>= 1).

    Returns
    -------
    float
        The tolerance on the probability scale.
    """
    return max(LANDMARK_TOL, 0.5 / n)


@dataclass(frozen=True)
class ArmTargets:
    """Published summaries of one arm.

    Attributes
    ----------
    n : patients randomised (rows plus patients with zero follow-up).
    events : events, or None when only a total over arms is published.
    landmarks : ``{time: KM survival probability}``.
    median : median time to event, or None.
    median_not_reached : True when the report says the median was not reached.
    events_by : ``{time: events with time <= that time}`` (e.g. deaths within 2 years).
    follow_up_median : this arm's median follow-up, or None (see :class:`SurvivalTargets`).
    """

    n: int
    events: int | None = None
    landmarks: Mapping[float, float] = field(default_factory=dict)
    median: float | None = None
    median_not_reached: bool = False
    events_by: Mapping[float, int] = field(default_factory=dict)
    follow_up_median: float | None = None


@dataclass(frozen=True)
class HazardRatioTarget:
    """A published hazard ratio (treatment vs control) with its 95% CI (limits may be None)."""

    value: float
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class SurvivalTargets:
    """Everything a two-arm reconstruction of one endpoint and cut must reproduce.

    Attributes
    ----------
    endpoint, cut : labels used in messages and tables.
    arms : ``{label: ArmTargets}``, treatment first, control second.
    maximum_follow_up : longest possible follow-up (cut-off minus start of accrual), months.
    minimum_follow_up : cut-off minus end of accrual (negative when accrual continued after the
        cut-off), or None when unknown.
    hazard_ratio : the published hazard ratio, or None.
    total_events : total events when per-arm counts are not published, else None.
    follow_up_median : pooled median follow-up, or None (per-arm values live in ``arms``).
    first_assessment : time of the first scheduled tumour assessment (PFS), or None.
    dropout_rates : dropout hazards (per month) to try besides none when no median follow-up
        is published (e.g. the rates a previous cut's follow-up implies).
    """

    endpoint: str
    cut: str
    arms: Mapping[str, ArmTargets]
    maximum_follow_up: float
    minimum_follow_up: float | None = None
    hazard_ratio: HazardRatioTarget | None = None
    total_events: int | None = None
    follow_up_median: float | None = None
    first_assessment: float | None = None
    dropout_rates: tuple[float, ...] = ()

    @property
    def treatment(self) -> str:
        """Label of the treatment arm (the first of :attr:`arms`).

        Returns
        -------
        str
            The label.
        """
        return next(iter(self.arms))

    @property
    def control(self) -> str:
        """Label of the control arm (the second of :attr:`arms`).

        Returns
        -------
        str
            The label.
        """
        return list(self.arms)[1]

    def describe(self) -> list[str]:
        """The targets as text lines (for CSV headers and error messages).

        Returns
        -------
        list[str]
            One line per target.
        """
        lines = []
        for arm, t in self.arms.items():
            parts = [f"n {t.n}"]
            if t.events is not None:
                parts.append(f"events {t.events}")
            parts += [f"S({k:g}) {v:.4f}" for k, v in sorted(t.landmarks.items())]
            if t.median is not None:
                parts.append(f"median {t.median:g}")
            if t.median_not_reached:
                parts.append("median not reached")
            parts += [f"events by {k:g} = {v}" for k, v in sorted(t.events_by.items())]
            if t.follow_up_median is not None:
                parts.append(f"median follow-up {t.follow_up_median:g}")
            lines.append(f"{arm}: " + ", ".join(parts))
        if self.total_events is not None:
            lines.append(f"total events {self.total_events}")
        if self.hazard_ratio is not None:
            hr = self.hazard_ratio
            ci = f" (95% CI {hr.lower:g}-{hr.upper:g})" if hr.lower is not None else ""
            lines.append(f"Cox hazard ratio {hr.value:g}{ci}")
        if self.follow_up_median is not None:
            lines.append(f"pooled median follow-up {self.follow_up_median:g}")
        window = ("unknown" if self.minimum_follow_up is None
                  else f"{self.minimum_follow_up:.3f}")
        lines.append(f"potential follow-up from {window} to {self.maximum_follow_up:.3f} months")
        return lines


@dataclass(frozen=True)
class TargetCheck:
    """One target against what a pseudo-IPD achieves."""

    name: str
    target: float
    achieved: float
    tolerance: float
    relative: bool = False

    @property
    def met(self) -> bool:
        """True when the achieved value is within the tolerance.

        Returns
        -------
        bool
            ``|achieved - target| <= tolerance`` (relative to the target when ``relative``).
        """
        if math.isinf(self.target) or math.isinf(self.achieved):
            return self.target == self.achieved
        gap = abs(self.achieved - self.target)
        if self.relative:
            gap /= abs(self.target)
        return gap <= self.tolerance + 1e-9


def _km(times: np.ndarray, events: np.ndarray):
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter().fit(times, events)


def follow_up_statistic(times, events, unfollowed: int, reading: str) -> float:
    """Median follow-up of rows in one reading, patients with zero follow-up included.

    Parameters
    ----------
    times, events
        Row times and event flags (array-like).
    unfollowed
        Patients with zero follow-up (not rows), censored at time 0.
    reading
        ``"reverse_km"`` (Kaplan-Meier of the censoring times, events as censored) or
        ``"observation_time"`` (median of the observed times).

    Returns
    -------
    float
        The median in months (inf when the reverse KM stays above 1/2).

    Raises
    ------
    InputError
        An unknown reading.
    """
    times = np.concatenate([np.zeros(unfollowed), np.asarray(times, float)])
    events = np.concatenate([np.zeros(unfollowed, int), np.asarray(events, int)])
    if reading == "reverse_km":
        return float(_km(times, 1 - events).median_survival_time_)
    if reading == "observation_time":
        return float(np.median(times))
    raise InputError(f"unknown follow-up reading {reading!r}", field="reading")


def check_targets(
    ipd: pd.DataFrame,
    targets: SurvivalTargets,
    *,
    unfollowed: Mapping[str, int] | None = None,
    reading: str = "reverse_km",
) -> tuple[TargetCheck, ...]:
    """Every target of ``targets`` against the pseudo-IPD ``ipd``.

    Parameters
    ----------
    ipd
        Rows with columns ``time``, ``event``, ``arm`` (labels of ``targets.arms``).
    targets
        What to reproduce.
    unfollowed
        ``{arm: patients with zero follow-up}`` (not rows), None for none.
    reading
        How the published median follow-up is read: ``"reverse_km"`` or ``"observation_time"``.

    Returns
    -------
    tuple[TargetCheck, ...]
        One check per target, named ``"<arm>:events"``, ``"<arm>:S(20)"``, ``"<arm>:median"``,
        ``"<arm>:events_by_24"``, ``"total_events"``, ``"cox_hr"``, ``"cox_hr_lower"``,
        ``"cox_hr_upper"``, ``"follow_up"`` / ``"<arm>:follow_up"``.
    """
    unfollowed = dict(unfollowed or {})
    checks = []
    for arm, t in targets.arms.items():
        rows = ipd[ipd["arm"] == arm]
        times, events = rows["time"].to_numpy(float), rows["event"].to_numpy(int)
        if t.events is not None:
            checks.append(TargetCheck(f"{arm}:events", t.events, int(events.sum()), 0))
        km = _km(times, events)
        for time, surv in sorted(t.landmarks.items()):
            achieved = float(km.survival_function_at_times(time).iloc[0])
            checks.append(TargetCheck(f"{arm}:S({time:g})", surv, achieved,
                                      landmark_tolerance(t.n)))
        median = float(km.median_survival_time_)
        if t.median is not None:
            checks.append(TargetCheck(f"{arm}:median", t.median, median, MEDIAN_TOL))
        if t.median_not_reached:
            checks.append(TargetCheck(f"{arm}:median", math.inf, median, 0))
        for time, count in sorted(t.events_by.items()):
            achieved = int(((times <= time) & (events == 1)).sum())
            checks.append(TargetCheck(f"{arm}:events_by_{time:g}", count, achieved, 0))
        if t.follow_up_median is not None:
            achieved = follow_up_statistic(times, events, unfollowed.get(arm, 0), reading)
            checks.append(TargetCheck(f"{arm}:follow_up", t.follow_up_median, achieved,
                                      FOLLOW_UP_TOL))
    if targets.total_events is not None:
        checks.append(TargetCheck("total_events", targets.total_events,
                                  int(ipd["event"].sum()), 0))
    if targets.hazard_ratio is not None:
        hr = targets.hazard_ratio
        achieved = cox_hazard_ratio_efron(ipd["time"], ipd["event"],
                                          (ipd["arm"] == targets.treatment).astype(int))
        checks.append(TargetCheck("cox_hr", hr.value, achieved[0], HR_TOL, relative=True))
        if hr.lower is not None:
            checks.append(TargetCheck("cox_hr_lower", hr.lower, achieved[1], HR_CI_TOL, True))
        if hr.upper is not None:
            checks.append(TargetCheck("cox_hr_upper", hr.upper, achieved[2], HR_CI_TOL, True))
    if targets.follow_up_median is not None:
        achieved = follow_up_statistic(ipd["time"], ipd["event"], sum(unfollowed.values()),
                                       reading)
        checks.append(TargetCheck("follow_up", targets.follow_up_median, achieved,
                                  FOLLOW_UP_TOL))
    return tuple(checks)


def published_style_targets(
    ipd: pd.DataFrame,
    *,
    treatment: str,
    control: str,
    landmark: float,
    endpoint: str = "endpoint",
    cut: str = "cut",
) -> SurvivalTargets:
    """The summaries a trial report would publish, computed from two-arm IPD.

    Per arm: N, events, Kaplan-Meier survival at ``landmark``, the median (or "not reached")
    and the reverse-Kaplan-Meier median follow-up; overall: the Cox hazard ratio (Efron ties)
    with its 95% CI. The accrual window is unknown: the maximum follow-up is the largest time.
    An arm whose reverse Kaplan-Meier stays above 1/2 (almost every patient had an event before
    being censored) has no median follow-up to publish: its ``follow_up_median`` is None.

    Parameters
    ----------
    ipd
        Columns ``time`` (> 0), ``event`` (0/1) and ``arm``.
    treatment, control
        Labels of the two arms in ``ipd["arm"]``.
    landmark
        Landmark time (same unit as ``time``), below the largest time of each arm.
    endpoint, cut
        Labels for messages and tables.

    Returns
    -------
    SurvivalTargets
        The targets, treatment arm first.

    Raises
    ------
    InputError
        Missing columns, times that are not positive, events other than 0/1, an arm label
        absent from ``ipd``, or a landmark beyond an arm's data.
    """
    missing = {"time", "event", "arm"} - set(ipd.columns)
    if missing:
        raise InputError(f"IPD lacks columns {sorted(missing)}", field="ipd")
    times = pd.to_numeric(ipd["time"], errors="coerce").to_numpy(float)
    if not (np.isfinite(times) & (times > 0)).all():
        raise InputError("IPD times must be finite and positive", field="time")
    if not ipd["event"].isin([0, 1]).all():
        raise InputError(f"IPD events must be 0 or 1, found {sorted(set(ipd['event']))[:5]}",
                         field="event")
    arms = {}
    for arm in (treatment, control):
        rows = ipd[ipd["arm"] == arm]
        if rows.empty:
            raise InputError(f"no rows with arm {arm!r}", field="arm")
        times, events = rows["time"].to_numpy(float), rows["event"].to_numpy(int)
        if landmark >= times.max():
            raise InputError(f"landmark {landmark:g} is beyond arm {arm!r}'s data",
                             field="landmark")
        km = _km(times, events)
        median = float(km.median_survival_time_)
        follow_up = follow_up_statistic(times, events, 0, "reverse_km")
        arms[arm] = ArmTargets(
            n=len(rows), events=int(events.sum()),
            landmarks={float(landmark): float(km.survival_function_at_times(landmark).iloc[0])},
            median=median if math.isfinite(median) else None,
            median_not_reached=not math.isfinite(median),
            follow_up_median=follow_up if math.isfinite(follow_up) else None,
        )
    hr = cox_hazard_ratio_efron(ipd["time"], ipd["event"], (ipd["arm"] == treatment).astype(int))
    return SurvivalTargets(
        endpoint=endpoint, cut=cut, arms=arms, maximum_follow_up=float(ipd["time"].max()),
        hazard_ratio=HazardRatioTarget(*hr),
    )
