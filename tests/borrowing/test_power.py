"""Power / commensurate priors, baselines, ESS cap, and operating characteristics by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from prrt_bayes.borrowing import (
    UNIFORM_BETA,
    VAGUE_NORMAL,
    BetaMixture,
    ess,
    full_pooling,
    map_prior_counts,
    map_prior_estimates,
    no_borrowing,
    operating_characteristics,
    power_prior,
    robustify,
)
from prrt_bayes.borrowing.commensurate import (
    N_NODES,
    SpikeSlab,
    commensurability_nodes,
    commensurate_prior,
    commensurate_prior_fixed,
    posterior_informed_prior,
)
from prrt_bayes.borrowing.power import (
    MAX_PRIOR_ESS_FRACTION,
    external_information,
    power_prior_cap,
)
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import HalfCauchy

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


def test_fixed_commensurate_prior_limits():
    full = full_pooling(VAGUE_NORMAL, EXT_Y, EXT_SE)
    assert (commensurate_prior_fixed(VAGUE_NORMAL, EXT_Y, EXT_SE, 0.0).components()
            == full.components())
    wide = commensurate_prior_fixed(VAGUE_NORMAL, EXT_Y, EXT_SE, 5.0)
    assert wide.sd() == pytest.approx(np.hypot(full.sd(), 5.0))
    assert wide.mean() == pytest.approx(full.mean())


def test_beta_power_and_commensurate():
    r, n = [30, 12, 45], [80, 40, 120]
    prior = power_prior(UNIFORM_BETA, r, n, 0.5)
    assert prior.components() == [(1.0, 1 + 0.5 * 87, 1 + 0.5 * 153)]
    assert full_pooling(UNIFORM_BETA, r, n).components() == [(1.0, 88.0, 154.0)]
    assert no_borrowing(UNIFORM_BETA).components() == [(1.0, 1.0, 1.0)]
    com0 = commensurate_prior_fixed(UNIFORM_BETA, r, n, 0.0)
    full = full_pooling(UNIFORM_BETA, r, n)
    assert com0.mean() == pytest.approx(full.mean(), abs=0.002)
    assert com0.sd() == pytest.approx(full.sd(), rel=0.03)
    assert commensurate_prior_fixed(UNIFORM_BETA, r, n, 0.5).sd() > 2 * full.sd()


@pytest.mark.parametrize(
    "call",
    [
        lambda: power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, 1.2),
        lambda: power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, -0.1),
        lambda: power_prior(UNIFORM_BETA, [5, 11], [10, 10], 0.5),
        lambda: power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE[:3], 0.5),
        lambda: commensurate_prior_fixed(VAGUE_NORMAL, EXT_Y, EXT_SE, -1.0),
        lambda: commensurate_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, tau_prior="normal:0,1"),
        lambda: commensurate_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, n_nodes=1),
        lambda: commensurate_prior(UNIFORM_BETA, [5, 11], [10, 10]),
        lambda: SpikeSlab(p_spike=1.0),
        lambda: SpikeSlab(spike=1.0),
        lambda: posterior_informed_prior(UNIFORM_BETA, 3, 10),
        lambda: power_prior_cap(VAGUE_NORMAL, EXT_Y, EXT_SE, a0=0.5, trial_size=0),
        lambda: power_prior_cap(VAGUE_NORMAL, EXT_Y, EXT_SE, a0=1.5, trial_size=50),
        lambda: power_prior_cap(UNIFORM_BETA, [5], [10], a0=0.5, trial_size=50,
                                max_prior_ess_fraction=float("inf")),
        lambda: external_information("gamma:2,1", EXT_Y, EXT_SE),
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
        "commensurate_0.1": commensurate_prior_fixed(VAGUE_NORMAL, EXT_Y, EXT_SE, 0.1),
        "commensurate": commensurate_prior(VAGUE_NORMAL, EXT_Y, EXT_SE),
        "map": map_prior,
        "robust_map": robustify(map_prior, 0.2, mean=map_prior.mean(), sd=1.0),
    }


@pytest.fixture(scope="module")
def normal_priors():
    return _normal_priors()


def _check_oc(oc, commensurate, conflict, n_sim):
    agree = oc[oc.true_value == commensurate].set_index("method")
    clash = oc[oc.true_value == conflict].set_index("method")
    for method in ("full_pooling", "power_0.5", "commensurate_0.1", "commensurate", "map",
                   "robust_map"):
        assert agree.loc[method, "mean_sd"] < agree.loc["none", "mean_sd"]
    # the published commensurate prior backs off under conflict: less bias than full pooling
    assert abs(clash.loc["commensurate", "bias"]) < abs(clash.loc["full_pooling", "bias"]) / 2
    # no borrowing is calibrated: coverage within 3 binomial SEs of 95%
    se = np.sqrt(0.95 * 0.05 / n_sim)
    assert abs(agree.loc["none", "coverage"] - 0.95) < 3 * se
    assert abs(clash.loc["none", "coverage"] - 0.95) < 3 * se
    # issue 17's figure: under a 2x conflict (median half as long) the robust MAP's bias is
    # at most half that of full pooling (measured: 0.13 vs 0.62 log units, n_sim 4000, seed 1)
    assert abs(clash.loc["robust_map", "bias"]) <= abs(clash.loc["full_pooling", "bias"]) / 2
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
    assert len(oc) == 14
    _check_oc(oc, truths[0], truths[1], 1000)


def test_operating_characteristics_counts_small():
    # series response ~40%; new trial of 101 patients; truth 40% (agree) or 18% (conflict)
    r, n = [40, 22, 55, 30], [100, 60, 130, 70]
    map_prior = map_prior_counts(r, n, tau_prior="halfnormal:0.5")
    priors = {
        "none": no_borrowing(UNIFORM_BETA),
        "full_pooling": full_pooling(UNIFORM_BETA, r, n),
        "power_0.5": power_prior(UNIFORM_BETA, r, n, 0.5),
        "commensurate_0.1": commensurate_prior_fixed(UNIFORM_BETA, r, n, 0.1),
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


# ----- power prior ESS cap ---------------------------------------------------------------------
@pytest.mark.parametrize("a0", [0.0, 0.3, 0.5, 1.0])
def test_power_prior_ess_is_a0_times_external_information(a0):
    # normal: ESS in unit-SD observations (events); 1 / V of the pooled series estimate
    info = external_information(VAGUE_NORMAL, EXT_Y, EXT_SE)
    assert info == pytest.approx(np.sum(1 / EXT_SE**2), rel=1e-14)
    prior = power_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, a0)
    for method in ("moment", "elir"):
        borrowed = ess(prior, method) - ess(VAGUE_NORMAL, method)
        assert borrowed == pytest.approx(a0 * info, rel=1e-9, abs=1e-9)
    # counts: ESS in patients; the moment ESS of Beta(a, b) is a + b
    r, n = [30, 12, 45], [80, 40, 120]
    assert external_information(UNIFORM_BETA, r, n) == 240.0
    counts = power_prior(UNIFORM_BETA, r, n, a0)
    assert ess(counts, "moment") - ess(UNIFORM_BETA, "moment") == pytest.approx(a0 * 240,
                                                                               abs=1e-9)
    if a0 > 0:  # ELIR of Beta(1, 1) is 0, of Beta(a, b) with a, b > 1 it is a + b
        assert ess(counts, "elir") == pytest.approx(2 + a0 * 240, rel=1e-6)


def test_power_prior_cap_binds_only_above_the_fraction():
    info = float(np.sum(1 / EXT_SE**2))  # about 186 events
    cap = power_prior_cap(VAGUE_NORMAL, EXT_Y, EXT_SE, a0=0.5, trial_size=100)
    assert MAX_PRIOR_ESS_FRACTION == 0.5
    assert cap.capped and cap.ess_cap == 50.0
    assert cap.a0 == pytest.approx(50.0 / info, rel=1e-12)
    assert cap.ess_uncapped == pytest.approx(0.5 * info, rel=1e-12)
    assert cap.ess == pytest.approx(50.0, rel=1e-12)
    assert cap.describe() == (f"a0 0.5 capped to {50 / info:.3g}: ESS {0.5 * info:.3g} -> 50"
                              " (cap 50)")
    free = power_prior_cap(UNIFORM_BETA, [30, 12], [80, 40], a0=0.5, trial_size=101,
                           max_prior_ess_fraction=0.8)
    assert not free.capped and free.a0 == 0.5 and free.ess == free.ess_uncapped == 60.0
    assert free.describe() == "a0 0.5: ESS 60 (cap 80.8, not reached)"
    assert power_prior_cap("beta:1,1", [30], [80], a0=1.0, trial_size=40).a0 == 0.25


@settings(max_examples=60, deadline=None)
@given(
    y=st.lists(st.floats(-3, 3), min_size=1, max_size=6),
    se=st.floats(0.05, 2.0),
    a0=st.floats(0, 1),
    trial_size=st.floats(1, 2000),
    fraction=st.floats(0.01, 1.0),
)
def test_capped_power_prior_never_exceeds_its_ess_cap_normal(y, se, a0, trial_size, fraction):
    s = np.full(len(y), se)
    cap = power_prior_cap(VAGUE_NORMAL, y, s, a0=a0, trial_size=trial_size,
                          max_prior_ess_fraction=fraction)
    borrowed = ess(power_prior(VAGUE_NORMAL, y, s, cap.a0), "moment") - ess(VAGUE_NORMAL,
                                                                             "moment")
    assert borrowed <= fraction * trial_size * (1 + 1e-9)  # floating-point rounding only
    assert borrowed == pytest.approx(min(a0 * len(y) / se**2, fraction * trial_size),
                                     rel=1e-9, abs=1e-9)
    assert cap.a0 <= a0 and cap.ess_uncapped == pytest.approx(a0 * len(y) / se**2)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.tuples(st.integers(0, 200), st.integers(1, 200)), min_size=1,
                    max_size=6),
    a0=st.floats(0, 1),
    trial_size=st.integers(1, 500),
    fraction=st.floats(0.01, 1.0),
)
def test_capped_power_prior_never_exceeds_its_ess_cap_counts(counts, a0, trial_size, fraction):
    n = [max(e, t) for e, t in counts]
    r = [e for e, _ in counts]
    cap = power_prior_cap(UNIFORM_BETA, r, n, a0=a0, trial_size=trial_size,
                          max_prior_ess_fraction=fraction)
    prior = power_prior(UNIFORM_BETA, r, n, cap.a0)
    borrowed = ess(prior, "moment") - ess(UNIFORM_BETA, "moment")
    assert borrowed <= fraction * trial_size * (1 + 1e-9) + 1e-9
    assert cap.ess <= cap.ess_cap * (1 + 1e-12)


# ----- published commensurate prior (hyperprior on tau) ----------------------------------------
def _exact_commensurate(scale, shift, xs):
    """Prior CDF and posterior mean, SD and CDF by adaptive integration over tau."""
    ext = full_pooling(VAGUE_NORMAL, EXT_Y, EXT_SE)
    m, v = ext.means[0], ext.sds[0] ** 2
    y = m + shift

    def post(t):
        pv = 1 / (1 / (v + t * t) + 1 / NEW_SE**2)
        return pv * (m / (v + t * t) + y / NEW_SE**2), pv

    def weight(t):
        return stats.halfcauchy.pdf(t, scale=scale) * stats.norm.pdf(
            y, m, np.sqrt(v + t * t + NEW_SE**2))

    def q(f):
        return integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-12, limit=500)[0]

    z = q(weight)
    mean = q(lambda t: weight(t) * post(t)[0]) / z
    sd = np.sqrt(q(lambda t: weight(t) * (post(t)[0] ** 2 + post(t)[1])) / z - mean**2)
    post_cdf = [q(lambda t, x=x: weight(t) * stats.norm.cdf(x, post(t)[0], np.sqrt(post(t)[1])))
                / z for x in xs]
    prior_cdf = [q(lambda t, x=x: stats.halfcauchy.pdf(t, scale=scale)
                   * stats.norm.cdf(x, m, np.sqrt(v + t * t))) for x in xs]
    return mean, sd, np.array(post_cdf), np.array(prior_cdf)


@pytest.mark.parametrize("scale", [0.1, 0.5])
def test_commensurate_quadrature_matches_numerical_integration(scale):
    # N_NODES Gauss-Legendre nodes: prior CDF and the joint posterior agree with adaptive
    # integration over tau to 1e-6 (the measured error is below 1e-8) at conflicts of 0-3
    prior = commensurate_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, tau_prior=HalfCauchy(scale))
    assert len(prior.weights) == N_NODES == 40
    centre = prior.mean()
    for shift in (0.0, 1.0, 3.0):
        xs = centre + shift * np.array([0.0, 0.5, 1.0]) + np.array([-0.3, 0.0, 0.3])
        mean, sd, post_cdf, prior_cdf = _exact_commensurate(scale, shift, xs)
        post = prior.posterior(centre + shift, NEW_SE)
        assert post.mean() == pytest.approx(mean, abs=1e-6)
        assert post.sd() == pytest.approx(sd, abs=1e-6)
        np.testing.assert_allclose(post.cdf(xs), post_cdf, atol=1e-6)
        np.testing.assert_allclose(prior.cdf(xs), prior_cdf, atol=1e-6)
    # too few nodes would not do: 10 nodes miss the small-scale hyperprior by far more
    coarse = commensurate_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, tau_prior=HalfCauchy(scale),
                                n_nodes=10)
    if scale == 0.1:
        assert abs(coarse.posterior(centre + 1.0, NEW_SE).mean()
                   - _exact_commensurate(scale, 1.0, [centre])[0]) > 1e-4


def test_commensurability_nodes():
    w, taus = commensurability_nodes(HalfCauchy(0.5), 40)
    assert w.sum() == pytest.approx(1.0, abs=1e-14) and np.all(np.diff(taus) > 0)
    # the quadrature reproduces the hyperprior's probabilities, e.g. P(tau < 0.5) = 1/2
    assert np.sum(w[taus < 0.5]) == pytest.approx(0.5, abs=0.03)
    w, taus = commensurability_nodes(SpikeSlab(), 20)
    assert len(w) == 21 and w[0] == 0.1 and taus[0] == pytest.approx(200**-0.5)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert taus[1:].min() > 2**-0.5 and taus.max() < 100
    # a hyperprior concentrated at 0 is full pooling; the string form is accepted
    tight = commensurate_prior("normal:0,10", EXT_Y, EXT_SE, tau_prior="uniform:0,1e-6")
    full = full_pooling(VAGUE_NORMAL, EXT_Y, EXT_SE)
    assert tight.mean() == pytest.approx(full.mean()) and tight.sd() == pytest.approx(full.sd())


SHIFTS = [0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5]
"""Simulated conflicts: trial estimate minus the pooled series estimate (log units)."""


@pytest.mark.parametrize("tau_prior", [HalfCauchy(0.5), SpikeSlab()], ids=["halfcauchy", "spike"])
def test_commensurate_borrowing_falls_as_conflict_grows(tau_prior):
    prior = commensurate_prior(VAGUE_NORMAL, EXT_Y, EXT_SE, tau_prior=tau_prior)
    centre = prior.mean()
    borrowed = np.array([ess(posterior_informed_prior(prior, centre + d, NEW_SE), "elir")
                         for d in SHIFTS])
    assert np.all(np.diff(borrowed) < 0)  # strictly monotone over the grid
    # agreement: tens of events borrowed (of the series' 186); a conflict of 1 (a factor 2.7
    # in the median) leaves about one
    assert borrowed[0] > 15 and borrowed[SHIFTS.index(1.0)] < 1.5
    assert borrowed[0] > 10 * borrowed[SHIFTS.index(1.0)]
    # symmetric in the sign of the conflict
    assert ess(posterior_informed_prior(prior, centre - 0.5, NEW_SE), "elir") == pytest.approx(
        borrowed[SHIFTS.index(0.5)], rel=1e-6)
    # the fixed-tau prior does not adapt: one component, the same ESS whatever the trial says
    fixed = commensurate_prior_fixed(VAGUE_NORMAL, EXT_Y, EXT_SE, 0.5)
    assert posterior_informed_prior(fixed, centre + 1.0, NEW_SE) == fixed


def test_commensurate_counts_borrowing_falls_as_conflict_grows():
    # series response about 41%; NETTER-1-sized trial arm of 101 patients
    r, n = [40, 22, 55, 30], [100, 60, 130, 70]
    prior = commensurate_prior(UNIFORM_BETA, r, n)
    assert isinstance(prior, BetaMixture) and np.all(prior.a >= 1) and np.all(prior.b >= 1)
    rates = [0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1]
    moment = np.array([ess(posterior_informed_prior(prior, round(101 * p), 101), "moment")
                       for p in rates])
    assert np.all(np.diff(moment) < 0)
    agree, clash = (ess(posterior_informed_prior(prior, k, 101), "elir") for k in (40, 20))
    assert agree > 50 and clash < 5
    # full agreement borrows more than the fixed tau = 0.5 prior, a clear conflict less
    fixed = commensurate_prior_fixed(UNIFORM_BETA, r, n, 0.5)
    assert agree > ess(fixed, "elir") > clash


def test_commensurate_counts_posterior_matches_monte_carlo():
    # the joint model by importance-weighted Monte Carlo: tau ~ half-Cauchy(0.5), p_ext from
    # the pooled series, p_new on the logit scale, weights = binomial likelihood of the trial
    r, n = [40, 22, 55, 30], [100, 60, 130, 70]
    prior = commensurate_prior(UNIFORM_BETA, r, n)
    rng = np.random.default_rng(5)
    tau = 0.5 * np.abs(rng.standard_cauchy(1_000_000))
    p_ext = rng.beta(1 + sum(r), 1 + sum(n) - sum(r), tau.size)
    p_new = 1 / (1 + np.exp(-(np.log(p_ext / (1 - p_ext)) + tau * rng.standard_normal(tau.size))))
    p_new = np.clip(p_new, 1e-300, 1 - 1e-16)  # saturated draws have likelihood 0 anyway
    for k in (40, 25, 10):
        w = np.exp(k * np.log(p_new) + (101 - k) * np.log1p(-p_new))
        w /= w.sum()
        mean = np.sum(w * p_new)
        post = prior.posterior(k, 101)
        assert post.mean() == pytest.approx(mean, abs=0.003)
        assert post.sd() == pytest.approx(np.sqrt(np.sum(w * p_new**2) - mean**2), abs=0.002)
