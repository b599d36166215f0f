r"""Cubic M-spline basis for a smooth hazard, and its integrals (I-splines), in NumPy.

An M-spline basis (Ramsay 1988) is a B-spline basis rescaled so that each function integrates
to 1: :math:`M_k(t) = \frac{o}{\kappa_{k+o} - \kappa_k} B_k(t)` for order :math:`o` (degree + 1)
and the clamped knot sequence :math:`\kappa`. A hazard :math:`h(t) = \eta \sum_k p_k M_k(t)`
with :math:`p_k \ge 0` is then non-negative, smooth, and its cumulative hazard is
:math:`H(t) = \eta \sum_k p_k I_k(t)` with :math:`I_k(t) = \int_0^t M_k` — linear in
:math:`p`, which is what lets :mod:`prrt_bayes.survival.flexible` aggregate its likelihood.
This is the basis of survextrap (Jackson 2023, BMC Med Res Methodol 23:282).

**Smooth at the boundary** (survextrap's default ``bsmooth = TRUE``, derivation by I. Timmins):
the last three cubic functions are joined into one, :math:`\tilde M = (c_1 M_{K-2} + c_2
M_{K-1} + c_3 M_K) / (c_1 + c_2 + c_3)`, with :math:`c` chosen so that its first and second
derivatives vanish at the boundary knot :math:`b` (the only function that is not zero there is
:math:`M_K`; only :math:`M_{K-1}, M_K` have a slope there and only the last three a curvature).
Every hazard of the basis therefore meets the boundary flat, and the extrapolated hazard — held
at its boundary value beyond :math:`b`, as survextrap does — continues the fitted curve's level
instead of the end of a cubic piece that only the last few events inform. The joined function
is non-negative (:math:`c > 0`) and, normalised by :math:`\sum c`, integrates to 1 like the
others. A basis with :math:`n` interior knots has :math:`n + 2` functions (survextrap: ``df =
length(knots) + degree - 2``).

Beyond the boundary the basis functions are constant and their integrals grow linearly. The
weights :attr:`MSplineBasis.constant_weights` make the hazard constant on the whole line
(:math:`\sum_k \bar p_k M_k(t) = 1 / b`), the centre of the smoothing prior; a constant
hazard is smooth at the boundary, so these weights exist in the joined basis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import BSpline

from prrt_bayes.core.errors import InputError

DEGREE = 3
"""Cubic splines: the hazard has a continuous second derivative."""


@dataclass(frozen=True)
class MSplineBasis:
    """Cubic M-spline basis on ``[0, boundary]`` with the given interior knots.

    Parameters
    ----------
    interior_knots
        Strictly increasing knots (months) inside ``(0, boundary)``.
    boundary
        The last knot (months); the hazard is constant after it.
    """

    interior_knots: tuple[float, ...]
    boundary: float

    def __post_init__(self) -> None:
        knots = np.asarray(self.interior_knots, dtype=float)
        if not np.isfinite(self.boundary) or self.boundary <= 0:
            raise InputError(f"the spline boundary must be a positive number of months, got "
                             f"{self.boundary!r}", field="boundary")
        if knots.size and (np.any(np.diff(knots) <= 0) or knots[0] <= 0
                           or knots[-1] >= self.boundary):
            raise InputError("interior knots must increase strictly inside (0, boundary): "
                             f"{knots.tolist()} with boundary {self.boundary:g}", field="knots")

    @property
    def knot_vector(self) -> np.ndarray:
        """The clamped knot sequence (0 and the boundary repeated degree + 1 times)."""
        order = DEGREE + 1
        return np.concatenate([np.zeros(order), self.interior_knots,
                               np.full(order, float(self.boundary))])

    @property
    def size(self) -> int:
        """Number of basis functions: interior knots + 2 (the last three cubic ones joined)."""
        return len(self.interior_knots) + DEGREE - 1

    @property
    def _scale(self) -> np.ndarray:
        knots = self.knot_vector
        order = DEGREE + 1
        return order / (knots[order:] - knots[:-order])

    def _cubic(self) -> BSpline:
        """The ``interior + 4`` cubic M-splines before the boundary join."""
        return BSpline(self.knot_vector, np.diag(self._scale), DEGREE, extrapolate=False)

    @property
    def _join(self) -> np.ndarray:
        """Matrix ``(interior + 4, size)`` taking the cubic M-splines to the joined basis."""
        cubic = self._cubic()
        end = np.array([np.nextafter(float(self.boundary), 0.0)])
        value, slope, curvature = (np.nan_to_num(cubic.derivative(nu)(end))[0]
                                   for nu in (0, 1, 2))
        c3 = 1.0 / value[-1]
        c2 = -c3 * slope[-1] / slope[-2]
        c1 = (-c2 * curvature[-2] - c3 * curvature[-1]) / curvature[-3]
        c = np.array([c1, c2, c3])
        join = np.zeros((self.size + 2, self.size))
        join[:-3, :-1] = np.eye(self.size - 1)
        join[-3:, -1] = c / c.sum()
        return join

    @property
    def constant_weights(self) -> np.ndarray:
        """Weights :math:`\\bar p` (summing to 1) with :math:`\\sum_k \\bar p_k M_k = 1/b`."""
        cubic = 1.0 / self._scale
        cubic = cubic / cubic.sum()
        return np.append(cubic[:-3], cubic[-3:].sum())

    def _splines(self) -> tuple[BSpline, BSpline]:
        spline = BSpline(self.knot_vector, np.diag(self._scale) @ self._join, DEGREE,
                         extrapolate=False)
        return spline, spline.antiderivative()

    def basis(self, times: np.ndarray) -> np.ndarray:
        """:math:`M_k(t)` for every time: shape ``times.shape + (size,)``, per month.

        Parameters
        ----------
        times
            Times in months (>= 0), any shape.

        Returns
        -------
        numpy.ndarray
            Basis values; beyond the boundary, the values at the boundary.
        """
        spline, _ = self._splines()
        t = np.asarray(times, dtype=float)
        inside = np.clip(t, 0.0, np.nextafter(self.boundary, 0.0))
        return np.nan_to_num(spline(inside))

    def integral(self, times: np.ndarray) -> np.ndarray:
        """:math:`I_k(t) = \\int_0^t M_k(s)\\,ds` for every time: shape ``times.shape + (size,)``.

        Parameters
        ----------
        times
            Times in months (>= 0), any shape.

        Returns
        -------
        numpy.ndarray
            Integrals (each reaches 1 at the boundary), growing linearly beyond it at the
            boundary value of :meth:`basis`.
        """
        spline, antiderivative = self._splines()
        t = np.asarray(times, dtype=float)
        b = float(self.boundary)
        inside = np.clip(t, 0.0, b)
        values = np.nan_to_num(antiderivative(inside))
        at_boundary = np.nan_to_num(antiderivative(np.array([b])))[0]
        values = np.where((t >= b)[..., None], at_boundary, values)
        slope = np.nan_to_num(spline(np.array([np.nextafter(b, 0.0)])))[0]
        return values + np.maximum(t - b, 0.0)[..., None] * slope


def default_knots(event_times: np.ndarray, follow_up: float, *, n_interior: int,
                  boundary: float) -> tuple[float, ...]:
    """Interior knots at event-time quantiles, plus the end of follow-up when data reach past it.

    Parameters
    ----------
    event_times
        Observed event times (months) of the trial.
    follow_up
        The trial's last follow-up time (months).
    n_interior
        Number of knots placed at equally spaced quantiles of the event times (tied or
        out-of-range quantiles dropped).
    boundary
        The boundary knot (months): the end of follow-up, or the last time that external data
        reach. When it lies beyond the follow-up, the follow-up itself becomes a knot, so the
        hazard can change shape where the trial ends (informed by the external data).

    Returns
    -------
    tuple[float, ...]
        Strictly increasing interior knots inside ``(0, boundary)``.
    """
    times = np.asarray(event_times, dtype=float)
    probs = np.arange(1, n_interior + 1) / (n_interior + 1)
    knots = np.quantile(times, probs) if times.size else np.array([])
    if boundary > follow_up * 1.05:
        knots = np.append(knots, follow_up)
    knots = np.unique(np.round(knots, 6))
    return tuple(float(k) for k in knots if 0 < k < boundary * 0.999)
