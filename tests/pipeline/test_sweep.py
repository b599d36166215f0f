"""Scenario sweeps: one block per combination, failures recorded, local pool == Dask cluster."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from helpers import PASSED, row, summary_row

from prrt_bayes.cli import app
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.results import AnalysisResult
from prrt_bayes.core.summary import summary_frame
from prrt_bayes.core.vocabulary import Arm, Quantity
from prrt_bayes.pipeline import registry
from prrt_bayes.pipeline.sweep import (
    apply_overrides,
    combinations,
    key_estimate,
    parse_grid,
    sweep,
)

GRID = {"borrowing.method": ["none", "power"], "borrowing.a0": [0.3, 1.5]}
"""4 combinations: a0 = 1.5 is out of range (fails validation), the other two fit."""


@pytest.fixture(scope="module")
def response_spec(quick_response_spec):
    """The quick response spec on numba: the same draws as the two-arm model's preferred
    nutpie-c, and the models compiled by tests/pipeline/test_api.py are reused."""
    return quick_response_spec.with_overrides(backend="nutpie-numba")


@pytest.fixture(scope="module")
def pool_sweep(response_spec, tmp_path_factory):
    """The sweep fitted in this process (``jobs=1``: the cheap default; the process pool is
    compared with it in the slow test below)."""
    out = tmp_path_factory.mktemp("sweep") / "out"
    return out, sweep(response_spec, GRID, out, jobs=1)


def test_parse_grid_types_and_errors(response_spec):
    grid = parse_grid(["borrowing.robust_weight=0,0.2,0.5", "borrowing.method=map,power"],
                      response_spec)
    assert grid == {"borrowing.robust_weight": [0, 0.2, 0.5], "borrowing.method": ["map", "power"]}
    assert len(combinations(grid)) == 6
    for bad in (["borrowing.a0"], ["=1,2"], ["borrowing.a0=0.1,,0.2"], ["borrowing.nope=1"],
                ["nothing.at.all=1"], ["borrowing.a0=2"], ["borrowing.method=magic"],
                ["seed=1", "seed=2"]):
        with pytest.raises(InputError):
            parse_grid(bad, response_spec)
    with pytest.raises(InputError, match="unknown key"):
        apply_overrides(response_spec, {"sampler.speed": 3})


def test_one_row_block_per_combination(pool_sweep):
    out, table = pool_sweep
    assert list(table.columns[:4]) == ["combination", "borrowing.method", "borrowing.a0",
                                       "status"]
    assert sorted(table["combination"].unique()) == [0, 1, 2, 3]
    ok = table[table["status"] == "ok"]
    assert sorted(ok["combination"].unique()) == [0, 2]
    blocks = [b[["quantity", "group"]].reset_index(drop=True)
              for _, b in ok.groupby("combination")]
    # the same rows, plus the answer without borrowing in the combination that borrows
    extra = blocks[1]["quantity"] == Quantity.RESPONSE_RATE_WITHOUT_BORROWING
    assert blocks[1][extra].values.tolist() == [[Quantity.RESPONSE_RATE_WITHOUT_BORROWING,
                                                 Arm.LU177]]
    pd.testing.assert_frame_equal(blocks[0], blocks[1][~extra].reset_index(drop=True))
    rate = ok[(ok["quantity"] == Quantity.RESPONSE_RATE) & (ok["group"] == Arm.LU177)]
    assert rate["borrowing.method"].tolist() == ["none", "power"]
    # the plotted key estimate is the registry's for the kind: the 177Lu response rate
    key = key_estimate(table, "response")
    assert key[["combination", "quantity", "group", "median"]].values.tolist() == rate[
        ["combination", "quantity", "group", "median"]].values.tolist()
    # borrowing from the single-arm series (response rates far above 18%) moves the estimate
    assert rate["median"].iloc[1] != pytest.approx(rate["median"].iloc[0], abs=1e-3)
    written = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert len(written) == len(table)
    assert (out / "sweep.png").stat().st_size > 5000


def test_failed_combination_recorded(pool_sweep):
    _, table = pool_sweep
    failed = table[table["status"] == "failed"]
    assert sorted(failed["combination"]) == [1, 3]
    assert failed["error"].str.contains("borrowing.a0").all()
    assert failed["mean"].isna().all()


def test_runtime_failure_does_not_stop_sweep(response_spec, tmp_path, monkeypatch):
    """A fit that raises (here a stand-in analysis) is recorded; the other combination fits."""
    def fake(spec):
        if spec.seed == 2:
            raise RuntimeError("sampler exploded")
        rows = [summary_row(spec.name, "response", Quantity.RESPONSE_RATE, Arm.LU177, 0.2, 0.1,
                            0.3, sd=0.01)]
        return AnalysisResult(name=spec.name, kind="response", endpoint="response",
                              summary=summary_frame(rows), diagnostics=PASSED)

    monkeypatch.setattr(registry, "run_analysis", fake)
    table = sweep(response_spec, {"seed": [1, 2, 3]}, tmp_path / "out", jobs=1)
    assert table.groupby("combination")["status"].first().tolist() == ["ok", "failed", "ok"]
    assert "RuntimeError: sampler exploded" in table.loc[table["seed"] == 2, "error"].iloc[0]
    assert row(table[table["seed"] == 3], Quantity.RESPONSE_RATE, Arm.LU177)["median"] == 0.2


@pytest.mark.slow
def test_process_pool_gives_same_summary_as_in_process(response_spec, pool_sweep, tmp_path):
    _, local = pool_sweep
    pd.testing.assert_frame_equal(sweep(response_spec, GRID, tmp_path / "out", jobs=2), local)


@pytest.mark.slow  # starts a local Dask cluster (about 11 s)
def test_dask_cluster_gives_same_summary_as_local_pool(response_spec, pool_sweep, tmp_path):
    distributed = pytest.importorskip(
        "dask.distributed", reason="dask[distributed] (optional extra) is not installed")
    _, local = pool_sweep
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = sweep(response_spec, GRID, tmp_path / "out",
                           scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(remote, local)


def test_existing_folder_is_refused_before_any_fit_and_replaced_with_force(
        response_spec, pool_sweep, tmp_path, monkeypatch, cli_runner):
    out = tmp_path / "previous"
    shutil.copytree(pool_sweep[0], out)
    before = (out / "summary.csv").read_bytes()
    fits = []

    def stub(specs, jobs):
        fits.append(specs)
        return {i: ("error", "stub fit") for i in specs}

    monkeypatch.setattr("prrt_bayes.pipeline.sweep._run_local", stub)
    with pytest.raises(InputError, match="already exists; use --force"):
        sweep(response_spec, GRID, out, jobs=1)
    assert not fits and (out / "summary.csv").read_bytes() == before
    result = cli_runner.invoke(app, ["sweep", "response", "--grid", "seed=1", "--out", str(out)])
    assert result.exit_code == 2 and "--force" in result.stderr
    assert not fits and (out / "summary.csv").read_bytes() == before
    table = sweep(response_spec, {"seed": [1, 2]}, out, jobs=1, force=True)
    assert len(fits) == 1 and table.status.tolist() == ["failed", "failed"]
    written = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert written.error.tolist() == ["stub fit", "stub fit"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["previous"]
