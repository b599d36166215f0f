"""MAP priors end to end: exact hierarchical posterior -> predictive draws -> mixture -> robust.

:func:`map_prior_counts` and :func:`map_prior_estimates` return the (optionally robustified)
mixture prior for a new study; :func:`map_prior_summary` is what ``prrt-bayes map-prior``
prints. Mixtures are fitted by EM to draws from the *exact* predictive distribution (quadrature
posterior, see :mod:`.binomial_map` and :mod:`.meta`), so the only Monte Carlo error is in the
20 000 draws fed to EM (drawn with ``seed``; with censored studies, the draws come from
importance resampling of 200 000 exact-posterior proposals instead); the number of components
is chosen by AIC (1 to ``max_components``, 3 by default), as RBesT's ``automixfit`` does.
With ``robust_weight`` (in [0, 1]) a vague component of that weight is added last; ``None``
leaves the MAP mixture unrobustified.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from prrt_bayes.borrowing.binomial_map import binomial_map_exact
from prrt_bayes.borrowing.ess import ess
from prrt_bayes.borrowing.inputs import validate_counts, validate_estimates, validate_weight
from prrt_bayes.borrowing.meta import normal_normal_exact
from prrt_bayes.borrowing.meta_regression import (
    censored_predictive_draws,
    meta_regression_exact,
)
from prrt_bayes.borrowing.mixtures import fit_mixture_auto, robustify
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import BetaMixture, HalfNormal, Normal, NormalMixture, Prior

DEFAULT_SEED = 20170112
N_DRAWS = 20_000
DEFAULT_TAU_PRIOR = HalfNormal(1.0)
"""Half-normal(1) on the logit scale: RBesT's conservative default for rates in 0.2-0.8."""
DEFAULT_MU_PRIOR_COUNTS = Normal(0.0, 2.0)
"""Normal(0, 2^2) on the logit scale, RBesT's ``beta.prior = 2`` for binary data."""
DEFAULT_TAU_PRIOR_ESTIMATES = HalfNormal(0.5)
"""Half-normal(0.5) on a log scale: the default tau prior of :func:`map_prior_estimates`."""


def map_prior_counts(
    events,
    totals,
    *,
    tau_prior: Prior | str = DEFAULT_TAU_PRIOR,
    mu_prior: Normal | str = DEFAULT_MU_PRIOR_COUNTS,
    robust_weight: float | None = None,
    robust_mean: float = 0.5,
    seed: int = DEFAULT_SEED,
    max_components: int = 3,
) -> BetaMixture:
    """Beta-mixture MAP prior for the response probability of a new study.

    Parameters
    ----------
    events, totals
        Responders and patients of the external studies (at least 2 studies).
    tau_prior, mu_prior
        Priors of the between-study SD and of the mean, both on the logit scale: a
        :class:`~prrt_bayes.core.priors.Prior` or its string (see
        :func:`~prrt_bayes.core.priors.parse_prior`). ``mu_prior`` must be normal.
    robust_weight
        Weight of a vague ``Beta(2 robust_mean, 2 (1 - robust_mean))`` component (``Beta(1,
        1)`` for the default mean) or ``None``.
    robust_mean
        Mean of the robust component, in (0, 1).
    seed, max_components
        Seed of the predictive draws and the largest number of EM components (module
        docstring).

    Returns
    -------
    BetaMixture
        The MAP prior of the response probability.

    Raises
    ------
    InputError
        For invalid counts, fewer than 2 studies, unusable priors or an invalid robust weight or
        mean.
    """
    post = binomial_map_exact(events, totals, tau_prior=tau_prior, mu_prior=mu_prior)
    draws = special.expit(post.sample_theta_new(N_DRAWS, np.random.default_rng(seed)))
    mix = fit_mixture_auto(draws, "beta", max_components)
    if robust_weight is not None:
        mix = robustify(mix, robust_weight, mean=robust_mean)
    return mix


def map_prior_estimates(
    estimates,
    std_errors,
    *,
    tau_prior: Prior | str = DEFAULT_TAU_PRIOR_ESTIMATES,
    mu_prior: Normal | str | None = None,
    robust_weight: float | None = None,
    robust_mean: float | None = None,
    robust_sd: float = 1.0,
    seed: int = DEFAULT_SEED,
    max_components: int = 3,
    covariates=None,
    new_covariates=None,
    coef_prior: Normal | str | None = None,
    censored=None,
) -> NormalMixture:
    """Normal-mixture MAP prior for the parameter of a new study (estimate scale).

    Parameters
    ----------
    estimates, std_errors
        External study estimates (e.g. log medians) and their standard errors (at least 2
        studies).
    covariates, new_covariates, coef_prior
        Study-level covariates ``(k, q)``, the new study's ``q`` values and the prior of their
        coefficients (:func:`~prrt_bayes.borrowing.meta_regression.meta_regression_exact`);
        ``None``: exchangeable studies (no covariate).
    censored
        One flag per study, True where its estimate is only a lower bound (e.g. the log of the
        follow-up of a median not reached): such studies enter as censored information
        (:func:`~prrt_bayes.borrowing.meta_regression.censored_predictive_draws`); ``None`` or
        no flag set: every estimate is a value.
    tau_prior
        Prior of the between-study SD on the estimate's scale, a
        :class:`~prrt_bayes.core.priors.Prior` or its string (default ``HalfNormal(0.5)``).
    mu_prior
        Normal prior of the overall mean (or its string); ``None`` means a flat prior.
    robust_weight
        Weight of a robust ``Normal(robust_mean, robust_sd^2)`` component or ``None``.
    robust_mean
        Mean of the robust component; ``None`` uses the mean of the MAP mixture.
    robust_sd
        SD of the robust component; 1 is a unit-information prior for a log hazard or log median
        (one event).
    seed, max_components
        Seed of the predictive draws and the largest number of EM components (module
        docstring).

    Returns
    -------
    NormalMixture
        The MAP prior on the estimate's scale.

    Raises
    ------
    InputError
        For invalid estimates, fewer than 2 studies, unusable priors or an invalid robust weight
        or SD.
    """
    rng = np.random.default_rng(seed)
    if censored is not None and np.any(censored):
        draws = censored_predictive_draws(
            estimates, std_errors, censored, covariates, new_covariates, tau_prior=tau_prior,
            mu_prior=mu_prior, coef_prior=coef_prior, n=N_DRAWS, rng=rng)
    else:
        if covariates is None:
            post = normal_normal_exact(estimates, std_errors, tau_prior=tau_prior,
                                       mu_prior=mu_prior)
        else:
            post = meta_regression_exact(estimates, std_errors, covariates, new_covariates,
                                         tau_prior=tau_prior, mu_prior=mu_prior,
                                         coef_prior=coef_prior)
        draws = post.sample(N_DRAWS, rng, target="theta_new")
    mix = fit_mixture_auto(draws, "normal", max_components)
    if robust_weight is not None:
        mean = mix.mean() if robust_mean is None else robust_mean
        mix = robustify(mix, robust_weight, mean=mean, sd=robust_sd)
    return mix


def map_prior_summary(
    *,
    events=None,
    totals=None,
    estimates=None,
    std_errors=None,
    robust_weight: float | None = None,
    tau_prior: Prior | str = DEFAULT_TAU_PRIOR,
    mu_prior: Normal | str | None = None,
    seed: int = DEFAULT_SEED,
    reference_sd: float = 1.0,
) -> dict:
    """Summary of a MAP prior, as printed by ``prrt-bayes map-prior``.

    Parameters
    ----------
    events, totals
        Responders and patients per study: binomial, logit-normal hierarchy; the summary is of
        the predictive response probability of a new study, with a beta mixture. Give these or
        ``estimates`` and ``std_errors``, not both.
    estimates, std_errors
        Study estimates and standard errors: normal-normal hierarchy on the estimate's scale,
        normal mixture.
    robust_weight
        Weight in [0, 1] of the robust component (``Beta(1, 1)`` for counts,
        ``Normal(MAP mean, reference_sd^2)`` for estimates); ``None``: no robust component.
    tau_prior
        Prior of the between-study SD, a :class:`~prrt_bayes.core.priors.Prior` or its string
        (default ``HalfNormal(1)``).
    mu_prior
        Prior of the overall mean (or its string); ``None`` means ``Normal(0, 2)`` for counts
        and a flat prior for estimates.
    seed
        Seed of the predictive draws the mixture is fitted to.
    reference_sd
        Per-unit sampling SD used for the ESS and the robust component of estimates (1: events
        for a log hazard / log median); ignored for counts.

    Returns
    -------
    dict
        ``mean, sd, lower, upper`` (2.5% / 97.5% quantiles of the (robust) mixture prior),
        ``ess_elir``, ``ess_moment``, ``components`` (``[weight, a, b]`` or
        ``[weight, mean, sd]`` each), ``scale`` (``"probability"`` or ``"estimate"``) and
        ``n_studies``.

    Raises
    ------
    InputError
        When both or neither kind of data is given, one of a pair is missing, or the data,
        priors or weight are invalid.
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
        "lower": float(mix.ppf(0.025)),
        "upper": float(mix.ppf(0.975)),
        "ess_elir": ess(mix, "elir", **ess_kw),
        "ess_moment": ess(mix, "moment", **ess_kw),
        "components": [list(c) for c in mix.components()],
        "scale": scale,
        "n_studies": int(k),
    }
