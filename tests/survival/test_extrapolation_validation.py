"""Extrapolation checked against data nobody here wrote (slow).

1. **Truncation on real IPD** (lifelines data sets with long follow-up): cut the follow-up early,
   predict each arm's RMST at a long horizon with the recommended model (family ``auto``, the
   cohort's age and sex from the data, the bundled US life table), and compare with the
   full-data Kaplan-Meier RMST; the comparator is the best-AIC lifelines parametric fit per arm
   on the same truncated data.
2. **NETTER-1 in time**: the recommended model fitted to the 2015 interim OS only (bundled
   spec ``os_interim``) against the 2021 final analysis (medians, 2-year RMSTs).

Every rule below was fixed before any result was seen, and is not tuned to the result:

- data sets and arms: gbsg2 (recurrence-free survival, hormone therapy yes vs no), lung (OS,
  ECOG 0 vs 1 or more), kidney_transplant (OS, black vs white recipients); times in months
  (days / 30.4375);
- truncation at 40% of the longest observed time; horizon at 90% of the shorter arm's longest
  observed time (where both full-data KM curves are defined);
- comparator per arm: lifelines Exponential, Weibull, log-normal, log-logistic and generalised
  gamma, the one with the lowest AIC;
- pass: the 95% CrI covers the full-data KM RMST in most arms (at least 4 of 6), and the mean
  absolute error of the posterior medians is no larger than the comparator's;
- sampler: 4 chains x 2,000 draws after 2,000 tuning steps at target acceptance 0.98 (with
  1,000 / 1,000 the lung fit's R-hat was 1.012, just above the gate; the gate is not relaxed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import (
    ExponentialFitter,
    GeneralizedGammaFitter,
    KaplanMeierFitter,
    LogLogisticFitter,
    LogNormalFitter,
    WeibullFitter,
)
from lifelines import datasets as lifelines_data
from lifelines.utils import restricted_mean_survival_time

from prrt_bayes.evidence import load_netter1
from prrt_bayes.pipeline.api import analyse
from prrt_bayes.survival.quantities import rmst

pytestmark = pytest.mark.slow

DAYS_PER_MONTH = 30.4375


def _gbsg2() -> tuple[pd.DataFrame, str]:
    df = lifelines_data.load_gbsg2()
    arm = np.where(df["horTh"] == "yes", "hormone", "control")
    return pd.DataFrame({"time": df["time"], "event": df["cens"], "arm": arm,
                         "age": df["age"], "male": 0.0}), "hormone"


def _lung() -> tuple[pd.DataFrame, str]:
    df = lifelines_data.load_lung().dropna(subset=["ph.ecog"])
    arm = np.where(df["ph.ecog"] == 0, "ecog0", "control")
    return pd.DataFrame({"time": df["time"], "event": df["status"],  # lifelines: 1 = death
                         "arm": arm, "age": df["age"],
                         "male": (df["sex"] == 1).astype(float)}), "ecog0"


def _kidney() -> tuple[pd.DataFrame, str]:
    df = lifelines_data.load_kidney_transplant()
    black = (df["black_male"] + df["black_female"]) == 1
    male = (df["black_male"] + df["white_male"]) == 1
    return pd.DataFrame({"time": df["time"], "event": df["death"],
                         "arm": np.where(black, "black", "control"), "age": df["age"],
                         "male": male.astype(float)}), "black"


DATA_SETS = {"gbsg2": _gbsg2, "lung": _lung, "kidney_transplant": _kidney}


def _km_rmst(time, event, horizon) -> float:
    km = KaplanMeierFitter().fit(time, event)
    return float(restricted_mean_survival_time(km, t=horizon))


def _best_aic_rmst(time, event, horizon) -> tuple[str, float]:
    fits = []
    for fitter in (ExponentialFitter(), WeibullFitter(), LogNormalFitter(),
                   LogLogisticFitter(), GeneralizedGammaFitter()):
        try:
            fits.append(fitter.fit(time, event))
        except Exception:  # lifelines raises several types when a fit fails to converge
            continue
    best = min(fits, key=lambda f: f.AIC_)
    return type(best).__name__, float(restricted_mean_survival_time(best, t=horizon))


def _truncated_spec(tmp_path, name: str, data: pd.DataFrame, treatment: str) -> object:
    data.loc[:, ["time", "event", "arm"]].to_csv(tmp_path / f"{name}.csv", index=False)
    text = f"""
name = "{name}"
kind = "survival"
seed = 20261207

[evidence]
ipd = "{name}.csv"
endpoint = "os"
treatment_arm = "{treatment}"
age_mean = {data["age"].mean():.6f}
age_sd = {data["age"].std():.6f}
male_fraction = {data["male"].mean():.6f}

[model]
family = "auto"

[sampler]
draws = 2000
tune = 2000
chains = 4
target_accept = 0.98

[export]
horizon_months = {np.ceil(data["time"].max() * 3):.0f}
scenarios = false
landmarks_months = [12.0]
"""
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_truncated_follow_up_predicts_the_full_data_rmst(tmp_path):
    rows = []
    for name, load in DATA_SETS.items():
        full, treatment = load()
        full = full.assign(time=full["time"] / DAYS_PER_MONTH)
        cut = 0.4 * full["time"].max()
        horizon = 0.9 * full.groupby("arm")["time"].max().min()
        truncated = full.assign(event=np.where(full["time"] > cut, 0, full["event"]),
                                time=np.minimum(full["time"], cut))
        result = analyse(_truncated_spec(tmp_path, name, truncated, treatment)).result
        assert result.diagnostics.passed, (name, result.diagnostics.problems)
        for arm, survival in result.survival.items():
            draws = rmst(survival, horizon).values.ravel()
            low, mid, high = np.quantile(draws, [0.025, 0.5, 0.975])
            f, t = full[full["arm"] == arm], truncated[truncated["arm"] == arm]
            truth = _km_rmst(f["time"], f["event"], horizon)
            family, parametric = _best_aic_rmst(t["time"], t["event"], horizon)
            rows.append({"data": name, "arm": arm, "horizon": horizon, "km_full": truth,
                         "recommended": mid, "lower": low, "upper": high,
                         "covered": low <= truth <= high, "best_aic": family,
                         "best_aic_rmst": parametric})
    table = pd.DataFrame(rows)
    error = (table["recommended"] - table["km_full"]).abs().mean()
    error_aic = (table["best_aic_rmst"] - table["km_full"]).abs().mean()
    print(table.to_string())
    print(f"covered {int(table['covered'].sum())} of {len(table)}; mean absolute error "
          f"{error:.2f} months (recommended) vs {error_aic:.2f} (best-AIC lifelines)")
    assert table["covered"].sum() >= 4
    assert error <= error_aic


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "measured 2026-12-08 (basis flat at the boundary): every published 2021 number is inside "
    "its 95% CrI (medians 48.0 and 36.3, 2-year RMSTs 21.2 and 19.3), but the 177Lu-Dotatate "
    "posterior median OS is 68.8 months (95% CrI 45.1-139.1), 43% above 48.0 (control 33.3, 8% "
    "below 36.3). No approach fitted to the 2015 data comes within 20%: in the bundled run's "
    "scenario table every scenario's 177Lu median lies between 62 and 99 months (the six TSD 14 "
    "families 66-99; without the series 88, so the series pull the tail down, not up); the "
    "interim OS HR (0.40) rose to 0.84 by 2021, a change the interim data cannot show. The "
    "model was chosen on principle and is not tuned to this check"))
def test_netter1_in_time_2015_interim_predicts_the_2021_final_analysis():
    """The recommended model fitted to the 2015 interim OS only (bundled spec ``os_interim``):
    both 2021 medians inside the 95% CrIs with posterior medians within 20%, and the published
    2-year RMSTs inside the CrIs (issue 16's figure)."""
    result = analyse("os_interim", scenarios=False).result
    assert result.diagnostics.passed, result.diagnostics.problems
    summary = result.summary.set_index(["quantity", "group"])
    netter1 = load_netter1()
    report = []
    for arm in ("lu177", "control"):
        for quantity, published in (
                ("median_survival_months", netter1.get("final_2021", "os_median_months", arm)),
                ("rmst_24m", netter1.get("final_2021", "os_rmst_24m", arm))):
            row = summary.loc[(quantity, arm)]
            report.append((arm, quantity, published.value, row["median"], row["lower"],
                           row["upper"]))
    print("arm, quantity, published 2021, posterior median, 95% CrI")
    for line in report:
        print(*line)
    covered = [lower <= value <= upper for _, _, value, _, lower, upper in report]
    close = [abs(median / value - 1) <= 0.20 for _, quantity, value, median, _, _ in report
             if quantity == "median_survival_months"]
    print(f"covered {sum(covered)} of {len(covered)}; medians within 20%: {close}")
    assert all(covered), report
    assert all(close), report
