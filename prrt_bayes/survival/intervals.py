r"""Individual patient data -> events and person-time per interval and arm.

With a hazard that is constant within intervals :math:`I_j = (c_{j-1}, c_j]`
(:math:`c_0 = 0`, :math:`c_K = \infty`), the log-likelihood of right-censored data is

.. math::

    \ell(\lambda) = \sum_i \Big[ d_i \log \lambda_{a_i j(i)}
                    - \sum_j \lambda_{a_i j}\, e_{ij} \Big]
                  = \sum_{a,j} \big[ D_{aj} \log \lambda_{aj} - \lambda_{aj} E_{aj} \big],

where :math:`e_{ij} = \max(0, \min(t_i, c_j) - c_{j-1})` is patient *i*'s time in interval *j*,
:math:`j(i)` the interval holding :math:`t_i`, and :math:`D_{aj}`, :math:`E_{aj}` the events and
person-time of arm *a* in interval *j* — sufficient statistics, so model cost grows with the
number of intervals, not patients. Treating :math:`D_{aj} \sim \text{Poisson}(\lambda_{aj}
E_{aj})` (the "Poisson trick") gives the same function of :math:`\lambda` plus the constant
:math:`\sum_{a,j} [D_{aj} \log E_{aj} - \log D_{aj}!]` (:func:`poisson_constant`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.vocabulary import Arm

TREATMENT: str = Arm.LU177.value
CONTROL: str = Arm.CONTROL.value
DEFAULT_N_INTERVALS = 6


def validate_ipd(
    ipd: pd.DataFrame,
    *,
    treatment: str | None = TREATMENT,
    control: str | None = CONTROL,
    require_events: bool = True,
) -> pd.DataFrame:
    """Check IPD and return a clean copy (``time`` float, ``event`` int, ``arm`` str).

    Parameters
    ----------
    ipd
        Columns ``time`` (>= 0, finite), ``event`` (0/1) and, when ``treatment`` is given,
        ``arm`` with exactly the labels ``treatment`` and ``control``.
    treatment, control
        Arm labels; ``treatment=None`` for single-group data (the ``arm`` column is ignored).
    require_events
        When True (default), each arm (or the single group) must have at least one event.

    Returns
    -------
    pandas.DataFrame
        A new frame with index ``0..n-1`` and columns ``time`` (float, months), ``event`` (int
        0/1) and, for two-arm data, ``arm`` (str); other columns are dropped.

    Raises
    ------
    InputError
        Not a DataFrame, no rows, missing columns, negative / non-finite / non-numeric times,
        event flags other than 0/1, unknown or missing arm labels, equal ``treatment`` and
        ``control`` labels, an arm without patients or events. The row (0-based position) is
        named where there is one.
    """
    if not isinstance(ipd, pd.DataFrame):
        raise InputError("IPD must be a pandas DataFrame with columns time, event[, arm]")
    needed = ["time", "event"] + (["arm"] if treatment is not None else [])
    for col in needed:
        if col not in ipd.columns:
            raise InputError(f"IPD has no column '{col}' (columns: {list(ipd.columns)})", field=col)
    if len(ipd) == 0:
        raise InputError("IPD has no rows")
    time = pd.to_numeric(ipd["time"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(time) | (time < 0))
    if bad.size:
        raise InputError(
            f"time must be a finite number >= 0, got {ipd['time'].iloc[bad[0]]}",
            row=int(bad[0]), field="time",
        )
    event_raw = pd.to_numeric(ipd["event"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isin(event_raw, (0.0, 1.0)))
    if bad.size:
        raise InputError(
            f"event must be 0 (censored) or 1 (event), got {ipd['event'].iloc[bad[0]]}",
            row=int(bad[0]), field="event",
        )
    clean = pd.DataFrame({"time": time, "event": event_raw.astype(int)}, index=ipd.index)
    if treatment is None:
        if require_events and clean["event"].sum() == 0:
            raise InputError("the data have no events", field="event")
        return clean.reset_index(drop=True)
    if treatment == control:
        raise InputError(f"treatment and control labels are both {treatment!r}", field="arm")
    arm = ipd["arm"].astype(str).to_numpy()
    bad = np.flatnonzero(~np.isin(arm, (treatment, control)))
    if bad.size:
        raise InputError(
            f"unknown arm label {arm[bad[0]]!r}; expected {treatment!r} or {control!r}",
            row=int(bad[0]), field="arm",
        )
    clean["arm"] = arm
    for label in (control, treatment):
        in_arm = clean["arm"] == label
        if not in_arm.any():
            raise InputError(f"arm {label!r} has no patients", field="arm")
        if require_events and clean.loc[in_arm, "event"].sum() == 0:
            raise InputError(f"arm {label!r} has no events: its hazard is not estimable",
                             field="event")
    return clean.reset_index(drop=True)


def default_breakpoints(
    time: np.ndarray, event: np.ndarray, n_intervals: int = DEFAULT_N_INTERVALS
) -> np.ndarray:
    """Interior cut points at the 1/K, ..., (K-1)/K quantiles of the pooled event times.

    Equal numbers of events per interval keep every interval's hazard informed. Duplicate
    quantiles (ties) are merged, so fewer than ``n_intervals`` intervals can result.

    Parameters
    ----------
    time
        Times (months), one per patient.
    event
        Event flags (1 = event); only times with ``event == 1`` are used.
    n_intervals
        Number of intervals K (>= 1); K = 1 gives no cut points.

    Returns
    -------
    numpy.ndarray
        Sorted, distinct interior cut points > 0 (months), at most K - 1 of them.

    Raises
    ------
    InputError
        ``n_intervals < 1``, or no events.
    """
    if n_intervals < 1:
        raise InputError(f"n_intervals must be >= 1, got {n_intervals}")
    event_times = np.asarray(time, dtype=float)[np.asarray(event) == 1]
    if event_times.size == 0:
        raise InputError("no events: cannot place breakpoints at event-time quantiles")
    probs = np.arange(1, n_intervals) / n_intervals
    cuts = np.unique(np.quantile(event_times, probs))
    return cuts[cuts > 0]


def check_breakpoints(breakpoints: Sequence[float], name: str = "breakpoints") -> np.ndarray:
    """Cut points as a float array, checked: numbers, finite, > 0 and strictly increasing.

    Parameters
    ----------
    breakpoints
        Cut points in months (baseline intervals, or the HR periods of the non-PH model).
    name
        Argument name for the error's ``field`` and message.

    Returns
    -------
    numpy.ndarray
        A new 1-D float array of the cut points.

    Raises
    ------
    InputError
        A value that is not a number, not finite or not > 0, or cut points that do not
        strictly increase.
    """
    try:
        cuts = np.asarray(breakpoints, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers (months), got {breakpoints!r}",
                         field=name) from None
    if not np.all(np.isfinite(cuts)) or np.any(cuts <= 0) or np.any(np.diff(cuts) <= 0):
        raise InputError(
            f"{name} must be finite, > 0 and strictly increasing, got {cuts.tolist()}",
            field=name,
        )
    return cuts


def interval_index(time: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Index j of the interval (c_{j-1}, c_j] holding each time (time 0 -> first interval).

    Parameters
    ----------
    time
        Times (months).
    cuts
        Interior cut points, strictly increasing.

    Returns
    -------
    numpy.ndarray
        Integer indices in ``0..len(cuts)``, of the shape of ``time``; ``len(cuts)`` is the
        open-ended last interval.
    """
    return np.searchsorted(cuts, np.asarray(time, dtype=float), side="left")


def exposure_matrix(time: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    r"""Time each patient spends in each interval: shape (n_patients, len(cuts) + 1).

    Parameters
    ----------
    time
        Follow-up times (months), 1-D, one per patient.
    cuts
        Interior cut points, strictly increasing.

    Returns
    -------
    numpy.ndarray
        Person-time (months) of each patient (rows) in each interval (columns),
        :math:`e_{ij} = \max(0, \min(t_i, c_j) - c_{j-1})`; each row sums to ``time``.
    """
    edges = np.concatenate([[0.0], cuts, [np.inf]])
    t = np.asarray(time, dtype=float)[:, None]
    return np.clip(np.minimum(t, edges[1:]) - edges[:-1], 0.0, None)


@dataclass(frozen=True)
class IntervalData:
    """Events and person-time per arm (rows) and interval (columns).

    ``arms[0]`` is the control (reference) arm and ``arms[1]`` the treatment arm for two-arm
    data; single-group data have one row. Intervals are ``(edges[j], edges[j+1]]`` with
    ``edges = [0, *cuts, inf]``; the last interval is open-ended, so its hazard is the one that
    extrapolates.
    """

    cuts: np.ndarray
    arms: tuple[str, ...]
    events: np.ndarray
    exposure: np.ndarray
    n_patients: tuple[int, ...]
    max_follow_up: float

    @property
    def edges(self) -> np.ndarray:
        """Interval edges ``[0, c_1, ..., c_{K-1}, inf]``."""
        return np.concatenate([[0.0], self.cuts, [np.inf]])

    @property
    def n_intervals(self) -> int:
        """Number of intervals K."""
        return len(self.cuts) + 1

    def to_frame(self) -> pd.DataFrame:
        """Long table: arm, interval, start, end, events, exposure.

        Returns
        -------
        pandas.DataFrame
            A new frame, one row per arm and interval (arm by arm, in the order of ``arms``):
            ``arm``, ``interval`` (0-based j), ``start`` and ``end`` (months; the last ``end``
            is ``inf``), ``events`` (int) and ``exposure`` (person-months).
        """
        edges = self.edges
        rows = [
            {"arm": arm, "interval": j, "start": edges[j], "end": edges[j + 1],
             "events": int(self.events[a, j]), "exposure": float(self.exposure[a, j])}
            for a, arm in enumerate(self.arms) for j in range(self.n_intervals)
        ]
        return pd.DataFrame(rows)


def aggregate(
    ipd: pd.DataFrame,
    breakpoints: Sequence[float] | None = None,
    *,
    n_intervals: int = DEFAULT_N_INTERVALS,
    treatment: str | None = TREATMENT,
    control: str | None = CONTROL,
) -> IntervalData:
    """Validate IPD and reduce it to events and person-time per arm and interval.

    Parameters
    ----------
    ipd
        Columns ``time``, ``event`` and (two-arm) ``arm``; see :func:`validate_ipd`.
    breakpoints
        Interior cut points (months; strictly increasing, > 0). Default:
        :func:`default_breakpoints` at pooled event-time quantiles.
    n_intervals
        Number of intervals when ``breakpoints`` is None (ignored otherwise).
    treatment, control
        Arm labels (``treatment=None``: single group, arms ``("all",)``).

    Returns
    -------
    IntervalData
        Arms ``(control, treatment)`` (or ``("all",)``); ``events`` and ``exposure`` of shape
        (n_arms, K), ``max_follow_up`` the largest time.

    Raises
    ------
    InputError
        Invalid IPD (see :func:`validate_ipd`), invalid breakpoints, or events at time 0 in an
        arm whose first interval has no person-time.
    """
    clean = validate_ipd(ipd, treatment=treatment, control=control)
    time = clean["time"].to_numpy()
    event = clean["event"].to_numpy()
    if breakpoints is None:
        cuts = default_breakpoints(time, event, n_intervals)
    else:
        cuts = check_breakpoints(breakpoints)
    arms: tuple[str, ...] = ("all",) if treatment is None else (control, treatment)
    group = np.zeros(len(clean), dtype=int) if treatment is None else (
        (clean["arm"] == treatment).to_numpy().astype(int)
    )
    k = len(cuts) + 1
    expo = exposure_matrix(time, cuts)
    j = interval_index(time, cuts)
    events = np.zeros((len(arms), k), dtype=int)
    exposure = np.zeros((len(arms), k))
    np.add.at(events, (group, j), event)
    np.add.at(exposure, group, expo)
    if np.any((events > 0) & (exposure <= 0)):
        raise InputError("events at time 0 with no person-time in their interval: a hazard "
                         "model cannot fit them; shift them by a small time", field="time")
    return IntervalData(
        cuts=cuts,
        arms=arms,
        events=events,
        exposure=exposure,
        n_patients=tuple(int((group == a).sum()) for a in range(len(arms))),
        max_follow_up=float(time.max()),
    )


def per_patient_loglik(
    time: np.ndarray, event: np.ndarray, group: np.ndarray, cuts: np.ndarray,
    log_hazard: np.ndarray,
) -> float:
    r"""Piecewise-exponential log-likelihood summed over patients (reference implementation).

    Parameters
    ----------
    time
        Times (months), 1-D, one per patient.
    event
        Event flags (0/1), one per patient.
    group
        Each patient's row index into ``log_hazard`` (e.g. 0 control, 1 treatment).
    cuts
        Interior cut points, strictly increasing (K = ``len(cuts) + 1`` intervals).
    log_hazard
        Log hazard per month, shape (n_groups, K).

    Returns
    -------
    float
        :math:`\ell(\lambda)` of the module docstring: equals :func:`poisson_loglik` of the
        aggregated data minus :func:`poisson_constant`.
    """
    log_h = np.asarray(log_hazard, dtype=float)[np.asarray(group)]
    expo = exposure_matrix(time, cuts)
    j = interval_index(time, cuts)
    own = log_h[np.arange(len(j)), j]
    return float(np.sum(np.asarray(event) * own) - np.sum(np.exp(log_h) * expo))


def poisson_loglik(data: IntervalData, log_hazard: np.ndarray) -> float:
    r"""Full Poisson log-likelihood of the aggregated counts, ``D ~ Poisson(exp(log_h) * E)``.

    Parameters
    ----------
    data
        Aggregated events and person-time (:func:`aggregate`).
    log_hazard
        Log hazard per month, shape (n_arms, K) like ``data.events``.

    Returns
    -------
    float
        :math:`\sum [D \log(\lambda E) - \lambda E - \log D!]`; cells without person-time
        (and so without events) contribute :math:`-\lambda E = 0`.
    """
    mu_log = np.asarray(log_hazard, dtype=float) + _safe_log(data.exposure)
    rate = np.exp(log_hazard) * data.exposure
    return float(np.sum(data.events * mu_log - rate - gammaln(data.events + 1)))


def poisson_constant(data: IntervalData) -> float:
    r"""The parameter-free part :math:`\sum [D \log E - \log D!]` of :func:`poisson_loglik`.

    Parameters
    ----------
    data
        Aggregated events and person-time (:func:`aggregate`).

    Returns
    -------
    float
        The constant (cells without person-time contribute 0).
    """
    return float(np.sum(data.events * _safe_log(data.exposure) - gammaln(data.events + 1)))


def _safe_log(exposure: np.ndarray) -> np.ndarray:
    """log E with log(0) replaced by 0 (cells without exposure have no events)."""
    exposure = np.asarray(exposure, dtype=float)
    return np.log(np.where(exposure > 0, exposure, 1.0))
