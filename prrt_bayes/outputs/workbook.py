"""A minimal streaming XLSX (SpreadsheetML, ECMA-376 Part 1) writer for large numeric tables.

Why not a library: the PSA workbook holds about 2.2 million numbers (6 survival curves x 361
cycles x 1,000 samples); measured on the 2-core development machine, openpyxl (write-only)
takes about 20 s, xlsxwriter (``constant_memory``) 10 s and pyexcelerate 8 s, all dominated by
per-cell Python work. Here a whole row of numbers is formatted by one ``%`` operation on a
per-sheet row template and streamed into the zip archive, about 1-2 s for the same workbook.

What is written (the smallest package Excel, LibreOffice, openpyxl and pandas open):
``[Content_Types].xml``, ``_rels/.rels``, ``xl/workbook.xml`` with its relationships
``xl/_rels/workbook.xml.rels``, a default ``xl/styles.xml`` and one ``xl/worksheets/sheetN.xml``
per sheet, in the order given (the first sheet is the one shown on opening). Rows carry their
number (``<row r="5">``); cells carry no reference, which ECMA-376 allows (``CT_Cell/@r`` is
optional: a cell without it sits right of the previous one) and which keeps the file about 35%
smaller. Readers that insist on cell references (some .NET libraries) cannot read it; Excel,
LibreOffice, openpyxl, pandas and readxl can.

Cells: text as inline strings (``t="inlineStr"``), each passed through
:func:`prrt_bayes.outputs.safe_text.xlsx_text` (formula-like text gets a leading ``'``; control
characters become U+FFFD) and XML-escaped (a carriage return as ``&#13;``, so it survives
XML end-of-line handling); booleans as ``t="b"``; integers and floats as numbers
(floats at full precision, shortest round-trip ``repr``, unless the sheet names a
``float_format``); ``None`` and NaN as empty cells;
infinities as the error value ``#NUM!`` (a cell cannot hold an infinite number). A
:class:`Sheet` with a numeric ``block`` writes every row with one format per column (e.g.
``%.7g``: 7 significant digits) instead: the fast path for the large tables.
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from prrt_bayes.outputs.safe_text import xlsx_text

MAX_ROWS = 1_048_576
"""Rows per worksheet in the XLSX format."""
MAX_COLUMNS = 16_384
"""Columns per worksheet in the XLSX format."""

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_NOT_IN_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")
_ROWS_PER_CHUNK = 64
_CHARREFS = {"\r": "&#13;"}  # a literal CR would be read back as LF (XML end-of-line handling)

_STYLES = (
    f'{_XML_HEAD}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a header row of text, then ``rows`` (any cells) or a numeric ``block``.

    Attributes
    ----------
    title : sheet name (1-31 characters, none of ``[ ] : * ? / \\``, unique ignoring case).
    header : column names (text cells of the first row); may be empty.
    rows : data rows of any cells (see the module docstring), used when ``block`` is None.
    block : 2-D array of finite numbers, one sheet row per array row (the fast path).
    formats : one printf format per column of ``block`` (e.g. ``"%d"``, ``"%.7g"``).
    float_format : printf format of the finite floats in ``rows`` (default: full precision).
    """

    title: str
    header: Sequence[str] = ()
    rows: Iterable[Sequence[Any]] = ()
    block: np.ndarray | None = None
    formats: Sequence[str] = ()
    float_format: str | None = None


def column_letter(index: int) -> str:
    """Excel column name of a 0-based column index (0 -> ``A``, 26 -> ``AA``).

    Parameters
    ----------
    index
        0-based column index, ``0 <= index < 16384``.

    Returns
    -------
    str
        The column letters.

    Raises
    ------
    ValueError
        ``index`` outside the sheet.
    """
    if not 0 <= index < MAX_COLUMNS:
        raise ValueError(f"column {index} is outside a worksheet (0..{MAX_COLUMNS - 1})")
    letters, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text_cell(value: Any) -> str:
    text = _NOT_IN_XML.sub("\ufffd", str(xlsx_text(str(value))))
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c t="inlineStr"><is><t{space}>{escape(text, _CHARREFS)}</t></is></c>'


def _cell(value: Any, float_format: str | None = None) -> str:
    """One ``<c>`` element for a Python or numpy scalar (see the module docstring)."""
    if value is None:
        return "<c/>"
    if isinstance(value, bool | np.bool_):
        return f'<c t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | np.integer):
        return f"<c><v>{int(value)}</v></c>"
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return "<c/>"
        if math.isinf(number):
            return '<c t="e"><v>#NUM!</v></c>'
        text = repr(number) if float_format is None else float_format % number
        return f"<c><v>{text}</v></c>"
    return _text_cell(value)


def _check_titles(sheets: Sequence[Sheet]) -> None:
    seen: set[str] = set()
    for sheet in sheets:
        title = sheet.title
        if not 1 <= len(title) <= 31 or _BAD_TITLE.search(title) or title.startswith("'"):
            raise ValueError(f"{title!r} is not a valid sheet name")
        if title.lower() in seen:
            raise ValueError(f"duplicate sheet name {title!r}")
        seen.add(title.lower())


def _sheet_parts(sheet: Sheet) -> Iterable[str]:
    """The worksheet XML of ``sheet`` in chunks of a few rows."""
    header = list(sheet.header)
    if sheet.block is not None:
        block = np.asarray(sheet.block, dtype=float)
        if block.ndim != 2 or block.shape[1] != len(sheet.formats):
            raise ValueError(f"sheet {sheet.title!r}: block {block.shape} needs one format per "
                             f"column, got {len(sheet.formats)}")
        if not np.isfinite(block).all():
            raise ValueError(f"sheet {sheet.title!r}: a numeric block must be finite")
        n_rows, n_cols = block.shape
        rows: list | None = None
    else:
        rows = [list(r) for r in sheet.rows]
        n_rows, n_cols = len(rows), max([len(r) for r in rows], default=0)
    n_cols = max(n_cols, len(header), 1)
    first = 2 if header else 1
    last_row = max(first - 1 + n_rows, 1)
    if last_row > MAX_ROWS or n_cols > MAX_COLUMNS:
        raise ValueError(f"sheet {sheet.title!r}: {last_row} rows x {n_cols} columns do not fit "
                         f"a worksheet ({MAX_ROWS} x {MAX_COLUMNS})")
    yield (f'{_XML_HEAD}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
           f'<dimension ref="A1:{column_letter(n_cols - 1)}{last_row}"/><sheetData>')
    if header:
        yield '<row r="1">' + "".join(_text_cell(h) for h in header) + "</row>"
    if rows is None:
        cells = "".join(f"<c><v>{f}</v></c>" for f in sheet.formats) + "</row>"
        chunk = []
        for i, values in enumerate(block.tolist()):
            chunk.append(f'<row r="{first + i}">' + cells % tuple(values))
            if len(chunk) == _ROWS_PER_CHUNK:
                yield "".join(chunk)
                chunk = []
        yield "".join(chunk)
    else:
        for i, values in enumerate(rows):
            yield (f'<row r="{first + i}">'
                   + "".join(_cell(v, sheet.float_format) for v in values) + "</row>")
    yield "</sheetData></worksheet>"


def write_workbook(path: Path, sheets: Sequence[Sheet], *, compresslevel: int = 6) -> Path:
    """Write ``sheets`` as one XLSX workbook, streaming each sheet into the zip archive.

    Parameters
    ----------
    path
        Output file (overwritten if it exists).
    sheets
        Worksheets in display order (at least one).
    compresslevel
        Deflate level of the zip members (1 fastest ... 9 smallest; 6 is zlib's default).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        No sheet, an invalid or duplicate sheet name, a sheet larger than the format allows,
        or a numeric block that is not finite or does not match its formats (the partial
        file is removed).
    """
    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    _check_titles(sheets)
    path = Path(path)
    n = len(sheets)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="{_CT}.worksheet+xml"/>'
        for k in range(1, n + 1))
    content_types = (
        f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>{overrides}</Types>')
    root_rels = (f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
                 f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    entries = "".join(f'<sheet name={quoteattr(s.title)} sheetId="{k}" r:id="rId{k}"/>'
                      for k, s in enumerate(sheets, start=1))
    workbook = (f'{_XML_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
                f"<sheets>{entries}</sheets></workbook>")
    links = "".join(f'<Relationship Id="rId{k}" Type="{_REL}/worksheet" '
                    f'Target="worksheets/sheet{k}.xml"/>' for k in range(1, n + 1))
    workbook_rels = (f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL}">{links}'
                     f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
                     "</Relationships>")
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED,
                             compresslevel=compresslevel) as archive:
            archive.writestr("[Content_Types].xml", content_types)
            archive.writestr("_rels/.rels", root_rels)
            archive.writestr("xl/workbook.xml", workbook)
            archive.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
            archive.writestr("xl/styles.xml", _STYLES)
            for k, sheet in enumerate(sheets, start=1):
                with archive.open(f"xl/worksheets/sheet{k}.xml", "w") as member:
                    for part in _sheet_parts(sheet):
                        member.write(part.encode("utf-8"))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
