"""Hazard families between and after published survival points, for reconstruction ensembles.

A published set of survival points ``(tau_j, S_j)`` fixes the cumulative hazard gained in each
interval ``(tau_{j-1}, tau_j]`` but not how it is spread inside the interval, nor the hazard after
the last point. :class:`ShapedHazard` makes both explicit:

- ``slope`` (per month): inside each interval the log-hazard is linear in time with this slope,
  ``h(t) = c_j exp(slope (t - tau_{j-1}))``, ``c_j`` chosen so ``S(tau_j) = S_j`` exactly.
  ``slope = 0`` is the piecewise-constant hazard of :mod:`prrt_bayes.reconstruct.from_summaries`.
- ``early``: optionally ``(t_e, f)``: before ``t_e`` (a first tumour assessment) the first
  interval's hazard is ``f`` times its average, the rest of the interval carries the remainder.
- ``tail_slope`` and ``tail_level``: after the last point the hazard is
  ``tail_level exp(tail_slope (t - tau_k))`` (``tail_slope = 0``: constant).

Without survival points the whole time line is the tail (``tau_k = 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TAIL_SLOPES = {
    "constant": None,
    "continue_slope": "slope",
    "halving_24m": -math.log(2) / 24,
    "doubling_24m": math.log(2) / 24,
    "halving_12m": -math.log(2) / 12,
    "doubling_12m": math.log(2) / 12,
}
"""Tail rules: the log-hazard slope after the last point (``"slope"``: the shape's own slope)."""


def _ramp(dt: np.ndarray, slope: float) -> np.ndarray:
    """``integral_0^dt exp(slope u) du`` (``dt`` for a zero slope)."""
    if abs(slope) < 1e-12:
        return dt
    return np.expm1(slope * dt) / slope


@dataclass(frozen=True)
class ShapedHazard:
    """Hazard through survival points with a log-linear shape and an explicit tail (module doc).

    Attributes
    ----------
    points : ``((tau_j, S_j), ...)``, times increasing, survival decreasing in (0, 1).
    slope : log-hazard slope inside the intervals (per month).
    tail_slope : log-hazard slope after the last point.
    tail_level : hazard just after the last point.
    early : ``(t_e, f)`` or None: before ``t_e`` the first interval's hazard is ``f`` times its
        average (``t_e`` below the first point).
    """

    points: tuple[tuple[float, float], ...]
    slope: float
    tail_slope: float
    tail_level: float
    early: tuple[float, float] | None = None

    def _knots(self) -> list[tuple[float, float, float, float]]:
        """Segments ``(start, end, cumulative hazard gained, slope)`` up to the last point."""
        segments, t_prev, h_prev = [], 0.0, 0.0
        for j, (time, surv) in enumerate(self.points):
            gain = -math.log(surv) - h_prev
            if j == 0 and self.early is not None and 0 < self.early[0] < time:
                t_e, factor = self.early
                early_gain = factor * gain * t_e / time
                segments.append((0.0, t_e, early_gain, 0.0))
                segments.append((t_e, time, gain - early_gain, self.slope))
            else:
                segments.append((t_prev, time, gain, self.slope))
            t_prev, h_prev = time, -math.log(surv)
        return segments

    def last_time(self) -> float:
        """Time of the last survival point (0 without points).

        Returns
        -------
        float
            ``tau_k``, where the tail starts.
        """
        return self.points[-1][0] if self.points else 0.0

    def cumulative_hazard(self, t) -> np.ndarray:
        """H(t), the integral of the hazard from 0 to t.

        Parameters
        ----------
        t
            Time or array of times (array-like, >= 0).

        Returns
        -------
        numpy.ndarray
            Cumulative hazard, shape of ``t``.
        """
        t = np.asarray(t, dtype=float)
        total = np.zeros_like(t)
        for start, end, gain, slope in self._knots():
            width = end - start
            inside = np.clip(t - start, 0.0, width)
            total = total + gain * _ramp(inside, slope) / _ramp(np.asarray(width), slope)
        start = self.last_time()
        return total + self.tail_level * _ramp(np.clip(t - start, 0.0, None), self.tail_slope)

    def survival(self, t) -> np.ndarray:
        """S(t) = exp(-H(t)).

        Parameters
        ----------
        t
            Time or array of times (array-like, >= 0).

        Returns
        -------
        numpy.ndarray
            Survival probabilities, shape of ``t``.
        """
        return np.exp(-self.cumulative_hazard(t))

    def hazard(self, t) -> np.ndarray:
        """h(t), the hazard at each time (right-continuous at the knots).

        Parameters
        ----------
        t
            Time or array of times (array-like, >= 0).

        Returns
        -------
        numpy.ndarray
            Hazard per month, shape of ``t``.
        """
        t = np.asarray(t, dtype=float)
        out = np.zeros_like(t)
        for start, end, gain, slope in self._knots():
            inside = (t >= start) & (t < end)
            level = gain / float(_ramp(np.asarray(end - start), slope))
            out = np.where(inside, level * np.exp(slope * (t - start)), out)
        tail = t >= self.last_time()
        return np.where(tail, self.tail_level * np.exp(self.tail_slope
                                                       * (t - self.last_time())), out)
