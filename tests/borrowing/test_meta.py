"""Normal-normal hierarchical model: exact quadrature against bayesmeta, MCMC against exact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from prrt_bayes.borrowing import (
    meta_regression_exact,
    normal_normal_exact,
    normal_normal_model,
    prior_predictive_check,
)
from prrt_bayes.core.diagnostics import check_diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import parse_prior
from prrt_bayes.core.sampling import SamplerSettings, sample

# Rubin (1981) eight schools, as in the bayesmeta vignette
SCHOOLS_Y = [28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16]
SCHOOLS_SE = [14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6]
TAU_PRIOR = parse_prior("halfcauchy:25")
MU_PRIOR = parse_prior("normal:0,50")

# bayesmeta's deterministic answer (vignette)
BAYESMETA = {
    "mu_median": 7.963,
    "mu_mean": 7.986,
    "mu_sd": 4.996,
    "tau_median": 4.759,
    "tau_mean": 5.885,
    "theta_new_mean": 7.986,
    "theta_new_sd": 9.127,
}


@pytest.fixture(scope="module")
def schools_exact():
    return normal_normal_exact(SCHOOLS_Y, SCHOOLS_SE, tau_prior=TAU_PRIOR, mu_prior=MU_PRIOR)


@pytest.mark.parametrize("key", sorted(BAYESMETA))
def test_eight_schools_exact_matches_bayesmeta(schools_exact, key):
    assert schools_exact.summary()[key] == pytest.approx(BAYESMETA[key], abs=0.005)


def test_exact_grid_is_converged(schools_exact):
    fine = normal_normal_exact(
        SCHOOLS_Y, SCHOOLS_SE, tau_prior=TAU_PRIOR, mu_prior=MU_PRIOR, n_grid=32000
    ).summary()
    default = schools_exact.summary()
    for key in fine:
        assert default[key] == pytest.approx(fine[key], abs=1e-3)


def test_tiny_tau_reduces_to_common_effect():
    # tau ~ Uniform(0, 1e-8): the model is the common-effect model, mu | y normal in closed form
    post = normal_normal_exact(
        SCHOOLS_Y, SCHOOLS_SE, tau_prior=parse_prior("uniform:0,1e-8"), mu_prior=MU_PRIOR
    )
    y, s = np.array(SCHOOLS_Y), np.array(SCHOOLS_SE)
    prec = np.sum(1 / s**2) + 1 / 50**2
    mean = np.sum(y / s**2) / prec
    assert post.mean() == pytest.approx(mean, rel=1e-9)
    assert post.sd() == pytest.approx(prec**-0.5, rel=1e-9)
    assert post.quantile(0.975) == pytest.approx(stats.norm.ppf(0.975, mean, prec**-0.5), abs=1e-7)


def test_flat_mu_prior_close_to_wide_normal():
    flat = normal_normal_exact(SCHOOLS_Y, SCHOOLS_SE, tau_prior=TAU_PRIOR).summary()
    wide = normal_normal_exact(
        SCHOOLS_Y, SCHOOLS_SE, tau_prior=TAU_PRIOR, mu_prior=parse_prior("normal:0,1e5")
    ).summary()
    for key in flat:
        assert flat[key] == pytest.approx(wide[key], abs=1e-3)


def test_eight_schools_mcmc_matches_exact(schools_exact):
    """NUTS (4 x 3000 draws, non-centred) on the eight schools agrees with the exact quadrature:
    mu median and sd within 0.15, tau median within 0.3 (measured 7.979 / 4.959 / 4.767 against
    exact 7.963 / 4.996 / 4.759)."""
    model = normal_normal_model(SCHOOLS_Y, SCHOOLS_SE, tau_prior=TAU_PRIOR, mu_prior=MU_PRIOR)
    settings = SamplerSettings(draws=3000, tune=1000, chains=4, target_accept=0.95, seed=11)
    tree = sample(model, settings)
    diag = check_diagnostics(tree, ["mu", "tau", "theta_new"])
    assert diag.max_rhat < 1.01
    assert diag.divergences <= 10
    mu = tree.posterior["mu"].values.ravel()
    tau = tree.posterior["tau"].values.ravel()
    exact = schools_exact.summary()
    assert np.median(mu) == pytest.approx(exact["mu_median"], abs=0.15)
    assert np.std(mu) == pytest.approx(exact["mu_sd"], abs=0.15)
    assert np.median(tau) == pytest.approx(exact["tau_median"], abs=0.3)


def test_prior_predictive_matches_direct_simulation():
    # the PyMC model's prior predictive against the hierarchy simulated directly with numpy
    model = normal_normal_model(SCHOOLS_Y, SCHOOLS_SE, tau_prior=TAU_PRIOR, mu_prior=MU_PRIOR)
    check = prior_predictive_check(model, draws=4000, seed=3)
    rng = np.random.default_rng(4)
    n = 200_000
    mu = rng.normal(0, 50, n)
    tau = np.abs(25 * rng.standard_cauchy(n))
    se = rng.choice(SCHOOLS_SE, n)
    y = rng.normal(mu + tau * rng.standard_normal(n), se)
    ref = np.quantile(y, [0.025, 0.5, 0.975])
    lo, mid, hi = check["y_quantiles"]
    assert lo == pytest.approx(ref[0], rel=0.15)
    assert hi == pytest.approx(ref[2], rel=0.15)
    assert abs(mid - ref[1]) < 10
    assert check["tau_quantiles"][1] == pytest.approx(25, rel=0.15)  # half-Cauchy median = scale


def test_recovers_known_mu_and_tau():
    rng = np.random.default_rng(2024)
    mu, tau, k = 1.0, 0.5, 40
    se = rng.uniform(0.1, 0.4, k)
    y = rng.normal(rng.normal(mu, tau, k), se)
    post = normal_normal_exact(y, se, tau_prior=parse_prior("halfnormal:1"))
    assert post.quantile(0.025) < mu < post.quantile(0.975)
    assert post.tau_quantile(0.025) < tau < post.tau_quantile(0.975)
    assert post.mean() == pytest.approx(mu, abs=0.25)
    assert post.tau_quantile(0.5) == pytest.approx(tau, abs=0.2)


@pytest.mark.parametrize(
    ("y", "s", "match"),
    [
        ([1.0], [0.2], "at least 2 studies"),
        ([1.0, 2.0], [0.2, 0.0], "positive"),
        ([1.0, 2.0], [0.2, -0.1], "positive"),
        ([1.0, 2.0, 3.0], [0.2, 0.3], "must match"),
        ([1.0, float("nan")], [0.2, 0.3], "finite"),
    ],
)
def test_bad_inputs(y, s, match):
    with pytest.raises(InputError, match=match):
        normal_normal_exact(y, s, tau_prior=TAU_PRIOR)


def test_bad_hyperpriors():
    with pytest.raises(InputError, match="tau prior"):
        normal_normal_exact(SCHOOLS_Y, SCHOOLS_SE, tau_prior=parse_prior("normal:0,1"))
    with pytest.raises(InputError, match="mu prior"):
        normal_normal_exact(
            SCHOOLS_Y, SCHOOLS_SE, tau_prior=TAU_PRIOR, mu_prior=parse_prior("halfnormal:1")
        )


# ----- meta-regression (study covariate, e.g. population type) -----------------------------
def test_meta_regression_with_null_covariate_is_the_plain_model(schools_exact):
    # an all-zero covariate leaves the likelihood unchanged: same answer as without it
    post = meta_regression_exact(
        SCHOOLS_Y,
        SCHOOLS_SE,
        np.zeros(8),
        [0.0],
        tau_prior=TAU_PRIOR,
        mu_prior=MU_PRIOR,
        coef_prior=parse_prior("normal:0,1"),
    )
    plain = schools_exact.summary()
    for key, value in post.summary().items():
        assert value == pytest.approx(plain[key], abs=1e-8)


def test_meta_regression_tiny_tau_is_weighted_least_squares():
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.integers(0, 2, 12), rng.normal(size=12)])
    s = rng.uniform(0.1, 0.3, 12)
    y = 1.0 + x @ [0.5, -0.3] + rng.normal(0, s)
    post = meta_regression_exact(y, s, x, [1.0, 0.2], tau_prior=parse_prior("uniform:0,1e-9"))
    design = np.column_stack([np.ones(12), x])
    w = 1 / s**2
    cov = np.linalg.inv(design.T @ (w[:, None] * design))
    coef = cov @ design.T @ (w * y)
    x_new = np.array([1.0, 1.0, 0.2])
    assert post.mean() == pytest.approx(x_new @ coef, rel=1e-9)
    assert post.sd() == pytest.approx(np.sqrt(x_new @ cov @ x_new), rel=1e-6)


def test_meta_regression_mcmc_matches_exact():
    # two populations (covariate 0/1) with different means; MAP prior for a population-1 study
    rng = np.random.default_rng(9)
    group = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    s = rng.uniform(0.1, 0.25, group.size)
    y = rng.normal(3.0 + 0.6 * group + rng.normal(0, 0.15, group.size), s)
    priors = dict(
        tau_prior=parse_prior("halfnormal:0.5"),
        mu_prior=parse_prior("normal:0,10"),
        coef_prior=parse_prior("normal:0,1"),
    )
    exact = meta_regression_exact(y, s, group, [1.0], **priors)
    model = normal_normal_model(y, s, covariates=group, new_covariates=[1.0], **priors)
    settings = SamplerSettings(draws=2000, tune=1000, chains=4, target_accept=0.95, seed=21)
    tree = sample(model, settings)
    assert check_diagnostics(tree, ["mu", "tau", "beta", "theta_new"]).max_rhat < 1.01
    theta_new = tree.posterior["theta_new"].values.ravel()
    assert np.mean(theta_new) == pytest.approx(exact.mean("theta_new"), abs=0.02)
    assert np.std(theta_new) == pytest.approx(exact.sd("theta_new"), rel=0.05)
    tau = tree.posterior["tau"].values.ravel()
    assert np.median(tau) == pytest.approx(exact.tau_quantile(0.5), abs=0.03)
    # the new population-1 study is centred near 3.6, not at the pooled mean of both groups
    assert exact.mean("theta_new") == pytest.approx(3.6, abs=0.2)


def test_meta_regression_bad_inputs():
    with pytest.raises(InputError, match="one row per study"):
        meta_regression_exact([1.0, 2.0, 3.0], [0.1] * 3, [0, 1], [1], tau_prior=TAU_PRIOR)
    with pytest.raises(InputError, match="new_covariates"):
        meta_regression_exact([1.0, 2.0, 3.0], [0.1] * 3, [0, 1, 1], [1, 0], tau_prior=TAU_PRIOR)
    with pytest.raises(InputError, match="collinear"):
        meta_regression_exact(
            [1.0, 2.0, 3.0, 4.0],
            [0.1] * 4,
            [[0, 0], [1, 1], [0, 0], [1, 1]],
            [1, 1],
            tau_prior=TAU_PRIOR,
        )


def test_unknown_tau_family_is_not_treated_as_uniform():
    import pymc as pm

    from prrt_bayes.borrowing.inputs import as_tau_prior
    from prrt_bayes.core.priors import Gamma, Uniform

    for exact in (normal_normal_exact, meta_regression_exact):
        args = ([[0.0], [1.0]] * 4, [1.0]) if exact is meta_regression_exact else ()
        with pytest.raises(InputError, match="tau prior must be one of") as err:
            exact(SCHOOLS_Y, SCHOOLS_SE, *args, tau_prior=Gamma(2.0, 1.0))
        assert err.value.field == "tau_prior"
    with pytest.raises(InputError, match="uniform tau prior needs LOW >= 0"):
        as_tau_prior("uniform:-1,2")
    uniform = as_tau_prior("uniform:0,4")
    assert uniform == Uniform(0.0, 4.0)
    assert uniform.ppf(0.25) == pytest.approx(1.0)
    with pm.Model():
        assert uniform.to_pymc("tau").owner.op.name == "uniform"


def test_pymc_model_without_mu_prior_is_an_input_error():
    with pytest.raises(InputError, match="mu prior") as err:
        normal_normal_model(SCHOOLS_Y, SCHOOLS_SE, tau_prior=TAU_PRIOR, mu_prior=None)
    assert err.value.field == "mu_prior"


@pytest.mark.parametrize("method", ["mean", "sd", "cdf", "quantile", "sample"])
def test_posterior_unknown_target_is_an_input_error(schools_exact, method):
    args = {"cdf": (0.0,), "quantile": (0.5,), "sample": (10, np.random.default_rng(1))}
    with pytest.raises(InputError, match="target must be 'mu' or 'theta_new'"):
        getattr(schools_exact, method)(*args.get(method, ()), target="theta")
