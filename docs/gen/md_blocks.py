"""Small Markdown builders shared by the page generators (tables, cells, admonitions)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

_ESCAPES = {"|": "\\|", "<": "&lt;", ">": "&gt;", "*": "\\*", "[": "\\[", "]": "\\]",
            "$": "&#36;", "`": "\\`", "_": "\\_"}


def cell(value) -> str:
    """One table cell: numbers in shortest exact form, text escaped, missing values empty."""
    if value is None or str(value) in ("<NA>", "NaT"):
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    text = " ".join(str(value).split())
    return "".join(_ESCAPES.get(char, char) for char in text)


def code(value) -> str:
    """A code-span cell (identifiers such as quantity names); empty for missing values."""
    text = cell(value)
    if not text:
        return ""
    return f"`{' '.join(str(value).split())}`"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table from already formatted cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def frame_table(frame, columns: Sequence[str] | None = None, code_columns=()) -> str:
    """A Markdown table of a DataFrame's columns (all by default), cells via :func:`cell`."""
    columns = list(columns or frame.columns)
    rows = [
        [code(v) if c in code_columns else cell(v) for c, v in zip(columns, record, strict=True)]
        for record in frame[columns].itertuples(index=False)
    ]
    return table([cell(c) for c in columns], rows)


def admonition(kind: str, title: str, body: str) -> str:
    """A Material admonition block."""
    indented = "\n".join(f"    {line}" if line else "" for line in body.splitlines())
    return f'!!! {kind} "{title}"\n\n{indented}\n'
