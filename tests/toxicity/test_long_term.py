"""Long-term MDS / leukaemia risk: person-years, horizons, priors, exact check and recovery."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

from prrt_bayes.core import fit as core_fit
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import HalfCauchy, HalfNormal, Normal, parse_prior, read_priors
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.core.vocabulary import cumulative_incidence
from prrt_bayes.evidence import load_series
from prrt_bayes.evidence.schema import Record
from prrt_bayes.toxicity.long_term import (
    LONG_TERM_PRIORS,
    LongTermRiskModel,
    cumulative_incidence_draws,
    fit_long_term_risk,
    long_term_counts,
    long_term_horizons,
    long_term_model,
    long_term_quantities,
    prior_cumulative_incidence,
)

LT_SETTINGS = SamplerSettings(draws=2000, tune=1000, target_accept=0.99)
"""The bundled toxicity spec's settings (few cohorts: high target acceptance, 2 x 2000 draws)."""

RECOVERY_SEED = 20261207
"""Seed of the simulated cohorts, fixed before the recovery test was first run."""


@pytest.fixture(scope="module")
def mds():
    return fit_long_term_risk("mds", LT_SETTINGS)


# ------------------------------------------------------------------------------ inputs
def test_person_years_from_reported_follow_up_and_exclusions():
    mds = long_term_counts("mds")
    netter = mds.included.set_index("study").loc["netter1_final_2021"]
    assert (netter.events, netter.total, netter.follow_up_statistic) == (2, 111, "median")
    assert netter.person_years == pytest.approx(111 * 76.3 / 12)
    reasons = dict(zip(mds.excluded["study"], mds.excluded["reason"], strict=True))
    for study in ("brabander2017", "sabet2013"):  # counts kept by the series rules, no follow-up
        assert reasons[study].startswith("no follow-up reported")
    assert "brabander2017" in reasons["kwekkeboom2008"]
    other = long_term_counts("mds_or_acute_leukaemia").included.set_index("study")
    assert list(other.index) == ["netter_r2022"]
    assert other.loc["netter_r2022", "person_years"] == pytest.approx(110 * 24.5 / 12)
    for endpoint in ("renal", "haematological_grade34"):  # acute toxicity is not a rate
        with pytest.raises(InputError, match="long-term endpoint"):
            long_term_counts(endpoint)


def test_mean_follow_up_preferred_and_missing_follow_up_never_filled():
    bundled = load_series()
    mean = Record(study="sabet2013", quantity="mean_follow_up_months", value=30.0,
                  unit="months", locator="test")
    median = mean.model_copy(update={"quantity": "median_follow_up_months", "value": 20.0})
    series = replace(bundled, records=(*bundled.records, median, mean))
    sabet = long_term_counts("mds", series=series).included.set_index("study").loc["sabet2013"]
    assert (sabet.follow_up_months, sabet.follow_up_statistic) == (30.0, "mean")
    assert sabet.person_years == pytest.approx(203 * 30 / 12)
    assert "brabander2017" in set(long_term_counts("mds", series=series).excluded["study"])


def test_horizons_within_follow_up_unless_extrapolation_is_asked_for():
    mds = long_term_counts("mds").included
    assert long_term_horizons(mds) == (24.0, 60.0)  # longest follow-up 76.3 months
    assert long_term_horizons(long_term_counts("mds_or_acute_leukaemia").included) == (24.0,)
    with pytest.raises(InputError, match="beyond the longest follow-up"):
        long_term_horizons(mds, [60, 120])
    assert long_term_horizons(mds, [120, 60], allow_extrapolation=True) == (60.0, 120.0)
    with pytest.raises(InputError, match="positive"):
        long_term_horizons(mds, [0, 60])
    short = mds.assign(follow_up_months=12.0)
    with pytest.raises(InputError, match="no default horizon"):
        long_term_horizons(short)
    assert cumulative_incidence(60) == "cumulative_incidence_60m"


# ------------------------------------------------------------------------------ priors
def test_prior_predictive_cumulative_incidence_at_five_years():
    """The default priors imply a median 5-year risk of 2.5% and a wide, rare-event range."""
    check = prior_cumulative_incidence(60, draws=40_000, seed=3)
    mu = LONG_TERM_PRIORS["mu"]
    exact = {q: 1 - np.exp(-np.exp(mu.ppf(q)) * 5) for q in (0.025, 0.5, 0.975)}
    pooled = check.loc["long_term_map_pooled"]
    assert pooled["median"] == pytest.approx(exact[0.5], rel=0.03)
    assert exact[0.5] == pytest.approx(1 - np.exp(-0.025))
    assert pooled["lower"] == pytest.approx(exact[0.025], rel=0.1)
    assert pooled["upper"] == pytest.approx(exact[0.975], rel=0.05)
    assert 0.001 < pooled["lower"] < 0.002 and 0.3 < pooled["upper"] < 0.45
    new = check.loc["long_term_map_predictive"]
    assert new["lower"] < pooled["lower"] and new["upper"] > pooled["upper"]  # tau widens it
    # the PyMC model draws the same prior; its simulated counts are whole and non-negative
    used = long_term_counts("mds").included
    prior = pm.sample_prior_predictive(draws=4000, model=long_term_model(used), random_seed=4)
    ci = cumulative_incidence_draws(np.asarray(prior.prior["mu"]).ravel(), 60)
    assert np.median(ci) == pytest.approx(exact[0.5], rel=0.1)
    sim = np.asarray(prior.prior_predictive["r_obs"])
    assert sim.min() >= 0 and np.issubdtype(sim.dtype, np.integer)


def test_bad_priors_and_cohorts():
    with pytest.raises(InputError, match="tau prior must be HalfNormal or HalfCauchy"):
        fit_long_term_risk("mds", LT_SETTINGS, priors={"tau": Normal(0, 1)})
    with pytest.raises(InputError, match="mu prior must be Normal"):
        fit_long_term_risk("mds", LT_SETTINGS, priors={"mu": HalfCauchy(1)})
    with pytest.raises(InputError, match="no parameter 'sigma'"):
        fit_long_term_risk("mds", LT_SETTINGS, priors={"sigma": HalfNormal(1)})
    used = long_term_counts("mds").included
    with pytest.raises(InputError, match="person-years must be > 0"):
        long_term_model(used.assign(person_years=0.0))
    with pytest.raises(InputError, match="at least 1"):
        long_term_model(used.iloc[:0])


# ------------------------------------------------------------------------------ fits
def _exact_mu_posterior(r: int, py: float, prior_mu: Normal, tau_scale: float):
    """Grid posterior of mu for one cohort: eta = log rate ~ N(mu, tau), tau ~ HalfNormal."""
    m0, s0 = prior_mu.mu, prior_mu.sigma
    mu = np.linspace(m0 - 7 * s0, m0 + 7 * s0, 1401)
    eta = np.linspace(m0 - 12 * s0, m0 + 12 * s0, 2401)
    tau = np.linspace(1e-4, 6 * tau_scale, 1200)
    d = np.linspace(eta[0] - mu[-1], eta[-1] - mu[0], 8001)
    w_tau = stats.halfnorm.pdf(tau, scale=tau_scale)
    kernel = np.trapezoid(stats.norm.pdf(d[:, None], scale=tau) * w_tau, tau, axis=1)
    like = stats.poisson.pmf(r, np.exp(eta) * py)
    k = np.interp(eta[None, :] - mu[:, None], d, kernel)
    post = stats.norm.pdf(mu, m0, s0) * np.trapezoid(k * like, eta, axis=1)
    cdf = np.cumsum(post) / post.sum()
    mean = np.sum(mu * post) / post.sum()
    sd = np.sqrt(np.sum((mu - mean) ** 2 * post) / post.sum())
    return float(np.interp(0.5, cdf, mu)), float(sd)


def test_mds_fit_matches_exact_grid_and_reports_horizons(mds):
    assert mds.diagnostics.passed, mds.diagnostics.problems
    assert read_priors(mds.tree) == LONG_TERM_PRIORS == {
        "mu": parse_prior(f"normal:{np.log(0.005)},1.5"), "tau": parse_prior("halfnormal:1")}
    s = mds.summary
    assert tuple(s.columns) == SUMMARY_COLUMNS and len(s) == 4
    assert set(s["quantity"]) == {"cumulative_incidence_24m", "cumulative_incidence_60m"}
    assert set(s["analysis"]) == {"long_term_map_pooled", "long_term_map_predictive"}
    assert set(s["endpoint"]) == {"mds"} and set(s["group"]) == {"lu177"}
    used = mds.selection.included
    median, sd = _exact_mu_posterior(2, float(used["person_years"].iloc[0]),
                                     LONG_TERM_PRIORS["mu"], 1.0)
    mu = np.asarray(mds.tree.posterior["mu"]).ravel()
    assert abs(np.median(mu) - median) < 5 * 1.25 * sd / np.sqrt(mds.diagnostics.min_ess_bulk)
    assert mu.std() == pytest.approx(sd, rel=0.1)
    pooled = s.set_index(["analysis", "quantity"]).loc[("long_term_map_pooled",
                                                        "cumulative_incidence_60m")]
    assert pooled["median"] == pytest.approx(1 - np.exp(-np.exp(np.median(mu)) * 5), rel=1e-6)
    assert pooled["median"] == pytest.approx(1 - np.exp(-np.exp(median) * 5), rel=0.1)
    assert 0.005 < pooled["median"] < 0.03  # 2 cases in about 706 person-years: 1.4% at 5 y
    attrs = mds.tree.posterior.attrs
    assert attrs["long_term_person_years"] == pytest.approx([111 * 76.3 / 12])
    assert any(note.startswith("constant hazard") for note in attrs["long_term_notes"])
    assert any("tau is informed by its prior only" in note for note in mds.notes)
    assert mds.horizons_months == (24.0, 60.0)


def test_mds_or_leukaemia_fit_converges_at_its_supported_horizon():
    fit = fit_long_term_risk("mds_or_acute_leukaemia", LT_SETTINGS)
    assert fit.diagnostics.passed, fit.diagnostics.problems
    assert set(fit.summary["quantity"]) == {"cumulative_incidence_24m"}
    with pytest.raises(InputError, match="beyond the longest follow-up"):
        fit_long_term_risk("mds_or_acute_leukaemia", LT_SETTINGS, horizons_months=[60])


def test_recovery_of_a_known_rate_from_simulated_cohorts():
    """Eight cohorts with a known rate (0.8%/year, tau 0.3) and follow-up: the truth is covered."""
    rng = np.random.default_rng(RECOVERY_SEED)
    k, mu_true, tau_true = 8, np.log(0.008), 0.3
    total = rng.integers(150, 600, size=k)
    months = rng.uniform(24, 84, size=k)
    person_years = total * months / 12
    rates = np.exp(mu_true + tau_true * rng.normal(size=k))
    events = rng.poisson(rates * person_years)
    used = pd.DataFrame({"study": [f"sim{i}" for i in range(k)], "events": events,
                         "total": total, "person_years": person_years,
                         "follow_up_months": months, "follow_up_statistic": "mean"})
    result = core_fit.fit(LongTermRiskModel(used, None), LT_SETTINGS)
    assert result.diagnostics.passed, result.diagnostics.problems
    post = result.posterior
    for name, truth in (("mu", mu_true), ("tau", tau_true)):
        lower, upper = np.quantile(np.asarray(post[name]).ravel(), [0.025, 0.975])
        assert lower < truth < upper, (name, lower, upper)
    quantities = {(a, q): d for a, q, d in long_term_quantities(post, (60.0,))}
    ci = np.asarray(quantities[("long_term_map_pooled", "cumulative_incidence_60m")]).ravel()
    lower, upper = np.quantile(ci, [0.025, 0.975])
    truth = 1 - np.exp(-0.008 * 5)
    assert lower < truth < upper and upper - lower < 0.03
