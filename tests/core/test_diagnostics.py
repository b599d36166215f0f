"""Shared MCMC helpers: sampling (nutpie, compile once), diagnostics gate, priors, summaries."""

import json
import warnings

import numpy as np
import pandas as pd
import pymc as pm
import pytest

from prrt_bayes.core.diagnostics import (
    ConvergenceError,
    ConvergenceWarning,
    Diagnostics,
    check_diagnostics,
    require_convergence,
    worst_of,
)
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import (
    PRIOR_CLASSES,
    Gamma,
    HalfCauchy,
    HalfNormal,
    Normal,
    Uniform,
    attach_priors,
    describe_priors,
    prior_from_dict,
    read_priors,
)
from prrt_bayes.core.sampling import SamplerSettings, compile_count, sample
from prrt_bayes.core.summary import SUMMARY_COLUMNS, summarize_draws, summary_frame


@pytest.fixture(scope="module")
def normal_model() -> pm.Model:
    """Normal mean with known sd 1 and a N(0, 10) prior, data in a pm.Data container."""
    with pm.Model() as model:
        y = pm.Data("y", np.array([0.3, -0.2, 1.1, 0.4, 0.9]))
        mu = Normal(0, 10).to_pymc("mu")
        pm.Normal("obs", mu, 1.0, observed=y)
    return model


def _posterior_mean(y):
    """Conjugate posterior mean of mu: precision-weighted (prior precision 1/100)."""
    return np.sum(y) / (len(y) + 0.01)


def test_sample_is_deterministic_and_compiles_once(normal_model):
    before = compile_count()
    a = sample(normal_model, SamplerSettings(draws=500, tune=500, seed=3))
    b = sample(normal_model, SamplerSettings(draws=500, tune=500, seed=3))
    c = sample(normal_model, SamplerSettings(draws=500, tune=500, seed=4))
    np.testing.assert_array_equal(a.posterior["mu"].values, b.posterior["mu"].values)
    assert not np.array_equal(a.posterior["mu"].values, c.posterior["mu"].values)
    assert a.posterior.attrs["inference_library"] == "nutpie" or \
        a.sample_stats.attrs["inference_library"] == "nutpie"
    assert a.posterior["mu"].dims == ("chain", "draw") and a.posterior["mu"].shape == (2, 500)
    y_new = np.array([10.0, 11.0, 12.0, 9.5])
    with normal_model:
        pm.set_data({"y": y_new})  # new data, new length: no recompile
    d = sample(normal_model, SamplerSettings(draws=500, tune=500, seed=3))
    assert compile_count() - before <= 1
    assert float(d.posterior["mu"].mean()) == pytest.approx(_posterior_mean(y_new), abs=0.15)
    np.testing.assert_array_equal(d.observed_data["obs"].values, y_new)


def test_diagnostics_pass_on_a_good_fit_and_fail_on_a_short_one(normal_model):
    good = sample(normal_model, SamplerSettings(draws=1000, tune=1000, seed=1))
    diag = check_diagnostics(good)
    assert diag.passed, diag.problems
    assert diag.max_rhat <= 1.01 and diag.min_ess_bulk >= 400 and diag.min_ess_tail >= 400
    assert diag.divergences == 0 and diag.min_bfmi > 0.3
    short = sample(normal_model, SamplerSettings(draws=30, tune=30, seed=1))
    bad = check_diagnostics(short)
    assert not bad.passed and any("ESS" in p for p in bad.problems)
    with pytest.raises(ConvergenceError, match="ESS"):
        require_convergence(short, what="toy")
    with pytest.warns(ConvergenceWarning):
        require_convergence(short, on_fail="warn")
    assert short.posterior.attrs["converged"] == 0
    assert json.loads(json.dumps(bad.to_dict()))["passed"] is False


def test_divergences_are_counted():
    """Neal's funnel, centred: NUTS diverges; the gate must say so."""
    with pm.Model() as funnel:
        log_tau = pm.Normal("log_tau", 0, 3)
        pm.Normal("theta", 0, pm.math.exp(log_tau), shape=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = sample(funnel, SamplerSettings(draws=300, tune=300, seed=5))
    diag = check_diagnostics(tree)
    assert diag.divergences > 0 and not diag.passed
    assert any("divergent" in p for p in diag.problems)


def _diag(rhat, ess, bfmi, divergences=0):
    passed = rhat <= 1.01 and ess >= 400 and bfmi >= 0.3 and divergences == 0
    return Diagnostics(rhat, ess, ess, divergences, bfmi, passed, () if passed else ("bad",))


def test_worst_of_is_independent_of_order_and_propagates_nan():
    good, other = _diag(1.002, 900.0, 0.8), _diag(1.005, 500.0, 0.6, divergences=2)
    no_figures = _diag(np.nan, np.nan, np.nan)  # e.g. no energy: NaN fails the check
    combined = worst_of(good, other)
    assert (combined.max_rhat, combined.min_ess_bulk, combined.min_bfmi) == (1.005, 500.0, 0.6)
    assert combined.divergences == 2 and not combined.passed
    for order in ((good, no_figures, other), (no_figures, good, other), (good, other, no_figures)):
        worst = worst_of(*order)
        for name in ("max_rhat", "min_ess_bulk", "min_ess_tail", "min_bfmi"):
            assert np.isnan(getattr(worst, name)), (name, order)
        assert not worst.passed and worst.divergences == 2


def test_prior_objects_round_trip_and_build_pymc_variables():
    priors = {"a": Normal(0, 2.5), "b": HalfNormal(1), "c": HalfCauchy(2), "d": Gamma(2, 0.5),
              "e": Uniform(-1, 3)}
    assert describe_priors(priors)["a"] == "Normal(0, 2.5)"
    for p in priors.values():
        assert prior_from_dict(json.loads(json.dumps(p.to_dict()))) == p
    with pm.Model(coords={"k": ["x", "y"]}) as model:
        for name, p in priors.items():
            p.to_pymc(name, dims="k")
    draws = pm.draw([model[n] for n in priors], draws=4000, random_seed=1)
    assert np.mean(draws[0]) == pytest.approx(0, abs=0.15)
    assert np.std(draws[0]) == pytest.approx(2.5, rel=0.05)
    assert np.all(draws[1] > 0) and np.all(draws[2] > 0)
    assert np.mean(draws[3]) == pytest.approx(4.0, rel=0.05)  # shape / rate
    assert set(PRIOR_CLASSES) >= {"Normal", "HalfNormal", "HalfCauchy", "Gamma"}


def test_bad_priors_are_input_errors():
    with pytest.raises(InputError, match="sigma must be > 0"):
        Normal(0, -1)
    with pytest.raises(InputError, match="unknown prior"):
        prior_from_dict({"dist": "Banana", "x": 1})
    with pytest.raises(InputError, match="lower"):
        Uniform(2, 1)


def test_priors_are_stored_in_the_posterior(normal_model):
    tree = sample(normal_model, SamplerSettings(draws=100, tune=100, seed=2))
    attach_priors(tree, {"mu": Normal(0, 10)})
    assert read_priors(tree) == {"mu": Normal(0, 10)}


def test_a_posterior_probability_is_its_mean_and_nothing_else():
    # issue 17: an indicator's median and interval (1, 1 to 1) are not the probability
    draws = np.r_[np.ones(3998), np.zeros(2)].reshape(4, 1000)
    row = summarize_draws(draws, quantity="probability_risk_difference_positive",
                          group="lu177_vs_control")
    assert row["mean"] == pytest.approx(0.9995)
    assert all(np.isnan(row[c]) for c in ("sd", "median", "lower", "upper"))
    hr = summarize_draws(draws, quantity="hazard_ratio", group="lu177_vs_control")
    assert hr["median"] == 1.0


def test_summarize_draws_and_frame():
    rng = np.random.default_rng(0)
    import xarray as xr

    x = xr.DataArray(rng.normal(2.0, 0.5, (4, 5000)), dims=("chain", "draw"))
    row = summarize_draws(x, quantity="hazard_ratio", group="lu177_vs_control", endpoint="pfs",
                          analysis="primary")
    assert list(row) == list(SUMMARY_COLUMNS)
    assert row["mean"] == pytest.approx(2.0, abs=0.02) and row["sd"] == pytest.approx(0.5, rel=0.02)
    assert row["lower"] == pytest.approx(2.0 - 1.96 * 0.5, abs=0.03)
    assert row["upper"] == pytest.approx(2.0 + 1.96 * 0.5, abs=0.03)
    frame = summary_frame([row, row], priors={"log_hr": "Normal(0, 2)"})
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(SUMMARY_COLUMNS)
    assert frame.attrs["priors"] == {"log_hr": "Normal(0, 2)"}
    with pytest.raises(ValueError, match="chain/draw"):
        summarize_draws(x.expand_dims(arm=2), quantity="q", group="g")
    with pytest.raises(ValueError, match="expected"):
        summary_frame([{"quantity": "x"}])


def test_summary_of_draws_with_infinite_values():
    """Median survival not reached in a few draws (inf): quantiles stay finite and ordered."""
    draws = np.concatenate([np.linspace(10.0, 30.0, 990), np.full(10, np.inf)])
    row = summarize_draws(draws, quantity="median_survival_months", group="lu177")
    assert np.isfinite(row["lower"]) and np.isfinite(row["median"]) and np.isfinite(row["upper"])
    assert row["lower"] < row["median"] < row["upper"] <= 30.0
    assert row["mean"] == np.inf


def _ar1(rng, phi: float, shape: tuple[int, int]) -> np.ndarray:
    """Stationary AR(1) chains with unit marginal variance."""
    x = np.empty(shape)
    x[:, 0] = rng.normal(size=shape[0])
    noise = rng.normal(scale=np.sqrt(1 - phi**2), size=shape)
    for t in range(1, shape[1]):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def test_mcse_of_the_median_matches_its_spread_over_replications():
    """Known truth: the estimated MCSE of the median of autocorrelated chains agrees with the
    SD of the median over independent replications (within 20%)."""
    from prrt_bayes.core.diagnostics import quantity_mcse_ratio

    rng = np.random.default_rng(20261207)
    replicates = [_ar1(rng, 0.9, (4, 1000)) for _ in range(200)]
    empirical = np.std([np.median(x) for x in replicates])
    estimated = np.mean([quantity_mcse_ratio(x) * (np.subtract(*np.quantile(x, [0.75, 0.25]))
                                                   / 1.349) for x in replicates])
    assert abs(estimated / empirical - 1) < 0.2, (estimated, empirical)


def test_mcse_check_flags_poorly_mixed_draws_and_not_pooled_members():
    from prrt_bayes.core.diagnostics import quantity_mcse_ratio

    rng = np.random.default_rng(3)
    assert quantity_mcse_ratio(rng.normal(size=(4, 1000))) < 0.05
    assert quantity_mcse_ratio(_ar1(rng, 0.999, (4, 1000))) > 0.1
    # chains of different fits (reconstruction members) pooled as a mixture: their spread is
    # posterior spread, not Monte Carlo error
    members = rng.normal(size=(10, 1000)) + np.repeat(np.linspace(-1, 1, 5), 2)[:, None]
    assert quantity_mcse_ratio(members) < 0.05
    indicator = (rng.uniform(size=(4, 1000)) < 0.3).astype(float)
    assert quantity_mcse_ratio(indicator) == pytest.approx(1 / np.sqrt(4000), rel=0.15)
    with_infinite = rng.normal(size=(4, 1000))
    with_infinite[with_infinite > 1.5] = np.inf  # e.g. a median not reached in some draws
    assert np.isfinite(quantity_mcse_ratio(with_infinite))
    assert np.isnan(quantity_mcse_ratio(np.full((4, 1000), np.inf)))
    assert np.isnan(quantity_mcse_ratio(np.ones((4, 1000))))


def test_quantity_check_fails_an_analysis_with_an_imprecise_headline_number():
    import xarray as xr

    from prrt_bayes.core.diagnostics import with_quantity_check

    rng = np.random.default_rng(4)
    rows = [rng.normal(size=(4, 1000)), _ar1(rng, 0.999, (4, 1000)), _ar1(rng, 0.999, (4, 1000))]
    quantities = ["hazard_ratio", "mean_survival_months", "rmst_12m"]  # the last: not headline
    draws = xr.DataArray(np.stack(rows), dims=("row", "chain", "draw"),
                         coords={"quantity": ("row", quantities),
                                 "group": ("row", ["lu177_vs_control", "lu177", "lu177"]),
                                 "endpoint": ("row", ["os"] * 3),
                                 "analysis": ("row", ["os_final"] * 3)})
    tree = xr.DataTree.from_dict({"quantities": xr.Dataset({"draws": draws})})
    from prrt_bayes.core.posterior import summary_from_tree

    ok = Diagnostics(1.0, 1000.0, 1000.0, 0, 1.0, True, ())
    checked = with_quantity_check(ok, tree, summary_from_tree(tree))
    assert not checked.passed and checked.max_mcse_ratio > 0.1
    assert len(checked.problems) == 1 and "mean_survival_months (lu177, os)" in checked.problems[0]
    assert with_quantity_check(ok, None, None) is ok
