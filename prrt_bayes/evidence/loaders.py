"""Load and validate the bundled evidence: NETTER-1 by data cut, NEJM Tables 1-4, the series.

Every loader validates on load and raises :class:`~prrt_bayes.core.errors.InputError` naming the
file,
the record (or CSV row) and the field of the first problem, so a broken data file never yields
a silently wrong number.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from prrt_bayes.core.errors import InputError
from prrt_bayes.evidence.schema import Cut, Record, Source, Study, percent_consistent

_DATA = resources.files("prrt_bayes.evidence")
_NUMERIC_SUFFIXES = ("_n", "_percent", "_denominator", "_sd", "_ci_lower", "_ci_upper")
TABLE_FILES = {
    "table1_baseline": "table1_baseline.csv",
    "table2_response": "table2_response.csv",
    "table3_ae_overview": "table3_ae_overview.csv",
    "table4_ae_by_type": "table4_ae_by_type.csv",
}


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"malformed TOML: {err}", file=path) from None


def _build(model, data: dict, *, file: Path, row: str):
    """Validate one TOML entry with a pydantic model, as an InputError on failure."""
    try:
        return model(**data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        raise InputError(message, file=file, row=row, field=loc) from None


def _record_label(index: int, data: dict) -> str:
    owner = data.get("cut") or data.get("study") or "?"
    return f"record {index} ({owner}/{data.get('quantity', '?')}/{data.get('arm', 'all')})"


def _load_records(raw: list[dict], *, file: Path, sources: set[str] | None) -> tuple[Record, ...]:
    records = []
    for index, data in enumerate(raw, start=1):
        label = _record_label(index, data)
        record = _build(Record, data, file=file, row=label)
        if sources is not None:
            if not record.source:
                raise InputError("missing source", file=file, row=label, field="source")
            if record.source not in sources:
                raise InputError(
                    f"unknown source '{record.source}'", file=file, row=label, field="source"
                )
        records.append(record)
    _check_alternatives(records, file=file)
    return tuple(records)


def _check_alternatives(records: list[Record], *, file: Path) -> None:
    """Each number has exactly one primary record; alternatives need a reason on the primary."""
    groups: dict[tuple, list[Record]] = {}
    for record in records:
        groups.setdefault(record.key(), []).append(record)
    for key, group in groups.items():
        primaries = [r for r in group if r.primary]
        label = "/".join(str(part) for part in key if part is not None)
        if len(primaries) != 1:
            raise InputError(
                f"{len(primaries)} primary records for one number (mark exactly one primary)",
                file=file,
                row=label,
                field="primary",
            )
        if len(group) > 1 and not primaries[0].reason:
            raise InputError(
                "sources disagree: the primary record needs a reason", file=file, row=label,
                field="reason",
            )


def _parse_date(text: str) -> date:
    parts = [int(p) for p in text.split("-")]
    return date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)


# ------------------------------------------------------------------------------------ NETTER-1
@dataclass(frozen=True)
class Netter1Evidence:
    """NETTER-1 published numbers by data cut, with sources and the NEJM Tables 1-4."""

    trial: dict
    sources: dict[str, Source]
    cuts: dict[str, Cut]
    records: tuple[Record, ...]
    tables: dict[str, pd.DataFrame] = field(repr=False)

    def get(self, cut: str, quantity: str, arm: str = "all", time: float | None = None) -> Record:
        """The primary record for one number; InputError listing what exists if absent.

        Parameters
        ----------
        cut
            Data cut id, e.g. ``"primary_2015"`` or ``"final_2021"`` (see :attr:`cuts`).
        quantity
            Quantity name, e.g. ``"pfs_survival"`` or ``"n_randomised"``.
        arm
            ``"lu177"``, ``"control"`` or ``"all"`` (numbers not split by arm).
        time
            Landmark time in months, or None for numbers without a time point. Compared exactly
            with the record's ``time``.

        Returns
        -------
        Record
            The record with ``primary = True`` (the stored object, not a copy; records are
            frozen).

        Raises
        ------
        InputError
            When no primary record matches; the message says how many records exist for the cut.
        """
        matches = [
            r
            for r in self.records
            if r.cut == cut and r.quantity == quantity and r.arm == arm and r.time == time
            and r.primary
        ]
        if not matches:
            known = sorted({(r.cut, r.quantity, r.arm) for r in self.records if r.cut == cut})
            raise InputError(
                f"no NETTER-1 record cut={cut!r} quantity={quantity!r} arm={arm!r} time={time!r};"
                f" {len(known)} records exist for that cut (see load_netter1().frame())"
            )
        return matches[0]

    def alternatives(self, cut: str, quantity: str, arm: str = "all", time=None) -> list[Record]:
        """All records (primary first) reporting the same number.

        Parameters
        ----------
        cut, quantity, arm, time
            The number's identity, as in :meth:`get` (``time`` in months, or None).

        Returns
        -------
        list[Record]
            A new list: the primary record first, then the alternatives in file order; empty
            when no record matches (no error is raised).
        """
        group = [r for r in self.records if r.key() == (cut, quantity, arm, time)]
        return sorted(group, key=lambda r: not r.primary)

    def frame(self) -> pd.DataFrame:
        """All records as a tidy DataFrame, one row per record (alternatives included).

        Returns
        -------
        pandas.DataFrame
            A new frame, one row per record in file order, one column per :class:`Record` field
            except ``study`` (``quantity, unit, locator, source, cut, arm, time, value, lower,
            upper, ...``); alternatives have ``primary`` False.
        """
        return pd.DataFrame([r.model_dump(exclude={"study"}) for r in self.records])


def _validate_cut_dates(cuts: dict[str, Cut], records: tuple[Record, ...], file: Path) -> None:
    dated = [(c.id, _parse_date(c.date)) for c in cuts.values() if c.date]
    for (first, d1), (second, d2) in zip(dated, dated[1:], strict=False):
        if d2 <= d1:
            raise InputError(f"cut '{second}' is not after '{first}'", file=file, field="date")
    for record in records:
        if record.cut not in cuts:
            raise InputError(
                f"unknown cut '{record.cut}'", file=file, row=record.quantity, field="cut"
            )
        cut_date = cuts[record.cut].date
        if record.quantity == "data_cutoff" and record.date != cut_date:
            raise InputError(
                f"data_cutoff {record.date} differs from the cut's date {cut_date}",
                file=file, row=record.cut, field="date",
            )
    starts = [r for r in records if r.quantity == "accrual_start"]
    ends = [r for r in records if r.quantity == "accrual_end"]
    for start in starts:
        for end in ends:
            if _parse_date(end.date) < _parse_date(start.date):
                raise InputError("accrual ends before it starts", file=file, field="date")


def load_netter1(path: str | Path | None = None, tables_dir: str | Path | None = None):
    """Load NETTER-1 evidence (all data cuts and NEJM Tables 1-4), validated.

    Parameters
    ----------
    path
        TOML file to read instead of the bundled ``netter1.toml`` (for tests / user data);
        None (or empty) reads the bundled file.
    tables_dir
        Folder of the Tables 1-4 CSVs (file names in :data:`TABLE_FILES`) instead of the bundled
        ``netter1_tables/``; None reads the bundled folder.

    Returns
    -------
    Netter1Evidence
        Sources, cuts and records from the TOML, and the four tables as DataFrames (keys of
        :data:`TABLE_FILES`; numeric columns parsed, ``p_value_numeric`` / ``p_value_bound``
        added where a p-value column exists).

    Raises
    ------
    InputError
        A missing or malformed file, a record that fails :class:`Record` validation, an unknown
        source or cut, not exactly one primary record per number, cut dates out of order, or a
        table cell that is not a number, a table count whose denominator is missing or not
        positive, or a count, percentage or CI that is inconsistent; the file, row and field are
        named.
    """
    file = Path(path) if path else Path(str(_DATA / "netter1.toml"))
    raw = _read_toml(file)
    sources = {
        s["key"]: _build(Source, s, file=file, row=f"source {i}")
        for i, s in enumerate(raw.get("sources", []), start=1)
    }
    cuts = {
        c["id"]: _build(Cut, c, file=file, row=f"cut {i}")
        for i, c in enumerate(raw.get("cuts", []), start=1)
    }
    records = _load_records(raw.get("records", []), file=file, sources=set(sources))
    _validate_cut_dates(cuts, records, file)
    folder = Path(tables_dir) if tables_dir else Path(str(_DATA / "netter1_tables"))
    tables = {name: _load_table(folder / filename) for name, filename in TABLE_FILES.items()}
    _check_tables(tables, folder)
    return Netter1Evidence(raw.get("trial", {}), sources, cuts, records, tables)


def _load_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError("file not found", file=path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"unreadable CSV: {err}", file=path) from None
    for column in frame.columns:
        if column.endswith(_NUMERIC_SUFFIXES) or column in ("lu177_value", "control_value"):
            for row, text in enumerate(frame[column], start=2):
                if text and not _is_number(text):
                    raise InputError(f"not a number: {text!r}", file=path, row=row, field=column)
            frame[column] = pd.to_numeric(frame[column].replace("", None))
    if "p_value" in frame.columns or "p_value_any_grade" in frame.columns:
        column = "p_value" if "p_value" in frame.columns else "p_value_any_grade"
        frame["p_value_bound"] = frame[column].str.startswith("<")
        frame[column + "_numeric"] = pd.to_numeric(
            frame[column].str.lstrip("<").replace("", None)
        )
    if "source" in frame.columns:
        for row, text in enumerate(frame["source"], start=2):
            if not text.strip():
                raise InputError("missing source", file=path, row=row, field="source")
    return frame


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_count(
    path: Path, row: int, column: str, count, denominator, percent,
    *, denominator_field: str | None = None,
) -> None:
    """A table count: non-negative, within a positive denominator, percentage consistent."""
    if pd.isna(count):
        return
    if pd.isna(denominator) or denominator <= 0:
        shown = "missing" if pd.isna(denominator) else f"{denominator:g}"
        raise InputError(
            f"the denominator of count {count:g} ({column}) is {shown}: it must be a positive "
            "number",
            file=path, row=row, field=denominator_field,
        )
    if count < 0:
        raise InputError(f"negative count {count:g}", file=path, row=row, field=column)
    if count > denominator:
        raise InputError(
            f"count {count:g} is above its denominator {denominator:g}",
            file=path, row=row, field=column,
        )
    if not pd.isna(percent) and not percent_consistent(count, denominator, percent):
        raise InputError(
            f"percentage {percent:g}% is inconsistent with {count:g}/{denominator:g}",
            file=path, row=row, field=column.replace("_n", "_percent"),
        )


def _check_tables(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    """Counts within denominators and percentages consistent with counts, in every table."""
    baseline = tables["table1_baseline"]
    arm_n = {"lu177": 116, "control": 113}  # Table 1 header: N=116 / N=113
    for row, rec in enumerate(baseline.itertuples(index=False), start=2):
        if rec.statistic != "n_percent":
            continue
        for arm, n in arm_n.items():
            _check_count(
                folder / TABLE_FILES["table1_baseline"], row, f"{arm}_value",
                getattr(rec, f"{arm}_value"), n, getattr(rec, f"{arm}_percent"),
            )
    for name, prefixes in (
        ("table2_response", ["lu177", "control"]),
        ("table3_ae_overview", ["lu177", "control"]),
        ("table4_ae_by_type", ["lu177_any", "lu177_grade34", "control_any", "control_grade34"]),
    ):
        path = folder / TABLE_FILES[name]
        for row, rec in enumerate(tables[name].to_dict("records"), start=2):
            for prefix in prefixes:
                arm = prefix.split("_")[0]
                _check_count(
                    path, row, f"{prefix}_n", rec[f"{prefix}_n"], rec[f"{arm}_denominator"],
                    rec[f"{prefix}_percent"], denominator_field=f"{arm}_denominator",
                )
                lower, upper = rec.get(f"{prefix}_ci_lower"), rec.get(f"{prefix}_ci_upper")
                if lower is not None and not pd.isna(lower):
                    if not lower <= rec[f"{prefix}_percent"] <= upper:
                        raise InputError(
                            "95% CI does not contain its estimate", file=path, row=row,
                            field=f"{prefix}_ci_lower",
                        )
    ae = tables["table4_ae_by_type"]
    path = folder / TABLE_FILES["table4_ae_by_type"]
    for row, rec in enumerate(ae.itertuples(index=False), start=2):
        if rec.row_type == "event" and not rec.organ_class.strip():
            raise InputError("event without organ class", file=path, row=row, field="organ_class")
        for arm in ("lu177", "control"):
            if getattr(rec, f"{arm}_grade34_n") > getattr(rec, f"{arm}_any_n"):
                raise InputError(
                    "grade 3/4 count above the any-grade count", file=path, row=row,
                    field=f"{arm}_grade34_n",
                )


# ------------------------------------------------------------------------------ single-arm series
@dataclass(frozen=True)
class SeriesEvidence:
    """Single-arm 177Lu-DOTATATE cohorts (efficacy and toxicity) with study-level flags."""

    studies: dict[str, Study]
    records: tuple[Record, ...]

    def get(self, study: str, quantity: str, time: float | None = None) -> Record:
        """The primary record of one number of one study.

        Parameters
        ----------
        study
            Study id (a key of :attr:`studies`), e.g. ``"kwekkeboom2008"``.
        quantity
            Quantity name as in ``series.toml``.
        time
            Landmark time in months, or None for numbers without a time point.

        Returns
        -------
        Record
            The record with ``primary = True`` (the stored object; records are frozen).

        Raises
        ------
        InputError
            When no primary record matches; the message names the study, quantity and time,
            and lists the times on file when the study reports that quantity at other times.
        """
        for record in self.records:
            if (record.study, record.quantity, record.time) == (study, quantity, time):
                if record.primary:
                    return record
        times = [
            r.time for r in self.records if (r.study, r.quantity) == (study, quantity) and r.primary
        ]
        hint = f"; times on file for that quantity: {times}" if times else ""
        raise InputError(
            f"no series record study={study!r} quantity={quantity!r} time={time!r}{hint}"
        )

    def studies_frame(self) -> pd.DataFrame:
        """One row per cohort with population, overlap group and flags.

        Returns
        -------
        pandas.DataFrame
            A new frame, one row per study in file order, one column per :class:`Study` field
            (``id, citation, population, population_detail, overlap_group, ...,
            mixed_radionuclides, chemotherapy, retreatment, non_standard_dose, note``).
        """
        return pd.DataFrame([s.model_dump() for s in self.studies.values()])

    def frame(self) -> pd.DataFrame:
        """All records, one row per record, joined with the study's population and flags.

        Returns
        -------
        pandas.DataFrame
            A new frame: the :class:`Record` fields except ``cut`` and ``arm``, plus the study's
            ``population, overlap_group, mixed_radionuclides, chemotherapy, retreatment,
            non_standard_dose, progression_endpoint`` (left join on ``study``); alternatives
            included.
        """
        records = pd.DataFrame([r.model_dump(exclude={"cut", "arm"}) for r in self.records])
        studies = self.studies_frame()[
            ["id", "population", "overlap_group", "mixed_radionuclides", "chemotherapy",
             "retreatment", "non_standard_dose", "progression_endpoint"]
        ].rename(columns={"id": "study"})
        return records.merge(studies, on="study", how="left")


def load_series(path: str | Path | None = None) -> SeriesEvidence:
    """Load the single-arm series (``series.toml``), validated.

    Parameters
    ----------
    path
        TOML file to read instead of the bundled ``series.toml``; None (or empty) reads the
        bundled file.

    Returns
    -------
    SeriesEvidence
        The studies (by id) and their records.

    Raises
    ------
    InputError
        A missing or malformed file, a study or record that fails validation, a record of an
        unknown study, or not exactly one primary record per number; file, row and field named.
    """
    file = Path(path) if path else Path(str(_DATA / "series.toml"))
    raw = _read_toml(file)
    studies = {
        s.get("id", "?"): _build(Study, s, file=file, row=f"study {i} ({s.get('id', '?')})")
        for i, s in enumerate(raw.get("studies", []), start=1)
    }
    records = _load_records(raw.get("records", []), file=file, sources=None)
    for index, record in enumerate(records, start=1):
        if record.study not in studies:
            raise InputError(
                f"unknown study '{record.study}'", file=file, row=f"record {index}", field="study"
            )
    return SeriesEvidence(studies, records)


def list_sources() -> pd.DataFrame:
    """Every bundled source and what it contributes.

    Returns
    -------
    pandas.DataFrame
        One row per NETTER-1 source, then one per series study, with columns ``name`` (source
        key or study id), ``kind`` (``"netter1"`` or ``"series (<population>)"``), ``citation``,
        ``n_numbers`` (records, plus the rows of the tables citing a NETTER-1 source) and
        ``contributes`` (table names and quantities, comma-separated).
    """
    netter1 = load_netter1()
    rows = []
    for key, source in netter1.sources.items():
        mine = [r for r in netter1.records if r.source == key]
        quantities = sorted({r.quantity for r in mine})
        tables = sorted(
            name for name, frame in netter1.tables.items()
            if "source" in frame and (frame["source"] == key).any()
        )
        rows.append({
            "name": key, "kind": "netter1", "citation": source.citation,
            "n_numbers": len(mine) + sum(len(netter1.tables[t]) for t in tables),
            "contributes": ", ".join(tables + quantities),
        })
    series = load_series()
    for study_id, study in series.studies.items():
        mine = [r for r in series.records if r.study == study_id]
        rows.append({
            "name": study_id, "kind": f"series ({study.population})", "citation": study.citation,
            "n_numbers": len(mine), "contributes": ", ".join(sorted({r.quantity for r in mine})),
        })
    return pd.DataFrame(rows)
