"""Turn what series report into model inputs; check the hyperpriors of the hierarchical models.

Published single-arm series rarely report a standard error. This module holds the documented
rules that turn what they do report into an estimate and its standard error on the log scale:

* **95% confidence interval reported** (median, HR, rate): ``SE = (log U - log L) / (2 z)`` with
  ``z = 1.959964`` — the SE of a Wald interval built on the log scale; an approximation for a
  survival median, whose Brookmeyer-Crowley interval inverts a test on the survival scale
  (log-log or log transform) and is asymmetric on any scale, and for intervals reported
  rounded.
* **Only the median and the number of patients reported**: the series report a Kaplan-Meier
  median, not an exponential-model estimate. Under exponential event times the KM median's
  asymptotic variance is ``var(S(m)) / f(m)^2`` with ``var(S(m)) = 1/(4 d)`` at ``S = 1/2``
  (``d`` = number of events, uncensored) and ``f(m) = lambda / 2``, so on the log scale
  ``SE(log median) ~ 1 / (log 2 sqrt(d))``: 1.44 times the exponential-model MLE's
  ``1 / sqrt(d)``, which would credit the series with information a KM median does not carry.
  When ``d`` is not reported it is approximated:
  with median follow-up ``F`` as ``d ~ N (1 - exp(-log 2 * F / median))`` (exponential event
  times, all patients followed for ``F``); without follow-up as ``d ~ N / 2`` (every patient
  followed at least to the median). Both are approximations and are flagged as such in the
  returned :class:`StudyEstimate` (``method`` says which rule was used).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import (
    HalfCauchy,
    HalfNormal,
    HalfStudentT,
    Normal,
    Prior,
    Uniform,
    as_prior,
)

_TAU_PRIORS = (HalfNormal, HalfCauchy, HalfStudentT, Uniform)


def as_tau_prior(value: Prior | str, *, field: str = "tau_prior") -> Prior:
    """The prior of a between-study SD, from a prior or its string (``halfnormal:0.5``).

    Parameters
    ----------
    value
        A :class:`~prrt_bayes.core.priors.Prior` or a string for
        :func:`~prrt_bayes.core.priors.parse_prior`. Allowed: ``HalfNormal``, ``HalfCauchy``,
        ``HalfStudentT`` (``halft``) and ``Uniform`` with ``lower >= 0``.
    field
        Name of the input, reported in error messages.

    Returns
    -------
    Prior
        The (parsed) prior.

    Raises
    ------
    InputError
        An invalid string, another family, or a uniform prior with a negative lower limit.
    """
    prior = as_prior(value, field=field)
    if not isinstance(prior, _TAU_PRIORS):
        names = ", ".join(cls.family for cls in _TAU_PRIORS)
        raise InputError(f"tau prior must be one of {names}, got {prior.describe()}", field=field)
    if isinstance(prior, Uniform) and prior.lower < 0:
        raise InputError("uniform tau prior needs LOW >= 0", field=field)
    return prior


def as_mu_prior(value: Prior | str, *, field: str = "mu_prior") -> Normal:
    """A normal prior (the only one with closed-form ``mu | tau``), from a prior or its string.

    Parameters
    ----------
    value
        A :class:`~prrt_bayes.core.priors.Normal` or a ``normal:MEAN,SD`` string.
    field
        Name of the input, reported in error messages.

    Returns
    -------
    Normal
        The (parsed) prior.

    Raises
    ------
    InputError
        An invalid string or a prior that is not normal.
    """
    prior = as_prior(value, field=field)
    if not isinstance(prior, Normal):
        label = field.removesuffix("_prior")
        raise InputError(f"{label} prior must be normal:MEAN,SD, got {prior.describe()}",
                         field=field)
    return prior


@dataclass(frozen=True)
class StudyEstimate:
    """An estimate on the log scale with its standard error and how the SE was obtained.

    ``method`` is one of ``"ci"``, ``"events"``, ``"events_from_follow_up"``,
    ``"events_half_n"``; the last two mean the event count was approximated.
    """

    estimate: float
    std_error: float
    method: str

    @property
    def approximated(self) -> bool:
        """True when the standard error rests on an approximated number of events."""
        return self.method in ("events_from_follow_up", "events_half_n")


def se_from_ci(lower: float, upper: float, *, level: float = 0.95, log: bool = True) -> float:
    """Standard error from a reported two-sided confidence interval.

    Parameters
    ----------
    lower, upper
        The interval limits, finite with ``lower < upper`` (and ``lower > 0`` when ``log``).
    level
        Confidence level of the interval, in (0, 1).
    log
        ``True`` (default) works on the log scale, as for medians, hazard ratios and rates:
        ``(log U - log L) / (2 z_{(1+level)/2})``; ``False`` uses ``(U - L) / (2 z)``.

    Returns
    -------
    float
        The standard error, on the log scale when ``log`` is true.

    Raises
    ------
    InputError
        For a level outside (0, 1), an empty or non-finite interval, or ``lower <= 0`` with
        ``log=True``.
    """
    if not 0 < level < 1:
        raise InputError(f"confidence level must be in (0, 1), got {level}", field="level")
    if not (math.isfinite(lower) and math.isfinite(upper)) or not lower < upper:
        raise InputError(f"confidence interval needs lower < upper, got ({lower}, {upper})")
    if log and lower <= 0:
        raise InputError(f"log-scale interval needs a positive lower limit, got {lower}")
    z = float(norm.ppf(0.5 + level / 2))
    width = (math.log(upper) - math.log(lower)) if log else (upper - lower)
    return width / (2 * z)


def approximate_events(n: int, median: float, follow_up: float | None = None) -> float:
    """Approximate number of events when a series reports only its median (and N).

    Parameters
    ----------
    n
        Number of patients ``N``, positive.
    median
        Reported median survival (months), positive.
    follow_up
        Median follow-up ``F`` (months, same unit as ``median``), positive. Given: ``N (1 -
        exp(-log 2 F / median))`` (exponential times, all followed for F). ``None``: ``N / 2``
        (all patients followed at least to the median).

    Returns
    -------
    float
        The approximate number of events (not rounded).

    Raises
    ------
    InputError
        When ``n``, ``median`` or a given ``follow_up`` is not positive.
    """
    if n <= 0:
        raise InputError(f"number of patients must be positive, got {n}", field="n")
    if median <= 0:
        raise InputError(f"median must be positive, got {median}", field="median")
    if follow_up is None:
        return n / 2
    if follow_up <= 0:
        raise InputError(f"follow-up must be positive, got {follow_up}", field="follow_up")
    return n * (1 - math.exp(-math.log(2) * follow_up / median))


def _km_median_se(events: float) -> float:
    """SE of the log of a Kaplan-Meier median from ``events`` (exponential times; module doc)."""
    return 1 / (math.log(2) * math.sqrt(events))


def log_median_estimate(
    median: float,
    *,
    ci: tuple[float, float] | None = None,
    events: int | None = None,
    n: int | None = None,
    follow_up: float | None = None,
) -> StudyEstimate:
    """Log median survival and its SE from what a series reports, preferring the best source.

    Order of preference: the reported 95% CI; the reported number of events
    (``1 / (log 2 sqrt(d))``, the SE of a Kaplan-Meier median under exponential event times;
    module docstring); events approximated from ``n`` (and ``follow_up`` if given).

    Parameters
    ----------
    median
        Reported median survival (months), positive.
    ci
        Reported 95% confidence interval ``(lower, upper)`` of the median (months); ``None``
        when not reported.
    events
        Reported number of events (positive); ``None`` when not reported.
    n, follow_up
        Number of patients and median follow-up (months, or ``None``), used only when neither
        ``ci`` nor ``events`` is given (see :func:`approximate_events`).

    Returns
    -------
    StudyEstimate
        ``log(median)``, its standard error and ``method`` (``"ci"``, ``"events"``,
        ``"events_from_follow_up"`` or ``"events_half_n"``).

    Raises
    ------
    InputError
        When ``median`` or a given ``events`` is not positive, the CI is invalid, or none of
        ``ci``, ``events`` and ``n`` is available.
    """
    if not median > 0:
        raise InputError(f"median must be positive, got {median}", field="median")
    if ci is not None:
        return StudyEstimate(math.log(median), se_from_ci(*ci), "ci")
    if events is not None:
        if events <= 0:
            raise InputError(f"number of events must be positive, got {events}", field="events")
        return StudyEstimate(math.log(median), _km_median_se(events), "events")
    if n is None:
        raise InputError("log median needs a CI, the number of events, or the number of patients")
    d = approximate_events(n, median, follow_up)
    method = "events_half_n" if follow_up is None else "events_from_follow_up"
    return StudyEstimate(math.log(median), _km_median_se(d), method)


def _per_study(first, second, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Two per-study inputs as flat float arrays of one length, at least one study."""
    a = np.asarray(first, dtype=float).ravel()
    b = np.asarray(second, dtype=float).ravel()
    if a.size != b.size:
        raise InputError(f"{a.size} {names[0]} but {b.size} {names[1]}: the lists must match")
    if a.size == 0:
        raise InputError("no studies given")
    return a, b


def validate_counts(events, totals) -> tuple[np.ndarray, np.ndarray]:
    """Check event counts against totals; return them as integer arrays.

    Parameters
    ----------
    events, totals
        Event counts and patient totals, one per study (any array-like; flattened).

    Returns
    -------
    events : numpy.ndarray
        The event counts, a new 1-D integer array.
    totals : numpy.ndarray
        The totals, a new 1-D integer array of the same length.

    Raises
    ------
    InputError
        For mismatched lengths, no studies, non-finite, negative or non-integer counts, zero
        totals and events greater than totals (naming the study, 1-based).
    """
    r, n = _per_study(events, totals, ("event counts", "totals"))
    for i, (ri, ni) in enumerate(zip(r, n, strict=True), start=1):
        if not (np.isfinite(ri) and np.isfinite(ni)) or ri != round(ri) or ni != round(ni):
            raise InputError(f"study {i}: counts must be whole numbers, got {ri:g}/{ni:g}")
        if ri < 0 or ni <= 0:
            raise InputError(f"study {i}: need events >= 0 and total > 0, got {ri:g}/{ni:g}")
        if ri > ni:
            raise InputError(f"study {i}: events ({ri:g}) exceed total ({ni:g})")
    return r.astype(int), n.astype(int)


def validate_estimates(estimates, std_errors) -> tuple[np.ndarray, np.ndarray]:
    """Check study estimates and standard errors; return them as float arrays.

    Parameters
    ----------
    estimates, std_errors
        Study estimates and their standard errors, one per study (any array-like; flattened).

    Returns
    -------
    estimates : numpy.ndarray
        1-D float array (may share memory with a float ndarray input).
    std_errors : numpy.ndarray
        1-D float array of the same length.

    Raises
    ------
    InputError
        For mismatched lengths, no studies, non-finite values and std errors <= 0 (naming the
        study, 1-based).
    """
    y, s = _per_study(estimates, std_errors, ("estimates", "standard errors"))
    for i, (yi, si) in enumerate(zip(y, s, strict=True), start=1):
        if not (np.isfinite(yi) and np.isfinite(si)):
            raise InputError(f"study {i}: estimate and standard error must be finite")
        if si <= 0:
            raise InputError(f"study {i}: standard error must be positive, got {si:g}")
    return y, s


def validate_weight(w: float, *, field: str = "robust_weight") -> float:
    """Check a mixture weight lies in [0, 1]; InputError otherwise.

    Parameters
    ----------
    w
        The weight; anything ``float`` accepts.
    field
        Name of the input, reported in the error message.

    Returns
    -------
    float
        ``w`` as a float.

    Raises
    ------
    InputError
        When ``w`` is not a number or lies outside [0, 1].
    """
    try:
        w = float(w)
    except (TypeError, ValueError):
        raise InputError(f"weight must be a number in [0, 1], got {w!r}", field=field) from None
    if not (0.0 <= w <= 1.0):
        raise InputError(f"weight must be in [0, 1], got {w:g}", field=field)
    return w
