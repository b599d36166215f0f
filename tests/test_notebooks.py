"""Execute every notebook in notebooks/ top to bottom; fail on any error.

Every notebook ends with a code cell tagged ``publication-check`` that asserts its worked result
against the publication (values read from the bundled evidence); executing the notebooks runs
those assertions. The default (unmarked) tests only read the notebooks: the check cell is there
and asserts something, no notebook uses the removed ``ANALYSES`` registry, and every model fit
receives its sampler settings explicitly (``pb.analyse`` takes the overrides).

Each notebook runs in a fresh kernel started with *this* interpreter (``sys.executable``, via a
temporary kernelspec), so it works in a fresh clone whose only Python is ``.venv/bin/python``.
Notebooks run with their fast settings unless ``PRRT_FULL=1`` is set (``notebooks/_settings.py``).
Run times are printed and recorded as test properties (``--junitxml``); in fast mode each
notebook must finish within the issue's budget of 5 minutes on 2 cores.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("0*.ipynb"))
BUDGET_SECONDS = 300.0
CELL_TIMEOUT = 1800
KERNEL_NAME = "prrt-bayes-test"
CHECK_TAG = "publication-check"
SAMPLER_KEYWORDS = {"draws", "tune", "chains", "target_accept"}
"""Sampler keywords only ``pb.analyse`` (overrides) and ``SamplerSettings`` may receive."""
MODEL_FITS = {"fit_response", "fit_ae", "fit_long_term_risk", "fit_series_response_map",
              "borrowing_comparison", "fit_ph", "parametric.fit", "fit_all", "fit_parametric",
              "fit_all_parametric"}
"""Functions that run MCMC (``parametric.fit`` by its module: lifelines fitters have ``fit``
too): each must be passed a ``SamplerSettings`` (an argument whose
expression names ``settings``, e.g. ``settings=SETTINGS`` or ``sampler_settings(0.99)``)."""
SETTINGS_ALLOWED = {"analyse", "SamplerSettings", "sampler_settings", "with_overrides"}
FULL = os.environ.get("PRRT_FULL", "0").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def kernel_dirs(tmp_path_factory) -> list[str]:
    """A kernelspec folder whose only kernel runs ipykernel with the current interpreter."""
    root = tmp_path_factory.mktemp("kernels")
    spec_dir = root / KERNEL_NAME
    spec_dir.mkdir()
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "prrt-bayes (test interpreter)", "language": "python",
            "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return [str(root)]


def test_notebooks_exist() -> None:
    """The six notebooks of the issue are all there."""
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_committed_without_outputs(path: Path) -> None:
    """Notebooks are committed stripped (``python scripts/strip_notebooks.py``)."""
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(notebook.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run scripts/strip_notebooks.py"


def _code_cells(path: Path) -> list:
    notebook = nbformat.read(path, as_version=4)
    return [c for c in notebook.cells if c.cell_type == "code"]


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _trees(path: Path) -> list[ast.Module]:
    return [ast.parse(cell.source) for cell in _code_cells(path)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_ends_with_a_publication_check(path: Path) -> None:
    """The last code cell is tagged ``publication-check`` and contains an ``assert``."""
    last = _code_cells(path)[-1]
    assert CHECK_TAG in last.metadata.get("tags", []), (
        f"{path.name}: the last code cell is not tagged {CHECK_TAG!r}")
    asserts = [n for n in ast.walk(ast.parse(last.source)) if isinstance(n, ast.Assert)]
    assert asserts, f"{path.name}: the {CHECK_TAG} cell asserts nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_uses_the_current_api(path: Path) -> None:
    """No ``ANALYSES`` registry; sampler settings passed explicitly to every model fit."""
    problems = []
    for tree in _trees(path):
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.alias) and "ANALYSES" in (
                    getattr(node, "id", None), getattr(node, "name", None)):
                problems.append("uses ANALYSES (now prrt_bayes.pipeline.registry.run_analysis)")
            if not isinstance(node, ast.Call):
                continue
            name = _called_name(node)
            if name in SETTINGS_ALLOWED:
                continue
            keywords = {k.arg for k in node.keywords}
            if keywords & SAMPLER_KEYWORDS or None in keywords:
                problems.append(f"{name}() gets sampler keywords or ** (pass SamplerSettings)")
            arguments = [*node.args, *(k.value for k in node.keywords)]
            fits = name in MODEL_FITS or ast.unparse(node.func) in MODEL_FITS
            if fits and not any("settings" in ast.unparse(a).lower()
                                              for a in arguments):
                problems.append(f"{name}() is not passed sampler settings")
    assert not problems, f"{path.name}: " + "; ".join(sorted(set(problems)))


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, kernel_dirs: list[str], record_property) -> None:
    """Run the notebook in a fresh kernel; any cell error fails the test."""
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name=KERNEL_NAME,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs))
    client = nbclient.NotebookClient(
        notebook, km=manager, timeout=CELL_TIMEOUT, allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    start = time.perf_counter()
    client.execute(cleanup_kc=True)  # shut the kernel down: we passed our own manager
    seconds = time.perf_counter() - start
    record_property("seconds", round(seconds, 1))
    print(f"{path.name}: {seconds:.1f} s ({'full' if FULL else 'fast'} settings)")
    if not FULL:
        assert seconds < BUDGET_SECONDS, (
            f"{path.name} took {seconds:.0f} s, over the {BUDGET_SECONDS:.0f} s budget")
