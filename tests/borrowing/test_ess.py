"""Effective sample size: analytic invariants, predictive consistency, the transplant MAP prior."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from prrt_bayes.borrowing import (
    BetaMixture,
    NormalMixture,
    binomial_map_exact,
    ess,
    fit_mixture_auto,
    robustify,
)
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import parse_prior

R = [6, 8, 17, 28, 26, 8, 22, 8, 6, 16, 53]
N = [33, 45, 74, 103, 140, 49, 83, 59, 22, 109, 213]
PUBLISHED_ESS = 90  # Neuenschwander et al. (2010), transplant MAP prior, "about 90 patients"


@pytest.mark.parametrize(("a", "b"), [(1.5, 1.5), (5, 15), (2.5, 40), (60, 240), (1.2, 7)])
def test_beta_ess_is_a_plus_b(a, b):
    prior = BetaMixture([1.0], [a], [b])
    assert ess(prior, "elir") == pytest.approx(a + b, rel=1e-6)
    assert ess(prior, "moment") == pytest.approx(a + b, rel=1e-9)


def test_beta_elir_at_a_equal_one():
    # with a = 1 exactly the log density has no curvature from the p^(a-1) term: ELIR = a
    # (the a -> 1 limit of a + b is not attained; the uniform prior carries zero information)
    assert ess(BetaMixture([1.0], [1.0], [7.0])) == pytest.approx(1.0, rel=1e-6)
    assert ess(BetaMixture([1.0], [1.0], [1.0])) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(("m", "s", "sigma"), [(0.0, 0.1, 1.0), (3.0, 2.0, 10.0), (-1, 0.5, 88)])
def test_normal_ess_is_sigma2_over_s2(m, s, sigma):
    prior = NormalMixture([1.0], [m], [s])
    assert ess(prior, "elir", sigma=sigma) == pytest.approx(sigma**2 / s**2, rel=1e-6)
    assert ess(prior, "moment", sigma=sigma) == pytest.approx(sigma**2 / s**2, rel=1e-9)


def test_logit_normal_ess_close_to_beta_ess():
    # a Beta(a, b) and its logit-normal approximation N(log(a/b), 1/a + 1/b) carry about the
    # same information for a binomial likelihood (RBesT ess example)
    a, b = 20.0, 60.0
    logit_prior = NormalMixture([1.0], [np.log(a / b)], [np.sqrt(1 / a + 1 / b)])
    assert ess(logit_prior, "elir", family="binomial") == pytest.approx(a + b, rel=0.05)


def test_elir_is_predictively_consistent():
    # Neuenschwander et al. (2020): E_{y ~ prior predictive}[ESS(posterior | y)] = ESS(prior) + n
    prior = BetaMixture([0.2, 0.8], [1, 10], [1, 2])
    n = 10
    pmf = prior.predictive_pmf(n)
    expected_post = sum(pmf[r] * ess(prior.posterior(r, n)) for r in range(n + 1))
    assert expected_post - n == pytest.approx(ess(prior), rel=1e-4)
    # the moment ESS is not consistent for this robust-type mixture
    expected_mom = sum(pmf[r] * ess(prior.posterior(r, n), "moment") for r in range(n + 1))
    assert abs(expected_mom - n - ess(prior, "moment")) > 1.0


def test_mixture_ess_orderings():
    # robustification lowers the ESS; moment ESS is conservative for heavy-tailed mixtures
    inf = BetaMixture([1.0], [30], [70])
    rob = robustify(inf, 0.2)
    assert ess(rob, "elir") < ess(inf, "elir")
    assert ess(rob, "moment") < ess(rob, "elir")


def test_ess_rejects_bad_requests():
    with pytest.raises(InputError, match="a, b >= 1"):
        ess(BetaMixture([1.0], [0.5], [3]))
    with pytest.raises(InputError, match="method"):
        ess(BetaMixture([1.0], [2], [3]), "morita")
    with pytest.raises(InputError, match="sigma"):
        ess(NormalMixture([1.0], [0], [1]), sigma=0.0)


@pytest.fixture(scope="module")
def transplant_map():
    post = binomial_map_exact(
        R, N, tau_prior=parse_prior("halfnormal:1"), mu_prior=parse_prior("normal:0,2")
    )
    draws = special.expit(post.sample_theta_new(20_000, np.random.default_rng(20170112)))
    return post, fit_mixture_auto(draws, "beta", 3)


def test_transplant_map_ess_about_90(transplant_map):
    """Moment-matched ESS reproduces the published ~90; ELIR of the mixture does not.

    Measured (tau ~ HalfNormal(1), mu ~ Normal(0, 2^2), logit scale): moment ESS of the exact
    predictive 83.8 (-7% of 90); of the fitted 3-component beta mixture 85.6 (-5%); ELIR of
    that mixture 135.7 (+51%), because ELIR rewards its peaked central component (a normal
    mixture fitted on the logit scale gives the same ELIR, 135.7). With tau ~ HalfNormal(0.5):
    moment 94.7 (+5%), ELIR 149.7 (+66%).
    """
    post, mix = transplant_map
    mean, sd = post.p_new_moments()
    exact_moment = mean * (1 - mean) / sd**2 - 1
    assert exact_moment == pytest.approx(PUBLISHED_ESS, rel=0.10)
    assert ess(mix, "moment") == pytest.approx(PUBLISHED_ESS, rel=0.10)
    assert ess(mix, "elir") > 1.2 * PUBLISHED_ESS


def test_ess_of_beta_mixture_rejects_normal_only_arguments():
    beta = BetaMixture([1.0], [2.0], [3.0])
    with pytest.raises(InputError, match="family, sigma"):
        ess(beta, "moment", family="gaussian", sigma=2.0)
    with pytest.raises(InputError, match="sigma"):
        ess(beta, "elir", sigma=1.0)
    assert ess(beta, "moment") == pytest.approx(5.0)
    normal = NormalMixture([1.0], [0.0], [0.5])
    assert ess(normal, "moment", family="gaussian", sigma=2.0) == pytest.approx(16.0)
