"""Normal-normal meta-regression: the MAP prior for a new study with given study covariates.

Used when the external studies differ in a study-level covariate (population type: midgut /
GEP / pancreatic NET, coded as 0/1 indicator columns) and the new arm has a known value::

    y_i | theta_i ~ Normal(theta_i, s_i^2)
    theta_i       ~ Normal(beta_0 + x_i' beta, tau^2)
    beta_0        ~ Normal(m0, s0^2)  (or flat),   beta_j ~ Normal(0, c^2)  (j >= 1)
    tau           ~ p(tau)
    theta_new     ~ Normal(beta_0 + x_new' beta, tau^2)

Given tau everything is a conjugate normal linear model: with ``W = diag(1/(s_i^2 + tau^2))``,
``X`` the design with an intercept column and ``B`` the prior precision,
``P(tau) = B + X' W X`` and ``b(tau) = P^{-1} (B b0 + X' W y)`` are the posterior precision and
mean of the coefficients, and the linear predictor ``eta_new = x_new' beta`` (with the
intercept) is ``Normal(x_new' b, x_new' P^{-1} x_new)``. The marginal posterior of tau is then
integrated on the same grid as :func:`~prrt_bayes.borrowing.meta.normal_normal_exact`; the
result is a :class:`~prrt_bayes.borrowing.meta.NormalNormalPosterior` whose ``mu`` is
``eta_new`` (the expected parameter of studies like the new one).

A study that reports only a lower bound of its estimate (a median not reached during its
follow-up) enters as censored information: :func:`censored_predictive_draws`.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from prrt_bayes.borrowing.inputs import as_mu_prior, validate_estimates
from prrt_bayes.borrowing.meta import (
    NormalNormalPosterior,
    check_meta_inputs,
    grid_mass,
    posterior_on_grid,
    tau_grid,
)
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Normal, Prior


def _design(covariates, new_covariates, k: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(covariates, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    x_new = np.atleast_1d(np.asarray(new_covariates, dtype=float))
    if x.ndim != 2 or x.shape[0] != k:
        raise InputError(f"covariates need one row per study ({k}), got shape {x.shape}")
    if x_new.shape != (x.shape[1],):
        raise InputError(f"new_covariates need {x.shape[1]} value(s), got {x_new.size}")
    if not (np.isfinite(x).all() and np.isfinite(x_new).all()):
        raise InputError("covariates must be finite numbers")
    return np.column_stack([np.ones(k), x]), np.concatenate([[1.0], x_new])


def meta_regression_exact(
    estimates,
    std_errors,
    covariates,
    new_covariates,
    *,
    tau_prior: Prior | str,
    mu_prior: Normal | str | None = None,
    coef_prior: Normal | str | None = None,
    n_grid: int = 8000,
) -> NormalNormalPosterior:
    """Exact posterior of the normal-normal meta-regression (see module docstring).

    Parameters
    ----------
    estimates, std_errors
        Study estimates and standard errors.
    covariates
        ``(k, q)`` study-level covariates (no intercept column; one column may be a vector).
    new_covariates
        The ``q`` covariate values of the new study.
    tau_prior, mu_prior
        Priors for tau and for the intercept (``None``: flat intercept), as
        :class:`~prrt_bayes.core.priors.Prior` objects or strings (see
        :func:`~prrt_bayes.borrowing.meta.check_meta_inputs`).
    coef_prior
        :class:`~prrt_bayes.core.priors.Normal` prior (or ``normal:MEAN,SD``) shared by the
        covariate coefficients (usually ``normal:0,SD``); ``None`` means flat, which needs more
        studies than coefficients to be proper.
    n_grid
        Size of the tau quadrature grid, which has ``n_grid + 1`` nodes (see
        :func:`~prrt_bayes.borrowing.meta.tau_grid`).

    Returns
    -------
    NormalNormalPosterior
        ``mu`` is the linear predictor of the new study, ``theta_new`` its MAP prior.

    Raises
    ------
    InputError
        For invalid estimates, fewer than 2 studies, unusable priors, covariates of the wrong
        shape or not finite, or coefficients with flat priors that the data cannot identify.
    """
    y, s, tau_prior, mu_prior = check_meta_inputs(estimates, std_errors, tau_prior, mu_prior)
    x, x_new = _design(covariates, new_covariates, y.size)
    prior_mean, prior_prec = _coefficient_prior(x, mu_prior, coef_prior)
    tau = tau_grid(y, s, tau_prior, n_grid)
    b, prec, loglik = _coefficients_given_tau(y, s, x, prior_mean, prior_prec, tau)
    eta_mean = b @ x_new
    eta_var = np.einsum(
        "j,tj->t", x_new, np.linalg.solve(prec, np.broadcast_to(x_new, b.shape)[..., None])[..., 0]
    )
    return posterior_on_grid(tau, loglik + tau_prior.logpdf(tau), eta_mean, eta_var)


def _coefficient_prior(x: np.ndarray, mu_prior, coef_prior) -> tuple[np.ndarray, np.ndarray]:
    """Prior mean and precision of (intercept, coefficients); checks flat ones are identified."""
    p = x.shape[1]
    prior_prec = np.zeros((p, p))
    prior_mean = np.zeros(p)
    if mu_prior is not None:
        prior_mean[0] = mu_prior.mu
        prior_prec[0, 0] = 1.0 / mu_prior.sigma**2
    if coef_prior is not None:
        coef_prior = as_mu_prior(coef_prior, field="coef_prior")
        prior_mean[1:] = coef_prior.mu
        prior_prec[1:, 1:] = np.eye(p - 1) / coef_prior.sigma**2
    n_flat = int(np.sum(np.diag(prior_prec) == 0))
    if n_flat and x.shape[0] <= n_flat:
        raise InputError(
            f"{x.shape[0]} studies cannot identify {n_flat} coefficients with flat priors")
    if n_flat and np.linalg.matrix_rank(x[:, np.diag(prior_prec) == 0]) < n_flat:
        raise InputError(
            "covariates are collinear (a coefficient with a flat prior is not identified)"
        )
    return prior_mean, prior_prec


def _coefficients_given_tau(y, s, x, prior_mean, prior_prec, tau):
    """Conjugate update of the coefficients at every tau node (module docstring).

    Returns the posterior means ``b`` ``(T, p)``, precisions ``P`` ``(T, p, p)`` and
    ``log p(y | tau)`` up to a constant ``(T,)``.
    """
    v = s[None, :] ** 2 + tau[:, None] ** 2
    w = 1.0 / v
    prec = prior_prec + np.einsum("ti,ij,ik->tjk", w, x, x)
    rhs = prior_prec @ prior_mean + (w * y) @ x
    b = np.linalg.solve(prec, rhs[..., None])[..., 0]
    _, logdet = np.linalg.slogdet(prec)
    # log p(y | tau) up to a constant (Gaussian integral over the coefficients)
    quad = (w * y**2).sum(axis=1) + prior_mean @ prior_prec @ prior_mean
    quad -= np.einsum("tj,tjk,tk->t", b, prec, b)
    loglik = -0.5 * np.log(v).sum(axis=1) - 0.5 * logdet - 0.5 * quad
    return b, prec, loglik


N_PROPOSALS = 200_000
"""Proposals of :func:`censored_predictive_draws` (draws of the exact posterior without the
censored studies)."""
MIN_WEIGHT_ESS = 2_000
"""Smallest importance-weight ESS (Kish) :func:`censored_predictive_draws` accepts."""
MAX_PROPOSAL_GROWTH = 16
"""Below :data:`MIN_WEIGHT_ESS` the proposals are redrawn 4 times as many, up to this factor."""


def censored_predictive_draws(
    estimates,
    std_errors,
    censored,
    covariates=None,
    new_covariates=None,
    *,
    tau_prior: Prior | str,
    mu_prior: Normal | str | None = None,
    coef_prior: Normal | str | None = None,
    n: int,
    rng: np.random.Generator,
    n_grid: int = 8000,
    n_proposals: int = N_PROPOSALS,
) -> np.ndarray:
    """Predictive draws of ``theta_new`` when some studies report only a lower bound.

    A study whose estimate is censored (e.g. a median "not reached" at its follow-up ``c_j``)
    contributes ``P(y_j > c_j | beta, tau) = Phi((x_j' beta - c_j) / sqrt(tau^2 + s_j^2))`` to
    the likelihood of the module's model (its ``theta_j ~ Normal(x_j' beta, tau^2)`` and the
    sampling error ``Normal(0, s_j^2)`` of its estimate integrated out). The posterior is no
    longer conjugate given tau, so it is sampled by importance resampling: ``n_proposals``
    draws of (tau, coefficients) from the exact posterior given the studies with an estimate
    (tau by its grid mass, the coefficients from their conditional normal), weighted by the
    censored studies' likelihood and resampled ``n`` times with replacement; then
    ``theta_new = x_new' beta + tau z``. When the weights' Kish ESS is below
    :data:`MIN_WEIGHT_ESS` (many or far censored studies), the proposals are redrawn 4 times as
    many, up to :data:`MAX_PROPOSAL_GROWTH` times ``n_proposals``.

    Parameters
    ----------
    estimates, std_errors
        Study estimates (for a censored study: the lower bound ``c_j``) and standard errors.
    censored
        One flag per study, True where the estimate is only a lower bound.
    covariates, new_covariates
        As :func:`meta_regression_exact`; ``None``: exchangeable studies (intercept only).
    tau_prior, mu_prior, coef_prior
        As :func:`meta_regression_exact`.
    n
        Number of draws returned.
    rng
        Generator for the proposals, the resampling and ``z`` (advanced in place).
    n_grid
        Size of the tau quadrature grid of the proposal.
    n_proposals
        Number of proposals (first round).

    Returns
    -------
    numpy.ndarray
        ``n`` draws of ``theta_new``.

    Raises
    ------
    InputError
        For invalid inputs (as :func:`meta_regression_exact`), ``censored`` of the wrong
        length, fewer than 2 studies with an estimate, or censored studies so far from the
        others that the importance weights degenerate (Kish ESS below
        :data:`MIN_WEIGHT_ESS` with the most proposals).
    """
    y, s = validate_estimates(estimates, std_errors)
    flags = np.asarray(censored, dtype=bool).ravel()
    if flags.size != y.size:
        raise InputError(f"{flags.size} censoring flags for {y.size} studies: the lists must match",
                         field="censored")
    k = y.size
    if covariates is None:
        covariates, new_covariates = np.zeros((k, 0)), np.zeros(0)
    x, x_new = _design(covariates, new_covariates, k)
    obs = ~flags
    y_obs, s_obs, tau_prior, mu_prior = check_meta_inputs(y[obs], s[obs], tau_prior, mu_prior)
    prior_mean, prior_prec = _coefficient_prior(x[obs], mu_prior, coef_prior)
    tau = tau_grid(y_obs, s_obs, tau_prior, n_grid)
    b, prec, loglik = _coefficients_given_tau(y_obs, s_obs, x[obs], prior_mean, prior_prec, tau)
    _, mass = grid_mass(tau, loglik + tau_prior.logpdf(tau))
    chol = np.linalg.cholesky(np.linalg.inv(prec))
    size = n_proposals
    while True:
        node = rng.choice(tau.size, size=size, p=mass)
        z = rng.standard_normal((size, x.shape[1]))
        beta = b[node] + np.einsum("njk,nk->nj", chol[node], z)
        t = tau[node]
        logw = np.zeros(size)
        for j in np.flatnonzero(flags):
            logw += special.log_ndtr((beta @ x[j] - y[j]) / np.sqrt(t**2 + s[j] ** 2))
        w = np.exp(logw - logw.max())
        w /= w.sum()
        weight_ess = 1.0 / np.sum(w**2)
        if weight_ess >= MIN_WEIGHT_ESS or size >= MAX_PROPOSAL_GROWTH * n_proposals:
            break
        size *= 4
    if weight_ess < MIN_WEIGHT_ESS:
        raise InputError(
            f"the censored studies are too far from the others for importance resampling "
            f"(weight ESS {weight_ess:.0f} of {size} proposals)", field="censored")
    pick = rng.choice(size, size=n, p=w)
    return beta[pick] @ x_new + t[pick] * rng.standard_normal(n)
