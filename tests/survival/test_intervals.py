"""Interval aggregation: sufficient statistics reproduce the per-patient likelihood exactly."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from prrt_bayes.core.errors import InputError
from prrt_bayes.survival.intervals import (
    aggregate,
    default_breakpoints,
    per_patient_loglik,
    poisson_constant,
    poisson_loglik,
    validate_ipd,
)


def _ipd(seed: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(n) < 0.5, "lu177", "control")
    t_event = rng.exponential(np.where(arm == "lu177", 30.0, 10.0))
    t_cens = rng.uniform(0, 40, n)
    df = pd.DataFrame({"time": np.minimum(t_event, t_cens),
                       "event": (t_event <= t_cens).astype(int), "arm": arm})
    # guarantee both arms have events, and a time exactly on a breakpoint
    df.loc[0, ["time", "event", "arm"]] = [5.0, 1, "lu177"]
    df.loc[1, ["time", "event", "arm"]] = [5.0, 1, "control"]
    return df


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cuts=st.lists(st.floats(0.5, 35.0), min_size=0, max_size=6, unique=True).map(sorted),
    log_h=arrays(np.float64, (2, 8), elements=st.floats(-6.0, 1.0)),
)
def test_poisson_trick_equals_per_patient_likelihood(seed, cuts, log_h):
    cuts = sorted(set(cuts) | {5.0})  # a patient exactly on a cut point
    ipd = _ipd(seed)
    data = aggregate(ipd, cuts)
    log_h = log_h[:, : data.n_intervals]
    group = (ipd["arm"] == "lu177").to_numpy().astype(int)
    ref = per_patient_loglik(ipd["time"], ipd["event"], group, data.cuts, log_h)
    poisson = poisson_loglik(data, log_h)
    # the Poisson log-likelihood = per-patient log-likelihood + a constant free of log_h
    assert poisson - poisson_constant(data) == pytest.approx(ref, rel=1e-12, abs=1e-9)


def test_counts_and_exposure_add_up():
    ipd = _ipd(3)
    data = aggregate(ipd, [5.0, 12.0])
    assert data.events.sum() == ipd["event"].sum()
    assert data.exposure.sum() == pytest.approx(ipd["time"].sum())
    assert data.arms == ("control", "lu177")
    for a, arm in enumerate(data.arms):
        sub = ipd[ipd["arm"] == arm]
        assert data.events[a].sum() == sub["event"].sum()
        # an event exactly at t = 5 belongs to the interval (0, 5]
        assert data.events[a, 0] == ((sub["time"] <= 5.0) & (sub["event"] == 1)).sum()
    assert data.to_frame()["events"].sum() == ipd["event"].sum()


def test_default_breakpoints_balance_events():
    ipd = _ipd(7, n=400)
    data = aggregate(ipd, n_intervals=4)
    assert data.n_intervals == 4
    pooled = data.events.sum(axis=0)
    assert pooled.max() - pooled.min() <= 2  # quartiles of event times (ties aside)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time": -1.0}, "time"),
        ({"time": np.nan}, "time"),
        ({"event": 2}, "event"),
        ({"event": 0.5}, "event"),
        ({"arm": "placebo"}, "arm"),
    ],
)
def test_bad_values_raise_input_error_naming_the_row(change, field):
    ipd = _ipd(1)
    for col, value in change.items():
        ipd[col] = ipd[col].astype(object)
        ipd.loc[4, col] = value
    with pytest.raises(InputError) as err:
        aggregate(ipd)
    assert err.value.field == field and err.value.row == 4
    assert "np." not in str(err.value)  # plain numbers, not numpy reprs


def test_bad_integer_time_reads_as_a_plain_number():
    ipd = _ipd(1)
    ipd["time"] = np.arange(len(ipd), dtype=np.int64)
    ipd.loc[4, "time"] = -5
    with pytest.raises(InputError, match=r"got -5$"):
        aggregate(ipd)


def test_arm_without_events_is_an_input_error():
    ipd = _ipd(2)
    ipd.loc[ipd["arm"] == "control", "event"] = 0
    with pytest.raises(InputError, match="'control' has no events"):
        validate_ipd(ipd)


def test_missing_column_and_bad_breakpoints():
    with pytest.raises(InputError, match="no column 'arm'"):
        validate_ipd(pd.DataFrame({"time": [1.0], "event": [1]}))
    with pytest.raises(InputError, match="strictly increasing"):
        aggregate(_ipd(1), [5.0, 3.0])
    with pytest.raises(InputError, match="no events"):
        default_breakpoints(np.array([1.0, 2.0]), np.array([0, 0]))


def test_single_group():
    ipd = _ipd(5).drop(columns="arm")
    data = aggregate(ipd, [10.0], treatment=None)
    assert data.arms == ("all",) and data.events.shape == (1, 2)
