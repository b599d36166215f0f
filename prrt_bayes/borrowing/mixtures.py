"""Mixture priors: mixtures of normals (estimates on a log scale) and of betas (probabilities).

A MAP prior is the predictive distribution of a new study's parameter; like RBesT we represent
it by a small parametric mixture fitted to predictive draws by EM, because a mixture of
conjugate components keeps every later step exact:

* normal data ``y ~ Normal(theta, se^2)`` with a normal mixture prior: component ``k`` becomes
  ``Normal((m_k/v_k + y/se^2) / (1/v_k + 1/se^2), 1/(1/v_k + 1/se^2))`` with posterior weight
  ``proportional to w_k Normal(y | m_k, v_k + se^2)``;
* binomial data ``r ~ Bin(n, p)`` with a beta mixture prior: ``Beta(a_k + r, b_k + n - r)`` with
  weight ``proportional to w_k BetaBinomial(r | n, a_k, b_k)``.

The posterior weights say how much of the informative (MAP) part survives the new data: they
are the quantity reported after robustification. The ``*_update`` and ``*_quantiles``
functions work on arrays of data sets at once (shape ``(R, K)``) for fast simulation studies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from prrt_bayes.borrowing.inputs import validate_weight
from prrt_bayes.core.errors import InputError


def _as_weights(w) -> np.ndarray:
    w = np.atleast_1d(np.asarray(w, dtype=float))
    if np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise InputError(f"mixture weights must be non-negative and sum > 0, got {w.tolist()}")
    return w / w.sum()


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


# ---------------------------------------------------------------------------------------------
# Normal mixtures
# ---------------------------------------------------------------------------------------------
def normal_update(w, m, s, y, se):
    """Conjugate update of normal mixture(s) with normal estimate(s); broadcasts over data.

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


def normal_mixture_quantiles(w, m, s, q: float) -> np.ndarray:
    """``q`` quantile of each normal mixture in a batch (rows of ``w``, ``m``, ``s``).

    Vectorised bisection between the smallest ``m - 40 s`` and the largest ``m + 40 s``.

    Parameters
    ----------
    w, m, s
        Weights, means and SDs, shape ``(K,)`` or ``(R, K)`` (mixture axis last).
    q
        Probability in (0, 1).

    Returns
    -------
    numpy.ndarray
        The quantile of each mixture, shape ``(R,)`` (0-d for a single mixture).
    """
    lo = np.min(m - 40 * s, axis=-1)
    hi = np.max(m + 40 * s, axis=-1)
    return _bisect(lambda x: normal_mixture_cdf(w, m, s, x), q, lo, hi)


@dataclass(frozen=True)
class NormalMixture:
    """Mixture of normals ``sum_k w_k Normal(mean_k, sd_k^2)`` (parameter on a real scale)."""

    weights: np.ndarray
    means: np.ndarray
    sds: np.ndarray

    def __post_init__(self) -> None:
        w = _as_weights(self.weights)
        m = np.atleast_1d(np.asarray(self.means, dtype=float))
        s = np.atleast_1d(np.asarray(self.sds, dtype=float))
        if not (w.size == m.size == s.size):
            raise InputError("mixture weights, means and sds must have the same length")
        if np.any(s <= 0) or not np.isfinite(m).all():
            raise InputError("normal mixture components need finite means and positive sds")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "means", m)
        object.__setattr__(self, "sds", s)

    def components(self) -> list[tuple[float, float, float]]:
        """``[(weight, mean, sd), ...]``.

        Returns
        -------
        list[tuple[float, float, float]]
            One ``(weight, mean, sd)`` tuple of Python floats per component, in stored order.
        """
        return [(float(a), float(b), float(c)) for a, b, c in zip(*self._p(), strict=True)]

    def _p(self):
        return self.weights, self.means, self.sds

    def mean(self) -> float:
        """Mixture mean.

        Returns
        -------
        float
            ``sum_k w_k mean_k``, on the scale of the parameter.
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

    def pdf(self, x) -> np.ndarray:
        """Density at ``x``.

        Parameters
        ----------
        x
            Point(s) on the parameter's scale; scalar or array.

        Returns
        -------
        numpy.ndarray
            Mixture density, same shape as ``x`` (0-d for a scalar).
        """
        x = np.expand_dims(np.asarray(x, dtype=float), -1)
        return np.sum(self.weights * stats.norm.pdf(x, self.means, self.sds), axis=-1)

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
        return normal_mixture_cdf(self.weights, self.means, self.sds, np.asarray(x, float))

    def quantile(self, q: float) -> float:
        """``q`` quantile.

        Parameters
        ----------
        q
            Probability in (0, 1).

        Returns
        -------
        float
            The value ``x`` with ``cdf(x) = q`` (bisection).
        """
        return float(normal_mixture_quantiles(self.weights, self.means, self.sds, q))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random draws.

        Parameters
        ----------
        n
            Number of draws.
        rng
            Generator used for the component labels and the normal draws (advanced in place).

        Returns
        -------
        numpy.ndarray
            Draws of shape ``(n,)``.
        """
        k = rng.choice(self.weights.size, size=n, p=self.weights)
        return rng.normal(self.means[k], self.sds[k])

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
        return NormalMixture(*normal_update(*self._p(), estimate, std_error))

    def predictive(self, std_error: float) -> NormalMixture:
        """Prior predictive distribution of a new estimate with standard error ``std_error``.

        Parameters
        ----------
        std_error
            Standard error of the future estimate (not checked; 0 returns the prior itself).

        Returns
        -------
        NormalMixture
            New mixture with the same weights and means and SDs ``sqrt(sd_k^2 + std_error^2)``.
        """
        return NormalMixture(self.weights, self.means, np.sqrt(self.sds**2 + std_error**2))

    def robustify(self, weight: float, *, mean: float, sd: float) -> NormalMixture:
        """Add a vague ``Normal(mean, sd^2)`` component of weight ``weight`` (RBesT robustify).

        Parameters
        ----------
        weight
            Weight of the vague component, in [0, 1]. The informative weights are scaled by
            ``1 - weight``; ``weight = 1`` leaves only the vague component, ``weight = 0`` gives
            the prior's components unchanged (components of weight 0 are dropped).
        mean, sd
            Mean and SD (> 0) of the vague component, on the parameter's scale.

        Returns
        -------
        NormalMixture
            A new mixture; the vague component, when kept, is the last one.

        Raises
        ------
        InputError
            ``weight`` outside [0, 1] or ``sd`` not positive.
        """
        weight = validate_weight(weight)
        if not sd > 0:
            raise InputError(f"robust component sd must be positive, got {sd}")
        w = np.append((1 - weight) * self.weights, weight)
        keep = w > 0
        return NormalMixture(
            w[keep], np.append(self.means, mean)[keep], np.append(self.sds, sd)[keep]
        )


# ---------------------------------------------------------------------------------------------
# Beta mixtures
# ---------------------------------------------------------------------------------------------
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


def beta_mixture_quantiles(w, a, b, q: float) -> np.ndarray:
    """``q`` quantile of each beta mixture in a batch.

    Vectorised bisection on [0, 1] (60 halvings).

    Parameters
    ----------
    w, a, b
        Weights and beta parameters, shape ``(K,)`` or ``(R, K)`` (mixture axis last).
    q
        Probability in (0, 1).

    Returns
    -------
    numpy.ndarray
        The quantile (a probability) of each mixture, shape ``(R,)`` (0-d for one mixture).
    """
    shape = np.broadcast_shapes(np.shape(w), np.shape(a), np.shape(b))[:-1]
    return _bisect(
        lambda x: beta_mixture_cdf(w, a, b, x), q, np.zeros(shape), np.ones(shape), iters=60
    )


@dataclass(frozen=True)
class BetaMixture:
    """Mixture of betas ``sum_k w_k Beta(a_k, b_k)`` for a probability."""

    weights: np.ndarray
    a: np.ndarray
    b: np.ndarray

    def __post_init__(self) -> None:
        w = _as_weights(self.weights)
        a = np.atleast_1d(np.asarray(self.a, dtype=float))
        b = np.atleast_1d(np.asarray(self.b, dtype=float))
        if not (w.size == a.size == b.size):
            raise InputError("mixture weights, a and b must have the same length")
        if np.any(a <= 0) or np.any(b <= 0) or not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise InputError("beta mixture components need positive finite a and b")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    def _p(self):
        return self.weights, self.a, self.b

    def components(self) -> list[tuple[float, float, float]]:
        """``[(weight, a, b), ...]``.

        Returns
        -------
        list[tuple[float, float, float]]
            One ``(weight, a, b)`` tuple of Python floats per component, in stored order.
        """
        return [(float(x), float(y), float(z)) for x, y, z in zip(*self._p(), strict=True)]

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
        mk = self.a / (self.a + self.b)
        second = mk * (self.a + 1) / (self.a + self.b + 1)
        return float(np.sqrt(np.sum(self.weights * second) - self.mean() ** 2))

    def pdf(self, x) -> np.ndarray:
        """Density at ``x``.

        Parameters
        ----------
        x
            Probability value(s) in [0, 1]; scalar or array.

        Returns
        -------
        numpy.ndarray
            Mixture density, same shape as ``x`` (0-d for a scalar).
        """
        x = np.expand_dims(np.asarray(x, dtype=float), -1)
        return np.sum(self.weights * stats.beta.pdf(x, self.a, self.b), axis=-1)

    def cdf(self, x) -> np.ndarray:
        """CDF at ``x``.

        Parameters
        ----------
        x
            Probability value(s) in [0, 1]; scalar or array.

        Returns
        -------
        numpy.ndarray
            ``P(p <= x)``, same shape as ``x`` (0-d for a scalar).
        """
        return beta_mixture_cdf(self.weights, self.a, self.b, np.asarray(x, dtype=float))

    def quantile(self, q: float) -> float:
        """``q`` quantile.

        Parameters
        ----------
        q
            Probability level in (0, 1).

        Returns
        -------
        float
            The probability ``x`` with ``cdf(x) = q`` (bisection on [0, 1]).
        """
        return float(beta_mixture_quantiles(self.weights, self.a, self.b, q))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random draws.

        Parameters
        ----------
        n
            Number of draws.
        rng
            Generator used for the component labels and the beta draws (advanced in place).

        Returns
        -------
        numpy.ndarray
            Draws in (0, 1), shape ``(n,)``.
        """
        k = rng.choice(self.weights.size, size=n, p=self.weights)
        return rng.beta(self.a[k], self.b[k])

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
        return BetaMixture(*beta_update(*self._p(), events, total))

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

    def robustify(self, weight: float, *, mean: float = 0.5, n: float = 1.0) -> BetaMixture:
        """Add a vague ``Beta(mean (n+1), (1-mean)(n+1))`` component of weight ``weight``.

        With the defaults this is the uniform Beta(1, 1), RBesT's default robust component.

        Parameters
        ----------
        weight
            Weight of the vague component, in [0, 1]. The informative weights are scaled by
            ``1 - weight``; components of weight 0 are dropped (``weight = 0`` gives the prior's
            components unchanged).
        mean
            Mean of the vague component, in (0, 1).
        n
            Its size: the component is ``Beta(mean (n+1), (1-mean)(n+1))`` (``n > 0``).

        Returns
        -------
        BetaMixture
            A new mixture; the vague component, when kept, is the last one.

        Raises
        ------
        InputError
            ``weight`` outside [0, 1], ``mean`` outside (0, 1) or ``n`` not positive.
        """
        weight = validate_weight(weight)
        if not 0 < mean < 1 or not n > 0:
            raise InputError(f"robust component needs 0 < mean < 1 and n > 0, got {mean}, {n}")
        w = np.append((1 - weight) * self.weights, weight)
        keep = w > 0
        a = np.append(self.a, mean * (n + 1))[keep]
        b = np.append(self.b, (1 - mean) * (n + 1))[keep]
        return BetaMixture(w[keep], a, b)


# ---------------------------------------------------------------------------------------------
# EM fits to draws
# ---------------------------------------------------------------------------------------------
def _row_logsumexp(logp: np.ndarray) -> np.ndarray:
    """``log(sum(exp(logp), axis=1))``, stable; plain numpy (much faster than scipy's here)."""
    top = logp.max(axis=1)
    return top + np.log(np.exp(logp - top[:, None]).sum(axis=1))


def _init_by_sorted_blocks(x: np.ndarray, k: int) -> list[np.ndarray]:
    return np.array_split(np.sort(x), k)


def fit_normal_mixture(
    draws, n_components: int = 3, *, max_iter: int = 500, tol: float = 1e-3
) -> tuple[NormalMixture, float]:
    """Fit a ``n_components`` normal mixture to draws by EM; return it and its log-likelihood.

    Deterministic: initialised from blocks of the sorted draws (equal weights). Component SDs are
    floored at ``1e-6`` times the SD of the draws.

    Parameters
    ----------
    draws
        Draws of a real-valued parameter (any shape; flattened), at least
        ``10 * n_components`` of them.
    n_components
        Number of mixture components.
    max_iter, tol
        At most ``max_iter`` EM iterations; stop when the total log-likelihood gains less than
        ``tol`` in an iteration.

    Returns
    -------
    mixture : NormalMixture
        The fitted mixture, components sorted by decreasing weight.
    loglik : float
        Total log-likelihood of the draws under the returned mixture.

    Raises
    ------
    InputError
        Fewer than ``10 * n_components`` draws.
    """
    x = np.asarray(draws, dtype=float).ravel()
    k = int(n_components)
    if x.size < 10 * k:
        raise InputError(f"need at least {10 * k} draws to fit {k} components, got {x.size}")
    blocks = _init_by_sorted_blocks(x, k)
    w = np.full(k, 1.0 / k)
    m = np.array([blk.mean() for blk in blocks])
    s = np.array([max(blk.std(), 1e-3 * x.std()) for blk in blocks])
    floor = 1e-6 * x.std()
    old = -np.inf
    for _ in range(max_iter):
        logp = np.log(w) - np.log(s) - 0.5 * ((x[:, None] - m) / s) ** 2
        ll_i = _row_logsumexp(logp)
        resp = np.exp(logp - ll_i[:, None])
        nk = resp.sum(axis=0) + 1e-300
        w = nk / x.size
        m = (resp * x[:, None]).sum(axis=0) / nk
        s = np.sqrt(np.maximum((resp * (x[:, None] - m) ** 2).sum(axis=0) / nk, floor**2))
        ll = float(ll_i.sum())
        if ll - old < tol:
            break
        old = ll
    logp = np.log(w) - np.log(s) - 0.5 * ((x[:, None] - m) / s) ** 2
    ll = float(_row_logsumexp(logp).sum()) - 0.5 * np.log(2 * np.pi) * x.size
    order = np.argsort(-w)
    return NormalMixture(w[order], m[order], s[order]), ll


def _beta_mle(s1, s2, a, b, lower: float, iters: int = 50):
    """Weighted beta MLEs from sufficient statistics ``E[log x]``, ``E[log(1-x)]`` (arrays).

    Projected Newton on the concave log-likelihood, vectorised over components, warm-started
    at ``(a, b)`` and kept at or above ``lower``.
    """
    a, b = np.maximum(a, lower), np.maximum(b, lower)
    for _ in range(iters):
        dab, tab = special.digamma(a + b), special.polygamma(1, a + b)
        ga = special.digamma(a) - dab - s1
        gb = special.digamma(b) - dab - s2
        haa, hbb = special.polygamma(1, a) - tab, special.polygamma(1, b) - tab
        det = haa * hbb - tab**2
        da = (hbb * ga + tab * gb) / det
        db = (tab * ga + haa * gb) / det
        # damp so that no parameter more than halves in one step
        scale = np.minimum(1.0, 0.5 / np.maximum(np.maximum(da / a, db / b), 1e-300))
        a_new = np.maximum(a - scale * da, lower)
        b_new = np.maximum(b - scale * db, lower)
        done = np.all(np.abs(a_new - a) <= 1e-10 * a) and np.all(np.abs(b_new - b) <= 1e-10 * b)
        a, b = a_new, b_new
        if done:
            break
    return a, b


def fit_beta_mixture(
    draws,
    n_components: int = 3,
    *,
    constrain_gt1: bool = True,
    max_iter: int = 500,
    tol: float = 1e-3,
) -> tuple[BetaMixture, float]:
    """Fit a beta mixture to draws in (0, 1) by EM with exact weighted-ML M-steps.

    Deterministic: initialised by moment matching on blocks of the sorted draws (equal weights).

    Parameters
    ----------
    draws
        Draws of a probability (any shape; flattened; clipped to ``[1e-12, 1 - 1e-12]``), at
        least ``10 * n_components`` of them.
    n_components
        Number of mixture components.
    constrain_gt1
        Keep every ``a, b >= 1`` (as RBesT's ``constrain_gt1``), which the ELIR ESS needs to be
        finite; if False the bound is ``1e-3``.
    max_iter, tol
        At most ``max_iter`` EM iterations; stop when the total log-likelihood gains less than
        ``tol`` in an iteration.

    Returns
    -------
    mixture : BetaMixture
        The fitted mixture, components sorted by decreasing weight.
    loglik : float
        Total log-likelihood of the (clipped) draws under the returned mixture.

    Raises
    ------
    InputError
        Fewer than ``10 * n_components`` draws.
    """
    x = np.clip(np.asarray(draws, dtype=float).ravel(), 1e-12, 1 - 1e-12)
    k = int(n_components)
    if x.size < 10 * k:
        raise InputError(f"need at least {10 * k} draws to fit {k} components, got {x.size}")
    lower = 1.0 if constrain_gt1 else 1e-3
    lx, l1x = np.log(x), np.log1p(-x)
    w = np.full(k, 1.0 / k)
    a, b = np.empty(k), np.empty(k)
    for j, blk in enumerate(_init_by_sorted_blocks(x, k)):
        mu, var = blk.mean(), max(blk.var(), 1e-8)
        n = max(mu * (1 - mu) / var - 1, 2 * lower)
        a[j], b[j] = max(mu * n, lower), max((1 - mu) * n, lower)
    old = -np.inf
    for _ in range(max_iter):
        logp = np.log(w) + (a - 1) * lx[:, None] + (b - 1) * l1x[:, None] - special.betaln(a, b)
        ll_i = _row_logsumexp(logp)
        resp = np.exp(logp - ll_i[:, None])
        nk = resp.sum(axis=0) + 1e-300
        w = nk / x.size
        a, b = _beta_mle((resp.T @ lx) / nk, (resp.T @ l1x) / nk, a, b, lower)
        ll = float(ll_i.sum())
        if ll - old < tol:
            break
        old = ll
    logp = np.log(w) + (a - 1) * lx[:, None] + (b - 1) * l1x[:, None] - special.betaln(a, b)
    ll = float(_row_logsumexp(logp).sum())
    order = np.argsort(-w)
    return BetaMixture(w[order], a[order], b[order]), ll


def fit_mixture_auto(draws, family: str, max_components: int = 4):
    """Fit 1, 2, ... components while the AIC improves (at most ``max_components``).

    The AIC counts ``3 k - 1`` parameters for ``k`` components (weights sum to 1); the search
    stops at the first ``k`` whose AIC is not lower than that of ``k - 1``, or before the first
    ``k`` with fewer than ``10 k`` draws.

    Parameters
    ----------
    draws
        Predictive draws to fit (see :func:`fit_normal_mixture` / :func:`fit_beta_mixture`), at
        least 10 of them.
    family
        ``"normal"`` (real-valued draws) or ``"beta"`` (probabilities).
    max_components
        Largest number of components tried (at least 1).

    Returns
    -------
    NormalMixture or BetaMixture
        The mixture with the best AIC among those fitted.

    Raises
    ------
    InputError
        For an unknown ``family``, ``max_components < 1`` or fewer than 10 draws.
    """
    fits = {"normal": fit_normal_mixture, "beta": fit_beta_mixture}
    if family not in fits:
        raise InputError(f"mixture family must be 'normal' or 'beta', got {family!r}",
                         field="family")
    if not max_components >= 1:
        raise InputError(f"max_components must be at least 1, got {max_components}",
                         field="max_components")
    fit = fits[family]
    n_draws = np.asarray(draws).size
    best, best_aic = None, np.inf
    for k in range(1, int(max_components) + 1):
        if k > 1 and n_draws < 10 * k:
            break
        mix, ll = fit(draws, k)
        aic = -2 * ll + 2 * (3 * k - 1)
        if aic >= best_aic:
            break
        best, best_aic = mix, aic
    return best
