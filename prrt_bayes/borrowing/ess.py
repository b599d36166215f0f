"""Effective sample size (ESS) of a mixture prior: ELIR and moment matching.

**ELIR** (expected local-information ratio; Neuenschwander, Weber, Schmidli & O'Hagan 2020,
Biometrics 76:578) is ``ESS = E_prior[ i_prior(theta) / i_F(theta) ]`` where
``i_prior = -d^2/dtheta^2 log p(theta)`` and ``i_F`` is the Fisher information of one
observation. It is the only ESS that is predictively consistent (prior ESS + n new observations
equals the expected posterior ESS). For a Beta(a, b) prior on a Bernoulli probability it equals
``a + b``; for ``Normal(m, s^2)`` on a mean with known sampling SD ``sigma`` it equals
``sigma^2 / s^2``.

**Moment** matching replaces the mixture by the conjugate distribution with the same mean and
SD and reads off its ESS: ``a + b`` of the matching beta (``m (1 - m) / v - 1``), or
``sigma^2 / v`` (``E[1/(p(1-p))] / v`` on the logit scale). It is conservative for
heavy-tailed (robust) mixtures.

For a normal mixture, ``family="gaussian"`` gives the ESS in units whose sampling SD is
``sigma`` (``sigma = 1`` for a log hazard or log median: ESS in events); ``family="binomial"``
treats the mixture as a prior on a logit response rate (ESS in patients).

:func:`ess` is one verb with a method per prior type (as RBesT's ``ess``): beta and normal
mixtures, and the single ``Beta`` / ``Normal`` priors as one-component mixtures.
"""

from __future__ import annotations

from functools import singledispatch

import numpy as np
from scipy import special, stats

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Beta, BetaMixture, Normal, NormalMixture, parse_prior

_METHODS = ("elir", "moment")


def _info_terms(logf, G, H):
    """``(sum r G)^2 - sum r (H + G^2)`` with responsibilities ``r`` from log component terms."""
    r = np.exp(logf - special.logsumexp(logf, axis=-1, keepdims=True))
    return np.sum(r * G, axis=-1) ** 2 - np.sum(r * (H + G**2), axis=-1)


@singledispatch
def ess(prior, method: str = "elir", **kwargs) -> float:
    """Effective sample size of a prior (ELIR or moment; see the module docstring).

    Parameters
    ----------
    prior
        A :class:`~prrt_bayes.core.priors.BetaMixture` or :class:`~prrt_bayes.core.priors.Beta`
        (a prior on a probability: ESS in patients), a
        :class:`~prrt_bayes.core.priors.NormalMixture` or
        :class:`~prrt_bayes.core.priors.Normal`, or a prior string for
        :func:`~prrt_bayes.core.priors.parse_prior`.
    method
        ``"elir"`` (numerical integration) or ``"moment"`` (the conjugate prior with the same
        mean and SD).
    **kwargs
        For normal priors only: ``family`` (``"gaussian"``, default: prior on a mean with
        sampling SD ``sigma`` per observation, ``sigma = 1`` for a log hazard or log median
        giving an ESS in events; ``"binomial"``: prior on a logit probability, ESS in patients)
        and ``sigma`` (> 0, default 1; ignored for ``family="binomial"``).

    Returns
    -------
    float
        The ESS, in patients (beta priors, binomial family) or observations of SD ``sigma``.

    Raises
    ------
    InputError
        A prior of another type, an unknown ``method`` or ``family``, keywords given for a beta
        prior, ``sigma <= 0``, or ELIR of a beta component with ``a`` or ``b`` below 1.
    """
    raise InputError(f"ESS needs a beta or normal (mixture) prior, got {type(prior).__name__}")


@ess.register(str)
def _ess_text(prior, method: str = "elir", **kwargs) -> float:
    return ess(parse_prior(prior), method, **kwargs)


@ess.register(Beta)
def _ess_single_beta(prior, method: str = "elir", **kwargs) -> float:
    return ess(BetaMixture((1.0,), (prior.alpha,), (prior.beta,)), method, **kwargs)


@ess.register(Normal)
def _ess_single_normal(prior, method: str = "elir", **kwargs) -> float:
    return ess(NormalMixture((1.0,), (prior.mu,), (prior.sigma,)), method, **kwargs)


@ess.register(BetaMixture)
def _ess_beta(mix, method: str = "elir", **kwargs) -> float:
    """ESS of a beta mixture prior on a probability, in patients (Bernoulli observations).

    ELIR requires every ``a, b >= 1`` (otherwise the defining integral diverges, as in RBesT).
    A component with ``a = 1`` exactly has no curvature in ``p`` near 0, so ``Beta(1, b)`` has
    ELIR 1 (and the uniform Beta(1, 1) has ELIR 0), while ``Beta(a, b)`` with ``a, b > 1`` has
    ELIR ``a + b`` (the limit as ``a -> 1`` is ``1 + b``: ELIR is discontinuous there).
    """
    if kwargs:
        raise InputError(f"ESS of a beta mixture takes no {', '.join(sorted(kwargs))} "
                         "(only for a normal mixture)")
    if method not in _METHODS:
        raise InputError(f"ESS method must be one of {_METHODS}, got {method!r}")
    if method == "moment":
        m, v = mix.mean(), mix.sd() ** 2
        return float(m * (1 - m) / v - 1)
    if np.any(mix.a < 1) or np.any(mix.b < 1):
        raise InputError("ELIR ESS needs beta components with a, b >= 1")
    # integrate on the logit scale u, p = expit(u); with G = p(1-p) d/dp log f and
    # H = p^2 (1-p)^2 d2/dp2 log f the integrand m(p) i(p) p (1-p) dp = m(p) J(p) du
    # the tails decay like p^(a-1) (and (1-p)^(b-1)): widen the range for a or b close to 1
    excess = np.concatenate([mix.a - 1, mix.b - 1])
    excess = excess[excess > 0]
    half_width = float(np.clip(30.0 / excess.min(), 40.0, 700.0)) if excess.size else 40.0
    u = np.linspace(-half_width, half_width, 400001)
    p = special.expit(u)[:, None]
    q = special.expit(-u)[:, None]
    a, b = mix.a, mix.b
    lp, lq = special.log_expit(u)[:, None], special.log_expit(-u)[:, None]
    logf = np.log(mix.weights) + (a - 1) * lp + (b - 1) * lq - special.betaln(a, b)
    G = (a - 1) * q - (b - 1) * p
    H = -(b - 1) * p**2 - (a - 1) * q**2
    J = _info_terms(logf, G, H)
    dens = np.exp(special.logsumexp(logf, axis=-1))
    return float(np.trapezoid(dens * J, u))


def _normal_grid(mix: NormalMixture) -> np.ndarray:
    """Integration nodes that resolve every component (12 SDs each side, fine steps)."""
    pieces = [
        np.linspace(m - 12 * s, m + 12 * s, 4001) for m, s in zip(mix.means, mix.sds, strict=True)
    ]
    return np.unique(np.concatenate(pieces))


@ess.register(NormalMixture)
def _ess_normal(
    mix, method: str = "elir", *, family: str = "gaussian", sigma: float = 1.0
) -> float:
    """ESS of a normal mixture prior (``family`` and ``sigma`` as in :func:`ess`)."""
    if method not in _METHODS:
        raise InputError(f"ESS method must be one of {_METHODS}, got {method!r}")
    if family not in ("gaussian", "binomial"):
        raise InputError(f"family must be 'gaussian' or 'binomial', got {family!r}")
    if family == "gaussian" and not sigma > 0:
        raise InputError(f"reference sigma must be positive, got {sigma}")
    x = _normal_grid(mix)
    dens = mix.pdf(x)
    inv_fisher = (
        np.full_like(x, sigma**2)
        if family == "gaussian"
        else 1.0 / (special.expit(x) * special.expit(-x))
    )
    if method == "moment":
        expected = sigma**2 if family == "gaussian" else float(np.trapezoid(dens * inv_fisher, x))
        return float(expected / mix.sd() ** 2)
    xm = x[:, None]
    logf = np.log(mix.weights) + stats.norm.logpdf(xm, mix.means, mix.sds)
    G = -(xm - mix.means) / mix.sds**2
    H = np.broadcast_to(-1.0 / mix.sds**2, G.shape)
    J = _info_terms(logf, G, H)
    return float(np.trapezoid(dens * J * inv_fisher, x))

