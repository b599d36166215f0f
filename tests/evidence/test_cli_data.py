"""`prrt-bayes data` from the command line: exit codes and one-line errors."""

import json
import subprocess
import sys

from helpers import assert_one_line_exit_2, series

from prrt_bayes.cli import app


def _nejm(netter1) -> str:
    """The source key of the primary PFS hazard ratio (the NEJM 2017 paper)."""
    return netter1.get("primary_2015", "pfs_hazard_ratio").source


def test_data_list_exits_0(cli_runner, netter1):
    result = cli_runner.invoke(app, ["data", "list"])
    assert result.exit_code == 0, result.output
    assert _nejm(netter1) in result.output


def test_data_list_json(cli_runner, netter1):
    result = cli_runner.invoke(app, ["data", "list", "--json"])
    assert result.exit_code == 0
    names = {row["name"] for row in json.loads(result.output)}
    assert {_nejm(netter1), "brabander2017"} <= names
    assert names == set(netter1.sources) | set(series().studies)


def test_data_show_netter1_exits_0(cli_runner):
    result = cli_runner.invoke(app, ["data", "show", "netter1"])
    assert result.exit_code == 0, result.output
    assert "pfs_hazard_ratio" in result.output


def test_data_show_json_has_provenance(cli_runner, netter1):
    result = cli_runner.invoke(app, ["data", "show", "netter1", "--json"])
    payload = json.loads(result.output)
    record = next(r for r in payload["records"] if r["quantity"] == "pfs_hazard_ratio")
    assert record["source"] == _nejm(netter1) and record["locator"]
    assert len(payload["tables"]["table4_ae_by_type"]) == len(
        netter1.tables["table4_ae_by_type"])


def test_unknown_name_exits_2_with_one_line():
    process = subprocess.run(
        [sys.executable, "-m", "prrt_bayes", "data", "show", "no-such-source"],
        capture_output=True, text=True,
    )
    assert_one_line_exit_2(process, "unknown source 'no-such-source'")
