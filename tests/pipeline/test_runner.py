"""End to end: `prrt-bayes run --quick` on the bundled evidence writes every documented output.

The tests on the full bundled run are ``slow`` (every survival analysis fits its recommended
model to every reconstruction member); the others run single analyses with ``--quick``.
"""

from __future__ import annotations

import json

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xarray as xr
from helpers import FAILED, row

from prrt_bayes.cli import app
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.posterior import load_posterior, parameter_frame, summary_from_tree
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.core.vocabulary import Arm, Quantity
from prrt_bayes.pipeline.bundled import bundled_names, bundled_text
from prrt_bayes.pipeline.registry import run_analysis
from prrt_bayes.pipeline.specs import resolve_spec
from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd
from prrt_bayes.response.model import netter1_response


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, cli_runner):
    out = tmp_path_factory.mktemp("run") / "results"
    result = cli_runner.invoke(app, ["run", "--quick", "--out", str(out)])
    return out, result


@pytest.mark.slow  # every bundled analysis end to end (about 3 minutes on 2 cores)
def test_run_exits_0_and_prints_summary(quick_run):
    out, result = quick_run
    assert result.exit_code == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "hazard_ratio" in result.stdout
    assert "converged" in result.stdout


@pytest.mark.slow  # every bundled analysis end to end (about 3 minutes on 2 cores)
def test_every_documented_file_exists(quick_run):
    out, _ = quick_run
    for name in ("summary.csv", "summary.json", "diagnostics.csv", "report.html",
                 "psa/psa.xlsx", "psa/survival.parquet"):
        assert (out / name).stat().st_size > 0, name
    for analysis in bundled_names():
        assert (out / analysis / "posterior.nc").exists(), analysis
        assert (out / "psa" / f"parameters_{analysis}.csv").exists(), analysis
    pngs = list((out / "plots").glob("*.png"))
    assert any(p.name.startswith("km_") for p in pngs)
    assert any(p.name.startswith("forest_") for p in pngs)
    assert not list(out.parent.glob(".results.partial-*")), "temporary folder left behind"


@pytest.mark.slow  # every bundled analysis end to end (about 3 minutes on 2 cores)
def test_summary_has_documented_columns_and_hazard_ratios(quick_run):
    out, _ = quick_run
    summary = pd.read_csv(out / "summary.csv")
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    # the recommended model's effect: the excess-hazard ratio (one per period for os_final)
    hr = summary[summary.quantity.str.startswith("excess_hazard_ratio")]
    assert hr.groupby("analysis").size().to_dict() == {"pfs_primary": 1, "os_interim": 1,
                                                       "os_final": 2}
    assert (hr["group"] == "lu177_vs_control").all()
    assert ((hr["lower"] < hr["median"]) & (hr["median"] < hr["upper"])).all()
    records = json.loads((out / "summary.json").read_text())
    assert len(records) == len(summary)


@pytest.mark.slow  # every bundled analysis end to end (about 3 minutes on 2 cores)
def test_diagnostics_file(quick_run):
    out, _ = quick_run
    diagnostics = pd.read_csv(out / "diagnostics.csv")
    for column in ("max_rhat", "min_ess_bulk", "min_ess_tail", "divergences", "min_bfmi",
                   "max_mcse_ratio", "passed"):
        assert column in diagnostics.columns
    assert set(diagnostics.analysis) == set(bundled_names())
    assert diagnostics.passed.all()
    assert (diagnostics.max_mcse_ratio <= 0.1).all()


@pytest.mark.slow  # every bundled analysis end to end (about 3 minutes on 2 cores)
def test_posteriors_reload_and_resummarise_to_the_same_numbers(quick_run):
    out, _ = quick_run
    summary = pd.read_csv(out / "summary.csv")
    for analysis in bundled_names():
        tree = load_posterior(out / analysis / "posterior.nc")
        assert json.loads(tree.attrs["spec"])["name"] == analysis
        assert tree.attrs["prrt_bayes_version"]
        again = summary_from_tree(tree)
        written = summary[summary.analysis == analysis].reset_index(drop=True)
        assert list(again.quantity) == list(written.quantity)
        numbers = ["mean", "sd", "median", "lower", "upper"]
        # a median beyond the horizon is inf in some draws: mean inf, sd NaN (written empty)
        np.testing.assert_allclose(again[numbers].to_numpy(float),
                                   written[numbers].to_numpy(float), rtol=1e-9, equal_nan=True)


@pytest.mark.slow  # every bundled analysis end to end (about 3 minutes on 2 cores)
def test_psa_workbook_opens_and_pfs_never_exceeds_os(quick_run):
    out, _ = quick_run
    workbook = openpyxl.load_workbook(out / "psa" / "psa.xlsx", read_only=True)
    assert "README" in workbook.sheetnames
    survival = pd.read_parquet(out / "psa" / "survival.parquet")
    paired_os = resolve_spec("pfs_primary").export.pair_with
    assert paired_os in bundled_names()
    pfs = survival[survival.analysis == "pfs_primary"]
    os_ = survival[survival.analysis == paired_os]
    merged = pfs.merge(os_, on=["sample", "arm", "cycle"], suffixes=("_pfs", "_os"))
    assert len(merged) == len(pfs) > 0
    assert (merged.survival_pfs <= merged.survival_os).all()


@pytest.mark.slow  # every bundled analysis end to end (about 3 minutes on 2 cores)
def test_report_names_every_analysis(quick_run):
    out, _ = quick_run
    html = (out / "report.html").read_text()
    for analysis in bundled_names():
        assert analysis in html


def _run(cli_runner, out, *args):
    return cli_runner.invoke(app, ["run", *args, "--out", str(out), "--draws", "400", "--tune",
                                   "400", "--quick"])


@pytest.mark.slow  # the CLI's --seed twice (about 16 s); the runner's determinism is in the
# default run (tests/pipeline/test_same_results.py::test_same_seed_same_bytes)
def test_same_seed_gives_byte_identical_summary(tmp_path, cli_runner):
    spec = tmp_path / "one_member.toml"  # the default reconstruction member: one fit per run
    spec.write_text(bundled_text("os_interim").replace(
        'cut = "primary"', 'cut = "primary"\nreconstruction = "default"'))
    first = _run(cli_runner, tmp_path / "a", str(spec), "--seed", "7")
    second = _run(cli_runner, tmp_path / "b", str(spec), "--seed", "7")
    assert first.exit_code in (0, 1) and second.exit_code in (0, 1)
    assert (tmp_path / "a" / "summary.csv").read_bytes() == (
        tmp_path / "b" / "summary.csv").read_bytes()


def _user_spec(tmp_path, treatment: str):
    """The bundled PFS analysis on a user's IPD file whose 177Lu arm is named ``treatment``. (Its
    model has the structure of the bundled PFS fit without the series in
    tests/pipeline/test_same_results.py: one compile for both.)"""
    ipd = load_netter1_ipd("pfs", "primary")
    ipd["arm"] = ipd["arm"].replace({"lu177": treatment})
    ipd.to_csv(tmp_path / "ipd.csv", index=False)
    text = bundled_text("pfs_primary")
    assert 'cut = "primary"' in text
    text = text.replace('cut = "primary"', f"ipd = \"ipd.csv\"\ntreatment_arm = '{treatment}'")
    spec = tmp_path / "user.toml"
    spec.write_text(text)
    return spec


def test_formula_like_arm_name_is_inert_in_csv_and_workbook(tmp_path, cli_runner):
    spec = _user_spec(tmp_path, '=HYPERLINK("x")')
    result = _run(cli_runner, tmp_path / "out", str(spec))
    assert result.exit_code in (0, 1), result.stderr
    summary_text = (tmp_path / "out" / "summary.csv").read_text()
    assert "'=HYPERLINK" in summary_text
    for line in summary_text.splitlines():
        assert not any(cell.startswith(("=", "+", "@")) for cell in line.split(","))
    workbook = openpyxl.load_workbook(tmp_path / "out" / "psa" / "psa.xlsx")
    for sheet in workbook.worksheets:
        for cells in sheet.iter_rows(values_only=True):
            for value in cells:
                assert not (isinstance(value, str) and value.startswith(("=", "+", "@"))), value


def test_markup_arm_name_is_escaped_in_report(tmp_path, cli_runner):
    spec = _user_spec(tmp_path, "<script>alert(1)</script>")
    result = _run(cli_runner, tmp_path / "out", str(spec))
    assert result.exit_code in (0, 1), result.stderr
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html


@pytest.mark.slow  # the CLI's --borrowing path end to end (about 25 s); the bundled response
# spec borrows by default, which tests/pipeline/test_api.py checks in the default run
def test_borrowing_override_reports_conflict_and_prior_posterior_plot(tmp_path, cli_runner):
    out = tmp_path / "borrow"
    result = cli_runner.invoke(app, ["run", "response", "--borrowing", "robust-map", "--quick",
                                     "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    summary = pd.read_csv(out / "summary.csv")
    borrowed = row(summary, Quantity.RESPONSE_RATE, Arm.LU177)  # exactly one row
    alone = row(summary, Quantity.RESPONSE_RATE_WITHOUT_BORROWING, Arm.LU177)
    # the trial alone: Beta(1, 1) prior and NETTER-1's evaluable responders, posterior mean
    # (r + 1) / (n + 2); the robust MAP prior moves the borrowed estimate away from it
    counts = netter1_response("evaluable")
    exact = (counts.lu177_events + 1) / (counts.lu177_total + 2)
    assert alone["mean"] == pytest.approx(exact, abs=0.01)
    assert borrowed["mean"] != pytest.approx(alone["mean"], abs=1e-3)
    assert list((out / "plots").glob("prior_posterior*.png"))
    html = (out / "report.html").read_text()
    assert "prior-data conflict (Box p)" in html and "<td>robust-map</td>" in html


@pytest.mark.slow  # two parametric candidates besides the analysis (the LOO table itself is
# tested in tests/survival/test_comparison.py)
def test_candidate_families_give_a_loo_table(tmp_path, cli_runner):
    text = bundled_text("os_interim")
    assert 'family = "auto"' in text
    text = text.replace('family = "auto"',
                        'family = "auto"\ncandidates = ["exponential_ph", "weibull_ph"]').replace(
        'cut = "primary"', 'cut = "primary"\nreconstruction = "default"')
    spec = tmp_path / "loo.toml"
    spec.write_text(text)
    result = cli_runner.invoke(app, ["run", str(spec), "--quick", "--out",
                                     str(tmp_path / "out")])
    assert result.exit_code in (0, 1), result.stderr
    loo = pd.read_csv(tmp_path / "out" / "os_interim" / "loo.csv")
    assert set(loo.model) == {"exponential_ph", "weibull_ph"}
    assert {"elpd_loo", "se", "n_pareto_k_high", "km_area"} <= set(loo.columns)
    assert "PSIS-LOO" in (tmp_path / "out" / "report.html").read_text()


def test_parameter_frame_needs_arrays_with_matching_chain_and_draw():
    """No posterior ran: an empty dict once failed with AttributeError on None.draw."""
    a = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("chain", "draw"),
                     coords={"chain": [0, 1], "draw": [0, 1, 2]})
    frame = parameter_frame({"a": a})
    assert list(frame.columns) == ["chain", "draw", "a"] and len(frame) == 6
    with pytest.raises(InputError, match="at least one array"):
        parameter_frame({})
    with pytest.raises(InputError, match="'b' need dims 'chain' and 'draw'"):
        parameter_frame({"a": a, "b": xr.DataArray(np.zeros(6), dims="sample")})
    with pytest.raises(InputError, match=r"'b' have \(chain, draw\) sizes \(2, 2\)"):
        parameter_frame({"a": a, "b": a.isel(draw=slice(0, 2))})


def test_unconverged_series_map_fit_fails_the_borrowed_response_analysis(monkeypatch,
                                                                        quick_response_spec):
    """The MAP prior is itself an MCMC result: its diagnostics gate the analysis."""
    import dataclasses

    from prrt_bayes.response import borrowing

    real = borrowing.fit_series_response_map
    monkeypatch.setattr(borrowing, "fit_series_response_map", lambda *a, **k: dataclasses.replace(
        real(*a, **k), diagnostics=FAILED))
    # numba: the same draws as the two-arm model's preferred nutpie-c; both models compiled
    # once per session (the compiled models are shared with tests/pipeline/test_api.py)
    spec = quick_response_spec.with_overrides(borrowing="robust-map", backend="nutpie-numba")
    result = run_analysis(spec)
    assert not result.diagnostics.passed
    assert result.diagnostics.max_rhat == 1.2 and result.diagnostics.divergences >= 3
    assert "series MAP fit: max R-hat 1.200 > 1.01" in result.diagnostics.problems
    power = run_analysis(spec.with_overrides(borrowing="power"))
    assert not any(p.startswith("series MAP fit") for p in power.diagnostics.problems)


def test_unconverged_fit_without_borrowing_fails_the_borrowed_survival_analysis(monkeypatch):
    """The fit without borrowing feeds the conflict check and a summary row: it gates too."""
    import dataclasses

    from prrt_bayes.survival import analysis as survival_analysis

    real = survival_analysis.fit_ph

    def fit_ph(ipd, **kwargs):
        fit = real(ipd, **kwargs)
        if kwargs.get("log_median_prior") is not None:  # the fit with borrowing
            return fit
        return dataclasses.replace(fit, diagnostics=FAILED)

    monkeypatch.setattr(survival_analysis, "fit_ph", fit_ph)
    data = resolve_spec("pfs_primary").model_dump()  # borrowing applies to ph_piecewise
    data.update(model={"family": "ph_piecewise", "intervals": 6}, priors={})
    data["sampler"]["chains"] = 2
    spec = type(resolve_spec("pfs_primary")).model_validate(data).with_overrides(
        borrowing="robust-map", draws=200, tune=200, psa_draws=100, scenarios=False)
    result = run_analysis(spec)
    assert not result.diagnostics.passed
    # the answer without borrowing is reported beside the borrowed one
    row(result.summary, Quantity.HAZARD_RATIO_WITHOUT_BORROWING, "lu177_vs_control")
    row(result.summary, Quantity.MEDIAN_SURVIVAL_WITHOUT_BORROWING, Arm.LU177)
    # named per reconstruction member: "fit without borrowing: member 0: max R-hat 1.200 > 1.01"
    members = len(result.reconstruction_members)
    assert {f"fit without borrowing: member {k}: max R-hat 1.200 > 1.01"
            for k in range(members)} <= set(result.diagnostics.problems)


def test_one_data_set_with_borrowing_reports_each_row_once():
    # a single member *is* the pooled fit: its without-borrowing rows must not be added twice
    data = resolve_spec("pfs_primary").model_dump()
    data.update(model={"family": "ph_piecewise", "intervals": 6}, priors={})
    data["evidence"]["reconstruction"] = "default"
    data["sampler"]["chains"] = 2
    spec = type(resolve_spec("pfs_primary")).model_validate(data).with_overrides(
        borrowing="robust-map", draws=200, tune=200, psa_draws=100, scenarios=False)
    summary = run_analysis(spec).summary
    keys = summary[["analysis", "endpoint", "quantity", "group"]]
    assert not keys.duplicated().any(), keys[keys.duplicated()]
    assert (summary["quantity"] == Quantity.HAZARD_RATIO_WITHOUT_BORROWING).sum() == 1


def test_unconverged_ae_fit_fails_the_toxicity_analysis(monkeypatch, quick_toxicity_run):
    """The joint hierarchical AE fit (both grades) gates the toxicity analysis. (The session's
    ``quick_toxicity_run``, the same analysis unpatched, has compiled its models: not again.)"""
    import dataclasses

    from prrt_bayes.toxicity import analysis as toxicity_analysis

    real = toxicity_analysis.fit_ae_tables

    def fit_ae_tables(tables, settings, *, kind, **kwargs):
        fits = real(tables, settings, kind=kind, **kwargs)
        return fits if kind == "independent" else {
            label: dataclasses.replace(fit, diagnostics=FAILED) for label, fit in fits.items()}

    monkeypatch.setattr(toxicity_analysis, "fit_ae_tables", fit_ae_tables)
    result = run_analysis(resolve_spec("toxicity").with_overrides(draws=200, tune=200))
    assert not result.diagnostics.passed
    assert "max R-hat 1.200 > 1.01" in result.diagnostics.problems


@pytest.mark.slow  # the OS final analysis with every extrapolation scenario (about 2 minutes)
def test_survival_run_writes_the_extrapolation_scenarios(tmp_path, cli_runner):
    out = tmp_path / "final"
    result = cli_runner.invoke(app, ["run", "os_final", "--out", str(out)])
    assert result.exit_code in (0, 1), result.stderr
    table = pd.read_csv(out / "extrapolation_scenarios.csv")
    assert list(table.columns) == ["analysis", "scenario", "group", "quantity", "median",
                                   "lower", "upper"]
    expected = {"recommended", "waning_linear_5y", "waning_exponential_10y",
                "without_external_evidence", "without_background_mortality",
                "control_from_pre_crossover_2016_cut", "piecewise_ph_constant_tail",
                "piecewise_ph_series_as_median_prior", "exponential_ph", "weibull_ph",
                "gompertz_ph", "loglogistic_aft", "lognormal_aft", "gengamma_aft"}
    left_out = " ".join(line for line in result.stdout.splitlines() if "left out" in line)
    assert {s for s in expected if s not in left_out} <= set(table["scenario"])
    assert {"median_survival_months", "mean_survival_months", "rmst_follow_up_months",
            "rmst_60m", "rmst_120m", "mean_survival_difference_months"} == set(table["quantity"])
    per_analysis = pd.read_csv(out / "os_final" / "extrapolation_scenarios.csv")
    assert per_analysis.equals(table)
    curves = pd.read_csv(out / "os_final" / "extrapolation_curves.csv")
    background = curves[curves["scenario"] == "background"]
    recommended = curves[curves["scenario"] == "recommended"]
    merged = recommended.merge(background, on=["arm", "time"], suffixes=("", "_population"))
    assert (merged["hazard"] >= merged["hazard_population"] * (1 - 1e-6)).all()
    at_30_years = merged[merged["time"] == 360.0]
    assert (at_30_years["survival"] < at_30_years["survival_population"]).all()
    assert {p.name for p in (out / "plots").glob("scenario_*os_final.png")} == {
        "scenario_survival_os_final.png", "scenario_hazard_os_final.png"}
    assert "What drives the extrapolation" in (out / "report.html").read_text()
    assert "os_final tail: Hazard:" in result.stdout
    assert "within follow-up (observed" in result.stdout
