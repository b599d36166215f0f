"""The streaming XLSX writer: read back by openpyxl and pandas with identical values, package
parts as ECMA-376 lays them out, every string cell escaped, bad sheets refused."""

from __future__ import annotations

import math
import zipfile
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from prrt_bayes.outputs.workbook import Sheet, column_letter, write_workbook

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def mixed_rows():
    return [
        ["text", 1, 0.1, True],
        ["a & b < c > d", -7, 1e-300, False],
        ["  padded  ", 2**53, -1.2345678901234567e-5, np.float64(2.5)],
        ['=HYPERLINK("x")', np.int64(3), np.float32(0.1), None],
        ["bell\x07and\x00nul", 0, float("nan"), float("inf")],
        ["lone \ud800 surrogate", 1, -0.0, -math.inf],
    ]


def test_values_read_back_identical_by_openpyxl(tmp_path):
    rng = np.random.default_rng(1)
    block = np.column_stack([np.arange(40), np.linspace(0, 39 * 0.25, 40),
                             rng.uniform(1e-9, 1, (40, 30)).astype(np.float32)])
    formats = ["%d", "%.12g", *["%.7g"] * 30]
    path = write_workbook(tmp_path / "t.xlsx", [
        Sheet("README", ["item", "description"], [["one", "first sheet"]]),
        Sheet("mixed", ["name", "int", "float", "flag"], mixed_rows()),
        Sheet("numbers", ["cycle", "time", *(f"sample_{k}" for k in range(30))], block=block,
              formats=formats),
    ])
    wb = load_workbook(path)
    assert wb.sheetnames == ["README", "mixed", "numbers"]
    got = list(wb["mixed"].iter_rows(values_only=True))
    assert got[0] == ("name", "int", "float", "flag")
    assert got[1] == ("text", 1, 0.1, True)
    assert got[2] == ("a & b < c > d", -7, 1e-300, False)
    assert got[3] == ("  padded  ", 2**53, -1.2345678901234567e-5, 2.5)
    assert got[4] == ("'=HYPERLINK(\"x\")", 3, float(np.float32(0.1)), None)
    assert got[5] == ("bell\ufffdand\ufffdnul", 0, None, "#NUM!")
    assert got[6][0] == "lone \ufffd surrogate" and got[6][3] == "#NUM!"
    assert wb["mixed"]["D6"].data_type == "e"  # an error value, not text or a formula
    numbers = list(wb["numbers"].iter_rows(values_only=True))
    assert numbers[0][:3] == ("cycle", "time", "sample_0")
    values = np.array(numbers[1:], dtype=float)
    np.testing.assert_array_equal(values[:, 0], np.arange(40))
    np.testing.assert_array_equal(values[:, 1], np.linspace(0, 39 * 0.25, 40))
    expected = np.vectorize(lambda v: float(f"{v:.7g}"))(block[:, 2:])
    np.testing.assert_array_equal(values[:, 2:], expected)
    assert wb["numbers"].max_row == 41 and wb["numbers"].max_column == 32


def test_pandas_reads_every_sheet(tmp_path):
    block = np.arange(12.0).reshape(4, 3)
    path = write_workbook(tmp_path / "t.xlsx", [
        Sheet("a", ["x", "y", "z"], block=block, formats=["%d", "%.3f", "%g"]),
        Sheet("b", ["name", "value"], [["p", 0.5], ["q", 1.5]]),
    ])
    sheets = pd.read_excel(path, sheet_name=None)
    np.testing.assert_array_equal(sheets["a"].to_numpy(), block)
    assert sheets["b"].to_dict("list") == {"name": ["p", "q"], "value": [0.5, 1.5]}


def test_package_parts_follow_ecma_376(tmp_path):
    titles = ["README", "S_os_final_lu177", "O'Brien & co"]
    path = write_workbook(tmp_path / "t.xlsx", [Sheet(t, ["h"], [[k]])
                                                for k, t in enumerate(titles)])
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert archive.testzip() is None
        parts = {n: ElementTree.fromstring(archive.read(n)) for n in names}  # well-formed XML
    assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels", "xl/styles.xml"} <= names
    types = parts["[Content_Types].xml"]
    defaults = {d.get("Extension"): d.get("ContentType") for d in types.iter(f"{CT}Default")}
    assert defaults["rels"] == "application/vnd.openxmlformats-package.relationships+xml"
    overrides = {o.get("PartName"): o.get("ContentType") for o in types.iter(f"{CT}Override")}
    # every part but the relationships has a content type, and every override names a part
    assert {p.lstrip("/") for p in overrides} == names - {"[Content_Types].xml", "_rels/.rels",
                                                          "xl/_rels/workbook.xml.rels"}
    assert overrides["/xl/workbook.xml"].endswith("spreadsheetml.sheet.main+xml")
    root = parts["_rels/.rels"].find(f"{PKG}Relationship")
    assert root.get("Target") == "xl/workbook.xml" and root.get("Type").endswith(
        "/officeDocument")
    links = {r.get("Id"): r for r in parts["xl/_rels/workbook.xml.rels"]}
    sheets = parts["xl/workbook.xml"].find(f"{MAIN}sheets")
    assert [s.get("name") for s in sheets] == titles
    for k, sheet in enumerate(sheets, start=1):
        assert sheet.get("sheetId") == str(k)
        target = "xl/" + links[sheet.get(REL_ID)].get("Target")
        assert target in names and overrides["/" + target].endswith("worksheet+xml")
        worksheet = parts[target]
        assert worksheet.tag == f"{MAIN}worksheet"
        assert worksheet.find(f"{MAIN}dimension").get("ref") == "A1:A2"
        rows = worksheet.find(f"{MAIN}sheetData").findall(f"{MAIN}row")
        assert [r.get("r") for r in rows] == ["1", "2"]
    assert any(r.get("Type").endswith("/styles") and r.get("Target") == "styles.xml"
               for r in links.values())


def test_every_string_cell_is_escaped(tmp_path):
    hostile = ['=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    path = write_workbook(tmp_path / "t.xlsx", [Sheet("s", hostile, [hostile])])
    for row in load_workbook(path)["s"].iter_rows():
        for cell in row:
            assert cell.data_type == "s" and cell.value.startswith("'"), cell.value
    assert [c.value for c in load_workbook(path)["s"][2]] == ["'" + h for h in hostile]


@pytest.mark.parametrize("title", ["", "x" * 32, "a/b", "a[1]", "what?", "'quoted"])
def test_invalid_sheet_names_are_refused(tmp_path, title):
    with pytest.raises(ValueError, match="not a valid sheet name"):
        write_workbook(tmp_path / "t.xlsx", [Sheet(title, ["h"])])


def test_bad_sheets_are_refused_and_leave_no_file(tmp_path):
    path = tmp_path / "t.xlsx"
    with pytest.raises(ValueError, match="duplicate sheet name"):
        write_workbook(path, [Sheet("Data"), Sheet("DATA")])
    with pytest.raises(ValueError, match="at least one sheet"):
        write_workbook(path, [])
    with pytest.raises(ValueError, match="must be finite"):
        write_workbook(path, [Sheet("ok"), Sheet("nan", block=np.array([[np.nan]]),
                                                 formats=["%g"])])
    assert not path.exists()
    with pytest.raises(ValueError, match="one format per column"):
        write_workbook(path, [Sheet("a", block=np.zeros((2, 3)), formats=["%g"])])
    with pytest.raises(ValueError, match="do not fit"):
        write_workbook(path, [Sheet("wide", block=np.zeros((1, 16_385)),
                                    formats=["%g"] * 16_385)])
    assert not path.exists()


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 51, 701, 702, 16_383)] == [
        "A", "Z", "AA", "AZ", "ZZ", "AAA", "XFD"]
    with pytest.raises(ValueError):
        column_letter(16_384)
