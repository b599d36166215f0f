"""Prior objects: the normal-mixture prior (a borrowed MAP prior) is recorded and rebuilt like
the others, validates its input, and means in PyMC what it says."""

from __future__ import annotations

import json

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import stats

from prrt_bayes.borrowing.mixtures import NormalMixture as MixtureDistribution
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import (
    Normal,
    NormalMixture,
    attach_priors,
    describe_priors,
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


def test_mixture_prior_from_a_borrowing_mixture_keeps_its_components():
    mixture = MixtureDistribution([0.7, 0.3], [2.5, 3.0], [0.2, 1.5])
    weights, means, sds = zip(*mixture.components(), strict=True)
    prior = NormalMixture(w=weights, mu=means, sigma=sds)
    grid = np.linspace(0.0, 6.0, 13)
    logpdf = np.log(sum(w * stats.norm.pdf(grid, m, s)
                        for w, m, s in zip(prior.w, prior.mu, prior.sigma, strict=True)))
    np.testing.assert_allclose(logpdf, np.log(mixture.pdf(grid)), rtol=1e-12)


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
