"""Read and clean digitised Kaplan-Meier curves and published numbers-at-risk tables.

A digitised curve is what WebPlotDigitizer, ScanIt or DigitizeIt export: one row per click, first
column time, second column survival (probability or percent), with or without a header line. Raw
clicks are noisy: points slightly before time 0, a first point below 100%, small upward steps and
repeated times. :func:`clean_curve` repairs what can be repaired and says what it changed;
anything that cannot be repaired raises :class:`~prrt_bayes.core.errors.InputError`.

Row numbers in error messages are **file line numbers** (1-based, the header line counts as line
1), i.e. the number an editor shows next to the offending line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from prrt_bayes.core.errors import InputError

#: Survival above this value (anywhere in the file) means the column is in percent.
PERCENT_THRESHOLD = 1.5
#: After scaling to probability, values within this distance outside [0, 1] are digitiser noise
#: and are clipped; values further out are rejected.
CLIP_TOLERANCE = 0.05


@dataclass(frozen=True)
class DigitisedCurve:
    """A cleaned Kaplan-Meier curve: strictly increasing times from (0, 1), non-increasing survival.

    Attributes
    ----------
    time : strictly increasing times, ``time[0] == 0``.
    survival : survival probabilities in [0, 1], non-increasing, ``survival[0] == 1``.
    source : file the curve came from (for messages), or None.
    notes : human-readable list of what cleaning changed.
    scale : ``"percent"`` or ``"probability"`` — how the input was read.
    """

    time: np.ndarray
    survival: np.ndarray
    source: str | None = None
    notes: tuple[str, ...] = ()
    scale: str = "probability"

    def to_frame(self) -> pd.DataFrame:
        """Return the curve as a DataFrame with columns ``time, survival``.

        Returns
        -------
        pandas.DataFrame
            A new frame, one row per point; survival as a probability (0-1) whatever
            :attr:`scale` the input had.
        """
        return pd.DataFrame({"time": self.time, "survival": self.survival})


@dataclass(frozen=True)
class AtRiskTable:
    """Published numbers at risk for one arm.

    Attributes
    ----------
    time : strictly increasing report times, ``time[0] == 0``.
    n_risk : non-increasing non-negative integer counts; ``n_risk[0]`` is the arm size.
    source : file the table came from, or None.
    rows : file line number of each entry (for messages); None for in-memory tables built
        directly (:func:`at_risk_from_arrays` numbers them 1, 2, ...).
    column : name of the count column used, when the file had a header.
    notes : what reading changed (e.g. skipped empty cells).
    """

    time: np.ndarray
    n_risk: np.ndarray
    source: str | None = None
    rows: tuple[int, ...] | None = None
    column: str | None = None
    notes: tuple[str, ...] = field(default=())

    def row_of(self, index: int) -> int | None:
        """File line number of entry ``index`` (None for in-memory tables).

        Parameters
        ----------
        index
            0-based position of the entry in :attr:`time` / :attr:`n_risk`.

        Returns
        -------
        int or None
            The entry's line number in :attr:`rows`, or None when :attr:`rows` is None.
        """
        return None if self.rows is None else self.rows[index]

    def to_frame(self) -> pd.DataFrame:
        """Return the table as a DataFrame with columns ``time, n_risk``.

        Returns
        -------
        pandas.DataFrame
            A new frame, one row per reported time.
        """
        return pd.DataFrame({"time": self.time, "n_risk": self.n_risk})


# --------------------------------------------------------------------------- CSV parsing


def _parse_float(text: str) -> float | None:
    """Parse a number cell; None when it is not a finite number."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _not_a_number(text: str) -> str:
    """Message for a cell :func:`_parse_float` rejected (says 'finite' for nan / inf cells)."""
    if not text:
        return "an empty cell is not a number"
    try:
        float(text)
    except ValueError:
        return f"'{text}' is not a number"
    return f"'{text}' is not a finite number"


def read_rows(path: Path, expected: str = "rows of time and a value"
              ) -> list[tuple[int, list[str]]]:
    """Read a small CSV into ``(line_number, cells)`` pairs, skipping blank lines.

    The delimiter (comma, semicolon or tab) is sniffed; comma is the fallback. Shared by the
    curve and at-risk readers here and the IPD reader of the survival analyses, so every CSV
    error can name the file's line.

    Parameters
    ----------
    path
        The CSV file (UTF-8, a byte-order mark is allowed).
    expected
        What the file should hold, for the message when it is empty.

    Returns
    -------
    list[tuple[int, list[str]]]
        One ``(line number, cells)`` pair per non-blank line, cells stripped of whitespace.

    Raises
    ------
    InputError
        The file does not exist or has no non-blank line.
    """
    if not path.is_file():
        raise InputError("file not found", file=path)
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise InputError(f"file is empty: expected {expected}", file=path, row=1)
    sample = "\n".join(lines[:20])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    out = []
    for number, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
        cells = [c.strip() for c in cells]
        if any(cells):
            out.append((number, cells))
    return out


def _split_header(rows: list[tuple[int, list[str]]], n_used: int) -> tuple[list[str] | None, list]:
    """Treat the first row as a header when none of its first ``n_used`` cells is a number."""
    first = rows[0][1][:n_used]
    if all(_parse_float(c) is None for c in first):
        return rows[0][1], rows[1:]
    return None, rows


# --------------------------------------------------------------------------- curve


def read_curve(path: str | Path, *, percent: bool | None = None) -> DigitisedCurve:
    """Read and clean a digitised Kaplan-Meier curve CSV.

    Parameters
    ----------
    path
        CSV with time in the first column and survival in the second (further columns are
        ignored); comma, semicolon or tab separated. A header line is optional (the first line
        is a header when its first two cells are not numbers).
    percent
        Force the survival scale: True = percent (0-100), False = probability (0-1). None
        detects it: **any survival value > 1.5 means percent**, otherwise probability.

    Returns
    -------
    DigitisedCurve
        The cleaned curve (see :func:`clean_curve`), survival as a probability, time in the
        file's unit; ``notes`` start with how the scale was read, ``scale`` records it.

    Raises
    ------
    InputError
        Missing or empty file, a header without data rows, a row with one column, non-numeric,
        non-finite (``nan``, ``inf``) or empty cells, fewer than 2 points, a percent /
        probability mix-up, or survival values too far outside the scale to be noise (beyond
        :data:`CLIP_TOLERANCE` outside 0-1 after scaling to probability).
    """
    path = Path(path)
    rows = read_rows(path)
    header, data = _split_header(rows, 2)
    if not data:
        raise InputError("file has a header but no data rows", file=path, row=rows[0][0] + 1)
    names = ("time", "survival") if header is None else tuple(header[:2])
    times, survs, lines = [], [], []
    for line, cells in data:
        if len(cells) < 2:
            raise InputError(
                "expected two columns (time, survival), found one", file=path, row=line
            )
        for value, name, target in ((cells[0], names[0], times), (cells[1], names[1], survs)):
            number = _parse_float(value)
            if number is None:
                raise InputError(_not_a_number(value), file=path, row=line, field=name)
            target.append(number)
        lines.append(line)
    if len(times) < 2:
        raise InputError(
            f"only {len(times)} data point; a curve needs at least 2", file=path, row=lines[-1]
        )
    surv = np.asarray(survs, dtype=float)
    biggest = int(np.argmax(surv))
    if percent is None:
        percent = bool(surv.max() > PERCENT_THRESHOLD)
        detected = f"survival read as {'percent' if percent else 'probability'} (auto-detected: "
        detected += f"{'some' if percent else 'no'} value above {PERCENT_THRESHOLD})"
    else:
        if percent is False and surv.max() > PERCENT_THRESHOLD:
            mismatch = (f"survival {surv[biggest]:g} is above 1 but probability was requested: "
                        "the column looks like percent (drop the probability setting or use "
                        "percent)")
        elif percent is True and surv.max() <= 1.0:
            mismatch = (f"percent was requested but the largest survival value is "
                        f"{surv[biggest]:g}: the column looks like probabilities (0-1), not "
                        "percent")
        else:
            mismatch = None
        if mismatch is not None:
            raise InputError(mismatch, file=path, row=lines[biggest], field=names[1])
        detected = f"survival read as {'percent' if percent else 'probability'} (as requested)"
    if percent:
        surv = surv / 100.0
    bad = np.flatnonzero((surv < -CLIP_TOLERANCE) | (surv > 1 + CLIP_TOLERANCE))
    if bad.size:
        i = int(bad[0])
        shown = survs[i]
        raise InputError(
            f"survival {shown:g} is outside the {'0-100' if percent else '0-1'} scale "
            "by more than digitiser noise",
            file=path,
            row=lines[i],
            field=names[1],
        )
    curve = clean_curve(np.asarray(times, dtype=float), surv, source=str(path))
    scale = "percent" if percent else "probability"
    return replace(curve, notes=(detected, *curve.notes), scale=scale)


def clean_curve(
    time: np.ndarray | list[float],
    survival: np.ndarray | list[float],
    *,
    source: str | None = None,
) -> DigitisedCurve:
    """Clean digitised (time, survival-probability) points into a valid Kaplan-Meier curve.

    Steps, in order (each change is counted in the notes):

    1. drop points before time 0;
    2. sort by time (ties: higher survival first, i.e. the top corner of a drop before the bottom);
    3. clip survival to [0, 1];
    4. enforce non-increasing survival with a **running minimum**: each point's survival becomes the
       smallest survival at or before its time. A running minimum never raises a value, so upward
       digitiser noise is flattened onto the step it belongs to (isotonic regression would instead
       average noise into earlier points and shift the drops);
    5. merge repeated times, keeping the lowest survival (the bottom of a vertical drop: a
       Kaplan-Meier curve is right-continuous);
    6. make the curve start at (0, 1): points at time 0 are replaced by (0, 1), and (0, 1) is added
       when missing.

    Parameters
    ----------
    time
        Digitised times (any unit; the IPD keeps it).
    survival
        Digitised survival probabilities (already scaled to 0-1), one per time.
    source
        File name used in messages and stored in the result; None for in-memory data.

    Returns
    -------
    DigitisedCurve
        A new curve starting at (0, 1), with ``notes`` listing each change; ``scale`` is
        ``"probability"``.

    Raises
    ------
    InputError
        ``time`` and ``survival`` not 1-D or of different lengths, non-finite values, or fewer
        than 2 points remaining (with (0, 1)) after dropping points before time 0.
    """
    t = np.asarray(time, dtype=float)
    s = np.asarray(survival, dtype=float)
    if t.shape != s.shape or t.ndim != 1:
        raise InputError("time and survival must be 1-D and the same length", file=source)
    if not (np.isfinite(t).all() and np.isfinite(s).all()):
        raise InputError("time and survival must be finite numbers", file=source)
    notes: list[str] = []
    keep = t >= 0
    if (~keep).any():
        notes.append(f"dropped {int((~keep).sum())} point(s) before time 0")
    t, s = t[keep], s[keep]
    order = np.lexsort((-s, t))
    if (order != np.arange(t.size)).any():
        notes.append("sorted the points by time")
    t, s = t[order], s[order]
    clipped = (s < 0) | (s > 1)
    if clipped.any():
        notes.append(f"clipped {int(clipped.sum())} survival value(s) to [0, 1]")
    s = np.clip(s, 0.0, 1.0)
    running = np.minimum.accumulate(s) if s.size else s
    lowered = running < s
    if lowered.any():
        notes.append(
            f"lowered {int(lowered.sum())} point(s) to keep survival non-increasing "
            f"(running minimum; largest change {float((s - running).max()):.4f})"
        )
    s = running
    if t.size:
        last_of_time = np.append(t[1:] != t[:-1], True)
        merged = int(t.size - last_of_time.sum())
        if merged:
            notes.append(f"merged {merged} point(s) with a repeated time (kept the lowest)")
        t, s = t[last_of_time], s[last_of_time]
    if t.size and t[0] == 0:
        if s[0] != 1:
            notes.append(f"set the point at time 0 from {s[0]:.4f} to 1")
        t, s = t[1:], s[1:]
    else:
        notes.append("added the point (0, 1)")
    t = np.concatenate([[0.0], t])
    s = np.concatenate([[1.0], s])
    if t.size < 2:
        raise InputError(
            "fewer than 2 points remain after dropping points before time 0", file=source
        )
    return DigitisedCurve(time=t, survival=s, source=source, notes=tuple(notes))


# --------------------------------------------------------------------------- at-risk table


def read_at_risk(path: str | Path, *, column: str | None = None) -> AtRiskTable:
    """Read a numbers-at-risk table CSV.

    Parameters
    ----------
    path
        CSV with the report time in the first column and counts in the others; a header line
        is optional (needed to pick a column by name). One table can serve both arms.
    column
        Header name of the count column (not the first column); None uses the second column.

    Returns
    -------
    AtRiskTable
        The validated table, with the file line number of each entry in ``rows``. Rows whose
        count cell is empty are skipped (noted): a shared table may stop reporting one arm
        earlier than the other.

    Raises
    ------
    InputError
        Missing or empty file, a column requested from a file without a header, unknown column,
        too few columns in a row, non-numeric or non-finite (``nan``, ``inf``) times,
        non-numeric, non-finite, non-integer or negative counts, times not strictly increasing,
        counts that increase, first time not 0.
    """
    path = Path(path)
    rows = read_rows(path)
    header, data = _split_header(rows, 2)
    if header is None and column is not None:
        raise InputError(
            f"column '{column}' was requested but the file has no header line", file=path, row=1
        )
    if header is not None and column is not None:
        if column not in header[1:]:
            raise InputError(
                f"no count column named '{column}' (columns: {', '.join(header[1:])})",
                file=path,
                row=rows[0][0],
            )
        index = header.index(column, 1)
    else:
        index = 1
    if not data:
        raise InputError("file has a header but no data rows", file=path, row=rows[0][0] + 1)
    time_name = "time" if header is None else header[0]
    count_name = column or ("count" if header is None else header[1])
    times, counts, lines, notes = [], [], [], []
    skipped = 0
    for line, cells in data:
        if len(cells) <= index:
            raise InputError(
                f"expected at least {index + 1} columns, found {len(cells)}", file=path, row=line
            )
        if cells[index] == "":
            skipped += 1
            continue
        t = _parse_float(cells[0])
        if t is None:
            raise InputError(_not_a_number(cells[0]), file=path, row=line, field=time_name)
        n = _parse_float(cells[index])
        if n is None:
            raise InputError(_not_a_number(cells[index]), file=path, row=line, field=count_name)
        if n < 0 or n != round(n):
            raise InputError(
                f"number at risk {cells[index]} is not a non-negative whole number",
                file=path,
                row=line,
                field=count_name,
            )
        times.append(t)
        counts.append(int(round(n)))
        lines.append(line)
    if skipped:
        notes.append(f"skipped {skipped} row(s) with an empty '{count_name}' cell")
    table = AtRiskTable(
        time=np.asarray(times, dtype=float),
        n_risk=np.asarray(counts, dtype=int),
        source=str(path),
        rows=tuple(lines),
        column=None if header is None else header[index],
        notes=tuple(notes),
    )
    validate_at_risk(table)
    return table


def at_risk_from_arrays(
    time: np.ndarray | list[float], n_risk: np.ndarray | list[int], *, source: str | None = None
) -> AtRiskTable:
    """Build and validate an in-memory :class:`AtRiskTable` (rows are reported 1-based).

    Parameters
    ----------
    time
        Report times: finite, strictly increasing from 0.
    n_risk
        Numbers at risk, one per time: non-negative whole numbers (floats such as ``116.0``
        are accepted), non-increasing, positive at time 0.
    source
        Label used in error messages and stored in the table; None for none.

    Returns
    -------
    AtRiskTable
        A new table with ``rows`` = 1, 2, ... (the 1-based positions named in messages).

    Raises
    ------
    InputError
        Arrays not 1-D or of different lengths, counts that are not non-negative whole numbers,
        or a table that fails :func:`validate_at_risk` (e.g. a NaN or infinite time).
    """
    t = np.asarray(time, dtype=float)
    n = np.asarray(n_risk, dtype=float)
    if t.shape != n.shape or t.ndim != 1:
        raise InputError("at-risk times and counts must be 1-D and the same length", file=source)
    bad = np.flatnonzero(~np.isfinite(n) | (n < 0) | (n != np.round(n)))
    if bad.size:
        raise InputError(
            f"number at risk {n[bad[0]]:g} is not a non-negative whole number",
            file=source,
            row=int(bad[0]) + 1,
        )
    table = AtRiskTable(
        time=t,
        n_risk=n.astype(int),
        source=source,
        rows=tuple(range(1, t.size + 1)),
    )
    validate_at_risk(table)
    return table


def validate_at_risk(table: AtRiskTable) -> None:
    """Check an at-risk table on its own: starts at time 0, times increase, counts do not.

    Parameters
    ----------
    table
        The table to check (not modified).

    Raises
    ------
    InputError
        No rows, times and counts of different lengths, a time that is not a finite number
        (NaN or infinite), a count that is not a finite non-negative whole number, a first time
        other than 0, a count at time 0 that is not positive, a time not after the previous one,
        or a count above the previous one; naming the file and the row of the first problem.
    """
    src = table.source
    if table.time.size == 0:
        raise InputError("the at-risk table has no rows", file=src)
    time = np.asarray(table.time, dtype=float)
    count = np.asarray(table.n_risk, dtype=float)
    if time.ndim != 1 or time.shape != count.shape:
        raise InputError("at-risk times and counts must be 1-D and the same length", file=src)
    bad = np.flatnonzero(~np.isfinite(time))
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"at-risk time {time[i]:g} is not a finite number", file=src, row=table.row_of(i)
        )
    bad = np.flatnonzero(~np.isfinite(count) | (count < 0) | (count != np.round(count)))
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"number at risk {count[i]:g} is not a non-negative whole number",
            file=src,
            row=table.row_of(i),
        )
    if table.time[0] != 0:
        raise InputError(
            f"the first at-risk time is {table.time[0]:g}; the table must start at time 0 "
            "(the number of patients randomised)",
            file=src,
            row=table.row_of(0),
        )
    if table.n_risk[0] <= 0:
        raise InputError(
            "the number at risk at time 0 must be positive", file=src, row=table.row_of(0)
        )
    for i in range(1, table.time.size):
        if table.time[i] <= table.time[i - 1]:
            raise InputError(
                f"at-risk time {table.time[i]:g} is not after the previous time "
                f"{table.time[i - 1]:g}",
                file=src,
                row=table.row_of(i),
            )
        if table.n_risk[i] > table.n_risk[i - 1]:
            raise InputError(
                f"number at risk increases from {table.n_risk[i - 1]} to {table.n_risk[i]}: "
                "numbers at risk can only stay the same or fall",
                file=src,
                row=table.row_of(i),
            )


def match_at_risk_to_curve(
    curve: DigitisedCurve, table: AtRiskTable
) -> tuple[DigitisedCurve, AtRiskTable]:
    """Reconcile an at-risk table with the curve it belongs to.

    A digitiser's last click is usually the last drop of the curve, while the at-risk table under
    the figure runs on along the flat tail. So at-risk times after the curve's last time are
    accepted, and the curve is extended flat to the last at-risk time (noted), **as long as at
    most one of them reports a positive count** (the flat tail spans at most one reported
    interval). Otherwise the curve stops well before the table, which usually means different
    time units or a truncated digitisation, and the table is rejected. Trailing zero counts are
    always allowed (follow-up ended). Counts after the curve has reached survival 0 must be 0.

    Parameters
    ----------
    curve
        The cleaned digitised curve.
    table
        The validated at-risk table of the same arm, in the same time unit.

    Returns
    -------
    curve : DigitisedCurve
        ``curve`` itself, or a new curve extended flat to the last at-risk time (with a note)
        when at-risk times lie beyond its last time.
    table : AtRiskTable
        ``table``, unchanged.

    Raises
    ------
    InputError
        More than one positive count beyond the curve's last time, or a positive count after the
        curve reaches survival 0; naming the at-risk file and the row of the offending time.
    """
    end = curve.time[-1]
    beyond = np.flatnonzero(table.time > end)
    positive = [i for i in beyond if table.n_risk[i] > 0]
    if len(positive) > 1:
        i = positive[1]
        raise InputError(
            f"at-risk time {table.time[i]:g} ({table.n_risk[i]} at risk) is beyond the curve's "
            f"last time {end:g} by more than one reported interval: check that the curve and the "
            "table use the same time unit, or digitise the curve's flat tail",
            file=table.source,
            row=table.row_of(i),
        )
    zero_at = np.flatnonzero(curve.survival == 0)
    if zero_at.size:
        t_zero = curve.time[zero_at[0]]
        late = np.flatnonzero((table.time > t_zero) & (table.n_risk > 0))
        if late.size:
            i = int(late[0])
            raise InputError(
                f"{table.n_risk[i]} at risk at time {table.time[i]:g}, but the curve reaches "
                f"survival 0 at time {t_zero:g}",
                file=table.source,
                row=table.row_of(i),
            )
    if beyond.size:
        last = table.time[-1]
        note = (
            f"extended the curve flat from its last time {end:g} to the last at-risk time "
            f"{last:g} ({beyond.size} at-risk time(s) beyond the digitised curve)"
        )
        curve = replace(
            curve,
            time=np.append(curve.time, last),
            survival=np.append(curve.survival, curve.survival[-1]),
            notes=(*curve.notes, note),
        )
    return curve, table
