"""The documentation site: strict build, generated CLI reference, evidence and validation pages.

The site is built once per module (``mkdocs build --strict`` into a temporary folder, about 20 s);
the checks read the built HTML and compare it with the package itself (the typer app, the
evidence loaders, the validation JSON), never with numbers typed here.
"""

from __future__ import annotations

import html
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS_TOOLS = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
MISSING = [name for name in DOCS_TOOLS if importlib.util.find_spec(name.split(".")[0]) is None
           or importlib.util.find_spec(name) is None]

needs_mkdocs = pytest.mark.skipif(
    bool(MISSING),
    reason=f"docs tools not installed ({', '.join(MISSING)}): pip install -e '.[docs]'",
)


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Build the site with ``mkdocs build --strict``; fail with mkdocs' own output."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"
    return out


def page_text(site: Path, page: str) -> str:
    """The article text of a built page: tags removed, entities decoded, whitespace collapsed."""
    source = (site / page).read_text(encoding="utf-8")
    article = source[source.index("<article"):source.index("</article>")]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", article)).split())


def table_rows(site: Path, page: str) -> list[str]:
    """Text of every table row of a built page."""
    source = (site / page).read_text(encoding="utf-8")
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
            for row in re.findall(r"<tr>(.*?)</tr>", source, flags=re.S)]


@needs_mkdocs
def test_strict_build_writes_every_page(site):
    for page in ("index.html", "installation.html", "quickstart.html", "cli.html",
                 "methods/survival.html", "evidence/netter1.html", "evidence/series.html",
                 "validation.html", "hta_outputs.html", "api/survival.html", "changelog.html"):
        assert (site / page).is_file(), page
    assert not (site / "dev").exists(), "docs/dev (session briefs) must stay out of the site"


@needs_mkdocs
def test_cli_reference_lists_every_command_and_option(site):
    import typer.main

    from prrt_bayes.cli import app

    text = page_text(site, "cli.html")
    root = typer.main.get_command(app)

    def walk(group, context, path):
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            sub = command.make_context(name, [], parent=context, resilient_parsing=True)
            full = " ".join(("prrt-bayes", *path, name))
            assert full in text, f"{full} missing from the CLI reference"
            for param in command.get_params(sub):
                for option in param.opts if param.opts[0].startswith("-") else []:
                    assert option in text, f"{full} {option} missing from the CLI reference"
            if hasattr(command, "list_commands"):
                walk(command, sub, (*path, name))

    walk(root, root.make_context("prrt-bayes", [], resilient_parsing=True), ())


@needs_mkdocs
def test_evidence_page_shows_the_pfs_hazard_ratio_from_the_loader(site):
    from prrt_bayes.evidence import load_netter1

    record = load_netter1().get("primary_2015", "pfs_hazard_ratio")
    rows = [row for row in table_rows(site, "evidence/netter1.html")
            if " ".join(record.quote.split()) in row]
    assert len(rows) == 1, "the record's quote should appear in exactly one table row"
    for number in (record.value, record.lower, record.upper):
        assert re.search(rf"(?<![\d.]){re.escape(f'{number:g}')}(?![\d])", rows[0]), number
    assert record.source in rows[0] and record.locator in rows[0]


@needs_mkdocs
def test_evidence_pages_cover_every_record_and_source(site):
    from prrt_bayes.evidence import list_sources, load_netter1, load_series

    netter1, series = load_netter1(), load_series()
    netter1_rows = table_rows(site, "evidence/netter1.html")
    series_rows = table_rows(site, "evidence/series.html")
    cuts = {r.cut for r in netter1.records}  # one table (and header row) per cut with records
    assert len(netter1_rows) == len(cuts) + len(netter1.records)
    studies = {r.study for r in series.records}  # cohort table, then one table per cohort
    assert len(series_rows) == 1 + len(series.studies) + len(studies) + len(series.records)
    index = page_text(site, "evidence/index.html")
    assert all(name in index for name in list_sources()["name"])


@needs_mkdocs
def test_validation_page_shows_every_figure_of_the_json(site):
    data = json.loads((ROOT / "docs" / "validation_figures.json").read_text(encoding="utf-8"))
    text = page_text(site, "validation.html")
    for entry in data["entries"]:
        assert " ".join(entry["check"].split()) in text, entry["check"]


@needs_mkdocs
def test_methods_render_the_model_math(site):
    source = (site / "methods" / "survival.html").read_text(encoding="utf-8")
    assert source.count('class="arithmatex"') >= 10
    assert ":math:" not in source and ".. math::" not in source


def test_validation_json_is_current_for_netter1():
    """The committed figures equal a fresh run of the NETTER-1 checks (cheap: Cox/KM only)."""
    sys.path.insert(0, str(ROOT / "docs" / "gen"))
    try:
        validation = _load("docs_validation", ROOT / "docs" / "gen" / "validation.py")
        fresh = validation.netter1_pseudo_ipd()
    finally:
        sys.path.remove(str(ROOT / "docs" / "gen"))
    stored = json.loads((ROOT / "docs" / "validation_figures.json").read_text(encoding="utf-8"))
    stored = {e["check"]: e for e in stored["entries"]}
    for entry in fresh:
        assert entry["check"] in stored, f"{entry['check']}: rerun docs/gen/validation.py"
        assert stored[entry["check"]]["measured"] == pytest.approx(entry["measured"], abs=1e-6), (
            f"{entry['check']} changed: rerun python docs/gen/validation.py")


def test_rst_docstring_markup_becomes_markdown():
    convert = _load("docs_rst", ROOT / "docs" / "hooks" / "rst_docstrings.py").rst_to_markdown
    text = ("Intro :math:`a_j\n  + b` and :func:`~pkg.mod.fit`.\n\n.. math::\n\n    x &= 1 \\\\\n"
            "    y &= 2\n\nModel::\n\n    r ~ Binomial(n, p)\n\nend")
    out = convert(text)
    assert "$a_j + b$" in out and "`fit`" in out
    assert "$$\n\\begin{aligned}\nx &= 1 \\\\\ny &= 2\n\\end{aligned}\n$$" in out
    assert "Model:\n\n```text\nr ~ Binomial(n, p)\n```" in out and out.endswith("end")


def test_grouped_numpydoc_parameters_are_split():
    """``a, b : float`` -> one entry each, so griffe shows each parameter's own default."""
    split = _load("docs_rst", ROOT / "docs" / "hooks" / "rst_docstrings.py")
    text = ("Fit.\n\nParameters\n----------\nx\n    Data, e.g. ``time, event``:\n\n"
            "        time, event\nlo, hi : float\n    Bounds.\n\nReturns\n-------\nlo, hi\n"
            "    Same.")
    out = split.rst_to_markdown(text)
    assert "lo : float\n    Bounds.\nhi : float\n    Bounds." in out
    assert "        time, event" in out and out.endswith("lo, hi\n    Same.")


def test_numpydoc_description_in_the_type_slot_moves_to_the_description():
    convert = _load("docs_rst", ROOT / "docs" / "hooks" / "rst_docstrings.py").rst_to_markdown
    text = ("Load.\n\nParameters\n----------\npath : TOML file to read instead of the\n"
            "    bundled one.\nn : int | None\n    Size.\n\nRaises\n------\n"
            "InputError : bad input.")
    out = convert(text)
    assert "path\n    TOML file to read instead of the\n    bundled one." in out
    assert "n : int | None\n    Size." in out and out.endswith("InputError\n    bad input.")


def _documented_object(dotted: str):
    """The package object behind an API heading id (``prrt_bayes.mod.Class.method``)."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = inspect.getattr_static(obj, attr)
        return obj
    raise LookupError(dotted)


@needs_mkdocs
def test_api_pages_render_the_parameters_of_every_function(site):
    """Every function and method on the API pages shows a Parameters table naming each of its
    parameters (and a Returns block when the docstring has one): the numpydoc sections of the
    docstrings survive the rst hook and griffe's parser."""
    checked, missing = 0, []
    for page in sorted((site / "api").glob("*.html")):
        source = page.read_text(encoding="utf-8")
        headings = list(re.finditer(r'id="(prrt_bayes\.[\w.]+)"\s+class="doc doc-heading"',
                                    source))
        for index, heading in enumerate(headings):
            obj = _documented_object(heading.group(1))
            function = getattr(obj, "__func__", obj)
            if not inspect.isfunction(function):
                continue
            names = [name for name in inspect.signature(function).parameters
                     if name not in ("self", "cls")]
            end = headings[index + 1].start() if index + 1 < len(headings) else len(source)
            body_start = source.index("</h", heading.end())  # after the heading's signature
            block = " ".join(html.unescape(re.sub(r"<[^>]+>", " ",
                                                  source[body_start:end])).split())
            table = re.split(r" (?:Returns|Yields|Raises|Attributes|Notes|Examples):",
                             block.partition("Parameters:")[2])[0]
            checked += 1
            documented = {token.lstrip("*") for token in table.split()}
            if names and not set(names) <= documented:
                missing.append(f"{page.name}: {heading.group(1)} parameters")
            if "\nReturns\n" in (inspect.getdoc(function) or "") and "Returns:" not in block:
                missing.append(f"{page.name}: {heading.group(1)} returns")
    assert checked > 200
    assert not missing, "\n".join(missing)
