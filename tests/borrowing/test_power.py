"""Power / commensurate priors, baselines, and operating characteristics by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from prrt_bayes.borrowing import (
    UNIFORM_BETA,
    VAGUE_NORMAL,
    BetaMixture,
    commensurate_prior,
    full_pooling,
    map_prior_counts,
    map_prior_estimates,
    no_borrowing,
    operating_characteristics,
    power_prior,
    robustify,
)
from prrt_bayes.core.errors import InputError

# external log-median PFS estimates (months, log scale) of five series around 30 months
EXT_Y = np.log([28.0, 33.0, 30.0, 25.0, 36.0])
EXT_SE = np.array([0.15, 0.20, 0.12, 0.25, 0.18])
NEW_SE = 0.2


def test_power_prior_limits_and_scaling():
    none = power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, 0.0)
    assert none.components() == no_borrowing(VAGUE_NORMAL).components()
    full = full_pooling(VAGUE_NORMAL, EXT_Y, EXT_SE)
    prec = np.sum(1 / EXT_SE**2) + 1 / 10.0**2
    assert full.mean() == pytest.approx(np.sum(EXT_Y / EXT_SE**2) / prec)
    assert full.sd() == pytest.approx(prec**-0.5)
    half = power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, 0.5)
    assert 1 / half.sd() ** 2 == pytest.approx(0.5 * np.sum(1 / EXT_SE**2) + 1 / 10.0**2)


def test_power_prior_is_likelihood_to_the_a0():
    # check the closed form against a numerical power-prior density on a grid
    a0 = 0.3
    x = np.linspace(2.5, 4.5, 200_001)
    log_dens = a0 * stats.norm.logpdf(EXT_Y[:, None], x, EXT_SE[:, None]).sum(axis=0)
    log_dens += stats.norm.logpdf(x, 0, 10.0)
    dens = np.exp(log_dens - log_dens.max())
    dens /= np.trapezoid(dens, x)
    prior = power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, a0)
    assert prior.mean() == pytest.approx(np.trapezoid(x * dens, x), abs=1e-8)
    assert prior.sd() == pytest.approx(
        np.sqrt(np.trapezoid((x - prior.mean()) ** 2 * dens, x)), rel=1e-6
    )


def test_commensurate_prior_limits():
    full = full_pooling(VAGUE_NORMAL, EXT_Y, EXT_SE)
    assert commensurate_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, 0.0).components() == full.components()
    wide = commensurate_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, 5.0)
    assert wide.sd() == pytest.approx(np.hypot(full.sd(), 5.0))
    assert wide.mean() == pytest.approx(full.mean())


def test_beta_power_and_commensurate():
    r, n = [30, 12, 45], [80, 40, 120]
    prior = power_prior(UNIFORM_BETA, r, n, 0.5)
    assert prior.components() == [(1.0, 1 + 0.5 * 87, 1 + 0.5 * 153)]
    assert full_pooling(UNIFORM_BETA, r, n).components() == [(1.0, 88.0, 154.0)]
    assert no_borrowing(UNIFORM_BETA).components() == [(1.0, 1.0, 1.0)]
    com0 = commensurate_prior(UNIFORM_BETA, r, n, 0.0)
    full = full_pooling(UNIFORM_BETA, r, n)
    assert com0.mean() == pytest.approx(full.mean(), abs=0.002)
    assert com0.sd() == pytest.approx(full.sd(), rel=0.03)
    assert commensurate_prior(UNIFORM_BETA, r, n, 0.5).sd() > 2 * full.sd()


@pytest.mark.parametrize(
    "call",
    [
        lambda: power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, 1.2),
        lambda: power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, -0.1),
        lambda: power_prior(UNIFORM_BETA, [5, 11], [10, 10], 0.5),
        lambda: power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE[:3], 0.5),
        lambda: commensurate_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, -1.0),
        lambda: power_prior(VAGUE_NORMAL, EXT_Y, np.zeros(5), 0.5),
    ],
)
def test_bad_inputs(call):
    with pytest.raises(InputError):
        call()


def _normal_priors():
    map_prior = map_prior_estimates(EXT_Y, EXT_SE, tau_prior="halfnormal:0.25")
    return {
        "none": no_borrowing(VAGUE_NORMAL),
        "full_pooling": full_pooling(VAGUE_NORMAL, EXT_Y, EXT_SE),
        "power_0.5": power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, 0.5),
        "commensurate_0.1": commensurate_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, 0.1),
        "map": map_prior,
        "robust_map": robustify(map_prior, 0.2, mean=map_prior.mean(), sd=1.0),
    }


@pytest.fixture(scope="module")
def normal_priors():
    return _normal_priors()


def _check_oc(oc, commensurate, conflict, n_sim):
    agree = oc[oc.true_value == commensurate].set_index("method")
    clash = oc[oc.true_value == conflict].set_index("method")
    for method in ("full_pooling", "power_0.5", "commensurate_0.1", "map", "robust_map"):
        assert agree.loc[method, "mean_sd"] < agree.loc["none", "mean_sd"]
    # no borrowing is calibrated: coverage within 3 binomial SEs of 95%
    se = np.sqrt(0.95 * 0.05 / n_sim)
    assert abs(agree.loc["none", "coverage"] - 0.95) < 3 * se
    assert abs(clash.loc["none", "coverage"] - 0.95) < 3 * se
    assert abs(clash.loc["robust_map", "bias"]) < abs(clash.loc["full_pooling", "bias"])
    assert clash.loc["robust_map", "mse"] < clash.loc["full_pooling", "mse"]
    assert clash.loc["robust_map", "coverage"] > clash.loc["full_pooling", "coverage"]
    assert (
        clash.loc["robust_map", "informative_weight"]
        < agree.loc["robust_map", "informative_weight"]
    )


def test_operating_characteristics_small(normal_priors):
    centre = normal_priors["map"].mean()
    truths = [centre, centre - 0.7]  # commensurate; conflict (median half as long)
    oc = operating_characteristics(
        normal_priors, truths, new_std_error=NEW_SE, n_sim=1000, robust=["robust_map"], seed=1
    )
    assert list(oc.columns) == [
        "method",
        "true_value",
        "bias",
        "mse",
        "coverage",
        "mean_sd",
        "informative_weight",
        "n_sim",
    ]
    assert len(oc) == 12
    _check_oc(oc, truths[0], truths[1], 1000)


def test_operating_characteristics_counts_small():
    # series response ~40%; new trial of 101 patients; truth 40% (agree) or 18% (conflict)
    r, n = [40, 22, 55, 30], [100, 60, 130, 70]
    map_prior = map_prior_counts(r, n, tau_prior="halfnormal:0.5")
    priors = {
        "none": no_borrowing(UNIFORM_BETA),
        "full_pooling": full_pooling(UNIFORM_BETA, r, n),
        "power_0.5": power_prior(UNIFORM_BETA, r, n, 0.5),
        "commensurate_0.1": commensurate_prior(UNIFORM_BETA, r, n, 0.1),
        "map": map_prior,
        "robust_map": robustify(map_prior, 0.2),
    }
    assert all(isinstance(p, BetaMixture) for p in priors.values())
    oc = operating_characteristics(
        priors, [0.4, 0.18], new_total=101, n_sim=1000, robust=["robust_map"], seed=2
    )
    agree = oc[oc.true_value == 0.4].set_index("method")
    clash = oc[oc.true_value == 0.18].set_index("method")
    assert agree.loc["map", "mean_sd"] < agree.loc["none", "mean_sd"]
    assert abs(clash.loc["robust_map", "bias"]) < abs(clash.loc["full_pooling", "bias"])
    assert abs(clash.loc["robust_map", "bias"]) < 0.03


def test_operating_characteristics_rejects_mixed_priors(normal_priors):
    with pytest.raises(InputError):
        operating_characteristics(
            {"a": normal_priors["none"], "b": no_borrowing(UNIFORM_BETA)}, [0.1], new_std_error=0.2
        )
    with pytest.raises(InputError):
        operating_characteristics(normal_priors, [0.1])


@pytest.mark.slow
def test_operating_characteristics_large(normal_priors):
    centre = normal_priors["map"].mean()
    truths = [centre + d for d in (-1.0, -0.7, -0.4, -0.2, 0.0, 0.2, 0.4)]
    oc = operating_characteristics(
        normal_priors, truths, new_std_error=NEW_SE, n_sim=20_000, robust=["robust_map"], seed=3
    )
    _check_oc(oc, truths[4], truths[1], 20_000)
    # the robust MAP's bias is bounded: it never exceeds full pooling's anywhere on the grid
    by = oc.pivot(index="true_value", columns="method", values="bias")
    assert (by["robust_map"].abs() <= by["full_pooling"].abs() + 1e-3).all()
