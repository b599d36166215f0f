"""General-population mortality: the bundled SSA life table, its reader and the cohort hazard."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from prrt_bayes.core.errors import InputError
from prrt_bayes.survival.background import (
    BackgroundMortality,
    Cohort,
    cohort_background,
    load_life_table,
    netter1_cohort,
)


def write_table(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rate_table(tmp_path: Path, rows: dict[str, dict[int, float]], column: str = "qx",
               name: str = "table.csv") -> Path:
    """A CSV from ``{sex: {age: value}}`` (values written with repr, so read back exactly)."""
    lines = [f"age,sex,{column}"]
    for sex, values in rows.items():
        lines.extend(f"{age},{sex},{value!r}" for age, value in values.items())
    return write_table(tmp_path, "\n".join(lines) + "\n", name)


def mu(q: float) -> float:
    return -math.log1p(-q)


@pytest.fixture(scope="module")
def ssa():
    return load_life_table()


# ------------------------------------------------------------------------------ bundled table
def test_bundled_table_is_the_ssa_2017_table(ssa):
    table = ssa.table
    assert len(table) == 240
    assert list(table["sex"].unique()) == ["male", "female"]
    for sex in ("male", "female"):
        assert table.loc[table["sex"] == sex, "age"].tolist() == list(range(120))
    assert ssa.source.startswith("SSA OCACT, TR2020, year 2017")
    assert ssa.path.name == "ssa_tr2020_2017.csv" and ssa.path.is_file()
    assert table.dtypes.to_dict() == {"age": np.dtype("int64"), "sex": np.dtype("O"),
                                      "qx": np.dtype("float64")}
    qx = table.set_index(["sex", "age"])["qx"]
    # Verbatim from econ-ark/HARK@13648b4 HARK/Calibration/life_tables/us_ssa/, year 2017:
    # PerLifeTables_M_Hist_TR2020.csv line 14046 "2017,0,0.006304,100000,630,..."
    assert qx["male", 0] == 0.006304
    # ..._M_... line 14109 "2017,63,0.014164,82177,1164,..."
    assert qx["male", 63] == 0.014164
    # ..._M_... line 14146 "2017,100,0.354198,958,339,..."
    assert qx["male", 100] == 0.354198
    # ..._F_... line 14046 "2017,0,0.005229,100000,523,..."
    assert qx["female", 0] == 0.005229
    # ..._F_... line 14109 "2017,63,0.008508,89134,758,..."
    assert qx["female", 63] == 0.008508
    # ..._F_... line 14146 "2017,100,0.307747,2735,842,..."
    assert qx["female", 100] == 0.307747
    # ..._M_... and ..._F_... line 14165 "2017,119,0.895041,0,0,..."
    assert qx["male", 119] == qx["female", 119] == 0.895041


def test_bundled_file_names_its_source():
    text = load_life_table().path.read_text()
    for phrase in ("SSA OCACT, TR2020, year 2017", "Office of the Chief Actuary",
                   "2020 Trustees Report", "calendar year 2017", "econ-ark/HARK", "13648b4",
                   "US government work, public domain",
                   "https://www.ssa.gov/oact/HistEst/PerLifeTables/2020/PerLifeTables2020.html"):
        assert phrase in text, phrase
    assert "\nage,sex,qx\n" in text


def test_single_age_survival_is_bracketed_by_the_ssa_lx_column(ssa):
    # Entry at exact age 63.5: 30-year survival lies between l(94)/l(63) and l(93)/l(64).
    # l(x) from the same HARK files, year 2017 (lines 14109, 14110, 14139, 14140):
    # male 82177, 81013, 9837, 7656; female 89134, 88375, 18294, 14982.
    lx = {"male": (82177, 81013, 9837, 7656), "female": (89134, 88375, 18294, 14982)}
    for sex, (l63, l64, l93, l94) in lx.items():
        cohort = Cohort(63, 0, 1.0 if sex == "male" else 0.0, "test")
        survival = cohort_background(ssa, cohort).survival(360.0)
        assert l94 / l63 < survival < l93 / l64, sex


def test_ssa_hazard_increases_with_age_after_30(ssa):
    for male_fraction in (1.0, 0.0):
        hazards = [cohort_background(ssa, Cohort(age, 0, male_fraction, "t")).hazard(0.0)
                   for age in range(31, 120)]
        assert np.all(np.asarray(hazards) > 0)
        assert np.all(np.diff(hazards) > 0)


# ---------------------------------------------------------------------------- exactness
def test_constant_q_gives_exponential_survival(tmp_path):
    q = 0.02
    table = load_life_table(rate_table(tmp_path, {s: dict.fromkeys(range(120), q)
                                                  for s in ("male", "female")}))
    rate = -math.log(1 - q) / 12
    t = np.array([0.0, 0.5, 6.0, 17.3, 120.0, 600.0, 2400.0])  # 2400: past age 119 for all
    for cohort in (Cohort(63, 9, 0.5, "t"), Cohort(119, 0, 1.0, "t"), Cohort(1, 3, 0.2, "t")):
        background = cohort_background(table, cohort)
        np.testing.assert_allclose(background.survival(t), np.exp(-rate * t), rtol=1e-13)
        np.testing.assert_allclose(background.cumulative_hazard(t), rate * t, rtol=1e-13,
                                   atol=1e-300)
        np.testing.assert_allclose(background.hazard(t), rate, rtol=1e-13)


def test_single_age_cohort_matches_hand_computation_across_birthdays(tmp_path):
    q = {age: 0.01 * (age - 59) for age in range(60, 71)}
    table = load_life_table(rate_table(tmp_path, {"male": q}))
    background = cohort_background(table, Cohort(63, 0, 1.0, "t"))  # exact age 63.5 at entry
    m = {age: mu(value) for age, value in q.items()}
    expected_h = {
        3.0: 0.25 * m[63],
        6.0: 0.5 * m[63],  # the 64th birthday
        12.0: 0.5 * m[63] + 0.5 * m[64],
        30.0: 0.5 * m[63] + m[64] + m[65],
        # exact age 73: past the table's last age 70, whose hazard continues
        114.0: 0.5 * m[63] + sum(m[a] for a in range(64, 71)) + 2 * m[70],
    }
    t = np.array(list(expected_h))
    np.testing.assert_allclose(background.cumulative_hazard(t), list(expected_h.values()),
                               rtol=1e-14)
    np.testing.assert_allclose(background.survival(t), np.exp(-np.array(
        list(expected_h.values()))), rtol=1e-14)
    hazard = background.hazard(np.array([0.0, 5.9, 6.0, 6.1, 17.9, 18.0, 200.0]))
    np.testing.assert_allclose(
        hazard, np.array([m[63], m[63], m[64], m[64], m[64], m[65], m[70]]) / 12, rtol=1e-14)


def test_two_sexes_mix_as_ederer_expected_survival(tmp_path):
    qm, qf, share = 0.03, 0.01, 63 / 116
    table = load_life_table(rate_table(tmp_path, {"male": dict.fromkeys(range(120), qm),
                                                  "female": dict.fromkeys(range(120), qf)}))
    background = cohort_background(table, Cohort(63, 9, share, "t"))
    t = np.linspace(0, 600, 41)
    sm, sf = np.exp(-mu(qm) * t / 12), np.exp(-mu(qf) * t / 12)
    expected = share * sm + (1 - share) * sf
    np.testing.assert_allclose(background.survival(t), expected, rtol=1e-13)
    np.testing.assert_allclose(
        background.hazard(t), (share * sm * mu(qm) + (1 - share) * sf * mu(qf)) / expected / 12,
        rtol=1e-13)


def test_age_weights_are_the_truncated_normal_over_completed_years(tmp_path):
    table = load_life_table(rate_table(tmp_path, {"female": dict.fromkeys(range(60, 71), 0.1)}))
    groups = cohort_background(table, Cohort(65, 3, 0.0, "t")).groups
    ages = np.arange(60, 71)
    mass = norm.cdf(ages + 0.5, 65, 3) - norm.cdf(ages - 0.5, 65, 3)
    assert groups["age"].tolist() == ages.tolist()
    np.testing.assert_allclose(groups["entry_age"], ages + 0.5)
    np.testing.assert_allclose(groups["weight"], mass / mass.sum(), rtol=1e-12)
    assert set(groups["sex"]) == {"female"}


def test_hazard_is_the_derivative_of_the_cumulative_hazard(ssa):
    background = cohort_background(ssa, netter1_cohort("lu177"))
    t = np.array([0.7, 3.0, 10.0, 40.0, 100.0, 250.0, 500.0])  # not at birthdays (6 + 12k)
    step = 1e-3
    slope = (background.cumulative_hazard(t + step) - background.cumulative_hazard(t - step)) / (
        2 * step)
    np.testing.assert_allclose(background.hazard(t), slope, rtol=1e-6)


def test_mx_table_equals_the_equivalent_qx_table(tmp_path):
    mx = {age: 0.001 * 1.09 ** age for age in range(0, 111)}
    qx = {age: float(-np.expm1(-rate)) for age, rate in mx.items()}
    from_mx = load_life_table(rate_table(tmp_path, {"male": mx, "female": mx}, "mx", "m.csv"))
    from_qx = load_life_table(rate_table(tmp_path, {"male": qx, "female": qx}, "qx", "q.csv"))
    pd.testing.assert_frame_equal(from_mx.table, from_qx.table, check_exact=True)
    t = np.linspace(0, 480, 97)
    cohort = Cohort(70, 8, 0.4, "t")
    np.testing.assert_array_equal(cohort_background(from_mx, cohort).survival(t),
                                  cohort_background(from_qx, cohort).survival(t))


def test_q_of_one_keeps_everything_finite(tmp_path):
    table = load_life_table(rate_table(tmp_path, {"male": {60: 0.1, 61: 0.5, 62: 1.0}}))
    background = cohort_background(table, Cohort(60, 0, 1.0, "t"))
    t = np.array([0.0, 12.0, 30.0, 60.0, 1200.0])
    for values in (background.hazard(t), background.cumulative_hazard(t),
                   background.survival(t)):
        assert np.all(np.isfinite(values))
    assert background.hazard(60.0) == pytest.approx(53 * math.log(2) / 12, rel=1e-12)
    # entry at 60.5; 24 months: half a year at 60, a year at 61, half a year at 62 (q = 1);
    # 30 months: exact age 63, the whole year at 62 survived with probability 2 ** -53
    assert background.survival(24.0) == pytest.approx(0.9 ** 0.5 * 0.5 * 2.0 ** -26.5, rel=1e-9)
    assert background.survival(30.0) == pytest.approx(0.9 ** 0.5 * 0.5 * 2.0 ** -53, rel=1e-9)
    assert background.survival(1200.0) == 0.0
    assert background.cumulative_hazard(1200.0) > 3000


def test_survival_decreases_and_shapes_are_kept(ssa):
    background = cohort_background(ssa, netter1_cohort("control"))
    t = np.linspace(0, 480, 4001)
    survival = background.survival(t)
    assert survival[0] == 1.0
    assert math.copysign(1.0, background.cumulative_hazard(0.0)) == 1.0  # +0.0, not -0.0
    assert np.all(np.diff(survival) < 0)
    grid = t[:12].reshape(3, 4)
    for method in (background.hazard, background.cumulative_hazard, background.survival):
        assert method(grid).shape == (3, 4)
        assert method(5.0).shape == ()
        np.testing.assert_array_equal(method(grid).ravel(), method(t[:12]))


@settings(max_examples=40, deadline=None)
@given(
    age_mean=st.floats(0, 119),
    age_sd=st.floats(0, 20),
    male_fraction=st.floats(0, 1),
    times=st.lists(st.floats(0, 1500), min_size=2, max_size=30),
)
def test_cumulative_hazard_never_decreases(age_mean, age_sd, male_fraction, times):
    background = cohort_background(load_life_table(),
                                   Cohort(age_mean, age_sd, male_fraction, "hypothesis"))
    t = np.sort(np.asarray(times))
    cumulative = background.cumulative_hazard(t)
    assert np.all(np.diff(cumulative) >= 0)
    assert np.all(background.hazard(t) > 0)
    np.testing.assert_allclose(background.survival(t), np.exp(-cumulative), rtol=1e-12)
    assert math.isclose(background.groups["weight"].sum(), 1.0, rel_tol=1e-12)


def test_times_must_be_finite_and_not_negative(ssa):
    background = cohort_background(ssa, netter1_cohort("lu177"))
    for bad in (-1.0, np.nan, np.array([1.0, np.inf])):
        with pytest.raises(InputError) as caught:
            background.hazard(bad)
        assert caught.value.field == "t_months"


# ----------------------------------------------------------------------------------- NETTER-1
def test_netter1_cohorts_come_from_table_1(ssa):
    lu177, control = netter1_cohort("lu177"), netter1_cohort("control")
    assert (lu177.age_mean, lu177.age_sd, lu177.male_fraction) == (63, 9, 63 / 116)
    assert (control.age_mean, control.age_sd, control.male_fraction) == (64, 10, 53 / 113)
    assert "Table 1" in lu177.source and "N Engl J Med 2017" in lu177.source
    background = cohort_background(ssa, lu177)
    assert isinstance(background, BackgroundMortality)
    assert "SSA OCACT, TR2020, year 2017" in background.description
    assert "63 ± 9" in background.description and "54.3% male" in background.description
    assert "\n" not in background.description
    with pytest.raises(InputError) as caught:
        netter1_cohort("placebo")
    assert caught.value.field == "arm"


def test_netter1_thirty_year_population_survival(ssa):
    # Computed: 0.2138 (177Lu-Dotatate arm), 0.2077 (control). A cohort aged exactly 63.5 at
    # entry with the same sex mix survives 30 years with 63/116 x 0.1064 + 53/116 x 0.1865
    # = 0.143 (each bracketed by the SSA l(x) column, test above); the age spread (SD 9-10)
    # raises it because the younger patients' 30-year survival (e.g. about 0.6 at age 50) gains
    # more than the older ones' loses. About one in five is plausible for people aged 63.
    survival = {arm: float(cohort_background(ssa, netter1_cohort(arm)).survival(360.0))
                for arm in ("lu177", "control")}
    assert 0.20 < survival["lu177"] < 0.23
    assert 0.19 < survival["control"] < 0.22
    same_age = cohort_background(ssa, Cohort(63, 0, 63 / 116, "t")).survival(360.0)
    male = cohort_background(ssa, Cohort(63, 0, 1.0, "t")).survival(360.0)
    female = cohort_background(ssa, Cohort(63, 0, 0.0, "t")).survival(360.0)
    assert same_age == pytest.approx(63 / 116 * male + 53 / 116 * female, rel=1e-13)
    assert same_age < survival["lu177"] < 0.5


# ------------------------------------------------------------------------------ bad input
BAD_TABLES = [
    ("age,sex\n0,male\n", 1, "qx", "missing column qx"),
    ("# a comment, with a comma\nage,qx\n0,0.1\n", 2, "sex", "missing column sex"),
    ("age,sex,qx,mx\n0,male,0.1,0.1\n", 1, "mx", "both qx and mx"),
    ("age,sex,qx\n0,male,abc\n", 2, "qx", "not a number"),
    ("age,sex,qx\n0,male,inf\n", 2, "qx", "not a finite number"),
    ("age,sex,qx\nten,male,0.1\n", 2, "age", "not a number"),
    ("age,sex,qx\n0,male,0.1\n1.5,male,0.1\n", 3, "age", "whole number"),
    ("age,sex,qx\n-1,male,0.1\n", 2, "age", "whole number"),
    ("age,sex,qx\n0,male,1.2\n", 2, "qx", r"in \[0, 1\]"),
    ("age,sex,qx\n0,male,-0.1\n", 2, "qx", r"in \[0, 1\]"),
    ("age,sex,mx\n0,male,-0.1\n", 2, "mx", ">= 0"),
    ("age,sex,qx\n0,M,0.1\n", 2, "sex", "unknown sex label 'M'"),
    ("age,sex,qx\n0,male,0.1\n\n0,male,0.2\n", 4, "age", "duplicate age 0 for male"),
    ("age,sex,qx\n0,male,0.1\n1,male,\n", 3, "qx", "missing value"),
    ("age,sex,qx\n0,male,0.1\n1,male\n", 3, "qx", "missing value"),
    ("age,sex,qx\n0,female,0.1\n1,female,0.1\n3,female,0.1\n4,female,0.1\n", 4, "age",
     "female: age 2 is missing"),
]


@pytest.mark.parametrize(("text", "row", "field", "message"), BAD_TABLES)
def test_bad_tables_name_file_row_and_field(tmp_path, text, row, field, message):
    path = write_table(tmp_path, text)
    with pytest.raises(InputError, match=message) as caught:
        load_life_table(path)
    assert (caught.value.file, caught.value.row, caught.value.field) == (str(path), row, field)
    assert "\n" not in str(caught.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="file not found") as caught:
        load_life_table(tmp_path / "absent.csv")
    assert caught.value.file == str(tmp_path / "absent.csv")
    path = write_table(tmp_path, "# only a comment\n\n")
    with pytest.raises(InputError, match="file is empty") as caught:
        load_life_table(path)
    assert (caught.value.file, caught.value.row) == (str(path), 1)
    path = write_table(tmp_path, "# source: nothing\nage,sex,qx\n")
    with pytest.raises(InputError, match="no rows") as caught:
        load_life_table(path)
    assert (caught.value.file, caught.value.row) == (str(path), 2)


def test_user_table_source_and_format(tmp_path):
    path = write_table(tmp_path, "# my note\n# Source: national statistics 2019\n"
                                 "Age;Sex;QX;extra\n1;Female;0.2;x\n0;female;0.1;y\n")
    table = load_life_table(path)
    assert table.source == "national statistics 2019"
    assert table.table.to_dict("list") == {"age": [0, 1], "sex": ["female"] * 2,
                                           "qx": [0.1, 0.2]}
    plain = load_life_table(write_table(tmp_path, "age,sex,qx\n0,male,0.1\n", "plain.csv"))
    assert plain.source == "life table plain.csv"


BAD_COHORTS = [
    (Cohort(59.5, 3, 0.5, "t"), "age_mean", "outside the life table's"),
    (Cohort(71, 3, 0.5, "t"), "age_mean", "outside the life table's"),
    (Cohort(float("nan"), 3, 0.5, "t"), "age_mean", "outside the life table's"),
    (Cohort(65, -1, 0.5, "t"), "age_sd", ">= 0"),
    (Cohort(65, 3, 1.5, "t"), "male_fraction", r"in \[0, 1\]"),
    (Cohort(65, 3, -0.1, "t"), "male_fraction", r"in \[0, 1\]"),
]


@pytest.mark.parametrize(("cohort", "field", "message"), BAD_COHORTS)
def test_bad_cohorts_name_the_table_and_field(tmp_path, cohort, field, message):
    path = rate_table(tmp_path, {s: dict.fromkeys(range(60, 71), 0.1) for s in ("male", "female")})
    with pytest.raises(InputError, match=message) as caught:
        cohort_background(load_life_table(path), cohort)
    assert (caught.value.file, caught.value.field) == (str(path), field)


def test_one_sex_table_only_for_a_one_sex_cohort(tmp_path):
    path = rate_table(tmp_path, {"male": dict.fromkeys(range(60, 71), 0.1)})
    table = load_life_table(path)
    assert cohort_background(table, Cohort(65, 3, 1.0, "t")).survival(12.0) == pytest.approx(0.9)
    with pytest.raises(InputError, match="needs female rates") as caught:
        cohort_background(table, Cohort(65, 3, 0.99, "t"))
    assert (caught.value.file, caught.value.field) == (str(path), "male_fraction")
