"""`prrt-bayes data` from the command line: exit codes and one-line errors."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from prrt_bayes.cli import app

runner = CliRunner()


def test_data_list_exits_0():
    result = runner.invoke(app, ["data", "list"])
    assert result.exit_code == 0, result.output
    assert "nejm2017" in result.output


def test_data_list_json():
    result = runner.invoke(app, ["data", "list", "--json"])
    assert result.exit_code == 0
    names = {row["name"] for row in json.loads(result.output)}
    assert {"nejm2017", "brabander2017"} <= names


def test_data_show_netter1_exits_0():
    result = runner.invoke(app, ["data", "show", "netter1"])
    assert result.exit_code == 0, result.output
    assert "pfs_hazard_ratio" in result.output


def test_data_show_json_has_provenance():
    result = runner.invoke(app, ["data", "show", "netter1", "--json"])
    payload = json.loads(result.output)
    record = next(r for r in payload["records"] if r["quantity"] == "pfs_hazard_ratio")
    assert record["source"] == "nejm2017" and record["locator"]
    assert len(payload["tables"]["table4_ae_by_type"]) == 20


def test_unknown_name_exits_2_with_one_line():
    process = subprocess.run(
        [sys.executable, "-m", "prrt_bayes", "data", "show", "no-such-source"],
        capture_output=True, text=True,
    )
    assert process.returncode == 2
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown source 'no-such-source'" in lines[0]
    assert "Traceback" not in process.stderr
