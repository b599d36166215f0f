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


def test_run_table_prints_an_indicators_probability_not_its_quantiles(capsys):
    import pandas as pd

    from prrt_bayes import cli

    summary = pd.DataFrame([
        {"analysis": "toxicity", "endpoint": "nausea_any_grade",
         "quantity": "probability_risk_difference_positive", "group": "lu177_vs_control",
         "mean": 0.7954, "sd": 0.4, "median": 1.0, "lower": 0.0, "upper": 1.0},
        {"analysis": "toxicity", "endpoint": "nausea_any_grade", "quantity": "risk_difference",
         "group": "lu177_vs_control", "mean": 0.3, "sd": 0.05, "median": 0.31, "lower": 0.21,
         "upper": 0.4}])
    cli.console.width = 200
    cli._print_summary(summary, pd.DataFrame(columns=["analysis"]))
    out = capsys.readouterr().out
    assert "P = 0.795" in out
    assert "0 to 1" not in out
    assert "0.21 to 0.4" in out
