"""Pseudo individual patient data calibrated to published summaries, when no curve is available.

Some trials publish no Kaplan-Meier figure that can be digitised, or no numbers at risk (NETTER-1
is one). What they do publish per arm is a handful of numbers: patients randomised ``n``, number
of events, Kaplan-Meier survival at one or more landmark times, the median, the median follow-up
and the accrual window with the data cut-off. This module turns those numbers into deterministic
pseudo-IPD (``time``, ``event`` rows) whose Kaplan-Meier estimate passes through the published
points and whose event count equals the published count exactly.

Event model
-----------
Event times follow a piecewise-constant hazard whose breakpoints are the published points
``tau_1 < ... < tau_k`` (landmark times, and the median with survival 1/2)::

    h(t) = lambda_j     for tau_{j-1} < t <= tau_j   (tau_0 = 0)
    h(t) = lambda_tail  for t > tau_k
    lambda_j = log(s_{j-1} / s_j) / (tau_j - tau_{j-1}),   s_0 = 1,  s_j = published S(tau_j)

so the model survival ``S(t) = exp(-H(t))`` goes through every published point exactly. The rate
after the last published point, ``lambda_tail``, is the one free parameter: it is calibrated so that
the number of events equals the published count. With no landmark and no median (an interim
overall-survival analysis that reports only deaths) the hazard is constant and calibrated to the
events alone.

Too few events for the follow-up. If even ``lambda_tail = 0`` leaves more events than published,
the survival targets and the follow-up cannot both describe this endpoint's censoring: it is
censored earlier than the trial's follow-up says (progression-free survival is censored at the
last tumour assessment, not at the cut-off; patients stop assessments). The arm then gets an
extra, endpoint-specific dropout hazard, solved so the expected events equal the published count,
with the hazard after the last point continuing at the last interval's rate
(:attr:`Reconstruction.event_calibration` is ``"dropout"`` instead of ``"tail_rate"``). The
median follow-up of that arm's rows is then shorter than the published one, and the diagnostics
show by how much.

Censoring model
---------------
Censoring is ``C = min(A, D)``: administrative censoring ``A`` at the data cut-off and an
independent exponential dropout ``D`` with rate ``delta``. With uniform accrual, the potential
follow-up ``A`` (cut-off minus randomisation date) is uniform on ``[a_min, a_max]`` (the cut-off
minus the end and the start of accrual), so ``G(t) = P(C > t) = P(A > t) exp(-delta t)``.

Median follow-up is taken in the **reverse Kaplan-Meier** sense (Schemper & Smith, Control Clin
Trials 1996;17:343-6: the Kaplan-Meier estimate of the censoring times, events counted as
censored), the usual definition in trial reports. Under independent censoring the reverse KM
estimates ``G``, so a published median follow-up ``m`` means ``G(m) = 1/2`` whatever the event
hazard. It is reproduced by

- the dropout rate ``delta = log(2 P(A > m)) / m`` when the accrual window is known
  (:meth:`FollowUpSummary.from_dates`, :meth:`FollowUpSummary.from_accrual`); a median
  follow-up longer than uniform accrual allows is an :class:`~prrt_bayes.core.errors.InputError`;
- the window's start ``a_min = 2m - a_max`` without dropout when only the maximum follow-up is
  known (e.g. "median 76 months, range up to 95"); if that start would be negative, ``a_min = 0``
  and ``delta`` is calibrated as above.

If the reported median follow-up used another definition (median observation time, or the median
among censored patients), it is shorter than the reverse-KM one; calibrating to it would
overstate the dropout.

Accrual past the cut-off: when accrual continues after the data cut-off (NETTER-1's primary
analysis, cut-off 2015-07-24, accrual to January 2016), patients randomised after the cut have no
follow-up at the cut. :meth:`FollowUpSummary.from_dates` offers two readings of the published
``n``:

- ``late_entrants="zero_follow_up"`` (default): ``n`` counts everyone randomised over the whole
  accrual window (the intention-to-treat population); the window's start ``a_min`` is negative
  and the fraction ``P(A <= 0)`` randomised after the cut is censored at time 0. Those patients
  change neither the Kaplan-Meier nor the Cox estimate, but they do count in the reverse-KM
  median follow-up. They are returned as a count (:attr:`Reconstruction.unfollowed`), not as
  rows, because parametric fitters reject zero durations.
- ``late_entrants="excluded"``: ``n`` counts only patients randomised by the cut; the window is
  clipped at the cut-off (``a_min = 0``).

Deterministic pseudo-IPD
------------------------
On a fine grid ``t_1 < ... < t_M`` (``grid_cells`` equal cells up to ``a_max`` plus every
breakpoint), with ``r`` patients at risk at ``t_k``, the numbers of events and censorings placed at
``t_k`` are the integers that keep the running Kaplan-Meier ``S^`` and reverse Kaplan-Meier ``G^``
of the rows built so far closest to the model::

    d_k = floor(r (1 - S(t_k) / S^(t_{k-1})) + 1/2)
    c_k = min(floor(r (1 - G(t_k) / G^(t_{k-1})) + 1/2), r - d_k)

Each event therefore sits where the model's expected count, conditional on the risk set, crosses a
half-integer: a quantile construction with no random numbers, and the same inputs always give the
same rows. The KM of the rows never departs from ``S`` by more than half a step (``S / 2r``) at a
grid time, and the reverse KM tracks ``G`` likewise.

Half a step can be large late in follow-up, where few patients are at risk (10.8% survival with
8 at risk: steps of 1.4 points). So each published point's model value is then fine-tuned: it is
multiplied by a factor between 0.74 and 1.35 (on a fixed grid of factors) to the value whose rows
give the KM closest to the published survival, or for a median the KM median closest to the
published time. This moves events by fractions of a grid cell relative to censorings and lands
well within a step of the published point. Finally ``lambda_tail`` is set by bisection on the
pseudo-data itself so the number of events equals the target exactly; if the count jumps over the
target, the surplus latest events become censorings at the same times. The exact count comes
first: if the fine-tuned points leave it out of the tail's reach, the published points are used;
in dropout mode, if the tail cannot absorb the rounding either, the dropout itself is solved on
the rows. ``Reconstruction.hazard`` is the model that generated the rows.

Assumptions (what the pseudo-IPD cannot know)
---------------------------------------------
- The hazard is constant between published points and after the last one: the published points
  are reproduced, the shape between them is a piecewise-exponential interpolation.
- Accrual is uniform over its window, censoring is independent of the event time, and the
  dropout hazard is constant; arms that share a follow-up summary share the censoring
  distribution, except for the extra dropout of an arm in dropout mode.
- Landmark survival values are Kaplan-Meier estimates of the same analysis; a median ``m`` is read
  as ``S(m) = 1/2``.
- Ties: rows sit on the calculation grid (``a_max / grid_cells`` wide), so a few events may share a
  time.

This module reconstructs one arm at a time, so a two-arm hazard ratio is not one of its targets.
The reconstruction ensembles of :mod:`prrt_bayes.reconstruct.ensemble` (used for the bundled
NETTER-1 data) make the published hazard ratio and its 95% CI a calibration target.

When only the total number of events of a two-arm trial is published,
:func:`allocate_total_events` chooses the per-arm split; see its docstring for the rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationError,
    model_validator,
)
from scipy.optimize import brentq

from prrt_bayes.core.errors import InputError

DAYS_PER_MONTH = 365.25 / 12
DEFAULT_GRID_CELLS = 2000


# ------------------------------------------------------------------------------------------ input
def to_date(value: str | date) -> date:
    """Parse ``YYYY-MM-DD`` or ``YYYY-MM`` (read as the 15th, mid-month) into a date.

    Parameters
    ----------
    value
        A date string (surrounding whitespace ignored), or a :class:`datetime.date`, which is
        returned as is.

    Returns
    -------
    datetime.date
        The parsed date.

    Raises
    ------
    InputError
        When ``value`` is neither form or names no valid calendar date.
    """
    if isinstance(value, date):
        return value
    try:
        parts = [int(part) for part in str(value).strip().split("-")]
        if len(parts) == 2:
            return date(parts[0], parts[1], 15)
        if len(parts) == 3:
            return date(*parts)
    except ValueError:
        pass
    raise InputError(f"not a date (YYYY-MM or YYYY-MM-DD): {value!r}")


def months_between(start: str | date, end: str | date) -> float:
    """Months from ``start`` to ``end`` (days / 30.4375).

    Parameters
    ----------
    start, end
        Dates or date strings (``YYYY-MM-DD``, or ``YYYY-MM`` read as the 15th; see
        :func:`to_date`).

    Returns
    -------
    float
        Months, negative when ``end`` is before ``start``.

    Raises
    ------
    InputError
        When a string is not a date.
    """
    return (to_date(end) - to_date(start)).days / DAYS_PER_MONTH


class _Input(BaseModel):
    """Frozen pydantic input whose validation failures are InputErrors naming the field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(part) for part in first["loc"]) or None
            message = first["msg"].removeprefix("Value error, ")
            raise InputError(f"{type(self).__name__}: {message}", field=loc) from None


class FollowUpSummary(_Input):
    """Published follow-up of one arm: the administrative window and the median follow-up.

    Attributes
    ----------
    maximum : longest possible follow-up (cut-off minus start of accrual), in the time unit.
    minimum : shortest possible follow-up (cut-off minus end of accrual; negative when accrual
        continued after the cut-off, see the module docstring); None = unknown, then chosen to
        reproduce ``median``.
    median : reverse-Kaplan-Meier median follow-up (calibration target), or None.
    dropout_rate : fixed dropout hazard; None = calibrated to ``median`` (0 without a median).
    """

    maximum: PositiveFloat
    minimum: float | None = None
    median: PositiveFloat | None = None
    dropout_rate: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FollowUpSummary:
        if self.minimum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum follow-up {self.minimum:g} > maximum {self.maximum:g}")
        if self.median is not None and self.median > self.maximum:
            raise ValueError(f"median follow-up {self.median:g} > maximum {self.maximum:g}")
        return self

    @classmethod
    def from_accrual(
        cls,
        accrual_months: float,
        min_follow_up: float,
        *,
        median: float | None = None,
        dropout_rate: float | None = None,
    ) -> FollowUpSummary:
        """Window from the accrual duration and the follow-up after the last randomisation.

        Parameters
        ----------
        accrual_months
            Length of the accrual window (in the time unit of the survival targets, usually
            months).
        min_follow_up
            Follow-up of the last patient randomised (cut-off minus end of accrual); becomes
            ``minimum``, and ``maximum = min_follow_up + accrual_months``.
        median
            Reverse-Kaplan-Meier median follow-up to reproduce, or None.
        dropout_rate
            Fixed dropout hazard per time unit; None = calibrated to ``median`` (0 without one).

        Returns
        -------
        FollowUpSummary
            A new, validated summary.

        Raises
        ------
        InputError
            A maximum that is not positive, ``minimum > maximum``, ``median > maximum``, or a
            negative ``dropout_rate``.
        """
        return cls(
            maximum=min_follow_up + accrual_months, minimum=min_follow_up, median=median,
            dropout_rate=dropout_rate,
        )

    @classmethod
    def from_dates(
        cls,
        accrual_start: str | date,
        accrual_end: str | date,
        cutoff: str | date,
        *,
        median: float | None = None,
        dropout_rate: float | None = None,
        late_entrants: Literal["zero_follow_up", "excluded"] = "zero_follow_up",
    ) -> FollowUpSummary:
        """Window in months from accrual dates and the data cut-off (``YYYY-MM`` = the 15th).

        When accrual continues past the cut-off, ``late_entrants`` says whether the published
        ``n`` includes the patients randomised after it (``"zero_follow_up"``: the window starts
        below 0 and they are censored at time 0) or not (``"excluded"``: the window is clipped
        at the cut-off). See the module docstring.

        Parameters
        ----------
        accrual_start, accrual_end, cutoff
            First and last randomisation and the data cut-off: dates or ``YYYY-MM-DD`` /
            ``YYYY-MM`` strings (see :func:`to_date`).
        median
            Reverse-Kaplan-Meier median follow-up in months, or None.
        dropout_rate
            Fixed dropout hazard per month; None = calibrated to ``median`` (0 without one).
        late_entrants
            ``"zero_follow_up"`` or ``"excluded"`` (above); only matters when accrual ends
            after the cut-off.

        Returns
        -------
        FollowUpSummary
            A new summary with ``maximum`` = months from accrual start to cut-off and
            ``minimum`` = months from accrual end to cut-off (clipped at 0 for ``"excluded"``).

        Raises
        ------
        InputError
            A string that is not a date, accrual ending before it starts, a cut-off not after
            the start of accrual, an unknown ``late_entrants``, ``median`` above the maximum
            follow-up, or a negative ``dropout_rate``.
        """
        start, end, cut = to_date(accrual_start), to_date(accrual_end), to_date(cutoff)
        if end < start:
            raise InputError(f"accrual ends ({end}) before it starts ({start})", field="accrual")
        if cut <= start:
            raise InputError(f"data cut-off {cut} is not after the start of accrual {start}",
                             field="cutoff")
        if late_entrants not in ("zero_follow_up", "excluded"):
            raise InputError(
                f"late_entrants={late_entrants!r}; valid: 'zero_follow_up', 'excluded'",
                field="late_entrants",
            )
        minimum = months_between(end, cut)
        if late_entrants == "excluded":
            minimum = max(minimum, 0.0)
        return cls(
            maximum=months_between(start, cut), minimum=minimum, median=median,
            dropout_rate=dropout_rate,
        )


class ArmSummary(_Input):
    """Published summaries of one arm for one endpoint and data cut.

    Attributes
    ----------
    n : patients analysed.
    events : number of events (None only for :func:`allocate_total_events`).
    landmarks : Kaplan-Meier survival (probability, not percent) at landmark times.
    median : median time to event, or None (not reached or not published).
    follow_up : the follow-up summary (censoring model).
    """

    n: int = Field(gt=0)
    events: int | None = Field(default=None, ge=0)
    landmarks: dict[float, float] = Field(default_factory=dict)
    median: PositiveFloat | None = None
    follow_up: FollowUpSummary

    @model_validator(mode="after")
    def _consistent(self) -> ArmSummary:
        if self.events is not None and self.events > self.n:
            raise ValueError(f"events {self.events} > n {self.n}")
        for time, surv in self.landmarks.items():
            if time <= 0:
                raise ValueError(f"landmark time {time:g} must be > 0")
            if not 0 < surv < 1:
                hint = " (give a probability, not a percent)" if 1 < surv <= 100 else ""
                raise ValueError(f"landmark survival {surv:g} at {time:g} not in (0, 1){hint}")
        points = self.survival_points()
        for (t0, s0), (t1, s1) in zip(points, points[1:], strict=False):
            if t1 == t0:
                raise ValueError(f"two survival targets at time {t0:g}")
            if s1 >= s0:
                raise ValueError(
                    f"survival targets must decrease over time: S({t0:g}) = {s0:g} but "
                    f"S({t1:g}) = {s1:g}"
                )
        if points and points[-1][0] > self.follow_up.maximum:
            raise ValueError(
                f"survival target at {points[-1][0]:g} is beyond the maximum follow-up "
                f"{self.follow_up.maximum:g}"
            )
        return self

    def survival_points(self) -> list[tuple[float, float]]:
        """All survival targets ``(time, S)``, landmarks and the median (S = 1/2), sorted.

        Returns
        -------
        list[tuple[float, float]]
            A new list of ``(time, survival probability)`` pairs sorted by time; empty without
            landmarks and median.
        """
        points = [(float(t), float(s)) for t, s in self.landmarks.items()]
        if self.median is not None:
            points.append((float(self.median), 0.5))
        return sorted(points)


# ------------------------------------------------------------------------------------- the models
@dataclass(frozen=True)
class CensoringModel:
    """Uniform administrative censoring on ``[minimum, maximum]`` and exponential dropout."""

    minimum: float
    maximum: float
    dropout_rate: float

    def admin_survival(self, t) -> np.ndarray:
        """P(A > t) for the administrative censoring time A.

        Parameters
        ----------
        t
            Time or array of times (array-like), in the time unit of the model.

        Returns
        -------
        numpy.ndarray
            Probabilities, shape of ``t``: 1 up to ``minimum``, falling linearly to 0 at
            ``maximum`` (a step at ``maximum`` when the window has zero width).
        """
        t = np.asarray(t, dtype=float)
        if self.maximum > self.minimum:
            return np.clip((self.maximum - t) / (self.maximum - self.minimum), 0.0, 1.0)
        return (t < self.maximum).astype(float)

    def survival(self, t) -> np.ndarray:
        """G(t) = P(C > t): probability of still being under follow-up at t.

        Parameters
        ----------
        t
            Time or array of times (array-like).

        Returns
        -------
        numpy.ndarray
            :meth:`admin_survival` times ``exp(-dropout_rate * t)``, shape of ``t``.
        """
        t = np.asarray(t, dtype=float)
        return self.admin_survival(t) * np.exp(-self.dropout_rate * t)

    def median(self) -> float:
        """Median of the censoring distribution (= reverse-KM median follow-up).

        Returns
        -------
        float
            The time where ``G(t) = 1/2``: 0 when ``G(0) <= 1/2`` (half or more randomised
            after the cut-off), ``maximum`` when ``G`` stays at or above 1/2 until then.
        """
        if self.survival(0.0) <= 0.5:
            return 0.0
        if self.survival(self.maximum - 1e-12 * self.maximum) >= 0.5:
            return self.maximum
        return float(brentq(lambda t: float(self.survival(t)) - 0.5, 0.0, self.maximum))


@dataclass(frozen=True)
class PiecewiseHazard:
    """Piecewise-constant hazard: ``rates[j]`` from ``starts[j]`` to the next start (last: open)."""

    starts: tuple[float, ...]
    rates: tuple[float, ...]

    def cumulative_hazard(self, t) -> np.ndarray:
        """H(t) = integral of the hazard from 0 to t.

        Parameters
        ----------
        t
            Time or array of times (array-like); times before the first start contribute 0.

        Returns
        -------
        numpy.ndarray
            Cumulative hazard, shape of ``t``.
        """
        t = np.asarray(t, dtype=float)
        ends = (*self.starts[1:], math.inf)
        total = np.zeros_like(t)
        for start, end, rate in zip(self.starts, ends, self.rates, strict=True):
            total = total + rate * np.clip(t - start, 0.0, end - start)
        return total

    def survival(self, t) -> np.ndarray:
        """S(t) = exp(-H(t)).

        Parameters
        ----------
        t
            Time or array of times (array-like).

        Returns
        -------
        numpy.ndarray
            Survival probabilities, shape of ``t``.
        """
        return np.exp(-self.cumulative_hazard(t))


def calibrate_censoring(follow_up: FollowUpSummary) -> CensoringModel:
    """Censoring model reproducing the reverse-KM median follow-up (rules in the module doc).

    Parameters
    ----------
    follow_up
        The published follow-up. An unknown ``minimum`` is set to ``2 * median - maximum``
        (no dropout) when that is >= 0 and no ``dropout_rate`` is given, else to 0.

    Returns
    -------
    CensoringModel
        Window ``[minimum, maximum]`` and dropout rate: ``follow_up.dropout_rate`` when given,
        0 without a median or when the window alone reproduces it, else
        ``log(2 P(A > m)) / m``.

    Raises
    ------
    InputError
        When the median follow-up is longer than the window's own median
        (``(minimum + maximum) / 2``) and no dropout rate is fixed.
    """
    maximum, median = follow_up.maximum, follow_up.median
    minimum = follow_up.minimum
    if minimum is None:
        if median is not None and follow_up.dropout_rate is None and 2 * median >= maximum:
            return CensoringModel(2 * median - maximum, maximum, 0.0)
        minimum = 0.0
    if follow_up.dropout_rate is not None:
        return CensoringModel(minimum, maximum, follow_up.dropout_rate)
    if median is None:
        return CensoringModel(minimum, maximum, 0.0)
    admin = CensoringModel(minimum, maximum, 0.0)
    admin_median = (minimum + maximum) / 2
    if median > admin_median * (1 + 1e-9):
        raise InputError(
            f"median follow-up {median:g} is longer than uniform accrual allows (median potential "
            f"follow-up {admin_median:g} for a window {minimum:g}-{maximum:g})",
            field="follow_up.median",
        )
    at_median = float(admin.admin_survival(median))
    if median >= admin_median or at_median <= 0.5:
        return admin
    return CensoringModel(minimum, maximum, math.log(2 * at_median) / median)


def _known_rates(points: list[tuple[float, float]]) -> tuple[tuple[float, ...], list[float]]:
    """Interval starts and closed-form rates up to the last survival target."""
    starts, rates, t_prev, s_prev = [0.0], [], 0.0, 1.0
    for time, surv in points:
        rates.append(math.log(s_prev / surv) / (time - t_prev))
        starts.append(time)
        t_prev, s_prev = time, surv
    return tuple(starts), rates


def hazard_with_tail(points: list[tuple[float, float]], tail_rate: float) -> PiecewiseHazard:
    """Piecewise hazard through the survival points ``(time, S)``, then ``tail_rate``.

    Parameters
    ----------
    points
        ``(time, survival probability)`` pairs, times increasing and positive, survival
        decreasing in (0, 1), as from :meth:`ArmSummary.survival_points` (not checked here).
    tail_rate
        Hazard after the last point (per time unit).

    Returns
    -------
    PiecewiseHazard
        Starts ``(0, tau_1, ..., tau_k)`` and rates ``(lambda_1, ..., lambda_k, tail_rate)``,
        so ``S(tau_j)`` equals each published value; a constant ``tail_rate`` without points.
    """
    starts, rates = _known_rates(points)
    return PiecewiseHazard(starts, (*rates, tail_rate))


# ---------------------------------------------------------------------------- deterministic rows
def _grid(summary: ArmSummary, censoring: CensoringModel, cells: int) -> np.ndarray:
    """Calculation times: equal cells up to the maximum follow-up, the breakpoints, and 0 when
    patients randomised after the cut-off are censored there."""
    uniform = np.linspace(0.0, censoring.maximum, cells + 1)
    breaks = [t for t, _ in summary.survival_points()]
    grid = np.union1d(uniform, breaks)
    return grid if censoring.minimum < 0 else grid[1:]


def _counts(n: int, surv: np.ndarray, cens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Events and censorings at each grid time, tracking the KM and reverse KM (module doc)."""
    events = np.zeros(len(surv), dtype=int)
    censored = np.zeros(len(surv), dtype=int)
    at_risk, s_km, g_km = n, 1.0, 1.0
    for k, (s_k, g_k) in enumerate(zip(surv.tolist(), cens.tolist(), strict=True)):
        x = at_risk * (1.0 - s_k / s_km) + 0.5
        d = int(x) if x >= 1.0 else 0  # floor(x + 1/2), at least 0
        if d > at_risk:
            d = at_risk
        y = at_risk * (1.0 - g_k / g_km) + 0.5
        c = int(y) if y >= 1.0 else 0
        if c > at_risk - d:
            c = at_risk - d
        if d or c:
            events[k], censored[k] = d, c
            s_km *= 1.0 - d / at_risk
            g_km *= 1.0 - c / at_risk
            at_risk -= d + c
            if at_risk == 0:
                break
    censored[-1] += at_risk
    return events, censored


def _drop_surplus(events: np.ndarray, censored: np.ndarray, target: int):
    """Turn the latest surplus events into censorings at the same times."""
    events, censored = events.copy(), censored.copy()
    surplus = int(events.sum()) - target
    for k in range(len(events) - 1, -1, -1):
        if surplus <= 0:
            break
        moved = min(surplus, int(events[k]))
        events[k] -= moved
        censored[k] += moved
        surplus -= moved
    return events, censored


def _bisect(counts_at, log_lo: float, log_hi: float, target: int):
    """Parameter (on the log scale) whose pseudo-data has ``target`` events, by bisection.

    ``counts_at(log_p)`` returns ``(events, censored)``; the event count must be monotone in
    ``log_p``. When the count jumps over the target, or both ends hold too many events, the end
    with too many (fewest) events is kept and its surplus latest events become censorings.
    """
    ends = {log_lo: counts_at(log_lo), log_hi: counts_at(log_hi)}
    for log_p, counts in ends.items():
        if counts[0].sum() == target:
            return log_p, counts
    fewest = min(ends, key=lambda log_p: ends[log_p][0].sum())
    if ends[fewest][0].sum() > target:
        return fewest, _drop_surplus(*ends[fewest], target)
    if max(counts[0].sum() for counts in ends.values()) < target:
        raise InputError(f"events={target} cannot be reproduced with these survival targets "
                         "and follow-up", field="events")
    over_end = log_lo if ends[log_lo][0].sum() > target else log_hi
    under_end = log_hi if over_end == log_lo else log_lo
    over = ends[over_end]
    for _ in range(100):
        mid = (over_end + under_end) / 2
        counts = counts_at(mid)
        if counts[0].sum() == target:
            return mid, counts
        if counts[0].sum() > target:
            over_end, over = mid, counts
        else:
            under_end = mid
    return over_end, _drop_surplus(*over, target)


def _expected_events(n: int, hazard: PiecewiseHazard, censoring: CensoringModel,
                     cells: int = 20000) -> float:
    """``n * integral f(t) G(t) dt`` (midpoint rule)."""
    grid = np.linspace(0.0, censoring.maximum, cells + 1)
    surv = hazard.survival(grid)
    mid = (grid[1:] + grid[:-1]) / 2
    return float(n * np.sum((surv[:-1] - surv[1:]) * censoring.survival(mid)))


def _tail_bounds(censoring: CensoringModel, grid: np.ndarray) -> tuple[float, float]:
    """Log-rate bracket: from no events to death within one grid cell."""
    return math.log(1e-9 / censoring.maximum), math.log(1e3 * len(grid) / censoring.maximum)


def _counts_with_tail(n, points, censoring, grid, log_rate):
    surv = hazard_with_tail(points, math.exp(log_rate)).survival(grid)
    return _counts(n, surv, censoring.survival(grid))


def feasible_events(
    summary: ArmSummary, *, grid_cells: int = DEFAULT_GRID_CELLS
) -> tuple[int, int]:
    """Fewest and most events the pseudo-data can hold with the follow-up censoring.

    The bounds are the tail rate near 0 and near infinity, with the published survival points.
    Fewer published events than the lower bound trigger the dropout calibration (module doc).

    Parameters
    ----------
    summary
        The arm's published numbers (``events`` is not used).
    grid_cells
        Cells of the calculation grid up to the maximum follow-up.

    Returns
    -------
    low, high : tuple[int, int]
        Event counts of the deterministic pseudo-data with the smallest and largest tail rate.

    Raises
    ------
    InputError
        When the follow-up cannot be calibrated (see :func:`calibrate_censoring`).
    """
    censoring = calibrate_censoring(summary.follow_up)
    grid = _grid(summary, censoring, grid_cells)
    points = summary.survival_points()
    low, high = (
        int(_counts_with_tail(summary.n, points, censoring, grid, bound)[0].sum())
        for bound in _tail_bounds(censoring, grid)
    )
    return low, high


def _needs_dropout(summary: ArmSummary, grid_cells: int) -> bool:
    """True when even a zero tail rate leaves more events than published (see _dropout_for)."""
    low, high = feasible_events(summary, grid_cells=grid_cells)
    if summary.events > high:
        raise InputError(
            f"events={summary.events} cannot be reproduced: with these survival targets and "
            f"follow-up the pseudo-data holds at most {high} events",
            field="events",
        )
    return summary.events < low


def _dropout_for(summary: ArmSummary, points, follow_up: CensoringModel) -> CensoringModel:
    """Censoring with the extra dropout whose *expected* events equal the published count.

    Used when the follow-up censoring leaves too many events even with no events after the last
    survival target: the endpoint is censored earlier than the follow-up says (for
    progression-free survival, at the last tumour assessment). The hazard after the last target
    then continues at the last interval's rate. The dropout is solved on the expected events of
    the published points (smooth in the dropout); the exact count comes after, from the tail rate.
    """
    hazard = hazard_with_tail(points, _known_rates(points)[1][-1])

    def gap(log_extra: float) -> float:
        censoring = _more_dropout(follow_up, math.exp(log_extra))
        return _expected_events(summary.n, hazard, censoring) - summary.events

    lo, hi = math.log(1e-9 / follow_up.maximum), math.log(1e3 / follow_up.maximum)
    if gap(lo) <= 0:
        return follow_up
    if gap(hi) > 0:
        raise InputError(
            f"events={summary.events} cannot be reproduced: too few for the survival targets "
            "even with heavy dropout",
            field="events",
        )
    return _more_dropout(follow_up, math.exp(brentq(gap, lo, hi, xtol=1e-12)))


def _more_dropout(censoring: CensoringModel, extra: float) -> CensoringModel:
    return CensoringModel(censoring.minimum, censoring.maximum, censoring.dropout_rate + extra)


def _solve_tail(summary: ArmSummary, points, censoring: CensoringModel, grid: np.ndarray):
    """``(tail_rate, counts)`` with exactly ``summary.events`` events, or None if out of reach."""
    bounds = _tail_bounds(censoring, grid)

    def counts_at(log_rate: float):
        return _counts_with_tail(summary.n, points, censoring, grid, log_rate)

    low, high = (counts_at(bound)[0].sum() for bound in bounds)
    if not low <= summary.events <= high:
        return None
    log_rate, counts = _bisect(counts_at, *bounds, summary.events)
    return math.exp(log_rate), counts


def _solve_dropout_on_rows(summary: ArmSummary, points, follow_up: CensoringModel,
                           grid: np.ndarray):
    """Extra dropout solved on the pseudo-data count itself, tail at the last interval's rate."""
    tail_rate = _known_rates(points)[1][-1]
    surv = hazard_with_tail(points, tail_rate).survival(grid)

    def counts_at(log_extra: float):
        censoring = _more_dropout(follow_up, math.exp(log_extra))
        return _counts(summary.n, surv, censoring.survival(grid))

    log_extra, counts = _bisect(counts_at, math.log(1e-9 / follow_up.maximum),
                                math.log(1e3 * len(grid) / follow_up.maximum), summary.events)
    return tail_rate, _more_dropout(follow_up, math.exp(log_extra)), counts


def _km_path(n: int, events: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """Kaplan-Meier of grid counts, at each grid time."""
    removed = np.concatenate([[0], np.cumsum(events + censored)[:-1]])
    at_risk = n - removed
    factors = np.where(at_risk > 0, 1.0 - events / np.maximum(at_risk, 1), 1.0)
    return np.cumprod(factors)


def _match_points(
    summary: ArmSummary, censoring: CensoringModel, grid: np.ndarray
) -> list[tuple[float, float]]:
    """Model survival at each point chosen so the pseudo-data KM lands closest to the published one.

    The KM of the rows moves in steps, so the model value ``S(tau_j)`` itself is not always the
    one whose rows reproduce the published point best. Each point, in time order, is multiplied
    by ``exp(offset)``, the offset searched on a fixed grid (61 offsets in [-0.3, 0.3], then 51
    in +-0.01 around the best); the offset whose rows give the KM closest to the published
    survival (for the median: the KM median closest to the published time) wins, ties going to
    the smallest offset.
    """
    published = summary.survival_points()
    cens = censoring.survival(grid)
    adjusted: list[tuple[float, float]] = []
    for j, (time, surv) in enumerate(published):
        bounds = (published[j + 1][1] if j + 1 < len(published) else 0.0,
                  adjusted[-1][1] if adjusted else 1.0)
        stop = int(np.searchsorted(grid, time, side="right"))
        is_median = summary.median is not None and time == summary.median

        def loss(offset: float, time=time, surv=surv, bounds=bounds, stop=stop,
                 is_median=is_median) -> float:
            candidate = surv * math.exp(offset)
            if not bounds[0] < candidate < bounds[1]:
                return math.inf
            surv_grid = hazard_with_tail([*adjusted, (time, candidate)], 0.0).survival(grid[:stop])
            km = _km_path(summary.n, *_counts(summary.n, surv_grid, cens[:stop]))
            if is_median:
                crossed = np.flatnonzero(km <= 0.5)
                return abs(grid[crossed[0]] - time) if crossed.size else math.inf
            return abs(km[-1] - surv)

        best = 0.0
        for offsets in (np.linspace(-0.3, 0.3, 61), np.linspace(-0.01, 0.01, 51)):
            centre = best
            best = min((loss(centre + o), abs(centre + o), centre + o) for o in offsets)[2]
        adjusted.append((time, surv * math.exp(best)))
    return adjusted


# ------------------------------------------------------------------------------------ diagnostics
@dataclass(frozen=True)
class TargetCheck:
    """One calibration target against what the pseudo-IPD achieves."""

    name: str
    target: float
    achieved: float

    @property
    def error(self) -> float:
        """achieved - target."""
        return self.achieved - self.target


@dataclass(frozen=True)
class Diagnostics:
    """How well each published target is met by the pseudo-IPD (KM and reverse KM of the rows)."""

    checks: tuple[TargetCheck, ...]

    def frame(self) -> pd.DataFrame:
        """Columns ``target_name, target, achieved, error``.

        Returns
        -------
        pandas.DataFrame
            A new frame, one row per check in the order of :attr:`checks`
            (``error`` = achieved - target).
        """
        return pd.DataFrame(
            [(c.name, c.target, c.achieved, c.error) for c in self.checks],
            columns=["target_name", "target", "achieved", "error"],
        )

    def __getitem__(self, name: str) -> TargetCheck:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no target {name!r}; have {[c.name for c in self.checks]}")


@dataclass(frozen=True)
class Reconstruction:
    """Pseudo-IPD of one arm with the calibrated models and the target checks.

    ``ipd`` holds the patients with follow-up; ``unfollowed`` counts those randomised after the
    data cut-off (censored at time 0, see the module docstring), so ``len(ipd) + unfollowed = n``.
    """

    ipd: pd.DataFrame
    unfollowed: int
    hazard: PiecewiseHazard
    censoring: CensoringModel
    event_calibration: str
    diagnostics: Diagnostics


def _km(times: np.ndarray, events: np.ndarray):
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter().fit(times, events)


def _diagnose(summary: ArmSummary, ipd: pd.DataFrame) -> Diagnostics:
    times, events = ipd["time"].to_numpy(), ipd["event"].to_numpy()
    checks = [TargetCheck("events", float(summary.events), float(events.sum()))]
    km = _km(times, events)
    for time, surv in sorted(summary.landmarks.items()):
        achieved = float(km.survival_function_at_times(time).iloc[0])
        checks.append(TargetCheck(f"survival_at_{time:g}", surv, achieved))
    if summary.median is not None:
        checks.append(TargetCheck("median", summary.median, float(km.median_survival_time_)))
    if summary.follow_up.median is not None:
        reverse = _km(times, 1 - events)
        checks.append(
            TargetCheck("median_follow_up", summary.follow_up.median,
                        float(reverse.median_survival_time_))
        )
    return Diagnostics(tuple(checks))


# ------------------------------------------------------------------------------------- public API
def reconstruct_arm(summary: ArmSummary, *, grid_cells: int = DEFAULT_GRID_CELLS) -> Reconstruction:
    """Deterministic pseudo-IPD of one arm from its published summaries (method: module doc).

    Parameters
    ----------
    summary
        The arm's published numbers; ``events`` is required.
    grid_cells
        Cells of the calculation grid up to the maximum follow-up (at least 10).

    Returns
    -------
    Reconstruction
        With ``ipd`` (columns ``time``, ``event``; exactly ``events`` events; ``n`` rows less
        the ``unfollowed`` patients randomised after the cut-off), the calibrated hazard and
        censoring models, ``event_calibration`` (``"tail_rate"`` or ``"dropout"``) and the
        target checks (computed on all ``n`` patients).

    Raises
    ------
    InputError
        ``events`` missing or outside 0..n, ``grid_cells`` below 10, a median follow-up the
        window cannot give, or an event count the survival targets and follow-up cannot hold.
    """
    if summary.events is None or not 0 <= summary.events <= summary.n:
        raise InputError(f"events={summary.events} must be a count in 0..n={summary.n}",
                         field="events")
    if grid_cells < 10:
        raise InputError(f"grid_cells={grid_cells} is too coarse (at least 10)",
                         field="grid_cells")
    follow_up = calibrate_censoring(summary.follow_up)
    grid = _grid(summary, follow_up, grid_cells)
    published = summary.survival_points()
    censoring, method = follow_up, "tail_rate"
    if _needs_dropout(summary, grid_cells) and published:
        censoring, method = _dropout_for(summary, published, follow_up), "dropout"
    # Fine-tuned points first; the published ones if fine-tuning would cost the exact count.
    for points in (_match_points(summary, censoring, grid), published):
        solved = _solve_tail(summary, points, censoring, grid)
        if solved is not None:
            tail_rate, (events, censored) = solved
            break
    else:  # dropout mode, and the tail cannot absorb the rounding: solve the dropout on the rows
        tail_rate, censoring, (events, censored) = _solve_dropout_on_rows(
            summary, published, follow_up, grid)
    times = np.concatenate([np.repeat(grid, events), np.repeat(grid, censored)])
    flags = np.concatenate([np.ones(events.sum(), int), np.zeros(censored.sum(), int)])
    order = np.lexsort((1 - flags, times))
    rows = pd.DataFrame({"time": times[order], "event": flags[order]})
    followed = rows["time"] > 0
    return Reconstruction(
        ipd=rows[followed].reset_index(drop=True),
        unfollowed=int((~followed).sum()),
        hazard=hazard_with_tail(points, tail_rate),
        censoring=censoring,
        event_calibration=method,
        diagnostics=_diagnose(summary, rows),
    )


def reconstruct_from_summaries(
    n: int,
    events: int,
    *,
    follow_up: FollowUpSummary | Mapping,
    landmarks: Mapping[float, float] | None = None,
    median: float | None = None,
    grid_cells: int = DEFAULT_GRID_CELLS,
) -> Reconstruction:
    """Pseudo-IPD of one arm from N, events, landmarks, median and follow-up (module doc).

    Parameters
    ----------
    n, events
        Patients analysed and events.
    follow_up
        :class:`FollowUpSummary` (or its fields as a mapping), e.g.
        ``FollowUpSummary.from_dates("2012-09", "2016-01", "2015-07-24", median=14)``.
    landmarks
        ``{time: survival probability}`` Kaplan-Meier landmarks (None for none).
    median
        Median time to event (None if not reached / not published).
    grid_cells
        Cells of the calculation grid (at least 10).

    Returns
    -------
    Reconstruction
        ``.ipd`` is the ``time, event`` DataFrame; ``.diagnostics`` the target checks (see
        :func:`reconstruct_arm`).

    Raises
    ------
    InputError
        Inputs that fail :class:`ArmSummary` validation (naming the field), or as in
        :func:`reconstruct_arm`.
    """
    summary = ArmSummary(
        n=n, events=events, landmarks=dict(landmarks or {}), median=median, follow_up=follow_up,
    )
    return reconstruct_arm(summary, grid_cells=grid_cells)


def stack_arms(reconstructions: Mapping[str, Reconstruction]) -> pd.DataFrame:
    """Two-arm IPD: the arms' rows with an ``arm`` column, in the mapping's order.

    Parameters
    ----------
    reconstructions
        ``{arm label: Reconstruction}``, e.g. ``{"lu177": ..., "control": ...}``.

    Returns
    -------
    pandas.DataFrame
        A new frame with columns ``time, event, arm`` (arm = the mapping key) and a fresh
        index; the ``unfollowed`` patients of each arm are not rows.
    """
    frames = [rec.ipd.assign(arm=arm) for arm, rec in reconstructions.items()]
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------- total events, no split
@dataclass(frozen=True)
class EventAllocation:
    """Per-arm events chosen from a published total (rule: :func:`allocate_total_events`)."""

    events: dict[str, int]
    expected: dict[str, float]
    tail_multiplier: float


def expected_events(summary: ArmSummary, hazard: PiecewiseHazard) -> float:
    """Expected number of events ``n * integral f(t) G(t) dt`` under the follow-up censoring.

    Parameters
    ----------
    summary
        The arm: its ``n`` and ``follow_up`` (calibrated with :func:`calibrate_censoring`) are
        used; ``events`` and the survival targets are not.
    hazard
        Event model; the event density is ``f = -dS/dt`` of its survival ``S``.

    Returns
    -------
    float
        Expected events up to the maximum follow-up (midpoint rule on 20000 cells); not rounded.

    Raises
    ------
    InputError
        When the follow-up cannot be calibrated.
    """
    return _expected_events(summary.n, hazard, calibrate_censoring(summary.follow_up))


def allocate_total_events(arms: Mapping[str, ArmSummary], total_events: int) -> EventAllocation:
    """Split a published total number of events between arms that report no per-arm count.

    Each arm's survival targets fix its hazard up to its last published point, and the
    follow-up fixes its censoring: landmarks, medians and median follow-up are reproduced by
    *any* split, so they cannot choose it. The rule adds one assumption: after its last
    published point, every arm's hazard is the hazard of its last interval times one common
    multiplier ``k``. ``k`` is solved so the expected events (:func:`expected_events`) sum to
    the total; the per-arm expectations are rounded by largest remainder (ties: mapping order)
    to integers that sum to the total.

    Parameters
    ----------
    arms
        ``{arm label: ArmSummary}`` (``events`` ignored), each with at least one survival
        target.
    total_events
        Published total over all arms.

    Returns
    -------
    EventAllocation
        Integer ``events`` per arm (summing to ``total_events``), the continuous ``expected``
        per arm and ``tail_multiplier`` ``k``.

    Raises
    ------
    InputError
        ``total_events`` outside 0..sum of ``n``, an arm without survival targets, or a total
        outside what ``k`` in [1e-6, 1e3] can give.
    """
    if total_events > sum(s.n for s in arms.values()) or total_events < 0:
        raise InputError(f"total events {total_events} not in 0..sum of n", field="total_events")
    last_rates = {}
    for arm, summary in arms.items():
        points = summary.survival_points()
        if not points:
            raise InputError(
                f"arm {arm!r} has no landmark or median: the split needs one per arm",
                field="landmarks",
            )
        last_rates[arm] = _known_rates(points)[1][-1]

    def expected(log_k: float) -> dict[str, float]:
        return {
            arm: expected_events(
                s, hazard_with_tail(s.survival_points(), last_rates[arm] * math.exp(log_k))
            )
            for arm, s in arms.items()
        }

    def gap(log_k: float) -> float:
        return sum(expected(log_k).values()) - total_events

    lo, hi = math.log(1e-6), math.log(1e3)
    if not gap(lo) <= 0 <= gap(hi):
        span = (sum(expected(lo).values()), sum(expected(hi).values()))
        raise InputError(
            f"total events {total_events} cannot be reached: with the follow-up censoring the "
            f"survival targets imply {span[0]:.1f} to {span[1]:.1f} expected events; give the "
            "per-arm events instead",
            field="total_events",
        )
    log_k = brentq(gap, lo, hi, xtol=1e-12)
    exact = expected(log_k)
    floors = {arm: math.floor(value) for arm, value in exact.items()}
    order = sorted(exact, key=lambda arm: -(exact[arm] - floors[arm]))
    for arm in order[: total_events - sum(floors.values())]:
        floors[arm] += 1
    return EventAllocation(floors, exact, math.exp(log_k))
