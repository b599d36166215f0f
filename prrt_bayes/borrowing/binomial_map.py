"""Binomial-logit meta-analytic-predictive (MAP) prior, as RBesT's ``gMAP(family=binomial)``.

Model, for historical studies ``i = 1..k`` with ``r_i`` events out of ``n_i``::

    r_i | theta_i ~ Binomial(n_i, logit^-1(theta_i))
    theta_i       ~ Normal(mu, tau^2)
    mu            ~ Normal(m0, s0^2)          (RBesT example: Normal(0, 2^2))
    tau           ~ HalfNormal(scale)         (RBesT example: scale 1 on the logit scale)
    theta_new     ~ Normal(mu, tau^2),  p_new = logit^-1(theta_new)   <- the MAP prior

Two implementations that must agree:

* :func:`binomial_map_exact` — deterministic quadrature. Each study's ``theta_i`` is integrated
  out by adaptive Gauss-Hermite quadrature (32 nodes, centred at the mode of the log-concave
  integrand, scaled by its curvature), then ``(mu, tau)`` is integrated on a 2-D trapezoid grid
  refined to the region holding the posterior mass. No Monte Carlo error except in the draws
  used to fit a mixture.
* :func:`binomial_map_model` — the same model in PyMC, non-centred
  (``theta_i = mu + tau z_i``), sampled with the shared NUTS helper.

**Inputs** of both: ``events`` and ``totals``, the responders and patients of each historical
study (whole numbers, ``0 <= r_i <= n_i``, ``n_i > 0``), at least 2 studies; ``tau_prior``, the
prior of the between-study SD on the logit scale (``HalfNormal``, ``HalfCauchy``,
``HalfStudentT``, ``Uniform``) or its string (e.g. ``halfnormal:1``); ``mu_prior``, the required
:class:`~prrt_bayes.core.priors.Normal` prior (or ``normal:MEAN,SD``) of ``mu`` (logit scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
from scipy import special

from prrt_bayes.borrowing.grid import TauGridPosterior
from prrt_bayes.borrowing.inputs import as_mu_prior, as_tau_prior, validate_counts
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Normal, Prior

_GH_X, _GH_W = np.polynomial.hermite.hermgauss(32)


def _log_marginal_study(r, n, mu, tau):
    """log of int Binomial(r | n, expit(theta)) Normal(theta | mu, tau^2) dtheta (no binom coef).

    Adaptive Gauss-Hermite: Newton steps find the mode of the (log-concave) integrand, whose
    curvature sets the node spread. ``mu`` and ``tau`` broadcast.
    """
    prec = 1.0 / tau**2
    # start from the precision-weighted compromise of mu and the study's empirical logit
    lhat = np.log((r + 0.5) / (n - r + 0.5))
    info = n * (r + 0.5) * (n - r + 0.5) / (n + 1.0) ** 2
    th = (prec * mu + info * lhat) / (prec + info)
    for _ in range(30):
        p = special.expit(th)
        grad = r - n * p - prec * (th - mu)
        hess = -n * p * (1 - p) - prec
        step = np.clip(-grad / hess, -1.0, 1.0)
        th = th + step
        if np.max(np.abs(step)) < 1e-9:
            break
    p = special.expit(th)
    sd = 1.0 / np.sqrt(n * p * (1 - p) + prec)
    nodes = th[..., None] + np.sqrt(2.0) * sd[..., None] * _GH_X
    # r log p + (n - r) log(1 - p) = n log expit(x) - (n - r) x
    logf = (
        n * special.log_expit(nodes)
        - (n - r) * nodes
        - 0.5 * (nodes - mu[..., None]) ** 2 * prec[..., None]
        - 0.5 * np.log(2 * np.pi)
        - np.log(tau)[..., None]
    )
    terms = logf + (_GH_X**2 + np.log(_GH_W))
    top = terms.max(axis=-1)
    total = top + np.log(np.exp(terms - top[..., None]).sum(axis=-1))
    return total + np.log(np.sqrt(2.0) * sd)


@dataclass(frozen=True)
class BinomialMapPosterior(TauGridPosterior):
    """Exact posterior of the binomial-logit MAP model on a (tau, mu) grid.

    ``mu`` (M,) and ``tau`` (T,) are the grid axes, ``mass`` (T, M) the posterior probability
    of each node's cell (sums to 1); the tau statistics use the grid's tau marginal.
    """

    mu: np.ndarray
    tau: np.ndarray
    mass: np.ndarray

    def _flat(self):
        tt, mm = np.meshgrid(self.tau, self.mu, indexing="ij")
        keep = self.mass.ravel() > 1e-14
        return (
            mm.ravel()[keep],
            tt.ravel()[keep],
            self.mass.ravel()[keep] / self.mass.ravel()[keep].sum(),
        )

    def tau_quantile(self, q: float) -> float:
        return _grid_quantile(self.tau, self.mass.sum(axis=1), q, closed_left=True)

    def mu_quantile(self, q: float) -> float:
        """Posterior ``q`` quantile of mu (logit scale).

        Parameters
        ----------
        q
            Probability in [0, 1].

        Returns
        -------
        float
            The quantile of the marginal posterior of mu (linear within grid cells).
        """
        return _grid_quantile(self.mu, self.mass.sum(axis=0), q)

    def mu_mean(self) -> float:
        """Posterior mean of mu (logit scale).

        Returns
        -------
        float
            Mass-weighted mean of the mu grid nodes.
        """
        return float(np.sum(self.mass.sum(axis=0) * self.mu))

    def tau_mean(self) -> float:
        return float(np.sum(self.mass.sum(axis=1) * self.tau))

    def p_new_moments(self) -> tuple[float, float]:
        """Mean and SD of the predictive response probability ``p_new`` (Gauss-Hermite).

        Returns
        -------
        mean : float
            Predictive mean of ``p_new = logit^-1(theta_new)`` (a probability).
        sd : float
            Predictive SD of ``p_new``.
        """
        m, t, w = self._flat()
        theta = m[:, None] + np.sqrt(2.0) * t[:, None] * _GH_X
        p = special.expit(theta)
        gw = _GH_W / np.sqrt(np.pi)
        e1 = np.sum(w * (p @ gw))
        e2 = np.sum(w * ((p**2) @ gw))
        return float(e1), float(np.sqrt(max(e2 - e1**2, 0.0)))

    def p_new_cdf(self, x: float) -> float:
        """Predictive CDF of ``p_new`` at ``x`` in (0, 1).

        Parameters
        ----------
        x
            A response probability in (0, 1) (0 and 1 give 0 and 1).

        Returns
        -------
        float
            ``P(p_new <= x)``, summed over the grid nodes.
        """
        m, t, w = self._flat()
        z = (special.logit(x) - m) / np.maximum(t, 1e-300)
        return float(np.sum(w * special.ndtr(z)))

    def p_new_quantile(self, q: float) -> float:
        """Predictive ``q`` quantile of ``p_new`` (bisection on the exact CDF).

        Parameters
        ----------
        q
            Probability level in (0, 1).

        Returns
        -------
        float
            The response probability ``x`` with ``p_new_cdf(x) = q`` (60 halvings of [0, 1]).
        """
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if self.p_new_cdf(mid) < q else (lo, mid)
        return 0.5 * (lo + hi)

    def sample_theta_new(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draws of ``theta_new`` (logit scale): node by mass, jittered in its cell, then normal.

        The jitter is uniform over the node's cell in ``mu`` and ``tau``; negative ``tau`` values
        are reflected at 0.

        Parameters
        ----------
        n
            Number of draws.
        rng
            Generator for the node choice, the jitter and the normal draws (advanced in place).

        Returns
        -------
        numpy.ndarray
            Draws of ``theta_new``, shape ``(n,)``; ``scipy.special.expit`` gives ``p_new``.
        """
        m, t, w = self._flat()
        idx = rng.choice(m.size, size=n, p=w)
        dm = self.mu[1] - self.mu[0]
        dt = self.tau[1] - self.tau[0]
        mu = m[idx] + rng.uniform(-dm / 2, dm / 2, n)
        tau = np.abs(t[idx] + rng.uniform(-dt / 2, dt / 2, n))
        return rng.normal(mu, tau)


def _grid_quantile(x: np.ndarray, mass: np.ndarray, q: float, closed_left: bool = False) -> float:
    """Quantile from node masses: node j owns the cell [x_j - h/2, x_j + h/2] (the first cell
    starts at x_0 when ``closed_left``), and the CDF is linear within cells."""
    h = x[1] - x[0]
    start = x[0] if closed_left else x[0] - h / 2
    edges = np.concatenate([[start], x + h / 2])
    cdf = np.concatenate([[0.0], np.cumsum(mass)])
    cdf /= cdf[-1]
    return float(np.interp(q, cdf, edges))


def _check(events, totals, tau_prior, mu_prior):
    r, n = validate_counts(events, totals)
    if r.size < 2:
        raise InputError(f"a hierarchical prior needs at least 2 studies, got {r.size}")
    return r.astype(float), n.astype(float), as_tau_prior(tau_prior), as_mu_prior(mu_prior)


def _log_post_grid(r, n, mu, tau, tau_prior, mu_prior):
    mm, tt = np.meshgrid(mu, tau)
    # the normal mu prior's kernel (its constant cancels in the normalisation)
    lp = tau_prior.logpdf(tt) - 0.5 * ((mm - mu_prior.mu) / mu_prior.sigma) ** 2
    for ri, ni in zip(r, n, strict=True):
        lp = lp + _log_marginal_study(ri, ni, mm, tt)
    return lp


def binomial_map_exact(
    events,
    totals,
    *,
    tau_prior: Prior | str,
    mu_prior: Normal | str,
    n_mu: int = 201,
    n_tau: int = 201,
) -> BinomialMapPosterior:
    """Deterministic posterior of the binomial-logit MAP model (see module docstring).

    A coarse 121 x 121 pass over a wide box (mu: the studies' empirical logits +- 4; tau: from
    ``1e-6`` times the prior median to the prior's ``1 - 1e-10`` quantile) locates the
    posterior; a fine ``n_tau x n_mu`` grid then covers the box where the log posterior is
    within 25 of its maximum (plus one coarse cell).

    Parameters
    ----------
    events, totals, tau_prior, mu_prior
        The historical studies and the hyperpriors (module docstring, **Inputs**).
    n_mu, n_tau
        Number of nodes of the fine grid along ``mu`` and ``tau``.

    Returns
    -------
    BinomialMapPosterior
        New posterior on the fine grid: ``mu`` ``(n_mu,)``, ``tau`` ``(n_tau,)``, ``mass``
        ``(n_tau, n_mu)`` summing to 1.

    Raises
    ------
    InputError
        Invalid counts, fewer than 2 studies, or a hyperprior of an unsupported family.
    """
    r, n, tau_prior, mu_prior = _check(events, totals, tau_prior, mu_prior)
    lhat = np.log((r + 0.5) / (n - r + 0.5))
    tau_hi = float(tau_prior.ppf(1 - 1e-10))
    tau_lo = 1e-6 * float(tau_prior.ppf(0.5))
    mu_lo, mu_hi = lhat.min() - 4.0, lhat.max() + 4.0
    for size in (121, None):
        k_mu, k_tau = (size, size) if size else (n_mu, n_tau)
        mu = np.linspace(mu_lo, mu_hi, k_mu)
        tau = np.linspace(tau_lo, tau_hi, k_tau)
        lp = _log_post_grid(r, n, mu, tau, tau_prior, mu_prior)
        if size is None:
            break
        inside = lp > lp.max() - 25.0
        rows, cols = np.where(inside.any(axis=1))[0], np.where(inside.any(axis=0))[0]
        h_mu, h_tau = mu[1] - mu[0], tau[1] - tau[0]
        mu_lo, mu_hi = mu[cols[0]] - h_mu, mu[cols[-1]] + h_mu
        tau_hi = min(tau[rows[-1]] + h_tau, tau_hi)
    mass = np.exp(lp - lp.max())
    mass[0] *= 0.5  # trapezoid weight: the tau grid starts at (almost) zero, a closed end
    mass /= mass.sum()
    return BinomialMapPosterior(mu, tau, mass)


def binomial_map_model(
    events,
    totals,
    *,
    tau_prior: Prior | str,
    mu_prior: Normal | str,
    study_names: list[str] | None = None,
) -> pm.Model:
    """The binomial-logit MAP model in PyMC, non-centred; ``p_new`` is the MAP prior draw.

    Parameters
    ----------
    events, totals, tau_prior, mu_prior
        The historical studies and the hyperpriors (module docstring, **Inputs**); the counts
        enter the model as ``pm.Data`` ``r`` and ``n``.
    study_names
        Labels of the ``study`` dimension (default ``study_1``, ``study_2``, ...), one per
        study.

    Returns
    -------
    pymc.Model
        New, unsampled model with free ``mu``, ``tau``, ``z`` (dim ``study``) and ``z_new``,
        deterministics ``theta``, ``theta_new`` (logit scale) and ``p_new``, and the observed
        ``r_obs``.

    Raises
    ------
    InputError
        Invalid counts, fewer than 2 studies, a hyperprior of an unsupported family, or a
        study-name count that differs from the study count.
    """
    r, n, tau_prior, mu_prior = _check(events, totals, tau_prior, mu_prior)
    names = study_names or [f"study_{i + 1}" for i in range(r.size)]
    if len(names) != r.size:
        raise InputError(f"{len(names)} study names for {r.size} studies", field="study_names")
    with pm.Model(coords={"study": names}) as model:
        r_data = pm.Data("r", r.astype(int), dims="study")
        n_data = pm.Data("n", n.astype(int), dims="study")
        mu = mu_prior.to_pymc("mu")
        tau = tau_prior.to_pymc("tau")
        z = pm.Normal("z", 0.0, 1.0, dims="study")
        theta = pm.Deterministic("theta", mu + tau * z, dims="study")
        pm.Binomial("r_obs", n=n_data, logit_p=theta, observed=r_data, dims="study")
        z_new = pm.Normal("z_new", 0.0, 1.0)
        theta_new = pm.Deterministic("theta_new", mu + tau * z_new)
        pm.Deterministic("p_new", pm.math.invlogit(theta_new))
    return model
