"""`prrt-bayes map-prior`: JSON keys, the transplant example, and bad inputs (exit 2)."""

import json

import pytest
from typer.testing import CliRunner

from prrt_bayes.cli import app

runner = CliRunner()
EVENTS = "6,8,17,28,26,8,22,8,6,16,53"
TOTALS = "33,45,74,103,140,49,83,59,22,109,213"


def test_counts_json_keys_and_transplant_ess():
    result = runner.invoke(app, ["map-prior", "--events", EVENTS, "--totals", TOTALS, "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in ("mean", "sd", "lower", "upper", "ess_elir", "ess_moment", "components"):
        assert key in summary
    assert summary["lower"] < summary["mean"] < summary["upper"]
    # Neuenschwander et al. 2010 report an ESS of about 90 patients (moment definition).
    assert 81 <= summary["ess_moment"] <= 99
    assert abs(sum(c[0] for c in summary["components"]) - 1) < 1e-9


def test_robust_weight_adds_vague_component():
    result = runner.invoke(app, ["map-prior", "--events", EVENTS, "--totals", TOTALS,
                                 "--robust-weight", "0.2", "--json"])
    components = json.loads(result.stdout)["components"]
    assert [0.2, 1.0, 1.0] == pytest.approx(components[-1])


def test_estimates_table_output():
    result = runner.invoke(app, ["map-prior", "--estimates", "3.4,3.3,3.6,3.2",
                                 "--std-errors", "0.1,0.15,0.2,0.12"])
    assert result.exit_code == 0, result.stderr
    assert "ESS" in result.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["--events", "6,80", "--totals", "33,45"], "exceed"),
    (["--estimates", "1,2", "--std-errors", "0.1,0"], "standard error"),
    (["--estimates", "1,2", "--std-errors", "0.1,-1"], "standard error"),
    (["--events", "6", "--totals", "33"], "at least 2 studies"),
    (["--events", "6,8", "--totals", "33,45", "--robust-weight", "1.5"], "[0, 1]"),
    (["--events", "6,8", "--totals", "33,45", "--robust-weight", "-0.1"], "[0, 1]"),
    (["--events", "6,x", "--totals", "33,45"], "not a number"),
    (["--events", "6,8", "--totals", "33,45", "--tau-prior", "halfnormal:-1"], "tau"),
])
def test_bad_inputs_exit_2_with_one_line(args, needle):
    result = runner.invoke(app, ["map-prior", *args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
