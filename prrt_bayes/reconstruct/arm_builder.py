"""Deterministic pseudo-IPD of one arm under one explicit set of shape assumptions.

The generalisation of :func:`prrt_bayes.reconstruct.from_summaries.reconstruct_arm` used by the
reconstruction ensemble: the hazard between published points follows a
:class:`~prrt_bayes.reconstruct.hazard_shapes.ShapedHazard` (piecewise constant or log-linear,
optionally low before the first tumour assessment), the hazard after the last point follows a
named tail rule, and a published count of events before a time (e.g. deaths within 2 years) is a
survival point whose model value is tuned until the rows hold exactly that count. Rows are placed
by the same quantile construction (``from_summaries._counts``): no random numbers.

Steps: (1) each published point, in time order, gets the model survival (a multiple of the
published value, searched on a fixed grid of factors) whose rows reproduce it best: KM within the
landmark, KM median at the published median, or the exact count; (2) the tail level is set by
bisection so the arm's events equal the target exactly (when the target is the most the rows
can hold, e.g. every patient has an event, every level above a threshold reproduces it and the
count does not pin the tail: it continues at the hazard just before the last point, or at the
threshold when that gives too few events; or, when the member sets
:attr:`ArmShape.unpinned_level`, at that position between the threshold and that level, which
the ensemble solves to the published hazard ratio); (3) if even a zero tail leaves too many
events and extra dropout is allowed, an arm-specific dropout hazard is solved instead with the
tail continuing at the last hazard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from prrt_bayes.core.errors import InputError
from prrt_bayes.reconstruct.from_summaries import CensoringModel, _bisect, _counts, _km_path
from prrt_bayes.reconstruct.hazard_shapes import ShapedHazard
from prrt_bayes.reconstruct.targets import ArmTargets

MIN_TAIL_FRACTION = 0.05
"""A tail hazard below this fraction of the hazard just before the last point is implausible
(events would all but stop after a published median): the member is rejected."""
_COARSE = np.linspace(-0.3, 0.3, 31)
_FINE = np.linspace(-0.02, 0.02, 41)


class Infeasible(Exception):
    """This arm's targets cannot be met under the member's assumptions (message says why)."""


@dataclass(frozen=True)
class ArmShape:
    """The shape assumptions of one arm.

    Attributes
    ----------
    slope : log-hazard slope inside the intervals between published points (0 = constant).
    tail_slope : log-hazard slope after the last published point.
    early : ``(t_e, factor)``: hazard before the first assessment ``t_e`` is ``factor`` times
        the first interval's average, or None.
    allow_dropout : extra arm-specific dropout may absorb too few events.
    unpinned_level : where the tail level sits when the event count does not pin it (step 2 of
        the module doc), as a fraction ``u`` of the way on the log scale from the threshold
        (0) to the default level (1: the hazard just before the last point, or twice the
        threshold when that is lower); None: the default level.
    """

    slope: float = 0.0
    tail_slope: float = 0.0
    early: tuple[float, float] | None = None
    allow_dropout: bool = False
    unpinned_level: float | None = None


@dataclass(frozen=True)
class BuiltArm:
    """Rows of one arm on the grid, the generating hazard and censoring; ``tail_pinned`` is
    False when the event count left the tail level open (step 2 of the module doc)."""

    times: np.ndarray
    events: np.ndarray
    unfollowed: int
    hazard: ShapedHazard
    censoring: CensoringModel
    tail_pinned: bool = True


def grid_for(censoring: CensoringModel, extra_times, cells: int) -> np.ndarray:
    """Calculation grid: equal cells to the maximum follow-up plus the given times.

    Parameters
    ----------
    censoring
        Censoring model (its ``maximum`` and ``minimum`` are used).
    extra_times
        Times to include (published points, first assessment).
    cells
        Number of equal cells.

    Returns
    -------
    numpy.ndarray
        Sorted grid; time 0 only when patients randomised after the cut-off are censored there.
    """
    grid = np.union1d(np.linspace(0.0, censoring.maximum, cells + 1),
                      [t for t in extra_times if 0 < t < censoring.maximum])
    return grid if censoring.minimum < 0 else grid[1:]


def _initial_points(t: ArmTargets, censoring: CensoringModel) -> list[tuple[float, str, float]]:
    points = [(float(k), "landmark", float(v)) for k, v in t.landmarks.items()]
    if t.median is not None:
        points.append((float(t.median), "median", 0.5))
    for k, count in t.events_by.items():
        under = float(np.mean(censoring.survival(np.linspace(0, k, 50))))
        points.append((float(k), "count", 1 - count / (t.n * max(under, 1e-6))))
    points.sort()
    for (t0, _, s0), (t1, _, s1) in zip(points, points[1:], strict=False):
        if t1 == t0 or s1 >= s0 or not 0 < s1 < 1:
            raise Infeasible(f"survival targets at {t0:g} and {t1:g} are not decreasing")
    return points


def _tune_points(t: ArmTargets, shape: ArmShape, censoring: CensoringModel, grid: np.ndarray):
    """Model survival at each published point so the rows reproduce it (module doc, step 1)."""
    cens = censoring.survival(grid)
    adjusted: list[tuple[float, float]] = []
    points = _initial_points(t, censoring)
    for j, (time, kind, value) in enumerate(points):
        upper = adjusted[-1][1] if adjusted else 1.0
        lower = points[j + 1][2] * 0.5 if j + 1 < len(points) else 0.0
        stop = int(np.searchsorted(grid, time, side="right"))

        def loss(offset: float, time=time, kind=kind, value=value, stop=stop,
                 upper=upper, lower=lower) -> float:
            candidate = value * math.exp(offset)
            if not lower < candidate < upper:
                return math.inf
            hazard = ShapedHazard(tuple([*adjusted, (time, candidate)]), shape.slope, 0.0, 0.0,
                                  shape.early)
            events, censored = _counts(t.n, hazard.survival(grid[:stop]), cens[:stop])
            if kind == "count":
                return abs(int(events.sum()) - int(t.events_by[time]))
            km = _km_path(t.n, events, censored)
            if kind == "median":
                crossed = np.flatnonzero(km <= 0.5)
                return abs(grid[crossed[0]] - time) if crossed.size else math.inf
            return abs(km[-1] - value)

        best = 0.0
        for offsets in (_COARSE, _FINE):
            centre = best
            best = min((loss(centre + o), abs(centre + o), centre + o) for o in offsets)[2]
        if math.isinf(loss(best)):
            raise Infeasible(f"no model survival at {time:g} months reproduces the {kind}")
        adjusted.append((time, value * math.exp(best)))
    return adjusted


def _solve_dropout(t, events, shape, points, censoring, base_rate, counts_with):
    """Extra dropout (on top of ``base_rate``) giving exactly ``events``.

    The tail starts at the hazard just before the last point and follows the tail rule's slope.
    """
    last = points[-1][0]
    level = float(ShapedHazard(points, shape.slope, 0.0, 0.0, shape.early).hazard(
        np.asarray(last - 1e-9)))
    hazard = ShapedHazard(points, shape.slope, shape.tail_slope, level, shape.early)

    def at_dropout(log_extra: float):
        cens = CensoringModel(censoring.minimum, censoring.maximum,
                              base_rate + math.exp(log_extra))
        return counts_with(hazard, cens)

    try:
        log_extra, counts = _bisect(at_dropout, math.log(1e-9), math.log(10.0), events)
    except InputError as err:
        raise Infeasible(str(err)) from None
    cens = CensoringModel(censoring.minimum, censoring.maximum, base_rate + math.exp(log_extra))
    return hazard, cens, counts


def _tail_not_pinned(at_level, log_under: float, log_level: float, events: int, points,
                     shape: ArmShape):
    """Tail level (log scale) when ``events`` is the most the rows can hold (module doc).

    Every level above a threshold then reproduces the count (e.g. every patient has an event),
    up to death within one grid cell, so the count does not pin the tail: by default it
    continues at the hazard just before the last published point, or at the threshold when
    that is too low to give ``events``; with ``shape.unpinned_level = u`` it sits at
    ``threshold + u (default - threshold)`` on the log scale (``default = threshold + log 2``
    when the two coincide). The threshold is bisected on ``[log_under, log_level]`` (count
    monotone).
    """
    for _ in range(60):
        mid = (log_under + log_level) / 2
        if int(at_level(mid)[0].sum()) >= events:
            log_level = mid
        else:
            log_under = mid
    threshold = log_level
    if points:
        before = float(ShapedHazard(points, shape.slope, 0.0, 0.0, shape.early).hazard(
            np.asarray(points[-1][0] - 1e-9)))
        if before > 0 and math.log(before) > log_level:
            log_level = math.log(before)
    if shape.unpinned_level is not None:
        top = log_level if log_level > threshold else threshold + math.log(2)
        log_level = threshold + shape.unpinned_level * (top - threshold)
    return log_level, at_level(log_level)


def build_arm(t: ArmTargets, events: int, shape: ArmShape, censoring: CensoringModel,
              cells: int, first_assessment: float | None = None) -> BuiltArm:
    """Pseudo-IPD of one arm with exactly ``events`` events (module doc).

    Parameters
    ----------
    t
        The arm's published targets.
    events
        Events the rows must hold.
    shape
        The shape assumptions.
    censoring
        Censoring model of the arm.
    cells
        Equal cells of the calculation grid.
    first_assessment
        Time of the first tumour assessment (a grid time), or None.

    Returns
    -------
    BuiltArm
        Rows and models.

    Raises
    ------
    Infeasible
        When the targets cannot be met under these assumptions.
    """
    extra = [*t.landmarks, *t.events_by, *([t.median] if t.median else []),
             *([first_assessment] if first_assessment else [])]
    grid = grid_for(censoring, extra, cells)
    points = tuple(_tune_points(t, shape, censoring, grid))

    def counts_with(hazard: ShapedHazard, cens: CensoringModel):
        return _counts(t.n, hazard.survival(grid), cens.survival(grid))

    def at_level(log_level: float):
        hazard = ShapedHazard(points, shape.slope, shape.tail_slope, math.exp(log_level),
                              shape.early)
        return counts_with(hazard, censoring)

    bounds = (math.log(1e-9 / censoring.maximum), math.log(1e3 * len(grid) / censoring.maximum))
    low, high = (int(at_level(b)[0].sum()) for b in bounds)
    if events > high:
        raise Infeasible(f"{events} events is more than the rows can hold ({high})")
    pinned = True
    if low <= events:
        log_level, (ev, ce) = _bisect(at_level, *bounds, events)
        if low < events == high:
            pinned = False
            log_level, (ev, ce) = _tail_not_pinned(at_level, bounds[0], log_level, events,
                                                   points, shape)
        hazard = ShapedHazard(points, shape.slope, shape.tail_slope, math.exp(log_level),
                              shape.early)
        if points:
            before = float(hazard.hazard(np.asarray(points[-1][0] - 1e-9)))
            if hazard.tail_level < MIN_TAIL_FRACTION * before:
                raise Infeasible(
                    f"the hazard after {points[-1][0]:g} months collapses to "
                    f"{hazard.tail_level:.2g} (below {MIN_TAIL_FRACTION:g} x the hazard "
                    f"{before:.2g} before it)")
    elif shape.allow_dropout and points:
        base_rate = censoring.dropout_rate
        for _ in range(5):  # dropout and points depend on each other: alternate
            hazard, censoring, (ev, ce) = _solve_dropout(t, events, shape, points, censoring,
                                                         base_rate, counts_with)
            points = tuple(_tune_points(t, shape, censoring, grid))
        hazard, censoring, (ev, ce) = _solve_dropout(t, events, shape, points, censoring,
                                                     base_rate, counts_with)
    else:
        raise Infeasible(f"{events} events is fewer than the rows hold with no hazard after "
                         f"the last point ({low})")
    times = np.concatenate([np.repeat(grid, ev), np.repeat(grid, ce)])
    flags = np.concatenate([np.ones(int(ev.sum()), int), np.zeros(int(ce.sum()), int)])
    order = np.lexsort((1 - flags, times))
    times, flags = times[order], flags[order]
    followed = times > 0
    return BuiltArm(times[followed], flags[followed], int((~followed).sum()), hazard, censoring,
                    pinned)
