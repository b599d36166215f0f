"""Individual patient data from a digitised Kaplan-Meier curve: the Guyot et al. algorithm.

Guyot P, Ades AE, Ouwens MJ, Welton NJ. Enhanced secondary analysis of survival data:
reconstructing the data from published Kaplan-Meier survival curves. BMC Med Res Methodol
2012;12:9. This module follows the authors' published R code step by step (the core steps
are shared by the R packages IPDfromKM and reconstructKM), in three modes:

* **at-risk table** (optionally with the total number of events): the curve is cut into the
  intervals between the times at which numbers at risk are reported. On interval ``i`` the number
  censored starts at ``round(n_i * S(t_{i+1}) / S(t_i) - n_{i+1})``; censoring times are spread
  evenly over the interval; events at each digitised point are
  ``d_k = round(n_k * (1 - S_k / KM_last))`` (``KM_last`` = reconstructed KM at the previous
  event), and the number censored is adjusted (``+= nhat_{i+1} - n_{i+1}``) until the
  reconstructed number at risk at the start of the next interval equals the reported one;
* **total events only**: one interval from 0 to the end, censoring adjusted until the number of
  events equals the reported total;
* **neither** (arm size only): one interval and no censoring before the end of the curve.

The last interval (after the last reported time) gets the average censoring rate of the earlier
intervals; with a total number of events, its censoring is then adjusted so the total matches (if
the earlier intervals already hold at least that many events, the last interval gets none).
Patients still at risk at the end are censored at the last time. Events are placed at the
digitised times and censorings at the midpoint between consecutive digitised times.

Three details differ from the R code, for robustness:

* the reported at-risk times are inserted into the curve as flat points, so each interval starts
  exactly at its reported time even when no click falls there;
* counts are clamped so that events and censorings never exceed the number at risk (the R code
  can make numbers at risk negative on noisy input). When the adjustment cannot hit the reported
  number (it cycles, or events already exceed it with no censoring left to remove), the closest
  value is kept and the next interval starts from the reconstructed number, so every patient is
  accounted for exactly once; the shortfall is noted;
* the average-rate censoring count of the last interval is used as an upper bound: the count in
  0..bound whose KM best fits the interval's digitised points is kept (see
  :func:`_fit_tail_censoring`), because the rule ignores how few patients remain at the end.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prrt_bayes.core.errors import InputError
from prrt_bayes.reconstruct.accuracy import AccuracyReport, assess_accuracy
from prrt_bayes.reconstruct.curves import (
    AtRiskTable,
    DigitisedCurve,
    at_risk_from_arrays,
    clean_curve,
    match_at_risk_to_curve,
    read_at_risk,
    read_curve,
)

#: Upper bound on adjustment passes per interval (the loop normally ends in a handful).
MAX_PASSES = 500


@dataclass(frozen=True)
class GuyotFit:
    """Result of the Guyot algorithm for one arm.

    Attributes
    ----------
    ipd : DataFrame ``time, event`` (one row per patient; event 1 = event, 0 = censored).
    points : per grid point: ``time, survival`` (digitised, with at-risk times inserted),
        ``n_at_risk`` (before events at that time), ``events``, ``censored`` (between this
        point and the next), ``km`` (reconstructed KM after the events).
    intervals : per reported interval: ``time, reported, reconstructed`` numbers at risk at its
        start and ``censored``, ``events`` within it.
    notes : what the algorithm could not match exactly.
    """

    ipd: pd.DataFrame
    points: pd.DataFrame
    intervals: pd.DataFrame
    notes: tuple[str, ...]


class _Grid:
    """Mutable working arrays of the algorithm over the grid of digitised points."""

    def __init__(self, time: np.ndarray, surv: np.ndarray, n0: int) -> None:
        self.t = time
        self.s = surv
        size = time.size
        self.nhat = np.full(size + 1, n0 + 1, dtype=np.int64)
        self.d = np.zeros(size, dtype=np.int64)
        self.cen = np.zeros(size, dtype=np.int64)
        self.km = np.ones(size, dtype=float)

    def spread(self, n_cen: int, lo: int, hi: int, t_start: float, t_end: float) -> None:
        """Spread ``n_cen`` censorings evenly over (t_start, t_end), binned on points lo..hi.

        Censoring time ``t_start + j (t_end - t_start) / (n_cen + 1)``, j = 1..n_cen, is counted
        at the point k with ``t[k] <= time < t[k+1]`` (within lo..hi).
        """
        self.cen[lo : hi + 1] = 0
        if n_cen <= 0 or hi < lo:
            return
        times = t_start + np.arange(1, n_cen + 1) * (t_end - t_start) / (n_cen + 1)
        k = np.searchsorted(self.t[lo : hi + 1], times, side="right") - 1
        np.add.at(self.cen, lo + np.clip(k, 0, hi - lo), 1)

    def forward(self, lo: int, hi: int, n_start: int, last: int) -> int:
        """Events and numbers at risk at points lo..hi, starting with ``n_start`` at risk.

        Returns the index of the last point with an event (the KM reference for what follows).
        """
        self.nhat[lo] = n_start
        for k in range(lo, hi + 1):
            n_k = int(self.nhat[k])
            if k == 0:
                d_k = 0
                self.km[k] = 1.0
            else:
                ref = self.km[last]
                d_k = int(round(n_k * (1.0 - self.s[k] / ref))) if ref > 0 and n_k > 0 else 0
                d_k = min(max(d_k, 0), n_k)
                self.km[k] = ref * (1.0 - d_k / n_k) if n_k > 0 else ref
            self.d[k] = d_k
            self.cen[k] = min(int(self.cen[k]), n_k - d_k)
            self.nhat[k + 1] = n_k - d_k - self.cen[k]
            if d_k != 0:
                last = k
        return last


def _adjust(run, start: int) -> tuple[int, int]:
    """Guyot's censoring adjustment: iterate ``c <- c + gap(c)`` until the gap closes.

    ``run(c)`` applies ``c`` censorings and returns the gap (reconstructed minus target). Stops
    when the gap is 0, or negative with no censoring left to remove; if the iteration cycles, the
    visited value with the smallest absolute gap is re-applied. Returns ``(c, gap)``.
    """
    seen: dict[int, int] = {}
    c = start
    for _ in range(MAX_PASSES):
        c = max(c, 0)
        gap = run(c)
        seen[c] = gap
        if gap == 0 or (gap < 0 and c <= 0):
            return c, gap
        if c + gap in seen or max(c + gap, 0) in seen:
            break
        c = c + gap
    best = min(seen, key=lambda v: (abs(seen[v]), v))
    return best, run(best)


def _fit_tail_censoring(run_last, grid: _Grid, c_start: int, lo: int, hi: int) -> int:
    """Censoring count for the last interval: the best fit to its points, at most ``c_start``.

    Guyot's average-rate rule spreads censoring over the last interval in proportion to its
    length, not to the number still at risk; when few patients remain it can censor the patients
    the curve's last drops need. ``c_start`` (the rule's count) is therefore used as an upper
    bound: the count in ``0..c_start`` whose reconstructed KM is closest (least squares) to the
    digitised points of the interval is kept, the largest such count on ties (so the rule's
    count stands whenever the curve does not tell the counts apart).
    """
    if c_start <= 0:
        return max(c_start, 0)
    best, best_sse = c_start, np.inf
    for c in range(c_start, -1, -1):
        run_last(c)
        sse = float(np.sum((grid.km[lo : hi + 1] - grid.s[lo : hi + 1]) ** 2))
        if sse < best_sse - 1e-12:
            best, best_sse = c, sse
    return best


def _insert_times(curve: DigitisedCurve, t_risk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add each at-risk time to the curve as a flat point (survival of the step it lies on)."""
    extra = np.setdiff1d(t_risk, curve.time)
    index = np.searchsorted(curve.time, extra, side="right") - 1
    time = np.concatenate([curve.time, extra])
    surv = np.concatenate([curve.survival, curve.survival[index]])
    order = np.argsort(time, kind="stable")
    return time[order], surv[order]


def _is_whole(value) -> bool:
    """True for a finite whole number (``116`` or ``116.0``; not ``116.5``, NaN, a bool or text)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(value) and float(value).is_integer()


def _as_curve(curve: DigitisedCurve | pd.DataFrame) -> DigitisedCurve:
    """Accept a cleaned curve or a DataFrame with ``time, survival`` (cleaned here)."""
    if isinstance(curve, DigitisedCurve):
        return curve
    if isinstance(curve, pd.DataFrame) and {"time", "survival"} <= set(curve.columns):
        return clean_curve(curve["time"].to_numpy(float), curve["survival"].to_numpy(float))
    raise InputError("curve must be a DigitisedCurve or a DataFrame with time, survival")


def _as_table(at_risk: AtRiskTable | pd.DataFrame | None) -> AtRiskTable | None:
    """Accept an at-risk table, a DataFrame ``time, n_risk``, or None."""
    if at_risk is None or isinstance(at_risk, AtRiskTable):
        return at_risk
    if isinstance(at_risk, pd.DataFrame) and {"time", "n_risk"} <= set(at_risk.columns):
        return at_risk_from_arrays(at_risk["time"].to_numpy(), at_risk["n_risk"].to_numpy())
    raise InputError("at_risk must be an AtRiskTable or a DataFrame with time, n_risk")


def run_guyot(
    curve: DigitisedCurve | pd.DataFrame,
    at_risk: AtRiskTable | pd.DataFrame | None = None,
    *,
    n_patients: int | None = None,
    total_events: int | None = None,
) -> GuyotFit:
    """Run the Guyot algorithm and return the IPD with the algorithm's working tables.

    Parameters
    ----------
    curve
        Cleaned digitised curve (or a DataFrame ``time, survival`` in probability, cleaned here
        with :func:`~prrt_bayes.reconstruct.curves.clean_curve`).
    at_risk
        Reported numbers at risk (an :class:`AtRiskTable`, or a DataFrame ``time, n_risk``
        validated here; must start at time 0), or None.
    n_patients
        Arm size ``N``, a positive whole number (``116.0`` is accepted, ``116.5`` is not);
        required without an at-risk table, and must equal the count at time 0 when both are
        given.
    total_events
        Reported total number of events in the arm, or None.

    Returns
    -------
    GuyotFit
        Its ``ipd`` has exactly ``N`` rows (time in the curve's unit, sorted by time, events
        before censorings at equal times); ``notes`` include any flat extension of the curve
        to the at-risk table.

    Raises
    ------
    InputError
        A curve or table of the wrong type or columns, an arm size that is missing, not a
        positive whole number or inconsistent with the table, total events not a whole number
        in 0..N, or an at-risk table that does not fit the curve.
    """
    curve = _as_curve(curve)
    table = _as_table(at_risk)
    notes: list[str] = []
    if n_patients is not None and not (_is_whole(n_patients) and n_patients > 0):
        raise InputError(f"number of patients must be a positive whole number: {n_patients}")
    if table is None:
        if n_patients is None:
            raise InputError("the number of patients is needed when there is no at-risk table")
        t_risk = np.array([0.0])
        n_risk = np.array([int(n_patients)])
    else:
        if n_patients is not None and int(n_patients) != int(table.n_risk[0]):
            raise InputError(
                f"number of patients {n_patients} differs from the {table.n_risk[0]} at risk at "
                "time 0",
                file=table.source,
                row=table.row_of(0),
            )
        known = len(curve.notes)
        curve, table = match_at_risk_to_curve(curve, table)
        notes.extend(curve.notes[known:])
        t_risk, n_risk = table.time, table.n_risk.astype(np.int64).copy()
    n0 = int(n_risk[0])
    if total_events is not None and not (_is_whole(total_events) and 0 <= total_events <= n0):
        raise InputError(f"total events {total_events} must be a whole number between 0 and {n0}")

    time, surv = _insert_times(curve, t_risk)
    grid = _Grid(time, surv, n0)
    lower = np.searchsorted(time, t_risk)
    m = t_risk.size
    upper = np.append(lower[1:] - 1, time.size - 1)
    n_used = n_risk.copy()
    last_at = np.zeros(m, dtype=int)
    censored = np.zeros(m, dtype=np.int64)

    for i in range(m - 1):
        lo, hi, nxt = lower[i], upper[i], lower[i + 1]
        target = int(n_risk[i + 1])
        start = 0
        if surv[lo] > 0:
            start = int(round(n_used[i] * surv[nxt] / surv[lo] - target))
        state = {}

        def run(c, lo=lo, hi=hi, nxt=nxt, i=i, target=target, state=state):
            grid.spread(c, lo, hi, time[lo], time[nxt])
            state["last"] = grid.forward(lo, hi, int(n_used[i]), int(last_at[i]))
            return int(grid.nhat[nxt]) - target

        _, gap = _adjust(run, start)
        if gap != 0:
            notes.append(
                f"interval starting at {t_risk[i]:g}: reconstructed {grid.nhat[nxt]} at risk at "
                f"{t_risk[i + 1]:g} vs {target} reported"
            )
        n_used[i + 1] = grid.nhat[nxt]
        last_at[i + 1] = state["last"]
        censored[i] = grid.cen[lo : hi + 1].sum()

    lo, hi = lower[-1], upper[-1]
    if m > 1:
        span = time[upper[-2]] - time[lower[0]]
        rate_based = censored[:-1].sum() * (time[hi] - time[lo]) / span if span > 0 else 0.0
        c_last = min(int(round(rate_based)), int(n_used[-1]))
    else:
        c_last = 0

    def run_last(c):
        grid.spread(c, lo, hi - 1, time[lo], time[hi])
        grid.forward(lo, hi, int(n_used[-1]), int(last_at[-1]))
        return int(grid.d[: hi + 1].sum()) - int(total_events or 0)

    c_kept = _fit_tail_censoring(run_last, grid, c_last, lo, hi)
    if c_kept < c_last:
        notes.append(
            f"last interval: censoring lowered from {c_last} (average-rate rule) to {c_kept}, "
            "which reproduces the curve's last points better"
        )
    c_last = c_kept
    run_last(c_last)
    if total_events is not None:
        before = int(grid.d[:lo].sum())
        if m > 1 and before >= total_events:
            grid.d[lo : hi + 1] = 0
            grid.cen[lo : hi + 1] = 0
            grid.nhat[lo : hi + 2] = n_used[-1]
            grid.km[lo : hi + 1] = grid.km[last_at[-1]]
            notes.append(
                f"{before} events before the last reported time already reach the reported "
                f"total {total_events}: no events reconstructed after {t_risk[-1]:g}"
            )
        else:
            c_last, gap = _adjust(run_last, c_last)
            if gap != 0:
                notes.append(
                    f"reconstructed {grid.d.sum()} events vs {total_events} reported (closest "
                    "reachable by adjusting censoring in the last interval)"
                )
    censored[-1] = grid.cen[lo : hi + 1].sum()

    ipd = _build_ipd(grid)
    if len(ipd) != n0:
        raise AssertionError(f"Guyot bookkeeping error: {len(ipd)} rows for {n0} patients")
    points = pd.DataFrame(
        {
            "time": time,
            "survival": surv,
            "n_at_risk": grid.nhat[:-1],
            "events": grid.d,
            "censored": grid.cen,
            "km": grid.km,
        }
    )
    events = [int(grid.d[lower[j] : upper[j] + 1].sum()) for j in range(m)]
    intervals = pd.DataFrame(
        {
            "time": t_risk,
            "reported": n_risk if table is not None else [n0],
            "reconstructed": n_used,
            "censored": censored,
            "events": events,
        }
    )
    return GuyotFit(ipd=ipd, points=points, intervals=intervals, notes=tuple(notes))


def _build_ipd(grid: _Grid) -> pd.DataFrame:
    """IPD rows: events at the grid times, censorings at midpoints, the rest at the end."""
    t = grid.t
    mid = np.append((t[:-1] + t[1:]) / 2, t[-1])
    remaining = int(grid.nhat[-1])
    times = np.concatenate(
        [np.repeat(t, grid.d), np.repeat(mid, grid.cen), np.full(remaining, t[-1])]
    )
    event = np.concatenate(
        [np.ones(int(grid.d.sum()), int), np.zeros(int(grid.cen.sum()) + remaining, int)]
    )
    ipd = pd.DataFrame({"time": times.astype(float), "event": event.astype(int)})
    return ipd.sort_values(["time", "event"], ascending=[True, False], kind="stable").reset_index(
        drop=True
    )


def guyot_reconstruct(
    curve: DigitisedCurve | pd.DataFrame,
    at_risk: AtRiskTable | pd.DataFrame | None = None,
    *,
    n_patients: int | None = None,
    total_events: int | None = None,
) -> pd.DataFrame:
    """Reconstruct one arm's IPD (``time, event``) from a digitised curve (Guyot et al. 2012).

    Parameters
    ----------
    curve, at_risk, n_patients, total_events
        As in :func:`run_guyot`: the digitised curve, the reported numbers at risk (or None),
        the arm size (required without a table) and the reported total events (or None).

    Returns
    -------
    pandas.DataFrame
        The ``ipd`` of :func:`run_guyot`: columns ``time`` (the curve's unit) and ``event``
        (1 = event, 0 = censored), one row per patient.

    Raises
    ------
    InputError
        As in :func:`run_guyot`.
    """
    return run_guyot(curve, at_risk, n_patients=n_patients, total_events=total_events).ipd


@dataclass(frozen=True)
class ReconstructionResult:
    """One arm reconstructed from files.

    Attributes
    ----------
    ipd : DataFrame ``time, event``.
    cleaning_notes : what reading and cleaning changed, and what the algorithm could not match.
    accuracy : agreement with the digitised curve and the at-risk table.
    curve : the cleaned curve (before any flat extension to the at-risk table).
    at_risk : the at-risk table, or None.
    """

    ipd: pd.DataFrame
    cleaning_notes: list[str]
    accuracy: AccuracyReport
    curve: DigitisedCurve
    at_risk: AtRiskTable | None = None

    def to_text(self) -> str:
        """Cleaning notes followed by the accuracy report.

        Returns
        -------
        str
            ``"Input cleaning:"``, one ``"- note"`` line per cleaning note, then
            :meth:`AccuracyReport.to_text`, joined by newlines.
        """
        notes = [f"- {note}" for note in self.cleaning_notes]
        return "\n".join(["Input cleaning:", *notes, self.accuracy.to_text()])


def reconstruct_from_files(
    curve_path: str | Path,
    at_risk_path: str | Path | None = None,
    *,
    at_risk_column: str | None = None,
    total_events: int | None = None,
    n_patients: int | None = None,
    percent: bool | None = None,
) -> ReconstructionResult:
    """Read a digitised curve (and at-risk table), reconstruct the IPD and assess it.

    Parameters
    ----------
    curve_path
        Digitised curve CSV (see :func:`~prrt_bayes.reconstruct.curves.read_curve`).
    at_risk_path
        Numbers-at-risk CSV (see :func:`~prrt_bayes.reconstruct.curves.read_at_risk`), or None
        (then ``n_patients`` is required).
    at_risk_column
        Header name of the count column (None: the second column); only with ``at_risk_path``.
    total_events
        Reported total number of events, or None.
    n_patients
        Arm size (checked against the at-risk table when both are given).
    percent
        Force the survival scale (True percent, False probability); None detects it.

    Returns
    -------
    ReconstructionResult
        The IPD, the notes (each prefixed with its file name or ``reconstruction:``), the
        accuracy against the cleaned curve and the table (no hazard ratio), the curve and table.

    Raises
    ------
    InputError
        For any input that cannot be used (naming the file and row), including an
        ``at_risk_column`` without an ``at_risk_path``.
    """
    curve = read_curve(curve_path, percent=percent)
    table = None
    if at_risk_path is not None:
        table = read_at_risk(at_risk_path, column=at_risk_column)
    elif at_risk_column is not None:
        raise InputError("an at-risk column was given without an at-risk table")
    fit = run_guyot(curve, table, n_patients=n_patients, total_events=total_events)
    notes = [f"{Path(curve_path).name}: {note}" for note in curve.notes]
    if table is not None:
        notes += [f"{Path(at_risk_path).name}: {note}" for note in table.notes]
    notes += [f"reconstruction: {note}" for note in fit.notes]
    accuracy = assess_accuracy(fit.ipd, curve, table)
    return ReconstructionResult(
        ipd=fit.ipd, cleaning_notes=notes, accuracy=accuracy, curve=curve, at_risk=table
    )
