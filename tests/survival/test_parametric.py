"""Parametric survival models: formulas, input checks, priors, ML agreement, recovery.

References nobody here wrote: SciPy distributions and censored MLE, lifelines' parametric fitters
(on lifelines' ``load_lung``: 228 patients, 165 deaths, time in days) and simulation with known
truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.stats as st
import xarray as xr
from helpers import simulate_weibull
from lifelines import (
    GeneralizedGammaFitter,
    LogLogisticFitter,
    LogNormalFitter,
    WeibullFitter,
)
from lifelines.datasets import load_lung
from scipy.optimize import minimize

from prrt_bayes.core.diagnostics import check_diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.survival import parametric as P
from prrt_bayes.survival.distributions import FAMILIES, NP, PT

PARAMS = {
    "exponential": {"rate": 0.05},
    "weibull": {"shape": 1.4, "scale": 20.0},
    "gompertz": {"shape": -0.03, "rate": 0.04},
    "loglogistic": {"shape": 1.7, "scale": 15.0},
    "lognormal": {"meanlog": 2.5, "sdlog": 1.1},
    "gengamma": {"mu": 2.8, "sigma": 0.7, "Q": 1.1},
}
TIMES = np.array([0.5, 3.0, 10.0, 40.0, 120.0])


# --- formulas --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "params"),
    [
        *PARAMS.items(),
        ("gengamma", {"mu": 2.8, "sigma": 0.7, "Q": -0.8}),
        ("gengamma", {"mu": 2.8, "sigma": 0.7, "Q": 1e-4}),
        ("gompertz", {"shape": 0.05, "rate": 0.01}),
    ],
)
def test_hazard_is_minus_dlogS_and_quantile_inverts_S(family, params):
    fam = FAMILIES[family]
    eps = 1e-5
    numeric = -(fam.log_survival(NP, TIMES + eps, **params)
                - fam.log_survival(NP, TIMES - eps, **params)) / (2 * eps)
    h = fam.hazard(TIMES, **params)
    ok = numeric > 1e-12  # where the hazard is not numerically 0
    np.testing.assert_allclose(h[ok], numeric[ok], rtol=1e-5)
    for s in (0.9, 0.5, 0.2):
        q = np.asarray(fam.quantile(s, **params))
        if np.isinf(q):  # curve never reaches s (Gompertz with a < 0: plateau exp(b/a) > s)
            assert fam.survival(np.asarray(1e6), **params) > s
        else:
            assert fam.survival(q, **params) == pytest.approx(s)
    # the PyTensor (likelihood) and NumPy (curves) evaluations agree
    t = pt.dvector("t")
    consts = {k: pt.constant(np.float64(v)) for k, v in params.items()}
    f = pytensor.function([t], [fam.log_survival(PT, t, **consts), fam.log_hazard(PT, t, **consts)])
    log_s, log_h = f(TIMES)
    np.testing.assert_allclose(log_s, fam.log_survival(NP, TIMES, **params), rtol=1e-10)
    np.testing.assert_allclose(log_h, fam.log_hazard(NP, TIMES, **params), rtol=1e-10)


@pytest.mark.parametrize("q", [1.1, -0.8, 1e-4])
def test_gengamma_log_likelihood_is_event_log_hazard_plus_log_survival(q):
    """The generalised gamma's likelihood uses its closed-form density for events; it equals
    the other families' event * log h(t) + log S(t), censored at t = 0 included, in NumPy and
    in PyTensor, with a finite gradient."""
    fam, params = FAMILIES["gengamma"], {"mu": 2.8, "sigma": 0.7, "Q": q}
    t = np.array([0.0, 0.5, 3.0, 10.0, 40.0, 120.0, 3.0, 40.0])
    event = np.array([0, 1, 1, 1, 1, 1, 0, 0], dtype=float)
    expected = np.where(event > 0, fam.log_hazard(NP, np.where(t > 0, t, 1.0), **params), 0.0)
    expected = expected + np.where(t > 0, fam.log_survival(NP, np.where(t > 0, t, 1.0),
                                                           **params), 0.0)
    np.testing.assert_allclose(fam.log_likelihood(NP, t, event, **params), expected,
                               rtol=1e-12, atol=1e-12)
    free = {k: pt.dscalar(k) for k in params}
    total = fam.log_likelihood(PT, pt.constant(t), pt.constant(event), **free).sum()
    f = pytensor.function(list(free.values()), [total, *pytensor.grad(total, list(free.values()))],
                          mode="FAST_COMPILE")
    value, *grad = f(*(np.float64(v) for v in params.values()))
    assert value == pytest.approx(expected.sum(), rel=1e-10)
    assert np.all(np.isfinite(grad))


def test_survival_matches_scipy_and_lifelines():
    """Parameterisations map exactly to SciPy's / lifelines' distributions."""
    t = TIMES
    S = {f: FAMILIES[f].survival(t, **p) for f, p in PARAMS.items()}
    np.testing.assert_allclose(S["exponential"], st.expon(scale=1 / 0.05).sf(t))
    np.testing.assert_allclose(S["weibull"], st.weibull_min(1.4, scale=20.0).sf(t))
    np.testing.assert_allclose(S["loglogistic"], st.fisk(1.7, scale=15.0).sf(t))
    np.testing.assert_allclose(S["lognormal"], st.lognorm(1.1, scale=np.exp(2.5)).sf(t))
    # scipy gompertz: S(x) = exp(-c (e^(x/s) - 1)); ours with shape a > 0, rate b: s = 1/a, c = b/a
    a, b = 0.05, 0.01
    np.testing.assert_allclose(
        FAMILIES["gompertz"].survival(t, shape=a, rate=b), st.gompertz(b / a, scale=1 / a).sf(t)
    )
    # lifelines GeneralizedGammaFitter: params (mu_, ln_sigma_, lambda_) = (mu, log sigma, Q)
    gg = GeneralizedGammaFitter()
    for q in (1.1, -0.8):
        ll = np.exp(-gg._cumulative_hazard(np.array([2.8, np.log(0.7), q]), t))
        np.testing.assert_allclose(FAMILIES["gengamma"].survival(t, mu=2.8, sigma=0.7, Q=q), ll)
    # special cases of the generalised gamma: Q = 1 Weibull, Q -> 0 log-normal
    np.testing.assert_allclose(
        FAMILIES["gengamma"].survival(t, mu=2.8, sigma=0.7, Q=1.0),
        st.weibull_min(1 / 0.7, scale=np.exp(2.8)).sf(t),
    )
    np.testing.assert_allclose(
        FAMILIES["gengamma"].survival(t, mu=2.8, sigma=0.7, Q=0.0),
        st.lognorm(0.7, scale=np.exp(2.8)).sf(t),
    )


def test_log_survival_is_finite_far_in_the_tail():
    far = np.array([1e3, 1e4])
    assert np.all(np.isfinite(FAMILIES["lognormal"].log_survival(NP, far, meanlog=1.0, sdlog=0.5)))
    assert np.all(np.isfinite(FAMILIES["loglogistic"].log_survival(NP, far, shape=3.0, scale=2.0)))


# --- inputs ----------------------------------------------------------------------------------


def _ipd(**over):
    df = pd.DataFrame(
        {"time": [1.0, 2.0, 3.0, 4.0], "event": [1, 0, 1, 1],
         "arm": ["control", "control", "lu177", "lu177"]}
    )
    for col, (row, value) in over.items():
        df[col] = df[col].astype(object)
        df.loc[row, col] = value
    return df


@pytest.mark.parametrize(
    ("ipd", "field"),
    [
        (_ipd(time=(1, -2.0)), "time"),
        (_ipd(event=(2, 2)), "event"),
        (_ipd(event=(0, "yes")), "event"),
        (_ipd(event=(0, 0)), "event"),  # control arm has no events
        (_ipd(time=(0, 0.0)), "time"),  # event at time 0
        (_ipd(arm=(1, None)), "arm"),
        (_ipd().drop(columns="time"), "time"),
    ],
)
def test_bad_inputs_raise_input_error(ipd, field):
    with pytest.raises(InputError) as info:
        P.prepare_ipd(ipd, require_two_arms=True)
    assert info.value.field == field


def test_model_names_and_arms_are_checked():
    with pytest.raises(InputError, match="unknown parametric model"):
        P.get_spec("weibull_aft_typo")
    with pytest.raises(InputError, match="treatment arm"):
        P.prepare_ipd(_ipd(), treatment="drug", require_two_arms=True)
    with pytest.raises(InputError, match="exactly 2 arms"):
        P.prepare_ipd(_ipd().drop(columns="arm"), require_two_arms=True)
    with pytest.raises(InputError, match="unknown parameters"):
        P.fit("weibull_ph", _ipd(), settings=SamplerSettings(),
              priors={"log_hazard_ratio": P.Normal(0, 1)})
    data = P.prepare_ipd(_ipd())
    assert data.arms == ("control", "lu177")
    assert data.arm_idx.tolist() == [0, 0, 1, 1]


# --- priors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(P.MODELS))
def test_prior_predictive_median_is_plausible_in_months(name):
    """Default priors: median survival in 0.1-1000 months with probability >= 90% per arm."""
    check = P.prior_predictive_check(name, lower=0.1, upper=1000.0, min_prob=0.9)
    assert check.passed, (check.prob_in_range, check.median_quantiles)


def test_vague_priors_fail_the_months_check():
    """The check can fail: Normal(0, 10) priors put most prior medians outside 0.1-1000."""
    check = P.prior_predictive_check("weibull_ph", P.vague_priors("weibull_ph"))
    assert not check.passed


# --- likelihood ------------------------------------------------------------------------------


def test_pointwise_log_likelihood_matches_model_logp():
    """The NumPy log-likelihood stored for LOO equals PyMC's log-density of ``time``."""
    rng = np.random.default_rng(1)
    ipd = pd.DataFrame({
        "time": np.append(rng.weibull(1.3, 40) * 20, 0.0),  # one censored at time 0
        "event": np.append(rng.integers(0, 2, 40), 0),
        "arm": np.append(np.repeat(["control", "lu177"], 20), "lu177"),
    })
    ipd.loc[0, "event"] = 1
    for name in ("gengamma_aft", "gompertz_ph", "loglogistic_separate"):
        data = P.prepare_ipd(ipd)
        model = P.build_model(name, data)
        point = {n: np.asarray(v) + 0.1 for n, v in model.initial_point().items()}
        logp = model.compile_logp(vars=[model["time"]], mode="FAST_COMPILE")(point)
        post = {n: np.asarray(point[n])[None, None] for n in P.get_spec(name).free_names}
        tree = xr.DataTree.from_dict({"posterior": xr.Dataset(
            {n: (("chain", "draw", *(("arm",) if v.ndim == 3 else ())), v)
             for n, v in post.items()}, coords={"arm": list(data.arms)},
            attrs={"model": name, "arms": '["control", "lu177"]'})})
        ours = P.pointwise_log_likelihood(tree, data).sum()
        assert float(ours) == pytest.approx(float(logp), rel=1e-9)


# --- agreement with maximum likelihood (lifelines, SciPy) on lifelines' lung data ------------


@pytest.fixture(scope="module")
def lung():
    df = load_lung()
    return pd.DataFrame({"time": df["time"].astype(float), "event": df["status"].astype(int)})


def _exponential_mle(t, d):
    """Closed form: rate = events / total time."""
    return {"rate": d.sum() / t.sum()}


def _gompertz_mle(t, d):
    """SciPy ``gompertz.fit`` on ``CensoredData`` (shape c, scale s): shape = 1/s, rate = c/s."""
    data = st.CensoredData(uncensored=t[d == 1], right=t[d == 0])
    c, _, s = st.gompertz.fit(data, 0.5, floc=0, scale=500.0)
    return {"shape": 1 / s, "rate": c / s}


def _lifelines(fitter, convert):
    return lambda t, d: convert(fitter().fit(t, d))


REFERENCE_MLE = {
    # family: (time, event) -> reference MLE in our natural parameters
    "exponential": _exponential_mle,
    "gompertz": _gompertz_mle,
    "weibull": _lifelines(WeibullFitter, lambda f: {"shape": f.rho_, "scale": f.lambda_}),
    "lognormal": _lifelines(LogNormalFitter, lambda f: {"meanlog": f.mu_, "sdlog": f.sigma_}),
    "loglogistic": _lifelines(
        LogLogisticFitter, lambda f: {"shape": f.beta_, "scale": f.alpha_}
    ),
    "gengamma": _lifelines(
        GeneralizedGammaFitter,
        lambda f: {"mu": f.mu_, "sigma": np.exp(f.ln_sigma_), "Q": f.lambda_},
    ),
}


@pytest.mark.parametrize("family", sorted(REFERENCE_MLE))
def test_our_likelihood_is_maximised_at_the_reference_mle(lung, family):
    """Maximising our censored log-likelihood (no MCMC) reproduces lifelines' / SciPy's MLE."""
    fam = FAMILIES[family]
    t, d = lung["time"].to_numpy(), lung["event"].to_numpy()
    mle = REFERENCE_MLE[family](t, d)

    def unpack(x):
        return {p.name: (np.exp(v) if p.transform == "log" else v)
                for p, v in zip(fam.parameters, x, strict=True)}

    def nll(x):
        return -np.sum(fam.log_likelihood(NP, t, d, **unpack(x)))

    x0 = [np.log(mle[p.name]) + 0.2 if p.transform == "log" else mle[p.name] * 1.2
          for p in fam.parameters]
    ours = unpack(minimize(nll, x0, method="Nelder-Mead",
                           options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20000}).x)
    for k, v in mle.items():
        assert ours[k] == pytest.approx(v, rel=2e-3), k


def _fit_lung(lung, name, draws=1000):
    fit = P.fit(name, lung, settings=SamplerSettings(draws=draws, tune=1000),
                priors=P.vague_priors(name))
    diag = check_diagnostics(fit.tree)
    assert diag.passed, diag.problems
    return {k: float(v.median()) for k, v in fit.parameters().items()}


def test_weibull_matches_lifelines(lung):
    """lifelines WeibullFitter: S = exp(-(t/lambda_)^rho_) -> scale = lambda_, shape = rho_."""
    mle = WeibullFitter().fit(lung["time"], lung["event"])
    post = _fit_lung(lung, "weibull_separate")
    assert abs(post["shape"] - mle.rho_) <= 0.05
    assert abs(np.log(post["scale"] / mle.lambda_)) <= 0.05  # scale in days: within 5%


def test_lognormal_matches_lifelines(lung):
    """lifelines LogNormalFitter: log T ~ N(mu_, sigma_) -> meanlog = mu_, sdlog = sigma_."""
    mle = LogNormalFitter().fit(lung["time"], lung["event"])
    post = _fit_lung(lung, "lognormal_separate")
    assert abs(post["meanlog"] - mle.mu_) <= 0.05
    assert abs(post["sdlog"] - mle.sigma_) <= 0.05


def test_loglogistic_matches_lifelines(lung):
    """lifelines LogLogisticFitter: S = 1/(1 + (t/alpha_)^beta_): scale = alpha_, shape = beta_."""
    mle = LogLogisticFitter().fit(lung["time"], lung["event"])
    post = _fit_lung(lung, "loglogistic_separate")
    assert abs(post["shape"] - mle.beta_) <= 0.05
    assert abs(np.log(post["scale"] / mle.alpha_)) <= 0.05


@pytest.mark.slow
def test_gengamma_matches_lifelines(lung):
    """lifelines GeneralizedGammaFitter (mu_, ln_sigma_, lambda_) = (mu, log sigma, Q).

    Slow (~1 min: the incomplete-gamma gradient is costly); the default suite checks the
    gengamma likelihood against lifelines' MLE by optimisation instead.
    """
    mle = GeneralizedGammaFitter().fit(lung["time"], lung["event"])
    post = _fit_lung(lung, "gengamma_separate", draws=2000)
    print("gengamma posterior medians:", post, "MLE:", mle.mu_, np.exp(mle.ln_sigma_), mle.lambda_)
    assert abs(post["mu"] - mle.mu_) <= 0.05
    assert abs(post["sigma"] - np.exp(mle.ln_sigma_)) <= 0.05
    assert abs(post["Q"] - mle.lambda_) <= 0.05


@pytest.mark.slow
def test_exponential_matches_closed_form_mle(lung):
    """Exponential MLE: rate = events / total time. (Slow-marked to save compile time; the
    default suite checks the likelihood's maximum instead.)"""
    post = _fit_lung(lung, "exponential_separate")
    mle = _exponential_mle(lung["time"].to_numpy(), lung["event"].to_numpy())["rate"]
    assert abs(np.log(post["rate"] / mle)) <= 0.05


@pytest.mark.slow
def test_gompertz_matches_scipy_censored_mle(lung):
    """SciPy censored Gompertz MLE (see ``_gompertz_mle``). Slow-marked like the exponential."""
    mle = _gompertz_mle(lung["time"].to_numpy(), lung["event"].to_numpy())
    post = _fit_lung(lung, "gompertz_separate")
    # shape in 1/day: compare per year (shape x 365 = log hazard ratio per year)
    assert abs((post["shape"] - mle["shape"]) * 365) <= 0.05
    assert abs(np.log(post["rate"] / mle["rate"])) <= 0.05


# --- recovery --------------------------------------------------------------------------------

TRUE = {"shape": 1.3, "scale": 20.0, "hazard_ratio": 0.6}


def _covered(fit) -> dict[str, bool]:
    params = fit.parameters()
    draws = {
        "shape": params["shape"].sel(arm="control"),
        "scale": params["scale"].sel(arm="control"),
        "hazard_ratio": fit.tree.posterior["hazard_ratio"],
    }
    out = {}
    for k, d in draws.items():
        lo, hi = np.quantile(d.values, [0.025, 0.975])
        out[k] = bool(lo <= TRUE[k] <= hi)
    return out


def _recovery(n_rep: int, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(TRUE, 0)
    for rep in range(n_rep):
        fit = P.fit("weibull_ph", simulate_weibull(rng),
                    settings=SamplerSettings(draws=1000, tune=1000, seed=rep))
        diag = check_diagnostics(fit.tree)
        assert diag.passed, (rep, diag.problems)
        for k, ok in _covered(fit).items():
            hits[k] += ok
    return hits


def test_weibull_ph_recovery_10():
    hits = _recovery(10, seed=2024)
    print("recovery 10:", hits)
    assert all(h >= 8 for h in hits.values()), hits


@pytest.mark.slow
def test_weibull_ph_recovery_100():
    hits = _recovery(100, seed=7)
    print("recovery 100:", hits)
    assert all(h >= 90 for h in hits.values()), hits
