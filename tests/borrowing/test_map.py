"""Binomial MAP prior (exact and PyMC), mixtures, robustification, conflict, CLI summary, inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from prrt_bayes.borrowing import (
    BetaMixture,
    NormalMixture,
    binomial_map_exact,
    binomial_map_model,
    conflict,
    fit_beta_mixture,
    fit_normal_mixture,
    log_median_estimate,
    map_prior_summary,
    prior_predictive_check,
    robustify,
    se_from_ci,
)
from prrt_bayes.core.diagnostics import check_diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import HalfNormal, Normal, parse_float_list, parse_prior
from prrt_bayes.core.sampling import SamplerSettings, sample

# Neuenschwander et al. (2010) transplant example (RBesT data set `transplant`)
R = [6, 8, 17, 28, 26, 8, 22, 8, 6, 16, 53]
N = [33, 45, 74, 103, 140, 49, 83, 59, 22, 109, 213]
TAU1 = parse_prior("halfnormal:1")
MU2 = parse_prior("normal:0,2")


@pytest.fixture(scope="module")
def transplant_exact():
    return binomial_map_exact(R, N, tau_prior=TAU1, mu_prior=MU2)


# ----- binomial MAP ------------------------------------------------------------------------
def test_study_marginal_matches_adaptive_quadrature():
    # the adaptive Gauss-Hermite marginal against scipy.integrate.quad, across tau
    from prrt_bayes.borrowing.binomial_map import _log_marginal_study

    for r, n, mu, tau in [
        (6, 33, -1.3, 0.2),
        (53, 213, -2.0, 1.5),
        (0, 40, 0.5, 3.0),
        (22, 22, -1.0, 0.01),
    ]:

        def f(th, r=r, n=n, mu=mu, tau=tau):
            p = special.expit(th)
            return p**r * (1 - p) ** (n - r) * stats.norm.pdf(th, mu, tau)

        ref, _ = integrate.quad(
            f,
            mu - 12 * tau,
            mu + 12 * tau,
            points=[special.logit((r + 0.5) / (n + 1))],
            limit=500,
            epsabs=0,
            epsrel=1e-10,
        )
        got = _log_marginal_study(float(r), float(n), np.array(mu), np.array(tau))
        assert float(got) == pytest.approx(math.log(ref), abs=1e-6)


def test_exact_posterior_is_grid_converged(transplant_exact):
    fine = binomial_map_exact(R, N, tau_prior=TAU1, mu_prior=MU2, n_mu=401, n_tau=401)
    assert transplant_exact.p_new_moments()[0] == pytest.approx(fine.p_new_moments()[0], abs=1e-5)
    assert transplant_exact.p_new_moments()[1] == pytest.approx(fine.p_new_moments()[1], abs=1e-5)
    assert transplant_exact.tau_quantile(0.5) == pytest.approx(fine.tau_quantile(0.5), abs=2e-3)


def test_transplant_mcmc_matches_exact(transplant_exact):
    """NUTS on the transplant binomial MAP model (RBesT gMAP setting) agrees with the
    deterministic quadrature: mu mean and tau median within 0.03, p_new mean and sd within 0.003
    (measured -1.335 / 0.191 / 0.2112 / 0.0432 against exact -1.333 / 0.187 / 0.2119 / 0.0444)."""
    model = binomial_map_model(R, N, tau_prior=TAU1, mu_prior=MU2)
    settings = SamplerSettings(draws=2000, tune=1000, chains=4, target_accept=0.95, seed=5)
    tree = sample(model, settings)
    diag = check_diagnostics(tree, ["mu", "tau", "p_new"])
    assert diag.max_rhat < 1.01 and diag.divergences <= 10
    mu = tree.posterior["mu"].values.ravel()
    tau = tree.posterior["tau"].values.ravel()
    p_new = tree.posterior["p_new"].values.ravel()
    mean, sd = transplant_exact.p_new_moments()
    assert np.mean(mu) == pytest.approx(transplant_exact.mu_mean(), abs=0.03)
    assert np.median(tau) == pytest.approx(transplant_exact.tau_quantile(0.5), abs=0.03)
    assert np.mean(p_new) == pytest.approx(mean, abs=0.003)
    assert np.std(p_new) == pytest.approx(sd, abs=0.003)


def test_binomial_prior_predictive_is_plausible():
    # mu ~ N(0, 2^2), tau ~ HN(1) on the logit scale: simulated rates span (0, 1), centred at 1/2
    model = binomial_map_model(R, N, tau_prior=TAU1, mu_prior=MU2)
    check = prior_predictive_check(model, observed="r_obs", draws=4000, seed=8)
    assert check["tau_quantiles"][1] == pytest.approx(stats.halfnorm.ppf(0.5), rel=0.1)
    tree_rates = check["rate_quantiles"]
    assert tree_rates[0] < 0.05 and tree_rates[2] > 0.95
    assert tree_rates[1] == pytest.approx(0.5, abs=0.05)


def test_binomial_map_recovers_known_parameters():
    rng = np.random.default_rng(7)
    k, mu, tau = 30, -1.0, 0.4
    n = rng.integers(40, 200, k)
    theta = rng.normal(mu, tau, k)
    r = rng.binomial(n, special.expit(theta))
    post = binomial_map_exact(r, n, tau_prior=TAU1, mu_prior=MU2)
    # 99% intervals (a 95% one misses 1 time in 20 by design; this seed's effects average -1.18)
    assert post.mu_quantile(0.005) < mu < post.mu_quantile(0.995)
    assert post.tau_quantile(0.005) < tau < post.tau_quantile(0.995)
    assert post.mu_mean() == pytest.approx(theta.mean(), abs=0.05)


def test_exact_draws_match_exact_moments(transplant_exact):
    draws = special.expit(transplant_exact.sample_theta_new(40_000, np.random.default_rng(3)))
    mean, sd = transplant_exact.p_new_moments()
    assert draws.mean() == pytest.approx(mean, abs=4 * sd / 200)
    assert draws.std() == pytest.approx(sd, rel=0.03)
    assert np.quantile(draws, 0.975) == pytest.approx(
        transplant_exact.p_new_quantile(0.975), abs=0.005
    )


# ----- mixtures ----------------------------------------------------------------------------
def test_beta_mixture_update_matches_numerical_posterior():
    prior = BetaMixture([0.7, 0.3], [20, 1], [60, 1])
    post = prior.posterior(18, 101)
    x = np.linspace(1e-6, 1 - 1e-6, 400_001)
    dens = prior.pdf(x) * stats.binom.pmf(18, 101, x)
    dens /= np.trapezoid(dens, x)
    assert post.mean() == pytest.approx(np.trapezoid(x * dens, x), abs=1e-7)
    assert post.cdf(0.2) == pytest.approx(np.trapezoid(np.where(x <= 0.2, dens, 0), x), abs=1e-4)


def test_normal_mixture_update_matches_numerical_posterior():
    prior = NormalMixture([0.8, 0.2], [3.0, 3.0], [0.2, 1.0])
    post = prior.posterior(2.2, 0.25)
    x = np.linspace(-5, 10, 300_001)
    dens = prior.pdf(x) * stats.norm.pdf(2.2, x, 0.25)
    dens /= np.trapezoid(dens, x)
    assert post.mean() == pytest.approx(np.trapezoid(x * dens, x), abs=1e-7)
    assert post.sd() ** 2 == pytest.approx(np.trapezoid((x - post.mean()) ** 2 * dens, x), rel=1e-6)


def test_mixture_quantiles_invert_cdf():
    for mix in (
        BetaMixture([0.6, 0.4], [5, 30], [20, 10]),
        NormalMixture([0.5, 0.5], [0, 4], [1, 2]),
    ):
        for q in (0.025, 0.5, 0.975):
            assert float(mix.cdf(mix.ppf(q))) == pytest.approx(q, abs=1e-9)


def test_em_recovers_mixture_parameters():
    rng = np.random.default_rng(11)
    truth_b = BetaMixture([0.7, 0.3], [30, 3], [70, 3])
    fit_b, _ = fit_beta_mixture(truth_b.sample(20_000, rng), 2)
    np.testing.assert_allclose(fit_b.weights, truth_b.weights, atol=0.03)
    np.testing.assert_allclose(fit_b.a / (fit_b.a + fit_b.b), [0.3, 0.5], atol=0.02)
    truth_n = NormalMixture([0.6, 0.4], [0.0, 3.0], [0.5, 1.5])
    fit_n, _ = fit_normal_mixture(truth_n.sample(20_000, rng), 2)
    np.testing.assert_allclose(fit_n.weights, truth_n.weights, atol=0.03)
    np.testing.assert_allclose(fit_n.means, truth_n.means, atol=0.1)
    np.testing.assert_allclose(fit_n.sds, truth_n.sds, atol=0.1)


def test_robustify_weight_one_gives_vague_component():
    informative = BetaMixture([0.5, 0.5], [20, 40], [80, 60])
    vague = robustify(informative, 1.0)
    assert vague.components() == [(1.0, 1.0, 1.0)]
    nvague = robustify(NormalMixture([1.0], [2.0], [0.1]), 1.0, mean=0.0, sd=5.0)
    assert nvague.components() == [(1.0, 0.0, 5.0)]
    assert robustify(informative, 0.0).components() == informative.components()


def test_informative_weight_decreases_as_data_move_away():
    prior = robustify(BetaMixture([1.0], [40], [160]), 0.2)  # informative around 0.2
    weights = [prior.posterior(r, 100).weights[0] for r in (20, 30, 40, 50, 60)]
    assert all(a > b for a, b in zip(weights, weights[1:], strict=False))
    assert weights[0] > 0.8 and weights[-1] < 0.01
    nprior = robustify(NormalMixture([1.0], [0.0], [0.1]), 0.2, mean=0.0, sd=1.0)
    nweights = [nprior.posterior(y, 0.1).weights[0] for y in (0.0, 0.2, 0.4, 0.6, 0.8)]
    assert all(a > b for a, b in zip(nweights, nweights[1:], strict=False))


# ----- conflict ----------------------------------------------------------------------------
def test_conflict_normal_matches_closed_form():
    prior = NormalMixture([1.0], [1.0], [0.3])
    check = conflict(prior, 2.0, 0.4)
    z = (2.0 - 1.0) / 0.5
    assert check.p_tail == pytest.approx(2 * stats.norm.sf(z), abs=1e-9)
    assert check.p_box == pytest.approx(check.p_tail, abs=1e-5)  # symmetric unimodal


def test_conflict_beta_flags_discordant_counts():
    prior = BetaMixture([1.0], [40], [60])  # series response ~40%
    agree = conflict(prior, 40, 101)
    clash = conflict(prior, 18, 101)  # NETTER-1-like 18/101
    assert agree.p_box > 0.5 and not agree.flagged()
    assert clash.p_box < 0.01 and clash.flagged()
    pmf = prior.predictive_pmf(101)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert clash.p_tail == pytest.approx(2 * pmf[:19].sum(), rel=1e-9)


# ----- map_prior_summary (the CLI's function) ----------------------------------------------
@pytest.fixture(scope="module")
def summary_counts():
    return map_prior_summary(events=R, totals=N)


def test_map_prior_summary_counts(transplant_exact, summary_counts):
    out = summary_counts
    assert set(out) >= {"mean", "sd", "lower", "upper", "ess_elir", "ess_moment", "components"}
    mean, sd = transplant_exact.p_new_moments()
    assert out["mean"] == pytest.approx(mean, abs=0.002)
    assert out["sd"] == pytest.approx(sd, rel=0.05)
    assert out["lower"] == pytest.approx(transplant_exact.p_new_quantile(0.025), abs=0.005)
    assert out["upper"] == pytest.approx(transplant_exact.p_new_quantile(0.975), abs=0.005)
    assert sum(c[0] for c in out["components"]) == pytest.approx(1.0)
    assert all(len(c) == 3 and c[1] >= 1 and c[2] >= 1 for c in out["components"])


def test_map_prior_summary_robust(summary_counts):
    robust = map_prior_summary(events=R, totals=N, robust_weight=0.2)
    assert robust["components"][-1] == pytest.approx([0.2, 1.0, 1.0])
    informative = [[w / 0.8, a, b] for w, a, b in robust["components"][:-1]]
    np.testing.assert_allclose(informative, summary_counts["components"])
    assert robust["ess_moment"] < summary_counts["ess_moment"]
    assert robust["upper"] > summary_counts["upper"]


def test_map_prior_summary_estimates():
    est = map_prior_summary(
        estimates=[28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16],
        std_errors=[14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6],
        tau_prior="halfcauchy:25",
        mu_prior="normal:0,50",
    )
    # the fitted mixture reproduces the exact predictive (mean 7.986, sd 9.127) up to the
    # Monte Carlo error of 20 000 draws (SE of the mean 0.065)
    assert est["mean"] == pytest.approx(7.986, abs=0.26)
    assert est["sd"] == pytest.approx(9.127, rel=0.03)
    assert est["scale"] == "estimate" and all(len(c) == 3 for c in est["components"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"events": [5, 50], "totals": [10, 40]}, "exceed"),
        ({"events": [5, 6], "totals": [10, 10], "robust_weight": 1.5}, r"\[0, 1\]"),
        ({"events": [5, 6], "totals": [10, 10], "robust_weight": -0.1}, r"\[0, 1\]"),
        ({"events": [5], "totals": [10]}, "at least 2 studies"),
        ({"events": [5, 6, 7], "totals": [10, 10]}, "must match"),
        ({"estimates": [1.0, 2.0], "std_errors": [0.1, 0.0]}, "positive"),
        ({"estimates": [1.0, 2.0], "std_errors": [0.1, -1.0]}, "positive"),
        ({"estimates": [1.0], "std_errors": [0.1]}, "at least 2 studies"),
        ({"estimates": [1.0, 2.0], "std_errors": [0.1]}, "must match"),
        ({"events": [1, 2], "totals": [5, 5], "estimates": [1.0, 2.0]}, "not both"),
        ({}, "either"),
        ({"events": [1, 2], "totals": [5, 5], "tau_prior": "halfnormal:-1"}, "positive"),
        ({"events": [1, 2], "totals": [5, 5], "tau_prior": "gamma:2"}, "unknown"),
        ({"events": [1, 2], "totals": [5, 5], "mu_prior": "normal:0"}, "takes 2"),
    ],
)
def test_map_prior_summary_bad_inputs(kwargs, match):
    with pytest.raises(InputError, match=match) as err:
        map_prior_summary(**kwargs)
    assert "\n" not in str(err.value)


# ----- inputs ------------------------------------------------------------------------------
def test_parse_prior_and_lists():
    assert parse_prior("halfnormal:0.5") == HalfNormal(0.5)
    assert parse_prior("halfnormal:0.5").params == (0.5,)
    assert parse_prior(" Normal: 0 , 2 ") == Normal(0.0, 2.0)
    assert parse_prior(" Normal: 0 , 2 ").params == (0.0, 2.0)
    assert parse_float_list("6, 8,17") == [6.0, 8.0, 17.0]
    for bad in (
        "halfnormal",
        "halfnormal:",
        "halfnormal:abc",
        "normal:1,2,3",
        "normal:0,0",
        "halfcauchy:inf",
        "uniform:2,1",
    ):
        with pytest.raises(InputError):
            parse_prior(bad)


def test_se_from_ci_and_log_median():
    z = stats.norm.ppf(0.975)
    assert se_from_ci(math.exp(-z), math.exp(z)) == pytest.approx(1.0)
    assert se_from_ci(1.0, 3.0, log=False) == pytest.approx(1.0 / z)
    est = log_median_estimate(30.0, ci=(25.0, 36.0))
    assert est.method == "ci" and not est.approximated
    assert est.std_error == pytest.approx((math.log(36) - math.log(25)) / (2 * z))
    km = 0.1 / math.log(2)  # SE of the log of a Kaplan-Meier median from 100 events
    assert log_median_estimate(30.0, events=100).std_error == pytest.approx(km)
    half = log_median_estimate(30.0, n=200)
    assert half.method == "events_half_n" and half.approximated
    assert half.std_error == pytest.approx(km)
    fu = log_median_estimate(30.0, n=200, follow_up=30.0)
    assert fu.std_error == pytest.approx(km)  # F = median: N (1 - 1/2) events
    with pytest.raises(InputError):
        log_median_estimate(30.0)
    with pytest.raises(InputError):
        se_from_ci(3.0, 2.0)


def test_binomial_map_model_checks_the_number_of_study_names():
    with pytest.raises(InputError, match="3 study names for 2 studies"):
        binomial_map_model([3, 4], [10, 10], tau_prior=TAU1, mu_prior=MU2,
                           study_names=["a", "b", "c"])
    model = binomial_map_model([3, 4], [10, 10], tau_prior=TAU1, mu_prior=MU2,
                               study_names=["a", "b"])
    assert list(model.coords["study"]) == ["a", "b"]


def test_em_loglik_is_the_loglik_of_the_returned_mixture():
    rng = np.random.default_rng(5)
    x_n = NormalMixture([0.6, 0.4], [0.0, 3.0], [0.5, 1.5]).sample(2000, rng)
    mix_n, ll_n = fit_normal_mixture(x_n, 2, max_iter=3)
    assert ll_n == pytest.approx(float(np.log(mix_n.pdf(x_n)).sum()), rel=1e-10)
    x_b = BetaMixture([0.7, 0.3], [30, 3], [70, 3]).sample(2000, rng)
    mix_b, ll_b = fit_beta_mixture(x_b, 2, max_iter=3)
    assert ll_b == pytest.approx(float(np.log(mix_b.pdf(x_b)).sum()), rel=1e-10)


def test_fit_mixture_auto_stops_at_the_largest_feasible_k_and_checks_inputs():
    from prrt_bayes.borrowing import fit_mixture_auto

    rng = np.random.default_rng(8)
    # two well-separated modes: 2 components beat 1; 25 draws cannot support 3
    draws = np.concatenate([rng.normal(-5, 0.5, 13), rng.normal(5, 0.5, 12)])
    assert fit_mixture_auto(draws, "normal", 4).weights.size == 2
    with pytest.raises(InputError, match="family"):
        fit_mixture_auto(draws, "gamma")
    with pytest.raises(InputError, match="max_components"):
        fit_mixture_auto(draws, "normal", 0)
    with pytest.raises(InputError, match="at least 10 draws"):
        fit_mixture_auto(draws[:5], "normal")
