"""`prrt-bayes reconstruct`: writes time,event and the accuracy report; bad input exits 2."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import DIGITIZED_KM as FIXTURES
from helpers import assert_one_line_exit_2, write_file

from prrt_bayes.cli import app

needs_fixtures = pytest.mark.skipif(
    not FIXTURES.exists(), reason=f"shared fixtures not found at {FIXTURES} (outside the repo)"
)


@needs_fixtures
def test_reconstruct_keynote_arm(tmp_path, cli_runner):
    out = tmp_path / "pembro.csv"
    result = cli_runner.invoke(app, [
        "reconstruct", "--curve", str(FIXTURES / "keynote189_pembrolizumab_curve.csv"),
        "--at-risk", str(FIXTURES / "keynote189_numbers_at_risk.csv"),
        "--at-risk-column", "at_risk_pembrolizumab", "--out", str(out),
    ])
    assert result.exit_code == 0, result.stderr
    ipd = pd.read_csv(out)
    assert list(ipd.columns) == ["time", "event"]
    assert len(ipd) == 410
    assert "max" in result.stdout.lower()


def test_text_in_number_column_exits_2(tmp_path, cli_runner):
    curve = write_file(tmp_path, "curve.csv", "time,survival\n0,1\n2,0.9\nthree,0.8\n")
    result = cli_runner.invoke(app, ["reconstruct", "--curve", str(curve), "--n-patients", "50",
                                 "--out", str(tmp_path / "ipd.csv")])
    assert_one_line_exit_2(result, "curve.csv", "row 4")


def test_empty_file_exits_2(tmp_path, cli_runner):
    curve = write_file(tmp_path, "empty.csv", "")
    result = cli_runner.invoke(app, ["reconstruct", "--curve", str(curve), "--n-patients", "50",
                                 "--out", str(tmp_path / "ipd.csv")])
    assert_one_line_exit_2(result, "empty.csv")


def test_increasing_at_risk_exits_2(tmp_path, cli_runner):
    curve = write_file(tmp_path, "curve.csv", "time,survival\n0,1\n5,0.8\n10,0.6\n15,0.5\n")
    risk = write_file(tmp_path, "risk.csv", "time,n\n0,100\n5,80\n10,90\n")
    result = cli_runner.invoke(app, ["reconstruct", "--curve", str(curve), "--at-risk", str(risk),
                                 "--out", str(tmp_path / "ipd.csv")])
    assert_one_line_exit_2(result, "risk.csv", "row 4")
    assert not (tmp_path / "ipd.csv").exists()


def test_percent_probability_mixup_exits_2(tmp_path, cli_runner):
    curve = write_file(tmp_path, "curve.csv", "time,survival\n0,100\n5,80\n10,60\n")
    result = cli_runner.invoke(app, ["reconstruct", "--curve", str(curve), "--probability",
                                 "--n-patients", "50", "--out", str(tmp_path / "ipd.csv")])
    assert_one_line_exit_2(result, "curve.csv")


def test_missing_curve_file_exits_2(tmp_path, cli_runner):
    result = cli_runner.invoke(app, ["reconstruct", "--curve", str(tmp_path / "nope.csv"),
                                 "--n-patients", "50", "--out", str(tmp_path / "ipd.csv")])
    assert_one_line_exit_2(result, "nope.csv")


@needs_fixtures
def test_arms_collect_in_one_file_a_spec_can_read(tmp_path, cli_runner):
    from prrt_bayes.survival.analysis import read_ipd_csv

    out = tmp_path / "keynote189_ipd.csv"
    for arm, label in (("pembrolizumab", "pembro"), ("placebo", "control")):
        result = cli_runner.invoke(app, [
            "reconstruct", "--curve", str(FIXTURES / f"keynote189_{arm}_curve.csv"),
            "--at-risk", str(FIXTURES / "keynote189_numbers_at_risk.csv"),
            "--at-risk-column", f"at_risk_{arm}", "--arm", label, "--out", str(out)])
        assert result.exit_code == 0, result.stderr
    ipd = read_ipd_csv(out, treatment="pembro")  # what [evidence] ipd = ... reads
    assert ipd["arm"].value_counts().to_dict() == {"pembro": 410, "control": 206}
    again = cli_runner.invoke(app, [
        "reconstruct", "--curve", str(FIXTURES / "keynote189_placebo_curve.csv"),
        "--at-risk", str(FIXTURES / "keynote189_numbers_at_risk.csv"),
        "--at-risk-column", "at_risk_placebo", "--arm", "control", "--out", str(out)])
    assert_one_line_exit_2(again, "keynote189_ipd.csv", "already holds arm 'control'")
    assert len(pd.read_csv(out)) == 616  # unchanged
