"""External survivor counts: the user CSV reader, the series conversion, and a simulation check.

Fast: no MCMC. The simulation checks use numpy only (2000 data sets of 200 patients each).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from prrt_bayes.borrowing.survival import series_log_medians
from prrt_bayes.core.errors import InputError
from prrt_bayes.evidence import load_series
from prrt_bayes.survival.external import (
    COUNT_COLUMNS,
    EXTERNAL_COLUMNS,
    read_external_counts,
    series_survivor_counts,
)

Z = 1.959963984540054
LOG2 = math.log(2)


def _write(tmp_path, text: str, name: str = "counts.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ the CSV reader
def test_contract_columns():
    assert EXTERNAL_COLUMNS == ("start", "stop", "n", "r", "arm")


def test_good_csv_with_arm(tmp_path):
    path = _write(tmp_path, "start,stop,n,r,arm,note\n0,60,100,40.5,lu177,x\n"
                            "\n60,120,40.5,20,,y\n12,24,50.25,50.25,control,z\n")
    frame = read_external_counts(path, treatment="lu177")
    assert list(frame.columns) == ["start", "stop", "n", "r", "arm", "source"]
    assert frame["start"].tolist() == [0.0, 60.0, 12.0]
    assert frame["stop"].tolist() == [60.0, 120.0, 24.0]
    assert frame["n"].tolist() == [100.0, 40.5, 50.25]
    assert frame["r"].tolist() == [40.5, 20.0, 50.25]
    assert frame["arm"].tolist() == ["lu177", "control", "control"]  # blank -> control
    # file line numbers: the blank line 3 is skipped but counted
    assert frame["source"].tolist() == ["counts.csv row 2", "counts.csv row 4",
                                        "counts.csv row 5"]
    for column in ("start", "stop", "n", "r"):
        assert frame[column].dtype == float


def test_good_csv_without_arm_column_is_control(tmp_path):
    path = _write(tmp_path, "stop;r;n;start\n36;30;100;0\n")
    frame = read_external_counts(path, treatment="lu177", control="octreotide")
    assert frame.loc[0, ["start", "stop", "n", "r"]].tolist() == [0.0, 36.0, 100.0, 30.0]
    assert frame.loc[0, "arm"] == "octreotide"


BAD = [
    # (file text, line, field, words in the message)
    ("start,stop,n\n0,12,10\n", 1, "r", "missing column"),
    ("start,stop,n,r,n\n0,12,10,5,10\n", 1, "n", "more than once"),
    ("start,stop,n,r\n0,abc,10,5\n", 2, "stop", "not a number"),
    ("start,stop,n,r\n0,12,10,5\n0,12,,5\n", 3, "n", "missing value"),
    ("start,stop,n,r\n0,12,inf,5\n", 2, "n", "not a finite number"),
    ("start,stop,n,r\n-1,12,10,5\n", 2, "start", "start must be >= 0"),
    ("start,stop,n,r\n12,12,10,5\n", 2, "stop", "must be after start"),
    ("start,stop,n,r\n12,6,10,5\n", 2, "stop", "must be after start"),
    ("start,stop,n,r\n0,12,0,0\n", 2, "n", "must be > 0"),
    ("start,stop,n,r\n0,12,10,-1\n", 2, "r", "must be >= 0"),
    ("start,stop,n,r\n0,12,10,5\n\n0,24,10,10.5\n", 4, "r", "is more than n"),
    ("start,stop,n,r,arm\n0,12,10,5,Lu177\n", 2, "arm", "unknown arm"),
    ("start,stop,n,r,arm\n0,12,10,5\n", 2, "arm", "found 4"),
    ("start,stop,n,r\n0,12,10,5,7\n", 2, None, "found 5"),
    ("start,stop,n,r\n", 1, None, "no data rows"),
    ("\n  \n", 1, None, "empty"),
]


@pytest.mark.parametrize(("text", "line", "field", "words"), BAD)
def test_bad_csv_names_file_row_and_field(tmp_path, text, line, field, words):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_external_counts(path, treatment="lu177")
    err = info.value
    assert err.file == str(path)
    assert err.row == line
    assert err.field == field
    assert words in err.message
    assert "\n" not in str(err)


def test_missing_file(tmp_path):
    path = tmp_path / "absent.csv"
    with pytest.raises(InputError, match="file not found") as info:
        read_external_counts(path, treatment="lu177")
    assert info.value.file == str(path)


def test_same_treatment_and_control_label(tmp_path):
    path = _write(tmp_path, "start,stop,n,r\n0,12,10,5\n")
    with pytest.raises(InputError, match="both 'control'"):
        read_external_counts(path, treatment="control")


# --------------------------------------------------------------------- the series conversion
def _median_counts(std_error: float, total: float) -> float:
    """n = min(1 / ((log 2)^2 s^2), N), written out again here."""
    n_eff = 1.0 / (LOG2**2 * std_error**2)
    return n_eff if pd.isna(total) else min(n_eff, total)


@pytest.mark.parametrize("endpoint", ["os", "pfs"])
def test_series_counts_reproduce_from_medians(endpoint):
    counts, excluded = series_survivor_counts(endpoint)
    included, log_excluded = series_log_medians(endpoint)
    series = load_series()
    assert list(counts.columns) == list(COUNT_COLUMNS)
    assert list(excluded.columns) == ["study", "reason"]
    # the bundled series has no usable landmark: the counts are exactly the kept medians
    assert counts["study"].tolist() == included["study"].tolist()
    for row, med in zip(counts.itertuples(), included.itertuples(), strict=True):
        quantity = f"{endpoint}_median_months"
        record = series.get(row.study, quantity)
        assert row.start == 0.0
        assert row.stop == record.value == med.median
        if med.se_method == "ci":
            s = (math.log(record.upper) - math.log(record.lower)) / (2 * Z)
            assert s == pytest.approx(med.std_error, rel=1e-9)
            assert f"95% CI {record.lower:g}-{record.upper:g}" in row.basis
        else:  # approximated: KM median SE from N/2 events (no follow-up reported for these)
            assert med.se_method == "events_half_n"
            s = 1 / (LOG2 * math.sqrt(med.n / 2))
            assert s == pytest.approx(med.std_error, rel=1e-9)
        assert row.n == pytest.approx(_median_counts(s, med.n), rel=1e-9)
        assert row.r == pytest.approx(row.n / 2, rel=1e-12)
        assert 0 < row.r < row.n <= med.n
        assert ("capped" in row.basis) == (1 / (LOG2**2 * s**2) > med.n)
    # every other cohort is excluded, with a reason, and nothing is both used and excluded
    assert set(counts.study).isdisjoint(excluded.study)
    assert set(counts.study) | set(excluded.study) == set(series.studies)
    assert excluded["study"].is_unique
    assert (excluded["reason"].str.len() > 0).all()
    # the reasons of series_log_medians are kept (landmark notes may be appended)
    reasons = dict(zip(excluded.study, excluded.reason, strict=True))
    for study, reason in log_excluded.itertuples(index=False):
        assert reasons[study].startswith(reason)


def test_bundled_landmarks_are_left_out_with_reasons():
    _, excluded = series_survivor_counts("os")
    reasons = dict(zip(excluded.study, excluded.reason, strict=True))
    # 68% at 36 months without a CI; median follow-up 30 months
    assert "os_survival 68% at 36 months not used: no 95% CI" in reasons["bodei2011"]
    assert "median follow-up 30 months" in reasons["bodei2011"]
    # 68% (56-78) at 5 years, but 68% of the cohort had radiosensitising chemotherapy
    assert ("not used: combined with chemotherapy: not 177Lu-DOTATATE alone"
            in reasons["alipour2023"])


def test_series_counts_unknown_endpoint():
    with pytest.raises(InputError, match="endpoint"):
        series_survivor_counts("ttp")


SERIES_TOML = """
[[studies]]
id = "a"
citation = "A"
population = "gep"
population_detail = "x"
overlap_group = "g1"
mixed_radionuclides = false
chemotherapy = false
retreatment = false

[[studies]]
id = "b"
citation = "B"
population = "gep"
population_detail = "x"
overlap_group = "g2"
mixed_radionuclides = false
chemotherapy = false
retreatment = false

[[studies]]
id = "c"
citation = "C"
population = "gep"
population_detail = "x"
overlap_group = "g3"
mixed_radionuclides = false
chemotherapy = false
retreatment = false

[[studies]]
id = "d"
citation = "D"
population = "gep"
population_detail = "x"
overlap_group = "g1"
mixed_radionuclides = false
chemotherapy = false
retreatment = false

[[records]]
study = "a"
quantity = "n_efficacy"
value = 100
unit = "patients"
locator = "t"

[[records]]
study = "a"
quantity = "os_median_months"
value = 40
lower = 30
upper = 50
interval = "95% CI"
unit = "months"
locator = "t"

[[records]]
study = "a"
quantity = "os_survival"
time = 24
value = 60
lower = 50
upper = 70
interval = "95% CI"
unit = "percent"
locator = "t"

[[records]]
study = "b"
quantity = "n_efficacy"
value = 200
unit = "patients"
locator = "t"

[[records]]
study = "b"
quantity = "os_survival"
time = 60
value = 50
lower = 40
upper = 60
interval = "95% CI"
unit = "percent"
locator = "t"

[[records]]
study = "b"
quantity = "os_survival"
time = 36
value = 70
lower = 60
upper = 80
interval = "95% CI"
unit = "percent"
locator = "t"

[[records]]
study = "c"
quantity = "n_efficacy"
value = 50
unit = "patients"
locator = "t"

[[records]]
study = "c"
quantity = "os_survival"
time = 48
value = 40
unit = "percent"
locator = "t"

[[records]]
study = "c"
quantity = "median_follow_up_months"
value = 50
unit = "months"
locator = "t"

[[records]]
study = "d"
quantity = "n_efficacy"
value = 300
unit = "patients"
locator = "t"

[[records]]
study = "d"
quantity = "os_survival"
time = 60
value = 45
lower = 35
upper = 55
interval = "95% CI"
unit = "percent"
locator = "t"
"""


def test_landmark_rules_on_a_small_series(tmp_path):
    series = load_series(_write(tmp_path, SERIES_TOML, "series.toml"))
    counts, excluded = series_survivor_counts("os", series)
    assert counts["study"].tolist() == ["a", "b"]
    a, b = counts.itertuples()
    # a: its median (the landmark of the same cohort is counted once, by the median)
    s = (math.log(50) - math.log(30)) / (2 * Z)
    assert (a.start, a.stop) == (0.0, 40.0)
    assert a.n == pytest.approx(min(1 / (LOG2**2 * s**2), 100))
    assert a.r == pytest.approx(a.n / 2)
    # b: no median; its later landmark, 50% (40-60) at 60 months, n = p (1 - p) / se^2
    se = (0.60 - 0.40) / (2 * Z)
    assert (b.start, b.stop) == (0.0, 60.0)
    assert b.n == pytest.approx(0.25 / se**2)
    assert b.n < 200
    assert b.r == pytest.approx(0.5 * b.n)
    reasons = excluded.groupby("study")["reason"].apply(" | ".join).to_dict()
    assert set(reasons) == {"a", "b", "c", "d"}
    assert "median is used" in reasons["a"] and "24 months" in reasons["a"]
    assert "later landmark is used" in reasons["b"] and "36 months" in reasons["b"]
    assert "no 95% CI" in reasons["c"] and "median follow-up 50 months" in reasons["c"]
    assert "already represented" in reasons["d"]


def test_landmark_count_is_capped_at_the_cohort(tmp_path):
    text = SERIES_TOML.replace("value = 200", "value = 80")
    series = load_series(_write(tmp_path, text, "series.toml"))
    counts, _ = series_survivor_counts("os", series)
    b = counts.set_index("study").loc["b"]
    assert b["n"] == 80.0
    assert b["r"] == 40.0
    assert "capped at N = 80" in b["basis"]


# ----------------------------------------------------------- simulation check of the conversion
R, N, MEDIAN = 2000, 200, 30.0
TOLERANCE = 0.15
"""Each side is a variance estimated from R = 2000 data sets: relative Monte Carlo SE about
sqrt(2 / R) = 3.2%, so a ratio of two (partly correlated) estimates has an SE of at most ~4.5%;
the asymptotic (delta-method) approximations add O(1 / N) with N = 200. 15% is > 3 Monte Carlo
SEs: it fails for a wrong factor (e.g. log 2 vs (log 2)^2: 31%; 2.08, below) but not by chance."""


def _exponential_data(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.exponential(MEDIAN / LOG2, size=(R, N))


def _n_eff(std_error):
    return 1.0 / (LOG2**2 * np.asarray(std_error) ** 2)


def test_conversion_of_a_sample_median_gives_back_the_patients():
    """Uncensored exponential data: the SE of the log sample median (taken from its spread over
    data sets) converts to n_eff ~ N, and 0.25 / n_eff matches the variance of the proportion
    alive at the true median (what the binomial row claims)."""
    x = _exponential_data(1)
    s = np.std(np.log(np.median(x, axis=1)), ddof=1)
    binomial_variance = 0.25 / _n_eff(s)
    empirical = np.var((x > MEDIAN).mean(axis=1), ddof=1)
    assert abs(binomial_variance / empirical - 1) < TOLERANCE
    assert abs(_n_eff(s) / N - 1) < TOLERANCE


def test_events_se_of_a_km_median_matches_its_spread_and_gives_back_the_events():
    """Known truth: the SE the package derives from d events, 1 / (log 2 sqrt(d)), is the spread
    of the log Kaplan-Meier (sample) median of d exponential event times (not the exponential
    MLE's 1 / sqrt(d), 1.44 times smaller), and it converts back to n_eff = d survivors' worth."""
    from prrt_bayes.borrowing.inputs import log_median_estimate

    x = _exponential_data(3)
    se = log_median_estimate(MEDIAN, events=N).std_error
    empirical = np.std(np.log(np.median(x, axis=1)), ddof=1)
    assert abs(se / empirical - 1) < TOLERANCE / 2  # an SD: half the variance tolerance
    assert _n_eff(se) == pytest.approx(N, rel=1e-12)
