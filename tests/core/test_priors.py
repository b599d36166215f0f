"""Prior objects: one family, mixtures included. Every prior parses from its string, evaluates
its density and quantiles like scipy, means in PyMC what it says, and is recorded and rebuilt;
the mixtures (borrowed MAP priors) validate their input."""

from __future__ import annotations

import json
import re

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import integrate, stats

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import (
    PRIOR_CLASSES,
    Beta,
    BetaMixture,
    Exponential,
    Gamma,
    HalfCauchy,
    HalfNormal,
    HalfStudentT,
    LogNormal,
    Normal,
    NormalMixture,
    Prior,
    StudentT,
    Uniform,
    as_prior,
    attach_priors,
    describe_priors,
    parse_prior,
    prior_from_dict,
    read_priors,
)

ROBUST = NormalMixture(w=(0.8, 0.2), mu=(3.1, 3.1), sigma=(0.21, 2.0))


def _tree() -> xr.DataTree:
    posterior = xr.Dataset({"x": (("chain", "draw"), np.zeros((1, 3)))})
    return xr.DataTree.from_dict({"posterior": posterior})


def test_mixture_prior_round_trips_through_the_posterior_attributes():
    tree = _tree()
    attach_priors(tree, {"log_hr": Normal(0, 2), "log_median_treatment": ROBUST})
    assert json.loads(tree.posterior.attrs["priors"])["log_median_treatment"] == {
        "dist": "NormalMixture", "w": [0.8, 0.2], "mu": [3.1, 3.1], "sigma": [0.21, 2.0]}
    assert read_priors(tree) == {"log_hr": Normal(0, 2), "log_median_treatment": ROBUST}
    assert describe_priors({"m": ROBUST})["m"] == (
        "NormalMixture(0.8 Normal(3.1, 0.21) + 0.2 Normal(3.1, 2))")


def test_the_borrowing_mixtures_are_the_prior_classes():
    from prrt_bayes.borrowing import mixtures

    mixture, _ = mixtures.fit_normal_mixture(np.random.default_rng(1).normal(3.0, 0.5, 500), 2)
    assert type(mixture) is NormalMixture
    weights, means, sds = zip(*mixture.components(), strict=True)
    assert NormalMixture(w=weights, mu=means, sigma=sds) == mixture
    grid = np.linspace(0.0, 6.0, 13)
    logpdf = np.log(sum(w * stats.norm.pdf(grid, m, s)
                        for w, m, s in zip(mixture.w, mixture.mu, mixture.sigma, strict=True)))
    np.testing.assert_allclose(mixture.logpdf(grid), logpdf, rtol=1e-12)
    np.testing.assert_allclose(np.log(mixture.pdf(grid)), logpdf, rtol=1e-12)


def test_mixture_prior_accepts_numpy_values():
    prior = NormalMixture(w=np.array([0.8, 0.2]), mu=np.array([3.0, 3.5], dtype=np.float32),
                          sigma=[np.int64(1), 2.0])
    assert prior.w == (0.8, 0.2) and prior.mu == (3.0, 3.5) and prior.sigma == (1.0, 2.0)
    assert NormalMixture(w=1, mu=np.float32(3.0), sigma=2).mu == (3.0,)
    with pytest.raises(InputError, match="same length"):
        NormalMixture(w=np.array([0.8, 0.2]), mu=np.float32(3.0), sigma=[1.0])


def test_mixture_prior_in_pymc_has_the_mixture_density():
    with pm.Model() as model:
        ROBUST.to_pymc("theta")
    logp = model.compile_logp()
    for value in (1.0, 3.1, 5.0):
        expected = np.log(0.8 * stats.norm.pdf(value, 3.1, 0.21)
                          + 0.2 * stats.norm.pdf(value, 3.1, 2.0))
        assert logp({"theta": value}) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("data", "needle"), [
    ({"w": [0.5, 0.4], "mu": [0, 1], "sigma": [1, 1]}, "summing to 1"),
    ({"w": [0.5, 0.5], "mu": [0, 1], "sigma": [1, 0]}, "sigma must be > 0"),
    ({"w": [0.5, 0.5], "mu": [0], "sigma": [1, 1]}, "same length"),
    ({"w": [1.0], "mu": ["a"], "sigma": [1]}, "finite numbers"),
    ({"w": [], "mu": [], "sigma": []}, "finite numbers"),
    ({"w": [True], "mu": [0.0], "sigma": [1.0]}, "finite numbers"),
    ({"w": [1.0], "mu": [[0.0, 1.0]], "sigma": [1.0]}, "finite numbers"),
    ({"w": [1.0], "mu": [0.0], "sigma": [1.0], "nu": 3}, "unknown parameters"),
])
def test_bad_mixture_priors_are_input_errors(data, needle):
    with pytest.raises(InputError, match=needle):
        prior_from_dict({"dist": "NormalMixture", **data})


# ----- the prior string parser -------------------------------------------------------------------
@pytest.mark.parametrize(("text", "prior"), [
    ("normal:0,2", Normal(0.0, 2.0)),
    (" Normal: 0 , 2 ", Normal(0.0, 2.0)),
    ("halfnormal:0.5", HalfNormal(0.5)),
    ("HALFCAUCHY:25", HalfCauchy(25.0)),
    ("halft:3,1.5", HalfStudentT(3.0, 1.5)),
    ("uniform:0,1e-8", Uniform(0.0, 1e-8)),
    ("beta:2,3", Beta(2.0, 3.0)),
])
def test_parse_prior_gives_the_prior_objects(text, prior):
    assert parse_prior(text) == prior
    assert as_prior(text) == prior
    assert as_prior(prior) is prior


@pytest.mark.parametrize(("text", "needle"), [
    ("halfnormal", "expected FAMILY:PARAMS"),
    ("halfnormal:", "expected comma-separated numbers"),
    ("halfnormal:abc", "'abc' is not a number"),
    ("halfcauchy:inf", "'inf' is not a finite number"),
    ("normal:1,2,3", "normal prior takes 2 number(s), got 3"),
    ("normal:0,0", "normal prior needs a positive scale"),
    ("halft:0,1", "halft prior needs a positive scale"),
    ("beta:1,-1", "beta prior needs a positive scale"),
    ("uniform:2,1", "uniform prior needs LOW < HIGH"),
    ("gamma:2", "unknown prior family 'gamma'; use one of beta, halfcauchy, halfnormal, halft, "
                "normal, uniform"),
])
def test_parse_prior_errors_are_input_errors_naming_the_field(text, needle):
    with pytest.raises(InputError, match=re.escape(needle)) as err:
        parse_prior(text, field="tau_prior")
    assert err.value.field == "tau_prior"


def test_as_prior_rejects_other_values():
    with pytest.raises(InputError, match="expected a prior or a prior string"):
        as_prior(1.0, field="mu_prior")


# ----- densities and quantiles against scipy ----------------------------------------------------
SCIPY = [
    (Normal(0.5, 2.0), stats.norm(0.5, 2.0)),
    (StudentT(4.0, 1.0, 2.0), stats.t(4.0, 1.0, 2.0)),
    (HalfNormal(0.5), stats.halfnorm(scale=0.5)),
    (HalfCauchy(25.0), stats.halfcauchy(scale=25.0)),
    (Exponential(2.0), stats.expon(scale=0.5)),
    (Gamma(2.0, 3.0), stats.gamma(2.0, scale=1 / 3.0)),
    (LogNormal(1.0, 0.5), stats.lognorm(0.5, scale=np.exp(1.0))),
    (Beta(2.0, 5.0), stats.beta(2.0, 5.0)),
    (Uniform(-1.0, 3.0), stats.uniform(-1.0, 4.0)),
]


@pytest.mark.parametrize(("prior", "reference"), SCIPY, ids=lambda p: type(p).__name__)
def test_logpdf_and_ppf_match_scipy(prior, reference):
    q = np.array([0.001, 0.025, 0.3, 0.5, 0.975, 0.999])
    x = reference.ppf(q)
    np.testing.assert_allclose(prior.ppf(q), x, rtol=1e-12)
    np.testing.assert_allclose(prior.logpdf(x), reference.logpdf(x), rtol=1e-12)
    assert np.ndim(prior.logpdf(float(x[2]))) == 0 and np.ndim(prior.ppf(0.3)) == 0


def test_half_student_t_is_the_folded_student_t():
    prior = HalfStudentT(3.0, 2.0)
    x = np.array([0.0, 0.4, 2.0, 15.0])
    np.testing.assert_allclose(np.exp(prior.logpdf(x)), 2 * stats.t.pdf(x, 3.0, scale=2.0),
                               rtol=1e-12)
    assert prior.logpdf(-0.1) == -np.inf
    q = np.array([0.1, 0.5, 0.99])
    np.testing.assert_allclose(2 * stats.t.cdf(prior.ppf(q), 3.0, scale=2.0) - 1, q, rtol=1e-10)
    density, _ = integrate.quad(lambda t: np.exp(prior.logpdf(t)), 0, np.inf)
    assert density == pytest.approx(1.0, rel=1e-8)


def test_mixture_logpdf_and_ppf():
    normal = NormalMixture([0.6, 0.4], [0.0, 3.0], [0.5, 1.5])
    beta = BetaMixture([0.7, 0.3], [30.0, 3.0], [70.0, 3.0])
    x = np.linspace(-2.0, 6.0, 9)
    np.testing.assert_allclose(
        np.exp(normal.logpdf(x)),
        0.6 * stats.norm.pdf(x, 0.0, 0.5) + 0.4 * stats.norm.pdf(x, 3.0, 1.5), rtol=1e-12)
    p = np.linspace(0.05, 0.95, 7)
    np.testing.assert_allclose(
        np.exp(beta.logpdf(p)),
        0.7 * stats.beta.pdf(p, 30.0, 70.0) + 0.3 * stats.beta.pdf(p, 3.0, 3.0), rtol=1e-12)
    assert beta.logpdf(1.5) == -np.inf
    q = np.array([0.025, 0.5, 0.975])
    for mix in (normal, beta):
        np.testing.assert_allclose(mix.cdf(mix.ppf(q)), q, atol=1e-9)
        assert float(mix.ppf(0.5)) == pytest.approx(float(mix.ppf(q)[1]), abs=1e-9)


# ----- PyMC variables have the densities of logpdf ----------------------------------------------
@pytest.mark.parametrize("prior", [
    *(prior for prior, _ in SCIPY), HalfStudentT(3.0, 2.0),
    NormalMixture([0.8, 0.2], [3.1, 3.1], [0.21, 2.0]),
    BetaMixture([0.7, 0.3], [30.0, 1.0], [70.0, 1.0]),
], ids=lambda p: type(p).__name__)
def test_to_pymc_has_the_logpdf_density(prior):
    with pm.Model():
        rv = prior.to_pymc("theta")
    for q in (0.1, 0.5, 0.9):
        value = float(prior.ppf(q))
        assert float(pm.logp(rv, value).eval()) == pytest.approx(float(prior.logpdf(value)),
                                                                 rel=1e-6, abs=1e-8)


# ----- round trips and validation of every class -------------------------------------------------
EVERY_CLASS = [
    Normal(0.0, 2.5), StudentT(3.0, 0.0, 1.0), HalfNormal(1.0), HalfCauchy(2.0),
    HalfStudentT(3.0, 1.0), Exponential(0.5), Gamma(2.0, 1.0), LogNormal(0.0, 1.0),
    Beta(1.0, 1.0), Uniform(0.0, 4.0), NormalMixture([0.8, 0.2], [3.1, 3.1], [0.21, 2.0]),
    BetaMixture([0.7, 0.3], [30.0, 1.0], [70.0, 1.0]),
]


def test_every_prior_class_round_trips_through_the_posterior_attributes():
    assert {type(p).__name__ for p in EVERY_CLASS} == set(PRIOR_CLASSES)
    priors = {f"p{i}": p for i, p in enumerate(EVERY_CLASS)}
    tree = _tree()
    attach_priors(tree, priors)
    assert read_priors(tree) == priors
    assert all(isinstance(hash(p), int) for p in EVERY_CLASS)  # usable in structure keys
    assert json.loads(tree.posterior.attrs["priors"])["p11"] == {
        "dist": "BetaMixture", "w": [0.7, 0.3], "alpha": [30.0, 1.0], "beta": [70.0, 1.0]}
    assert describe_priors({"b": EVERY_CLASS[-1]})["b"] == (
        "BetaMixture(0.7 Beta(30, 70) + 0.3 Beta(1, 1))")


def test_fitted_mixtures_round_trip_exactly():
    from prrt_bayes.borrowing import fit_mixture_auto, robustify

    rng = np.random.default_rng(3)
    normal = robustify(fit_mixture_auto(rng.normal(3.0, 0.3, 2000), "normal"), 0.2, mean=3.0,
                       sd=1.0)
    beta = robustify(fit_mixture_auto(rng.beta(20.0, 60.0, 2000), "beta"), 0.2)
    for mix in (normal, beta):
        rebuilt = prior_from_dict(json.loads(json.dumps(mix.to_dict())))
        assert rebuilt == mix and rebuilt.components() == mix.components()


def test_mixture_arrays_and_normalised_weights():
    mix = NormalMixture([0.5, 0.5 + 1e-7], [0.0, 1.0], [1.0, 2.0])
    assert sum(mix.w) == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_array_equal(mix.weights, np.asarray(mix.w))
    np.testing.assert_array_equal(mix.means, [0.0, 1.0])
    np.testing.assert_array_equal(mix.sds, [1.0, 2.0])
    beta = BetaMixture([1.0], [2.0], [3.0])
    np.testing.assert_array_equal(beta.a, [2.0])
    np.testing.assert_array_equal(beta.b, [3.0])
    assert isinstance(mix, Prior) and isinstance(beta, Prior)


@pytest.mark.parametrize(("data", "needle"), [
    ({"w": [0.5, 0.4], "alpha": [1, 1], "beta": [1, 1]}, "summing to 1"),
    ({"w": [0.5, 0.5], "alpha": [1, 0], "beta": [1, 1]}, "alpha and beta must be > 0"),
    ({"w": [0.5, 0.5], "alpha": [1, 1], "beta": [1, -2]}, "alpha and beta must be > 0"),
    ({"w": [1.0], "alpha": [1, 2], "beta": [1]}, "same length"),
    ({"w": [1.0], "alpha": [np.inf], "beta": [1]}, "finite numbers"),
    ({"w": [1.0], "alpha": [1], "beta": [1], "mu": [0]}, "unknown parameters"),
])
def test_bad_beta_mixture_priors_are_input_errors(data, needle):
    with pytest.raises(InputError, match=needle):
        prior_from_dict({"dist": "BetaMixture", **data})
