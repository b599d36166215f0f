"""Reconstruction ensembles: every pseudo-IPD the published summaries allow, not just one.

Published summaries (events, a landmark, a median, follow-up, a hazard ratio) leave choices open.
:func:`build_ensemble` enumerates them, builds one deterministic two-arm pseudo-IPD per
combination (:mod:`prrt_bayes.reconstruct.arm_builder`), checks every target
(:func:`prrt_bayes.reconstruct.targets.check_targets`) and keeps only the members that meet all of
them. The enumerated assumptions (columns of :meth:`Ensemble.table`):

``hazard_shape``
    Between published points: ``piecewise_constant``; ``log_linear_rising`` /
    ``log_linear_falling`` (log-hazard linear in time inside each interval, slope
    :data:`SHAPE_SLOPE` per month up or down). Arms without published points have no interval,
    so only ``piecewise_constant`` is tried for them.
``tail_rule``
    After the last published point (the whole curve when there is none), the hazard is
    ``constant``, ``halving_24m``, ``doubling_24m``, ``halving_12m`` or ``doubling_12m``
    (log-linear, halving or doubling every 24 or 12 time units); its level is calibrated to the
    events. When the events do not pin it (an arm in which the rows can hold no more events,
    e.g. every patient has one: every level above a threshold gives the same count) and the
    Cox HR misses under every other solve below, the level is solved to the published HR
    between that threshold and the default level (label ``<tail>; unpinned level solved to
    the HR (u=...)``): the count carries no information on it, the HR does.
``split``
    Per-arm events: ``published``, or when only the total is published every split
    ``treatment/control`` tried (:data:`SPLIT_SPAN` either side of an even share of the total
    expected events) and kept only if its pseudo-IPD meets the hazard-ratio target.
``follow_up_reading``
    ``<definition>; late entrants <reading>``: the published median follow-up as
    ``reverse_km`` (Kaplan-Meier of the censoring times) or ``observation_time`` (median of the
    observed times); patients randomised after the cut-off (when accrual ran past it) as
    ``zero_follow_up`` (counted in the published n, censored at 0) or ``excluded`` (not in n).
    ``administrative`` when no median follow-up is published (uniform accrual, no dropout).
    When the accrual window is unknown (only the maximum follow-up ``M`` is given), it is
    inferred: uniform accrual ending at shortest follow-up ``a`` plus exponential dropout can
    only reproduce a median follow-up ``m`` when ``a >= 2 m - M``, so ``a`` runs from
    ``a_0 = max(0, 2 m - M)`` (largest over the published medians; no dropout needed when
    ``a_0 > 0``) to ``M`` (no staggered entry: censoring by dropout, then at ``M``). The
    readings ``late entrants none; accrual inferred q=...`` take ``a = a_0 + q (M - a_0)``
    for each ``q`` in :data:`ACCRUAL_FRACTIONS`; the window is common to both arms and each
    arm's dropout is solved to its own median follow-up (or the pooled one). An arm without a
    published median follow-up has the window alone (no dropout). When the Cox hazard ratio
    misses under the fixed ``q`` values, ``q`` is solved to the hazard ratio (label
    ``q=0.xxxx (solved to the HR)``): the window is unknown and the HR is information about it.
    Windows known from the targets (as for NETTER-1) are never inferred.
``censoring_by_arm``
    ``common``, or ``differential(w=...)`` when the common censoring misses the hazard ratio and
    the follow-up target is pooled: dropout ``delta (1 - w)`` in the treatment arm and
    ``delta (1 + w)`` in the control arm, ``w`` solved to the published hazard ratio and
    ``delta`` to the pooled median follow-up.
``pfs_early_rule``
    With a first scheduled tumour assessment: ``extra_dropout`` (an arm with fewer events than a
    zero tail allows gets extra dropout) or ``low_hazard_before_first_scan`` (hazard before the
    first assessment a tenth of the first interval's average, no extra dropout); else ``none``.

Every root finder of the censoring calibration is guarded: a non-finite figure (a median
follow-up that was "not reached", a NaN) or an arm without events makes that combination
infeasible with a message naming it, never a NaN handed to a solver; when no combination is
left, :func:`build_ensemble` raises an InputError naming the targets in conflict.

Every member is deterministic (no random numbers). When more members meet the targets than
``max_members``, the kept ones are spread evenly over the ordered RMST difference at the end of
follow-up (the quantity the summaries pin down least), so the ensemble keeps its extremes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from prrt_bayes.core.errors import InputError
from prrt_bayes.reconstruct.arm_builder import ArmShape, BuiltArm, Infeasible, build_arm
from prrt_bayes.reconstruct.cox import cox_hazard_ratio_efron
from prrt_bayes.reconstruct.from_summaries import (
    CensoringModel,
    FollowUpSummary,
    calibrate_censoring,
)
from prrt_bayes.reconstruct.hazard_shapes import TAIL_SLOPES
from prrt_bayes.reconstruct.targets import SurvivalTargets, TargetCheck, check_targets

SHAPE_SLOPE = math.log(2) / 12
"""Log-hazard slope of the log-linear shapes: the hazard doubles (or halves) over 12 months."""
SHAPES = {"piecewise_constant": 0.0, "log_linear_rising": SHAPE_SLOPE,
          "log_linear_falling": -SHAPE_SLOPE}
TAILS = ("constant", "halving_24m", "doubling_24m", "halving_12m", "doubling_12m")
EARLY_FACTOR = 0.1
"""Hazard before the first assessment, as a fraction of the first interval's average."""
SPLIT_SPAN = 8
"""Splits tried either side of the even share of a published total."""
ACCRUAL_FRACTIONS = (0.0, 0.5, 1.0)
"""Unknown accrual window: where the shortest follow-up lies between its lowest value
``max(0, 2 m - M)`` (0) and the maximum follow-up ``M`` (1); module doc."""
ACCRUAL_SCAN = (0.0, 0.125, 0.25, 0.5, 0.75, 1.0)
"""Values of ``q`` scanned when an inferred accrual window is solved to the hazard ratio."""
UNPINNED_SCAN = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
"""Positions of an unpinned tail level scanned before it is solved to the HR (0: the lowest
level that gives the events; 1: the default level; see ``tail_rule``)."""
INFERRED = "none; accrual inferred q="
"""Prefix of the late-entrant reading of an inferred accrual window (followed by ``q``)."""
DEFAULT_CELLS = 1000
"""Equal cells of the calculation grid up to the maximum follow-up."""
TIME_DECIMALS = 4


@dataclass(frozen=True)
class Assumptions:
    """What one member assumes where the summaries are silent (module doc for the values)."""

    hazard_shape: str
    tail_rule: str
    split: str
    follow_up_reading: str
    censoring_by_arm: str
    pfs_early_rule: str

    def as_dict(self) -> dict[str, str]:
        """The assumptions as a plain dict (column name -> value).

        Returns
        -------
        dict[str, str]
            Field name to value, in field order.
        """
        return dict(self.__dict__)


@dataclass(frozen=True)
class Member:
    """One pseudo-IPD of an ensemble, what it assumes and how it meets the targets.

    Attributes
    ----------
    ipd : rows ``time, event, arm`` (patients with zero follow-up are not rows).
    assumptions : the member's :class:`Assumptions`.
    checks : every target against the rows (all met).
    unfollowed : ``{arm: patients with zero follow-up}``.
    arms : ``{arm: BuiltArm}`` with the generating hazards and censoring.
    tail : ``{"hr_after_last_point": ..., "rmst_difference_end": ..., "end": ...,
        "last_point": ...}``: where members differ (module doc).
    """

    ipd: pd.DataFrame
    assumptions: Assumptions
    checks: tuple[TargetCheck, ...]
    unfollowed: dict[str, int]
    arms: dict[str, BuiltArm] = field(repr=False)
    tail: dict[str, float] = field(default_factory=dict)

    def achieved(self) -> dict[str, float]:
        """Achieved value of every target, by check name.

        Returns
        -------
        dict[str, float]
            Check name to achieved value.
        """
        return {c.name: c.achieved for c in self.checks}


@dataclass(frozen=True)
class Ensemble:
    """The members that meet every target, and how many combinations were tried.

    ``met`` counts the combinations that met every target, including those whose rows equal an
    earlier member's (kept once); ``members`` are distinct.
    """

    targets: SurvivalTargets
    members: tuple[Member, ...]
    tried: int
    met: int
    rejected: pd.DataFrame = field(repr=False)

    def table(self) -> pd.DataFrame:
        """One row per member: its assumptions, tail quantities and achieved target values.

        Returns
        -------
        pandas.DataFrame
            Columns ``member``, the :class:`Assumptions` fields, ``hr_after_last_point``,
            ``rmst_difference_end``, then one column per target check (``cox_hr``, ...).
        """
        rows = []
        for k, member in enumerate(self.members):
            rows.append({"member": k, **member.assumptions.as_dict(),
                         "hr_after_last_point": member.tail["hr_after_last_point"],
                         "rmst_difference_end": member.tail["rmst_difference_end"],
                         **member.achieved()})
        return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ censoring
def _published_follow_ups(targets: SurvivalTargets) -> list[float]:
    """The finite median follow-up figures of ``targets`` (pooled and per arm)."""
    values = [targets.follow_up_median, *(a.follow_up_median for a in targets.arms.values())]
    return [v for v in values if v is not None and math.isfinite(v)]


def _inferred_minimum(targets: SurvivalTargets, fraction: float) -> float:
    """Shortest follow-up of an inferred accrual window (module doc, ``follow_up_reading``)."""
    maximum = targets.maximum_follow_up
    lowest = max([0.0, *(2 * m - maximum for m in _published_follow_ups(targets))])
    lowest = min(lowest, maximum)
    return lowest + fraction * (maximum - lowest)


def _window(targets: SurvivalTargets, late: str) -> tuple[float | None, float]:
    minimum = targets.minimum_follow_up
    if minimum is not None and late == "excluded":
        minimum = max(minimum, 0.0)
    if minimum is None and late.startswith(INFERRED):
        minimum = _inferred_minimum(targets, float(late.removeprefix(INFERRED).split(" ")[0]))
    return minimum, targets.maximum_follow_up


def _readings(targets: SurvivalTargets) -> list[str]:
    has_median = targets.follow_up_median is not None or any(
        a.follow_up_median is not None for a in targets.arms.values())
    lates = (["zero_follow_up", "excluded"] if (targets.minimum_follow_up or 0) < 0
             else ["none"])
    if targets.minimum_follow_up is None:
        minima, lates = set(), []
        for q in ACCRUAL_FRACTIONS:  # one reading per distinct window
            key = round(_inferred_minimum(targets, q), 9)
            if key not in minima:
                minima.add(key)
                lates.append(f"{INFERRED}{q:g}")
    if not has_median:
        if targets.minimum_follow_up is not None:
            lates = ["none"]
        return [f"administrative; late entrants {late}" for late in lates] + [
            f"administrative + dropout {rate:.6f}/month; late entrants {late}"
            for rate in targets.dropout_rates for late in lates]
    definitions = ["reverse_km", "observation_time"]
    return [f"{d}; late entrants {late}" for d in definitions for late in lates]


def _reading_parts(reading: str) -> tuple[str, str]:
    definition, late = reading.split("; late entrants ")
    return definition, late


def _require_finite(what: str, *values) -> None:
    """Raise :class:`Infeasible` naming ``what`` unless every value is a finite number.

    Guards every root finder of the censoring calibration: a NaN or infinite input (e.g. a
    median follow-up that was "not reached") is reported as a target that cannot be met, never
    passed to a solver.
    """
    for value in values:
        if value is None or not math.isfinite(float(value)):
            raise Infeasible(f"{what} is not a finite number; the censoring cannot be solved")


def _pooled_dropout(targets: SurvivalTargets, minimum, maximum, median, weights: dict,
                    survival_at_median: dict | None) -> float:
    """Common dropout ``delta`` so the pooled follow-up statistic equals ``median``.

    ``weights`` are the arm dropout multipliers; ``survival_at_median`` (observation-time
    reading) the arms' event-free probability at the median, else None (reverse KM).
    """
    _require_finite(f"median follow-up {median}", median)
    if survival_at_median is not None:
        for arm, s in survival_at_median.items():
            _require_finite(f"{arm}: event-free probability at the median follow-up", s)
    admin = CensoringModel(minimum, maximum, 0.0)
    n = {arm: t.n for arm, t in targets.arms.items()}
    total = sum(n.values())
    at = float(admin.admin_survival(median))

    def pooled(delta: float) -> float:
        value = 0.0
        for arm, w in weights.items():
            s = 1.0 if survival_at_median is None else survival_at_median[arm]
            value += n[arm] * s * at * math.exp(-delta * w * median)
        return value / total - 0.5

    if pooled(0.0) < 0:
        raise Infeasible(f"median follow-up {median:g} is longer than the window allows")
    if pooled(10.0) > 0:
        return 10.0
    return float(brentq(pooled, 0.0, 10.0, xtol=1e-12))


def _censoring(targets: SurvivalTargets, reading: str, w: float,
               survival_at: dict | None) -> dict[str, CensoringModel]:
    """Per-arm censoring models for a reading and differential weight ``w``."""
    definition, late = _reading_parts(reading)
    minimum, maximum = _window(targets, late)
    arms = targets.arms
    if definition.startswith("administrative"):
        low = 0.0 if minimum is None else minimum
        rate = float(definition.split("dropout ")[1].split("/")[0]) if "dropout" in \
            definition else 0.0
        return {arm: CensoringModel(low, maximum, rate) for arm in arms}
    if targets.follow_up_median is None:  # per-arm medians
        out = {}
        for arm, t in arms.items():
            if t.follow_up_median is None:  # this arm publishes none: administrative only
                out[arm] = CensoringModel(0.0 if minimum is None else minimum, maximum, 0.0)
            elif definition == "observation_time":
                s = 1.0 if survival_at is None else survival_at[arm]
                fake = SurvivalTargets(targets.endpoint, targets.cut, {arm: t}, maximum, minimum)
                low = 0.0 if minimum is None else minimum
                delta = _pooled_dropout(fake, low, maximum, t.follow_up_median, {arm: 1.0},
                                        None if survival_at is None else {arm: s})
                out[arm] = CensoringModel(low, maximum, delta)
            else:
                try:
                    out[arm] = calibrate_censoring(FollowUpSummary(
                        maximum=maximum, minimum=minimum, median=t.follow_up_median))
                except InputError as err:
                    raise Infeasible(err.message) from None
        return out
    low = 0.0 if minimum is None else minimum
    weights = {targets.treatment: 1.0 - w, targets.control: 1.0 + w}
    surv = None if definition == "reverse_km" else survival_at
    if definition == "observation_time" and surv is None:
        surv = {arm: 1.0 for arm in arms}
    delta = _pooled_dropout(targets, low, maximum, targets.follow_up_median, weights, surv)
    return {arm: CensoringModel(low, maximum, delta * weights[arm]) for arm in arms}


# ------------------------------------------------------------------------------ one member
def _stack(arms: dict[str, BuiltArm]) -> pd.DataFrame:
    frames = [pd.DataFrame({"time": np.round(a.times, TIME_DECIMALS), "event": a.events,
                            "arm": arm}) for arm, a in arms.items()]
    return pd.concat(frames, ignore_index=True)


def _shape_for(targets: SurvivalTargets, arm: str, slope: float, tail: str,
               early_rule: str, unpinned_level: float | None = None) -> ArmShape:
    t = targets.arms[arm]
    tail_slope = TAIL_SLOPES[tail.split(";")[0]]  # the rule, without a solved level's label
    tail_slope = slope if tail_slope == "slope" else (tail_slope or 0.0)
    early = None
    has_points = bool(t.landmarks or t.median or t.events_by)
    if early_rule == "low_hazard_before_first_scan" and has_points:
        early = (targets.first_assessment, EARLY_FACTOR)
    return ArmShape(slope=slope, tail_slope=tail_slope, early=early,
                    allow_dropout=early_rule == "extra_dropout", unpinned_level=unpinned_level)


@dataclass(frozen=True)
class _Plan:
    """One combination being built: assumptions plus the continuous values solved for it."""

    assumptions: Assumptions
    events: dict[str, int]
    slope: float
    w: float = 0.0
    u: float | None = None


def _build_once(targets, plan: _Plan, censoring, cells) -> dict[str, BuiltArm]:
    built = {}
    a = plan.assumptions
    for arm in targets.arms:
        shape = _shape_for(targets, arm, plan.slope, a.tail_rule, a.pfs_early_rule, plan.u)
        built[arm] = build_arm(targets.arms[arm], plan.events[arm], shape, censoring[arm], cells,
                               targets.first_assessment)
    return built


def _build_member(targets: SurvivalTargets, plan: _Plan, cells: int) -> dict[str, BuiltArm]:
    """Arms for one member; the observation-time reading iterates censoring and hazards."""
    reading = plan.assumptions.follow_up_reading
    definition, _ = _reading_parts(reading)
    censoring = _censoring(targets, reading, plan.w, None)
    built = _build_once(targets, plan, censoring, cells)
    if definition == "observation_time":
        median = targets.follow_up_median
        for _ in range(3):
            survival_at = {}
            for arm, b in built.items():
                m = median if median is not None else targets.arms[arm].follow_up_median
                survival_at[arm] = float(b.hazard.survival(np.asarray(m)))
            censoring = _censoring(targets, reading, plan.w, survival_at)
            built = _build_once(targets, plan, censoring, cells)
    return built


def _events_in_both_arms(events: dict[str, int]) -> None:
    """Raise :class:`Infeasible` when an arm has no events (its Cox HR is 0 or infinite)."""
    for arm, count in events.items():
        if count == 0:
            raise Infeasible(f"arm {arm!r} has no events: the Cox hazard ratio is undefined")


def _hr(built: dict[str, BuiltArm], treatment: str) -> float:
    _events_in_both_arms({arm: int(b.events.sum()) for arm, b in built.items()})
    times = np.concatenate([b.times for b in built.values()])
    events = np.concatenate([b.events for b in built.values()])
    treated = np.concatenate([np.full(len(b.times), arm == treatment, dtype=int)
                              for arm, b in built.items()])
    return cox_hazard_ratio_efron(times, events, treated)[0]


def _solve_hr(targets: SurvivalTargets, make_plan, values: Sequence[float], cells: int):
    """``(value, plan, arms)`` whose Cox HR is closest to the published one, or None.

    ``make_plan(value)`` gives the plan for one value of the continuous parameter; the values
    are scanned, then the first bracket of the target is bisected (12 steps).
    """
    goal = math.log(targets.hazard_ratio.value)

    def gap(value: float):
        plan = make_plan(value)
        try:
            built = _build_member(targets, plan, cells)
        except Infeasible:
            return None
        return math.log(_hr(built, targets.treatment)) - goal, plan, built

    scanned = [(v, gap(v)) for v in values]
    scanned = [(v, g) for v, g in scanned if g is not None]
    if not scanned:
        return None
    best = min(scanned, key=lambda vg: abs(vg[1][0]))
    for (v0, g0), (v1, g1) in zip(scanned, scanned[1:], strict=False):
        if g0[0] * g1[0] <= 0:
            lo, hi, sign_lo = v0, v1, g0[0] > 0
            for _ in range(12):
                mid = (lo + hi) / 2
                g = gap(mid)
                if g is None:
                    break
                if abs(g[0]) < abs(best[1][0]):
                    best = (mid, g)
                if abs(g[0]) < 0.004:
                    break
                if (g[0] > 0) == sign_lo:
                    lo = mid
                else:
                    hi = mid
            break
    return best[0], best[1][1], best[1][2]


def _tail_quantities(targets: SurvivalTargets, built: dict[str, BuiltArm],
                     ipd: pd.DataFrame) -> dict[str, float]:
    """HR of the generating hazards after the last published point, RMST difference at end."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    last = max(b.hazard.last_time() for b in built.values())
    end = min(float(ipd.loc[ipd["arm"] == arm, "time"].max()) for arm in built)
    gains = {arm: float(b.hazard.cumulative_hazard(np.asarray(end))
                        - b.hazard.cumulative_hazard(np.asarray(last)))
             for arm, b in built.items()}
    rmst = {}
    for arm in built:
        rows = ipd[ipd["arm"] == arm]
        km = KaplanMeierFitter().fit(rows["time"], rows["event"])
        rmst[arm] = float(restricted_mean_survival_time(km, end))
    return {
        "last_point": last, "end": end,
        "hr_after_last_point": gains[targets.treatment] / gains[targets.control],
        "rmst_difference_end": rmst[targets.treatment] - rmst[targets.control],
    }


# ------------------------------------------------------------------------------ enumeration
def _splits(targets: SurvivalTargets) -> list[dict[str, int]]:
    if targets.total_events is None:
        return [{arm: t.events for arm, t in targets.arms.items()}]
    total = targets.total_events
    even = total * targets.arms[targets.treatment].n / sum(t.n for t in targets.arms.values())
    centre = round(even)
    out = []
    for k in range(centre - SPLIT_SPAN, centre + SPLIT_SPAN + 1):
        split = {targets.treatment: k, targets.control: total - k}
        if all(0 <= v <= targets.arms[a].n for a, v in split.items()):
            out.append(split)
    return out


def _combinations(targets: SurvivalTargets, shapes: Sequence[str], tails: Sequence[str]):
    any_points = any(a.landmarks or a.median or a.events_by for a in targets.arms.values())
    shape_list = list(shapes) if any_points else ["piecewise_constant"]
    early = (["extra_dropout", "low_hazard_before_first_scan"]
             if targets.first_assessment is not None else ["none"])
    return itertools.product(shape_list, tails, _splits(targets), _readings(targets), early)


def _label_shape(shape: str, slope: float, solved: bool) -> str:
    if shape == "piecewise_constant":
        return shape
    return f"{shape}(slope={slope:+.4f}/month{', solved to the HR' if solved else ''})"


def _evaluate(targets, plan: _Plan, built, ipd, stat):
    """Target checks; for PFS arms with extra dropout the follow-up is the study follow-up."""
    unfollowed = {arm: b.unfollowed for arm, b in built.items()}
    if targets.hazard_ratio is not None:
        _events_in_both_arms({arm: int(b.events.sum()) for arm, b in built.items()})
    checks = check_targets(ipd, targets, unfollowed=unfollowed, reading=stat)
    extra = plan.assumptions.pfs_early_rule == "extra_dropout"
    if not extra or targets.follow_up_median is None:
        return checks, {}
    base = _censoring(targets, plan.assumptions.follow_up_reading, plan.w, None)
    if all(built[arm].censoring.dropout_rate <= base[arm].dropout_rate + 1e-12 for arm in built):
        return checks, {}
    study = _mixture_median(targets, base, unfollowed)
    rows = next(c.achieved for c in checks if c.name == "follow_up")
    replaced = tuple(
        TargetCheck("follow_up", c.target, study, c.tolerance) if c.name == "follow_up" else c
        for c in checks)
    return replaced, {"follow_up_pfs_rows": rows}


def _mixture_median(targets, censoring: dict[str, CensoringModel], unfollowed) -> float:
    """Median of the pooled study-follow-up censoring model (arms weighted by n)."""
    total = sum(t.n for t in targets.arms.values())

    def pooled(time: float) -> float:
        return sum(targets.arms[a].n * float(c.survival(time)) for a, c in censoring.items()) \
            / total - 0.5

    top = max(c.maximum for c in censoring.values())
    _require_finite("pooled study follow-up", pooled(0.0), pooled(top - 1e-9))
    if pooled(0.0) <= 0:
        return 0.0
    return float(brentq(pooled, 0.0, top - 1e-9))


def _try(targets, shape, tail, split, reading, early, cells):
    """The member for one combination, or the reason it fails.

    Built with the shape's fixed slope and common censoring; when the Cox HR misses, a
    log-linear shape's slope is solved to the HR, else (pooled follow-up) the differential
    censoring ``w``. When the HR is still missed and the accrual window is inferred (reading
    ``q=0``), the window's ``q`` is solved to the HR with the shape's fixed slope; when it is
    missed even then and the events left an arm's tail level open, that level is solved to
    the HR (``u``, :attr:`~prrt_bayes.reconstruct.arm_builder.ArmShape.unpinned_level`).
    """
    label = "published" if targets.total_events is None else "/".join(
        str(split[a]) for a in targets.arms)
    base = Assumptions(_label_shape(shape, SHAPES[shape], False), tail, label, reading, "common",
                       early)
    plan = _Plan(base, split, SHAPES[shape])
    reading_def = _reading_parts(reading)[0]
    stat = "reverse_km" if reading_def.startswith("administrative") else reading_def
    try:
        built = _build_member(targets, plan, cells)
        ipd = _stack(built)
        checks, extra = _evaluate(targets, plan, built, ipd, stat)
    except Infeasible as err:
        built, checks, extra = None, (), {}
        reason = str(err)
    unpinned = built is not None and not all(b.tail_pinned for b in built.values())
    hr_met = built is not None and all(c.met for c in checks if c.name.startswith("cox_hr"))
    if targets.hazard_ratio is not None and not hr_met:
        solved = None
        if shape != "piecewise_constant":
            sign = 1.0 if SHAPES[shape] > 0 else -1.0

            def by_slope(value: float) -> _Plan:
                a = Assumptions(_label_shape(shape, value, True), tail, label, reading,
                                "common", early)
                return _Plan(a, split, value)

            values = [sign * SHAPE_SLOPE * f for f in (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)]
            solved = _solve_hr(targets, by_slope, values, cells)
        pooled = targets.follow_up_median is not None
        if solved is None and pooled and not reading_def.startswith("administrative"):

            def by_w(value: float) -> _Plan:
                a = Assumptions(base.hazard_shape, tail, label, reading,
                                f"differential(w={value:+.3f})", early)
                return _Plan(a, split, SHAPES[shape], value)

            solved = _solve_hr(targets, by_w, [-1.0, -0.5, 0.0, 0.5, 1.0], cells)
        if solved is not None:
            _, plan, built = solved
            ipd = _stack(built)
            checks, extra = _evaluate(targets, plan, built, ipd, stat)
        hr_met = built is not None and all(c.met for c in checks
                                           if c.name.startswith("cox_hr"))
        if not hr_met and _reading_parts(reading)[1] == f"{INFERRED}0":

            def by_q(value: float) -> _Plan:
                solved_reading = (f"{reading_def}; late entrants {INFERRED}{value:.4f} "
                                  "(solved to the HR)")
                a = Assumptions(base.hazard_shape, tail, label, solved_reading, "common", early)
                return _Plan(a, split, SHAPES[shape])

            solved = _solve_hr(targets, by_q, ACCRUAL_SCAN, cells)
            if solved is not None:
                _, plan, built = solved
                ipd = _stack(built)
                checks, extra = _evaluate(targets, plan, built, ipd, stat)
        hr_met = built is not None and all(c.met for c in checks
                                           if c.name.startswith("cox_hr"))
        if not hr_met and unpinned:

            def by_u(value: float) -> _Plan:
                a = Assumptions(base.hazard_shape,
                                f"{tail}; unpinned level solved to the HR (u={value:.3f})",
                                label, reading, "common", early)
                return _Plan(a, split, SHAPES[shape], 0.0, value)

            solved = _solve_hr(targets, by_u, UNPINNED_SCAN, cells)
            if solved is not None:
                _, plan, built = solved
                ipd = _stack(built)
                checks, extra = _evaluate(targets, plan, built, ipd, stat)
    if built is None:
        return plan.assumptions, None, reason
    missed = [c for c in checks if not c.met]
    if missed:
        return plan.assumptions, None, "; ".join(
            f"{c.name} {c.achieved:.4g} vs {c.target:.4g}" for c in missed)
    unfollowed = {arm: b.unfollowed for arm, b in built.items()}
    tail_q = {**_tail_quantities(targets, built, ipd), **extra}
    return plan.assumptions, Member(ipd, plan.assumptions, checks, unfollowed, built, tail_q), ""


def build_ensemble(
    targets: SurvivalTargets,
    *,
    shapes: Sequence[str] = tuple(SHAPES),
    tails: Sequence[str] = TAILS,
    max_members: int = 12,
    cells: int = DEFAULT_CELLS,
) -> Ensemble:
    """Every pseudo-IPD the targets allow under the enumerated assumptions (module doc).

    Parameters
    ----------
    targets
        What each member must reproduce (e.g. from :func:`published_style_targets` or the
        NETTER-1 evidence).
    shapes
        Hazard shapes to try (keys of :data:`SHAPES`).
    tails
        Tail rules to try (keys of :data:`~prrt_bayes.reconstruct.hazard_shapes.TAIL_SLOPES`).
    max_members
        Most members kept (spread over the RMST difference at the end of follow-up).
    cells
        Equal cells of the calculation grid.

    Returns
    -------
    Ensemble
        The kept members (the first is the default: the one with the median RMST difference at
        the end of follow-up), the number tried and met, and a table of the rejected
        combinations with the targets they missed.

    Raises
    ------
    InputError
        An unknown shape or tail, or when no combination meets every target: the message
        names the endpoint, cut and the targets missed (with how often).
    """
    for shape in shapes:
        if shape not in SHAPES:
            raise InputError(f"unknown hazard shape {shape!r}; valid: {sorted(SHAPES)}",
                             field="shapes")
    for tail in tails:
        if tail not in TAIL_SLOPES:
            raise InputError(f"unknown tail rule {tail!r}; valid: {sorted(TAIL_SLOPES)}",
                             field="tails")
    members, rejected, tried, met_duplicates = [], [], 0, 0
    for shape, tail, split, reading, early in _combinations(targets, shapes, tails):
        tried += 1
        assumptions, member, reason = _try(targets, shape, tail, split, reading, early, cells)
        if member is None:
            rejected.append({**assumptions.as_dict(), "missed": reason})
        elif any(member.ipd.equals(m.ipd) for m in members):
            met_duplicates += 1
        else:
            members.append(member)
    rejected_frame = pd.DataFrame(rejected)
    if not members:
        counts: dict[str, int] = {}
        for row in rejected:
            for part in row["missed"].split("; "):
                name = part.split(" ")[0] if " vs " in part else part
                counts[name] = counts.get(name, 0) + 1
        worst = ", ".join(f"{name} ({count} of {tried})" for name, count in
                          sorted(counts.items(), key=lambda kv: -kv[1])[:6])
        raise InputError(
            f"no reconstruction of endpoint {targets.endpoint!r} at cut {targets.cut!r} meets "
            f"every target ({tried} assumption sets tried); targets in conflict: {worst}; "
            "targets: " + " | ".join(targets.describe()),
            field="targets",
        )
    return Ensemble(targets, tuple(_select(members, max_members)), tried,
                    len(members) + met_duplicates, rejected_frame)


def _select(members: list[Member], k: int) -> list[Member]:
    """Up to ``k`` members spread over the RMST difference; the median one first."""
    order = sorted(range(len(members)),
                   key=lambda i: (members[i].tail["rmst_difference_end"], i))
    if len(order) > k:
        picks = np.unique(np.round(np.linspace(0, len(order) - 1, k)).astype(int))
        order = [order[p] for p in picks]
    middle = order[(len(order) - 1) // 2]
    return [members[middle]] + [members[i] for i in order if i != middle]
