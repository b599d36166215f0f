"""MAP priors end to end: exact hierarchical posterior -> predictive draws -> mixture -> robust.

:func:`map_prior_counts` and :func:`map_prior_estimates` return the (optionally robustified)
mixture prior for a new study; :func:`map_prior_summary` is what ``prrt-bayes map-prior``
prints. Mixtures are fitted by EM to draws from the *exact* predictive distribution (quadrature
posterior, see :mod:`.binomial_map` and :mod:`.meta`), so the only Monte Carlo error is in the
20 000 draws fed to EM; the number of components is chosen by AIC (1 to 3), as RBesT's
``automixfit`` does.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from prrt_bayes.borrowing.binomial_map import binomial_map_exact
from prrt_bayes.borrowing.ess import ess
from prrt_bayes.borrowing.inputs import (
    PriorSpec,
    parse_prior,
    validate_counts,
    validate_estimates,
    validate_weight,
)
from prrt_bayes.borrowing.meta import normal_normal_exact
from prrt_bayes.borrowing.mixtures import BetaMixture, NormalMixture, fit_mixture_auto
from prrt_bayes.errors import InputError

DEFAULT_SEED = 20170112
N_DRAWS = 20_000
DEFAULT_TAU_PRIOR = "halfnormal:1"
"""Half-normal(1) on the logit scale: RBesT's conservative default for rates in 0.2-0.8."""
DEFAULT_MU_PRIOR_COUNTS = "normal:0,2"
"""Normal(0, 2^2) on the logit scale, RBesT's ``beta.prior = 2`` for binary data."""


def _spec(value: str | PriorSpec, field: str) -> PriorSpec:
    return value if isinstance(value, PriorSpec) else parse_prior(value, field=field)


def map_prior_counts(
    events,
    totals,
    *,
    tau_prior: str | PriorSpec = DEFAULT_TAU_PRIOR,
    mu_prior: str | PriorSpec = DEFAULT_MU_PRIOR_COUNTS,
    robust_weight: float | None = None,
    robust_mean: float = 0.5,
    seed: int = DEFAULT_SEED,
    max_components: int = 3,
) -> BetaMixture:
    """Beta-mixture MAP prior for the response probability of a new study.

    ``robust_weight`` (in [0, 1]) adds a Beta(1, 1)-type component centred at ``robust_mean``.
    """
    post = binomial_map_exact(
        events,
        totals,
        tau_prior=_spec(tau_prior, "tau_prior"),
        mu_prior=_spec(mu_prior, "mu_prior"),
    )
    draws = special.expit(post.sample_theta_new(N_DRAWS, np.random.default_rng(seed)))
    mix = fit_mixture_auto(draws, "beta", max_components)
    if robust_weight is not None:
        mix = mix.robustify(robust_weight, mean=robust_mean)
    return mix


def map_prior_estimates(
    estimates,
    std_errors,
    *,
    tau_prior: str | PriorSpec = "halfnormal:0.5",
    mu_prior: str | PriorSpec | None = None,
    robust_weight: float | None = None,
    robust_mean: float | None = None,
    robust_sd: float = 1.0,
    seed: int = DEFAULT_SEED,
    max_components: int = 3,
) -> NormalMixture:
    """Normal-mixture MAP prior for the parameter of a new study (estimate scale).

    The robust component is ``Normal(robust_mean, robust_sd^2)``; ``robust_sd = 1`` is a
    unit-information prior for a log hazard or log median (one event), ``robust_mean`` defaults
    to the MAP mean. ``mu_prior=None`` means a flat prior on the overall mean.
    """
    post = normal_normal_exact(
        estimates,
        std_errors,
        tau_prior=_spec(tau_prior, "tau_prior"),
        mu_prior=None if mu_prior is None else _spec(mu_prior, "mu_prior"),
    )
    draws = post.sample(N_DRAWS, np.random.default_rng(seed), target="theta_new")
    mix = fit_mixture_auto(draws, "normal", max_components)
    if robust_weight is not None:
        mean = mix.mean() if robust_mean is None else robust_mean
        mix = mix.robustify(robust_weight, mean=mean, sd=robust_sd)
    return mix


def map_prior_summary(
    *,
    events=None,
    totals=None,
    estimates=None,
    std_errors=None,
    robust_weight: float | None = None,
    tau_prior: str = DEFAULT_TAU_PRIOR,
    mu_prior: str | None = None,
    seed: int = DEFAULT_SEED,
    reference_sd: float = 1.0,
) -> dict:
    """Summary of a MAP prior, as printed by ``prrt-bayes map-prior``.

    Give either ``events`` and ``totals`` (binomial, logit-normal hierarchy; the summary is of
    the predictive response probability of a new study, with a beta mixture) or ``estimates``
    and ``std_errors`` (normal-normal hierarchy on the estimate's scale, normal mixture).
    ``mu_prior`` defaults to ``normal:0,2`` for counts and a flat prior for estimates.
    ``reference_sd`` is the per-unit sampling SD used for the ESS of estimates (1: events for a
    log hazard / log median).

    Returns a dict with ``mean, sd, lower, upper`` (2.5% / 97.5% quantiles of the (robust)
    mixture prior), ``ess_elir``, ``ess_moment``, ``components`` (``[weight, a, b]`` or
    ``[weight, mean, sd]`` each), ``scale`` and ``n_studies``. Raises InputError on bad input.
    """
    counts = events is not None or totals is not None
    continuous = estimates is not None or std_errors is not None
    if counts == continuous:
        raise InputError("give either events and totals, or estimates and std errors (not both)")
    if robust_weight is not None:
        robust_weight = validate_weight(robust_weight)
    if counts:
        if events is None or totals is None:
            raise InputError("counts need both events and totals")
        r, _ = validate_counts(events, totals)
        mix = map_prior_counts(
            events,
            totals,
            tau_prior=tau_prior,
            mu_prior=mu_prior or DEFAULT_MU_PRIOR_COUNTS,
            robust_weight=robust_weight,
            seed=seed,
        )
        ess_kw: dict = {}
        scale, k = "probability", r.size
    else:
        if estimates is None or std_errors is None:
            raise InputError("estimates need both estimates and std errors")
        y, _ = validate_estimates(estimates, std_errors)
        mix = map_prior_estimates(
            estimates,
            std_errors,
            tau_prior=tau_prior,
            mu_prior=mu_prior,
            robust_weight=robust_weight,
            robust_sd=reference_sd,
            seed=seed,
        )
        ess_kw = {"family": "gaussian", "sigma": reference_sd}
        scale, k = "estimate", y.size
    return {
        "mean": mix.mean(),
        "sd": mix.sd(),
        "lower": mix.quantile(0.025),
        "upper": mix.quantile(0.975),
        "ess_elir": ess(mix, "elir", **ess_kw),
        "ess_moment": ess(mix, "moment", **ess_kw),
        "components": [list(c) for c in mix.components()],
        "scale": scale,
        "n_studies": int(k),
    }
