"""Power prior and its ESS cap, and the "none" / "full pooling" baselines.

All priors here are for the new arm's parameter and are returned as mixtures, so they plug into
the same conjugate updates, ESS and conflict checks as the MAP prior.

Estimates (log scale, external studies ``y_j`` with SE ``s_j``, common-effect pooling:
``ybar = sum(y_j / s_j^2) / sum(1 / s_j^2)``, ``V = 1 / sum(1 / s_j^2)``):

* **none**: the initial vague prior ``Normal(m0, s0^2)`` alone (no borrowing).
* **power prior**, fixed ``a0`` in [0, 1]: ``p(theta) prop. to L_ext(theta)^a0 Normal(m0, s0^2)``
  = ``Normal`` with precision ``a0 / V + 1 / s0^2``: the external likelihood with its
  information scaled by ``a0``. ``a0 = 0`` is *none*; ``a0 = 1`` is **full pooling**.

Counts (``r_j`` of ``n_j``): the power prior is ``Beta(a + a0 sum r_j, b + a0 sum(n_j - r_j))``
(exact, conjugate).

**ESS cap of the power prior** (:func:`power_prior_cap`): the borrowed information of the power
prior is ``a0`` times the pooled external information ``I_ext`` (:func:`external_information`:
``1 / V`` for estimates, in events for a log hazard or log median whose SE is about
``1 / sqrt(events)``; ``sum n_j`` patients for counts), exactly: its moment ESS
(:func:`~prrt_bayes.borrowing.ess.ess`) is that of the initial prior plus ``a0 I_ext``. The cap
keeps it at most a stated fraction of the trial arm: ``a0 = min(a0, max_prior_ess_fraction *
trial_size / I_ext)`` (default fraction :data:`MAX_PRIOR_ESS_FRACTION`), so the external series
never outweigh more than that share of the trial's own information.

Each task is one verb dispatching on the type of the initial prior (the first argument):
:func:`no_borrowing`, :func:`power_prior`, :func:`full_pooling`, :func:`external_information`
and :func:`power_prior_cap` take a :class:`~prrt_bayes.core.priors.Normal` (estimates and
standard errors follow) or a :class:`~prrt_bayes.core.priors.Beta` (events and totals follow),
or its string
(``"normal:0,10"``, ``"beta:1,1"``). :data:`VAGUE_NORMAL` and :data:`UNIFORM_BETA` are the
usual initial priors. Commensurate priors: :mod:`prrt_bayes.borrowing.commensurate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

import numpy as np

from prrt_bayes.borrowing.inputs import validate_counts, validate_estimates, validate_weight
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Beta, BetaMixture, Normal, NormalMixture, parse_prior

VAGUE_SD = 10.0
"""Default SD of the initial (no-borrowing) normal prior on a log scale: effectively flat."""

VAGUE_NORMAL = Normal(0.0, VAGUE_SD)
"""The usual initial prior of a log-scale parameter, ``Normal(0, 10^2)``: effectively flat."""

UNIFORM_BETA = Beta(1.0, 1.0)
"""The usual initial prior of a probability, the uniform ``Beta(1, 1)``."""

MAX_PRIOR_ESS_FRACTION = 0.5
"""Default cap of the power prior's borrowed ESS, as a fraction of the trial arm's size."""


def _pooled(estimates, std_errors) -> tuple[float, float]:
    y, s = validate_estimates(estimates, std_errors)
    prec = np.sum(1.0 / s**2)
    return float(np.sum(y / s**2) / prec), float(1.0 / prec)


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
# ESS cap of the power prior
# ---------------------------------------------------------------------------------------------
@singledispatch
def external_information(initial, *data) -> float:
    """Pooled information of the external data: the borrowed ESS of the power prior at a0 = 1.

    Parameters
    ----------
    initial
        Initial prior (:class:`~prrt_bayes.core.priors.Normal`,
        :class:`~prrt_bayes.core.priors.Beta` or its string): says which data follow.
    *data
        Normal: ``estimates, std_errors``; Beta: ``events, totals`` (as :func:`full_pooling`).

    Returns
    -------
    float
        Normal: ``1 / V = sum 1 / s_j^2``, observations of unit SD (events for a log hazard or
        log median). Beta: ``sum n_j`` patients.

    Raises
    ------
    InputError
        Invalid data (as :func:`full_pooling`) or another initial prior type.
    """
    raise _unsupported("external_information", initial)


@external_information.register(str)
def _external_information_text(initial, *data) -> float:
    return external_information(parse_prior(initial, field="initial"), *data)


@external_information.register(Normal)
def _external_information_normal(initial, estimates, std_errors) -> float:
    return 1.0 / _pooled(estimates, std_errors)[1]


@external_information.register(Beta)
def _external_information_beta(initial, events, totals) -> float:
    return float(validate_counts(events, totals)[1].sum())


@dataclass(frozen=True)
class PowerPriorCap:
    """The power prior's ``a0`` after the ESS cap, with the uncapped figures for the report.

    Parameters
    ----------
    a0
        The ``a0`` to use: ``min(a0_requested, ess_cap / information)``.
    a0_requested
        The ``a0`` asked for.
    information
        Pooled external information ``I_ext`` (:func:`external_information`).
    ess_uncapped
        Borrowed ESS at the requested ``a0``: ``a0_requested * information``.
    ess
        Borrowed ESS at the capped ``a0``: ``a0 * information`` (at most ``ess_cap``).
    ess_cap
        ``max_prior_ess_fraction * trial_size``.
    """

    a0: float
    a0_requested: float
    information: float
    ess_uncapped: float
    ess: float
    ess_cap: float

    @property
    def capped(self) -> bool:
        """Whether the cap lowered ``a0``."""
        return self.a0 < self.a0_requested

    def describe(self) -> str:
        """One line for a report: requested and used ``a0``, uncapped ESS and the cap.

        Returns
        -------
        str
            E.g. ``a0 0.5 capped to 0.27: ESS 93 -> 50 (cap 0.5 x 100)`` or ``a0 0.5: ESS 40
            (cap 50, not reached)``.
        """
        if self.capped:
            return (f"a0 {self.a0_requested:g} capped to {self.a0:.3g}: ESS "
                    f"{self.ess_uncapped:.3g} -> {self.ess:.3g} (cap {self.ess_cap:.3g})")
        return f"a0 {self.a0:g}: ESS {self.ess:.3g} (cap {self.ess_cap:.3g}, not reached)"


def power_prior_cap(initial, *data, a0: float, trial_size: float,
                    max_prior_ess_fraction: float = MAX_PRIOR_ESS_FRACTION) -> PowerPriorCap:
    """Cap the power prior's ``a0`` so that its borrowed ESS is at most a fraction of the trial.

    See the module docstring. Use the result's ``a0`` in :func:`power_prior`.

    Parameters
    ----------
    initial
        Initial prior (:class:`~prrt_bayes.core.priors.Normal`,
        :class:`~prrt_bayes.core.priors.Beta` or its string).
    *data
        Normal: ``estimates, std_errors``; Beta: ``events, totals``.
    a0
        Requested power-prior discount, in [0, 1].
    trial_size
        Size of the trial arm in the ESS's unit (> 0): events of the arm for a log hazard or log
        median, patients for a response rate.
    max_prior_ess_fraction
        Largest borrowed ESS as a fraction of ``trial_size`` (> 0).

    Returns
    -------
    PowerPriorCap
        The capped ``a0`` with the requested one, the external information, the uncapped and
        capped ESS and the cap.

    Raises
    ------
    InputError
        ``a0`` outside [0, 1], ``trial_size`` or ``max_prior_ess_fraction`` not positive and
        finite, invalid data, or another initial prior type.
    """
    a0 = validate_weight(a0, field="a0")
    for name, value in (("trial_size", trial_size),
                        ("max_prior_ess_fraction", max_prior_ess_fraction)):
        if not (isinstance(value, int | float | np.number) and 0 < value < np.inf):
            raise InputError(f"{name} must be a positive number, got {value}", field=name)
    information = external_information(initial, *data)
    cap = float(max_prior_ess_fraction * trial_size)
    used = min(a0, cap / information)
    return PowerPriorCap(a0=used, a0_requested=a0, information=information,
                         ess_uncapped=a0 * information, ess=used * information, ess_cap=cap)
