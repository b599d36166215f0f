"""Objective response: exact conjugate checks, recovery, predictive checks, series borrowing."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from helpers import row
from scipy import integrate, stats
from scipy.stats.contingency import odds_ratio

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Beta, HalfNormal, Normal, read_priors
from prrt_bayes.core.sampling import SamplerSettings, compile_count
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.evidence import load_series
from prrt_bayes.evidence.series_rules import POPULATION_LEVELS
from prrt_bayes.response.borrowing import (
    SERIES_MAP_PRIORS,
    borrowing_comparison,
    fit_series_response_map,
    series_map_model,
    series_map_priors,
    series_response_counts,
)
from prrt_bayes.response.model import (
    ResponseCounts,
    fit_response,
    netter1_response,
    posterior_predictive_check,
    prior_predictive_check,
)

SETTINGS = SamplerSettings(target_accept=0.8)
"""The two-arm fits' settings (the former defaults of ``fit_response``)."""

MAP_SETTINGS = SamplerSettings(draws=2000, tune=2000, target_accept=0.99, backend="nutpie-numba")
"""The series MAP fits' settings (the former defaults of ``fit_series_response_map``), on the
model's ``auto`` backend, numba, named here: compiled once per session
(tests/pipeline/test_api.py, or here), it samples 2 x 4000 iterations in under a second."""


@pytest.fixture(scope="module")
def evaluable():
    return fit_response(netter1_response("evaluable"), SETTINGS)


@pytest.fixture(scope="module")
def itt():
    return fit_response(netter1_response("itt"), SETTINGS)


@pytest.fixture(scope="module")
def series_map():
    return fit_series_response_map(MAP_SETTINGS)


# ----------------------------------------------------------------------------- inputs
def test_netter1_counts_come_from_the_evidence():
    ev = netter1_response("evaluable")
    assert (ev.lu177_events, ev.lu177_total, ev.control_events, ev.control_total) == (
        18, 101, 3, 100)
    itt = netter1_response("itt")
    assert (itt.lu177_events, itt.lu177_total, itt.control_events, itt.control_total) == (
        18, 116, 3, 113)
    assert itt.label == "netter1_itt_sensitivity"


@pytest.mark.parametrize(
    "args, text",
    [((102, 101, 3, 100), "events 102 > total 101"),
     ((-1, 101, 3, 100), "negative"),
     ((18, 101, 3.5, 100), "whole number"),
     (("many", 101, 3, 100), "whole number"),
     ((18, 0, 3, 100), "total must be > 0")],
)
def test_bad_counts_raise_one_line_input_error(args, text):
    with pytest.raises(InputError, match=text) as err:
        ResponseCounts(*args)
    assert "\n" not in str(err.value)


def test_bad_view_and_prior_raise_input_error():
    with pytest.raises(InputError, match="evaluable"):
        netter1_response("per_protocol")
    with pytest.raises(InputError, match="Beta prior"):
        fit_response(netter1_response(), SETTINGS, prior=Normal(0, 1))


# ------------------------------------------------------------------- vague-prior checks
@pytest.mark.parametrize("arm", ["lu177", "control"])
def test_posterior_median_matches_exact_beta_median(evaluable, arm):
    counts = netter1_response("evaluable")  # NEJM Table 2, from the evidence file
    r, n = getattr(counts, f"{arm}_events"), getattr(counts, f"{arm}_total")
    exact = stats.beta(1 + r, 1 + n - r).median()
    assert abs(row(evaluable.summary, "response_rate", arm)["median"] - exact) < 0.01


def test_odds_ratio_interval_contains_conditional_mle(evaluable):
    c = netter1_response("evaluable")
    mle = odds_ratio([[c.lu177_events, c.lu177_total - c.lu177_events],
                      [c.control_events, c.control_total - c.control_events]],
                     kind="conditional").statistic
    found = row(evaluable.summary, "odds_ratio", "lu177_vs_control")
    assert found["lower"] < mle < found["upper"]


def test_probability_superior_matches_numerical_integral(evaluable):
    lu, ctrl = stats.beta(19, 84), stats.beta(4, 98)
    exact, _ = integrate.quad(lambda x: lu.pdf(x) * ctrl.cdf(x), 0, 1)
    found = row(evaluable.summary, "probability_risk_difference_positive", "lu177_vs_control")
    assert found["mean"] == pytest.approx(evaluable.probability_superior())
    assert abs(found["mean"] - exact) < 0.002


def test_itt_sensitivity_is_labelled_and_lower(evaluable, itt):
    assert set(itt.summary["analysis"]) == {"netter1_itt_sensitivity"}
    assert (row(itt.summary, "response_rate", "lu177")["median"]
            < row(evaluable.summary, "response_rate", "lu177")["median"])
    exact = stats.beta(1 + 18, 1 + 116 - 18).median()
    assert abs(row(itt.summary, "response_rate", "lu177")["median"] - exact) < 0.01


def test_refit_to_other_counts_reuses_the_compiled_model(evaluable):
    """core.fit caches the graph per prior: new counts only swap the pm.Data values."""
    before = compile_count()
    fit = fit_response(ResponseCounts(5, 50, 5, 50, label="other"),
                       SamplerSettings(draws=50, tune=50, chains=1, seed=2))
    assert compile_count() == before
    assert fit.tree.posterior.sizes["draw"] == 50
    assert int(fit.tree.constant_data["events"].sel(arm="lu177")) == 5


def test_convergence_and_priors_recorded(evaluable, itt):
    for fit in (evaluable, itt):
        d = fit.diagnostics
        assert d.passed, d.problems
        assert d.max_rhat <= 1.01 and d.min_ess_bulk >= 400 and d.divergences == 0
        assert read_priors(fit.tree)["p[lu177]"] == Beta(1.0, 1.0)


def test_summary_vocabulary(evaluable):
    assert tuple(evaluable.summary.columns) == SUMMARY_COLUMNS
    assert set(evaluable.summary["quantity"]) == {
        "response_rate", "risk_difference", "odds_ratio", "probability_risk_difference_positive"}
    assert set(evaluable.summary["endpoint"]) == {"response"}
    assert "p[lu177]" in evaluable.summary.attrs["priors"]


# ------------------------------------------------------------------- predictive checks
def test_posterior_predictive_check_covers_observed(evaluable):
    ppc = posterior_predictive_check(evaluable)
    assert list(ppc["arm"]) == ["lu177", "control"]
    for record in ppc.itertuples():
        assert record.replicated_lower <= record.observed <= record.replicated_upper
        assert 0.2 < record.p_replicated_ge_observed < 0.9
        assert abs(record.replicated_mean - record.observed) < 2


def test_prior_predictive_check_uniform_prior():
    check = prior_predictive_check(netter1_response(), draws=4000, seed=3)
    for record in check.itertuples():
        assert abs(record.rate_mean - 0.5) < 0.02
        assert abs(record.rate_lower - 0.025) < 0.01 and abs(record.rate_upper - 0.975) < 0.01
        assert abs(record.responders_mean - record.total / 2) < 0.03 * record.total
        assert 0 <= record.responders_lower < record.responders_upper <= record.total


# ---------------------------------------------------------------------------- recovery
def test_recovery_of_known_rates():
    rng = np.random.default_rng(11)
    truth = {"lu177": 0.30, "control": 0.10}
    n = 2000
    counts = ResponseCounts(rng.binomial(n, truth["lu177"]), n, rng.binomial(n, truth["control"]),
                            n, label="simulated")
    fit = fit_response(counts, SETTINGS.with_seed(5))
    assert fit.diagnostics.passed, fit.diagnostics.problems
    for arm, p in truth.items():
        found = row(fit.summary, "response_rate", arm)
        assert found["lower"] < p < found["upper"]
    rd = row(fit.summary, "risk_difference", "lu177_vs_control")
    assert rd["lower"] < 0.20 < rd["upper"]
    true_or = (0.3 / 0.7) / (0.1 / 0.9)
    odds = row(fit.summary, "odds_ratio", "lu177_vs_control")
    assert odds["lower"] < true_or < odds["upper"]


# ------------------------------------------------------------------- series selection
def test_series_rules_list_every_exclusion():
    selection = series_response_counts()
    included, excluded = selection.included, selection.excluded
    studies = set(load_series().studies)
    assert set(included["study"]) | set(excluded["study"]) == studies
    assert not set(included["study"]) & set(excluded["study"])
    reasons = dict(zip(excluded["study"], excluded["reason"], strict=True))
    assert "brabander2017" in reasons["kwekkeboom2008"]
    assert "chemotherapy" in reasons["alipour2023"]
    assert "brabander2017" in set(included["study"])
    ezziddin = included.set_index("study").loc["ezziddin2014"]
    assert "SWOG" in ezziddin["note"]
    sansovini = included.set_index("study").loc["sansovini2013_full_dose"]
    assert (sansovini["events"], sansovini["total"]) == (10, 26)  # 3 CR + 7 PR
    assert set(included["level"]) <= set(POPULATION_LEVELS.values())
    strict = series_response_counts(exclude_non_recist=True)
    assert "ezziddin2014" in set(strict.excluded["study"])


def test_map_priors_default_and_unknown_names():
    assert series_map_priors() == SERIES_MAP_PRIORS
    assert list(SERIES_MAP_PRIORS) == ["alpha", "beta", "tau"]
    assert series_map_priors({"tau": HalfNormal(0.5)})["tau"] == HalfNormal(0.5)
    assert series_map_priors({"tau": HalfNormal(0.5)})["alpha"] == Normal(0.0, 2.0)
    with pytest.raises(InputError, match="no parameter 'gamma'"):
        fit_series_response_map(MAP_SETTINGS, priors={"gamma": Normal(0, 1)})


def test_map_model_needs_data_in_target_level():
    included = series_response_counts().included
    with pytest.raises(InputError, match="target"):
        series_map_model(included, target_level="midgut")


# ----------------------------------------------------------------- covariate MAP prior
def test_series_map_converges_and_mixture_matches_draws(series_map):
    d = series_map.diagnostics
    assert d.passed, d.problems
    draws = np.asarray(series_map.tree.posterior["p_new"]).ravel()
    assert abs(series_map.mixture.mean() - draws.mean()) < 0.01
    assert abs(series_map.mixture.ppf(0.5) - np.median(draws)) < 0.02
    assert set(series_map.summary["analysis"]) >= {"series_map_predictive",
                                                   "series_map_pooled_gep"}


def test_series_map_prior_predictive_is_wide():
    model = series_map_model(series_response_counts().included)
    prior = pm.sample_prior_predictive(draws=2000, model=model, random_seed=4)
    p_new = np.asarray(prior.prior["p_new"]).ravel()
    lo, hi = np.quantile(p_new, [0.05, 0.95])
    assert lo < 0.1 and hi > 0.9
    sim = np.asarray(prior.prior_predictive["responders"])
    assert sim.min() >= 0


def test_series_map_recovers_known_level_effects(series_map):
    """Simulated counts for the same cohorts (n = 3000 each): alpha, beta, theta_i recovered.

    With 3-4 cohorts per level the fixed effects are only recoverable when the realised random
    effects are small against the sampling error, hence a small true tau (0.05).
    """
    included = series_map.selection.included.copy()
    rng = np.random.default_rng(7)
    alpha, beta, tau = -1.0, 0.8, 0.05
    x = (included["level"] == "pancreatic").to_numpy(float)
    theta = alpha + beta * x + tau * rng.standard_normal(len(included))
    included["total"] = 3000
    included["events"] = rng.binomial(3000, 1 / (1 + np.exp(-theta)))
    selection = type(series_map.selection)(included, series_map.selection.excluded)
    fit = fit_series_response_map(MAP_SETTINGS.with_seed(9), selection=selection)
    assert fit.diagnostics.passed, fit.diagnostics.problems
    post = fit.tree.posterior
    a_lo, a_hi = np.quantile(np.asarray(post["alpha"]).ravel(), [0.025, 0.975])
    b_lo, b_hi = np.quantile(np.asarray(post["beta"]).ravel(), [0.025, 0.975])
    assert a_lo < alpha < a_hi and b_lo < beta < b_hi
    lo, hi = post["theta"].quantile([0.025, 0.975], dim=("chain", "draw")).values
    assert np.sum((lo < theta) & (theta < hi)) >= len(theta) - 1


# ---------------------------------------------------------------- borrowing comparison
def test_borrowing_methods_and_conflict(series_map):
    comparison = borrowing_comparison(netter1_response("evaluable"), MAP_SETTINGS,
                                      map_fit=series_map)
    table = comparison.table.set_index("method")
    assert set(table.index) == {"none", "map", "robust_map", "map_exchangeable",
                                "robust_map_exchangeable", "power_prior", "commensurate",
                                "commensurate_fixed", "full_pooling"}
    # exact conjugate anchors: no borrowing is Beta(19, 84); full pooling adds the GEP series
    assert table.loc["none", "posterior_mean"] == pytest.approx(19 / 103)
    gep = series_map.selection.included.query("level == 'gep'")
    pooled = (1 + gep["events"].sum() + 18) / (2 + gep["total"].sum() + 101)
    assert table.loc["full_pooling", "posterior_mean"] == pytest.approx(pooled)
    # NETTER-1 midgut 18% against series at 30-40%: pooling the series conflicts with it
    assert 0.30 < table.loc["full_pooling", "prior_mean"] < 0.40
    assert table.loc["full_pooling", "conflict_p_box"] < 0.01
    assert table.loc["power_prior", "conflict_p_box"] < 0.05
    # the hierarchical MAP priors allow for between-series heterogeneity: no flagged conflict,
    # and the posterior stays near NETTER-1's own estimate (unlike full pooling)
    assert table.loc["map", "conflict_p_box"] > 0.05
    assert abs(table.loc["robust_map", "posterior_mean"] - 19 / 103) < 0.02
    assert table.loc["full_pooling", "posterior_mean"] > 0.28
    # borrowing strength orders the prior ESS; the power prior borrows at most half of
    # NETTER-1's 101 evaluable 177Lu patients (plus Beta(1, 1)'s 2)
    ess = table["ess_moment"]
    assert ess["full_pooling"] > ess["power_prior"] > ess["commensurate_fixed"] > ess["map"]
    assert comparison.power_cap.capped and ess["power_prior"] <= 0.5 * 101 + 2 + 1e-9
    # Hobbs's commensurate prior (tau ~ half-Cauchy): informative (ELIR), less than pooling
    assert 1 < table.loc["commensurate", "ess_elir"] < table.loc["full_pooling", "ess_elir"]
    assert 0 < table.loc["robust_map", "posterior_informative_weight"] <= 1
    assert tuple(comparison.summary.columns) == SUMMARY_COLUMNS
    assert any("kwekkeboom2008" in note for note in comparison.notes)
    assert any("SWOG" in note for note in comparison.notes)


def test_borrowing_comparison_fits_the_map_prior_with_the_callers_settings(series_map):
    """Without a map_fit the series MAP fit runs with the caller's settings (draws, chains,
    seed), not settings of its own."""
    settings = SamplerSettings(draws=60, tune=60, chains=1, seed=3, target_accept=0.95,
                               backend="nutpie-numba")
    comparison = borrowing_comparison(netter1_response("evaluable"), settings)
    post = comparison.map_fit.tree.posterior
    assert (post.sizes["chain"], post.sizes["draw"]) == (1, 60)
    assert post.attrs["seed"] == 3
    assert read_priors(comparison.map_fit.tree) == SERIES_MAP_PRIORS
