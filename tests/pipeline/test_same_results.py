"""Same seed, same summary.csv bytes as before the redesign (issue 13's behaviour contract).

``tests/fixtures/pre_redesign/summary_bundled.csv`` was written by ``prrt-bayes run --jobs 1``
(bundled settings) on the commit before the layered redesign. The default test re-fits the PFS
analysis and compares its rows as written; the slow test re-runs all five analyses and compares
the whole file byte for byte.
"""

from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pre_redesign" / "summary_bundled.csv"


def _rows(text: str, analysis: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{analysis},")]


def test_pfs_primary_rows_unchanged(tmp_path):
    from prrt_bayes.pipeline.runner import run
    from prrt_bayes.pipeline.specs import resolve_spec

    run([resolve_spec("pfs_primary")], tmp_path / "out", jobs=1)
    written = (tmp_path / "out" / "summary.csv").read_text()
    expected = FIXTURE.read_text()
    assert _rows(written, "pfs_primary") == _rows(expected, "pfs_primary")


@pytest.mark.slow
def test_bundled_run_summary_bytes_unchanged(tmp_path):
    from prrt_bayes.pipeline.bundled import bundled_names
    from prrt_bayes.pipeline.runner import run
    from prrt_bayes.pipeline.specs import resolve_spec

    run([resolve_spec(n) for n in bundled_names()], tmp_path / "out", jobs=1)
    assert (tmp_path / "out" / "summary.csv").read_bytes() == FIXTURE.read_bytes()
