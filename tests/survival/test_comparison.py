"""Model comparison: PSIS-LOO ranking, Pareto-k reporting, failures recorded, KM area."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import simulate_weibull

from prrt_bayes.core.diagnostics import check_diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.survival import comparison as C
from prrt_bayes.survival import parametric as P


@pytest.fixture(scope="module")
def fits(request):
    """exponential_ph and weibull_ph fitted; gompertz_ph made to fail (as a sampler crash)."""
    real_build = P.build_model

    def failing_build(name, data, priors=None):
        if name == "gompertz_ph":
            raise RuntimeError("forced failure for the test")
        return real_build(name, data, priors)

    mp = pytest.MonkeyPatch()
    mp.setattr(P, "build_model", failing_build)
    try:
        # two-arm Weibull PH data with a clearly rising hazard (shape 1.8), no dropout
        ipd = simulate_weibull(np.random.default_rng(11), shape=1.8, scale=18.0, dropout_mean=None)
        return P.fit_all(ipd, ["exponential_ph", "gompertz_ph", "weibull_ph"],
                         settings=SamplerSettings(seed=5))
    finally:
        mp.undo()


def test_failure_is_recorded_not_raised(fits):
    assert list(fits) == ["exponential_ph", "gompertz_ph", "weibull_ph"]
    failure = fits["gompertz_ph"]
    assert isinstance(failure, P.FitFailure)
    assert "forced failure for the test" in failure.error
    assert isinstance(fits["weibull_ph"], P.ParametricFit)


def test_fits_converge(fits):
    for name in ("exponential_ph", "weibull_ph"):
        diag = check_diagnostics(fits[name].tree)
        assert diag.passed, (name, diag.problems)


def test_loo_ranks_weibull_above_exponential(fits):
    table = C.compare_fits(fits)
    assert list(table.columns) == list(C.COLUMNS)
    assert table["model"].tolist() == ["weibull_ph", "exponential_ph", "gompertz_ph"]
    best, expo, failed = (table.iloc[i] for i in range(3))
    assert best["rank"] == 0 and expo["rank"] == 1
    # a real difference, not noise: more than 2 standard errors of the difference
    assert expo["elpd_diff"] < -2 * expo["dse"]
    assert np.isfinite(best["elpd_loo"]) and best["se"] > 0
    assert best["n_pareto_k_high"] == 0 and best["pareto_k_max"] < C.PARETO_K_THRESHOLD
    # visual fit agrees: the true family is closer to the Kaplan-Meier curves
    assert best["km_area"] < expo["km_area"]
    assert failed["status"] == "failed" and "forced failure" in failed["error"]
    assert pd.isna(failed["elpd_loo"]) and pd.isna(failed["rank"])


def test_unconverged_fit_is_reported_not_ranked(fits, monkeypatch):
    real = C.check_diagnostics

    def fail_exponential(tree, names=None):
        found = real(tree, names)
        if "log_rate" in tree.posterior and "log_shape" not in tree.posterior:
            return dataclasses.replace(found, passed=False, problems=("max R-hat 1.2 > 1.01",))
        return found

    monkeypatch.setattr(C, "check_diagnostics", fail_exponential)
    table = C.compare_fits(fits).set_index("model")
    assert table.loc["exponential_ph", "status"] == "failed"
    assert table.loc["exponential_ph", "error"] == "not converged: max R-hat 1.2 > 1.01"
    assert pd.isna(table.loc["exponential_ph", "rank"])
    assert table.loc["weibull_ph", "rank"] == 0 and table.loc["weibull_ph", "weight"] == 1.0


def test_a_high_pareto_k_withholds_every_rank(fits, monkeypatch):
    """Issue 17: Pareto k > 0.7 blocks the LOO ranking (the exponential model's estimate is made
    unreliable by one patient's k; no model is ranked, the elpd values stay for information)."""
    real = C.loo

    def one_high_k(fit):
        result = real(fit)
        if fit.name == "exponential_ph":
            k = np.asarray(result.pareto_k, dtype=float).copy()
            k.flat[0] = 0.9
            result.pareto_k = result.pareto_k.copy(data=k)
        return result

    monkeypatch.setattr(C, "loo", one_high_k)
    table = C.compare_fits(fits).set_index("model")
    assert table.loc["exponential_ph", "status"] == "loo_unreliable"
    assert "1 patient(s) with Pareto k > 0.7" in table.loc["exponential_ph", "error"]
    assert table.loc["weibull_ph", "status"] == "ok"
    assert table["rank"].isna().all() and table["weight"].isna().all()
    assert np.isfinite(table.loc["weibull_ph", "elpd_loo"])
    assert table.index[0] == "weibull_ph"  # still listed best first by elpd


def test_pareto_k_count_matches_arviz(fits):
    result = C.loo(fits["exponential_ph"])
    table = C.compare_fits({"exponential_ph": fits["exponential_ph"]})
    assert table.loc[0, "n_pareto_k_high"] == int((np.asarray(result.pareto_k) > 0.7).sum())
    assert table.loc[0, "elpd_loo"] == pytest.approx(result.elpd)


def _fixed_exponential_fit(time, event, rate):
    """A ParametricFit whose posterior is the single value ``rate`` (exponential_separate)."""
    data = P.prepare_ipd(pd.DataFrame({"time": time, "event": event}))
    post = xr.Dataset(
        {"log_rate": (("chain", "draw", "arm"), np.full((1, 2, 1), np.log(rate)))},
        coords={"arm": list(data.arms)},
        attrs={"model": "exponential_separate", "arms": json.dumps(list(data.arms))},
    )
    return P.ParametricFit(model=P.ParametricModel("exponential_separate", data),
                           tree=xr.DataTree.from_dict({"posterior": post}), diagnostics=None,
                           settings=None)


def test_km_area_closed_form():
    """One event at T: KM = 1 on [0, T); area = int_0^T (1 - e^(-rt)) dt = T - (1 - e^(-rT))/r."""
    T, rate = 10.0, 0.1
    fit = _fixed_exponential_fit([T], [1], rate)
    expected = T - (1 - np.exp(-rate * T)) / rate
    assert C.km_area(fit)["all"] == pytest.approx(expected, rel=1e-4)


def test_fit_all_rejects_bad_input_before_fitting():
    ipd = pd.DataFrame({"time": [1.0, -1.0], "event": [1, 1], "arm": ["control", "lu177"]})
    with pytest.raises(InputError, match="time"):
        P.fit_all(ipd, ["weibull_ph"], settings=SamplerSettings())
    with pytest.raises(InputError, match="unknown parametric model"):
        P.fit_all(ipd.assign(time=[1.0, 2.0]), ["weibull"], settings=SamplerSettings())


@pytest.mark.slow
def test_all_candidates_on_lognormal_aft_data():
    """All six default candidates fit and converge on log-normal AFT data; the time ratio is
    recovered; the true model is within 2 SE of the best by LOO (log-logistic is nearly
    indistinguishable from log-normal at n = 230) and the exponential is clearly worse."""
    rng = np.random.default_rng(3)
    n = 230
    arm = np.repeat(["control", "lu177"], [n // 2, n - n // 2])
    log_t = 2.5 + np.where(arm == "lu177", np.log(1.8), 0.0) + 0.9 * rng.standard_normal(n)
    t_cens = 36.0 - rng.uniform(0, 24, n)
    ipd = pd.DataFrame({"time": np.minimum(np.exp(log_t), t_cens),
                        "event": (np.exp(log_t) <= t_cens).astype(int), "arm": arm})
    fits = P.fit_all(ipd, P.DEFAULT_MODELS, settings=SamplerSettings(seed=1))
    failures = {k: v.error for k, v in fits.items() if isinstance(v, P.FitFailure)}
    assert not failures, failures
    for name, fit in fits.items():
        diag = check_diagnostics(fit.tree)
        assert diag.passed, (name, diag.problems)
    ratio = fits["lognormal_aft"].tree.posterior["time_ratio"].values
    lo, hi = np.quantile(ratio, [0.025, 0.975])
    assert lo <= 1.8 <= hi
    table = C.compare_fits(fits)
    print(table.drop(columns="error").to_string())
    rows = table.set_index("model")
    assert rows.loc["lognormal_aft", "elpd_diff"] >= -2 * rows.loc["lognormal_aft", "dse"]
    assert rows.loc["exponential_ph", "elpd_diff"] < -2 * rows.loc["exponential_ph", "dse"]
