"""Prior-data conflict: how surprising is the new study's result under the borrowing prior?

Two p-values from the prior predictive distribution of the new study's data:

* **tail**: ``2 min(P(Y <= y_obs), P(Y >= y_obs))`` — the two-sided prior predictive tail
  probability (for counts both tails include the observed value).
* **box** (Box 1980): ``P(f(Y) <= f(y_obs))`` with ``f`` the prior predictive density (or
  probability mass for counts) — the predictive probability of data at least as improbable as
  those observed; it handles skewed and multimodal (mixture) predictives.

Small values (e.g. < 0.05) flag conflict: the external evidence and the new study disagree more
than the prior's heterogeneity allows, and a robust prior should down-weight the borrowing.
:func:`conflict` is one verb with a method per prior type (normal: an estimate and its standard
error; beta: events out of a total).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

import numpy as np

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Beta, BetaMixture, Normal, NormalMixture, parse_prior


@dataclass(frozen=True)
class ConflictCheck:
    """Prior-data conflict p-values for one observed result (see module docstring)."""

    p_tail: float
    p_box: float
    observed: float

    def flagged(self, alpha: float = 0.05) -> bool:
        """True when the Box p-value is below ``alpha``.

        Parameters
        ----------
        alpha
            Significance threshold for ``p_box`` (the tail p-value is not used).

        Returns
        -------
        bool
            ``p_box < alpha``.
        """
        return self.p_box < alpha


@singledispatch
def conflict(prior, *observed) -> ConflictCheck:
    """Prior-data conflict p-values of the new study's result under ``prior``.

    For normal priors the Box p-value integrates the predictive density numerically (trapezoid
    rule on a fine grid spanning 12 SDs around every component); for beta priors both p-values
    are exact sums of the beta-binomial predictive pmf.

    Parameters
    ----------
    prior
        Borrowing prior of the new study's parameter: a
        :class:`~prrt_bayes.core.priors.NormalMixture` or :class:`~prrt_bayes.core.priors.Normal`
        (on the estimate's scale, e.g. log), a :class:`~prrt_bayes.core.priors.BetaMixture` or
        :class:`~prrt_bayes.core.priors.Beta` (a response probability), or a prior string for
        :func:`~prrt_bayes.core.priors.parse_prior`.
    *observed
        Normal priors: ``estimate, std_error`` (the new estimate and its positive standard
        error; the predictive adds ``std_error^2`` to each component's variance). Beta priors:
        ``events, total`` (the predictive is the beta-binomial mixture for ``total``).

    Returns
    -------
    ConflictCheck
        ``p_tail``, ``p_box`` (both capped at 1) and ``observed`` (the estimate or the events).

    Raises
    ------
    InputError
        A non-positive standard error, counts outside ``0 <= events <= total`` with
        ``total > 0``, or a prior of another type.
    """
    raise InputError(f"conflict needs a normal or beta (mixture) prior, got {prior!r}")


@conflict.register(str)
def _conflict_text(prior, *observed) -> ConflictCheck:
    return conflict(parse_prior(prior), *observed)


@conflict.register(Normal)
def _conflict_single_normal(prior, *observed) -> ConflictCheck:
    return conflict(NormalMixture((1.0,), (prior.mu,), (prior.sigma,)), *observed)


@conflict.register(Beta)
def _conflict_single_beta(prior, *observed) -> ConflictCheck:
    return conflict(BetaMixture((1.0,), (prior.alpha,), (prior.beta,)), *observed)


@conflict.register(NormalMixture)
def _conflict_normal(prior, estimate: float, std_error: float) -> ConflictCheck:
    if not std_error > 0:
        raise InputError(f"standard error must be positive, got {std_error}")
    pred = prior.predictive(std_error)
    cdf = float(pred.cdf(estimate))
    p_tail = min(1.0, 2 * min(cdf, 1 - cdf))
    lo = min(float(np.min(pred.means - 12 * pred.sds)), estimate - 1.0)
    hi = max(float(np.max(pred.means + 12 * pred.sds)), estimate + 1.0)
    pieces = [np.linspace(lo, hi, 200001)]
    pieces += [
        np.linspace(m - 12 * s, m + 12 * s, 20001)
        for m, s in zip(pred.means, pred.sds, strict=True)
    ]
    x = np.unique(np.concatenate(pieces))
    f = pred.pdf(x)
    f_obs = float(pred.pdf(estimate))
    p_box = float(np.trapezoid(np.where(f <= f_obs, f, 0.0), x))
    return ConflictCheck(p_tail, min(1.0, p_box), float(estimate))


@conflict.register(BetaMixture)
def _conflict_beta(prior, events: int, total: int) -> ConflictCheck:
    if not (0 <= events <= total) or total <= 0:
        raise InputError(f"need 0 <= events <= total and total > 0, got {events}/{total}")
    pmf = prior.predictive_pmf(total)
    p_low = float(pmf[: events + 1].sum())
    p_high = float(pmf[events:].sum())
    p_tail = min(1.0, 2 * min(p_low, p_high))
    p_box = float(pmf[pmf <= pmf[events] * (1 + 1e-9)].sum())
    return ConflictCheck(p_tail, min(1.0, p_box), float(events))
