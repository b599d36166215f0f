"""Prior-data conflict: how surprising is the new study's result under the borrowing prior?

Two p-values from the prior predictive distribution of the new study's data:

* **tail**: ``2 min(P(Y <= y_obs), P(Y >= y_obs))`` — the two-sided prior predictive tail
  probability (for counts both tails include the observed value).
* **box** (Box 1980): ``P(f(Y) <= f(y_obs))`` with ``f`` the prior predictive density (or
  probability mass for counts) — the predictive probability of data at least as improbable as
  those observed; it handles skewed and multimodal (mixture) predictives.

Small values (e.g. < 0.05) flag conflict: the external evidence and the new study disagree more
than the prior's heterogeneity allows, and a robust prior should down-weight the borrowing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prrt_bayes.borrowing.mixtures import BetaMixture, NormalMixture
from prrt_bayes.core.errors import InputError


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


def conflict_normal(prior: NormalMixture, estimate: float, std_error: float) -> ConflictCheck:
    """Conflict check of a new estimate (SE ``std_error``) against a normal-mixture prior.

    The Box p-value integrates the predictive density numerically (trapezoid rule on a fine grid
    spanning 12 SDs around every component).

    Parameters
    ----------
    prior
        Borrowing prior of the new study's parameter, on the estimate's scale (e.g. log).
    estimate, std_error
        The new study's estimate (same scale as ``prior``) and its positive standard error; the
        prior predictive is ``prior`` with ``std_error^2`` added to each component's variance.

    Returns
    -------
    ConflictCheck
        ``p_tail``, ``p_box`` (both capped at 1) and ``observed = estimate``.

    Raises
    ------
    InputError
        When ``std_error`` is not positive.
    """
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


def conflict_beta(prior: BetaMixture, events: int, total: int) -> ConflictCheck:
    """Conflict check of ``events`` out of ``total`` against a beta-mixture prior (exact).

    Parameters
    ----------
    prior
        Borrowing prior of the new study's response probability.
    events, total
        Observed events and patients of the new study; the prior predictive is the
        beta-binomial mixture for ``total`` patients.

    Returns
    -------
    ConflictCheck
        ``p_tail``, ``p_box`` (sums of the predictive pmf, both capped at 1) and
        ``observed = events``.

    Raises
    ------
    InputError
        Unless ``0 <= events <= total`` and ``total > 0``.
    """
    if not (0 <= events <= total) or total <= 0:
        raise InputError(f"need 0 <= events <= total and total > 0, got {events}/{total}")
    pmf = prior.predictive_pmf(total)
    p_low = float(pmf[: events + 1].sum())
    p_high = float(pmf[events:].sum())
    p_tail = min(1.0, 2 * min(p_low, p_high))
    p_box = float(pmf[pmf <= pmf[events] * (1 + 1e-9)].sum())
    return ConflictCheck(p_tail, min(1.0, p_box), float(events))
