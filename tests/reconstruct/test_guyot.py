"""Guyot reconstruction: round trips on real IPD, the three modes, properties, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import cox_hr, simulate_weibull
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter, datasets

from prrt_bayes.core.errors import InputError
from prrt_bayes.reconstruct.accuracy import (
    assess_accuracy,
    cox_hazard_ratio,
    km_step,
    numbers_at_risk,
)
from prrt_bayes.reconstruct.curves import at_risk_from_arrays, clean_curve
from prrt_bayes.reconstruct.guyot import guyot_reconstruct, reconstruct_from_files, run_guyot

SEED = 20120201  # publication date of Guyot et al.; fixed, not tuned

# ----------------------------------------------------------------------------- helpers


def two_groups(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(treatment, reference) IPD of a lifelines two-group data set."""
    if name == "gbsg2":  # hormonal therapy yes vs no; days
        df = datasets.load_gbsg2()
        time, event, group = df["time"], df["cens"], df["horTh"] == "yes"
    elif name == "rossi":  # financial aid vs none; weeks, administrative censoring at 52
        df = datasets.load_rossi()
        time, event, group = df["week"], df["arrest"], df["fin"] == 1
    elif name == "larynx":  # stage III-IV vs I-II; years
        df = datasets.load_larynx()
        time, event, group = df["time"], df["death"], (df["Stage_III"] + df["Stage_IV"]) > 0
    elif name == "lung":  # female vs male; days
        df = datasets.load_lung()
        time, event, group = df["time"], df["status"], df["sex"] == 2
    else:
        raise ValueError(name)
    ipd = pd.DataFrame({"time": time.astype(float), "event": event.astype(int)})
    return ipd[group.to_numpy()].reset_index(drop=True), ipd[~group.to_numpy()].reset_index(
        drop=True
    )


def digitise(ipd: pd.DataFrame, rng, *, surv_noise: float, time_noise: float):
    """Click the KM of ``ipd`` like a digitiser: both corners of every drop plus the curve's end.

    Noise is Gaussian: ``surv_noise`` on the survival scale, ``time_noise`` times the last time.
    """
    sf = KaplanMeierFitter().fit(ipd["time"], ipd["event"]).survival_function_.iloc[:, 0]
    t, s = sf.index.to_numpy(float), sf.to_numpy(float)
    drop = np.flatnonzero(np.diff(s) < 0) + 1
    times = np.concatenate([t[drop], t[drop], [t[-1]]])
    surv = np.concatenate([s[drop - 1], s[drop], [s[-1]]])
    times = times + rng.normal(0, time_noise * t[-1], times.size)
    surv = surv + rng.normal(0, surv_noise, surv.size)
    return times, surv


def round_trip(ipd: pd.DataFrame, rng, *, step: float, surv_noise: float, time_noise: float):
    """Digitise, tabulate numbers at risk every ``step``, reconstruct."""
    times, surv = digitise(ipd, rng, surv_noise=surv_noise, time_noise=time_noise)
    curve = clean_curve(times, surv)
    grid = np.round(np.arange(0, ipd["time"].max(), step), 6)
    table = at_risk_from_arrays(grid, numbers_at_risk(ipd, grid))
    return run_guyot(curve, table).ipd


def km_distance(truth: pd.DataFrame, recon: pd.DataFrame, tolerance: float = 0.0) -> float:
    """Largest vertical gap between two KM curves on a fine grid.

    With ``tolerance > 0`` the reconstructed curve may be read anywhere within +-tolerance in
    time (a Levy-type distance), so a drop displaced horizontally by digitising error is not
    counted as a vertical error of the full drop size.
    """
    grid = np.linspace(0, truth["time"].max(), 4000)
    s = km_step(truth, grid)
    high = km_step(recon, grid - tolerance)
    low = km_step(recon, grid + tolerance)
    return float(np.maximum(0, np.maximum(s - high, low - s)).max())


def median(ipd: pd.DataFrame) -> float:
    return float(KaplanMeierFitter().fit(ipd["time"], ipd["event"]).median_survival_time_)


DATASETS = ["gbsg2", "rossi", "larynx", "lung"]


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize(
    ("surv_noise", "time_noise"),
    [(0.003, 0.0), (0.003, 0.003)],
    ids=["survival-noise", "survival-and-time-noise"],
)
def test_round_trip_on_lifelines_data(name, surv_noise, time_noise):
    """Reconstruction from a digitised KM + at-risk table recovers HR, medians and the curve.

    Numbers at risk every tenth of the follow-up. The KM distance allows a horizontal tolerance
    of 3 SD of the time noise (0 when there is none).
    """
    treated, reference = two_groups(name)
    rng = np.random.default_rng(SEED)
    step = max(treated["time"].max(), reference["time"].max()) / 10
    recon = {}
    for label, ipd in (("treated", treated), ("reference", reference)):
        rebuilt = round_trip(ipd, rng, step=step, surv_noise=surv_noise, time_noise=time_noise)
        recon[label] = rebuilt
        assert len(rebuilt) == len(ipd)
        tolerance = 3 * time_noise * ipd["time"].max()
        assert km_distance(ipd, rebuilt, tolerance) < 0.03
        true_median = median(ipd)
        if np.isfinite(true_median):
            assert median(rebuilt) == pytest.approx(true_median, rel=0.05)
    hr_true = cox_hazard_ratio(treated, reference).estimate
    hr_recon = cox_hazard_ratio(recon["treated"], recon["reference"]).estimate
    assert hr_recon == pytest.approx(hr_true, rel=0.05)


def test_noise_free_clicks_without_censoring_give_the_exact_event_times():
    """Without censoring before the end of follow-up, exact clicks determine the data exactly."""
    rng = np.random.default_rng(SEED)
    time = np.round(rng.exponential(12, 150), 2)
    ipd = pd.DataFrame({"time": np.minimum(time, 30.0), "event": (time <= 30.0).astype(int)})
    rebuilt = round_trip(ipd, rng, step=4.0, surv_noise=0.0, time_noise=0.0)
    events = np.sort(ipd.loc[ipd["event"] == 1, "time"].to_numpy())
    np.testing.assert_allclose(np.sort(rebuilt.loc[rebuilt["event"] == 1, "time"]), events)


# ----------------------------------------------------------------------------- modes


@pytest.fixture
def weibull_arm():
    """A simulated arm (n=300, Weibull events, censoring uniform on 5-60) and its digitised
    curve."""
    rng = np.random.default_rng(SEED)
    ipd = simulate_weibull(rng, 300, shape=1.3, scale=20.0, hr=None, accrual=55.0, cut=60.0,
                           dropout_mean=None)
    times, surv = digitise(ipd, rng, surv_noise=0.003, time_noise=0.0)
    return ipd, clean_curve(times, surv)


def test_total_events_only_matches_the_total(weibull_arm):
    """Events match the total; the curve is followed while >= 10% of patients remain at risk.

    Without an at-risk table Guyot spreads censoring evenly over the whole follow-up, so it
    censors too many patients late (where few remain) and the tail can go flat early — a known
    limitation of this mode (measured: KM distance 0.11 over the full range for this arm).
    """
    ipd, curve = weibull_arm
    total = int(ipd["event"].sum())
    rebuilt = guyot_reconstruct(curve, n_patients=len(ipd), total_events=total)
    assert len(rebuilt) == len(ipd)
    assert rebuilt["event"].sum() == total
    horizon = np.sort(ipd["time"].to_numpy())[int(0.9 * len(ipd))]
    grid = np.linspace(0, horizon, 2000)
    assert np.abs(km_step(ipd, grid) - km_step(rebuilt, grid)).max() < 0.05


def test_n_only_has_no_censoring_before_the_end(weibull_arm):
    ipd, curve = weibull_arm
    rebuilt = guyot_reconstruct(curve, n_patients=len(ipd))
    assert len(rebuilt) == len(ipd)
    censored = rebuilt.loc[rebuilt["event"] == 0, "time"]
    assert (censored == curve.time[-1]).all()
    # without censoring information the curve shape is still followed at the start
    report = assess_accuracy(rebuilt, curve)
    early = curve.time <= np.quantile(ipd["time"], 0.25)
    assert np.abs(km_step(rebuilt, curve.time[early]) - curve.survival[early]).max() < 0.02
    assert report.n_patients == len(ipd)


def test_at_risk_with_total_events(weibull_arm):
    ipd, curve = weibull_arm
    grid = np.arange(0, 50, 10.0)
    table = at_risk_from_arrays(grid, numbers_at_risk(ipd, grid))
    total = int(ipd["event"].sum())
    fit = run_guyot(curve, table, total_events=total)
    assert fit.ipd["event"].sum() == total
    np.testing.assert_array_equal(fit.intervals["reconstructed"], fit.intervals["reported"])


def test_missing_arm_size_is_rejected(weibull_arm):
    _, curve = weibull_arm
    with pytest.raises(InputError, match="number of patients is needed"):
        guyot_reconstruct(curve)


def test_arm_size_must_match_table(weibull_arm):
    _, curve = weibull_arm
    table = at_risk_from_arrays([0, 10], [300, 150], source="risk.csv")
    with pytest.raises(InputError, match=r"risk\.csv: row 1: number of patients 299"):
        guyot_reconstruct(curve, table, n_patients=299)


@pytest.mark.parametrize("n_patients", [300.5, float("nan"), float("inf"), "300", True])
def test_arm_size_must_be_a_whole_number_with_a_table(n_patients):
    curve = clean_curve([5, 10], [0.8, 0.6])
    table = at_risk_from_arrays([0, 5], [300, 240])
    with pytest.raises(InputError, match="number of patients must be a positive whole number"):
        guyot_reconstruct(curve, table, n_patients=n_patients)


@pytest.mark.parametrize("n_patients", [300.5, float("nan"), float("inf"), 0])
def test_arm_size_must_be_a_whole_number_without_a_table(n_patients):
    curve = clean_curve([5, 10], [0.8, 0.6])
    with pytest.raises(InputError, match="number of patients must be a positive whole number"):
        guyot_reconstruct(curve, n_patients=n_patients)


def test_whole_float_arm_size_is_accepted():
    curve = clean_curve([5, 10], [0.8, 0.6])
    table = at_risk_from_arrays([0, 5], [300, 240])
    assert len(guyot_reconstruct(curve, table, n_patients=300.0)) == 300
    assert len(guyot_reconstruct(curve, n_patients=np.int64(300))) == 300


def test_total_events_above_arm_size_is_rejected(weibull_arm):
    _, curve = weibull_arm
    with pytest.raises(InputError, match="total events 400"):
        guyot_reconstruct(curve, n_patients=300, total_events=400)


# ----------------------------------------------------------------------------- properties


@st.composite
def curve_and_table(draw):
    """A valid non-increasing curve and a non-increasing at-risk table that fits it."""
    n_points = draw(st.integers(1, 40))
    gaps = draw(st.lists(st.floats(0.01, 5.0), min_size=n_points, max_size=n_points))
    drops = draw(st.lists(st.floats(0.0, 0.25), min_size=n_points, max_size=n_points))
    time = np.cumsum(gaps)
    surv = np.clip(1 - np.cumsum(drops), 0, 1)
    n0 = draw(st.integers(1, 400))
    k = draw(st.integers(0, 6))
    extra = draw(st.lists(st.floats(0.001, float(time[-1])), min_size=k, max_size=k, unique=True))
    t_risk = np.concatenate([[0.0], np.sort(extra)])
    falls = draw(st.lists(st.integers(0, 60), min_size=k, max_size=k))
    counts = np.maximum(n0 - np.cumsum([0, *falls]), 0)
    if (surv == 0).any():
        counts[t_risk > time[np.argmax(surv == 0)]] = 0
    total = draw(st.one_of(st.none(), st.integers(0, n0)))
    use_table = draw(st.booleans())
    return time, surv, t_risk, counts, total, use_table


@settings(max_examples=150, deadline=None)
@given(curve_and_table())
def test_reconstruction_properties(case):
    time, surv, t_risk, counts, total, use_table = case
    curve = clean_curve(time, surv)
    n0 = int(counts[0])
    if use_table:
        fit = run_guyot(curve, at_risk_from_arrays(t_risk, counts), total_events=total)
    else:
        fit = run_guyot(curve, n_patients=n0, total_events=total)
    ipd = fit.ipd
    assert len(ipd) == n0
    assert (ipd["time"] >= 0).all()
    assert ipd["event"].isin([0, 1]).all()
    assert ipd["event"].sum() <= n0
    assert (fit.points["n_at_risk"] >= 0).all()
    assert (fit.points["events"] >= 0).all() and (fit.points["censored"] >= 0).all()
    assert (fit.points["events"] + fit.points["censored"] <= fit.points["n_at_risk"]).all()
    assert (fit.intervals["reconstructed"] >= 0).all()


# ----------------------------------------------------------------------------- from files


def test_reconstruct_from_files_and_report(tmp_path, weibull_arm):
    ipd, curve = weibull_arm
    curve_path = tmp_path / "curve.csv"
    pd.DataFrame({"t": curve.time[1:], "pct": 100 * curve.survival[1:]}).to_csv(
        curve_path, index=False
    )
    grid = np.arange(0, 50, 10.0)
    risk_path = tmp_path / "risk.csv"
    pd.DataFrame({"time": grid, "other": 999, "mine": numbers_at_risk(ipd, grid)}).to_csv(
        risk_path, index=False
    )
    result = reconstruct_from_files(curve_path, risk_path, at_risk_column="mine")
    assert len(result.ipd) == len(ipd)
    assert list(result.ipd.columns) == ["time", "event"]
    assert result.accuracy.rmse < 0.01
    assert (result.accuracy.at_risk["difference"].abs() <= 1).all()
    text = result.to_text()
    assert "percent" in text and "Numbers at risk" in text and "RMSE" in text
    as_dict = json.loads(json.dumps(result.accuracy.to_dict()))
    assert as_dict["n_patients"] == len(ipd) and as_dict["hazard_ratio"] is None
    assert [row["reported"] for row in as_dict["at_risk"]] == list(numbers_at_risk(ipd, grid))


def test_accuracy_hazard_ratio_matches_lifelines(weibull_arm):
    ipd, curve = weibull_arm
    other = ipd.assign(time=ipd["time"] * 1.5)
    report = assess_accuracy(ipd, curve, other_arm=other, arm="a", other_name="b")
    expected = cox_hr(pd.concat([ipd.assign(arm="a"), other.assign(arm="b")],
                                ignore_index=True), treatment="a")
    assert report.hazard_ratio.estimate == pytest.approx(expected, rel=1e-9)
    assert report.hazard_ratio.lower < expected < report.hazard_ratio.upper
    assert "Cox hazard ratio a vs b" in report.to_text()
    assert report.to_dict()["hazard_ratio"]["estimate"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("curve_text", "risk_text", "kwargs", "where"),
    [
        ("t,s\n0,100\n5,80\n", None, {"percent": False, "n_patients": 10}, "curve.csv: row 2"),
        ("t,s\n0,1\n5,0.8\n", None, {"percent": True, "n_patients": 10}, "curve.csv: row 2"),
        ("", None, {"n_patients": 10}, "curve.csv: row 1"),
        ("t,s\n0,1\n5,x\n", None, {"n_patients": 10}, "curve.csv: row 3"),
        ("t,s\n0,1\n5,0.8\n", "t,n\n0,10\n2,12\n", {}, "risk.csv: row 3"),
        ("t,s\n0,1\n5,0.8\n", "", {}, "risk.csv: row 1"),
        ("t,s\n0,1\n5,0.8\n", "t,n\n0,10\n2,ten\n", {}, "risk.csv: row 3"),
    ],
    ids=[
        "probability-forced-on-percent",
        "percent-forced-on-probability",
        "empty-curve",
        "text-in-curve",
        "increasing-at-risk",
        "empty-at-risk",
        "text-in-at-risk",
    ],
)
def test_bad_files_give_one_line_error_with_file_and_row(
    tmp_path, curve_text, risk_text, kwargs, where
):
    curve_path = tmp_path / "curve.csv"
    curve_path.write_text(curve_text)
    risk_path = None
    if risk_text is not None:
        risk_path = tmp_path / "risk.csv"
        risk_path.write_text(risk_text)
    with pytest.raises(InputError) as err:
        reconstruct_from_files(curve_path, risk_path, **kwargs)
    message = str(err.value)
    assert "\n" not in message
    assert where in message
