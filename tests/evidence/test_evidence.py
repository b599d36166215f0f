"""Bundled evidence: every NEJM Table 2-4 row as printed, and validation that rejects bad data.

This is the one test file that types published numbers: it checks the evidence files against
the paper. Every other test reads published numbers from the evidence (``load_netter1()``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prrt_bayes.core.errors import InputError
from prrt_bayes.evidence import list_sources, load_netter1, load_series
from prrt_bayes.evidence.loaders import TABLE_FILES
from prrt_bayes.evidence.schema import percent_consistent

# Typed from the paper's printed tables (NEJM 2017;376:125-35), independent of the CSV files.
# Table 4: event -> (Lu any n, Lu any %, Lu G3/4 n, ctrl any n, ctrl any %, ctrl G3/4 n, P)
TABLE4 = """
Any adverse event|105|95|46|92|84|36|0.01
Nausea|65|59|4|13|12|2|<0.001
Vomiting|52|47|8|11|10|1|<0.001
Abdominal pain|29|26|3|29|26|6|1.00
Diarrhea|32|29|3|21|19|2|0.11
Distension|14|13|0|15|14|0|0.84
Fatigue or asthenia|44|40|2|28|25|2|0.03
Edema peripheral|16|14|0|8|7|0|0.13
Thrombocytopenia|28|25|2|1|1|0|<0.001
Anemia|16|14|0|6|5|0|0.04
Lymphopenia|20|18|10|2|2|0|<0.001
Leukopenia|11|10|1|1|1|0|0.005
Neutropenia|6|5|1|1|1|0|0.12
Musculoskeletal pain|32|29|2|22|20|1|0.16
Decreased appetite|20|18|0|9|8|3|0.04
Headache|18|16|0|5|5|0|0.007
Dizziness|12|11|0|6|5|0|0.22
Flushing|14|13|1|10|9|0|0.52
Alopecia|12|11|0|2|2|0|0.01
Cough|12|11|0|6|5|0|0.22
"""
TABLE4_CLASSES = {
    "Gastrointestinal disorders": {
        "Nausea", "Vomiting", "Abdominal pain", "Diarrhea", "Distension"},
    "General disorders": {"Fatigue or asthenia", "Edema peripheral"},
    "Blood disorders": {"Thrombocytopenia", "Anemia", "Lymphopenia", "Leukopenia", "Neutropenia"},
    "Musculoskeletal disorders": {"Musculoskeletal pain"},
    "Nutrition disorders": {"Decreased appetite"},
    "Nervous system disorders": {"Headache", "Dizziness"},
    "Vascular disorders": {"Flushing"},
    "Skin disorders": {"Alopecia"},
    "Respiratory disorders": {"Cough"},
}
# Table 3: (category, event) -> (Lu n, Lu %, ctrl n, ctrl %, P)
TABLE3 = {
    ("Adverse event", "Any"): (106, 95, 95, 86, "0.02"),
    ("Adverse event", "Related to treatment"): (95, 86, 34, 31, "<0.001"),
    ("Serious adverse event", "Any"): (29, 26, 26, 24, "0.76"),
    ("Serious adverse event", "Related to treatment"): (10, 9, 1, 1, "0.01"),
    ("Withdrawal from trial because of adverse event", "Because of any adverse event"):
        (7, 6, 10, 9, "0.46"),
    ("Withdrawal from trial because of adverse event",
     "Because of adverse event related to treatment"): (5, 5, 0, None, "0.06"),
}
# Table 2: category -> (Lu n, ctrl n); denominators 101 / 100
TABLE2 = {"Complete response": (1, 0), "Partial response": (17, 3), "Objective response": (18, 3)}


def test_table4_every_row_as_printed(netter1):
    table = netter1.tables["table4_ae_by_type"].set_index("event")
    expected_rows = [line.split("|") for line in TABLE4.strip().splitlines()]
    assert len(table) == len(expected_rows)
    for event, lu_any, lu_pct, lu_g34, c_any, c_pct, c_g34, p in expected_rows:
        row = table.loc[event]
        assert (row.lu177_any_n, row.lu177_any_percent, row.lu177_grade34_n) == (
            int(lu_any), int(lu_pct), int(lu_g34)), event
        assert (row.control_any_n, row.control_any_percent, row.control_grade34_n) == (
            int(c_any), int(c_pct), int(c_g34)), event
        assert row.p_value_any_grade == p, event
        assert (row.lu177_denominator, row.control_denominator) == (111, 110)
    for organ_class, events in TABLE4_CLASSES.items():
        assert set(table.index[table.organ_class == organ_class]) == events


def test_table3_every_row_as_printed(netter1):
    table = netter1.tables["table3_ae_overview"]
    assert len(table) == len(TABLE3)
    for row in table.itertuples():
        lu_n, lu_pct, c_n, c_pct, p = TABLE3[(row.category, row.event)]
        assert (row.lu177_n, row.lu177_percent, row.control_n) == (lu_n, lu_pct, c_n)
        assert (c_pct is None and row.control_percent != row.control_percent) or (
            row.control_percent == c_pct)
        assert row.p_value == p


def test_table2_and_response_records_agree(netter1):
    table = netter1.tables["table2_response"].set_index("category")
    for category, (lu, control) in TABLE2.items():
        assert (table.loc[category, "lu177_n"], table.loc[category, "control_n"]) == (lu, control)
    for arm in ("lu177", "control"):
        record = netter1.get("primary_2015", "objective_responses", arm)
        assert record.value == table.loc["Objective response", f"{arm}_n"]
        assert record.denominator == table.loc["Objective response", f"{arm}_denominator"]


def test_table1_has_all_printed_characteristics(netter1):
    table = netter1.tables["table1_baseline"]
    assert len(table) == 22
    liver = table[table.characteristic == "Liver"].iloc[0]
    assert (liver.lu177_value, liver.lu177_percent, liver.control_value) == (97, 84, 94)


def test_primary_pfs_numbers_and_disagreement_recorded(netter1):
    assert netter1.get("primary_2015", "pfs_events", "lu177").value == 23
    control = netter1.alternatives("primary_2015", "pfs_events", "control")
    assert [r.value for r in control] == [68, 67]  # primary first, then the JNM abstract
    assert control[0].reason
    hr = netter1.get("primary_2015", "pfs_hazard_ratio")
    assert (hr.value, hr.lower, hr.upper) == (0.21, 0.13, 0.33)
    landmark = netter1.get("primary_2015", "pfs_survival", "control", time=20)
    assert (landmark.value, landmark.lower, landmark.upper) == (10.8, 3.5, 23.0)
    assert netter1.get("primary_2015", "pfs_median_months", "lu177").value is None
    assert netter1.get("label_pi", "pfs_events", "lu177").value == 27


def test_final_cut_numbers(netter1):
    assert netter1.get("final_2021", "os_deaths").value == 142
    assert netter1.get("final_2021", "os_median_months", "lu177").value == 48.0
    assert netter1.get("final_2021", "os_deaths_within_24m", "control").value == 39
    assert netter1.get("final_2021", "os_hazard_ratio").upper == 1.17
    assert [c for c in netter1.cuts] == ["snmmi_2016", "primary_2015", "label_pi",
                                         "update_2016", "final_2021", "qol_2017",
                                         "hta"]


def test_two_year_deaths_credit_the_esmo_2021_abstract(netter1):
    """Deaths within 2 years come from ESMO 2021 1102P (not the ASCO 2021 abstract)."""
    for arm, deaths in (("lu177", 26), ("control", 39)):
        record = netter1.get("final_2021", "os_deaths_within_24m", arm)
        assert (record.value, record.source) == (deaths, "esmo2021_1102P")
        assert "26 (22.2) | 39 (34.2)" in record.quote


def test_every_number_of_the_shared_evidence_page_is_recorded(netter1):
    """The 2016 update, the earlier SNMMI interim, quality of life and HTA context."""
    assert netter1.get("update_2016", "os_deaths", "control").value == 43
    assert netter1.get("update_2016", "os_median_months", "control").value == 27.4
    assert netter1.cuts["update_2016"].date == "2016-06-30"
    assert [netter1.get("snmmi_2016", "os_deaths", arm).value
            for arm in ("lu177", "control")] == [13, 22]
    assert netter1.get("qol_2017", "ttd_hr_global_health").value == 0.406
    assert netter1.get("qol_2017", "ttd_median_global_health", "control").value == 6.1
    assert netter1.get("hta", "icer_eur_per_qaly_fr").value == 42106
    life = netter1.get("hta", "life_expectancy_years")
    assert (life.value, life.lower, life.upper, life.interval) == (None, 5, 6, "range")
    assert netter1.get("hta", "utility_post_progression").value == 0.74


def test_every_record_has_a_known_source(netter1):
    for record in netter1.records:
        assert record.source in netter1.sources
        assert record.locator


def test_series_flags_and_derived_counts():
    series = load_series()
    studies = series.studies_frame().set_index("id")
    assert studies.loc["horsch2016", "mixed_radionuclides"]
    assert studies.loc["alipour2023", "chemotherapy"]
    assert studies.loc["kwekkeboom2008", "progression_endpoint"] == "ttp"
    assert set(studies.index[studies.overlap_group == "rotterdam"]) >= {
        "kwekkeboom2008", "brabander2017"}
    derived = series.get("kwekkeboom2008", "partial_responses")
    assert derived.value == 87 and derived.derived_from
    assert series.get("netter_r2022", "pfs_median_months").upper == 34.5
    assert series.get("sabet2013", "haematological_grade34_administrations").denominator_unit == (
        "administrations")


def test_list_sources_covers_everything():
    frame = list_sources()
    assert {"nejm2017", "brabander2017", "sabet2013"} <= set(frame.name)
    assert (frame.n_numbers > 0).all()


@pytest.mark.parametrize(
    ("count", "denominator", "percent", "ok"),
    [(65, 111, 59, True), (3, 203, 1.4, True), (26, 117, 22.2, True), (65, 111, 57, False),
     (65, 111, 58, True), (18, 101, 81, False)],
)
def test_percent_consistency_rule(count, denominator, percent, ok):
    assert percent_consistent(count, denominator, percent) is ok


# ------------------------------------------------------------------ validation rejects bad data
def _copy_netter1(tmp_path: Path) -> tuple[Path, Path]:
    package = Path(load_netter1.__code__.co_filename).parent
    toml = tmp_path / "netter1.toml"
    shutil.copy(package / "netter1.toml", toml)
    tables = tmp_path / "tables"
    shutil.copytree(package / "netter1_tables", tables)
    return toml, tables


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_rejects_count_above_denominator(tmp_path):
    toml, tables = _copy_netter1(tmp_path)
    _edit(toml, "value = 23\ndenominator = 116", "value = 130\ndenominator = 116")
    with pytest.raises(InputError, match=r"netter1.toml: record \d+ \(primary_2015/pfs_events/"
                       r"lu177\): count 130 is above its denominator 116"):
        load_netter1(toml, tables)


def test_rejects_ci_not_containing_estimate(tmp_path):
    toml, tables = _copy_netter1(tmp_path)
    _edit(toml, "value = 0.21\nlower = 0.13", "value = 0.41\nlower = 0.13")
    with pytest.raises(InputError, match="pfs_hazard_ratio.*does not contain its estimate 0.41"):
        load_netter1(toml, tables)


def test_rejects_bounds_without_interval_kind(tmp_path):
    toml, tables = _copy_netter1(tmp_path)
    _edit(toml, 'value = 0.21\nlower = 0.13\nupper = 0.33\ninterval = "95% CI"\n',
          "value = 0.21\nlower = 0.13\nupper = 0.33\n")
    with pytest.raises(InputError, match=r"pfs_hazard_ratio.*lower/upper need interval"):
        load_netter1(toml, tables)


def test_rejects_inconsistent_percentage(tmp_path):
    toml, tables = _copy_netter1(tmp_path)
    _edit(toml, "percent = 22.2", "percent = 25.2")
    with pytest.raises(InputError, match="percentage 25.2% is inconsistent with 26/117"):
        load_netter1(toml, tables)


def test_rejects_missing_source(tmp_path):
    toml, tables = _copy_netter1(tmp_path)
    _edit(toml, 'source = "esmo2021_1102P"\n', "")
    with pytest.raises(InputError, match="field 'source': missing source"):
        load_netter1(toml, tables)


def test_rejects_unknown_source(tmp_path):
    toml, tables = _copy_netter1(tmp_path)
    _edit(toml, 'source = "esmo2021_1102P"', 'source = "nowhere"')
    with pytest.raises(InputError, match="unknown source 'nowhere'"):
        load_netter1(toml, tables)


def test_rejects_two_primary_values(tmp_path):
    toml, tables = _copy_netter1(tmp_path)
    _edit(toml, 'source = "jnm2016_abstract629"\nlocator = "Abstract 629"\nprimary = false\n'
          'note = "Conference', 'source = "jnm2016_abstract629"\nlocator = "Abstract 629"\n'
          'note = "Conference')
    with pytest.raises(InputError, match="2 primary records for one number"):
        load_netter1(toml, tables)


def test_rejects_bad_table_cell_with_file_and_row(tmp_path):
    toml, tables = _copy_netter1(tmp_path)
    _edit(tables / TABLE_FILES["table4_ae_by_type"], "Nausea,65,59", "Nausea,65,61")
    with pytest.raises(InputError, match=r"table4_ae_by_type.csv: row 3: field "
                       r"'lu177_any_percent': percentage 61% is inconsistent with 65/111"):
        load_netter1(toml, tables)


def test_rejects_text_in_number_column(tmp_path):
    toml, tables = _copy_netter1(tmp_path)
    _edit(tables / TABLE_FILES["table3_ae_overview"], "106,95", "many,95")
    with pytest.raises(InputError, match=r"row 2: field 'lu177_n': not a number: 'many'"):
        load_netter1(toml, tables)


def test_rejects_malformed_toml(tmp_path):
    toml, tables = _copy_netter1(tmp_path)
    toml.write_text("[[records]\nquantity = ")
    with pytest.raises(InputError, match="malformed TOML"):
        load_netter1(toml, tables)


def test_series_rejects_count_above_denominator(tmp_path):
    package = Path(load_series.__code__.co_filename).parent
    toml = tmp_path / "series.toml"
    shutil.copy(package / "series.toml", toml)
    _edit(toml, "value = 41\ndenominator = 68", "value = 69\ndenominator = 68")
    with pytest.raises(InputError, match="series.toml: record .*ezziddin2014.*above"):
        load_series(toml)


@pytest.mark.parametrize(("denominator", "shown"), [("0", "0"), ("", "missing")])
def test_rejects_table_count_without_positive_denominator(tmp_path, denominator, shown):
    toml, tables = _copy_netter1(tmp_path)
    _edit(tables / TABLE_FILES["table2_response"], "Complete response,1,1,,,101,0,,,,100,",
          f"Complete response,1,1,,,101,0,0,,,{denominator},")
    with pytest.raises(InputError, match=rf"table2_response.csv: row 2: field "
                       rf"'control_denominator': the denominator of count 0 \(control_n\) is "
                       rf"{shown}: it must be a positive number"):
        load_netter1(toml, tables)


def test_series_get_names_the_missing_time():
    series = load_series()
    assert series.get("bodei2011", "os_survival", 36.0).value is not None
    with pytest.raises(InputError) as err:
        series.get("bodei2011", "os_survival", 24.0)
    message = str(err.value)
    assert "study='bodei2011' quantity='os_survival' time=24.0" in message
    assert "times on file for that quantity: [36.0]" in message
    with pytest.raises(InputError, match=r"quantity='nothing' time=None$"):
        series.get("bodei2011", "nothing")
