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

Each task is one verb dispatching on the type of the initial prior (the first argument):
:func:`no_borrowing`, :func:`power_prior`, :func:`full_pooling` and :func:`commensurate_prior`
take a :class:`~prrt_bayes.core.priors.Normal` (estimates and standard errors follow) or a
:class:`~prrt_bayes.core.priors.Beta` (events and totals follow), or its string
(``"normal:0,10"``, ``"beta:1,1"``). :data:`VAGUE_NORMAL` and :data:`UNIFORM_BETA` are the
usual initial priors.
"""

from __future__ import annotations

from functools import singledispatch

import numpy as np
from scipy import special

from prrt_bayes.borrowing.inputs import validate_counts, validate_estimates, validate_weight
from prrt_bayes.borrowing.mixtures import fit_mixture_auto
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Beta, BetaMixture, Normal, NormalMixture, parse_prior

VAGUE_SD = 10.0
"""Default SD of the initial (no-borrowing) normal prior on a log scale: effectively flat."""

VAGUE_NORMAL = Normal(0.0, VAGUE_SD)
"""The usual initial prior of a log-scale parameter, ``Normal(0, 10^2)``: effectively flat."""

UNIFORM_BETA = Beta(1.0, 1.0)
"""The usual initial prior of a probability, the uniform ``Beta(1, 1)``."""


def _pooled(estimates, std_errors) -> tuple[float, float]:
    y, s = validate_estimates(estimates, std_errors)
    prec = np.sum(1.0 / s**2)
    return float(np.sum(y / s**2) / prec), float(1.0 / prec)


def _check_tau(tau: float) -> None:
    if not (tau >= 0 and np.isfinite(tau)):
        raise InputError(f"commensurate tau must be finite and >= 0, got {tau}", field="tau")


def _unsupported(verb: str, initial) -> InputError:
    return InputError(f"{verb} needs a Normal or Beta initial prior, got {initial!r}",
                      field="initial")


# ---------------------------------------------------------------------------------------------
# no borrowing
# ---------------------------------------------------------------------------------------------
@singledispatch
def no_borrowing(initial):
    """The initial prior alone, as a one-component mixture: no borrowing.

    Parameters
    ----------
    initial
        :class:`~prrt_bayes.core.priors.Normal` (e.g. :data:`VAGUE_NORMAL`),
        :class:`~prrt_bayes.core.priors.Beta` (e.g. :data:`UNIFORM_BETA`) or its string.

    Returns
    -------
    NormalMixture or BetaMixture
        A one-component mixture equal to ``initial``.

    Raises
    ------
    InputError
        An initial prior of another type.
    """
    raise _unsupported("no_borrowing", initial)


@no_borrowing.register(str)
def _no_borrowing_text(initial):
    return no_borrowing(parse_prior(initial, field="initial"))


@no_borrowing.register(Normal)
def _no_borrowing_normal(initial) -> NormalMixture:
    return NormalMixture([1.0], [initial.mu], [initial.sigma])


@no_borrowing.register(Beta)
def _no_borrowing_beta(initial) -> BetaMixture:
    return BetaMixture([1.0], [initial.alpha], [initial.beta])


# ---------------------------------------------------------------------------------------------
# power prior
# ---------------------------------------------------------------------------------------------
@singledispatch
def power_prior(initial, *data):
    """Power prior with fixed ``a0``: the external likelihood to the ``a0`` times ``initial``.

    See the module docstring for the closed forms.

    Parameters
    ----------
    initial
        Initial prior of the new arm's parameter: :class:`~prrt_bayes.core.priors.Normal` for a
        log-scale parameter, :class:`~prrt_bayes.core.priors.Beta` for a probability, or its
        string.
    *data
        Normal: ``estimates, std_errors, a0`` (external log-scale estimates and their standard
        errors, pooled by inverse-variance weighting). Beta: ``events, totals, a0`` (external
        counts). ``a0`` in [0, 1]: 0 is no borrowing, 1 full pooling.

    Returns
    -------
    NormalMixture or BetaMixture
        One component: ``Normal(m, 1 / P)`` with precision ``P = a0 / V + 1 / sd^2`` (``V``:
        variance of the pooled estimate), or ``Beta(a + a0 sum r, b + a0 sum(n - r))``.

    Raises
    ------
    InputError
        ``a0`` outside [0, 1], invalid estimates or counts (see
        :func:`~prrt_bayes.borrowing.inputs.validate_estimates` /
        :func:`~prrt_bayes.borrowing.inputs.validate_counts`), or another initial prior type.
    """
    raise _unsupported("power_prior", initial)


@power_prior.register(str)
def _power_prior_text(initial, *data):
    return power_prior(parse_prior(initial, field="initial"), *data)


@power_prior.register(Normal)
def _power_prior_normal(initial, estimates, std_errors, a0: float) -> NormalMixture:
    a0 = validate_weight(a0, field="a0")
    mean, sd = initial.mu, initial.sigma
    ybar, v = _pooled(estimates, std_errors)
    prec = a0 / v + 1.0 / sd**2
    return NormalMixture([1.0], [(a0 * ybar / v + mean / sd**2) / prec], [np.sqrt(1.0 / prec)])


@power_prior.register(Beta)
def _power_prior_beta(initial, events, totals, a0: float) -> BetaMixture:
    a0 = validate_weight(a0, field="a0")
    r, n = validate_counts(events, totals)
    return BetaMixture([1.0], [initial.alpha + a0 * r.sum()], [initial.beta + a0 * (n - r).sum()])


# ---------------------------------------------------------------------------------------------
# full pooling
# ---------------------------------------------------------------------------------------------
def full_pooling(initial, *data):
    """Full pooling: the power prior with ``a0 = 1`` (external data count as new-arm data).

    Parameters
    ----------
    initial
        Initial prior: :class:`~prrt_bayes.core.priors.Normal`,
        :class:`~prrt_bayes.core.priors.Beta` or its string.
    *data
        Normal: ``estimates, std_errors``; Beta: ``events, totals`` (see :func:`power_prior`).

    Returns
    -------
    NormalMixture or BetaMixture
        One component: the posterior of the common parameter given the external data.

    Raises
    ------
    InputError
        As :func:`power_prior`.
    """
    return power_prior(initial, *data, 1.0)


# ---------------------------------------------------------------------------------------------
# commensurate prior
# ---------------------------------------------------------------------------------------------
@singledispatch
def commensurate_prior(initial, *data, **options):
    """Commensurate prior with fixed between-source SD ``tau`` (see module docstring).

    Parameters
    ----------
    initial
        Initial prior: :class:`~prrt_bayes.core.priors.Normal`,
        :class:`~prrt_bayes.core.priors.Beta` or its string.
    *data
        Normal: ``estimates, std_errors, tau`` (``tau`` on the estimate's scale). Beta:
        ``events, totals, tau`` (``tau`` on the logit scale). ``tau`` finite and >= 0 (0: full
        pooling; larger values borrow less).
    **options
        Beta only: ``seed`` (default 20170112) and ``n_draws`` (default 20 000) of the draws of
        ``p_new`` to which the mixture is fitted.

    Returns
    -------
    NormalMixture or BetaMixture
        Normal: one component, the full-pooling mean with SD ``sqrt(V_ext + tau^2)``. Beta: a
        mixture of 1 to 3 components (chosen by AIC) fitted by EM to the draws.

    Raises
    ------
    InputError
        ``tau`` negative or not finite, invalid data (as :func:`full_pooling`), or another
        initial prior type.
    """
    raise _unsupported("commensurate_prior", initial)


@commensurate_prior.register(str)
def _commensurate_text(initial, *data, **options):
    return commensurate_prior(parse_prior(initial, field="initial"), *data, **options)


@commensurate_prior.register(Normal)
def _commensurate_normal(initial, estimates, std_errors, tau: float) -> NormalMixture:
    _check_tau(tau)
    ext = full_pooling(initial, estimates, std_errors)
    return NormalMixture([1.0], ext.means, np.sqrt(ext.sds**2 + tau**2))


@commensurate_prior.register(Beta)
def _commensurate_beta(
    initial, events, totals, tau: float, *, seed: int = 20170112, n_draws: int = 20_000
) -> BetaMixture:
    _check_tau(tau)
    ext = full_pooling(initial, events, totals)
    rng = np.random.default_rng(seed)
    p_ext = rng.beta(ext.a[0], ext.b[0], n_draws)
    draws = special.expit(special.logit(p_ext) + tau * rng.standard_normal(n_draws))
    return fit_mixture_auto(draws, "beta", 3)
