"""Mixture priors from draws (EM fits) and their robustification.

A MAP prior is the predictive distribution of a new study's parameter; like RBesT we represent
it by a small parametric mixture fitted to predictive draws by EM, because a mixture of
conjugate components keeps every later step exact (the classes, their moments and conjugate
updates are :class:`~prrt_bayes.core.priors.NormalMixture` and
:class:`~prrt_bayes.core.priors.BetaMixture`):

* normal data ``y ~ Normal(theta, se^2)`` with a normal mixture prior: component ``k`` becomes
  ``Normal((m_k/v_k + y/se^2) / (1/v_k + 1/se^2), 1/(1/v_k + 1/se^2))`` with posterior weight
  ``proportional to w_k Normal(y | m_k, v_k + se^2)``;
* binomial data ``r ~ Bin(n, p)`` with a beta mixture prior: ``Beta(a_k + r, b_k + n - r)`` with
  weight ``proportional to w_k BetaBinomial(r | n, a_k, b_k)``.

:func:`robustify` (one verb, a method per prior type, as RBesT's ``robustify``) adds a vague
component; the posterior weights then say how much of the informative (MAP) part survives the
new data.

The EM fits (:func:`fit_normal_mixture`, :func:`fit_beta_mixture`) are deterministic
(initialised from blocks of the sorted draws, equal weights), need at least ``10 *
n_components`` draws, run at most ``max_iter`` iterations and stop when the total
log-likelihood gains less than ``tol`` in one; they return the mixture, components sorted by
decreasing weight, and the total log-likelihood of the draws under it.
"""

from __future__ import annotations

from functools import singledispatch

import numpy as np
from scipy import special

from prrt_bayes.borrowing.inputs import validate_weight
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Beta, BetaMixture, Normal, NormalMixture, parse_prior


# ---------------------------------------------------------------------------------------------
# Robustification
# ---------------------------------------------------------------------------------------------
@singledispatch
def robustify(prior, weight: float, **kwargs):
    """Mix ``prior`` with a vague component of weight ``weight`` (RBesT ``robustify``).

    The informative weights are scaled by ``1 - weight``; components of weight 0 are dropped
    (``weight = 1`` leaves only the vague component, ``weight = 0`` the prior's components).

    Parameters
    ----------
    prior
        A :class:`~prrt_bayes.core.priors.NormalMixture` or
        :class:`~prrt_bayes.core.priors.Normal` (keywords ``mean`` and ``sd`` of the vague
        ``Normal(mean, sd^2)``, both required), a :class:`~prrt_bayes.core.priors.BetaMixture`
        or :class:`~prrt_bayes.core.priors.Beta` (keywords ``mean = 0.5`` and ``n = 1``: the
        vague component is ``Beta(mean (n+1), (1-mean)(n+1))``, uniform by default, RBesT's
        default), or a prior string for :func:`~prrt_bayes.core.priors.parse_prior`.
    weight
        Weight of the vague component, in [0, 1].
    **kwargs
        The vague component's parameters, by prior type (see ``prior``).

    Returns
    -------
    NormalMixture or BetaMixture
        A new mixture; the vague component, when kept, is the last one.

    Raises
    ------
    InputError
        ``weight`` outside [0, 1], an invalid vague component, or a prior of another type.
    """
    raise InputError(f"robustify needs a normal or beta (mixture) prior, got {prior!r}")


@robustify.register(str)
def _robustify_text(prior, weight: float, **kwargs):
    return robustify(parse_prior(prior), weight, **kwargs)


@robustify.register(Normal)
def _robustify_single_normal(prior, weight: float, **kwargs):
    return robustify(NormalMixture((1.0,), (prior.mu,), (prior.sigma,)), weight, **kwargs)


@robustify.register(Beta)
def _robustify_single_beta(prior, weight: float, **kwargs):
    return robustify(BetaMixture((1.0,), (prior.alpha,), (prior.beta,)), weight, **kwargs)


@robustify.register(NormalMixture)
def _robustify_normal(prior, weight: float, *, mean: float, sd: float) -> NormalMixture:
    weight = validate_weight(weight)
    if not sd > 0:
        raise InputError(f"robust component sd must be positive, got {sd}")
    w = np.append((1 - weight) * prior.weights, weight)
    keep = w > 0
    return NormalMixture(
        w[keep], np.append(prior.means, mean)[keep], np.append(prior.sds, sd)[keep]
    )


@robustify.register(BetaMixture)
def _robustify_beta(prior, weight: float, *, mean: float = 0.5, n: float = 1.0) -> BetaMixture:
    weight = validate_weight(weight)
    if not 0 < mean < 1 or not n > 0:
        raise InputError(f"robust component needs 0 < mean < 1 and n > 0, got {mean}, {n}")
    w = np.append((1 - weight) * prior.weights, weight)
    keep = w > 0
    a = np.append(prior.a, mean * (n + 1))[keep]
    b = np.append(prior.b, (1 - mean) * (n + 1))[keep]
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


def _n_components(x: np.ndarray, n_components: int) -> int:
    """``n_components`` as an int, checked against the number of draws (at least 10 each)."""
    k = int(n_components)
    if x.size < 10 * k:
        raise InputError(f"need at least {10 * k} draws to fit {k} components, got {x.size}")
    return k


def _em(n: int, w: np.ndarray, params: tuple, log_joint, m_step, max_iter: int, tol: float):
    """EM iterations shared by the mixture fits, until the log-likelihood gains less than ``tol``.

    ``log_joint(w, params)`` gives the ``(n, k)`` log of weight times component density (up to a
    constant), ``m_step(resp, nk, params)`` the new component parameters from the
    responsibilities and their column sums. Returns the final weights, parameters and total
    log-likelihood (same constant left out).
    """
    old = -np.inf
    for _ in range(max_iter):
        logp = log_joint(w, params)
        ll_i = _row_logsumexp(logp)
        resp = np.exp(logp - ll_i[:, None])
        nk = resp.sum(axis=0) + 1e-300
        w = nk / n
        params = m_step(resp, nk, params)
        ll = float(ll_i.sum())
        if ll - old < tol:
            break
        old = ll
    return w, params, float(_row_logsumexp(log_joint(w, params)).sum())


def fit_normal_mixture(
    draws, n_components: int = 3, *, max_iter: int = 500, tol: float = 1e-3
) -> tuple[NormalMixture, float]:
    """Fit a ``n_components`` normal mixture to draws by EM (module docstring).

    Component SDs are floored at ``1e-6`` times the SD of the draws.

    Parameters
    ----------
    draws
        Draws of a real-valued parameter (any shape; flattened), at least
        ``10 * n_components`` of them.
    n_components, max_iter, tol
        Number of mixture components, EM iterations at most, log-likelihood gain to stop.

    Returns
    -------
    mixture : NormalMixture
        The fitted mixture.
    loglik : float
        Its log-likelihood.

    Raises
    ------
    InputError
        Fewer than ``10 * n_components`` draws.
    """
    x = np.asarray(draws, dtype=float).ravel()
    k = _n_components(x, n_components)
    blocks = _init_by_sorted_blocks(x, k)
    m = np.array([blk.mean() for blk in blocks])
    s = np.array([max(blk.std(), 1e-3 * x.std()) for blk in blocks])
    floor = 1e-6 * x.std()

    def log_joint(w, params):
        m, s = params
        return np.log(w) - np.log(s) - 0.5 * ((x[:, None] - m) / s) ** 2

    def m_step(resp, nk, params):
        m = (resp * x[:, None]).sum(axis=0) / nk
        s = np.sqrt(np.maximum((resp * (x[:, None] - m) ** 2).sum(axis=0) / nk, floor**2))
        return m, s

    w, (m, s), ll = _em(x.size, np.full(k, 1.0 / k), (m, s), log_joint, m_step, max_iter, tol)
    ll = ll - 0.5 * np.log(2 * np.pi) * x.size
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

    The blocks of sorted draws initialise the components by moment matching.

    Parameters
    ----------
    draws
        Draws of a probability (any shape; flattened; clipped to ``[1e-12, 1 - 1e-12]``), at
        least ``10 * n_components`` of them.
    n_components, max_iter, tol
        Number of mixture components, EM iterations at most, log-likelihood gain to stop.
    constrain_gt1
        Keep every ``a, b >= 1`` (as RBesT's ``constrain_gt1``), which the ELIR ESS needs to be
        finite; if False the bound is ``1e-3``.

    Returns
    -------
    mixture : BetaMixture
        The fitted mixture.
    loglik : float
        Its log-likelihood (of the clipped draws).

    Raises
    ------
    InputError
        Fewer than ``10 * n_components`` draws.
    """
    x = np.clip(np.asarray(draws, dtype=float).ravel(), 1e-12, 1 - 1e-12)
    k = _n_components(x, n_components)
    lower = 1.0 if constrain_gt1 else 1e-3
    lx, l1x = np.log(x), np.log1p(-x)
    a, b = np.empty(k), np.empty(k)
    for j, blk in enumerate(_init_by_sorted_blocks(x, k)):
        mu, var = blk.mean(), max(blk.var(), 1e-8)
        n = max(mu * (1 - mu) / var - 1, 2 * lower)
        a[j], b[j] = max(mu * n, lower), max((1 - mu) * n, lower)

    def log_joint(w, params):
        a, b = params
        return np.log(w) + (a - 1) * lx[:, None] + (b - 1) * l1x[:, None] - special.betaln(a, b)

    def m_step(resp, nk, params):
        return _beta_mle((resp.T @ lx) / nk, (resp.T @ l1x) / nk, *params, lower)

    w, (a, b), ll = _em(x.size, np.full(k, 1.0 / k), (a, b), log_joint, m_step, max_iter, tol)
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
