"""MkDocs hook: expand ``::gen:: NAME [ARGS]`` lines of the pages into generated Markdown.

Pages keep their prose in ``docs/*.md``; every number, table, option list and module reference
comes from the package at build time through the generators of ``docs/gen/`` (CLI reference from
the typer app, evidence tables from the loaders, methods and API from the docstrings via
mkdocstrings, validation figures from ``docs/validation_figures.json``). An unknown generator
name fails the build.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

GEN = Path(__file__).resolve().parents[1] / "gen"
ROOT = GEN.parents[1]

_LINE = re.compile(r"^::gen::[ \t]+(\S+)(.*)$", re.MULTILINE)


def _generators() -> dict:
    # mkdocs restores sys.path after loading a hook, so the generators' folder is added here.
    for folder in (GEN, ROOT):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import cli_reference
    import evidence_tables
    import reference
    import validation

    def cli():
        from prrt_bayes.cli import app

        return cli_reference.render(app)

    return {
        "cli": cli,
        "evidence-counts": evidence_tables.counts,
        "sources": evidence_tables.sources,
        "netter1-sources": evidence_tables.netter1_sources,
        "netter1-cuts": evidence_tables.netter1_cuts,
        "netter1-records": evidence_tables.netter1_records,
        "netter1-tables": evidence_tables.netter1_tables,
        "series-studies": evidence_tables.series_studies,
        "series-records": evidence_tables.series_records,
        "module-doc": reference.module_doc,
        "object-doc": reference.object_doc,
        "api": reference.api,
        "api-index": reference.api_index,
        "constant": reference.constant,
        "psa-columns": reference.psa_columns,
        "validation": validation.render,
    }


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace each ``::gen::`` line with the output of its generator."""
    if "::gen::" not in markdown:
        return markdown
    generators = _generators()

    def expand(match: re.Match) -> str:
        name, args = match.group(1), match.group(2).split()
        if name not in generators:
            raise PluginError(f"{page.file.src_uri}: unknown generator '::gen:: {name}'; "
                              f"known: {', '.join(sorted(generators))}")
        return generators[name](*args)

    return _LINE.sub(expand, markdown)
