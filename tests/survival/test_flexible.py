"""The flexible excess-hazard model: basis, prior predictive, recovery, floor, waning, SBC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.integrate import cumulative_trapezoid
from scipy.special import erf

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.fit import built_model
from prrt_bayes.core.priors import Normal
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.survival.flexible import (
    FlexibleData,
    FlexibleFit,
    FlexibleModel,
    Waning,
    excess_cumulative_hazard,
    excess_hazard,
    fit_flexible,
)
from prrt_bayes.survival.mspline import MSplineBasis
from prrt_bayes.survival.quantities import median_survival

SETTINGS = SamplerSettings(draws=1000, tune=1000, chains=2, target_accept=0.98, seed=11)
"""The bundled survival specs' target acceptance (the flexible model diverges now and then at
0.9)."""


# ----------------------------------------------------------------------------------- the basis
def test_each_basis_function_integrates_to_one_and_constant_weights_give_a_flat_hazard():
    basis = MSplineBasis((4.0, 9.0, 20.0), 30.0)
    t = np.linspace(0.0, 45.0, 9001)
    m, integral = basis.basis(t), basis.integral(t)
    assert np.allclose(integral[t == 30.0], 1.0)
    numeric = cumulative_trapezoid(m, t, axis=0, initial=0.0)
    assert np.abs(numeric - integral).max() < 1e-4
    flat = m @ basis.constant_weights
    assert np.allclose(flat, 1.0 / 30.0)
    # beyond the boundary the hazard stays at its boundary value
    assert np.allclose(m[t > 30.0], basis.basis(np.array([30.0]))[0])


@pytest.mark.parametrize("knots", [(), (12.0,), (4.0, 9.0, 20.0), (1.0, 2.0, 5.0, 9.0, 26.0)])
def test_every_basis_function_meets_the_boundary_flat(knots):
    """survextrap's ``bsmooth``: zero slope and curvature at the boundary knot, so the
    extrapolated hazard continues the fitted level; n interior knots give n + 2 functions, all
    non-negative."""
    basis = MSplineBasis(knots, 30.0)
    step = 1e-3
    t = 30.0 - step * np.arange(1, 4)
    m = basis.basis(t)
    assert m.shape == (3, len(knots) + 2)
    slope = (m[0] - m[1]) / step
    curvature = (m[0] - 2 * m[1] + m[2]) / step**2
    scale = basis.basis(np.linspace(0.0, 30.0, 3001)).max(axis=0)
    assert np.all(np.abs(slope) < 1e-4 * scale) and np.all(np.abs(curvature) < 1e-2 * scale)
    assert basis.basis(np.linspace(0.0, 40.0, 4001)).min() >= 0.0


def test_bad_knots_are_input_errors():
    with pytest.raises(InputError, match="interior knots"):
        MSplineBasis((5.0, 3.0), 10.0)
    with pytest.raises(InputError, match="boundary"):
        MSplineBasis((), 0.0)


# ------------------------------------------------------------------------------ simulated data
def _true_cumulative(t):
    """Non-monotone hazard h(t) = 0.02 + 0.04 exp(-((t - 12) / 6)^2) per month (a hump)."""
    return 0.02 * t + 0.04 * 6 * np.sqrt(np.pi) / 2 * (erf((t - 12) / 6) - erf(-2.0))


def _simulate(rng, n=300, hr=0.6, cens=(10.0, 40.0)):
    grid = np.linspace(0.0, 400.0, 40001)
    big_h = _true_cumulative(grid)
    control = np.interp(-np.log(rng.uniform(size=n)), big_h, grid)
    treated = np.interp(-np.log(rng.uniform(size=n)) / hr, big_h, grid)
    censor = rng.uniform(*cens, size=2 * n)
    time = np.concatenate([control, treated])
    event = (time <= censor).astype(int)
    return pd.DataFrame({"time": np.minimum(time, censor), "event": event,
                         "arm": ["control"] * n + ["lu177"] * n})


@pytest.fixture(scope="module")
def recovered():
    ipd = _simulate(np.random.default_rng(20261207))
    return ipd, fit_flexible(ipd, settings=SETTINGS)


def test_recovery_of_a_non_monotone_hazard_and_the_hazard_ratio(recovered):
    ipd, fit = recovered
    assert fit.diagnostics.passed, fit.diagnostics.problems
    hr = fit.posterior["hazard_ratio"].values.ravel()
    low, high = np.quantile(hr, [0.025, 0.975])
    assert low < 0.6 < high
    times = np.array([3.0, 6.0, 12.0, 18.0, 24.0, 30.0])
    s = fit.survival(np.concatenate([[0.0], times])).sel(arm="control").isel(time=slice(1, None))
    low, high = s.quantile([0.025, 0.975], dim=("chain", "draw")).values
    truth = np.exp(-_true_cumulative(times))
    assert np.all((low < truth) & (truth < high)), (low, truth, high)
    # the hump: the fitted control hazard rises from month 3 to month 12 and falls by month 24
    h = fit.hazard(np.array([3.0, 12.0, 24.0])).sel(arm="control").median(("chain", "draw"))
    assert h.values[1] > h.values[0] and h.values[1] > h.values[2]


@pytest.mark.filterwarnings("ignore:The effect of Potentials")
def test_prior_predictive_medians_are_wide_but_not_absurd():
    ipd = _simulate(np.random.default_rng(3), n=40)
    data = FlexibleData.from_ipd(ipd, MSplineBasis((6.0, 12.0, 20.0), 35.0))
    model = built_model(FlexibleModel(data))
    with model:
        pm.set_data(dict(FlexibleModel(data).data()))
        prior = pm.sample_prior_predictive(draws=2000, random_seed=5).prior
    grid = np.linspace(0.0, 1200.0, 2401)
    s = np.exp(-excess_cumulative_hazard(prior, data, grid)).sel(arm="control")
    medians = median_survival(s).values.ravel()
    finite = medians[np.isfinite(medians)]
    # Normal(-3, 2) on the log hazard level: the prior median of the median survival is
    # log(2) / 0.05 = 14 months, and 95% of prior medians lie between about 0.3 months and
    # 100 years (those beyond the 1,200-month grid are infinite here)
    assert 5.0 < np.median(medians) < 40.0
    assert np.quantile(finite, 0.025) < 1.0
    assert np.mean(medians > 120.0) > 0.05


# ---------------------------------------------------------------------- the population floor
class _ConstantBackground:
    def __init__(self, rate):
        self.rate = rate

    def hazard(self, t):
        return np.full_like(np.asarray(t, dtype=float), self.rate)

    def cumulative_hazard(self, t):
        return self.rate * np.asarray(t, dtype=float)


def _fake_fit(data, draws, background):
    tree = xr.DataTree.from_dict({"posterior": draws})
    model = FlexibleModel(data)
    return FlexibleFit(model=model, tree=tree, diagnostics=None, settings=SETTINGS,
                       background=background)


@settings(max_examples=40, deadline=None)
@given(level=st.floats(-8, 1), log_hr=st.floats(-3, 3), z=st.lists(
    st.floats(-3, 3), min_size=5, max_size=5), rate=st.floats(1e-5, 0.05))
def test_hazard_never_falls_below_the_population_hazard(level, log_hr, z, rate):
    ipd = _simulate(np.random.default_rng(1), n=30)
    basis = MSplineBasis((5.0, 12.0, 20.0), 40.0)
    background = {"control": _ConstantBackground(rate), "lu177": _ConstantBackground(rate)}
    data = FlexibleData.from_ipd(ipd, basis, background=background)
    weights = np.exp(np.log(basis.constant_weights) + np.asarray(z))
    weights /= weights.sum()
    draws = xr.Dataset({
        "log_hazard_scale": (("chain", "draw"), [[level]]),
        "log_hr": (("chain", "draw"), [[log_hr]]),
        "weights": (("chain", "draw", "basis"), weights[None, None, :]),
    })
    fit = _fake_fit(data, draws, background)
    times = np.linspace(0.0, 360.0, 121)
    hazard = fit.hazard(times)
    assert np.all(hazard.values >= rate * (1 - 1e-12))
    population = np.exp(-rate * times)
    assert np.all(fit.survival(times).values <= population * (1 + 1e-12))


# ------------------------------------------------------------------------------------- waning
def test_waning_weights_run_from_one_to_zero():
    for kind in ("linear", "exponential"):
        w = Waning(kind, 30.0, 90.0)
        v = w.weight(np.array([0.0, 30.0, 60.0, 90.0, 200.0]))
        assert v[0] == v[1] == 1.0 and v[3] == v[4] == 0.0 and 0 < v[2] < 1
    assert Waning("exponential", 30.0, 90.0).weight(60.0) < Waning("linear", 30.0, 90.0).weight(
        60.0)
    with pytest.raises(InputError, match="start < end"):
        Waning("linear", 50.0, 40.0)


def test_after_waning_the_arms_excess_hazards_are_equal(recovered):
    _, fit = recovered
    times = np.linspace(0.0, 200.0, 401)
    w = Waning("linear", 40.0, 100.0)
    h = excess_hazard(fit.posterior, fit.data, times, w)
    after = times >= 100.0
    assert np.allclose(h.sel(arm="lu177").values[..., after], h.sel(arm="control").values[
        ..., after])
    before = times < 40.0
    assert np.all(h.sel(arm="lu177").values[..., before] < h.sel(arm="control").values[
        ..., before]) or float(fit.posterior["hazard_ratio"].max()) >= 1
    # after the waning starts, the cumulative hazard grows by the integral of the waned hazard
    fine = np.linspace(40.0, 200.0, 3201)
    big_h = excess_cumulative_hazard(fit.posterior, fit.data, fine, w).sel(arm="lu177").values
    h_fine = excess_hazard(fit.posterior, fit.data, fine, w).sel(arm="lu177").values
    numeric = cumulative_trapezoid(h_fine, fine, axis=-1, initial=0.0)
    assert np.allclose(big_h - big_h[..., :1], numeric, rtol=1e-3, atol=1e-6)


# ----------------------------------------------------------------------- external survivor data
@pytest.mark.slow  # a validation fit of its own (about 20 s)
def test_external_counts_inform_the_tail_beyond_follow_up():
    """Trial follow-up ends at 24 months; counts from the true survival at 60 and 120 months
    (1000 people each, r = expected survivors) bring the extrapolation to the truth."""
    rng = np.random.default_rng(8)
    ipd = _simulate(rng, n=150, cens=(12.0, 24.0))
    truth = np.exp(-_true_cumulative(np.array([60.0, 120.0])))
    external = pd.DataFrame({"start": [0.0, 60.0], "stop": [60.0, 120.0],
                             "n": [1000.0, 1000.0 * truth[0]],
                             "r": [1000.0 * truth[0], 1000.0 * truth[1]],
                             "arm": ["control", "control"]})
    fit = fit_flexible(ipd, settings=SETTINGS, external=external)
    assert fit.diagnostics.passed, fit.diagnostics.problems
    s = fit.survival(np.array([0.0, 60.0, 120.0])).sel(arm="control").isel(time=[1, 2])
    low, high = s.quantile([0.025, 0.975], dim=("chain", "draw")).values
    assert np.all((low < truth) & (truth < high)), (low, truth, high)
    assert np.all(high - low < 0.05)


def test_external_rows_need_known_arms():
    ipd = _simulate(np.random.default_rng(2), n=30)
    external = pd.DataFrame({"start": [0.0], "stop": [60.0], "n": [10.0], "r": [5.0],
                             "arm": ["placebo"]})
    with pytest.raises(InputError, match="placebo"):
        FlexibleData.from_ipd(ipd, MSplineBasis((10.0,), 60.0), external=external)


# ------------------------------------------------------------- simulation-based calibration
@pytest.mark.slow
def test_simulation_based_calibration_of_the_log_hr_and_level():
    """Talts et al. (2018): draw parameters from the prior, data from them, fit; the rank of
    each true value among the posterior draws is uniform when the fit is calibrated. 60
    replications, 99 thinned draws each (100 rank bins grouped into 10); chi-square test at
    level 0.001 per parameter, so a calibrated sampler fails with probability about 0.002."""
    rng = np.random.default_rng(99)
    basis = MSplineBasis((6.0, 12.0, 20.0), 36.0)
    ranks = {"log_hr": [], "log_hazard_scale": []}
    fit_settings = SamplerSettings(draws=990, tune=600, chains=1, target_accept=0.9, seed=0)
    for replication in range(60):
        log_hr = rng.normal(0.0, 0.5)
        level = rng.normal(-3.0, 0.5)
        smoothness = rng.gamma(2.0, 1.0)
        weights = np.exp(np.log(basis.constant_weights) + smoothness * rng.normal(
            size=basis.size))
        weights /= weights.sum()
        grid = np.linspace(0.0, 600.0, 60001)
        big_h = np.exp(level) * basis.boundary * (basis.integral(grid) @ weights)
        n = 120
        control = np.interp(-np.log(rng.uniform(size=n)), big_h, grid)
        treated = np.interp(-np.log(rng.uniform(size=n)) / np.exp(log_hr), big_h, grid)
        censor = rng.uniform(12.0, 36.0, size=2 * n)
        time = np.concatenate([control, treated])
        ipd = pd.DataFrame({"time": np.minimum(time, censor), "event": (time <= censor).astype(
            int), "arm": ["control"] * n + ["lu177"] * n})
        fit = fit_flexible(ipd, settings=fit_settings.with_seed(replication), basis=basis,
                           priors={"log_hr": Normal(0.0, 0.5),
                                   "log_hazard_scale": Normal(-3.0, 0.5)})
        for name, true in (("log_hr", log_hr), ("log_hazard_scale", level)):
            draws = fit.posterior[name].values.ravel()[::10]
            ranks[name].append(int(np.sum(draws < true)))
    for name, values in ranks.items():
        counts = np.bincount(np.asarray(values) // 10, minlength=10)
        p = stats.chisquare(counts).pvalue
        print(f"SBC {name}: rank counts {counts.tolist()}, chi-square p = {p:.3f}")
        assert p > 0.001, (name, counts)
