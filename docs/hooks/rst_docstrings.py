"""Griffe extension: render the package's reStructuredText docstring markup as Markdown.

The package's docstrings are numpydoc with a few reST constructs (``.. math::`` blocks,
``:math:`` / ``:func:`` / ``:class:`` roles, ``::`` literal blocks, simple ``===`` tables), which
mkdocstrings would otherwise print verbatim. This extension rewrites them, once per object, into
what the site's Markdown understands: ``$$`` / ``$`` math for pymdownx.arithmatex (MathJax),
code spans for cross-reference roles and fenced blocks for literal blocks and tables. The source
files are not touched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|exc|obj|const):`~?([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_TABLE_BORDER = re.compile(r"^\s*=+( +=+)+\s*$")
_DIRECTIVE = re.compile(r"^(\s*)\.\. math::\s*(.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block(lines: list[str], start: int, base: int) -> tuple[list[str], int]:
    """The indented block that starts at ``start`` (blank lines allowed inside), and its end."""
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > base):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    body = lines[start:end]
    depth = min((_indent(line) for line in body if line.strip()), default=0)
    return [line[depth:] for line in body], end


def _math_block(content: list[str], pad: str) -> list[str]:
    text = "\n".join(content).strip("\n")
    if "\\\\" in text or "&" in text:
        text = "\\begin{aligned}\n" + text + "\n\\end{aligned}"
    return [f"{pad}$$", *[f"{pad}{line}" for line in text.splitlines()], f"{pad}$$"]


def _fenced(content: list[str], pad: str) -> list[str]:
    return [f"{pad}```text", *[f"{pad}{line}" for line in content], f"{pad}```"]


def _roles(line: str) -> str:
    def role(match: re.Match) -> str:
        target = match.group(2)
        if match.group(0).split("`")[1].startswith("~"):
            target = target.rsplit(".", 1)[-1]
        return f"`{target.lstrip('.')}`"

    return _ROLE.sub(role, line)


def _math_roles(text: str) -> str:
    """``:math:`...``` -> ``$...$``; a role may wrap over lines, so this runs on the whole text."""
    return _MATH_ROLE.sub(lambda m: "$" + " ".join(m.group(1).split()) + "$", text)


_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_ENTRY = re.compile(r"^(\s*)(\w+(?:, *\w+)*|\*{0,2}\w+)(?: *: *(.*))?$")
_TYPE = re.compile(r"[\w.\[\]'\"]+(?: *[|,] *[\w.\[\]'\"]+)*(?:, *optional)?")
_ENTRY_SECTIONS = ("Parameters", "Other Parameters", "Attributes", "Returns", "Yields",
                   "Raises", "Warns", "Receives")


def normalise_entries(lines: list[str]) -> list[str]:
    """Make the numpydoc entries of the package's docstrings parse as intended by griffe.

    * ``name : some description`` (a description where numpydoc expects a type) becomes
      ``name`` with the description on the next, indented line, so it is not shown as a type;
    * ``a, b : type`` in a Parameters section becomes one entry per name (same description):
      griffe gives every name of a group the default value of the first one.
    """
    out: list[str] = []
    section, entry_indent = "", 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]) and line.strip():
            section, entry_indent = line.strip(), _indent(line)
            out += [line, lines[i + 1]]
            i += 2
            continue
        entry = (_ENTRY.match(line) if section in _ENTRY_SECTIONS
                 and _indent(line) == entry_indent and line.strip() else None)
        if not entry:
            out.append(line)
            i += 1
            continue
        pad, names, after = entry.group(1), entry.group(2), (entry.group(3) or "").strip()
        body, end = _block(lines, i + 1, _indent(line))
        kind = f" : {after}" if after and _TYPE.fullmatch(after) else ""
        if after and not kind:
            body = [after, *body]
        split = "," in names and section in ("Parameters", "Other Parameters")
        for name in names.split(",") if split else [names]:
            out.append(f"{pad}{name.strip()}{kind}")
            out += [f"{pad}    {b}" if b else "" for b in body]
        i = end
    return out


def rst_to_markdown(text: str) -> str:
    """Rewrite the reST constructs used in the package's docstrings as Markdown."""
    lines = normalise_entries(_math_roles(text).splitlines())
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        if directive:
            pad, inline = directive.group(1), directive.group(2)
            body, i = _block(lines, i + 1, _indent(line))
            out.extend(_math_block(([inline] if inline else []) + body, pad))
            continue
        if _TABLE_BORDER.match(line):
            pad, borders, j = line[: _indent(line)], 0, i
            while j < len(lines) and borders < 3:
                borders += bool(_TABLE_BORDER.match(lines[j]))
                j += 1
            out.extend(_fenced([row[len(pad):] for row in lines[i:j]], pad))
            i = j
            continue
        stripped = line.rstrip()
        if stripped.endswith("::") and i + 1 < len(lines) and not lines[i + 1].strip():
            k = i + 1
            while k < len(lines) and not lines[k].strip():
                k += 1
            if k < len(lines) and _indent(lines[k]) > _indent(line):
                head = stripped[:-2].rstrip()
                if head:
                    out.append(_roles(head if head.endswith(":") else head + ":"))
                out.append("")
                body, i = _block(lines, k, _indent(line))
                out.extend(_fenced(body, line[: _indent(line)]))
                continue
        out.append(_roles(line))
        i += 1
    return "\n".join(out)


class RstToMarkdown(griffe.Extension):
    """Convert every loaded docstring from the package's reST markup to Markdown."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring in place (before it is parsed into sections)."""
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
