"""The generic ensemble builder: Cox helper, hazard shapes, targets from IPD, a round trip."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_rossi

from prrt_bayes.core.errors import InputError
from prrt_bayes.reconstruct.cox import cox_hazard_ratio_efron
from prrt_bayes.reconstruct.ensemble import build_ensemble
from prrt_bayes.reconstruct.hazard_shapes import ShapedHazard
from prrt_bayes.reconstruct.targets import HazardRatioTarget, published_style_targets


def _rossi() -> pd.DataFrame:
    raw = load_rossi()
    return pd.DataFrame({"time": raw["week"].astype(float), "event": raw["arrest"],
                         "arm": raw["fin"].map({1: "aid", 0: "no_aid"})})


def _lifelines_hr(ipd: pd.DataFrame, treatment: str) -> tuple[float, float, float]:
    data = pd.DataFrame({"time": ipd["time"], "event": ipd["event"],
                         "treated": (ipd["arm"] == treatment).astype(int)})
    fit = CoxPHFitter().fit(data, "time", "event")
    low, high = np.exp(fit.confidence_intervals_.loc["treated"])
    return float(np.exp(fit.params_["treated"])), float(low), float(high)


def test_efron_cox_matches_lifelines_with_ties():
    ipd = _rossi()  # weekly times: many ties
    ours = cox_hazard_ratio_efron(ipd["time"], ipd["event"], (ipd["arm"] == "aid").astype(int))
    assert np.allclose(ours, _lifelines_hr(ipd, "aid"), rtol=1e-5)


def test_efron_cox_needs_events_in_both_groups():
    with pytest.raises(InputError, match="events in both groups"):
        cox_hazard_ratio_efron([1.0, 2.0, 3.0], [1, 0, 0], [1, 0, 0])


@pytest.mark.parametrize("slope", [-0.1, 0.0, 0.08])
@pytest.mark.parametrize("early", [None, (2.76, 0.1)])
def test_shaped_hazard_passes_through_every_point(slope, early):
    points = ((10.0, 0.8), (20.0, 0.5), (30.0, 0.3))
    hazard = ShapedHazard(points, slope, 0.05, 0.02, early)
    for time, surv in points:
        assert math.isclose(float(hazard.survival(time)), surv, rel_tol=1e-12)
    grid = np.linspace(0.0, 50.0, 5001)
    numeric = np.concatenate([[0.0], np.cumsum((hazard.hazard(grid[1:]) + hazard.hazard(
        grid[:-1])) / 2 * np.diff(grid))])
    assert np.allclose(numeric, hazard.cumulative_hazard(grid), atol=2e-3)
    assert float(hazard.hazard(40.0)) == pytest.approx(0.02 * math.exp(0.05 * 10))


def test_published_style_targets_are_the_ipd_summaries():
    ipd = _rossi()
    targets = published_style_targets(ipd, treatment="aid", control="no_aid", landmark=26.0)
    assert (targets.treatment, targets.control) == ("aid", "no_aid")
    aid = ipd[ipd["arm"] == "aid"]
    km = KaplanMeierFitter().fit(aid["time"], aid["event"])
    assert targets.arms["aid"].events == aid["event"].sum()
    assert targets.arms["aid"].landmarks[26.0] == pytest.approx(
        float(km.survival_function_at_times(26.0).iloc[0]))
    assert targets.arms["aid"].median_not_reached
    assert targets.hazard_ratio.value == pytest.approx(_lifelines_hr(ipd, "aid")[0], rel=1e-6)
    with pytest.raises(InputError, match="beyond arm"):
        published_style_targets(ipd, treatment="aid", control="no_aid", landmark=60.0)


def test_round_trip_on_rossi_meets_every_target_in_every_member():
    """Summaries of real two-arm IPD -> ensemble; lifelines re-checks each member's targets."""
    ipd = _rossi()
    targets = published_style_targets(ipd, treatment="aid", control="no_aid", landmark=26.0)
    ensemble = build_ensemble(targets)
    assert len(ensemble.members) >= 2 and ensemble.tried >= ensemble.met
    hr = targets.hazard_ratio
    for member in ensemble.members:
        rows = member.ipd
        for arm, t in targets.arms.items():
            mine = rows[rows["arm"] == arm]
            km = KaplanMeierFitter().fit(mine["time"], mine["event"])
            assert mine["event"].sum() == t.events
            assert abs(float(km.survival_function_at_times(26.0).iloc[0])
                       - t.landmarks[26.0]) <= 0.01
            assert math.isinf(km.median_survival_time_)
        got = _lifelines_hr(rows, "aid")
        assert abs(got[0] / hr.value - 1) <= 0.05
        assert abs(got[1] / hr.lower - 1) <= 0.10 and abs(got[2] / hr.upper - 1) <= 0.10
    table = ensemble.table()
    assert list(table["member"]) == list(range(len(ensemble.members)))
    assert {"hazard_shape", "tail_rule", "split", "follow_up_reading", "pfs_early_rule",
            "cox_hr"} <= set(table.columns)


def test_conflicting_targets_name_endpoint_cut_and_targets():
    targets = published_style_targets(_rossi(), treatment="aid", control="no_aid",
                                      landmark=26.0, endpoint="rearrest", cut="week52")
    conflict = replace(targets, hazard_ratio=HazardRatioTarget(0.2, 0.1, 0.4))
    with pytest.raises(InputError, match=r"endpoint 'rearrest' at cut 'week52'.*cox_hr"):
        build_ensemble(conflict, shapes=("piecewise_constant",), tails=("constant",))


def test_unknown_shape_or_tail_is_an_input_error():
    targets = published_style_targets(_rossi(), treatment="aid", control="no_aid",
                                      landmark=26.0)
    with pytest.raises(InputError, match="unknown hazard shape"):
        build_ensemble(targets, shapes=("spline",))
    with pytest.raises(InputError, match="unknown tail rule"):
        build_ensemble(targets, tails=("cure",))


# ------------------------------------------------------------------ real two-arm data sets
DAYS, WEEKS = 1 / 30.4375, 7 / 30.4375


def _two_arm(frame, time, event, arm, treated, scale) -> pd.DataFrame:
    return pd.DataFrame({"time": frame[time].to_numpy(float) * scale,
                         "event": frame[event].to_numpy().astype(int),
                         "arm": np.where(frame[arm] == treated, "lu177", "control")})


def _real(name: str) -> pd.DataFrame:
    """The round trip's five data sets in months (lifelines ships lung's status as 0/1)."""
    from lifelines import datasets

    loaders = {
        "rossi": lambda: _two_arm(datasets.load_rossi(), "week", "arrest", "fin", 1, WEEKS),
        "gbsg2": lambda: _two_arm(datasets.load_gbsg2(), "time", "cens", "horTh", "yes", DAYS),
        "waltons": lambda: _two_arm(datasets.load_waltons(), "T", "E", "group", "miR-137",
                                    DAYS),
        "leukemia": lambda: _two_arm(datasets.load_leukemia(), "t", "status", "Rx", 1, WEEKS),
        "lung": lambda: _two_arm(datasets.load_lung(), "time", "status", "sex", 2, DAYS),
    }
    return loaders[name]()


def _published(ipd: pd.DataFrame):
    tau = 0.75 * min(ipd.loc[ipd["arm"] == arm, "time"].max() for arm in ("lu177", "control"))
    return published_style_targets(ipd, treatment="lu177", control="control",
                                   landmark=tau / 1.5, endpoint="os", cut="round_trip")


def _assert_members_meet_targets(ensemble, targets) -> None:
    """Every member re-checked with lifelines: events, landmark, median, follow-up, HR."""
    hr = targets.hazard_ratio
    for member in ensemble.members:
        rows = member.ipd
        assert all(c.met for c in member.checks)
        for arm, t in targets.arms.items():
            mine = rows[rows["arm"] == arm]
            km = KaplanMeierFitter().fit(mine["time"], mine["event"])
            assert mine["event"].sum() == t.events
            for time, surv in t.landmarks.items():
                assert abs(float(km.survival_function_at_times(time).iloc[0]) - surv) <= 0.01
            if t.median is not None:
                assert abs(km.median_survival_time_ - t.median) <= 0.3
            else:
                assert math.isinf(km.median_survival_time_)
            if t.follow_up_median is not None:
                reverse = KaplanMeierFitter().fit(mine["time"], 1 - mine["event"])
                assert abs(reverse.median_survival_time_ - t.follow_up_median) <= 1.0
        got = _lifelines_hr(rows, "lu177")
        assert abs(got[0] / hr.value - 1) <= 0.05
        assert abs(got[1] / hr.lower - 1) <= 0.10 and abs(got[2] / hr.upper - 1) <= 0.10


@pytest.mark.parametrize("name", [
    "rossi",
    pytest.param("gbsg2", marks=pytest.mark.slow),
    pytest.param("lung", marks=pytest.mark.slow),
])
def test_real_data_summaries_give_members_meeting_every_target(name):
    """Rossi (everyone followed 52 weeks), GBSG2 (median follow-up beyond half the longest:
    staggered entry with a late end of accrual) and NCCTG lung (per-arm follow-up 17 vs 28
    months: the inferred window solved to the HR) all give members."""
    targets = _published(_real(name))
    ensemble = build_ensemble(targets)
    assert len(ensemble.members) >= 2 and ensemble.tried >= ensemble.met >= len(
        ensemble.members)
    assert ensemble.table()["follow_up_reading"].str.contains("accrual inferred").all()
    _assert_members_meet_targets(ensemble, targets)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["waltons", "leukemia"])
def test_a_short_trial_and_a_small_one_get_members_meeting_every_target(name):
    """Waltons: every treated patient dies within 2.5 months, so the events leave the treated
    arm's tail level open and it is solved to the published HR (7.8); leukaemia: 21 patients
    per arm, so a landmark can be met only within half a Kaplan-Meier step (1/42)."""
    ensemble = build_ensemble(_published(_real(name)))
    print(f"{name}: {len(ensemble.members)} members of {ensemble.tried} tried")
    assert len(ensemble.members) >= 5
    for member in ensemble.members:
        assert all(check.met for check in member.checks), member.assumptions
    if name == "waltons":
        assert all("unpinned level solved to the HR" in m.assumptions.tail_rule
                   for m in ensemble.members)
    else:
        tolerances = {c.tolerance for m in ensemble.members for c in m.checks
                      if c.name.startswith("control:S(")}
        assert tolerances == {0.5 / 21}


def test_targets_no_member_can_meet_are_an_input_error_naming_them():
    """A control arm at 99.9% at 6 months that must still hold 66 events by 12: the rows meet
    the landmark but not the HR, so no member; an InputError names the endpoint, cut and the
    target in conflict (no crash, nothing relaxed)."""
    targets = _published(_real("rossi"))
    control = targets.arms["control"]
    (time, _), = control.landmarks.items()
    arms = {**targets.arms, "control": replace(control, landmarks={time: 0.999})}
    with pytest.raises(InputError, match=r"endpoint 'os' at cut 'round_trip'") as err:
        build_ensemble(replace(targets, arms=arms), shapes=("piecewise_constant",),
                       tails=("constant",))
    assert "targets in conflict: cox_hr" in err.value.message


def test_no_nan_reaches_a_solver(monkeypatch):
    """An infinite median follow-up (reverse KM never at 1/2) is a target that cannot be met,
    reported as an InputError, never handed to brentq as NaN."""
    from scipy.optimize import brentq

    from prrt_bayes.reconstruct import ensemble as module

    def finite_brentq(f, a, b, **kwargs):
        for x in (a, b):
            assert math.isfinite(f(x)), f"non-finite value at {x}"
        return brentq(f, a, b, **kwargs)

    monkeypatch.setattr(module, "brentq", finite_brentq)
    targets = _published(_real("rossi"))
    arms = {arm: replace(t, follow_up_median=math.inf) for arm, t in targets.arms.items()}
    with pytest.raises(InputError, match="median follow-up inf is not a finite number"):
        build_ensemble(replace(targets, arms=arms), shapes=("piecewise_constant",),
                       tails=("constant",))
    pooled = replace(targets, follow_up_median=math.nan,
                     arms={a: replace(t, follow_up_median=None) for a, t in arms.items()})
    with pytest.raises(InputError, match="not a finite number"):
        build_ensemble(pooled, shapes=("piecewise_constant",), tails=("constant",))


def test_published_style_targets_check_events_and_unreached_follow_up():
    ipd = _real("leukemia")  # the treated arm: 21 of 21 relapse, its reverse KM stays at 1
    targets = _published(ipd)
    assert targets.arms["lu177"].follow_up_median is None
    assert targets.arms["control"].follow_up_median == pytest.approx(5.749, abs=1e-3)
    with pytest.raises(InputError, match="events must be 0 or 1"):
        _published(ipd.assign(event=ipd["event"] - 1))
    with pytest.raises(InputError, match="finite and positive"):
        _published(ipd.assign(time=ipd["time"] - 1.0))
