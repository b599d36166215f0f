"""Sampler backends: each records itself, is reproducible, and 'auto' follows the model."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.fit import BayesianModel, fit
from prrt_bayes.core.priors import Normal
from prrt_bayes.core.sampling import AUTO_BACKEND, SamplerSettings, compile_count, sample

SMALL = SamplerSettings(draws=300, tune=300, chains=2, seed=5)


def _normal_model() -> pm.Model:
    with pm.Model() as model:
        y = pm.Data("y", np.array([0.3, -0.2, 1.1, 0.4]))
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("obs", mu, 1.0, observed=y)
    return model


class _MeanModel(BayesianModel):
    """Normal mean of four observations (unit SD), mu ~ Normal(0, 10)."""

    what = "mean model"
    gate_vars = ("mu",)
    preferred_backend = "pymc"

    def __init__(self, y: np.ndarray) -> None:
        self.y = np.asarray(y, dtype=float)

    def structure(self):
        return (self.y.size,)

    def build(self) -> pm.Model:
        return _normal_model()

    def data(self):
        return {"y": self.y}

    def priors(self):
        return {"mu": Normal(0.0, 10.0)}


def test_pymc_backend_records_itself_and_is_reproducible():
    model = _normal_model()
    settings = SamplerSettings(draws=300, tune=300, chains=2, seed=5, backend="pymc")
    first, second = sample(model, settings), sample(model, settings)
    assert first.posterior.attrs["sampler_backend"] == "pymc"
    assert np.array_equal(first.posterior["mu"].values, second.posterior["mu"].values)
    # conjugate posterior: mean 4 ybar / (4 + 1/100), sd (4 + 0.01)^-1/2
    exact_mean = 1.6 / 4.01
    assert abs(float(first.posterior["mu"].mean()) - exact_mean) < 0.1
    assert {"diverging", "energy"} <= set(first.sample_stats.data_vars)


def test_auto_means_the_default_backend_when_no_model_says_otherwise():
    tree = sample(_normal_model(), SMALL)
    assert tree.posterior.attrs["sampler_backend"] == AUTO_BACKEND


def test_auto_follows_the_models_measured_preference():
    result = fit(_MeanModel(np.array([0.3, -0.2, 1.1, 0.4])), SMALL)
    assert result.settings.backend == "pymc"
    assert result.tree.posterior.attrs["sampler_backend"] == "pymc"
    explicit = fit(_MeanModel(np.array([0.3, -0.2, 1.1, 0.4])),
                   SamplerSettings(draws=300, tune=300, seed=5, backend="nutpie-numba"))
    assert explicit.tree.posterior.attrs["sampler_backend"] == "nutpie-numba"


def test_unknown_backend_is_an_input_error():
    with pytest.raises(InputError, match="unknown sampler backend 'stan'"):
        sample(_normal_model(), SamplerSettings(backend="stan"))


def test_nutpie_c_is_reproducible_and_matches_the_exact_posterior():
    model = _normal_model()
    settings = SamplerSettings(draws=500, tune=300, chains=2, seed=5, backend="nutpie-c")
    first, second = sample(model, settings), sample(model, settings)
    assert first.posterior.attrs["sampler_backend"] == "nutpie-c"
    assert np.array_equal(first.posterior["mu"].values, second.posterior["mu"].values)
    exact_mean, exact_sd = 1.6 / 4.01, 4.01 ** -0.5
    assert abs(float(first.posterior["mu"].mean()) - exact_mean) < 0.1
    assert abs(float(first.posterior["mu"].std()) - exact_sd) < 0.05


def test_nutpie_c_refit_with_new_data_equals_a_fresh_model_without_recompiling():
    """pm.set_data reaches the compiled C functions (they read the model's shared variables)."""
    settings = SamplerSettings(draws=300, tune=300, chains=2, seed=5, backend="nutpie-c")
    model = _normal_model()
    sample(model, settings)
    new = np.array([2.0, 2.5, 1.5, 3.0])
    with model:
        pm.set_data({"y": new})
    before = compile_count()
    swapped = sample(model, settings)
    assert compile_count() == before
    fresh_model = _normal_model()
    with fresh_model:
        pm.set_data({"y": new})
    fresh = sample(fresh_model, settings)
    assert np.array_equal(swapped.posterior["mu"].values, fresh.posterior["mu"].values)
    assert abs(float(swapped.posterior["mu"].mean()) - 9.0 / 4.01) < 0.1
