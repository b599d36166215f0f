"""Evidence pages generated from the bundled package data at build time (no number typed).

Everything comes from :func:`prrt_bayes.evidence.load_netter1`, :func:`load_series` and
:func:`list_sources`, which validate the data on load: if the data break, the build breaks.
"""

from __future__ import annotations

from functools import cache

import pandas as pd
from md_blocks import cell, code, frame_table, table

from prrt_bayes.evidence import list_sources, load_netter1, load_series

_DERIVED_SUFFIXES = ("_numeric", "_bound")


@cache
def _netter1():
    return load_netter1()


@cache
def _series():
    return load_series()


def interval(record) -> str:
    """``lower to upper`` with the interval kind (``95% CI`` / ``range``), or empty."""
    if record.lower is None and record.upper is None:
        return ""
    kind = f" ({record.interval})" if record.interval else ""
    return f"{cell(record.lower)} to {cell(record.upper)}{kind}"


def value(record) -> str:
    """The record's value with its percentage / denominator / date, as printed in the table."""
    parts = []
    if record.value is not None:
        parts.append(cell(record.value))
    if record.denominator is not None:
        unit = f" {record.denominator_unit}" if record.denominator_unit else ""
        parts.append(f"of {cell(record.denominator)}{unit}")
    if record.percent is not None:
        parts.append(f"({cell(record.percent)}%)")
    if record.date:
        parts.append(cell(record.date))
    return " ".join(parts)


def provenance(record) -> str:
    """Quote, derivation and note of a record, each labelled."""
    parts = []
    if record.quote:
        parts.append(f"“{cell(record.quote)}”")
    if record.derived_from:
        parts.append(f"derived from: {cell(record.derived_from)}")
    if record.note:
        parts.append(f"note: {cell(record.note)}")
    if record.reason:
        parts.append(f"why primary: {cell(record.reason)}")
    return "<br>".join(parts)


def _status(record) -> str:
    return "primary" if record.primary else "alternative"


def sources() -> str:
    """Every bundled source (NETTER-1 publications and series cohorts) and its contribution."""
    frame = list_sources()
    return frame_table(frame, ["name", "kind", "citation", "n_numbers", "contributes"],
                       code_columns=("name",))


def netter1_sources() -> str:
    """The NETTER-1 publications with DOI / PMID / address."""
    rows = [[code(s.key), cell(s.citation), cell(s.doi), cell(s.pmid), cell(s.address)]
            for s in _netter1().sources.values()]
    return table(["key", "citation", "DOI", "PMID", "address"], rows)


def netter1_cuts() -> str:
    """The NETTER-1 data cuts and how many numbers each contributes."""
    evidence = _netter1()
    rows = [[code(cut.id), cell(cut.date or "not stated"), cell(cut.description),
             cell(sum(r.cut == cut.id for r in evidence.records))]
            for cut in evidence.cuts.values()]
    return table(["cut", "date", "description", "numbers"], rows)


def netter1_records() -> str:
    """One section per data cut: every record with value, interval, unit, source and quote."""
    evidence = _netter1()
    parts = []
    for cut in evidence.cuts.values():
        records = [r for r in evidence.records if r.cut == cut.id]
        if not records:
            continue
        parts += [f"### {cell(cut.description)} {{#cut-{cut.id}}}", "",
                  f"Cut `{cut.id}`, data cut-off {cell(cut.date or 'not stated')}; "
                  f"{len(records)} records.", ""]
        rows = [[code(r.quantity), cell(r.arm), cell(r.time), value(r), interval(r),
                 cell(r.unit), cell(r.p_value), code(r.source), cell(r.locator), _status(r),
                 provenance(r)] for r in records]
        parts += [table(["quantity", "arm", "time (months)", "value", "interval", "unit",
                         "P", "source", "locator", "status", "quote / derivation / note"], rows),
                  ""]
    return "\n".join(parts)


def netter1_tables() -> str:
    """NEJM Tables 1-4 as bundled (derived helper columns left out)."""
    parts = []
    for name, frame in _netter1().tables.items():
        columns = [c for c in frame.columns if not c.endswith(_DERIVED_SUFFIXES)]
        number, _, topic = name.removeprefix("table").partition("_")
        title = f"Table {number}: {topic.replace('_', ' ')}"
        parts += [f"## {title} {{#{name}}}", "",
                  f"{len(frame)} rows, file `netter1_tables/{name}.csv`.", "",
                  frame_table(frame, columns), ""]
    return "\n".join(parts)


def series_studies() -> str:
    """The single-arm cohorts with population, overlap group and borrowing flags."""
    frame = _series().studies_frame()
    counts = pd.Series([r.study for r in _series().records]).value_counts()
    frame = frame.assign(records=frame["id"].map(counts).fillna(0).astype(int))
    columns = ["id", "citation", "population", "population_detail", "overlap_group",
               "progression_endpoint", "response_criteria", "mixed_radionuclides",
               "chemotherapy", "retreatment", "records", "doi", "pmid", "note"]
    return frame_table(frame, [c for c in columns if c in frame.columns], code_columns=("id",))


def series_records() -> str:
    """One section per cohort: every record with value, interval, denominator and quote."""
    evidence = _series()
    parts = []
    for study in evidence.studies.values():
        records = [r for r in evidence.records if r.study == study.id]
        parts += [f"### `{study.id}` {{#study-{study.id}}}", "", cell(study.citation), ""]
        if not records:
            parts += ["No numbers bundled for this cohort.", ""]
            continue
        rows = [[code(r.quantity), cell(r.time), value(r), interval(r), cell(r.unit),
                 cell(r.locator), _status(r), provenance(r)] for r in records]
        parts += [table(["quantity", "time (months)", "value", "interval", "unit", "locator",
                         "status", "quote / derivation / note"], rows), ""]
    return "\n".join(parts)


def counts() -> str:
    """One sentence with the size of the bundled evidence."""
    netter1, series = _netter1(), _series()
    table_rows = sum(len(t) for t in netter1.tables.values())
    return (f"The package bundles {len(netter1.records)} NETTER-1 records from "
            f"{len(netter1.sources)} sources over {len(netter1.cuts)} data cuts, "
            f"{table_rows} rows of NEJM Tables 1-4, and {len(series.records)} records from "
            f"{len(series.studies)} single-arm cohorts.")
