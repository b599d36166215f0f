"""Typed, serialisable prior distributions, mixtures included: the package's one prior language.

Every prior is a small frozen (hashable) dataclass whose fields are its parameters, named as in
PyMC. Each one can

* build its PyMC variable (:meth:`Prior.to_pymc`);
* evaluate its log density and quantile function with numpy/scipy (:meth:`Prior.logpdf`,
  :meth:`Prior.ppf`), which the exact quadrature code integrates, so the exact and the MCMC
  version of a model can never disagree about a prior;
* describe itself in one line (``"Normal(0, 2.5)"``) and round-trip through a plain dict
  (:meth:`Prior.to_dict` / :func:`prior_from_dict`).

:func:`parse_prior` reads the short strings of the command line and specs
(``"halfnormal:1"``, ``"normal:0,2"``); :func:`as_prior` accepts either form at a function's
boundary. The mixtures :class:`NormalMixture` (an estimate on a log scale) and
:class:`BetaMixture` (a probability) are the form of a (robust) meta-analytic-predictive prior;
besides the prior interface they carry their moments, CDF, sampling and conjugate updates. The
batched ``*_update`` / ``*_cdf`` / ``*_quantiles`` functions work on many mixtures at once (mixture
axis last) for simulation studies. :func:`attach_priors` writes the priors of a fit into the
posterior's attributes (JSON, so they survive netCDF/zarr) and :func:`read_priors` reads them
back. Own objects rather than pymc-extras ``Prior``: the latter is not a dependency and these
few parameterisations are all the package needs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, astuple, dataclass, fields
from typing import Any, ClassVar

import numpy as np
import xarray as xr
from scipy import special, stats

from prrt_bayes.core.errors import InputError


def _fmt(x: float) -> str:
    """Compact number: 0 -> '0', 2.5 -> '2.5', 1e-05 -> '1e-05'."""
    return f"{x:g}"


@dataclass(frozen=True)
class Prior:
    """Base class: subclasses are dataclasses whose fields are PyMC's parameter names.

    Class attributes: ``positive`` (fields that must be > 0), ``pymc_name`` (the PyMC
    distribution, default the class name) and ``family`` (the family name of
    :func:`parse_prior`, empty for priors that have no short string form).
    """

    positive: ClassVar[tuple[str, ...]] = ()
    pymc_name: ClassVar[str] = ""
    family: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(f"{type(self).__name__}: {f.name} must be a finite number")
            if f.name in self.positive and value <= 0:
                raise InputError(f"{type(self).__name__}: {f.name} must be > 0, got {value}")

    @property
    def params(self) -> tuple:
        """The parameter values in field order (the order :func:`parse_prior` reads them)."""
        return astuple(self)

    def to_pymc(self, name: str, **kwargs) -> Any:
        """Create the PyMC random variable ``name`` (inside a model context).

        Parameters
        ----------
        name
            Name of the variable in the model.
        **kwargs
            Further keyword arguments of the PyMC distribution (e.g. ``dims``, ``shape``,
            ``observed``), passed on after this prior's own parameters.

        Returns
        -------
        pytensor.tensor.TensorVariable
            The new random variable, registered in the current model (``pm.<Dist>(name, ...)``;
            PyMC returns the variable, not a ``pm.Distribution`` instance).
        """
        import pymc as pm  # on first use: reading and describing priors needs no PyMC

        dist = getattr(pm, self.pymc_name or type(self).__name__)
        return dist(name, **asdict(self), **kwargs)

    def _scipy(self):
        """The frozen scipy distribution with this prior's parameters."""
        raise NotImplementedError(type(self).__name__)

    def logpdf(self, x) -> np.ndarray:
        """Log density at ``x`` (numpy/scipy; ``-inf`` outside the support).

        Parameters
        ----------
        x
            Point(s) on the parameter's scale; scalar or array.

        Returns
        -------
        numpy.ndarray
            Log densities, same shape as ``x`` (a numpy scalar for a scalar).
        """
        return self._scipy().logpdf(np.asarray(x, dtype=float))

    def ppf(self, q) -> np.ndarray:
        """Quantile function (inverse CDF) at probability ``q``.

        Parameters
        ----------
        q
            Probabilities in [0, 1]; scalar or array.

        Returns
        -------
        numpy.ndarray
            Quantiles on the parameter's scale, same shape as ``q`` (a numpy scalar for a
            scalar).
        """
        return self._scipy().ppf(q)

    def describe(self) -> str:
        """One-line description, e.g. ``"Normal(0, 2.5)"``.

        Returns
        -------
        str
            Class name and parameter values in field order, numbers formatted with ``:g``.
        """
        args = ", ".join(_fmt(getattr(self, f.name)) for f in fields(self))
        return f"{type(self).__name__}({args})"

    def to_dict(self) -> dict:
        """Plain dict ``{"dist": <class name>, <param>: value, ...}``.

        Returns
        -------
        dict
            A new dict, JSON-serialisable; :func:`prior_from_dict` rebuilds the prior from it.
        """
        return {"dist": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class Normal(Prior):
    """Normal(mu, sigma)."""

    mu: float = 0.0
    sigma: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("sigma",)
    family: ClassVar[str] = "normal"

    def _scipy(self):
        return stats.norm(loc=self.mu, scale=self.sigma)


@dataclass(frozen=True)
class StudentT(Prior):
    """Student-t(nu, mu, sigma)."""

    nu: float = 3.0
    mu: float = 0.0
    sigma: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("nu", "sigma")

    def _scipy(self):
        return stats.t(df=self.nu, loc=self.mu, scale=self.sigma)


@dataclass(frozen=True)
class HalfNormal(Prior):
    """Half-normal(sigma) on (0, inf)."""

    sigma: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("sigma",)
    family: ClassVar[str] = "halfnormal"

    def _scipy(self):
        return stats.halfnorm(scale=self.sigma)


@dataclass(frozen=True)
class HalfCauchy(Prior):
    """Half-Cauchy(beta) on (0, inf)."""

    beta: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("beta",)
    family: ClassVar[str] = "halfcauchy"

    def _scipy(self):
        return stats.halfcauchy(scale=self.beta)


@dataclass(frozen=True)
class HalfStudentT(Prior):
    """Half Student-t(nu, sigma) on (0, inf): the absolute value of a Student-t(nu, 0, sigma).

    Log density ``log 2 + log t_nu(x / sigma) - log sigma`` for ``x >= 0`` (``-inf`` below);
    the ``q`` quantile is the ``(1 + q) / 2`` quantile of the Student-t.
    """

    nu: float = 3.0
    sigma: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("nu", "sigma")
    family: ClassVar[str] = "halft"

    def logpdf(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        support = np.where(x < 0, -np.inf, 0.0)
        return np.log(2.0) + stats.t.logpdf(x, df=self.nu, scale=self.sigma) + support

    def ppf(self, q) -> np.ndarray:
        return stats.t.ppf(0.5 + np.asarray(q) / 2, df=self.nu, scale=self.sigma)


@dataclass(frozen=True)
class Exponential(Prior):
    """Exponential(lam) (rate lam)."""

    lam: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("lam",)

    def _scipy(self):
        return stats.expon(scale=1.0 / self.lam)


@dataclass(frozen=True)
class Gamma(Prior):
    """Gamma(alpha, beta) (shape alpha, rate beta)."""

    alpha: float = 2.0
    beta: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("alpha", "beta")

    def _scipy(self):
        return stats.gamma(self.alpha, scale=1.0 / self.beta)


@dataclass(frozen=True)
class LogNormal(Prior):
    """Log-normal(mu, sigma): log X ~ Normal(mu, sigma)."""

    mu: float = 0.0
    sigma: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("sigma",)

    def _scipy(self):
        return stats.lognorm(self.sigma, scale=math.exp(self.mu))


@dataclass(frozen=True)
class Beta(Prior):
    """Beta(alpha, beta) on (0, 1)."""

    alpha: float = 1.0
    beta: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("alpha", "beta")
    family: ClassVar[str] = "beta"

    def _scipy(self):
        return stats.beta(self.alpha, self.beta)


@dataclass(frozen=True)
class Uniform(Prior):
    """Uniform(lower, upper)."""

    lower: float = 0.0
    upper: float = 1.0
    family: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.lower < self.upper:
            raise InputError(f"Uniform: lower {self.lower} must be < upper {self.upper}")

    def _scipy(self):
        return stats.uniform(loc=self.lower, scale=self.upper - self.lower)


# ---------------------------------------------------------------------------------------------
# Mixtures (the form of a MAP prior)
# ---------------------------------------------------------------------------------------------
def _bisect(cdf, q, lo, hi, iters: int = 200) -> np.ndarray:
    """Vectorised bisection for ``cdf(x) = q`` with elementwise brackets ``lo < hi``."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        below = cdf(mid) < q
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
        if np.all(hi - lo <= 1e-12 * np.maximum(1.0, np.abs(mid))):
            break
    return 0.5 * (lo + hi)


def normal_update(w, m, s, y, se):
    """Conjugate update of normal mixture(s) with normal estimate(s); broadcasts over data.

    Component ``k`` becomes ``Normal((m_k/v_k + y/se^2) / (1/v_k + 1/se^2), 1/(1/v_k + 1/se^2))``
    with posterior weight proportional to ``w_k Normal(y | m_k, v_k + se^2)``.

    Parameters
    ----------
    w, m, s
        Prior weights (summing to 1 along the last axis), means and SDs, mixture axis last:
        shape ``(K,)`` or ``(R, K)``.
    y, se
        Observed estimate(s) and their standard error(s) (``se > 0``, not checked): scalars or
        arrays of shape ``(R, 1)`` for ``R`` data sets.

    Returns
    -------
    weights, means, sds : numpy.ndarray
        Posterior weights (normalised along the last axis), means and SDs, each of the
        broadcast shape (``(R, K)`` for data of shape ``(R, 1)``); new arrays.
    """
    v, se2 = np.square(s), np.square(se)
    post_v = 1.0 / (1.0 / v + 1.0 / se2)
    post_m = post_v * (m / v + y / se2)
    logw = np.log(w) + stats.norm.logpdf(y, loc=m, scale=np.sqrt(v + se2))
    logw = logw - special.logsumexp(logw, axis=-1, keepdims=True)
    return np.exp(logw), post_m, np.sqrt(post_v)


def normal_mixture_cdf(w, m, s, x):
    """CDF of normal mixture(s) at ``x`` (mixture axis last; ``x`` broadcasts without it).

    Parameters
    ----------
    w, m, s
        Weights, means and SDs, shape ``(K,)`` or ``(..., K)`` (weights summing to 1).
    x
        Evaluation point(s); broadcast against the batch shape ``w.shape[:-1]``.

    Returns
    -------
    numpy.ndarray
        Mixture CDF values, shape ``broadcast(x.shape, batch shape)``.
    """
    return np.sum(w * special.ndtr((np.expand_dims(x, -1) - m) / s), axis=-1)


def normal_mixture_quantiles(w, m, s, q) -> np.ndarray:
    """``q`` quantile of each normal mixture in a batch (rows of ``w``, ``m``, ``s``).

    Vectorised bisection between the smallest ``m - 40 s`` and the largest ``m + 40 s``.

    Parameters
    ----------
    w, m, s
        Weights, means and SDs, shape ``(K,)`` or ``(R, K)`` (mixture axis last).
    q
        Probability in (0, 1) (or an array of them, broadcast against the batch shape).

    Returns
    -------
    numpy.ndarray
        The quantile of each mixture, shape ``(R,)`` (0-d for a single mixture and scalar q).
    """
    lo = np.min(m - 40 * s, axis=-1)
    hi = np.max(m + 40 * s, axis=-1)
    return _bisect(lambda x: normal_mixture_cdf(w, m, s, x), q, lo, hi)


def _log_betabinom(r, n, a, b):
    return (
        special.gammaln(n + 1)
        - special.gammaln(r + 1)
        - special.gammaln(n - r + 1)
        + special.betaln(a + r, b + n - r)
        - special.betaln(a, b)
    )


def beta_update(w, a, b, r, n):
    """Conjugate update of beta mixture(s) with binomial count(s); broadcasts over data.

    Parameters
    ----------
    w, a, b
        Prior weights (summing to 1 along the last axis) and beta parameters, mixture axis last:
        shape ``(K,)`` or ``(R, K)``.
    r, n
        Events and totals (not checked): scalars or arrays of shape ``(R, 1)`` for ``R`` data
        sets.

    Returns
    -------
    weights, a, b : numpy.ndarray
        Posterior weights (proportional to ``w_k BetaBinomial(r | n, a_k, b_k)``, normalised
        along the last axis), ``a + r`` and ``b + n - r``, each of the broadcast shape; new
        arrays.
    """
    logw = np.log(w) + _log_betabinom(r, n, a, b)
    logw = logw - special.logsumexp(logw, axis=-1, keepdims=True)
    return np.exp(logw), a + r, b + n - r


def beta_mixture_cdf(w, a, b, x):
    """CDF of beta mixture(s) at ``x`` (mixture axis last).

    Parameters
    ----------
    w, a, b
        Weights and beta parameters, shape ``(K,)`` or ``(..., K)`` (weights summing to 1).
    x
        Probability value(s) in [0, 1]; broadcast against the batch shape ``w.shape[:-1]``.

    Returns
    -------
    numpy.ndarray
        Mixture CDF values, shape ``broadcast(x.shape, batch shape)``.
    """
    return np.sum(w * special.betainc(a, b, np.expand_dims(x, -1)), axis=-1)


def beta_mixture_quantiles(w, a, b, q) -> np.ndarray:
    """``q`` quantile of each beta mixture in a batch.

    Vectorised bisection on [0, 1] (60 halvings).

    Parameters
    ----------
    w, a, b
        Weights and beta parameters, shape ``(K,)`` or ``(R, K)`` (mixture axis last).
    q
        Probability in (0, 1) (or an array of them, broadcast against the batch shape).

    Returns
    -------
    numpy.ndarray
        The quantile (a probability) of each mixture, shape ``(R,)`` (0-d for one mixture and
        scalar q).
    """
    shape = np.broadcast_shapes(np.shape(w), np.shape(a), np.shape(b))[:-1]
    return _bisect(
        lambda x: beta_mixture_cdf(w, a, b, x), q, np.zeros(shape), np.ones(shape), iters=60
    )


def _scalar(x: np.ndarray):
    """A numpy scalar for 0-d results, the array otherwise."""
    x = np.asarray(x)
    return x[()] if x.ndim == 0 else x


@dataclass(frozen=True)
class _Mixture(Prior):
    """What the mixtures share (first field: the weights ``w``): validation, serialisation,
    density and draws, from the subclass's scipy component ``_dist``, its component parameters
    ``_params()`` and its ``_draw``; the subclasses compute the CDF and quantiles."""

    component: ClassVar[str] = ""

    def __post_init__(self) -> None:
        name = type(self).__name__
        for f in fields(self):
            try:
                values = np.atleast_1d(np.asarray(getattr(self, f.name)))
            except ValueError:  # ragged nesting
                values = np.array([None])
            if (values.dtype.kind not in "iuf" or values.ndim != 1 or not values.size
                    or not np.all(np.isfinite(values))):
                raise InputError(f"{name}: {f.name} must be a list of finite numbers")
            object.__setattr__(self, f.name, tuple(float(v) for v in values))
        names = [f.name for f in fields(self)]
        if len({len(getattr(self, n)) for n in names}) != 1:
            raise InputError(f"{name}: {', '.join(names)} must have the same length")
        w = np.asarray(self.w, dtype=float)
        if (min(min(getattr(self, n)) for n in self.positive) <= 0 or np.any(w < 0)
                or abs(w.sum() - 1) > 1e-6):
            raise InputError(f"{name}: {' and '.join(self.positive)} must be > 0 and w "
                             "non-negative, summing to 1")
        object.__setattr__(self, "w", tuple((w / w.sum()).tolist()))

    @property
    def weights(self) -> np.ndarray:
        """The component weights as a float array (a new array)."""
        return np.asarray(self.w, dtype=float)

    def components(self) -> list[tuple[float, float, float]]:
        """``[(weight, parameter 1, parameter 2), ...]``, one tuple per component.

        Returns
        -------
        list[tuple[float, float, float]]
            One tuple of Python floats per component, in stored order (field order).
        """
        return list(zip(*astuple(self), strict=True))

    def describe(self) -> str:
        """One-line description, e.g. ``NormalMixture(0.8 Normal(3.1, 0.2) + 0.2 Normal(3, 2))``.

        Returns
        -------
        str
            Each component as ``weight Dist(p1, p2)``, numbers to 3 significant digits.
        """
        parts = [f"{w:.3g} {self.component}({p:.3g}, {r:.3g})" for w, p, r in self.components()]
        return f"{type(self).__name__}({' + '.join(parts)})"

    def to_dict(self) -> dict:
        """Plain dict ``{"dist": <class name>, "w": [...], <param>: [...], ...}``.

        Returns
        -------
        dict
            A new dict, JSON-serialisable (lists); :func:`prior_from_dict` rebuilds the prior.
        """
        return {"dist": type(self).__name__,
                **{f.name: list(getattr(self, f.name)) for f in fields(self)}}

    def pdf(self, x) -> np.ndarray:
        """Density at ``x``.

        Parameters
        ----------
        x
            Point(s) on the parameter's scale (a probability in [0, 1] for a
            :class:`BetaMixture`); scalar or array.

        Returns
        -------
        numpy.ndarray
            Mixture density, same shape as ``x`` (0-d for a scalar).
        """
        x = np.expand_dims(np.asarray(x, dtype=float), -1)
        return np.sum(self.weights * self._dist.pdf(x, *self._params()), axis=-1)

    def logpdf(self, x) -> np.ndarray:
        """Log density at ``x`` (log-sum-exp over the components).

        Parameters
        ----------
        x
            Point(s) on the parameter's scale; scalar or array (``-inf`` outside the support).

        Returns
        -------
        numpy.ndarray
            Log densities, same shape as ``x`` (0-d for a scalar).
        """
        x = np.expand_dims(np.asarray(x, dtype=float), -1)
        with np.errstate(divide="ignore"):
            logw = np.log(self.weights)
        return special.logsumexp(logw + self._dist.logpdf(x, *self._params()), axis=-1)

    def cdf(self, x) -> np.ndarray:
        """CDF at ``x``.

        Parameters
        ----------
        x
            Point(s) on the parameter's scale; scalar or array.

        Returns
        -------
        numpy.ndarray
            ``P(theta <= x)``, same shape as ``x`` (0-d for a scalar).
        """
        raise NotImplementedError(type(self).__name__)

    def ppf(self, q) -> np.ndarray:
        """Quantile function (bisection on the mixture CDF).

        Parameters
        ----------
        q
            Probabilities in (0, 1); scalar or array.

        Returns
        -------
        numpy.ndarray
            The values ``x`` with ``cdf(x) = q``, same shape as ``q`` (a numpy scalar for a
            scalar).
        """
        raise NotImplementedError(type(self).__name__)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random draws.

        Parameters
        ----------
        n
            Number of draws.
        rng
            Generator used for the component labels and the component draws (advanced in
            place).

        Returns
        -------
        numpy.ndarray
            Draws of shape ``(n,)``.
        """
        weights = self.weights
        k = rng.choice(weights.size, size=n, p=weights)
        return self._draw(rng, k)


@dataclass(frozen=True)
class NormalMixture(_Mixture):
    r"""Mixture of normals :math:`\sum_k w_k \, \text{Normal}(\mu_k, \sigma_k)`.

    The form of a (robust) MAP prior for a parameter on the real line, e.g. the 177Lu-Dotatate
    arm's log median survival. ``w``, ``mu`` and ``sigma`` are sequences of equal length
    (stored as tuples of floats); the weights are non-negative and sum to 1 (within 1e-6; they
    are stored normalised). ``weights``, ``means`` and ``sds`` give them as float arrays.
    """

    w: tuple[float, ...] = (1.0,)
    mu: tuple[float, ...] = (0.0,)
    sigma: tuple[float, ...] = (1.0,)
    positive: ClassVar[tuple[str, ...]] = ("sigma",)
    component: ClassVar[str] = "Normal"
    _dist: ClassVar[Any] = stats.norm

    def _params(self) -> tuple[np.ndarray, np.ndarray]:
        return self.means, self.sds

    def _draw(self, rng: np.random.Generator, k: np.ndarray) -> np.ndarray:
        return rng.normal(self.means[k], self.sds[k])

    def cdf(self, x) -> np.ndarray:
        return normal_mixture_cdf(self.weights, self.means, self.sds, np.asarray(x, float))

    def ppf(self, q) -> np.ndarray:
        return _scalar(normal_mixture_quantiles(self.weights, self.means, self.sds, q))

    @property
    def means(self) -> np.ndarray:
        """The component means as a float array (a new array)."""
        return np.asarray(self.mu, dtype=float)

    @property
    def sds(self) -> np.ndarray:
        """The component standard deviations as a float array (a new array)."""
        return np.asarray(self.sigma, dtype=float)

    def mean(self) -> float:
        """Mixture mean.

        Returns
        -------
        float
            ``sum_k w_k mu_k``, on the scale of the parameter.
        """
        return float(np.sum(self.weights * self.means))

    def sd(self) -> float:
        """Mixture standard deviation.

        Returns
        -------
        float
            SD of the whole mixture (within- and between-component spread).
        """
        m = self.mean()
        return float(np.sqrt(np.sum(self.weights * (self.sds**2 + self.means**2)) - m**2))

    def posterior(self, estimate: float, std_error: float) -> NormalMixture:
        """Posterior after observing ``estimate`` with standard error ``std_error``.

        Parameters
        ----------
        estimate
            Observed estimate, on the scale of the parameter (e.g. a log hazard ratio).
        std_error
            Its standard error (> 0).

        Returns
        -------
        NormalMixture
            New mixture with the conjugate-updated components and weights (see
            :func:`normal_update`).

        Raises
        ------
        InputError
            ``std_error`` is not positive.
        """
        if not std_error > 0:
            raise InputError(f"standard error must be positive, got {std_error}")
        return NormalMixture(*normal_update(self.weights, self.means, self.sds, estimate,
                                            std_error))

    def predictive(self, std_error: float) -> NormalMixture:
        """Prior predictive distribution of a new estimate with standard error ``std_error``.

        Parameters
        ----------
        std_error
            Standard error of the future estimate (not checked; 0 returns the prior itself).

        Returns
        -------
        NormalMixture
            New mixture with the same weights and means and SDs ``sqrt(sigma_k^2 +
            std_error^2)``.
        """
        return NormalMixture(self.weights, self.means, np.sqrt(self.sds**2 + std_error**2))


@dataclass(frozen=True)
class BetaMixture(_Mixture):
    r"""Mixture of betas :math:`\sum_k w_k \, \text{Beta}(\alpha_k, \beta_k)` for a probability.

    The form of a (robust) MAP prior for a response or event probability. ``w``, ``alpha`` and
    ``beta`` are sequences of equal length (stored as tuples of floats, ``alpha, beta > 0``);
    the weights are non-negative and sum to 1 (within 1e-6; stored normalised). ``weights``,
    ``a`` and ``b`` give them as float arrays.
    """

    w: tuple[float, ...] = (1.0,)
    alpha: tuple[float, ...] = (1.0,)
    beta: tuple[float, ...] = (1.0,)
    positive: ClassVar[tuple[str, ...]] = ("alpha", "beta")
    component: ClassVar[str] = "Beta"
    _dist: ClassVar[Any] = stats.beta

    def _params(self) -> tuple[np.ndarray, np.ndarray]:
        return self.a, self.b

    def _draw(self, rng: np.random.Generator, k: np.ndarray) -> np.ndarray:
        return rng.beta(self.a[k], self.b[k])

    def cdf(self, x) -> np.ndarray:
        return beta_mixture_cdf(self.weights, self.a, self.b, np.asarray(x, dtype=float))

    def ppf(self, q) -> np.ndarray:
        return _scalar(beta_mixture_quantiles(self.weights, self.a, self.b, q))

    @property
    def a(self) -> np.ndarray:
        """The components' first shape parameters ``alpha`` as a float array (a new array)."""
        return np.asarray(self.alpha, dtype=float)

    @property
    def b(self) -> np.ndarray:
        """The components' second shape parameters ``beta`` as a float array (a new array)."""
        return np.asarray(self.beta, dtype=float)

    def to_pymc(self, name: str, **kwargs) -> Any:
        """Create the PyMC random variable ``name``: a ``pm.Mixture`` of batched betas.

        Parameters
        ----------
        name
            Name of the variable in the model.
        **kwargs
            Further keyword arguments of ``pm.Mixture`` (e.g. ``dims``, ``observed``).

        Returns
        -------
        pytensor.tensor.TensorVariable
            The new random variable, registered in the current model.
        """
        import pymc as pm

        comp = pm.Beta.dist(alpha=self.a, beta=self.b)
        return pm.Mixture(name, w=self.weights, comp_dists=comp, **kwargs)

    def mean(self) -> float:
        """Mixture mean.

        Returns
        -------
        float
            ``sum_k w_k a_k / (a_k + b_k)``, a probability.
        """
        return float(np.sum(self.weights * self.a / (self.a + self.b)))

    def sd(self) -> float:
        """Mixture standard deviation.

        Returns
        -------
        float
            SD of the whole mixture (within- and between-component spread), probability scale.
        """
        a, b = self.a, self.b
        mk = a / (a + b)
        second = mk * (a + 1) / (a + b + 1)
        return float(np.sqrt(np.sum(self.weights * second) - self.mean() ** 2))

    def posterior(self, events: int, total: int) -> BetaMixture:
        """Posterior after observing ``events`` out of ``total``.

        Parameters
        ----------
        events, total
            Observed responders and patients, with ``0 <= events <= total`` and ``total > 0``.

        Returns
        -------
        BetaMixture
            New mixture with components ``Beta(a_k + events, b_k + total - events)`` and
            updated weights (see :func:`beta_update`).

        Raises
        ------
        InputError
            ``events`` outside ``0..total`` or ``total <= 0``.
        """
        if not (0 <= events <= total) or total <= 0:
            raise InputError(f"need 0 <= events <= total and total > 0, got {events}/{total}")
        return BetaMixture(*beta_update(self.weights, self.a, self.b, events, total))

    def predictive_pmf(self, total: int) -> np.ndarray:
        """Prior predictive probabilities of 0..total events in a new study of size ``total``.

        Parameters
        ----------
        total
            Size of the new study (number of patients, >= 0; not checked).

        Returns
        -------
        numpy.ndarray
            Beta-binomial mixture probabilities of ``0, 1, ..., total`` events, shape
            ``(total + 1,)``, summing to 1.
        """
        r = np.arange(total + 1)[:, None]
        return np.sum(self.weights * np.exp(_log_betabinom(r, total, self.a, self.b)), axis=-1)


PRIOR_CLASSES: dict[str, type[Prior]] = {
    cls.__name__: cls
    for cls in (Normal, StudentT, HalfNormal, HalfCauchy, HalfStudentT, Exponential, Gamma,
                LogNormal, Beta, Uniform, NormalMixture, BetaMixture)
}
"""Class name -> prior class, for :func:`prior_from_dict`."""

FAMILIES: dict[str, type[Prior]] = {cls.family: cls for cls in PRIOR_CLASSES.values()
                                    if cls.family}
"""Family name of a prior string (``halfnormal``) -> prior class, for :func:`parse_prior`."""


def prior_from_dict(data: Mapping) -> Prior:
    """Rebuild a prior from :meth:`Prior.to_dict` output.

    Parameters
    ----------
    data
        ``{"dist": <class name in PRIOR_CLASSES>, <param>: value, ...}``; parameters left out
        take the class defaults. Not modified.

    Returns
    -------
    Prior
        A new instance of the named class.

    Raises
    ------
    InputError
        ``dist`` missing or not a known class name, a parameter the class does not have, or a
        value the class rejects (not a finite number, not positive where it must be).
    """
    data = dict(data)
    kind = data.pop("dist", None)
    if kind not in PRIOR_CLASSES:
        raise InputError(f"unknown prior distribution {kind!r}; known: {sorted(PRIOR_CLASSES)}")
    cls = PRIOR_CLASSES[kind]
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise InputError(f"{kind}: unknown parameters {sorted(unknown)}")
    return cls(**data)


def parse_float_list(text: str, *, field: str = "values") -> list[float]:
    """Parse a comma-separated list of finite numbers (``"6,8,17"``); InputError on bad items.

    Parameters
    ----------
    text
        The list; converted with ``str`` first, items may be surrounded by spaces.
    field
        Name of the input, reported in the error message.

    Returns
    -------
    list[float]
        The numbers, in order.

    Raises
    ------
    InputError
        For an empty item, an item that is not a number, or a non-finite number.
    """
    items = [t.strip() for t in str(text).split(",")]
    if not items or any(t == "" for t in items):
        raise InputError(f"expected comma-separated numbers, got {text!r}", field=field)
    values = []
    for t in items:
        try:
            v = float(t)
        except ValueError:
            raise InputError(f"{t!r} is not a number", field=field) from None
        if not math.isfinite(v):
            raise InputError(f"{t!r} is not a finite number", field=field)
        values.append(v)
    return values


def parse_prior(text: str, *, field: str = "prior") -> Prior:
    """Parse ``FAMILY:P1[,P2]`` (e.g. ``halfnormal:1``, ``normal:0,2``, ``halfcauchy:25``).

    Parameters
    ----------
    text
        The prior string. Families (case-insensitive): ``normal:MEAN,SD`` (:class:`Normal`),
        ``halfnormal:SD`` (:class:`HalfNormal`), ``halfcauchy:SCALE`` (:class:`HalfCauchy`),
        ``halft:NU,SCALE`` (:class:`HalfStudentT`), ``uniform:LOW,HIGH`` (:class:`Uniform`) and
        ``beta:A,B`` (:class:`Beta`). Scales, ``NU``, ``A`` and ``B`` must be positive; every
        number must be finite.
    field
        Name of the input, reported in the error message.

    Returns
    -------
    Prior
        A new prior of the family's class, parameters in the order given.

    Raises
    ------
    InputError
        For a missing ``:``, an unknown family, the wrong number of parameters, a non-positive
        scale or ``uniform`` with ``LOW >= HIGH``.
    """
    if not isinstance(text, str) or ":" not in text:
        raise InputError(
            f"expected FAMILY:PARAMS (e.g. halfnormal:1 or normal:0,2), got {text!r}", field=field
        )
    family, _, rest = text.strip().partition(":")
    family = family.strip().lower()
    if family not in FAMILIES:
        raise InputError(
            f"unknown prior family {family!r}; use one of {', '.join(sorted(FAMILIES))}",
            field=field,
        )
    cls = FAMILIES[family]
    names = [f.name for f in fields(cls)]
    params = parse_float_list(rest, field=field)
    if len(params) != len(names):
        raise InputError(
            f"{family} prior takes {len(names)} number(s), got {len(params)} in {text!r}",
            field=field,
        )
    values = dict(zip(names, params, strict=True))
    if any(values[name] <= 0 for name in cls.positive):
        raise InputError(f"{family} prior needs a positive scale, got {text!r}", field=field)
    if cls is Uniform and not params[0] < params[1]:
        raise InputError(f"uniform prior needs LOW < HIGH, got {text!r}", field=field)
    return cls(**values)


def as_prior(value: Prior | str, *, field: str = "prior") -> Prior:
    """A prior object from a prior or its string form (the boundary of functions taking one).

    Parameters
    ----------
    value
        A :class:`Prior` (returned as is) or a string for :func:`parse_prior`.
    field
        Name of the input, reported in error messages.

    Returns
    -------
    Prior
        ``value`` itself or the parsed prior.

    Raises
    ------
    InputError
        ``value`` is neither a prior nor a valid prior string.
    """
    if isinstance(value, Prior):
        return value
    if isinstance(value, str):
        return parse_prior(value, field=field)
    raise InputError(f"expected a prior or a prior string, got {value!r}", field=field)


def describe_priors(priors: Mapping[str, Prior]) -> dict[str, str]:
    """``{parameter: "Normal(0, 2.5)", ...}`` for summaries and reports.

    Parameters
    ----------
    priors
        ``{parameter name: Prior}``.

    Returns
    -------
    dict[str, str]
        A new dict, same keys and order, values from :meth:`Prior.describe`.
    """
    return {name: prior.describe() for name, prior in priors.items()}


def attach_priors(tree: xr.DataTree, priors: Mapping[str, Prior]) -> None:
    """Record ``priors`` in ``tree.posterior.attrs["priors"]`` (JSON of their dicts).

    Parameters
    ----------
    tree
        Posterior DataTree with a ``posterior`` group; modified in place (an existing
        ``priors`` attribute is replaced).
    priors
        ``{parameter name: Prior}``, stored as JSON of :meth:`Prior.to_dict` per parameter.
    """
    tree.posterior.attrs["priors"] = json.dumps({k: p.to_dict() for k, p in priors.items()})


def read_priors(tree: xr.DataTree) -> dict[str, Prior]:
    """The priors recorded by :func:`attach_priors` (empty dict if none).

    Parameters
    ----------
    tree
        Posterior DataTree with a ``posterior`` group.

    Returns
    -------
    dict[str, Prior]
        ``{parameter name: Prior}`` rebuilt with :func:`prior_from_dict`; ``{}`` when the tree
        has no ``priors`` attribute.

    Raises
    ------
    InputError
        A recorded prior that names an unknown distribution or parameter.
    """
    raw = tree.posterior.attrs.get("priors")
    if raw is None:
        return {}
    return {name: prior_from_dict(d) for name, d in json.loads(raw).items()}
