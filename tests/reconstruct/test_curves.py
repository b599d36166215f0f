"""Reading and cleaning digitised curves and at-risk tables (prrt_bayes.reconstruct.curves)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import write_file

from prrt_bayes.core.errors import InputError
from prrt_bayes.reconstruct.curves import (
    AtRiskTable,
    at_risk_from_arrays,
    clean_curve,
    match_at_risk_to_curve,
    read_at_risk,
    read_curve,
    validate_at_risk,
)


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------------------- curves


def test_percent_is_detected_and_scaled(tmp_path):
    path = write_file(tmp_path, "c.csv", "time,surv\n0,100\n1,90\n2,80\n")
    curve = read_curve(path)
    assert curve.scale == "percent"
    np.testing.assert_allclose(curve.survival, [1.0, 0.9, 0.8])
    assert any("auto-detected" in note for note in curve.notes)


def test_probability_without_header_is_detected(tmp_path):
    path = write_file(tmp_path, "c.csv", "0.5,0.95\n1,0.9\n2,0.8\n")
    curve = read_curve(path)
    assert curve.scale == "probability"
    np.testing.assert_allclose(curve.time, [0, 0.5, 1, 2])
    np.testing.assert_allclose(curve.survival, [1, 0.95, 0.9, 0.8])


def test_semicolon_delimiter(tmp_path):
    path = write_file(tmp_path, "c.csv", "t;s\n1;0.9\n2;0.8\n")
    np.testing.assert_allclose(read_curve(path).survival, [1, 0.9, 0.8])


def test_forced_probability_on_percent_values_names_file_and_row(tmp_path):
    path = write_file(tmp_path, "pct.csv", "time,surv\n0,100\n1,90\n2,80\n")
    with pytest.raises(InputError) as err:
        read_curve(path, percent=False)
    message = one_line(err)
    assert "pct.csv" in message and "row 2" in message and "percent" in message


def test_forced_percent_on_probabilities_names_file_and_row(tmp_path):
    path = write_file(tmp_path, "prob.csv", "time,surv\n0.5,0.99\n1,0.9\n2,0.8\n")
    with pytest.raises(InputError) as err:
        read_curve(path, percent=True)
    message = one_line(err)
    assert "prob.csv" in message and "row 2" in message and "probabilities" in message


def test_text_in_number_column_names_file_and_row(tmp_path):
    path = write_file(tmp_path, "text.csv", "time,surv\n0,1\n1,0.9\n2,abc\n")
    with pytest.raises(InputError) as err:
        read_curve(path)
    message = one_line(err)
    assert "text.csv" in message and "row 4" in message and "'abc' is not a number" in message


def test_empty_file_is_rejected(tmp_path):
    path = write_file(tmp_path, "empty.csv", "")
    with pytest.raises(InputError) as err:
        read_curve(path)
    message = one_line(err)
    assert "empty.csv" in message and "row 1" in message and "empty" in message


def test_header_only_file_is_rejected(tmp_path):
    path = write_file(tmp_path, "head.csv", "time,survival\n")
    with pytest.raises(InputError, match=r"head\.csv: row 2: .*no data rows"):
        read_curve(path)


def test_single_point_is_rejected(tmp_path):
    path = write_file(tmp_path, "one.csv", "time,survival\n1,0.9\n")
    with pytest.raises(InputError, match=r"one\.csv: row 2: .*at least 2"):
        read_curve(path)


def test_value_far_outside_scale_is_rejected(tmp_path):
    path = write_file(tmp_path, "far.csv", "0,100\n1,90\n2,-20\n")
    with pytest.raises(InputError, match=r"far\.csv: row 3"):
        read_curve(path)


def test_cleaning_steps_and_notes():
    # before 0, unsorted, an upward blip, a repeated time, a value above 1, no (0, 1)
    time = [-0.4, 2.0, 1.0, 3.0, 3.0, 4.0, 5.0]
    surv = [1.01, 0.80, 0.90, 0.82, 0.70, 0.71, 0.60]
    curve = clean_curve(time, surv)
    np.testing.assert_allclose(curve.time, [0, 1, 2, 3, 4, 5])
    np.testing.assert_allclose(curve.survival, [1, 0.9, 0.8, 0.7, 0.7, 0.6])
    notes = " | ".join(curve.notes)
    assert "dropped 1 point(s) before time 0" in notes
    assert "sorted" in notes
    assert "running minimum" in notes and "lowered 2 point(s)" in notes
    assert "merged 1 point(s)" in notes
    assert "added the point (0, 1)" in notes


def test_point_at_time_zero_below_one_is_reset():
    curve = clean_curve([0.0, 1.0, 2.0], [0.98, 0.9, 0.8])
    np.testing.assert_allclose(curve.survival, [1, 0.9, 0.8])
    assert any("time 0" in note for note in curve.notes)


def test_clean_output_is_valid_km_curve():
    rng = np.random.default_rng(1)
    time = np.sort(rng.uniform(-1, 30, 200))
    surv = np.clip(np.exp(-time / 20) + rng.normal(0, 0.01, time.size), -0.02, 1.02)
    curve = clean_curve(time, surv)
    assert curve.time[0] == 0 and curve.survival[0] == 1
    assert (np.diff(curve.time) > 0).all()
    assert (np.diff(curve.survival) <= 0).all()
    assert ((curve.survival >= 0) & (curve.survival <= 1)).all()


# ----------------------------------------------------------------------------- at-risk tables


def test_at_risk_column_by_name(tmp_path):
    path = write_file(tmp_path, "risk.csv", "months,armA,armB\n0,100,90\n10,80,60\n20,40,30\n")
    first = read_at_risk(path)
    second = read_at_risk(path, column="armB")
    np.testing.assert_array_equal(first.n_risk, [100, 80, 40])
    np.testing.assert_array_equal(second.n_risk, [90, 60, 30])
    assert second.column == "armB"


def test_unknown_at_risk_column(tmp_path):
    path = write_file(tmp_path, "risk.csv", "months,armA\n0,100\n10,80\n")
    with pytest.raises(InputError, match=r"risk\.csv: row 1: no count column named 'armC'"):
        read_at_risk(path, column="armC")


def test_increasing_at_risk_names_file_and_row(tmp_path):
    path = write_file(tmp_path, "up.csv", "time,n\n0,100\n10,80\n20,85\n")
    with pytest.raises(InputError) as err:
        read_at_risk(path)
    message = one_line(err)
    assert "up.csv" in message and "row 4" in message and "increases" in message


def test_text_in_at_risk_count(tmp_path):
    path = write_file(tmp_path, "txt.csv", "time,n\n0,100\n10,eighty\n")
    with pytest.raises(InputError, match=r"txt\.csv: row 3: field 'n': 'eighty' is not a number"):
        read_at_risk(path)


def test_empty_at_risk_file(tmp_path):
    path = write_file(tmp_path, "none.csv", "\n\n")
    with pytest.raises(InputError, match=r"none\.csv: row 1: file is empty"):
        read_at_risk(path)


def test_fractional_and_negative_counts_are_rejected(tmp_path):
    with pytest.raises(InputError, match=r"frac\.csv: row 2"):
        read_at_risk(write_file(tmp_path, "frac.csv", "0,100\n10,80.5\n"))
    with pytest.raises(InputError, match=r"neg\.csv: row 1"):
        read_at_risk(write_file(tmp_path, "neg.csv", "0,-1\n10,0\n"))


def test_at_risk_must_start_at_zero(tmp_path):
    with pytest.raises(InputError, match=r"late\.csv: row 1: .*start at time 0"):
        read_at_risk(write_file(tmp_path, "late.csv", "5,100\n10,80\n"))


def test_empty_count_cells_are_skipped_with_a_note(tmp_path):
    path = write_file(tmp_path, "risk.csv", "t,a,b\n0,100,90\n10,80,60\n20,40,\n")
    table = read_at_risk(path, column="b")
    np.testing.assert_array_equal(table.n_risk, [90, 60])
    assert any("skipped 1 row" in note for note in table.notes)


def test_flat_tail_beyond_curve_is_extended():
    curve = clean_curve([1, 2, 3, 15.2], [0.9, 0.8, 0.7, 0.6])
    table = at_risk_from_arrays([0, 6, 12, 18, 21], [50, 40, 30, 10, 0])
    extended, _ = match_at_risk_to_curve(curve, table)
    assert extended.time[-1] == 21 and extended.survival[-1] == 0.6
    assert any("extended the curve flat" in note for note in extended.notes)


def test_table_far_beyond_curve_is_rejected():
    curve = clean_curve([1, 2, 3, 5], [0.9, 0.8, 0.7, 0.6])  # e.g. years
    table = at_risk_from_arrays([0, 12, 24, 36], [50, 40, 30, 10])  # e.g. months
    with pytest.raises(InputError, match=r"row 3: at-risk time 24 .*beyond the curve"):
        match_at_risk_to_curve(curve, table)


def test_at_risk_after_survival_zero_is_rejected():
    curve = clean_curve([1, 2, 3], [0.5, 0.2, 0.0])
    table = at_risk_from_arrays([0, 2.5, 4], [10, 2, 1])
    with pytest.raises(InputError, match=r"row 3: .*reaches survival 0"):
        match_at_risk_to_curve(curve, table)


# ----------------------------------------------------------------------- non-finite input


@pytest.mark.parametrize(
    ("time", "n_risk", "row", "message"),
    [
        ([0, np.nan, 6], [10, 8, 5], 2, "at-risk time nan is not a finite number"),
        ([0, 3, np.inf], [10, 8, 5], 3, "at-risk time inf is not a finite number"),
        ([np.nan, 3, 6], [10, 8, 5], 1, "at-risk time nan is not a finite number"),
        ([0, 3, 6], [10, np.nan, 5], 2, "number at risk nan is not a non-negative whole"),
        ([0, 3, 6], [10, 8, np.inf], 3, "number at risk inf is not a non-negative whole"),
    ],
)
def test_at_risk_from_arrays_rejects_non_finite(time, n_risk, row, message):
    with pytest.raises(InputError, match=rf"^arr: row {row}: {message}"):
        at_risk_from_arrays(time, n_risk, source="arr")


def test_validate_at_risk_checks_a_table_built_directly():
    table = AtRiskTable(time=np.array([0.0, np.nan]), n_risk=np.array([10, 8]), source="t")
    with pytest.raises(InputError, match=r"^t: at-risk time nan is not a finite number"):
        validate_at_risk(table)
    table = AtRiskTable(time=np.array([0.0, 3.0]), n_risk=np.array([10, -1]), source="t")
    with pytest.raises(InputError, match=r"^t: number at risk -1 is not a non-negative whole"):
        validate_at_risk(table)


@pytest.mark.parametrize(
    ("text", "field", "cell"),
    [("time,n\n0,10\nnan,8\n", "time", "nan"), ("time,n\n0,10\ninf,8\n", "time", "inf"),
     ("time,n\n0,10\n3,inf\n", "n", "inf"), ("time,n\n0,10\n3,NaN\n", "n", "NaN")],
)
def test_read_at_risk_rejects_nan_and_inf_cells(tmp_path, text, field, cell):
    path = write_file(tmp_path, "risk.csv", text)
    with pytest.raises(
        InputError, match=rf"risk\.csv: row 3: field '{field}': '{cell}' is not a finite number"
    ):
        read_at_risk(path)


@pytest.mark.parametrize(
    ("text", "row", "field", "cell"),
    [("time,surv\n0,1\nnan,0.8\n3,0.5\n", 3, "time", "nan"),
     ("time,surv\n0,1\n2,0.8\ninf,0.5\n", 4, "time", "inf"),
     ("time,surv\n0,1\n2,-inf\n3,0.5\n", 3, "surv", "-inf")],
)
def test_read_curve_rejects_nan_and_inf_cells(tmp_path, text, row, field, cell):
    path = write_file(tmp_path, "curve.csv", text)
    with pytest.raises(InputError) as err:
        read_curve(path)
    message = one_line(err)
    assert f"curve.csv: row {row}: field '{field}': '{cell}' is not a finite number" in message
