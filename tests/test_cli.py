"""`prrt-bayes run --list` and `prrt-bayes init`: listing and copying the bundled analyses."""

from __future__ import annotations

import subprocess
import sys

from helpers import assert_one_line_exit_2

from prrt_bayes.cli import app
from prrt_bayes.pipeline.bundled import bundled_text, describe_bundled
from prrt_bayes.pipeline.specs import load_spec


def test_run_list_names_every_bundled_analysis_and_fits_nothing(tmp_path, cli_runner):
    out = tmp_path / "results"
    result = cli_runner.invoke(app, ["run", "--list", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    for name, kind, description in describe_bundled():
        assert description
        assert any(name in line and kind in line for line in lines), (name, kind)
    assert not out.exists()


def test_init_writes_the_bundled_spec_under_the_new_name(tmp_path, cli_runner):
    result = cli_runner.invoke(app, ["init", "my_pfs", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "my_pfs.toml"
    assert str(path) in result.stdout
    expected = bundled_text("pfs_primary").replace('name = "pfs_primary"', 'name = "my_pfs"', 1)
    assert path.read_text() == expected
    spec = load_spec(path)
    assert (spec.name, spec.kind) == ("my_pfs", "survival")


def test_init_from_another_bundled_analysis(tmp_path, cli_runner):
    result = cli_runner.invoke(app, ["init", "orr-itt", "--from", "response", "--dir",
                                     str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    spec = load_spec(tmp_path / "orr-itt.toml")
    assert (spec.name, spec.kind) == ("orr-itt", "response")


def test_init_refuses_to_overwrite_without_force(tmp_path, cli_runner):
    path = tmp_path / "mine.toml"
    path.write_text("# my edits\n")
    result = cli_runner.invoke(app, ["init", "mine", "--dir", str(tmp_path)])
    assert_one_line_exit_2(result, "mine.toml", "--force")
    assert path.read_text() == "# my edits\n"
    forced = cli_runner.invoke(app, ["init", "mine", "--dir", str(tmp_path), "--force"])
    assert forced.exit_code == 0, forced.stderr
    assert load_spec(path).name == "mine"


def test_init_bad_name_or_source_exits_2(tmp_path, cli_runner):
    bad_name = cli_runner.invoke(app, ["init", "../escape", "--dir", str(tmp_path)])
    assert_one_line_exit_2(bad_name, "may contain only letters, digits, _ and -")
    unknown = cli_runner.invoke(app, ["init", "x", "--from", "nothing", "--dir", str(tmp_path)])
    assert_one_line_exit_2(unknown, "unknown analysis 'nothing'")
    assert list(tmp_path.iterdir()) == []


def test_commands_that_do_not_fit_do_not_import_pymc(tmp_path):
    """--help, data, run --list and summarize stay light: PyMC is imported only to fit."""
    import numpy as np
    import xarray as xr

    from prrt_bayes.core.posterior import attach_quantities, save_posterior

    draws = xr.DataArray(np.linspace(0.1, 0.9, 20).reshape(2, 10), dims=("chain", "draw"))
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"x": draws})})
    attach_quantities(tree, [("hazard_ratio", "lu177_vs_control", draws)], analysis="a",
                      endpoint="pfs")
    posterior = tmp_path / "posterior.nc"
    save_posterior(tree, posterior, spec={}, version="test")
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from prrt_bayes.cli import app\n"
        "for args in (['--help'], ['data', 'list'], ['run', '--list'],\n"
        f"             ['summarize', {str(posterior)!r}]):\n"
        "    result = CliRunner().invoke(app, args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
        "print('pymc' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def _summary_rows(*rows):
    import pandas as pd

    columns = ("analysis", "endpoint", "quantity", "group", "mean", "sd", "median", "lower",
               "upper")
    return pd.DataFrame([dict(zip(columns, row, strict=True)) for row in rows])


def test_run_table_prints_an_indicators_probability_not_its_quantiles(capsys, tmp_path):
    import pandas as pd

    from prrt_bayes import cli

    summary = _summary_rows(
        ("toxicity", "nausea_any_grade", "probability_risk_difference_positive",
         "lu177_vs_control", 0.99954, 0.02, 1.0, 0.0, 1.0),
        ("toxicity", "nausea_any_grade", "risk_difference", "lu177_vs_control", 0.3, 0.05, 0.31,
         0.21, 0.4))
    cli.console.width = 200
    cli._print_summary(summary, pd.DataFrame(columns=["analysis"]), tmp_path)
    out = capsys.readouterr().out
    assert "probability 1.000" in out
    assert "0 to 1" not in out
    assert "0.21 to 0.4" in out


def test_headline_keeps_key_estimates_and_only_clear_adverse_events():
    """The console shows hazard ratios, medians, means, response and the adverse events whose
    P(RD > 0) is >= 0.95 or <= 0.05; the rest stays in summary.csv."""

    summary = _summary_rows(
        ("os_final", "os", "excess_hazard_ratio_0-26.0277m", "lu177_vs_control", 0.7, 0.1, 0.7,
         0.5, 0.9),
        ("os_final", "os", "rmst_12m", "lu177", 11, 0.1, 11, 10.8, 11.2),
        ("os_final", "os", "median_survival_months", "lu177", 48, 5, 48, 40, 60),
        ("toxicity", "nausea_any_grade", "probability_risk_difference_positive",
         "lu177_vs_control", 0.999, 0.02, 1, 1, 1),
        ("toxicity", "nausea_any_grade", "risk_difference", "lu177_vs_control", 0.4, 0.05, 0.4,
         0.3, 0.5),
        ("toxicity", "nausea_any_grade", "ae_probability", "lu177", 0.5, 0.05, 0.5, 0.4, 0.6),
        ("toxicity", "cough_any_grade", "probability_risk_difference_positive",
         "lu177_vs_control", 0.6, 0.5, 1, 0, 1),
        ("toxicity", "cough_any_grade", "risk_difference", "lu177_vs_control", 0.01, 0.05, 0.01,
         -0.1, 0.1),
        ("toxicity", "anemia_grade34", "probability_risk_difference_positive",
         "lu177_vs_control", 0.02, 0.1, 0, 0, 0),
        # Berry & Berry: P(RD > 0) 0.02 but mostly no difference, not a clear decrease
        ("toxicity", "cough_grade34", "probability_risk_difference_positive",
         "lu177_vs_control", 0.02, 0.1, 0, 0, 0),
        ("toxicity", "cough_grade34", "probability_no_difference", "lu177_vs_control", 0.9,
         0.1, 0.95, 0.6, 1),
    )
    from prrt_bayes.core.summary import headline_rows

    shown = headline_rows(summary)
    assert list(zip(shown.endpoint, shown.quantity, strict=True)) == [
        ("os", "excess_hazard_ratio_0-26.0277m"), ("os", "median_survival_months"),
        ("nausea_any_grade", "probability_risk_difference_positive"),
        ("nausea_any_grade", "risk_difference"),
        ("anemia_grade34", "probability_risk_difference_positive")]


def test_closing_line_says_what_was_borrowed_from_whom_and_how_far_it_moved(capsys):
    from prrt_bayes import cli
    from prrt_bayes.core.results import AnalysisResult, BorrowingReport

    summary = _summary_rows(
        ("response", "response", "response_rate", "lu177", 0.19, 0.04, 0.187, 0.12, 0.27),
        ("response", "response", "response_rate", "control", 0.04, 0.02, 0.036, 0.01, 0.09),
        ("response", "response", "response_rate_without_borrowing", "lu177", 0.18, 0.04, 0.182,
         0.12, 0.27))
    report = BorrowingReport(method="robust-map", conflict_p_box=0.611,
                             sources=("Study A (5/40)", "Study B (9/50)"),
                             prior_ess="30.1 patients (ELIR), 25.0 (moment)")
    result = AnalysisResult(name="response", kind="response", endpoint="response",
                            summary=summary, diagnostics=None, borrowing=report)
    cli.console.width = 400
    cli._print_borrowing([result])
    out = capsys.readouterr().out
    assert "from Study A (5/40); Study B (9/50)" in out
    assert "prior worth 30.1 patients (ELIR)" in out
    assert "response rate 0.187 with vs 0.182 without borrowing" in out
    assert "conflict p = 0.611" in out


def test_closing_line_for_series_as_survivor_counts(capsys):
    from prrt_bayes import cli
    from prrt_bayes.core.results import AnalysisResult

    summary = _summary_rows(
        ("pfs_primary", "pfs", "median_survival_months", "lu177", 31, 3, 29.7, 25, 36),
        ("pfs_primary", "pfs", "median_survival_months", "control", 9, 1, 8.6, 7, 11),
        ("pfs_primary", "pfs", "median_survival_months_without_borrowing", "lu177", 35, 5, 33.2,
         26, 48))
    result = AnalysisResult(name="pfs_primary", kind="survival", endpoint="pfs",
                            summary=summary, diagnostics=None)
    cli.console.width = 400
    cli._print_borrowing([result])
    out = capsys.readouterr().out
    assert "pfs_primary borrowing: the external evidence enters as survivor counts" in out
    assert "median (months) 29.7 with vs 33.2 without it" in out
