"""Execute every notebook in notebooks/ top to bottom; fail on any error.

Each notebook runs in a fresh kernel started with *this* interpreter (``sys.executable``, via a
temporary kernelspec), so it works in a fresh clone whose only Python is ``.venv/bin/python``.
Notebooks run with their fast settings unless ``PRRT_FULL=1`` is set (``notebooks/_settings.py``).
Run times are printed and recorded as test properties (``--junitxml``); in fast mode each
notebook must finish within the issue's budget of 5 minutes on 2 cores.
"""

from __future__ import annotations

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
