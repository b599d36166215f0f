"""The package's shape: layers (import contract), bundled specs as package data."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_module_imports_a_higher_layer():
    """import-linter's layers contract (pyproject.toml): core <- ... <- pipeline <- cli."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 kept, 0 broken" in done.stdout


def test_bundled_specs_are_package_data():
    """The specs ship inside the package (a wheel carries them), not in a repository folder."""
    from prrt_bayes.pipeline.bundled import BUNDLED_SPECS, bundled_names

    assert Path(str(BUNDLED_SPECS)).parent == ROOT / "prrt_bayes"
    assert bundled_names() == ["pfs_primary", "os_interim", "os_final", "response", "toxicity"]
    assert not (ROOT / "models").exists()
