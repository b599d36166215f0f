r"""External long-term survival evidence as aggregate survivor counts (survextrap's ``external``).

One row says: of ``n`` people alive at ``start`` (months), ``r`` were still alive at ``stop``. A
survival model adds, for each row and the row's arm, the binomial term
``r log p + (n - r) log(1 - p)`` with ``p = S_arm(stop) / S_arm(start)``; ``n`` and ``r`` may be
effective (non-integer) counts. Two sources give such rows:

- a user's CSV (:func:`read_external_counts`), named in a spec by
  ``[evidence] external = "counts.csv"``: columns ``start, stop, n, r`` (months) and an optional
  ``arm`` (blank or absent: the control arm's population);
- the bundled single-arm 177Lu-DOTATATE series (:func:`series_survivor_counts`), for the 177Lu
  arm, converted from what the series report by the rules below.

**Median -> survivor counts** (the package's own conversion: survextrap takes counts directly,
series report medians). The cohorts and the standard error ``s`` of each log median come from
:func:`prrt_bayes.borrowing.survival.series_log_medians` (its rules: endpoint, not-reached
medians (censored information, which a survivor count cannot carry: left out), mixed
radionuclide / chemotherapy / re-treatment cohorts, one cohort per overlap group, ``s`` from
the 95% CI or approximated from N). A median ``m`` says ``S(m) = 0.5``. Near ``m`` take
the survival as locally exponential, ``S(t) = exp(-lambda t)`` with ``m = log 2 / lambda``, so
``log m = log log 2 - log lambda`` and ``SE(log lambda) = s``. The delta method at the fixed time
``m`` gives ``dS(m) / d log lambda = -lambda m exp(-lambda m) = -0.5 log 2``, hence
``var(S(m)) = (0.5 log 2)^2 s^2``. A proportion 0.5 from ``n`` patients has binomial variance
``0.25 / n``, so the median carries the information of

    n_eff = 0.25 / var(S(m)) = 1 / ((log 2)^2 s^2)

patients followed to ``m``, of whom ``r = n_eff / 2`` are alive: the row is
``(start 0, stop m, n_eff, n_eff / 2)``. For an uncensored sample median (on which the usual
Brookmeyer-Crowley interval is built) this gives back ``n_eff = N`` under an exponential: the
asymptotic variance of a sample median, ``1 / (4 N f(m)^2)``, is ``1 / (N (log 2)^2)`` on the log
scale. In general ``n_eff = N (h(m) m / H(m))^2`` (``h`` the hazard, ``H`` the cumulative hazard):
exact when the hazard at ``m`` equals its mean up to ``m``, too large when the hazard rises there
(Weibull shape ``k``: ``k^2 N``).

**Cap at N.** ``n`` is at most the cohort's number of patients ``N`` (when reported): a count of
survivors cannot exceed the cohort. The cap binds for a rising hazard (above). An SE derived from
the number of events ``d`` (the Kaplan-Meier median's ``1 / (log 2 sqrt(d))``,
:func:`~prrt_bayes.borrowing.inputs.log_median_estimate`) converts to ``n_eff = d``.

**Landmarks** (``os_survival`` / ``pfs_survival``: percent alive at a time ``t``) are used for a
cohort that reports no usable median, under the same study rules (not 177Lu-DOTATATE alone,
one cohort per overlap group, a group already represented by a median is not counted again):

- with a 95% CI: ``se = (U - L) / (2 z)`` on the probability scale, ``n_eff = p (1 - p) / se^2``
  (capped at N), ``r = p n_eff``, row ``(0, t, n_eff, r)``;
- a cohort with several usable landmarks contributes its latest (the longest-term evidence;
  the others are the same patients from the same origin);
- without a 95% CI: not used. Its precision depends on how many patients were still followed at
  ``t``, which the series do not report; ``r = p N`` of ``N`` would hold only if every patient
  had been followed to ``t`` (minimum follow-up >= ``t``), and a median follow-up only says that
  about half of them were.

A cohort with both a usable median and a landmark contributes its median only. Both are
estimates from the same patients and the same origin, so two rows from time 0 would count the
cohort twice; chaining them (``0 -> m``, then ``m -> t`` given alive at ``m``) needs the
covariance of the two estimates (the at-risk numbers), which the series do not report. The
median is kept because it rests on the rules the borrowing prior also uses; the landmark is
listed as left out, with that reason.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from prrt_bayes.borrowing.inputs import se_from_ci
from prrt_bayes.borrowing.survival import QUANTITY, point_estimates_only, series_log_medians
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.vocabulary import Arm
from prrt_bayes.evidence import load_series
from prrt_bayes.evidence.series_rules import regimen_exclusion
from prrt_bayes.reconstruct.curves import read_rows

EXTERNAL_COLUMNS: tuple[str, ...] = ("start", "stop", "n", "r", "arm")
"""Columns of a user's external-counts CSV (``arm`` optional): a contract with the spec."""

_NUMERIC = ("start", "stop", "n", "r")

LANDMARK_QUANTITY: dict[str, str] = {"os": "os_survival", "pfs": "pfs_survival"}
"""Series quantity of the percent alive at a landmark time, per endpoint."""

COUNT_COLUMNS: tuple[str, ...] = ("study", "start", "stop", "n", "r", "basis")
"""Columns of the survivor counts returned by :func:`series_survivor_counts`."""

def read_external_counts(
    path: Path, *, treatment: str, control: str = Arm.CONTROL.value
) -> pd.DataFrame:
    """Read a user's external survivor counts (``start, stop, n, r[, arm]``), validated.

    Parameters
    ----------
    path
        CSV file with a header row (comma, semicolon or tab separated, read with
        :func:`prrt_bayes.reconstruct.curves.read_rows`); extra columns are allowed. Each row:
        of ``n`` alive at ``start`` (months), ``r`` alive at ``stop``; ``n`` and ``r`` may be
        non-integer (effective counts). ``arm`` is optional: blank or absent means ``control``.
    treatment
        Label of the treatment arm allowed in ``arm``.
    control
        Label of the control arm allowed in ``arm`` and used for a blank or absent ``arm``.

    Returns
    -------
    pandas.DataFrame
        A new frame, one row per data row in file order, columns ``start, stop, n, r`` (float),
        ``arm`` (str) and ``source`` (``"<file name> row <line>"``).

    Raises
    ------
    InputError
        Naming the file, the line (``row``) and the column (``field``): the file is missing or
        empty, has no data rows, a column is missing or repeated, a row has more or fewer cells
        than the header, a value is not a finite number, ``start < 0``, ``stop <= start``,
        ``n <= 0``, ``r < 0``, ``r > n``, or an ``arm`` label is neither ``treatment`` nor
        ``control``; also when ``treatment`` equals ``control``.
    """
    path = Path(path)
    if treatment == control:
        raise InputError(f"treatment and control labels are both {treatment!r}",
                         field="treatment")
    rows = read_rows(path, expected="a header row (start, stop, n, r[, arm]) and data rows")
    (header_line, header), body = rows[0], rows[1:]
    for name in EXTERNAL_COLUMNS:
        if name != "arm" and name not in header:
            raise InputError(f"missing column '{name}' (columns: start, stop, n, r and an "
                             "optional arm)", file=path, row=header_line, field=name)
        if header.count(name) > 1:
            raise InputError(f"column '{name}' appears more than once", file=path,
                             row=header_line, field=name)
    if not body:
        raise InputError("no data rows after the header", file=path, row=header_line)
    out = []
    for line, cells in body:
        if len(cells) != len(header):
            field = header[len(cells)] if len(cells) < len(header) else None
            raise InputError(f"expected {len(header)} cells (as in the header), found "
                             f"{len(cells)}", file=path, row=line, field=field)
        values = {name: _number(cells[header.index(name)], path, line, name)
                  for name in _NUMERIC}
        _check_row(values, path, line)
        arm = cells[header.index("arm")] if "arm" in header else ""
        if arm and arm not in (treatment, control):
            raise InputError(f"unknown arm {arm!r}: expected {treatment!r} or {control!r} "
                             "(blank means the control arm)", file=path, row=line, field="arm")
        out.append({**values, "arm": arm or control, "source": f"{path.name} row {line}"})
    return pd.DataFrame(out, columns=[*_NUMERIC, "arm", "source"])


def _number(text: str, path: Path, line: int, field: str) -> float:
    """One cell as a finite float, or an InputError naming file, line and column."""
    if not text:
        raise InputError("missing value", file=path, row=line, field=field)
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"not a number: {text!r}", file=path, row=line, field=field) from None
    if not math.isfinite(value):
        raise InputError(f"not a finite number: {text!r}", file=path, row=line, field=field)
    return value


def _check_row(values: dict[str, float], path: Path, line: int) -> None:
    """The rules of one counts row: times ordered from >= 0, 0 <= r <= n, n > 0."""
    start, stop, n, r = (values[name] for name in _NUMERIC)
    problems = (
        (start < 0, "start", f"start must be >= 0 months, got {start:g}"),
        (stop <= start, "stop", f"stop ({stop:g}) must be after start ({start:g})"),
        (n <= 0, "n", f"n (alive at start) must be > 0, got {n:g}"),
        (r < 0, "r", f"r (alive at stop) must be >= 0, got {r:g}"),
        (r > n, "r", f"r ({r:g} alive at stop) is more than n ({n:g} alive at start)"),
    )
    for bad, field, message in problems:
        if bad:
            raise InputError(message, file=path, row=line, field=field)


def series_survivor_counts(endpoint: str, series=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The single-arm series' OS or PFS evidence as survivor counts for the 177Lu arm.

    Medians (cohorts and SEs of :func:`~prrt_bayes.borrowing.survival.series_log_medians`) and
    landmarks with a 95% CI are converted by the rules of the module docstring:
    ``n = min(1 / ((log 2)^2 s^2), N)``, ``r = n / 2`` from ``0`` to the median;
    ``n = min(p (1 - p) / se^2, N)``, ``r = p n`` from ``0`` to a landmark.

    Parameters
    ----------
    endpoint
        ``"os"`` or ``"pfs"``.
    series
        :class:`~prrt_bayes.evidence.loaders.SeriesEvidence` to use; ``None`` loads the bundled
        ``series.toml``.

    Returns
    -------
    counts : pandas.DataFrame
        One row per cohort used, sorted by study, columns ``study, start, stop`` (months),
        ``n, r`` (effective counts: ``r`` of ``n`` alive at ``start`` alive at ``stop``) and
        ``basis`` (the reported numbers and the rule used).
    excluded : pandas.DataFrame
        Columns ``study, reason``: every cohort left out and why (the reasons of
        ``series_log_medians``, extended by why a landmark of the cohort was not used), and a
        row for each landmark of a used cohort that is left out (counted once, by its median).

    Raises
    ------
    InputError
        For an unknown ``endpoint``, or a median or landmark whose numbers cannot be used (as
        :func:`~prrt_bayes.borrowing.survival.series_log_medians`), naming the study.
    """
    series = series if series is not None else load_series()
    included, excluded = point_estimates_only(*series_log_medians(endpoint, series),
                                              "a survivor count")
    rows = [_median_row(series, endpoint, rec) for rec in included.itertuples()]
    used_groups = set(included.overlap_group) if not included.empty else set()
    used = {row["study"] for row in rows}
    landmarks = {}
    for record in series.records:
        if record.quantity == LANDMARK_QUANTITY[endpoint] and record.primary:
            landmarks.setdefault(record.study, []).append(record)
    left_out = []
    for study_id in sorted(used & set(landmarks)):
        for record in landmarks[study_id]:
            left_out.append((study_id, f"{_describe_landmark(record)} not used: the cohort's "
                                       "median is used (same patients and origin, counted "
                                       "once)"))
    candidates = []
    for study_id, reason in excluded.itertuples(index=False):
        usable, notes = [], []
        for record in landmarks.get(study_id, []):
            why = _landmark_problem(series, record, used_groups)
            if why is None:
                usable.append((study_id, reason, record))
            else:
                notes.append(f"{_describe_landmark(record)} not used: {why}")
        candidates.extend(usable)
        if usable:
            left_out.extend((study_id, note) for note in notes)
        else:
            left_out.append((study_id, "; ".join([reason, *notes])))
    rows.extend(_landmark_rows(series, candidates, left_out))
    counts = pd.DataFrame(rows, columns=list(COUNT_COLUMNS))
    counts = counts.sort_values("study").reset_index(drop=True)
    return counts, pd.DataFrame(left_out, columns=["study", "reason"])


def _median_row(series, endpoint: str, rec) -> dict:
    """The survivor-count row of one median kept by ``series_log_medians``."""
    n_eff = 1 / (math.log(2) ** 2 * rec.std_error ** 2)
    n, cap = _capped(n_eff, rec.n)
    if rec.se_method == "ci":
        record = series.get(rec.study, QUANTITY[endpoint])
        basis = (f"{endpoint} median {rec.median:g} months (95% CI {record.lower:g}-"
                 f"{record.upper:g})")
    else:
        basis = (f"{endpoint} median {rec.median:g} months, N {rec.n:g}, no 95% CI: SE "
                 f"approximated ({rec.se_method})")
    basis += f"; SE(log median) {rec.std_error:.4g}, n_eff {n_eff:.4g}{cap}"
    return {"study": rec.study, "start": 0.0, "stop": float(rec.median), "n": n,
            "r": n / 2, "basis": basis}


def _capped(n_eff: float, total) -> tuple[float, str]:
    """``min(n_eff, N)`` and a note when the cap binds (no cap when N is not reported)."""
    if total is None or pd.isna(total) or n_eff <= total:
        return float(n_eff), ""
    return float(total), f" capped at N = {total:g}"


def _describe_landmark(record) -> str:
    """E.g. ``os_survival 68% at 60 months (95% CI 56-78)``."""
    ci = (f" (95% CI {record.lower:g}-{record.upper:g})" if _has_ci(record) else "")
    value = "?" if record.value is None else f"{record.value:g}%"
    return f"{record.quantity} {value} at {record.time:g} months{ci}"


def _has_ci(record) -> bool:
    return (record.interval == "95% CI" and record.lower is not None
            and record.upper is not None)


def _landmark_problem(series, record, used_groups: set[str]) -> str | None:
    """Why a landmark cannot be used (``None`` when it can), by the module's rules."""
    study = series.studies[record.study]
    if record.value is None or record.time is None or record.unit != "percent":
        return "no percentage at a time point"
    regimen = regimen_exclusion(study)
    if regimen:
        return regimen
    if not _has_ci(record):
        follow_up = _value(series, record.study, "median_follow_up_months")
        seen = "" if follow_up is None else f"; median follow-up {follow_up:g} months"
        return ("no 95% CI (its precision depends on how many patients were still followed "
                f"at {record.time:g} months, not reported{seen})")
    if study.overlap_group in used_groups:
        return (f"overlap group '{study.overlap_group}' is already represented by a cohort's "
                "median")
    return None


def _value(series, study_id: str, quantity: str) -> float | None:
    """The primary value of a study's number without a time point, or None."""
    for record in series.records:
        if (record.study, record.quantity, record.time) == (study_id, quantity, None):
            if record.primary:
                return record.value
    return None


def _landmark_rows(series, candidates: list, left_out: list) -> list[dict]:
    """Rows of the usable landmarks: one cohort per overlap group (the larger), one landmark
    per cohort (the latest); the others are appended to ``left_out`` with their reason."""
    by_group: dict[str, list] = {}
    for study_id, reason, record in candidates:
        group = series.studies[study_id].overlap_group
        by_group.setdefault(group, []).append((study_id, reason, record))
    rows = []
    for group, members in by_group.items():
        sizes = {s: _value(series, s, "n_efficacy") or 0 for s, _, _ in members}
        keep = max(sizes, key=lambda s: (sizes[s], s))
        for study_id, reason, record in members:
            if study_id != keep:
                left_out.append((study_id, f"{reason}; {_describe_landmark(record)} not used: "
                                           f"overlaps with {keep} (overlap group '{group}')"))
        mine = sorted((m[2] for m in members if m[0] == keep), key=lambda rec: rec.time)
        for record in mine[:-1]:
            left_out.append((keep, f"{_describe_landmark(record)} not used: the cohort's later "
                                   "landmark is used (same patients and origin, counted once)"))
        rows.append(_landmark_row(series, mine[-1]))
    return rows


def _landmark_row(series, record) -> dict:
    """The survivor-count row of one landmark with a 95% CI."""
    p = record.value / 100
    try:
        se = se_from_ci(record.lower / 100, record.upper / 100, log=False)
    except InputError as err:
        raise InputError(err.message, row=f"study {record.study}",
                         field=record.quantity) from None
    if not 0 < p < 1:
        raise InputError(f"landmark survival must be strictly between 0 and 100%, got "
                         f"{record.value:g}%", row=f"study {record.study}",
                         field=record.quantity)
    n_eff = p * (1 - p) / se ** 2
    n, cap = _capped(n_eff, _value(series, record.study, "n_efficacy"))
    basis = (f"{_describe_landmark(record)}; SE {se:.4g} (probability scale), "
             f"n_eff {n_eff:.4g}{cap}")
    return {"study": record.study, "start": 0.0, "stop": float(record.time), "n": n,
            "r": p * n, "basis": basis}
