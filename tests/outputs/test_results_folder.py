"""The runner's results folder from synthetic analyses (no MCMC): its files, its size per exported
value (bounded, not timed), atomic publication and the never-overwrite-without-force rule."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from helpers import exponential_result

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.posterior import attach_quantities, load_posterior, summary_from_tree
from prrt_bayes.pipeline.runner import RunOutcome, write_results
from prrt_bayes.pipeline.specs import resolve_spec

SHAPE = (2, 500)
GRID = np.arange(0.0, 121.0)


def synthetic(name, endpoint, rates, seed, psa_pair=None):
    """Exponential survival analysis with a posterior tree and one reported quantity per arm."""
    rng = np.random.default_rng(seed)
    log_rates = {arm: np.log(r) + 0.05 * rng.standard_normal(SHAPE) for arm, r in rates.items()}
    result = exponential_result(name, endpoint, log_rates, grid=GRID, psa_pair=psa_pair)
    coords = {"chain": np.arange(SHAPE[0]), "draw": np.arange(SHAPE[1])}
    posterior = xr.Dataset({f"log_rate_{a}": (("chain", "draw"), v) for a, v in log_rates.items()},
                           coords=coords)
    result.tree = xr.DataTree.from_dict({"posterior": posterior})
    items = [("median_survival", arm, np.log(2) / np.exp(posterior[f"log_rate_{arm}"]))
             for arm in rates]
    attach_quantities(result.tree, items, analysis=name, endpoint=endpoint)
    result.summary = summary_from_tree(result.tree)
    return result


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    results = [synthetic("pfs_primary", "pfs", {"lu177": 0.03, "control": 0.1}, 1,
                         psa_pair="os_final"),
               synthetic("os_final", "os", {"lu177": 0.01, "control": 0.02}, 2)]
    specs = {r.name: resolve_spec(r.name) for r in results}
    out = tmp_path_factory.mktemp("run") / "results"
    write_results(RunOutcome(out, results, {}), specs, force=False)
    return out, results, specs


def test_folder_holds_the_documented_files_and_nothing_partial(written):
    out, _, _ = written
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"summary.csv", "summary.json", "diagnostics.csv", "report.html",
            "psa/survival.parquet", "psa/psa.xlsx", "psa/life_years.csv",
            "psa/pfs_os_pairs.csv", "psa/parameters_pfs_primary.csv",
            "psa/parameters_os_final.csv", "pfs_primary/posterior.nc",
            "os_final/posterior.nc"} <= files
    assert "psa/survival.csv" not in files
    assert any(f.startswith("plots/km_") or f.startswith("plots/extrapolation_") for f in files)
    assert not list(out.parent.glob(".results.*")), "temporary folder left behind"


def test_folder_size_is_bounded_per_exported_value(written):
    """1,000 samples x 121 cycles x 4 curves = 484,000 survival values, each in the Parquet file
    and the workbook; about 10 bytes a value each as text, 3-5 compressed."""
    out, _, _ = written
    n_values = 1000 * 121 * 4
    sizes = {str(p.relative_to(out)): p.stat().st_size for p in out.rglob("*") if p.is_file()}
    assert sizes["psa/survival.parquet"] < 4.5 * n_values
    assert sizes["psa/psa.xlsx"] < 6 * n_values
    assert sum(sizes.values()) < 13 * n_values


def test_posteriors_reload_to_the_written_summary(written):
    out, results, _ = written
    for result in results:
        again = summary_from_tree(load_posterior(out / result.name / "posterior.nc"))
        assert again.equals(result.summary)


def test_existing_folder_needs_force(written):
    out, results, specs = written
    before = sorted(p.name for p in out.rglob("*"))
    with pytest.raises(InputError, match="already exists"):
        write_results(RunOutcome(out, results, {}), specs, force=False)
    assert sorted(p.name for p in out.rglob("*")) == before
    assert not list(out.parent.glob(".results.*")), "staging folder left behind"


def test_an_unconverged_analysis_reaches_the_psa_only_on_request(tmp_path):
    """By default a failed analysis has no PSA file; with allow_unconverged it is exported and
    every PSA CSV starts with the warning."""
    from dataclasses import replace

    from helpers import FAILED

    failed = replace(synthetic("os_final", "os", {"lu177": 0.01, "control": 0.02}, 2),
                     diagnostics=FAILED)
    converged = synthetic("pfs_primary", "pfs", {"lu177": 0.03, "control": 0.1}, 1)
    specs = {r.name: resolve_spec(r.name) for r in (failed, converged)}
    write_results(RunOutcome(tmp_path / "default", [converged, failed], {}), specs, force=False)
    assert not (tmp_path / "default" / "psa" / "parameters_os_final.csv").exists()
    write_results(RunOutcome(tmp_path / "allowed", [converged, failed], {},
                             allow_unconverged=True), specs, force=False)
    psa = tmp_path / "allowed" / "psa"
    assert (psa / "parameters_os_final.csv").exists()
    for path in psa.glob("*.csv"):
        assert path.read_text().startswith("# WARNING: exported although they FAILED"), path
