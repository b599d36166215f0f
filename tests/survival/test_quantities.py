"""Survival quantities from draws, checked against closed forms and numerical integration."""

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import quad

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.survival.quantities import (
    hazard_from_survival,
    hazard_ratio_over_time,
    mean_survival,
    median_survival,
    piecewise_hazard,
    piecewise_survival,
    rmst,
    rmst_difference,
    survival_at,
    survival_from_function,
    survival_summary,
    time_grid,
)

RNG = np.random.default_rng(11)


def _draws(values, dims=("chain", "draw"), **coords) -> xr.DataArray:
    return xr.DataArray(values, dims=dims, coords=coords)


@pytest.fixture(scope="module")
def rates() -> xr.DataArray:
    """Fake posterior of exponential rates per arm (per month)."""
    vals = np.stack([RNG.uniform(0.02, 0.08, (2, 40)), RNG.uniform(0.005, 0.03, (2, 40))], -1)
    return _draws(vals, ("chain", "draw", "arm"), arm=["control", "lu177"])


@pytest.fixture(scope="module")
def exp_surv(rates) -> xr.DataArray:
    grid = time_grid(360.0, step=0.5, include=[7.3])
    return survival_from_function(lambda t, rate: np.exp(-rate * t), {"rate": rates}, grid)


def test_exponential_median_is_log2_over_rate(rates, exp_surv):
    med = median_survival(exp_surv)
    np.testing.assert_allclose(med, np.log(2) / rates, rtol=1e-10)


def test_exponential_landmark_rmst_and_mean(rates, exp_surv):
    np.testing.assert_allclose(survival_at(exp_surv, 7.3), np.exp(-rates * 7.3), rtol=1e-10)
    np.testing.assert_allclose(survival_at(exp_surv, 13.1), np.exp(-rates * 13.1), rtol=1e-10)
    for t in (24.0, 30.7):
        np.testing.assert_allclose(rmst(exp_surv, t), (1 - np.exp(-rates * t)) / rates,
                                   rtol=1e-10)
    mean = mean_survival(exp_surv, follow_up=70.0, horizon=360.0)
    np.testing.assert_allclose(mean, (1 - np.exp(-rates * 360.0)) / rates, rtol=1e-10)
    diff = rmst_difference(exp_surv, 24.0)
    ref = (1 - np.exp(-rates * 24.0)) / rates
    np.testing.assert_allclose(diff, ref.sel(arm="lu177") - ref.sel(arm="control"), rtol=1e-9)


@pytest.mark.parametrize(("shape", "scale"), [(0.8, 15.0), (1.5, 20.0), (2.5, 9.0)])
def test_weibull_rmst_and_median_against_quad(shape, scale):
    params = {"shape": _draws([[shape]]), "scale": _draws([[scale]])}
    surv = survival_from_function(lambda t, shape, scale: np.exp(-((t / scale) ** shape)),
                                  params, time_grid(120.0, step=0.05))
    for t_star in (12.0, 36.0, 100.0):
        ref, _ = quad(lambda t: np.exp(-((t / scale) ** shape)), 0, t_star, limit=200)
        assert float(rmst(surv, t_star).squeeze()) == pytest.approx(ref, rel=2e-4)
    assert float(median_survival(surv).squeeze()) == pytest.approx(scale * np.log(2) ** (1 / shape),
                                                         rel=1e-5)
    h = hazard_from_survival(surv).sel(time=[5.0, 20.0, 60.0])
    exact = shape / scale * (h["time"] / scale) ** (shape - 1)
    np.testing.assert_allclose(h.squeeze(), exact, rtol=1e-3)


def test_piecewise_curves_are_exact():
    edges = np.array([0.0, 6.0, 18.0, np.inf])
    hz = _draws(np.array([[[0.1, 0.05, 0.02]]]), ("chain", "draw", "interval"))
    grid = time_grid(60.0, step=1.0)
    surv = piecewise_survival(hz, edges, grid)
    cum = np.select([grid <= 6, grid <= 18], [0.1 * grid, 0.6 + 0.05 * (grid - 6)],
                    0.6 + 0.6 + 0.02 * (grid - 18))
    np.testing.assert_allclose(surv.squeeze(), np.exp(-cum), rtol=1e-12)
    haz = piecewise_hazard(hz, edges, grid).squeeze()
    assert float(haz.sel(time=6.0)) == 0.1 and float(haz.sel(time=7.0)) == 0.05
    # median: S = 0.5 at cumulative hazard log 2 = 0.693, inside (6, 18]
    assert float(median_survival(surv).squeeze()) == pytest.approx(6 + (np.log(2) - 0.6) / 0.05)


def test_hazard_ratio_over_time():
    hz = _draws(np.array([[[[0.1, 0.05], [0.03, 0.04]]]]), ("chain", "draw", "arm", "interval"),
                arm=["control", "lu177"])
    hr = hazard_ratio_over_time(piecewise_hazard(hz, np.array([0, 10.0, np.inf]), [0, 5, 20]))
    np.testing.assert_allclose(hr.squeeze(), [0.3, 0.3, 0.8])


def test_median_not_reached_is_infinite():
    surv = survival_from_function(lambda t, rate: np.exp(-rate * t),
                                  {"rate": _draws([[0.001, 0.2]])}, time_grid(24.0))
    med = median_survival(surv).values.ravel()
    assert np.isinf(med[0]) and med[1] == pytest.approx(np.log(2) / 0.2)


def test_horizon_checks(exp_surv):
    with pytest.raises(InputError, match="shorter than the follow-up"):
        mean_survival(exp_surv, follow_up=80.0, horizon=60.0)
    with pytest.raises(InputError, match="outside the time grid"):
        mean_survival(exp_surv, follow_up=10.0, horizon=500.0)
    with pytest.raises(InputError, match="outside the time grid"):
        survival_at(exp_surv, -1.0)


def test_survival_summary_rows(rates, exp_surv):
    draws, rows = survival_summary(exp_surv, follow_up=70.0, landmarks=[12, 24],
                                   rmst_times=[24], endpoint="pfs", analysis="test")
    quantities = {(r["quantity"], r["group"]) for r in rows}
    assert ("median_survival_months", "lu177") in quantities
    assert ("survival_probability_24m", "control") in quantities
    assert ("rmst_difference_24m", "lu177_vs_control") in quantities
    assert ("mean_survival_difference_months", "lu177_vs_control") in quantities
    assert all(list(r) == list(SUMMARY_COLUMNS) for r in rows)
    med = next(r for r in rows if r["quantity"] == "median_survival_months"
               and r["group"] == "control")
    ref = np.log(2) / rates.sel(arm="control").values.ravel()
    assert med["median"] == pytest.approx(np.median(ref), rel=1e-9)
    assert med["lower"] == pytest.approx(np.quantile(ref, 0.025), rel=1e-9)
    assert draws["rmst_24m"].dims == ("chain", "draw", "arm")
