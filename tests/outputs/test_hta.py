"""PSA exports: even thinning, PFS <= OS enforcement and its count, partitioned survival, escaping,
the Parquet long table and the wide workbook sheets (values, precision, size).

Synthetic analyses with exponential survival draws of known rates (no MCMC): the expected
values are computed independently in the tests (closed forms, explicit index arithmetic).
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import exponential_result
from openpyxl import load_workbook

from prrt_bayes.core.errors import InputError
from prrt_bayes.outputs.hta import (
    SURVIVAL_COLUMNS,
    WORKBOOK_FORMAT,
    even_positions,
    pair_pfs_with_os,
    partitioned_survival,
    write_psa,
)
from prrt_bayes.outputs.safe_text import escape_cell, escape_html, safe_name, xlsx_text

HOSTILE = ['=HYPERLINK("x")', "+1", "@SUM(A1)", "-2+3"]


def exp_result(name, endpoint, log_rates, *, grid=None, shuffle_parameters=False,
               psa_pair=None):
    """Analysis whose draws are S(t) = exp(-exp(log_rate) t); log_rates: arm -> (chain, draw).

    ``psa_pair``: the OS analysis a PFS analysis is paired with (the spec's
    ``export.pair_with``); ``shuffle_parameters`` puts the parameter rows out of draw order.
    """
    result = exponential_result(name, endpoint, log_rates, grid=grid, psa_pair=psa_pair)
    if shuffle_parameters:
        result.parameters = result.parameters.sample(frac=1.0, random_state=3).reset_index(
            drop=True)
    return result


def noisy(rate, shape, seed, sd=0.05):
    return np.log(rate) + sd * np.random.default_rng(seed).standard_normal(shape)


def read_long(folder):
    """The long survival table of a PSA folder (``psa/survival.parquet``)."""
    return pd.read_parquet(folder / "psa" / "survival.parquet")


def wide_sheet(workbook, title):
    """A survival sheet as (header, cycle column, time column, values (cycle, sample))."""
    rows = list(workbook[title].iter_rows(values_only=True))
    body = np.array(rows[1:], dtype=float)
    return rows[0], body[:, 0], body[:, 1], body[:, 2:]


# ----------------------------------------------------------------------------- thinning


@pytest.mark.parametrize(("n_total", "n"), [(4000, 1000), (1500, 1000), (1000, 1000), (7, 3)])
def test_even_positions_are_evenly_spaced(n_total, n):
    pos = even_positions(n_total, n)
    assert len(pos) == n and pos[0] == 0 and pos[-1] <= n_total - 1
    steps = np.diff(pos)
    assert set(steps.tolist()) <= {n_total // n, -(-n_total // n)}
    # evenly spread: the k-th kept position is within one step of k * N / n
    assert np.all(np.abs(pos - np.arange(n) * n_total / n) < 1)


def test_psa_has_n_draws_samples_thinned_evenly_from_the_same_draws(tmp_path):
    shape = (2, 800)  # 1600 pooled draws -> every 4th
    pfs = exp_result("pfs_primary", "pfs", {"lu177": noisy(0.03, shape, 1),
                                            "control": noisy(0.1, shape, 2)},
                     shuffle_parameters=True, psa_pair="os_final")
    os = exp_result("os_final", "os", {"lu177": noisy(0.01, shape, 3),
                                       "control": noisy(0.02, shape, 4)})
    report = write_psa([pfs, os], tmp_path, n_draws=400, seed=7)
    assert report.n_samples == 400
    params = pd.read_csv(tmp_path / "psa" / "parameters_pfs_primary.csv")
    assert len(params) == 400 and params["sample"].tolist() == list(range(400))
    pooled_index = params["chain"] * shape[1] + params["draw"]
    assert pooled_index.tolist() == list(range(0, 1600, 4))
    np.testing.assert_array_equal(report.positions["pfs_primary"], np.arange(0, 1600, 4))
    # the curves of sample k come from the same posterior draw as its parameters
    surv = read_long(tmp_path)
    assert tuple(surv.columns) == SURVIVAL_COLUMNS
    assert surv["survival"].dtype == np.float32
    at = surv[(surv.analysis == "pfs_primary") & (surv.arm == "control") & (surv.cycle == 10)]
    assert len(at) == 400
    expected = np.exp(-np.exp(params["log_rate_control"].to_numpy()) * 10.0)
    np.testing.assert_allclose(at.sort_values("sample")["survival"], expected, rtol=2**-23)


def test_parquet_round_trip_equals_the_thinned_curves_as_float32(tmp_path):
    shape = (3, 250)  # 750 pooled draws -> 300 samples at floor(k * 750 / 300)
    os = exp_result("os_final", "os", {"lu177": noisy(0.01, shape, 3),
                                       "control": noisy(0.02, shape, 4)},
                    grid=np.arange(0.0, 37.0, 3.0))
    write_psa([os], tmp_path, n_draws=300)
    surv = read_long(tmp_path)
    kept = (np.arange(300) * 750) // 300
    assert len(surv) == 2 * 300 * 13
    for arm in ("lu177", "control"):
        pooled = os.survival[arm].values.reshape(750, 13)[kept]
        got = surv[surv.arm == arm].sort_values(["sample", "cycle"])
        assert (got["endpoint"] == "os").all() and (got["analysis"] == "os_final").all()
        np.testing.assert_array_equal(got["time_months"].to_numpy().reshape(300, 13),
                                      np.tile(np.arange(0.0, 37.0, 3.0), (300, 1)))
        np.testing.assert_array_equal(got["cycle"].to_numpy().reshape(300, 13),
                                      np.tile(np.arange(13), (300, 1)))
        # exactly the float32 cast of the thinned float64 draws, nothing else lost
        np.testing.assert_array_equal(got["survival"].to_numpy().reshape(300, 13),
                                      pooled.astype(np.float32))


def test_wide_sheets_equal_the_long_table_at_seven_digits(tmp_path):
    pfs, os_interim, os_final, _ = crossing_example(n_draw=60)
    write_psa([pfs, os_interim, os_final], tmp_path, n_draws=90)
    surv = read_long(tmp_path)
    wb = load_workbook(tmp_path / "psa" / "psa.xlsx")
    for analysis in ("pfs_primary", "os_interim", "os_final"):
        for arm in ("lu177", "control"):
            header, cycle, time, values = wide_sheet(wb, f"S_{analysis}_{arm}")
            assert header == ("cycle", "time_months", *(f"sample_{k}" for k in range(90)))
            long = surv[(surv.analysis == analysis) & (surv.arm == arm)]
            table = long.pivot(index="cycle", columns="sample", values="survival")
            np.testing.assert_array_equal(cycle, table.index.to_numpy())
            np.testing.assert_array_equal(time, np.arange(25.0))
            expected = np.vectorize(lambda v: float(WORKBOOK_FORMAT % v))(
                table.to_numpy().astype(float))
            np.testing.assert_array_equal(values, expected)
            np.testing.assert_allclose(values, table.to_numpy(), rtol=5e-7)


def test_fewer_posterior_draws_than_requested_uses_all_and_says_so(tmp_path):
    pfs = exp_result("pfs_primary", "pfs", {"lu177": noisy(0.05, (2, 100), 1)},
                     psa_pair="os_final")
    os = exp_result("os_final", "os", {"lu177": noisy(0.01, (2, 100), 2)})
    report = write_psa([pfs, os], tmp_path, n_draws=1000)
    assert (report.n_samples, report.n_draws_requested) == (200, 1000)
    readme = [r[2] for r in load_workbook(tmp_path / "psa" / "psa.xlsx")["README"].iter_rows(
        values_only=True)]
    assert any("200 PSA samples per analysis (requested 1000)" in str(t) for t in readme)


# ----------------------------------------------------------------------------- PFS <= OS


def crossing_example(n_chain=2, n_draw=300):
    """OS rate 0.05; PFS rate 0.03 (PFS above OS) in known draws, else 0.12."""
    shape = (n_chain, n_draw)
    os_lr = np.full(shape, np.log(0.05))
    pooled = np.arange(n_chain * n_draw)
    bad = {"lu177": pooled % 7 == 0, "control": pooled % 11 == 3}
    pfs_lr = {arm: np.where(b, np.log(0.03), np.log(0.12)).reshape(shape)
              for arm, b in bad.items()}
    pfs = exp_result("pfs_primary", "pfs", pfs_lr, psa_pair="os_final")
    os_interim = exp_result("os_interim", "os", {a: os_lr + 0.5 for a in bad})  # not paired
    os_final = exp_result("os_final", "os", {a: os_lr for a in bad})
    return pfs, os_interim, os_final, bad


def test_pfs_capped_at_os_and_count_matches_independent_count(tmp_path):
    pfs, os_interim, os_final, bad = crossing_example()
    n = 200  # 600 pooled draws -> every 3rd
    report = write_psa([pfs, os_interim, os_final], tmp_path, n_draws=n)
    kept = np.arange(0, 600, 3)
    expected = {arm: int(b[kept].sum()) for arm, b in bad.items()}
    expected_any = int((bad["lu177"][kept] | bad["control"][kept]).sum())
    assert expected_any > 0 and expected["lu177"] != expected["control"]
    pair = report.pairs.set_index("pfs_analysis").loc["pfs_primary"]
    assert pair["os_analysis"] == "os_final"
    assert pair["n_samples_adjusted"] == expected_any
    per_arm = report.enforcement.set_index("arm")["n_samples_adjusted"].to_dict()
    assert per_arm == expected

    surv = read_long(tmp_path)
    wide = surv.pivot_table(index=["sample", "arm", "cycle"], columns="analysis",
                            values="survival")
    assert len(wide) == n * 2 * 25
    # the cap survives the float32 cast (compared in float32, as written)
    assert (wide["pfs_primary"] <= wide["os_final"]).all()
    capped = wide[bad_cells(wide, bad, kept)]
    np.testing.assert_array_equal(capped["pfs_primary"], capped["os_final"])
    # samples that did not need it are untouched (up to the float32 cast)
    cyc = surv[(surv.analysis == "pfs_primary") & (surv.arm == "lu177") & (surv.cycle == 12)]
    untouched = ~bad["lu177"][kept]
    np.testing.assert_array_equal(cyc.sort_values("sample")["survival"].to_numpy()[untouched],
                                  np.float32(np.exp(-0.12 * 12)))

    wb = load_workbook(tmp_path / "psa" / "psa.xlsx")
    readme = "\n".join(str(r[2]) for r in wb["README"].iter_rows(values_only=True))
    assert f"in {expected_any} of {n} samples" in readme
    assert "os_final" in readme
    for arm in ("lu177", "control"):
        _, _, _, pfs_values = wide_sheet(wb, f"S_pfs_primary_{arm}")
        _, _, _, os_values = wide_sheet(wb, f"S_os_final_{arm}")
        assert pfs_values.shape == (25, n)
        # the cap survives the 7-digit rounding too
        assert (pfs_values <= os_values).all()


def bad_cells(wide, bad, kept):
    """Rows (sample, arm, cycle) of ``wide`` whose PFS draw was above OS (cycle > 0)."""
    sample = wide.index.get_level_values("sample").to_numpy()
    arm = wide.index.get_level_values("arm")
    cycle = wide.index.get_level_values("cycle").to_numpy()
    flagged = np.zeros(len(wide), dtype=bool)
    for name, b in bad.items():
        flagged |= (arm == name) & b[kept][sample]
    return flagged & (cycle > 0)


def test_workbook_has_readme_and_one_sheet_per_table(tmp_path):
    pfs, os_interim, os_final, _ = crossing_example(n_draw=50)
    report = write_psa([pfs, os_interim, os_final], tmp_path, n_draws=40)
    wb = load_workbook(tmp_path / "psa" / "psa.xlsx")
    assert wb.sheetnames[0] == "README"
    expected = {"par_pfs_primary", "par_os_interim", "par_os_final", "life_years",
                "pfs_os_pairs"} | {f"S_{a}_{arm}" for a in ("pfs_primary", "os_interim",
                                                              "os_final")
                                   for arm in ("lu177", "control")}
    assert set(wb.sheetnames) == expected | {"README"}
    readme_items = {r[1] for r in wb["README"].iter_rows(values_only=True)}
    assert expected <= readme_items  # every sheet is described
    for column in ("sample", "time_months", "survival", "life_years"):
        assert column in readme_items
    assert {p.name for p in report.files} == {
        "parameters_pfs_primary.csv", "parameters_os_interim.csv", "parameters_os_final.csv",
        "survival.parquet", "life_years.csv", "pfs_os_pairs.csv", "psa.xlsx"}


def test_psa_folder_size_is_bounded(tmp_path):
    """Bytes per exported value: the long table and the workbook stay compressed (not timed).

    2 analyses x 2 arms x 500 samples x 121 cycles = 242,000 survival values; uncompressed
    text would take about 10 bytes per value in each of the two files.
    """
    shape = (2, 500)
    grid = np.arange(0.0, 121.0)
    pfs = exp_result("pfs_primary", "pfs", {"lu177": noisy(0.03, shape, 1),
                                            "control": noisy(0.1, shape, 2)}, grid=grid,
                     psa_pair="os_final")
    os = exp_result("os_final", "os", {"lu177": noisy(0.01, shape, 3),
                                       "control": noisy(0.02, shape, 4)}, grid=grid)
    report = write_psa([pfs, os], tmp_path, n_draws=500)
    n_values = 2 * 2 * 500 * 121
    sizes = {p.name: os_size(p) for p in report.files}
    assert sizes["survival.parquet"] < 4.5 * n_values  # float32 plus compression headroom
    assert sizes["psa.xlsx"] < 6 * n_values
    assert sum(sizes.values()) < 12 * n_values


def os_size(path):
    return os.stat(path).st_size


def test_pairing_rules():
    """Pairs come only from explicit ``pairs`` or the spec's ``export.pair_with``; no name is
    special (an OS analysis called ``os_final`` is not picked on its own)."""
    grid_a = {"lu177": np.zeros((2, 5))}
    unpaired = exp_result("pfs_a", "pfs", grid_a)
    named = exp_result("pfs_a", "pfs", grid_a, psa_pair="os_2")
    os1, os2 = exp_result("os_1", "os", grid_a), exp_result("os_2", "os", grid_a)
    final = exp_result("os_final", "os", grid_a)
    alone = pair_pfs_with_os([unpaired, os1, final]).iloc[0]
    assert alone["os_analysis"] == "" and "no export.pair_with" in alone["rule"]
    from_spec = pair_pfs_with_os([named, os1, os2, final]).iloc[0]
    assert from_spec["os_analysis"] == "os_2" and "export.pair_with = 'os_2'" in from_spec["rule"]
    missing = pair_pfs_with_os([named, os1, final]).iloc[0]
    assert missing["os_analysis"] == "" and "not in this run" in missing["rule"]
    chosen = pair_pfs_with_os([named, os1, os2], {"pfs_a": "os_1"}).iloc[0]
    assert (chosen["os_analysis"], chosen["rule"]) == ("os_1", "chosen explicitly")
    assert pair_pfs_with_os([named]).iloc[0]["os_analysis"] == ""
    with pytest.raises(InputError, match="does not name"):
        pair_pfs_with_os([unpaired, os1], {"pfs_a": "nope"})


def test_mismatched_grids_are_an_input_error(tmp_path):
    pfs = exp_result("pfs_primary", "pfs", {"lu177": np.zeros((1, 4))}, psa_pair="os_final")
    os = exp_result("os_final", "os", {"lu177": np.zeros((1, 4))}, grid=np.arange(0.0, 13.0))
    with pytest.raises(InputError, match="different cycle grids"):
        write_psa([pfs, os], tmp_path, n_draws=4)


# ----------------------------------------------------------------------------- partitioned survival


def exp_curves(rate, grid, n=3):
    values = np.exp(-rate * grid)[None, :].repeat(n, axis=0)
    return xr.DataArray(values, dims=("sample", "time"), coords={"time": grid})


@pytest.mark.parametrize("cycle", [1.0, 0.25, 3.0])
def test_life_years_match_exponential_closed_form(cycle):
    horizon, lam_os, lam_pfs = 360.0, 0.02, 0.05
    grid = np.arange(0.0, horizon + cycle / 2, cycle)
    result = partitioned_survival({"lu177": exp_curves(lam_pfs, grid)},
                                  {"lu177": exp_curves(lam_os, grid)}, cycle, horizon)
    ly = result.draws["life_years"].to_numpy()
    pfly = result.draws["progression_free_life_years"].to_numpy()
    for got, lam in ((ly, lam_os), (pfly, lam_pfs)):
        exact = (1 - math.exp(-lam * horizon)) / lam / 12.0
        rel = got / exact - 1
        x = lam * cycle
        # documented discretisation error: factor (x/2) coth(x/2) exactly, below 1 + x^2 / 12
        np.testing.assert_allclose(got, exact * (x / 2) / math.tanh(x / 2), rtol=1e-10)
        assert np.all(rel >= 0) and np.all(rel <= x**2 / 12)
    rows = result.summary.set_index(["quantity", "group"])
    assert rows.loc[("life_years", "lu177"), "median"] == pytest.approx(ly[0])


def test_discounted_life_years_close_to_continuous_discounting():
    horizon, lam, rate = 360.0, 0.02, 0.035
    grid = np.arange(0.0, horizon + 0.5, 1.0)
    curves = {"a": exp_curves(lam, grid)}
    got = partitioned_survival(curves, curves, 1.0, horizon, discount_rate=rate)
    k = lam + math.log(1 + rate) / 12
    exact = (1 - math.exp(-k * horizon)) / k / 12
    assert got.draws["life_years"].iloc[0] == pytest.approx(exact, rel=1e-3)
    undiscounted = partitioned_survival(curves, curves, 1.0, horizon)
    assert got.draws["life_years"].iloc[0] < undiscounted.draws["life_years"].iloc[0]


def test_partitioned_survival_caps_pfs_and_reports_contrast():
    grid = np.arange(0.0, 121.0)
    pfs = {"lu177": exp_curves(0.01, grid), "control": exp_curves(0.1, grid)}
    os = {"lu177": exp_curves(0.02, grid), "control": exp_curves(0.05, grid)}
    result = partitioned_survival(pfs, os, 1.0, 120.0)
    assert result.n_adjusted == {"lu177": 3, "control": 0}
    draws = result.draws.set_index("arm")
    # lu177 PFS (rate 0.01) is above OS (0.02): PFLY capped to LY
    assert draws.loc["lu177", "progression_free_life_years"].tolist() == pytest.approx(
        draws.loc["lu177", "life_years"].tolist())
    contrast = result.summary.set_index(["quantity", "group"]).loc[
        ("life_years", "lu177_vs_control"), "median"]
    assert contrast == pytest.approx(draws.loc["lu177", "life_years"].iloc[0]
                                     - draws.loc["control", "life_years"].iloc[0])


def test_cycle_times_off_the_grid_are_rejected():
    grid = np.arange(0.0, 61.0)
    curves = {"a": exp_curves(0.02, grid)}
    with pytest.raises(InputError, match="not on the survival grid"):
        partitioned_survival(curves, curves, 0.5, 60.0)
    with pytest.raises(InputError, match="whole number"):
        partitioned_survival(curves, curves, 7.0, 60.0)


# ----------------------------------------------------------------------------- injection


def test_escape_helpers():
    for text in HOSTILE + ["\tx", "\rx"]:
        assert escape_cell(text) == "'" + text
    assert escape_cell("lu177") == "lu177"
    assert escape_cell(-2.5) == -2.5 and escape_cell(3) == 3
    assert xlsx_text("a\x00b") == "a\ufffdb"
    assert escape_html('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert "/" not in safe_name("a/b") and len(safe_name("x" * 50, 31)) == 31


def test_hostile_names_are_inert_in_csv_and_workbook(tmp_path):
    lr = {arm: np.full((1, 8), np.log(0.05 + 0.01 * i)) for i, arm in enumerate(HOSTILE)}
    pfs = exp_result("pfs_primary", "pfs", lr, psa_pair="os_final")
    os = exp_result("os_final", "os", {a: v - 1.0 for a, v in lr.items()})
    pfs.parameters = pfs.parameters.rename(columns={"log_rate_+1": "@SUM(A1)"})
    write_psa([pfs, os], tmp_path, n_draws=8)

    assert set(read_long(tmp_path)["arm"]) == {"'" + a for a in HOSTILE}
    with open(tmp_path / "psa" / "life_years.csv", newline="") as f:
        assert {row["arm"] for row in csv.DictReader(f)} == {"'" + a for a in HOSTILE}
    with open(tmp_path / "psa" / "parameters_pfs_primary.csv", newline="") as f:
        assert "'@SUM(A1)" in next(csv.reader(f))

    wb = load_workbook(tmp_path / "psa" / "psa.xlsx")
    strings = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"formula cell {ws.title}!{cell.coordinate}"
                if isinstance(cell.value, str):
                    strings.append(cell.value)
    ly_arms = {r[2] for r in wb["life_years"].iter_rows(min_row=2, values_only=True)}
    assert ly_arms == {"'" + a for a in HOSTILE}
    assert "'@SUM(A1)" in [c.value for c in wb["par_pfs_primary"][1]]
    for text in strings:
        assert not text.startswith(("=", "+", "-", "@", "\t", "\r")), text
    for name in wb.sheetnames:
        assert safe_name(name, 31) == name


def _converged_pfs_and_failed_os():
    """A converged PFS analysis and an OS analysis that failed its convergence checks."""
    from dataclasses import replace

    from helpers import FAILED

    shape = (2, 200)
    pfs = exp_result("pfs_primary", "pfs", {"lu177": noisy(0.03, shape, 1),
                                            "control": noisy(0.1, shape, 2)})
    os = replace(exp_result("os_final", "os", {"lu177": noisy(0.01, shape, 3),
                                               "control": noisy(0.02, shape, 4)}),
                 diagnostics=FAILED)
    return pfs, os


def test_unconverged_analyses_are_not_exported(tmp_path):
    pfs, os = _converged_pfs_and_failed_os()
    report = write_psa([pfs, os], tmp_path, n_draws=50)
    assert report.excluded == ["os_final"]
    assert not (tmp_path / "psa" / "parameters_os_final.csv").exists()
    assert set(read_long(tmp_path)["analysis"]) == {"pfs_primary"}
    readme = [row for row in load_workbook(tmp_path / "psa" / "psa.xlsx")["README"].values]
    assert ("excluded", "os_final") in [row[:2] for row in readme]
    with pytest.raises(InputError, match="failed the convergence checks: os_final"):
        write_psa([os], tmp_path / "only_failed", n_draws=50)


def test_unconverged_analyses_exported_on_request_say_so_in_every_file(tmp_path):
    """--allow-unconverged: the failed analysis is exported, and every PSA file starts with the
    warning (CSV comment line, Parquet metadata, the workbook README's first row)."""
    import pyarrow.parquet as pq

    pfs, os = _converged_pfs_and_failed_os()
    report = write_psa([pfs, os], tmp_path, n_draws=50, allow_unconverged=True)
    assert report.excluded == [] and report.unconverged == ["os_final"]
    psa = tmp_path / "psa"
    for path in psa.glob("*.csv"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# WARNING: exported although they FAILED"), path
        assert "(--allow-unconverged): os_final;" in first
        assert pd.read_csv(path, comment="#").columns[0] in ("sample", "pfs_analysis")
    assert set(read_long(tmp_path)["analysis"]) == {"pfs_primary", "os_final"}
    metadata = pq.read_schema(psa / "survival.parquet").metadata
    assert b"FAILED the convergence checks (--allow-unconverged): os_final;" in metadata[
        b"prrt_bayes_warning"]
    readme = [row for row in load_workbook(psa / "psa.xlsx")["README"].values]
    assert readme[1][0] == "WARNING" and "os_final" in readme[1][1]  # first row under the header
    clean = write_psa([pfs], tmp_path / "clean", n_draws=50, allow_unconverged=True)
    assert clean.unconverged == []
    assert not (tmp_path / "clean" / "psa" / "life_years.csv").read_text().startswith("#")


def test_partitioned_survival_pairs_unequal_draws_by_even_thinning():
    """PFS pooled over 8 members and OS over 12 have different draw counts: the larger set is
    thinned evenly to the smaller, as in the PSA."""
    grid = np.arange(0.0, 61.0)
    rates_os = np.linspace(0.01, 0.03, 12)
    os = {"a": xr.DataArray(np.exp(-rates_os[:, None] * grid), dims=("sample", "time"),
                            coords={"time": grid})}
    pfs = {"a": exp_curves(0.05, grid, n=4)}
    result = partitioned_survival(pfs, os, 1.0, 60.0)
    ly = result.draws["life_years"].to_numpy()
    kept = rates_os[even_positions(12, 4)]  # positions 0, 3, 6, 9
    np.testing.assert_allclose(ly, [partitioned_survival(
        {"a": exp_curves(0.05, grid, n=1)},
        {"a": xr.DataArray(np.exp(-r * grid)[None], dims=("sample", "time"),
                           coords={"time": grid})}, 1.0, 60.0).draws["life_years"].iloc[0]
        for r in kept])
