"""A survival analysis on bundled evidence fits every reconstruction member and pools them."""

from __future__ import annotations

import numpy as np
import pytest

from prrt_bayes.core.sampling import compile_count
from prrt_bayes.pipeline.specs import resolve_spec
from prrt_bayes.reconstruct.netter1_ipd import netter1_ensemble
from prrt_bayes.survival.analysis import run
from prrt_bayes.survival.spec import SurvivalSpec

SMALL = {"draws": 400, "tune": 400, "scenarios": False}
CHAINS = 4
"""Chains per member in the bundled ``pfs_primary`` spec."""


def _spec(reconstruction, piecewise: bool = False) -> SurvivalSpec:
    """The bundled PFS analysis (its recommended model, or the piecewise PH model)."""
    data = resolve_spec("pfs_primary").with_overrides(**SMALL).model_dump()
    data["evidence"]["reconstruction"] = reconstruction
    if piecewise:
        data["model"] = {"family": "ph_piecewise", "intervals": 6, "time_varying_hr": True}
        data["priors"] = {}
    return SurvivalSpec.model_validate(data)


@pytest.fixture(scope="module")
def one_member():
    """Member 1 alone; it also compiles the structure the ensemble shares, if no earlier test
    did."""
    return run(_spec(1))


@pytest.fixture(scope="module")
def pooled(one_member):
    before = compile_count()
    result = run(_spec("ensemble"))
    return result, compile_count() - before


def test_every_member_is_fitted_with_one_compiled_model(pooled):
    result, compiles = pooled
    k = len(netter1_ensemble("pfs", "primary").members)
    assert k >= 5
    assert compiles == 0  # members share the structure (and the cut points) of the first fit
    assert result.tree.posterior.sizes["chain"] == k * CHAINS
    assert result.survival["lu177"].sizes["chain"] == k * CHAINS
    assert len(result.reconstruction_members) == k


def test_spread_has_every_member_and_the_pool(pooled):
    result, _ = pooled
    spread = result.reconstruction_spread
    hr = spread[spread["quantity"] == "excess_hazard_ratio"]
    members = hr[hr["member"] != "pooled"]
    assert len(members) == len(result.reconstruction_members)
    pooled_row = hr[hr["member"] == "pooled"].iloc[0]
    # the pooled posterior is the summary's, and it spans every member's median
    summary = result.summary.set_index("quantity").loc["excess_hazard_ratio"]
    assert pooled_row["median"] == pytest.approx(summary["median"], rel=1e-12)
    assert pooled_row["lower"] < members["median"].min()
    assert pooled_row["upper"] > members["median"].max()
    # the members differ where the summaries are silent: their tails are not all the same
    mean_gain = spread[(spread["quantity"] == "mean_survival_difference_months")
                       & (spread["member"] != "pooled")]
    assert np.ptp(mean_gain["median"].to_numpy()) > 0


def test_one_member_on_request(one_member):
    result = one_member
    assert result.reconstruction_spread is None
    assert list(result.reconstruction_members["member"]) == [1]
    assert result.tree.posterior.sizes["chain"] == CHAINS


def test_reconstruction_choice_needs_bundled_data(tmp_path):
    ipd = tmp_path / "ipd.csv"
    ipd.write_text("time,event,arm\n1,1,lu177\n2,0,control\n")
    with pytest.raises(ValueError, match="reconstruction"):
        SurvivalSpec.model_validate({
            "name": "x", "kind": "survival",
            "evidence": {"endpoint": "pfs", "ipd": str(ipd), "reconstruction": "default"}})


def test_non_ph_members_share_the_hr_periods():
    """The period HR model: every member gets the first member's HR period cut, so the pooled
    period HRs are the same quantity (and the members share one structure)."""
    result = run(_spec("ensemble", piecewise=True))
    k = len(result.reconstruction_members)
    assert result.tree.posterior.sizes["chain"] == CHAINS * k
    periods = [q for q in result.summary["quantity"] if q.startswith("hazard_ratio_")]
    assert len(periods) == 2
