"""mkdocstrings directives for the modules that exist when the site is built.

Pages name modules (``::gen:: module-doc prrt_bayes.survival.ph``) or packages
(``::gen:: api prrt_bayes.survival``); a module that does not exist (yet) becomes a visible
"not yet available" note instead of a broken build, and new modules of a package appear in its
API page without editing the docs.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from pathlib import Path

from md_blocks import admonition, cell, code, table

# API pages: which modules each page documents ("prrt_bayes" alone = its top-level modules).
API_PAGES = {
    "evidence": ["prrt_bayes.evidence"],
    "reconstruct": ["prrt_bayes.reconstruct"],
    "survival": ["prrt_bayes.survival"],
    "borrowing": ["prrt_bayes.borrowing"],
    "response_toxicity": ["prrt_bayes.response", "prrt_bayes.toxicity"],
}


def exists(module: str) -> bool:
    """True if ``module`` can be found (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def submodules(package: str) -> list[str]:
    """The package itself and its public submodules, sorted; [] if it does not exist."""
    if not exists(package):
        return []
    spec = importlib.util.find_spec(package)
    if not spec.submodule_search_locations:
        return [package]
    names = [package]
    for info in pkgutil.iter_modules(spec.submodule_search_locations):
        if not info.name.startswith("_"):
            names.append(f"{package}.{info.name}")
    return sorted(names, key=lambda n: (n != package, n))


def claimed_modules() -> set[str]:
    """Every module some API page other than the pipeline page documents."""
    return {m for roots in API_PAGES.values() for root in roots for m in submodules(root)}


def pipeline_modules() -> list[str]:
    """Top-level modules and packages not documented on another API page (runner, hta, ...)."""
    claimed = claimed_modules()
    found = []
    for name in submodules("prrt_bayes")[1:]:
        if name in claimed or name == "prrt_bayes.__main__":
            continue
        found += [m for m in submodules(name) if m not in claimed]
    return found


def not_available(module: str) -> str:
    """The note that replaces a module that does not exist at build time."""
    return admonition("warning", "Not yet available",
                      f"`{module}` does not exist in this version of the package; this section "
                      "fills in when it lands.")


def module_doc(module: str, heading_level: int = 3) -> str:
    """The module's docstring (its method description) rendered by mkdocstrings, no members."""
    if not exists(module):
        return not_available(module)
    return "\n".join([
        f"::: {module}",
        "    options:",
        "      members: false",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
        f"      heading_level: {heading_level}",
        "",
    ])


def api(*roots: str) -> str:
    """Full API reference (public members) of every module under ``roots``."""
    modules = []
    for root in roots:
        found = pipeline_modules() if root == "pipeline" else submodules(root)
        if not found:
            modules.append(not_available(root))
        modules += [_directive(m) for m in found]
    return "\n".join(modules)


def _directive(module: str) -> str:
    """``:::`` block; a package's ``__init__`` shows only what it defines, not its re-exports
    (those are documented in their own modules)."""
    lines = [f"::: {module}", "    options:", "      members_order: source"]
    origin = importlib.util.find_spec(module).origin
    if origin and origin.endswith("__init__.py"):
        own = _defined_names(Path(origin))
        lines.append(f"      members: [{', '.join(own)}]" if own else "      members: false")
    return "\n".join(lines) + "\n"


def _defined_names(path: Path) -> list[str]:
    """Public names a module defines itself (functions, classes, assignments), not imports."""
    names = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if not n.startswith("_")]


def api_index() -> str:
    """Table of every documented module with the first line of its docstring."""
    pages = {page: [m for root in roots for m in submodules(root)]
             for page, roots in API_PAGES.items()}
    pages["pipeline"] = pipeline_modules()
    rows = []
    for page, modules in pages.items():
        for module in modules:
            summary = _summary_line(module)
            rows.append([f"[`{module}`]({page}.md#{module})", cell(summary)])
    return table(["module", "what it does"], rows)


def _summary_line(module: str) -> str:
    """First docstring line, read with ``ast`` (importing would load PyMC: slow)."""
    origin = importlib.util.find_spec(module).origin
    doc = ast.get_docstring(ast.parse(Path(origin).read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def constant(path: str) -> str:
    """A tuple constant of the package (``module:NAME``) as a list of code spans."""
    module, name = path.split(":")
    if not exists(module):
        return not_available(module)
    values = getattr(importlib.import_module(module), name, None)
    if values is None:
        return not_available(f"{module}.{name}")
    return ", ".join(code(v) for v in values)


def psa_columns() -> str:
    """The column dictionary of the PSA workbook's README sheet, as written by the package."""
    if not exists("prrt_bayes.hta"):
        return not_available("prrt_bayes.hta")
    columns = getattr(importlib.import_module("prrt_bayes.hta"), "_COLUMN_DOC", None)
    if columns is None:
        return not_available("prrt_bayes.hta column dictionary")
    return table(["column", "meaning"], [[code(c), cell(d)] for c, d in columns])
