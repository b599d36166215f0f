"""Normal-normal hierarchical (random-effects meta-analysis) model and its MAP prior.

Model, for studies ``i = 1..k`` with estimate ``y_i`` and known standard error ``s_i``::

    y_i | theta_i ~ Normal(theta_i, s_i^2)
    theta_i       ~ Normal(mu, tau^2)            (exchangeable study parameters)
    mu            ~ Normal(m0, s0^2)             (or flat when no mu prior is given)
    tau           ~ p(tau)                       (half-normal default; half-Cauchy, ...)
    theta_new     ~ Normal(mu, tau^2)            (a new exchangeable study: the MAP prior)

Given ``tau`` everything is conjugate: with ``w_i = 1 / (s_i^2 + tau^2)``,
``V(tau) = 1 / (1/s0^2 + sum w_i)`` and ``m(tau) = V (m0/s0^2 + sum w_i y_i)``,
``mu | tau, y ~ Normal(m(tau), V(tau))`` and ``theta_new | tau, y ~ Normal(m(tau), V + tau^2)``.
The marginal posterior of ``tau`` is ``p(tau) p(y | tau)`` with ``y | tau`` multivariate normal
(mean ``m0``, covariance ``diag(s_i^2 + tau^2) + s0^2 11'``). :func:`normal_normal_exact`
integrates over ``tau`` on a fine grid (``tau = 0`` plus 8000 log-spaced nodes spanning twelve
orders of magnitude, trapezoid rule), which reproduces bayesmeta's deterministic answers to
about 1e-3. :func:`normal_normal_model` is the same model in PyMC (non-centred), for checks
and for extensions (covariates) that leave the closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
from scipy import optimize, special

from prrt_bayes.borrowing.grid import TauGridPosterior
from prrt_bayes.borrowing.inputs import as_mu_prior, as_tau_prior, validate_estimates
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Normal, Prior, Uniform


@dataclass(frozen=True)
class NormalNormalPosterior(TauGridPosterior):
    """Exact posterior of the normal-normal model, as a discrete mixture over a tau grid.

    The tau quantiles interpolate a CDF integrated by the trapezoid rule over ``density``.

    Attributes: ``tau`` (grid nodes), ``mass`` (posterior probability of each node's cell, sums
    to 1), ``density`` (normalised posterior density of tau at the nodes), ``mu_mean`` and
    ``mu_var`` (moments of ``mu | tau, y`` at each node).
    """

    tau: np.ndarray
    mass: np.ndarray
    density: np.ndarray
    mu_mean: np.ndarray
    mu_var: np.ndarray

    # ----- tau -------------------------------------------------------------------------------
    def tau_mean(self) -> float:
        return float(np.sum(self.mass * self.tau))

    def tau_quantile(self, q: float) -> float:
        cdf = np.concatenate([[0.0], np.cumsum(np.diff(self.tau) * _mid(self.density))])
        cdf /= cdf[-1]
        return float(np.interp(q, cdf, self.tau))

    # ----- mu and theta_new (normal mixtures over tau) ----------------------------------------
    def _mixture(self, target: str) -> tuple[np.ndarray, np.ndarray]:
        if target == "mu":
            return self.mu_mean, np.sqrt(self.mu_var)
        if target == "theta_new":
            return self.mu_mean, np.sqrt(self.mu_var + self.tau**2)
        raise InputError(f"target must be 'mu' or 'theta_new', got {target!r}", field="target")

    def mean(self, target: str = "mu") -> float:
        """Posterior mean of ``mu`` or of ``theta_new`` (the same number).

        Parameters
        ----------
        target
            ``"mu"`` (overall mean) or ``"theta_new"`` (a new study's parameter).

        Returns
        -------
        float
            The posterior mean, on the scale of the estimates.

        Raises
        ------
        InputError
            ``target`` is neither ``"mu"`` nor ``"theta_new"``.
        """
        m, _ = self._mixture(target)
        return float(np.sum(self.mass * m))

    def sd(self, target: str = "mu") -> float:
        """Posterior standard deviation of ``mu`` or ``theta_new``.

        Parameters
        ----------
        target
            ``"mu"`` or ``"theta_new"`` (whose SD includes the between-study spread ``tau``).

        Returns
        -------
        float
            The posterior SD of the normal mixture over the tau grid.

        Raises
        ------
        InputError
            ``target`` is neither ``"mu"`` nor ``"theta_new"``.
        """
        m, s = self._mixture(target)
        mean = np.sum(self.mass * m)
        return float(np.sqrt(np.sum(self.mass * (s**2 + m**2)) - mean**2))

    def cdf(self, x: float, target: str = "mu") -> float:
        """Posterior CDF of ``mu`` or ``theta_new`` at ``x``.

        Parameters
        ----------
        x
            Value on the scale of the estimates.
        target
            ``"mu"`` or ``"theta_new"``.

        Returns
        -------
        float
            ``P(target <= x | y)``.

        Raises
        ------
        InputError
            ``target`` is neither ``"mu"`` nor ``"theta_new"``.
        """
        m, s = self._mixture(target)
        return float(np.sum(self.mass * special.ndtr((x - m) / s)))

    def quantile(self, q: float, target: str = "mu") -> float:
        """Posterior ``q`` quantile of ``mu`` or ``theta_new`` (root of the mixture CDF).

        Parameters
        ----------
        q
            Probability in (0, 1).
        target
            ``"mu"`` or ``"theta_new"``.

        Returns
        -------
        float
            The quantile, on the scale of the estimates (Brent's method, ``xtol=1e-10``).

        Raises
        ------
        InputError
            ``target`` is neither ``"mu"`` nor ``"theta_new"``.
        """
        m, s = self._mixture(target)
        lo, hi = float(np.min(m - 40 * s)), float(np.max(m + 40 * s))
        return float(optimize.brentq(lambda x: self.cdf(x, target) - q, lo, hi, xtol=1e-10))

    def sample(self, n: int, rng: np.random.Generator, target: str = "theta_new") -> np.ndarray:
        """Draw ``n`` values of ``mu`` or ``theta_new`` (tau node by mass, then the normal).

        Parameters
        ----------
        n
            Number of draws.
        rng
            Generator for the node choice and the normal draws (advanced in place).
        target
            ``"theta_new"`` (default: draws of the MAP prior) or ``"mu"``.

        Returns
        -------
        numpy.ndarray
            Draws of shape ``(n,)``, on the scale of the estimates.

        Raises
        ------
        InputError
            ``target`` is neither ``"mu"`` nor ``"theta_new"``.
        """
        m, s = self._mixture(target)
        idx = rng.choice(self.tau.size, size=n, p=self.mass)
        return rng.normal(m[idx], s[idx])

    def summary(self) -> dict[str, float]:
        """The figures bayesmeta prints: mu / tau / theta_new mean, sd, median, 95% interval.

        Returns
        -------
        dict[str, float]
            New dict with keys ``{mu,theta_new}_{mean,sd,median,lower,upper}`` and
            ``tau_{mean,median,lower,upper}`` (no tau SD); ``lower`` / ``upper`` are the 2.5% and
            97.5% quantiles.
        """
        out: dict[str, float] = {}
        for target in ("mu", "theta_new"):
            out[f"{target}_mean"] = self.mean(target)
            out[f"{target}_sd"] = self.sd(target)
            out[f"{target}_median"] = self.quantile(0.5, target)
            out[f"{target}_lower"] = self.quantile(0.025, target)
            out[f"{target}_upper"] = self.quantile(0.975, target)
        out["tau_mean"] = self.tau_mean()
        out["tau_median"] = self.tau_quantile(0.5)
        out["tau_lower"] = self.tau_quantile(0.025)
        out["tau_upper"] = self.tau_quantile(0.975)
        return out


def _mid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (x[1:] + x[:-1])


def check_meta_inputs(estimates, std_errors, tau_prior, mu_prior):
    """Validate study estimates (>= 2 studies) and hyperpriors; return them ready to use.

    Parameters
    ----------
    estimates, std_errors
        Study estimates and their standard errors (finite, ``> 0``), equal lengths.
    tau_prior
        Prior of the between-study SD, a :class:`~prrt_bayes.core.priors.Prior` or its string
        (``HalfNormal``, ``HalfCauchy``, ``HalfStudentT``, or ``Uniform`` with ``lower >= 0``;
        see :func:`~prrt_bayes.borrowing.inputs.as_tau_prior`).
    mu_prior
        :class:`~prrt_bayes.core.priors.Normal` prior (or ``normal:MEAN,SD`` string) for the
        overall mean, or None.

    Returns
    -------
    y, s : numpy.ndarray
        The estimates and standard errors as float arrays of shape ``(k,)``.
    tau_prior : Prior
        The (parsed) tau prior.
    mu_prior : Normal or None
        The (parsed) mu prior, or None.

    Raises
    ------
    InputError
        Mismatched or empty lists, a non-finite value, a non-positive standard error, fewer
        than 2 studies, or a hyperprior of an unsupported family.
    """
    y, s = validate_estimates(estimates, std_errors)
    if y.size < 2:
        raise InputError(f"a hierarchical prior needs at least 2 studies, got {y.size}")
    tau_prior = as_tau_prior(tau_prior)
    mu_prior = None if mu_prior is None else as_mu_prior(mu_prior)
    return y, s, tau_prior, mu_prior


def normal_normal_exact(
    estimates,
    std_errors,
    *,
    tau_prior: Prior | str,
    mu_prior: Normal | str | None = None,
    n_grid: int = 8000,
) -> NormalNormalPosterior:
    """Exact posterior of the normal-normal model by quadrature over tau.

    Parameters
    ----------
    estimates, std_errors
        Study estimates ``y_i`` and their standard errors ``s_i > 0`` (at least 2 studies).
    tau_prior
        Prior for the between-study SD (``HalfNormal``, ``HalfCauchy``, ``HalfStudentT``,
        ``Uniform``), or its string (``halfnormal:1``, ``halfcauchy:25``, ``halft:3,1``,
        ``uniform:0,2``).
    mu_prior
        :class:`~prrt_bayes.core.priors.Normal` prior (or ``normal:MEAN,SD``) for the overall
        mean, or None for a flat prior.
    n_grid
        Number of log-spaced tau nodes (plus ``tau = 0``); for a uniform tau prior, the grid is
        ``n_grid + 1`` evenly spaced nodes from LOW to HIGH (see :func:`tau_grid`).

    Returns
    -------
    NormalNormalPosterior
        The posterior on the tau grid (a new object), with the moments of ``mu | tau, y``.

    Raises
    ------
    InputError
        Invalid estimates or hyperpriors (see :func:`check_meta_inputs`).
    """
    y, s, tau_prior, mu_prior = check_meta_inputs(estimates, std_errors, tau_prior, mu_prior)
    tau = tau_grid(y, s, tau_prior, n_grid)
    v = s[None, :] ** 2 + tau[:, None] ** 2
    w = 1.0 / v
    if mu_prior is None:
        prec0, m0 = 0.0, 0.0
    else:
        m0, prec0 = mu_prior.mu, 1.0 / mu_prior.sigma**2
    prec = prec0 + w.sum(axis=1)
    mu_var = 1.0 / prec
    mu_mean = mu_var * (prec0 * m0 + (w * y).sum(axis=1))
    # log p(y | tau) up to a constant: integrate mu out of prod N(y_i | mu, v_i) N(mu | m0, s0^2)
    loglik = -0.5 * np.log(v).sum(axis=1) - 0.5 * np.log(prec)
    loglik -= 0.5 * ((w * y**2).sum(axis=1) + prec0 * m0**2 - mu_mean**2 * prec)
    return posterior_on_grid(tau, loglik + tau_prior.logpdf(tau), mu_mean, mu_var)


def tau_grid(y: np.ndarray, s: np.ndarray, tau_prior: Prior, n_grid: int) -> np.ndarray:
    """Quadrature nodes for tau: 0 plus ``n_grid`` log-spaced nodes (or an even uniform grid).

    The log-spaced nodes run from ``1e-7 * scale`` to ``min(1e5 * scale, prior 1 - 1e-12
    quantile)``, i.e. at most 12 decades, where ``scale`` is the largest of ``max(s)``, the SD
    of ``y`` and the prior median of tau.

    Parameters
    ----------
    y, s
        Study estimates and standard errors, shape ``(k,)``.
    tau_prior
        Tau prior (checked by :func:`~prrt_bayes.borrowing.inputs.as_tau_prior`). A
        :class:`~prrt_bayes.core.priors.Uniform` prior gets ``n_grid + 1`` evenly spaced nodes
        over its support ``[lower, upper]`` instead (no separate 0 node).
    n_grid
        Number of log-spaced nodes after ``tau = 0``.

    Returns
    -------
    numpy.ndarray
        Increasing nodes, shape ``(n_grid + 1,)``.
    """
    if isinstance(tau_prior, Uniform):
        return np.linspace(tau_prior.lower, tau_prior.upper, n_grid + 1)
    scale = max(float(np.max(s)), float(np.std(y)), float(tau_prior.ppf(0.5)))
    hi = min(1e5 * scale, float(tau_prior.ppf(1.0 - 1e-12)))
    return np.concatenate([[0.0], np.geomspace(1e-7 * scale, hi, n_grid)])


def posterior_on_grid(
    tau: np.ndarray, logpost: np.ndarray, mu_mean: np.ndarray, mu_var: np.ndarray
) -> NormalNormalPosterior:
    """Normalise an unnormalised log posterior of tau on its grid (trapezoid rule).

    Parameters
    ----------
    tau, logpost
        Grid nodes and unnormalised log posterior density, as :func:`grid_mass`.
    mu_mean, mu_var
        Mean and variance of ``mu | tau, y`` at each node, shape ``(T,)`` (stored as given).

    Returns
    -------
    NormalNormalPosterior
        New posterior whose ``density`` integrates to 1 by the trapezoid rule and whose
        ``mass`` (density times half the neighbouring gaps) sums to 1.
    """
    dens, mass = grid_mass(tau, logpost)
    return NormalNormalPosterior(tau, mass, dens, mu_mean, mu_var)


def grid_mass(tau: np.ndarray, logpost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised density of tau at the nodes and the probability mass of each node's cell.

    Parameters
    ----------
    tau
        Increasing grid nodes, shape ``(T,)``.
    logpost
        Unnormalised log posterior density of tau at the nodes, shape ``(T,)``.

    Returns
    -------
    density : numpy.ndarray
        Density integrating to 1 by the trapezoid rule.
    mass : numpy.ndarray
        Density times half the neighbouring gaps, normalised to sum to 1.
    """
    dens = np.exp(logpost - np.max(logpost))
    dens /= np.sum(np.diff(tau) * _mid(dens))
    cell = np.zeros_like(tau)
    half = 0.5 * np.diff(tau)
    cell[:-1] += half
    cell[1:] += half
    mass = dens * cell
    return dens, mass / mass.sum()


def normal_normal_model(
    estimates,
    std_errors,
    *,
    tau_prior: Prior | str,
    mu_prior: Normal | str,
    study_names: list[str] | None = None,
    covariates=None,
    new_covariates=None,
    coef_prior: Normal | str | None = None,
) -> pm.Model:
    """The normal-normal hierarchical model in PyMC, non-centred (see module docstring).

    ``theta_i = mu + x_i' beta + tau z_i`` with ``z_i ~ Normal(0, 1)``; ``theta_new = mu +
    x_new' beta + tau z_new`` is a deterministic of a free standard-normal ``z_new``, so its
    draws are the MAP prior. Without ``covariates`` the ``x' beta`` terms are absent (the
    meta-regression of :mod:`.meta_regression` uses them).

    Parameters
    ----------
    estimates, std_errors
        Study estimates and their standard errors (> 0), at least 2 studies; ``y`` and ``s``
        enter the model as ``pm.Data``.
    tau_prior
        Prior for the between-study SD ``tau`` (``HalfNormal``, ``HalfCauchy``,
        ``HalfStudentT``, ``Uniform``) or its string.
    mu_prior
        :class:`~prrt_bayes.core.priors.Normal` prior (or ``normal:MEAN,SD``) for ``mu``;
        required here (None, a flat prior in
        :func:`normal_normal_exact`, is an InputError: PyMC cannot sample a flat prior).
    study_names
        Labels of the ``study`` dimension (default ``study_1``, ``study_2``, ...).
    covariates
        Study-level covariates, ``(k, q)`` array without an intercept column (a length-``k``
        vector is one covariate), or None for the plain model.
    new_covariates
        The ``q`` covariate values of the new study; required with ``covariates``.
    coef_prior
        :class:`~prrt_bayes.core.priors.Normal` prior (or ``normal:MEAN,SD``) shared by every
        coefficient in ``beta``; required with ``covariates``.

    Returns
    -------
    pymc.Model
        New, unsampled model with free ``mu``, ``tau``, ``z`` (dim ``study``), ``z_new`` (and
        ``beta``, dim ``covariate``), deterministics ``theta`` and ``theta_new``, and the
        observed ``y_obs``.

    Raises
    ------
    InputError
        Invalid estimates or hyperpriors (see :func:`check_meta_inputs`), a missing
        ``mu_prior``, a study-name count that differs from the study count, ``covariates``
        without ``new_covariates`` and ``coef_prior``, a non-normal ``coef_prior``, or
        ``new_covariates`` of the wrong length.
    """
    y, s, tau_prior, mu_prior = check_meta_inputs(estimates, std_errors, tau_prior, mu_prior)
    if mu_prior is None:
        raise InputError("the PyMC model needs a normal:MEAN,SD mu prior (a flat prior is only "
                         "available in normal_normal_exact)", field="mu_prior")
    names = study_names or [f"study_{i + 1}" for i in range(y.size)]
    if len(names) != y.size:
        raise InputError(f"{len(names)} study names for {y.size} studies")
    coords = {"study": names}
    if covariates is not None:
        if new_covariates is None or coef_prior is None:
            raise InputError("covariates need new_covariates and a normal coef_prior")
        coef_prior = as_mu_prior(coef_prior, field="coef_prior")
        x = np.asarray(covariates, dtype=float).reshape(y.size, -1)
        x_new = np.atleast_1d(np.asarray(new_covariates, dtype=float))
        if x_new.size != x.shape[1]:
            raise InputError(f"new_covariates need {x.shape[1]} value(s), got {x_new.size}")
        coords["covariate"] = [f"x{j + 1}" for j in range(x.shape[1])]
    with pm.Model(coords=coords) as model:
        y_data = pm.Data("y", y, dims="study")
        s_data = pm.Data("s", s, dims="study")
        mu = mu_prior.to_pymc("mu")
        tau = tau_prior.to_pymc("tau")
        z = pm.Normal("z", 0.0, 1.0, dims="study")
        z_new = pm.Normal("z_new", 0.0, 1.0)
        centre, centre_new = mu, mu
        if covariates is not None:
            beta = coef_prior.to_pymc("beta", dims="covariate")
            centre = mu + pm.math.dot(x, beta)
            centre_new = mu + pm.math.dot(x_new, beta)
        theta = pm.Deterministic("theta", centre + tau * z, dims="study")
        pm.Normal("y_obs", mu=theta, sigma=s_data, observed=y_data, dims="study")
        pm.Deterministic("theta_new", centre_new + tau * z_new)
    return model
