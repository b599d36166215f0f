"""Bundled NETTER-1 pseudo-IPD against the published figures (from prrt_bayes.evidence)."""

from __future__ import annotations

import importlib.util
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, cox_hr
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

from prrt_bayes.core.errors import InputError
from prrt_bayes.reconstruct import netter1_ipd
from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd

SCRIPT = REPO / "scripts" / "make_netter1_ipd.py"


def _km(ipd: pd.DataFrame, arm: str) -> KaplanMeierFitter:
    rows = ipd[ipd["arm"] == arm]
    return KaplanMeierFitter().fit(rows["time"], rows["event"])


def _events(ipd: pd.DataFrame, arm: str) -> int:
    return int(ipd.loc[ipd["arm"] == arm, "event"].sum())


@pytest.mark.parametrize(("endpoint", "cut"), [("pfs", "primary"), ("os", "primary"),
                                               ("os", "final")])
def test_loader_shape(endpoint, cut):
    ipd = load_netter1_ipd(endpoint, cut)
    assert list(ipd.columns) == ["time", "event", "arm"]
    assert ipd["time"].dtype == float and ipd["event"].dtype == int
    assert set(ipd["arm"]) == {"lu177", "control"}
    assert (ipd["time"] > 0).all() and set(ipd["event"]) <= {0, 1}
    assert "NOT patient data" in ipd.attrs["provenance"]


def test_pfs_primary_meets_published_figures(netter1):
    """S(20) within 1 point, control median within 0.3, events exact, HR in CI and within 15%."""
    ipd = load_netter1_ipd("pfs", "primary")
    for arm in ("lu177", "control"):
        published = netter1.get("primary_2015", "pfs_survival", arm=arm, time=20).value / 100
        assert abs(float(_km(ipd, arm).survival_function_at_times(20).iloc[0]) - published) < 0.01
        assert _events(ipd, arm) == netter1.get("primary_2015", "pfs_events", arm=arm).value
    median = netter1.get("primary_2015", "pfs_median_months", arm="control").value
    assert abs(_km(ipd, "control").median_survival_time_ - median) <= 0.3
    assert np.isinf(_km(ipd, "lu177").median_survival_time_)  # published: not reached
    hr = netter1.get("primary_2015", "pfs_hazard_ratio")
    measured = cox_hr(ipd)
    assert hr.lower <= measured <= hr.upper
    assert abs(measured / hr.value - 1) <= 0.15, measured


def test_os_interim_meets_published_figures(netter1):
    """Deaths per arm exactly; Cox HR within 20% of the published one."""
    ipd = load_netter1_ipd("os", "primary")
    for arm in ("lu177", "control"):
        assert _events(ipd, arm) == netter1.get("primary_2015", "os_deaths", arm=arm).value
    hr = netter1.get("primary_2015", "os_hazard_ratio").value
    assert abs(cox_hr(ipd) / hr - 1) <= 0.20, cox_hr(ipd)


def test_os_final_meets_published_figures(netter1):
    """Medians within 1 month, HR inside the published CI, total deaths, 2-year RMST in its CI."""
    ipd = load_netter1_ipd("os", "final")
    assert int(ipd["event"].sum()) == netter1.get("final_2021", "os_deaths").value
    for arm in ("lu177", "control"):
        n_randomised = netter1.get("final_2021", "n_randomised", arm=arm).value
        assert (ipd["arm"] == arm).sum() == n_randomised
        median = netter1.get("final_2021", "os_median_months", arm=arm).value
        assert abs(_km(ipd, arm).median_survival_time_ - median) <= 1.0
        rmst = netter1.get("final_2021", "os_rmst_24m", arm=arm)
        assert rmst.lower <= restricted_mean_survival_time(_km(ipd, arm), 24) <= rmst.upper
        rows = ipd[ipd["arm"] == arm]
        deaths_24 = int(((rows["time"] <= 24) & (rows["event"] == 1)).sum())
        published = netter1.get("final_2021", "os_deaths_within_24m", arm=arm).value
        assert abs(deaths_24 - published) <= 2, (arm, deaths_24)
    hr = netter1.get("final_2021", "os_hazard_ratio")
    assert hr.lower <= cox_hr(ipd) <= hr.upper, cox_hr(ipd)


@pytest.mark.parametrize(("endpoint", "cut", "message"), [
    ("PFS", "primary", "valid: 'pfs', 'os'"),
    ("pfs", "interim", "valid: 'primary', 'final'"),
    ("pfs", "final", r"valid: \('pfs', 'primary'\), \('os', 'primary'\), \('os', 'final'\)"),
])
def test_bad_names_list_the_valid_ones(endpoint, cut, message):
    with pytest.raises(InputError, match=message):
        load_netter1_ipd(endpoint, cut)


def test_header_lines_without_a_space_keep_their_first_character(tmp_path, monkeypatch):
    csv = tmp_path / "ipd.csv"
    csv.write_text("# Pseudo-IPD\n#no space\n#\n#   indented item\n#\ttab\n"
                   "time,event,arm\n1.5,1,lu177\n2.0,0,control\n", encoding="utf-8")
    monkeypatch.setattr(netter1_ipd, "_file", lambda endpoint, cut: csv)
    ipd = load_netter1_ipd("pfs", "primary")
    assert ipd.attrs["provenance"].split("\n") == [
        "Pseudo-IPD", "no space", "", "  indented item", "tab"]
    assert list(ipd["time"]) == [1.5, 2.0]


@pytest.mark.parametrize(("endpoint", "cut"), list(netter1_ipd.DATASETS))
def test_bundled_provenance_is_the_header_without_hash_space(endpoint, cut):
    text = (resources.files("prrt_bayes.reconstruct") / "data"
            / netter1_ipd.DATASETS[(endpoint, cut)]).read_text(encoding="utf-8")
    expected = [line.removeprefix("# ") for line in text.splitlines() if line.startswith("#")]
    assert load_netter1_ipd(endpoint, cut).attrs["provenance"].split("\n") == expected


@pytest.mark.skipif(not SCRIPT.exists(), reason="generator script not in this checkout")
def test_generator_reproduces_shipped_files_byte_for_byte():
    spec = importlib.util.spec_from_file_location("make_netter1_ipd", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = resources.files("prrt_bayes.reconstruct") / "data"
    for name, text in module.render_all().items():
        assert text == (data / name).read_text(encoding="utf-8"), name
