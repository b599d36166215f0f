"""Power and commensurate priors, and the "none" / "full pooling" baselines.

All priors here are for the new arm's parameter and are returned as mixtures, so they plug into
the same conjugate updates, ESS and conflict checks as the MAP prior.

Estimates (log scale, external studies ``y_j`` with SE ``s_j``, common-effect pooling:
``ybar = sum(y_j / s_j^2) / sum(1 / s_j^2)``, ``V = 1 / sum(1 / s_j^2)``):

* **none**: the initial vague prior ``Normal(m0, s0^2)`` alone (no borrowing).
* **power prior**, fixed ``a0`` in [0, 1]: ``p(theta) prop. to L_ext(theta)^a0 Normal(m0, s0^2)``
  = ``Normal`` with precision ``a0 / V + 1 / s0^2``: the external likelihood with its
  information scaled by ``a0``. ``a0 = 0`` is *none*; ``a0 = 1`` is **full pooling**.
* **commensurate prior**, fixed ``tau``: ``theta_new ~ Normal(theta_ext, tau^2)`` with
  ``theta_ext`` given the external data (and the vague prior), so
  ``theta_new ~ Normal(m_ext, V_ext + tau^2)``; ``tau = 0`` is full pooling, ``tau -> inf`` none.

Counts (``r_j`` of ``n_j``): the power prior is ``Beta(a + a0 sum r_j, b + a0 sum(n_j - r_j))``
(exact, conjugate). The commensurate prior puts ``tau`` on the logit scale:
``logit p_new ~ Normal(logit p_ext, tau^2)`` with ``p_ext ~ Beta(a + sum r, b + sum(n - r))``;
it has no closed form and is represented by a beta mixture fitted by EM to 20 000 draws.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from prrt_bayes.borrowing.inputs import validate_counts, validate_estimates, validate_weight
from prrt_bayes.borrowing.mixtures import BetaMixture, NormalMixture, fit_mixture_auto
from prrt_bayes.core.errors import InputError

VAGUE_SD = 10.0
"""Default SD of the initial (no-borrowing) normal prior on a log scale: effectively flat."""


def _pooled(estimates, std_errors) -> tuple[float, float]:
    y, s = validate_estimates(estimates, std_errors)
    prec = np.sum(1.0 / s**2)
    return float(np.sum(y / s**2) / prec), float(1.0 / prec)


def _check_initial(mean: float, sd: float) -> None:
    if not (np.isfinite(mean) and sd > 0 and np.isfinite(sd)):
        raise InputError(f"initial prior needs a finite mean and positive sd, got {mean}, {sd}")


def no_borrowing_normal(*, mean: float = 0.0, sd: float = VAGUE_SD) -> NormalMixture:
    """The vague initial prior ``Normal(mean, sd^2)``: no borrowing.

    Parameters
    ----------
    mean, sd
        Mean and SD of the initial normal prior, on the parameter's (log) scale; ``sd`` must be
        positive and both finite (default ``Normal(0, 10^2)``, effectively flat).

    Returns
    -------
    NormalMixture
        A one-component mixture ``Normal(mean, sd^2)``.

    Raises
    ------
    InputError
        When ``mean`` is not finite or ``sd`` is not positive and finite.
    """
    _check_initial(mean, sd)
    return NormalMixture([1.0], [mean], [sd])


def power_prior_normal(
    estimates, std_errors, a0: float, *, mean: float = 0.0, sd: float = VAGUE_SD
) -> NormalMixture:
    """Power prior with fixed ``a0`` for a normal (log-scale) parameter (see module docstring).

    Parameters
    ----------
    estimates, std_errors
        External study estimates (log scale) and their standard errors, one per study; they are
        pooled by inverse-variance weighting (common effect).
    a0
        Power (discount) of the external likelihood, in [0, 1]: 0 is no borrowing, 1 full
        pooling.
    mean, sd
        Mean and SD of the initial normal prior (default ``Normal(0, 10^2)``, effectively flat).

    Returns
    -------
    NormalMixture
        A one-component mixture ``Normal(m, 1 / P)`` with precision ``P = a0 / V + 1 / sd^2``
        (``V``: variance of the pooled estimate).

    Raises
    ------
    InputError
        When ``a0`` is outside [0, 1], the initial prior is invalid, or the estimates and
        standard errors fail :func:`~prrt_bayes.borrowing.inputs.validate_estimates`.
    """
    a0 = validate_weight(a0, field="a0")
    _check_initial(mean, sd)
    ybar, v = _pooled(estimates, std_errors)
    prec = a0 / v + 1.0 / sd**2
    return NormalMixture([1.0], [(a0 * ybar / v + mean / sd**2) / prec], [np.sqrt(1.0 / prec)])


def full_pooling_normal(
    estimates, std_errors, *, mean: float = 0.0, sd: float = VAGUE_SD
) -> NormalMixture:
    """Full pooling: the power prior with ``a0 = 1`` (external data count as new-arm data).

    Parameters
    ----------
    estimates, std_errors
        External study estimates (log scale) and their standard errors, one per study.
    mean, sd
        Mean and SD of the initial normal prior (default ``Normal(0, 10^2)``, effectively flat).

    Returns
    -------
    NormalMixture
        One normal component: the posterior of the common effect given the external data.

    Raises
    ------
    InputError
        As :func:`power_prior_normal`.
    """
    return power_prior_normal(estimates, std_errors, 1.0, mean=mean, sd=sd)


def commensurate_prior_normal(
    estimates, std_errors, tau: float, *, mean: float = 0.0, sd: float = VAGUE_SD
) -> NormalMixture:
    """Commensurate prior with fixed between-source SD ``tau`` >= 0 (see module docstring).

    Parameters
    ----------
    estimates, std_errors
        External study estimates (log scale) and their standard errors, one per study.
    tau
        Between-source SD on the estimate's scale, finite and >= 0 (0: full pooling; larger
        values borrow less).
    mean, sd
        Mean and SD of the initial normal prior (default ``Normal(0, 10^2)``, effectively flat).

    Returns
    -------
    NormalMixture
        One normal component: the full-pooling mean with SD ``sqrt(V_ext + tau^2)``.

    Raises
    ------
    InputError
        When ``tau`` is negative or not finite, or as :func:`full_pooling_normal`.
    """
    if not (tau >= 0 and np.isfinite(tau)):
        raise InputError(f"commensurate tau must be finite and >= 0, got {tau}", field="tau")
    ext = full_pooling_normal(estimates, std_errors, mean=mean, sd=sd)
    return NormalMixture([1.0], ext.means, np.sqrt(ext.sds**2 + tau**2))


def no_borrowing_beta(*, a: float = 1.0, b: float = 1.0) -> BetaMixture:
    """The initial prior ``Beta(a, b)`` (uniform by default): no borrowing.

    Parameters
    ----------
    a, b
        Positive, finite shape parameters of the initial beta prior.

    Returns
    -------
    BetaMixture
        A one-component mixture ``Beta(a, b)``.
    """
    return BetaMixture([1.0], [a], [b])


def power_prior_beta(events, totals, a0: float, *, a: float = 1.0, b: float = 1.0) -> BetaMixture:
    """Power prior with fixed ``a0``: ``Beta(a + a0 sum r, b + a0 sum(n - r))``.

    Parameters
    ----------
    events, totals
        External event counts ``r`` and patient totals ``n``, one per study.
    a0
        Power (discount) of the external likelihood, in [0, 1]: 0 is no borrowing, 1 full
        pooling.
    a, b
        Shape parameters of the initial beta prior (default uniform ``Beta(1, 1)``).

    Returns
    -------
    BetaMixture
        A one-component mixture (exact conjugate result).

    Raises
    ------
    InputError
        When ``a0`` is outside [0, 1] or the counts fail
        :func:`~prrt_bayes.borrowing.inputs.validate_counts`.
    """
    a0 = validate_weight(a0, field="a0")
    r, n = validate_counts(events, totals)
    return BetaMixture([1.0], [a + a0 * r.sum()], [b + a0 * (n - r).sum()])


def full_pooling_beta(events, totals, *, a: float = 1.0, b: float = 1.0) -> BetaMixture:
    """Full pooling: the power prior with ``a0 = 1``.

    Parameters
    ----------
    events, totals
        External event counts and patient totals, one per study.
    a, b
        Shape parameters of the initial beta prior (default uniform ``Beta(1, 1)``).

    Returns
    -------
    BetaMixture
        One component ``Beta(a + sum r, b + sum(n - r))``.

    Raises
    ------
    InputError
        As :func:`power_prior_beta`.
    """
    return power_prior_beta(events, totals, 1.0, a=a, b=b)


def commensurate_prior_beta(
    events,
    totals,
    tau: float,
    *,
    a: float = 1.0,
    b: float = 1.0,
    seed: int = 20170112,
    n_draws: int = 20_000,
) -> BetaMixture:
    """Commensurate prior on the logit scale for a response probability (mixture fit to draws).

    Parameters
    ----------
    events, totals
        External event counts and patient totals, one per study.
    tau
        Between-source SD on the logit scale, finite and >= 0 (0: full pooling).
    a, b
        Shape parameters of the initial beta prior (default uniform ``Beta(1, 1)``).
    seed, n_draws
        Random seed and number of draws of ``p_new`` to which the mixture is fitted.

    Returns
    -------
    BetaMixture
        Beta mixture of 1 to 3 components (chosen by AIC) fitted by EM to the draws.

    Raises
    ------
    InputError
        When ``tau`` is negative or not finite, or the counts are invalid.
    """
    if not (tau >= 0 and np.isfinite(tau)):
        raise InputError(f"commensurate tau must be finite and >= 0, got {tau}", field="tau")
    ext = full_pooling_beta(events, totals, a=a, b=b)
    rng = np.random.default_rng(seed)
    p_ext = rng.beta(ext.a[0], ext.b[0], n_draws)
    draws = special.expit(special.logit(p_ext) + tau * rng.standard_normal(n_draws))
    return fit_mixture_auto(draws, "beta", 3)
