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
from functools import cache
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


@cache
def _package_root() -> Path:
    """Folder that holds the ``prrt_bayes`` package (importing only its tiny ``__init__``)."""
    return Path(importlib.util.find_spec("prrt_bayes").origin).parents[1]


def module_path(module: str) -> Path | None:
    """Source file of ``module`` (``.py`` or package ``__init__.py``), found on disk without
    importing it (``find_spec`` would import parent packages, i.e. PyMC: seconds)."""
    base = _package_root().joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def exists(module: str) -> bool:
    """True if ``module`` exists in the package sources."""
    return module_path(module) is not None


def submodules(package: str) -> list[str]:
    """The package itself and its public submodules, sorted; [] if it does not exist."""
    path = module_path(package)
    if path is None:
        return []
    if path.name != "__init__.py":
        return [package]
    names = [package]
    for info in pkgutil.iter_modules([str(path.parent)]):
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


def object_doc(path: str, heading_level: int = 3) -> str:
    """One function or class (``module.name``) rendered by mkdocstrings with its signature, or
    a "not yet available" note if the module does not define it."""
    module, name = path.rsplit(".", 1)
    if not exists(module) or name not in _defined_names(module_path(module)):
        return not_available(path)
    return "\n".join([f"::: {path}", "    options:", "      show_root_heading: true",
                      "      show_root_full_path: false", "      show_signature_annotations: true",
                      f"      heading_level: {heading_level}", ""])


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
    (those are documented in their own modules), and a plain module with ``__all__`` shows
    those names only (the CLI module: its commands are on the CLI reference page)."""
    lines = [f"::: {module}", "    options:", "      members_order: source"]
    origin = module_path(module)
    exported = _exported_names(origin) if origin.name != "__init__.py" else None
    if exported is not None:
        lines.append(f"      members: [{', '.join(exported)}]")
    elif origin.name == "__init__.py":
        own = _defined_names(origin)
        lines.append(f"      members: [{', '.join(own)}]" if own else "      members: false")
    return "\n".join(lines) + "\n"


def _exported_names(path: Path) -> list[str] | None:
    """The string literals of a module-level ``__all__`` list, or None without one."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__all__"):
            return [element.value for element in getattr(node.value, "elts", [])
                    if isinstance(element, ast.Constant) and isinstance(element.value, str)]
    return None


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
            rows.append([f"[`{module}`]({page}.md#{module})",
                         _rst().rst_to_markdown(summary).replace("|", "\\|")])
    return table(["module", "what it does"], rows)


@cache
def _rst():
    """The docstring converter of the griffe extension (docs/hooks/rst_docstrings.py)."""
    path = Path(__file__).resolve().parents[1] / "hooks" / "rst_docstrings.py"
    spec = importlib.util.spec_from_file_location("docs_rst_docstrings", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _summary_line(module: str) -> str:
    """First docstring line, read with ``ast`` (importing would load PyMC: slow)."""
    doc = ast.get_docstring(ast.parse(module_path(module).read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _literal(module: str, name: str):
    """A module-level literal constant, read from the source with ``ast`` (importing the
    module could load PyMC: seconds); ``None`` if the module or the name is absent."""
    if not exists(module):
        return None
    for node in ast.parse(module_path(module).read_text(encoding="utf-8")).body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value:
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return getattr(importlib.import_module(module), name)
    return None


def constant(path: str) -> str:
    """A tuple constant of the package (``module:NAME``) as a list of code spans."""
    module, name = path.split(":")
    values = _literal(module, name)
    if values is None:
        return not_available(f"{module}.{name}")
    return ", ".join(code(v) for v in values)


def psa_columns() -> str:
    """The column dictionary of the PSA workbook's README sheet, as written by the package."""
    columns = _literal("prrt_bayes.outputs.hta", "_COLUMN_DOC")
    if columns is None:
        return not_available("prrt_bayes.outputs.hta column dictionary (_COLUMN_DOC)")
    return table(["column", "meaning"], [[code(c), cell(d)] for c, d in columns])
