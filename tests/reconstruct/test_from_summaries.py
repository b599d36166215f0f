"""Pseudo-IPD from published summaries: round trips on real IPD, recovery, exactness, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import cox_hr
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_gbsg2, load_rossi
from lifelines.utils import restricted_mean_survival_time

from prrt_bayes.core.errors import InputError
from prrt_bayes.reconstruct.from_summaries import (
    ArmSummary,
    FollowUpSummary,
    allocate_total_events,
    calibrate_censoring,
    feasible_events,
    reconstruct_arm,
    reconstruct_from_summaries,
    stack_arms,
)

PRIMARY = "primary_2015"
"""The NETTER-1 primary analysis: the published summaries the NETTER-1 cases start from."""


def _primary_follow_up(netter1, **kwargs) -> FollowUpSummary:
    """NETTER-1 accrual (start, end) and data cut-off of the primary analysis."""
    dates = (netter1.get(PRIMARY, q).date for q in ("accrual_start", "accrual_end",
                                                      "data_cutoff"))
    return FollowUpSummary.from_dates(*dates, **kwargs)


def _summaries(data: pd.DataFrame, landmark: float) -> dict[str, ArmSummary]:
    """What a publication would give per group: N, events, median, one landmark, follow-up."""
    arms = {}
    for arm, rows in data.groupby("arm"):
        km = KaplanMeierFitter().fit(rows["time"], rows["event"])
        reverse = KaplanMeierFitter().fit(rows["time"], 1 - rows["event"])
        median = km.median_survival_time_
        arms[arm] = ArmSummary(
            n=len(rows),
            events=int(rows["event"].sum()),
            landmarks={landmark: float(km.survival_function_at_times(landmark).iloc[0])},
            median=float(median) if np.isfinite(median) else None,
            follow_up=FollowUpSummary(maximum=float(rows["time"].max()),
                                      median=float(reverse.median_survival_time_)),
        )
    return arms


ROUND_TRIPS = {
    # name: (loader, time, event, group, treated label, landmark)
    "gbsg2_horTh": (load_gbsg2, "time", "cens", "horTh", "yes", 1825.0),
    "rossi_fin_26": (load_rossi, "week", "arrest", "fin", "1", 26.0),
    "rossi_fin_39": (load_rossi, "week", "arrest", "fin", "1", 39.0),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_round_trip_on_lifelines_data(name):
    """Only N, events, median, one landmark and follow-up per group: HR within 15%, RMST 5%."""
    loader, time, event, group, treated, landmark = ROUND_TRIPS[name]
    raw = loader()
    data = pd.DataFrame({"time": raw[time].astype(float), "event": raw[event].astype(int),
                         "arm": raw[group].astype(str)})
    recs = {arm: reconstruct_arm(s) for arm, s in _summaries(data, landmark).items()}
    pseudo = stack_arms(recs)
    true_hr, pseudo_hr = cox_hr(data, treated), cox_hr(pseudo, treated)
    assert abs(pseudo_hr / true_hr - 1) < 0.15, (true_hr, pseudo_hr)
    for arm, rec in recs.items():
        truth = data[data["arm"] == arm]
        rmst_true = restricted_mean_survival_time(
            KaplanMeierFitter().fit(truth["time"], truth["event"]), landmark)
        rmst_pseudo = restricted_mean_survival_time(
            KaplanMeierFitter().fit(rec.ipd["time"], rec.ipd["event"]), landmark)
        assert abs(rmst_pseudo / rmst_true - 1) < 0.05, (arm, rmst_true, rmst_pseudo)
        assert rec.ipd["event"].sum() == (truth["event"] == 1).sum()


def _simulate(rng, n, breaks, rates, window, dropout):
    """Piecewise-exponential event times, uniform accrual window, exponential dropout."""
    u = rng.exponential(size=n)  # cumulative hazard at the event time
    starts = np.array(breaks, dtype=float)
    widths = np.diff(np.append(starts, np.inf))
    cum = np.concatenate([[0.0], np.cumsum(np.array(rates[:-1]) * widths[:-1])])
    piece = np.searchsorted(cum, u, side="right") - 1
    times = starts[piece] + (u - cum[piece]) / np.array(rates)[piece]
    censor = np.minimum(rng.uniform(*window, size=n), rng.exponential(1 / dropout, size=n))
    return pd.DataFrame({"time": np.minimum(times, censor), "event": (times <= censor).astype(int)})


def test_recovers_known_hazard_and_censoring():
    """Simulated trial with known hazards and censoring: the calibrated models recover them."""
    rng = np.random.default_rng(20261123)
    data = _simulate(rng, 40000, [0.0, 12.0], [0.05, 0.10], (12.0, 36.0), 0.01)
    km = KaplanMeierFitter().fit(data["time"], data["event"])
    reverse = KaplanMeierFitter().fit(data["time"], 1 - data["event"])
    rec = reconstruct_from_summaries(
        len(data), int(data["event"].sum()),
        landmarks={12.0: float(km.survival_function_at_times(12.0).iloc[0])},
        follow_up=FollowUpSummary.from_accrual(24.0, 12.0,
                                               median=float(reverse.median_survival_time_)),
    )
    assert rec.event_calibration == "tail_rate"
    assert rec.hazard.rates[0] == pytest.approx(0.05, rel=0.05)
    assert rec.hazard.rates[-1] == pytest.approx(0.10, rel=0.10)
    assert rec.censoring.dropout_rate == pytest.approx(0.01, rel=0.25)


def test_two_arm_simulation_recovers_hazard_ratio():
    """PH truth with HR 0.5: the pseudo-IPD's Cox HR is within 10% of the true data's."""
    rng = np.random.default_rng(7)
    arms = {
        "control": _simulate(rng, 1500, [0.0, 6.0], [0.08, 0.12], (6.0, 30.0), 0.005),
        "treated": _simulate(rng, 1500, [0.0, 6.0], [0.04, 0.06], (6.0, 30.0), 0.005),
    }
    data = pd.concat([d.assign(arm=a) for a, d in arms.items()], ignore_index=True)
    pseudo = stack_arms({a: reconstruct_arm(s) for a, s in _summaries(data, 12.0).items()})
    assert cox_hr(pseudo, "treated") == pytest.approx(cox_hr(data, "treated"), rel=0.10)


def test_targets_met_exactly_and_deterministic(netter1):
    """NETTER-1 control PFS: events exact, landmark and median within a KM step; two runs give
    identical rows."""
    n = int(netter1.get(PRIMARY, "n_randomised", "control").value)
    events = int(netter1.get(PRIMARY, "pfs_events", "control").value)
    landmark = netter1.get(PRIMARY, "pfs_survival", "control", time=20).value / 100
    median = netter1.get(PRIMARY, "pfs_median_months", "control").value
    follow_up = _primary_follow_up(
        netter1, median=netter1.get(PRIMARY, "median_follow_up_months").value)
    kwargs = dict(landmarks={20.0: landmark}, median=median, follow_up=follow_up)
    first = reconstruct_from_summaries(n, events, **kwargs)
    second = reconstruct_from_summaries(n, events, **kwargs)
    pd.testing.assert_frame_equal(first.ipd, second.ipd)
    checks = first.diagnostics
    assert first.ipd["event"].sum() == events
    assert abs(checks["survival_at_20"].error) < 0.005
    assert abs(checks["median"].error) < 0.1
    assert abs(checks["median_follow_up"].error) < 0.5
    assert len(first.ipd) + first.unfollowed == n
    assert (first.ipd["time"] > 0).all() and first.ipd["time"].max() <= follow_up.maximum + 1e-9


def test_late_entrants_are_counted_not_rows(netter1):
    """Accrual past the cut-off: the share randomised after it has zero follow-up."""
    follow_up = _primary_follow_up(netter1)
    share = -follow_up.minimum / (follow_up.maximum - follow_up.minimum)
    rec = reconstruct_from_summaries(200, 30, follow_up=follow_up)
    assert rec.unfollowed == round(200 * share)
    assert len(rec.ipd) == 200 - rec.unfollowed
    excluded = _primary_follow_up(netter1, late_entrants="excluded")
    assert excluded.minimum == 0.0
    assert reconstruct_from_summaries(200, 30, follow_up=excluded).unfollowed == 0


def test_censoring_calibration_reproduces_median_follow_up():
    """G(m) = 1/2 with a known window; without a minimum, a_min = 2m - a_max and no dropout."""
    model = calibrate_censoring(FollowUpSummary(minimum=10.0, maximum=40.0, median=20.0))
    assert float(model.survival(20.0)) == pytest.approx(0.5, abs=1e-12)
    assert model.median() == pytest.approx(20.0, abs=1e-6)
    open_start = calibrate_censoring(FollowUpSummary(maximum=95.0, median=76.3))
    assert open_start.minimum == pytest.approx(2 * 76.3 - 95.0)
    assert open_start.dropout_rate == 0.0


def test_dropout_fallback_when_events_are_too_few(netter1):
    """Fewer events than the follow-up allows (NETTER-1 177Lu PFS summaries): extra dropout,
    landmark still met."""
    n = int(netter1.get(PRIMARY, "n_randomised", "lu177").value)
    landmarks = {20.0: netter1.get(PRIMARY, "pfs_survival", "lu177", time=20).value / 100}
    median_follow_up = netter1.get(PRIMARY, "median_follow_up_months").value
    follow_up = FollowUpSummary(minimum=0.0, maximum=34.0, median=median_follow_up)
    low, _ = feasible_events(ArmSummary(n=n, events=0, landmarks=landmarks, follow_up=follow_up))
    rec = reconstruct_from_summaries(n, low - 4, landmarks=landmarks, follow_up=follow_up)
    assert rec.event_calibration == "dropout"
    assert rec.ipd["event"].sum() == low - 4
    assert abs(rec.diagnostics["survival_at_20"].error) < 0.01
    assert rec.diagnostics["median_follow_up"].achieved < median_follow_up


def test_allocate_total_events_rossi():
    """Total arrests of the rossi data split between fin groups close to the true 66 / 48."""
    raw = load_rossi()
    data = pd.DataFrame({"time": raw["week"].astype(float), "event": raw["arrest"],
                         "arm": raw["fin"].astype(str)})
    truth = data.groupby("arm")["event"].sum().to_dict()
    for landmark in (26.0, 39.0):
        split = allocate_total_events(_summaries(data, landmark), sum(truth.values()))
        assert sum(split.events.values()) == sum(truth.values())
        for arm, count in truth.items():
            assert abs(split.events[arm] - count) <= 3, (landmark, split)


def test_allocate_total_events_symmetric_arms_split_evenly():
    follow_up = FollowUpSummary(minimum=12.0, maximum=36.0)
    arm = ArmSummary(n=100, landmarks={12.0: 0.6}, follow_up=follow_up)
    split = allocate_total_events({"a": arm, "b": arm}, 100)
    assert split.events == {"a": 50, "b": 50}


BAD_INPUTS = {
    "events above n": (dict(n=10, events=11), "events 11 > n 10"),
    "percent landmark": (dict(landmarks={20.0: 65.2}), "not a percent"),
    "increasing survival": (dict(landmarks={10.0: 0.5, 20.0: 0.7}), "must decrease"),
    "median vs landmark": (dict(landmarks={10.0: 0.4}, median=12.0), "must decrease"),
    "landmark beyond follow-up": (dict(landmarks={50.0: 0.5}), "beyond the maximum follow-up"),
    "too many events": (dict(n=100, events=95, landmarks={30.0: 0.9}), "at most"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_summaries_raise_input_error(case):
    fields, message = BAD_INPUTS[case]
    kwargs = dict(n=100, events=20, follow_up=FollowUpSummary(minimum=0.0, maximum=36.0))
    kwargs.update(fields)
    n, events = kwargs.pop("n"), kwargs.pop("events")
    with pytest.raises(InputError, match=message):
        reconstruct_from_summaries(n, events, **kwargs)


def test_bad_follow_up_raises_input_error():
    with pytest.raises(InputError, match="longer than uniform accrual allows"):
        calibrate_censoring(FollowUpSummary(minimum=0.0, maximum=30.0, median=20.0))
    with pytest.raises(InputError, match="not a date"):
        FollowUpSummary.from_dates("September 2012", "2016-01", "2015-07-24")
    with pytest.raises(InputError, match="late_entrants"):
        FollowUpSummary.from_dates("2012-09", "2016-01", "2015-07-24", late_entrants="drop")
    with pytest.raises(InputError, match="not after the start"):
        FollowUpSummary.from_dates("2012-09", "2016-01", "2012-01-01")
    with pytest.raises(InputError, match="minimum follow-up"):
        reconstruct_from_summaries(10, 1, follow_up={"minimum": 40.0, "maximum": 30.0})
    with pytest.raises(InputError, match="no landmark or median"):
        allocate_total_events(
            {"a": ArmSummary(n=10, follow_up=FollowUpSummary(maximum=30.0))}, 5)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(20, 300),
    landmark=st.floats(2.0, 30.0),
    surv=st.floats(0.05, 0.95),
    share=st.floats(0.0, 1.0),
    window=st.tuples(st.floats(0.0, 20.0), st.floats(5.0, 40.0)),
)
@example(n=21, landmark=21.0, surv=0.1875, share=0.0, window=(8.0, 13.0))  # landmark at the end
def test_property_rows_and_events(n, landmark, surv, share, window):
    """Any feasible input, including fewer events than the follow-up allows (dropout mode):
    n patients in all, exact events, times inside the follow-up window."""
    minimum, length = window
    follow_up = FollowUpSummary(minimum=minimum, maximum=minimum + length)
    if landmark > follow_up.maximum:
        landmark = follow_up.maximum
    summary = ArmSummary(n=n, events=0, landmarks={landmark: surv}, follow_up=follow_up)
    low, high = feasible_events(summary, grid_cells=300)
    fewest = max(1, low // 2)
    events = fewest + math.floor(share * (high - fewest))
    rec = reconstruct_arm(summary.model_copy(update={"events": events}), grid_cells=300)
    assert len(rec.ipd) + rec.unfollowed == n
    assert rec.ipd["event"].sum() == events
    assert set(rec.ipd["event"].unique()) <= {0, 1}
    assert (rec.ipd["time"] > 0).all()
    assert rec.ipd["time"].max() <= follow_up.maximum + 1e-9
