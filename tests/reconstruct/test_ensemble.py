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
