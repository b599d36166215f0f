r"""Survival quantities from posterior draws: S(t), h(t), median, landmark, RMST, mean, HR(t).

Everything works on draws of the survival function on a time grid: an ``xarray.DataArray`` with
dims ``(chain, draw[, arm], time)`` and a ``time`` coordinate in months. Any model can feed it:

- piecewise-constant hazards (the PH model): :func:`piecewise_survival`, exact;
- a parametric survival function :math:`S(t \mid \theta)`: :func:`survival_from_function` with a
  callable taking the time grid and the posterior parameter DataArrays, e.g.
  ``survival_from_function(lambda t, shape, scale: np.exp(-(t / scale) ** shape),
  {"shape": post["shape"], "scale": post["scale"]}, grid)``;
- an array of S on a grid built elsewhere (wrap it in a DataArray with a ``time`` dim).

Between grid points S is interpolated log-linearly (piecewise-exponential), which is exact for
piecewise-constant hazards whose breakpoints are on the grid and second-order accurate
otherwise. So, with :math:`u_k = \log S(t_k)`,

.. math::

    \text{RMST}(t^*) = \int_0^{t^*} S(t)\,dt
      = \sum_k (t_{k+1} - t_k)\,\frac{S(t_k) - S(t_{k+1})}{u_k - u_{k+1}},

the median is the first :math:`t` with :math:`S(t) = 1/2` (``inf`` if S stays above 1/2 on the
grid), and the mean survival is the RMST up to a horizon (default 30 years = 360 months), which
must not be shorter than the observed follow-up (the mean would then ignore observed data).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import xarray as xr

from prrt_bayes.core import vocabulary as vocab
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.summary import summarize_draws
from prrt_bayes.core.vocabulary import Arm, Quantity

HORIZON_MONTHS = 360.0
"""Default horizon for mean survival: 30 years, a lifetime horizon for adults with NETs."""
_TINY = 1e-300


def time_grid(
    horizon: float = HORIZON_MONTHS, *, step: float = 0.25, include: Sequence[float] = ()
) -> np.ndarray:
    """Grid ``0, step, 2 step, ..., horizon`` plus the points in ``include`` (<= horizon).

    Parameters
    ----------
    horizon
        Last grid point (months, > 0; default 360 = 30 years); always on the grid, even when
        it is not a multiple of ``step``.
    step
        Spacing of the regular grid (months, > 0).
    include
        Extra time points (e.g. landmarks, RMST times) to put on the grid; points outside
        ``[0, horizon]`` are dropped silently.

    Returns
    -------
    numpy.ndarray
        A new 1-D float array, sorted and without duplicates, from 0 to ``horizon``.

    Raises
    ------
    InputError
        When ``horizon`` or ``step`` is not > 0.
    """
    if horizon <= 0 or step <= 0:
        raise InputError(f"horizon ({horizon}) and step ({step}) must be > 0")
    grid = np.arange(0.0, horizon + step / 2, step)
    extra = np.asarray([t for t in include if 0 <= t <= horizon], dtype=float)
    return np.unique(np.concatenate([grid[grid <= horizon], extra, [horizon]]))


def _time_coord(times: Sequence[float] | np.ndarray) -> xr.DataArray:
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or t.size < 2 or t[0] != 0 or np.any(np.diff(t) <= 0):
        raise InputError("the time grid must start at 0 and be strictly increasing")
    return xr.DataArray(t, dims="time", coords={"time": t})


def survival_from_function(
    fn: Callable[..., xr.DataArray],
    params: Mapping[str, xr.DataArray],
    times: Sequence[float] | np.ndarray,
) -> xr.DataArray:
    """Evaluate ``fn(t, **params)`` = S(t | params) for all draws on the grid ``times``.

    Parameters
    ----------
    fn
        Survival function called as ``fn(t, **params)``; ``t`` is passed as a DataArray with
        dim (and coordinate) ``time``, and xarray broadcasting does the rest. It must return a
        DataArray with a ``time`` dim.
    params
        Parameter name -> posterior draws (e.g. dims ``chain, draw``); they may carry extra
        dims such as ``arm``.
    times
        Time grid in months: starts at 0, strictly increasing, at least 2 points (e.g. from
        :func:`time_grid`).

    Returns
    -------
    xarray.DataArray
        S(t) named ``survival``, dims ``(..., time)`` (``time`` moved last).

    Raises
    ------
    InputError
        When ``times`` does not start at 0 or is not strictly increasing.
    TypeError
        When ``fn`` does not return a DataArray with a ``time`` dim.
    """
    surv = fn(_time_coord(times), **params)
    if not isinstance(surv, xr.DataArray) or "time" not in surv.dims:
        raise TypeError("the survival function must return a DataArray with a 'time' dim")
    return surv.transpose(..., "time").rename("survival")


def _overlap(times: np.ndarray, edges: np.ndarray) -> xr.DataArray:
    """Time spent in each interval (edges[j], edges[j+1]] by time t: dims (time, interval)."""
    t = times[:, None]
    width = np.clip(np.minimum(t, edges[1:]) - edges[:-1], 0.0, None)
    return xr.DataArray(width, dims=("time", "interval"), coords={"time": times})


def piecewise_survival(
    hazard: xr.DataArray, edges: np.ndarray, times: Sequence[float] | np.ndarray
) -> xr.DataArray:
    r"""S(t) = exp(-sum_j h_j |(0, t] ∩ I_j|) from piecewise-constant hazards (dim ``interval``).

    Exact at every grid point: the cumulative hazard is the hazard times the time spent in each
    interval up to t.

    Parameters
    ----------
    hazard
        Hazard draws per month with an ``interval`` dim, e.g. ``(chain, draw, arm, interval)``
        (:attr:`prrt_bayes.survival.ph.PHFit.hazard_draws`).
    edges
        Interval edges ``[0, c_1, ..., c_{K-1}, inf]`` (months), one more than the intervals
        (:attr:`prrt_bayes.survival.intervals.IntervalData.edges`).
    times
        Time grid in months: starts at 0, strictly increasing, at least 2 points.

    Returns
    -------
    xarray.DataArray
        S(t) named ``survival``, dims of ``hazard`` with ``interval`` replaced by ``time``
        (last), e.g. ``(chain, draw, arm, time)``.

    Raises
    ------
    InputError
        When ``times`` does not start at 0 or is not strictly increasing.
    """
    t = _time_coord(times)
    cumhaz = xr.dot(hazard, _overlap(t.values, np.asarray(edges, dtype=float)), dim="interval")
    return np.exp(-cumhaz).transpose(..., "time").rename("survival")


def piecewise_hazard(
    hazard: xr.DataArray, edges: np.ndarray, times: Sequence[float] | np.ndarray
) -> xr.DataArray:
    """h(t) on the grid from piecewise-constant hazards (t in (c_{j-1}, c_j] -> h_j).

    Parameters
    ----------
    hazard
        Hazard draws per month with an ``interval`` dim, e.g. ``(chain, draw, arm, interval)``.
    edges
        Interval edges ``[0, c_1, ..., c_{K-1}, inf]`` (months); t = 0 gets the first
        interval's hazard, a time on a cut point the hazard of the interval it closes.
    times
        Time grid in months: starts at 0, strictly increasing, at least 2 points.

    Returns
    -------
    xarray.DataArray
        h(t) per month named ``hazard``, dims of ``hazard`` with ``interval`` replaced by
        ``time`` (last); ``interval`` is kept as a coordinate along ``time``.

    Raises
    ------
    InputError
        When ``times`` does not start at 0 or is not strictly increasing.
    """
    t = _time_coord(times)
    cuts = np.asarray(edges, dtype=float)[1:-1]
    idx = xr.DataArray(np.searchsorted(cuts, t.values, side="left"), dims="time")
    out = hazard.isel(interval=idx).assign_coords(time=t.values)
    return out.transpose(..., "time").rename("hazard")


def hazard_from_survival(surv: xr.DataArray) -> xr.DataArray:
    """h(t) = -d log S / dt by finite differences on the grid (for parametric curves).

    Parameters
    ----------
    surv
        Survival draws with a ``time`` dim and coordinate (months), e.g. from
        :func:`survival_from_function`; S is clipped at 1e-300 before the log.

    Returns
    -------
    xarray.DataArray
        h(t) per month named ``hazard``, same dims as ``surv``: second-order central
        differences inside the grid, one-sided at its two ends (``DataArray.differentiate``).
    """
    log_s = np.log(np.clip(surv, _TINY, None))
    return (-log_s.differentiate("time")).rename("hazard")


def _check_within(surv: xr.DataArray, t: float, what: str) -> None:
    t_max = float(surv["time"].max())
    if not 0 <= t <= t_max:
        raise InputError(f"{what} {t:g} is outside the time grid [0, {t_max:g}]")


def _log_interp(times: np.ndarray, log_s: np.ndarray, t: float) -> np.ndarray:
    """log S(t) by linear interpolation of log S along the last axis."""
    i = min(int(np.searchsorted(times, t, side="right")) - 1, len(times) - 2)
    w = (t - times[i]) / (times[i + 1] - times[i])
    return (1 - w) * log_s[..., i] + w * log_s[..., i + 1]


def survival_at(surv: xr.DataArray, t: float) -> xr.DataArray:
    """Landmark survival S(t) per draw (log-linear interpolation between grid points).

    Parameters
    ----------
    surv
        Survival draws ``(chain, draw[, arm], time)`` with a ``time`` coordinate (months).
    t
        Landmark time in months, within the grid ``[0, max time]``.

    Returns
    -------
    xarray.DataArray
        S(t) named ``survival``, dims of ``surv`` without ``time``.

    Raises
    ------
    InputError
        When ``t`` lies outside the time grid.
    """
    _check_within(surv, t, "landmark time")

    def _at(s: np.ndarray) -> np.ndarray:
        return np.exp(_log_interp(surv["time"].values, np.log(np.clip(s, _TINY, None)), t))

    return xr.apply_ufunc(_at, surv, input_core_dims=[["time"]]).rename("survival")


def median_survival(surv: xr.DataArray) -> xr.DataArray:
    """Median survival per draw: first t with S(t) = 0.5; ``inf`` if not reached on the grid.

    Parameters
    ----------
    surv
        Survival draws ``(chain, draw[, arm], time)`` with a ``time`` coordinate (months).

    Returns
    -------
    xarray.DataArray
        Median in months named ``median``, dims of ``surv`` without ``time``; log-linear
        interpolation between the grid points around S = 0.5, ``inf`` where S stays above 0.5.
    """
    times = surv["time"].values

    def _median(s: np.ndarray) -> np.ndarray:
        log_s = np.log(np.clip(s, _TINY, None))
        below = log_s <= np.log(0.5)
        reached = below.any(axis=-1)
        i = np.argmax(below, axis=-1).clip(1)
        lo = np.take_along_axis(log_s, (i - 1)[..., None], -1)[..., 0]
        hi = np.take_along_axis(log_s, i[..., None], -1)[..., 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(lo > hi, (np.log(0.5) - lo) / (hi - lo), 0.0)
        t = times[i - 1] + frac * (times[i] - times[i - 1])
        return np.where(reached, t, np.inf)

    return xr.apply_ufunc(_median, surv, input_core_dims=[["time"]]).rename("median")


def _segment_integrals(times: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Exact integral of the log-linear interpolant over each grid segment (last axis)."""
    log_s = np.log(np.clip(s, _TINY, None))
    dt = np.diff(times)
    d_log = log_s[..., :-1] - log_s[..., 1:]
    s0, s1 = s[..., :-1], s[..., 1:]
    small = np.abs(d_log) < 1e-8
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = (s0 - s1) / np.where(small, 1.0, d_log)
    return dt * np.where(small, 0.5 * (s0 + s1), exact)


def rmst(surv: xr.DataArray, t_star: float) -> xr.DataArray:
    """Restricted mean survival time: integral of S from 0 to ``t_star``, per draw.

    Parameters
    ----------
    surv
        Survival draws ``(chain, draw[, arm], time)`` with a ``time`` coordinate (months).
    t_star
        Restriction time in months, within the grid ``[0, max time]`` (need not be a grid
        point).

    Returns
    -------
    xarray.DataArray
        RMST in months named ``rmst``, dims of ``surv`` without ``time`` (exact integral of the
        log-linear interpolant, see the module docstring).

    Raises
    ------
    InputError
        When ``t_star`` lies outside the time grid.
    """
    _check_within(surv, t_star, "RMST time")
    times = surv["time"].values

    def _rmst(s: np.ndarray) -> np.ndarray:
        k = int(np.searchsorted(times, t_star, side="left"))
        if times[k] == t_star:
            return _segment_integrals(times[: k + 1], s[..., : k + 1]).sum(axis=-1)
        log_end = _log_interp(times, np.log(np.clip(s, _TINY, None)), t_star)
        tt = np.append(times[:k], t_star)
        ss = np.concatenate([s[..., :k], np.exp(log_end)[..., None]], axis=-1)
        return _segment_integrals(tt, ss).sum(axis=-1)

    return xr.apply_ufunc(_rmst, surv, input_core_dims=[["time"]]).rename("rmst")


def mean_survival(
    surv: xr.DataArray, *, follow_up: float, horizon: float = HORIZON_MONTHS
) -> xr.DataArray:
    """Mean survival restricted to ``horizon`` months (the RMST at the horizon).

    Parameters
    ----------
    surv
        Survival draws ``(chain, draw[, arm], time)`` with a ``time`` coordinate (months).
    follow_up
        Longest observed follow-up (months); a horizon shorter than it is an
        :class:`InputError` (the extrapolated mean would discard observed survival).
    horizon
        Time horizon (default 360 months = 30 years); the grid must reach it.

    Returns
    -------
    xarray.DataArray
        Mean survival in months named ``mean_survival``, dims of ``surv`` without ``time``.

    Raises
    ------
    InputError
        When ``horizon`` is shorter than ``follow_up`` or beyond the end of the grid.
    """
    if horizon < follow_up:
        raise InputError(
            f"horizon {horizon:g} months is shorter than the follow-up {follow_up:g} months",
            field="horizon",
        )
    return rmst(surv, horizon).rename("mean_survival")


def hazard_ratio_over_time(
    hazard: xr.DataArray, *, treatment: str = Arm.LU177.value, control: str = Arm.CONTROL.value
) -> xr.DataArray:
    """HR(t) = h_treatment(t) / h_control(t) per draw, from hazards with an ``arm`` dim.

    Parameters
    ----------
    hazard
        Hazard draws with an ``arm`` dim, e.g. ``(chain, draw, arm, time)`` from
        :func:`piecewise_hazard` or :func:`hazard_from_survival`.
    treatment, control
        Labels of the two arms on the ``arm`` coordinate (numerator, denominator).

    Returns
    -------
    xarray.DataArray
        HR(t) named ``hazard_ratio``, dims of ``hazard`` without ``arm``.
    """
    return (hazard.sel(arm=treatment) / hazard.sel(arm=control)).rename("hazard_ratio")


def rmst_difference(
    surv: xr.DataArray, t_star: float, *, treatment: str = Arm.LU177.value,
    control: str = Arm.CONTROL.value,
) -> xr.DataArray:
    """RMST(treatment) - RMST(control) up to ``t_star``, per draw.

    Parameters
    ----------
    surv
        Survival draws with an ``arm`` dim, ``(chain, draw, arm, time)`` (months).
    t_star
        Restriction time in months, within the time grid.
    treatment, control
        Labels of the two arms on the ``arm`` coordinate.

    Returns
    -------
    xarray.DataArray
        Difference in months named ``rmst_difference``, dims of ``surv`` without ``arm`` and
        ``time``.

    Raises
    ------
    InputError
        When ``t_star`` lies outside the time grid.
    """
    r = rmst(surv, t_star)
    return (r.sel(arm=treatment) - r.sel(arm=control)).rename("rmst_difference")


def survival_summary(
    surv: xr.DataArray,
    *,
    follow_up: float,
    landmarks: Sequence[float] = (),
    rmst_times: Sequence[float] = (),
    horizon: float = HORIZON_MONTHS,
    treatment: str | None = Arm.LU177.value,
    control: str | None = Arm.CONTROL.value,
    endpoint: str = "",
    analysis: str = "",
) -> tuple[dict[str, xr.DataArray], list[dict]]:
    """All scalar survival quantities of a fit, as draws and as summary rows.

    Parameters
    ----------
    surv
        Survival draws ``(chain, draw[, arm], time)``; the grid must reach ``horizon``.
    follow_up
        Longest observed follow-up in months (checked against ``horizon``).
    landmarks, rmst_times
        Times t* (months) for ``survival_probability_<t*>m`` and ``rmst_<t*>m``.
    horizon
        Horizon of ``mean_survival_months`` (months; default 360 = 30 years), see
        :func:`mean_survival`.
    treatment, control
        Arm labels for the contrasts (``rmst_difference_<t*>m``,
        ``mean_survival_difference_months``, group ``<treatment>_vs_<control>``); pass
        ``treatment=None`` to skip contrasts. Contrasts are also skipped when ``surv`` has no
        ``arm`` dim.
    endpoint, analysis
        Labels written into every summary row.

    Returns
    -------
    draws : dict[str, xarray.DataArray]
        Quantity name -> draws (dims ``chain, draw[, arm]``): ``median_survival_months``,
        ``mean_survival_months``, the landmark and RMST quantities, then the contrasts.
    rows : list[dict]
        :func:`prrt_bayes.core.summary.summarize_draws` rows, one per quantity and arm (group
        ``all`` without an ``arm`` dim), then one per contrast.

    Raises
    ------
    InputError
        When ``horizon`` is shorter than ``follow_up``, or a landmark, RMST time or the
        horizon lies outside the time grid.
    """
    draws: dict[str, xr.DataArray] = {
        Quantity.MEDIAN_SURVIVAL: median_survival(surv),
        Quantity.MEAN_SURVIVAL: mean_survival(surv, follow_up=follow_up, horizon=horizon),
    }
    for t in landmarks:
        draws[vocab.survival_probability(t)] = survival_at(surv, t)
    for t in rmst_times:
        draws[vocab.rmst(t)] = rmst(surv, t)
    contrast = {}
    if treatment is not None and "arm" in surv.dims:
        group = vocab.contrast(treatment, control)
        for t in rmst_times:
            r = draws[vocab.rmst(t)]
            contrast[vocab.rmst_difference(t)] = r.sel(arm=treatment) - r.sel(arm=control)
        m = draws[Quantity.MEAN_SURVIVAL]
        contrast[Quantity.MEAN_SURVIVAL_DIFFERENCE] = m.sel(arm=treatment) - m.sel(arm=control)
    rows = []
    for name, da in draws.items():
        arms = da["arm"].values.tolist() if "arm" in da.dims else ["all"]
        for arm in arms:
            sub = da.sel(arm=arm) if "arm" in da.dims else da
            rows.append(summarize_draws(sub, quantity=name, group=str(arm), endpoint=endpoint,
                                        analysis=analysis))
    for name, da in contrast.items():
        rows.append(summarize_draws(da, quantity=name, group=group, endpoint=endpoint,
                                    analysis=analysis))
    draws.update(contrast)
    return draws, rows
