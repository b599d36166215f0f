"""Bundled NETTER-1 reconstruction ensembles against the published figures (from the evidence).

Every reference value is read from ``prrt_bayes.evidence`` (``netter1`` fixture); the Cox hazard
ratio is lifelines' (Efron ties, as R's ``coxph``), independent of the calibration's own code.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from helpers import REPO
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

from prrt_bayes.core.errors import InputError
from prrt_bayes.reconstruct import netter1_ipd
from prrt_bayes.reconstruct.ensemble import build_ensemble
from prrt_bayes.reconstruct.netter1_ipd import (
    DATASETS,
    load_netter1_ipd,
    member_file_name,
    netter1_ensemble,
    netter1_ipd_provenance,
)
from prrt_bayes.reconstruct.netter1_targets import netter1_targets
from prrt_bayes.reconstruct.targets import HazardRatioTarget

SCRIPT = REPO / "scripts" / "make_netter1_ipd.py"
PAIRS = list(DATASETS)
ASSUMPTIONS = ("hazard_shape", "tail_rule", "split", "follow_up_reading", "censoring_by_arm",
               "pfs_early_rule")
CUT_IDS = {"primary": "primary_2015", "update_2016": "update_2016", "final": "final_2021"}


def _km(ipd: pd.DataFrame, arm: str) -> KaplanMeierFitter:
    rows = ipd[ipd["arm"] == arm]
    return KaplanMeierFitter().fit(rows["time"], rows["event"])


def _cox(ipd: pd.DataFrame) -> tuple[float, float, float]:
    data = pd.DataFrame({"time": ipd["time"], "event": ipd["event"],
                         "lu177": (ipd["arm"] == "lu177").astype(int)})
    fit = CoxPHFitter().fit(data, "time", "event")
    low, high = np.exp(fit.confidence_intervals_.loc["lu177"])
    return float(np.exp(fit.params_["lu177"])), float(low), float(high)


def _follow_up(ipd: pd.DataFrame, zeros: int, reading: str) -> float:
    times = np.concatenate([np.zeros(zeros), ipd["time"].to_numpy()])
    events = np.concatenate([np.zeros(zeros, int), ipd["event"].to_numpy()])
    if reading.startswith("observation_time"):
        return float(np.median(times))
    return float(KaplanMeierFitter().fit(times, 1 - events).median_survival_time_)


@pytest.fixture(scope="module")
def ensembles():
    return {pair: netter1_ensemble(*pair) for pair in PAIRS}


# ------------------------------------------------------------------------------ loader contract
@pytest.mark.parametrize(("endpoint", "cut"), PAIRS)
def test_loader_shape_and_default_member(endpoint, cut):
    ipd = load_netter1_ipd(endpoint, cut)
    assert list(ipd.columns) == ["time", "event", "arm"]
    assert ipd["time"].dtype == float and ipd["event"].dtype == int
    assert set(ipd["arm"]) == {"lu177", "control"}
    assert (ipd["time"] > 0).all() and set(ipd["event"]) <= {0, 1}
    assert ipd.attrs["member"] == 0
    assert ipd.equals(load_netter1_ipd(endpoint, cut, member=0))
    assert "NOT patient data: pseudo-IPD" in ipd.attrs["provenance"]


@pytest.mark.parametrize(("endpoint", "cut"), PAIRS)
def test_at_least_five_members_and_a_table_of_their_assumptions(endpoint, cut, ensembles):
    ensemble = ensembles[(endpoint, cut)]
    table = ensemble.table
    assert len(ensemble.members) == len(table) >= 5
    assert list(table["member"]) == list(range(len(table)))
    assert set(ASSUMPTIONS) <= set(table.columns)
    assert ("cox_hr" in table.columns) == (cut != "update_2016")  # no HR published in 2016
    header = table.attrs["provenance"]
    tried = int(header.split("Tried ")[1].split(" ")[0])
    met = int(header.split("; ")[1].split(" met")[0])
    assert tried >= met >= len(table)
    for k, member in enumerate(ensemble.members):
        assert member.attrs["member"] == k
        assert not any(member.equals(other) for other in ensemble.members[:k])


@pytest.mark.parametrize(("endpoint", "cut", "member", "message"), [
    ("PFS", "primary", None, "valid: 'pfs', 'os'"),
    ("pfs", "interim", None, "valid: 'primary', 'update_2016', 'final'"),
    ("pfs", "final", None, r"valid: \('pfs', 'primary'\)"),
    ("os", "final", 99, r"'os' at cut 'final' has \d+ ensemble members .*member 99"),
    ("pfs", "primary", -1, r"'pfs' at cut 'primary' has \d+ .*member -1"),
])
def test_bad_names_and_members_are_input_errors(endpoint, cut, member, message):
    with pytest.raises(InputError, match=message):
        load_netter1_ipd(endpoint, cut, member)


@pytest.mark.parametrize(("endpoint", "cut"), PAIRS)
def test_headers_label_pseudo_ipd_and_name_every_assumption(endpoint, cut, ensembles):
    for k in range(len(ensembles[(endpoint, cut)].members)):
        text = (resources.files("prrt_bayes.reconstruct") / "data"
                / member_file_name(endpoint, cut, k)).read_text(encoding="utf-8")
        header = netter1_ipd_provenance(endpoint, cut, k)
        assert header.split("\n") == [line.removeprefix("# ") for line in text.splitlines()
                                      if line.startswith("#")]
        assert "NOT patient data: pseudo-IPD" in header
        row = ensembles[(endpoint, cut)].table.iloc[k]
        for name in ASSUMPTIONS:
            assert f"{name}: {row[name]}" in header
        assert "MISSED" not in header


def test_header_lines_without_a_space_keep_their_first_character():
    assert netter1_ipd._header("# Pseudo-IPD\n#no space\n#\n#   indented item\n#\ttab\nx\n") \
        .split("\n") == ["Pseudo-IPD", "no space", "", "  indented item", "tab"]


# ------------------------------------------------------------------------------ every target
def _check_member(netter1, endpoint: str, cut: str, ipd: pd.DataFrame, row: pd.Series) -> None:
    cut_id = CUT_IDS[cut]
    n_cut = "primary_2015" if cut == "update_2016" else cut_id
    event_quantity = "pfs_events" if endpoint == "pfs" else "os_deaths"
    for arm in ("lu177", "control"):
        rows = ipd[ipd["arm"] == arm]
        km = _km(ipd, arm)
        n = netter1.get(n_cut, "n_randomised", arm).value
        assert len(rows) <= n
        if cut != "final":
            assert rows["event"].sum() == netter1.get(cut_id, event_quantity, arm).value
        if endpoint == "pfs":
            published = netter1.get(cut_id, "pfs_survival", arm, time=20).value / 100
            assert abs(float(km.survival_function_at_times(20).iloc[0]) - published) <= 0.01
        median_quantity = f"{endpoint}_median_months"
        if cut != "primary" or endpoint == "pfs":
            median = netter1.get(cut_id, median_quantity, arm).value
            if median is None:
                assert math.isinf(km.median_survival_time_)
            else:
                assert abs(km.median_survival_time_ - median) <= 0.3
        if cut == "final":
            deaths = int(((rows["time"] <= 24) & (rows["event"] == 1)).sum())
            assert deaths == netter1.get(cut_id, "os_deaths_within_24m", arm).value
            follow_up = netter1.get(cut_id, "median_follow_up_months", arm).value
            assert abs(_follow_up(rows, int(n - len(rows)), row["follow_up_reading"])
                       - follow_up) <= 1.0
    if cut == "final":
        assert ipd["event"].sum() == netter1.get(cut_id, "os_deaths").value
    if cut == "primary":
        zeros = sum(int(netter1.get(cut_id, "n_randomised", arm).value)
                    - int((ipd["arm"] == arm).sum()) for arm in ("lu177", "control"))
        published = netter1.get(cut_id, "median_follow_up_months").value
        achieved = _follow_up(ipd, zeros, row["follow_up_reading"])
        if row["pfs_early_rule"] == "extra_dropout" and endpoint == "pfs":
            achieved = row["follow_up"]  # study follow-up model: PFS rows are censored earlier
        assert abs(achieved - published) <= 1.0
    if cut != "update_2016":
        records = netter1.alternatives(cut_id, f"{endpoint}_hazard_ratio")
        point = records[0]
        ci = next(r for r in records if r.lower is not None)
        hr, low, high = _cox(ipd)
        assert abs(hr / point.value - 1) <= 0.05, hr
        assert abs(low / ci.lower - 1) <= 0.10 and abs(high / ci.upper - 1) <= 0.10, (low, high)
        assert abs(hr - row["cox_hr"]) < 1e-3


@pytest.mark.parametrize(("endpoint", "cut"), PAIRS)
def test_every_member_meets_every_published_target(endpoint, cut, ensembles, netter1):
    ensemble = ensembles[(endpoint, cut)]
    for k, ipd in enumerate(ensemble.members):
        _check_member(netter1, endpoint, cut, ipd, ensemble.table.iloc[k])


def test_final_two_year_rmst_is_a_check_not_a_target(netter1, ensembles):
    """Not calibrated: every header reports it against the published CI; the default member
    lies inside the CI (members with other shapes may not: the range is printed)."""
    ensemble = ensembles[("os", "final")]
    values = {"lu177": [], "control": []}
    for k, ipd in enumerate(ensemble.members):
        header = netter1_ipd_provenance("os", "final", k)
        for arm in ("lu177", "control"):
            rmst = restricted_mean_survival_time(_km(ipd, arm), 24)
            values[arm].append(rmst)
            assert f"{arm}: rmst_24m {rmst:.2f} months" in header
            assert "a check, not a target" in header
    for arm in ("lu177", "control"):
        published = netter1.get("final_2021", "os_rmst_24m", arm)
        assert published.lower <= values[arm][0] <= published.upper
        print(f"{arm}: 2-year RMST across members {min(values[arm]):.2f}-"
              f"{max(values[arm]):.2f} (published {published.value:g}, "
              f"{published.lower:g}-{published.upper:g})")


# ------------------------------------------------------------------------------ the silent tail
def _tail_hr(ipd: pd.DataFrame, start: float) -> float:
    late = ipd[ipd["time"] > start].assign(time=lambda d: d["time"] - start)
    return _cox(late)[0]


@pytest.mark.parametrize(("endpoint", "cut", "start"), [("os", "final", 48.0),
                                                        ("pfs", "primary", 20.0)])
def test_members_agree_on_published_numbers_yet_differ_in_the_tail(endpoint, cut, start,
                                                                   ensembles):
    """Ranges across members of the HR after the last published time point and of the RMST
    difference at the end of follow-up are reported and must be > 0."""
    hrs, rmsts = [], []
    for ipd in ensembles[(endpoint, cut)].members:
        end = min(ipd.loc[ipd["arm"] == arm, "time"].max() for arm in ("lu177", "control"))
        hrs.append(_tail_hr(ipd, start))
        rmsts.append(restricted_mean_survival_time(_km(ipd, "lu177"), end)
                     - restricted_mean_survival_time(_km(ipd, "control"), end))
    print(f"{endpoint}/{cut}: HR after {start:g} months {min(hrs):.3f}-{max(hrs):.3f}; "
          f"RMST difference at end of follow-up {min(rmsts):.3f}-{max(rmsts):.3f} months")
    assert max(hrs) - min(hrs) > 0
    assert max(rmsts) - min(rmsts) > 0


# ------------------------------------------------------------------------------ conflicts, bytes
def test_a_target_set_no_member_can_meet_is_an_input_error():
    targets, _ = netter1_targets("os", "primary")
    impossible = replace(targets, hazard_ratio=HazardRatioTarget(0.05, 0.02, 0.12))
    with pytest.raises(InputError, match=r"endpoint 'os' at cut 'primary'.*cox_hr") as err:
        build_ensemble(impossible)
    assert "Cox hazard ratio 0.05 (95% CI 0.02-0.12)" in str(err.value)


@pytest.mark.skipif(not SCRIPT.exists(), reason="generator script not in this checkout")
def test_generator_reproduces_the_interim_os_ensemble_byte_for_byte():
    spec = importlib.util.spec_from_file_location("make_netter1_ipd", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = resources.files("prrt_bayes.reconstruct") / "data"
    files = module.render("os", "primary")
    assert len(files) == len(netter1_ensemble("os", "primary").members) + 1
    for name, text in files.items():
        assert text == (data / name).read_text(encoding="utf-8"), name
