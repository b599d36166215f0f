"""Round trip with known truth: real two-arm IPD -> published-style summaries -> ensemble ->
pooled posterior, whose 95% interval of the RMST difference should cover the data's own.

Five two-arm data sets shipped with lifelines, chosen (with the seed) before any result was
seen: Rossi recidivism (financial aid), GBSG2 breast cancer (hormone therapy), Waltons
(miR-137 vs control), Freireich leukaemia (treatment), NCCTG lung cancer (sex). Times in
months. From each only what NETTER-1 publishes is kept (N and events per arm, one landmark,
medians, median follow-up, Cox HR with its CI:
:func:`prrt_bayes.reconstruct.targets.published_style_targets`); the ensemble is built from
those alone, the PH model is fitted to every member and the draws pooled, as a bundled survival
analysis does. The truth is the Kaplan-Meier RMST difference of the real IPD at
tau = 0.75 x the shorter arm's maximum follow-up (the analogue of NETTER-1's 3-year RMST).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from lifelines import KaplanMeierFitter, datasets

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.reconstruct.ensemble import build_ensemble
from prrt_bayes.reconstruct.targets import published_style_targets
from prrt_bayes.survival.intervals import default_breakpoints
from prrt_bayes.survival.ph import fit_ph
from prrt_bayes.survival.quantities import rmst

DAYS, WEEKS = 1 / 30.4375, 7 / 30.4375
SETTINGS = SamplerSettings(draws=1000, tune=1000, chains=2, seed=20170112)


def _two_arm(frame, time, event, arm, treated, scale) -> pd.DataFrame:
    return pd.DataFrame({"time": frame[time].to_numpy(float) * scale,
                         "event": frame[event].to_numpy().astype(int),
                         "arm": np.where(frame[arm] == treated, "lu177", "control")})


def _datasets() -> dict[str, pd.DataFrame]:
    lung = datasets.load_lung()
    return {
        "rossi": _two_arm(datasets.load_rossi(), "week", "arrest", "fin", 1, WEEKS),
        "gbsg2": _two_arm(datasets.load_gbsg2(), "time", "cens", "horTh", "yes", DAYS),
        "waltons": _two_arm(datasets.load_waltons(), "T", "E", "group", "miR-137", DAYS),
        "leukemia": _two_arm(datasets.load_leukemia(), "t", "status", "Rx", 1, WEEKS),
        "lung": _two_arm(lung, "time", "status", "sex", 2, DAYS),  # status already 0/1
    }


def _km_rmst(ipd: pd.DataFrame, tau: float) -> float:
    kmf = KaplanMeierFitter().fit(ipd["time"], ipd["event"])
    grid = np.linspace(0, tau, 2001)
    return float(np.trapezoid(kmf.survival_function_at_times(grid).to_numpy(), grid))


def _pooled_rmst_difference(members: list[pd.DataFrame], tau: float) -> np.ndarray:
    first = members[0]
    cuts = list(default_breakpoints(first["time"].to_numpy(), first["event"].to_numpy(), 6))
    grid = np.linspace(0.0, tau, 401)
    draws = []
    for ipd in members:
        fit = fit_ph(ipd, settings=SETTINGS, breakpoints=cuts, check="raise")
        surv = fit.survival(grid)
        difference = (rmst(surv.sel(arm="lu177", drop=True), tau)
                      - rmst(surv.sel(arm="control", drop=True), tau))
        draws.append(np.asarray(difference).ravel())
    return np.concatenate(draws)


@pytest.mark.slow
def test_pooled_interval_covers_the_true_rmst_difference_in_most_data_sets():
    """Measured 2026-12-07: 5 of 5 covered, Waltons only just (truth -0.671 months, pooled
    interval -0.672 to -0.402: its 12 members differ little). Until that day 3 of 5 (Waltons
    and leukaemia got no member; the builder then learnt a landmark's resolution 0.5/n and
    solving an open tail level to the HR, docs/reconstruction_assumptions.md)."""
    covered, lines = 0, []
    for name, ipd in _datasets().items():
        tau = 0.75 * min(ipd.loc[ipd.arm == arm, "time"].max() for arm in ("lu177", "control"))
        truth = (_km_rmst(ipd[ipd.arm == "lu177"], tau)
                 - _km_rmst(ipd[ipd.arm == "control"], tau))
        targets = published_style_targets(ipd, treatment="lu177", control="control",
                                          landmark=tau / 1.5, endpoint=name, cut="lifelines")
        try:
            ensemble = build_ensemble(targets)
        except InputError as err:  # counted as a miss: the round trip did not get through
            lines.append(f"{name}: no ensemble meets the targets ({err.message[:160]})")
            continue
        low, high = np.quantile(_pooled_rmst_difference(
            [m.ipd for m in ensemble.members], tau), [0.025, 0.975])
        hit = bool(low <= truth <= high)
        covered += hit
        lines.append(f"{name}: {len(ensemble.members)} members of {ensemble.tried} tried; "
                     f"truth {truth:.3f}, pooled 95% CrI {low:.3f} to {high:.3f}"
                     f"{'' if hit else '  NOT COVERED'}")
    print("\n".join(lines))
    # nominal 95%: with 5 data sets, 3 or fewer covered has probability 0.023
    assert covered >= 4, "\n".join(lines)


def test_rmst_of_a_constant_hazard_matches_its_closed_form():
    """The helper's RMST is the integral of S: (1 - exp(-lambda tau)) / lambda."""
    grid = np.linspace(0.0, 12.0, 401)
    surv = xr.DataArray(np.exp(-0.1 * grid)[None, None, :], dims=("chain", "draw", "time"),
                        coords={"time": grid})
    assert float(rmst(surv, 12.0).squeeze()) == pytest.approx((1 - np.exp(-1.2)) / 0.1,
                                                              rel=1e-4)
