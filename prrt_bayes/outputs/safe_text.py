"""Escaping helpers: text from user files (arm, event, analysis names) must stay data.

Five sinks, five rules:

- CSV and Excel cells (:func:`escape_cell`): a string starting with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return is prefixed with a single quote, so a spreadsheet shows it as text
  instead of evaluating it as a formula (OWASP "CSV injection" guidance). Numbers are untouched.
- Excel only (:func:`xlsx_text`): additionally drops the control characters that the XLSX format
  cannot store (openpyxl refuses them), so a hostile name cannot crash the export.
- HTML (:func:`escape_html`): ``html.escape(..., quote=True)``, so no name can inject markup.
- Matplotlib text (:func:`escape_mpl`): ``$`` starts mathtext; it is escaped so a label is shown
  literally and cannot make rendering fail.
- File and sheet names (:func:`safe_name`): only ``A-Z a-z 0-9 _ . -``, so a name cannot leave
  the output folder (``../``) or break an Excel sheet title.
"""

from __future__ import annotations

import html
import re
from typing import Any

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a cell as a formula (OWASP list)."""

_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def escape_cell(value: Any) -> Any:
    """Return ``value`` safe for a CSV/Excel cell: formula-like strings get a leading ``'``.

    Parameters
    ----------
    value
        Any cell value. Only ``str`` values are changed; numbers, booleans and missing values
        are returned as they are (a negative number is data, not a formula).

    Returns
    -------
    Any
        ``"'" + value`` for a string starting with one of :data:`FORMULA_PREFIXES`, else
        ``value`` itself (same object).
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def xlsx_text(value: Any) -> Any:
    """:func:`escape_cell` plus removal of control characters XLSX cannot store (strings only).

    Parameters
    ----------
    value
        Any cell value; only ``str`` values are changed.

    Returns
    -------
    Any
        For a string: each control character XLSX cannot store (``\\x00``-``\\x08``,
        ``\\x0b``, ``\\x0c``, ``\\x0e``-``\\x1f``) replaced by ``U+FFFD``, then escaped as by
        :func:`escape_cell`. Other values are returned unchanged.
    """
    if isinstance(value, str):
        value = _XLSX_ILLEGAL.sub("\ufffd", value)
    return escape_cell(value)


def escape_html(value: Any) -> str:
    """``str(value)`` with ``& < > " '`` replaced by HTML entities.

    Parameters
    ----------
    value
        Any object; it is converted with ``str`` first.

    Returns
    -------
    str
        Text safe to insert into HTML element content or a quoted attribute.
    """
    return html.escape(str(value), quote=True)


def escape_mpl(value: Any) -> str:
    """``str(value)`` with ``$`` escaped, so matplotlib draws it literally (no mathtext).

    Parameters
    ----------
    value
        Any object; it is converted with ``str`` first.

    Returns
    -------
    str
        The text with every ``$`` replaced by ``\\$``.
    """
    return str(value).replace("$", r"\$")


def safe_name(value: Any, max_len: int = 100) -> str:
    """``str(value)`` reduced to a name safe as a file stem or an Excel sheet title.

    Parameters
    ----------
    value
        Any object; it is converted with ``str`` first.
    max_len
        Maximum length of the result, in characters (Excel sheet titles allow 31).

    Returns
    -------
    str
        Every character outside ``A-Z a-z 0-9 _ . -`` replaced by ``_``, leading ``.``/``-``
        stripped, cut to ``max_len`` characters; ``"_"`` when nothing is left.
    """
    name = _NAME_UNSAFE.sub("_", str(value)).lstrip(".-")[:max_len]
    return name or "_"
