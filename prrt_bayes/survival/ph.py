r"""Proportional-hazards model with a piecewise-constant baseline hazard (and a non-PH variant).

Data are the sufficient statistics of :mod:`prrt_bayes.survival.intervals`: events
:math:`D_{aj}` and person-time :math:`E_{aj}` of arm *a* (0 = control, 1 = treatment) in
interval *j* = 1..K.

Likelihood (Poisson trick; equal to the per-patient piecewise-exponential likelihood up to a
constant)

.. math::

    D_{aj} \sim \text{Poisson}(\lambda_{aj} E_{aj}), \qquad
    \log \lambda_{aj} = \alpha_j + a\,\beta_{p(j)} .

Priors (defaults, :data:`DEFAULT_PH_PRIORS`; time in months)

.. math::

    \alpha_1 &\sim \text{Normal}(-3, 2)
        \quad \text{(median hazard 0.05/month, i.e. median survival ~14 months;}
        \text{ 95\%: 0.001 to 2.5/month)} \\
    \alpha_j &= \alpha_{j-1} + \delta_j, \quad \delta_j \sim \text{Normal}(0, 0.5),
        \quad j = 2..K \\
    \beta_p &\sim \text{Normal}(0, 2)
        \quad \text{(weakly informative: 95\% prior HR in 0.02 to 50)}

The random walk smooths the baseline: consecutive intervals' hazards differ by a factor within
exp(±1) = 0.37 to 2.7 with 95% prior probability. Its scale is fixed rather than learned: a
learned scale (HalfNormal hyperprior) gave NUTS divergences in the recovery simulations (a
funnel between the scale and the steps), while the fixed-scale prior is Gaussian in all
parameters. Priors without ``rw_step`` drop the smoothing: each :math:`\alpha_j` then has the
prior of :math:`\alpha_1`, independently (used by :func:`vague_ph_priors`).

In the PH model there is one period (:math:`\beta_{p(j)} = \beta`, the log hazard ratio of
treatment vs control). The non-PH variant splits time into periods at ``hr_breakpoints``, each with
its own log HR under the same independent prior, and reports
:math:`P(\beta_{\text{last}} > \beta_{\text{first}} \mid \text{data})`, the posterior probability
that the HR increases over time (the NETTER-1 final OS data violate PH). Period cut points are
added to the baseline breakpoints, so each interval lies in one period.

:class:`PHModel` states the model for :func:`prrt_bayes.core.fit.fit`, which builds one graph per
structure (intervals, arms, priors, HR periods, median-prior components) and swaps the data
(``pm.Data``: ``events``, ``exposure``, ...) into it, so a refit to new data of the same
structure is not compiled again; :func:`fit_ph` is the entry point from IPD.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.fit import BayesianModel, Fit, fit
from prrt_bayes.core.priors import Normal, Prior, describe_priors
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.core.summary import summarize_draws, summary_frame
from prrt_bayes.core.vocabulary import Quantity, contrast, period_hazard_ratio
from prrt_bayes.survival.intervals import (
    CONTROL,
    DEFAULT_N_INTERVALS,
    TREATMENT,
    IntervalData,
    aggregate,
    check_breakpoints,
    default_breakpoints,
    validate_ipd,
)
from prrt_bayes.survival.quantities import piecewise_hazard, piecewise_survival

PH_PRIOR_NAMES = ("log_hr", "log_hazard_first", "rw_step")
"""Parameters the PH model takes priors for, in the order they are recorded; ``rw_step`` is
optional (without it the interval hazards are independent, i.e. no smoothing)."""

DEFAULT_PH_PRIORS: Mapping[str, Prior] = {
    "log_hr": Normal(0.0, 2.0),
    "log_hazard_first": Normal(-3.0, 2.0),
    "rw_step": Normal(0.0, 0.5),
}
"""The documented weakly informative priors (module docstring; time in months)."""


def vague_ph_priors() -> dict[str, Prior]:
    """Nearly flat priors and no smoothing, for agreement with maximum likelihood.

    log HR ~ Normal(0, 10) and each interval's log baseline hazard ~ Normal(0, 10)
    independently (no ``rw_step``): the limit of the random walk as its scale grows, and the
    model whose mode is the piecewise-exponential PH maximum-likelihood estimate.

    Returns
    -------
    dict[str, Prior]
        A new dict with ``log_hr`` and ``log_hazard_first`` Normal(0, 10).
    """
    return {"log_hr": Normal(0.0, 10.0), "log_hazard_first": Normal(0.0, 10.0)}


def ph_priors(priors: Mapping[str, Prior] | None = None) -> dict[str, Prior]:
    """The PH model's priors, checked and in the recorded order (``None``: the defaults).

    Parameters
    ----------
    priors
        The complete priors: ``log_hr`` and ``log_hazard_first`` required, ``rw_step``
        optional (absent: independent interval hazards, no smoothing). To change one prior of
        the defaults pass ``{**DEFAULT_PH_PRIORS, name: prior}``.

    Returns
    -------
    dict[str, Prior]
        A new dict keyed in the order of :data:`PH_PRIOR_NAMES`.

    Raises
    ------
    InputError
        For an unknown parameter name (naming it), a missing required one, or a value that is
        not a :class:`~prrt_bayes.core.priors.Prior`.
    """
    priors = DEFAULT_PH_PRIORS if priors is None else priors
    unknown = sorted(set(priors) - set(PH_PRIOR_NAMES))
    if unknown:
        raise InputError(f"unknown prior(s) {unknown} for the PH model; known: "
                         f"{sorted(PH_PRIOR_NAMES)}", field="priors")
    missing = [name for name in PH_PRIOR_NAMES[:2] if name not in priors]
    if missing:
        raise InputError(f"the PH model needs priors for {missing}", field="priors")
    for name, prior in priors.items():
        if not isinstance(prior, Prior):
            raise InputError(f"prior {name!r} is not a Prior object: {prior!r}", field="priors")
    return {name: priors[name] for name in PH_PRIOR_NAMES if name in priors}


def _poisson_logp(value, log_rate, exposure):
    """log Poisson(value | exp(log_rate) * exposure), finite for exposure 0 (then value is 0)."""
    log_e = pt.log(pt.switch(pt.gt(exposure, 0), exposure, 1.0))
    return value * (log_rate + log_e) - pt.exp(log_rate) * exposure - pt.gammaln(value + 1)


def _poisson_random(log_rate, exposure, rng=None, size=None):
    return rng.poisson(np.exp(log_rate) * exposure, size=size)


def build_ph_model(
    data: IntervalData,
    priors: Mapping[str, Prior] | None = None,
    *,
    period_of_interval: Sequence[int] | None = None,
    log_median_prior: tuple[Sequence[float], Sequence[float], Sequence[float]] | None = None,
) -> pm.Model:
    """Build the PyMC model for two-arm interval data.

    Parameters
    ----------
    data
        Two-arm :class:`IntervalData` (``arms = (control, treatment)``).
    priors
        Priors as for :func:`ph_priors` (default :data:`DEFAULT_PH_PRIORS`).
    period_of_interval
        For the non-PH variant: the HR period (0, 1, ...) of each interval, non-decreasing.
        ``None``: one period (proportional hazards).
    log_median_prior
        Optional external information on the treatment arm: a mixture of normals
        ``(weights, means, sds)`` for the log median survival (months) of the treatment arm,
        added as a potential: the log of that mixture density at log m1(theta), where m1 is
        the median implied by the treatment arm's piecewise hazards
        (:func:`treatment_median`). Used for borrowing from single-arm series
        (:mod:`prrt_bayes.borrowing.survival`); the joint prior is then the product of the
        priors above and this density on the derived median.

    Returns
    -------
    pymc.Model
        Free variables ``log_hazard_first``, ``rw_step`` (K > 1), ``log_hr`` (dim
        ``period`` in the non-PH variant); deterministics ``log_baseline_hazard``,
        ``hazard_ratio``, ``hazard`` (dims ``arm, interval``).
    """
    if len(data.arms) != 2:
        raise InputError("the PH model needs two arms (control, treatment)", field="arm")
    priors = ph_priors(priors)
    rw_step = priors.get("rw_step")
    k = data.n_intervals
    coords = {"arm": list(data.arms), "interval": list(range(k))}
    if period_of_interval is not None:
        period = np.asarray(period_of_interval, dtype=int)
        if period.shape != (k,) or period[0] != 0 or not set(np.diff(period).tolist()) <= {0, 1}:
            raise InputError("period_of_interval must start at 0 and rise by steps of 0 or 1")
        coords["period"] = list(range(int(period[-1]) + 1))
    with pm.Model(coords=coords) as model:
        events = pm.Data("events", data.events.astype(float), dims=("arm", "interval"))
        exposure = pm.Data("exposure", data.exposure, dims=("arm", "interval"))
        if rw_step is None:
            first = priors["log_hazard_first"].to_pymc("log_hazard_first", dims="interval")
            steps = pt.zeros(k)
        elif k > 1:
            first = priors["log_hazard_first"].to_pymc("log_hazard_first")
            delta = rw_step.to_pymc("rw_step", shape=k - 1)
            steps = pt.concatenate([pt.zeros(1), pt.cumsum(delta)])
        else:
            first = priors["log_hazard_first"].to_pymc("log_hazard_first")
            steps = pt.zeros(1)
        log_base = pm.Deterministic("log_baseline_hazard", first + steps, dims="interval")
        if period_of_interval is None:
            log_hr = priors["log_hr"].to_pymc("log_hr")
            pm.Deterministic("hazard_ratio", pt.exp(log_hr))
            effect = pt.ones(k) * log_hr
        else:
            log_hr = priors["log_hr"].to_pymc("log_hr", dims="period")
            pm.Deterministic("hazard_ratio", pt.exp(log_hr), dims="period")
            pm.Deterministic("log_hr_change", log_hr[-1] - log_hr[0])
            effect = log_hr[period]
        log_rate = pt.stack([log_base, log_base + effect])
        pm.Deterministic("hazard", pt.exp(log_rate), dims=("arm", "interval"))
        if log_median_prior is not None:
            # edges and mixture are pm.Data: a cached model takes new ones without recompiling
            edges = pm.Data("interval_edges", data.edges)
            median = pm.Deterministic("median_treatment",
                                      treatment_median(pt.exp(log_base + effect), edges))
            weights, means, sds = (pm.Data(name, values) for name, values in zip(
                _MEDIAN_PRIOR_DATA, _check_mixture(log_median_prior), strict=True))
            z = (pt.log(median) - means) / sds
            pm.Potential("external_log_median_prior", pt.logsumexp(
                pt.log(weights) - pt.log(sds) - 0.5 * np.log(2 * np.pi) - 0.5 * z**2))
        pm.CustomDist(
            "events_obs", log_rate, exposure, logp=_poisson_logp, random=_poisson_random,
            observed=events, dims=("arm", "interval"),
        )
    return model


def treatment_median(hazard, edges: np.ndarray):
    r"""Median of a piecewise-constant hazard (pytensor): the t with H(t) = log 2.

    With interval starts :math:`c_j` and cumulative hazard :math:`H_j` at :math:`c_j`, the median
    lies in the interval with :math:`H_j \le \log 2 < H_{j+1}` and equals
    :math:`c_j + (\log 2 - H_j)/\lambda_j` (the last interval is open-ended, so it always exists).

    Parameters
    ----------
    hazard
        Pytensor vector of the K interval hazards (per month) of one arm, all > 0.
    edges
        Interval edges ``[0, c_1, ..., c_{K-1}, inf]`` (months), length K + 1
        (:attr:`prrt_bayes.survival.intervals.IntervalData.edges`): a NumPy array or a
        pytensor vector (e.g. ``pm.Data``).

    Returns
    -------
    pytensor.tensor.TensorVariable
        Scalar median survival time in months.
    """
    starts = pt.as_tensor_variable(edges)[:-1]
    widths = starts[1:] - starts[:-1]
    h_end = pt.cumsum(hazard[:-1] * widths)
    h_start = pt.concatenate([pt.zeros(1), h_end])
    h_next = pt.concatenate([h_end, pt.as_tensor([np.inf])])
    log2 = np.log(2.0)
    candidate = starts + (log2 - h_start) / hazard
    inside = pt.and_(pt.le(h_start, log2), pt.lt(log2, h_next))
    return pt.sum(pt.switch(inside, candidate, 0.0))


_MEDIAN_PRIOR_DATA = ("median_prior_weights", "median_prior_means", "median_prior_sds")
"""Names of the ``pm.Data`` holding the external log-median mixture (weights, means, SDs)."""


def _check_mixture(log_median_prior) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(weights, means, sds)`` as float arrays; InputError unless a proper normal mixture."""
    weights, means, sds = (np.atleast_1d(np.asarray(v, dtype=float)) for v in log_median_prior)
    if not (weights.shape == means.shape == sds.shape and weights.ndim == 1 and weights.size):
        raise InputError("log_median_prior needs weights, means and sds of one common length",
                         field="log_median_prior")
    if (not np.all(np.isfinite([*weights, *means, *sds])) or np.any(sds <= 0)
            or np.any(weights < 0) or abs(weights.sum() - 1) > 1e-6):
        raise InputError("log_median_prior needs finite means, sds > 0 and non-negative "
                         "weights summing to 1", field="log_median_prior")
    return weights, means, sds


def set_ph_data(model: pm.Model, data: IntervalData) -> None:
    """Swap new interval data (same number of intervals and arm order) into a built model.

    Only the shape (arms x intervals) is checked: the arm order must match the one the model
    was built with. The interval edges enter the model only through the external log-median
    prior; a model with that prior stores them as data (``interval_edges``), replaced too.

    Parameters
    ----------
    model
        A model from :func:`build_ph_model`; its ``events`` and ``exposure`` (and
        ``interval_edges``) data are replaced in place.
    data
        New :class:`IntervalData` with the model's arms x intervals shape.

    Raises
    ------
    InputError
        When ``data`` has a different number of arms or intervals than the model.
    """
    old = model["events"].get_value().shape
    if data.events.shape != old:
        raise InputError(f"data have {data.events.shape} arm x interval cells, model has {old}")
    new = {"events": data.events.astype(float), "exposure": data.exposure}
    if "interval_edges" in model.named_vars:
        new["interval_edges"] = data.edges
    with model:
        pm.set_data(new)


class PHModel(BayesianModel):
    """The piecewise-exponential PH (or period-wise HR) model of two-arm interval data.

    Holds the data and options :func:`prrt_bayes.core.fit.fit` needs; the graph is
    :func:`build_ph_model`. Everything is checked here, before any sampling. The structure is
    the intervals, arms, priors, HR periods and number of median-prior components; the data are
    events and person-time (with a median prior also the edges and the mixture); the recorded
    priors leave the external median prior out; the attrs are the baseline ``breakpoints``,
    ``arms`` and (non-PH) ``hr_breakpoints``.

    Parameters
    ----------
    intervals, priors
        The two-arm data and the priors, as ``data`` and ``priors`` of :func:`build_ph_model`.
    period_cuts
        HR period cut points (months) of the non-PH variant, each also a baseline breakpoint
        of ``intervals``; ``None`` for the PH model.
    log_median_prior
        External ``(weights, means, sds)`` mixture on the treatment arm's log median (months);
        see :func:`build_ph_model`. Not recorded in the priors.

    Raises
    ------
    InputError
        For one arm or more than two, invalid priors, or an invalid mixture.
    """

    what = "PH model"
    gate_vars = ("log_hr", "log_baseline_hazard")

    def __init__(
        self,
        intervals: IntervalData,
        priors: Mapping[str, Prior] | None = None,
        *,
        period_cuts: Sequence[float] | None = None,
        log_median_prior: tuple[Sequence[float], Sequence[float], Sequence[float]] | None = None,
    ) -> None:
        if len(intervals.arms) != 2:
            raise InputError("the PH model needs two arms (control, treatment)", field="arm")
        self.intervals = intervals
        self.ph_priors = ph_priors(priors)
        self.period_cuts = None if period_cuts is None else np.asarray(period_cuts, dtype=float)
        self.period = None if period_cuts is None else tuple(
            np.searchsorted(self.period_cuts, intervals.edges[:-1], side="right").tolist())
        self.mixture = None if log_median_prior is None else _check_mixture(log_median_prior)

    def structure(self) -> Hashable:
        return (self.intervals.n_intervals, tuple(self.intervals.arms),
                tuple(self.ph_priors.items()), self.period,
                None if self.mixture is None else self.mixture[0].size)

    def build(self) -> pm.Model:
        return build_ph_model(self.intervals, self.ph_priors, period_of_interval=self.period,
                              log_median_prior=self.mixture)

    def data(self) -> dict[str, np.ndarray]:
        values = {"events": self.intervals.events.astype(float),
                  "exposure": self.intervals.exposure}
        if self.mixture is not None:
            values["interval_edges"] = self.intervals.edges
            values |= dict(zip(_MEDIAN_PRIOR_DATA, self.mixture, strict=True))
        return values

    def priors(self) -> dict[str, Prior]:
        return dict(self.ph_priors)

    def attrs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"breakpoints": self.intervals.cuts.tolist(),
                               "arms": list(self.intervals.arms)}
        if self.period_cuts is not None:
            out["hr_breakpoints"] = self.period_cuts.tolist()
        return out


@dataclass
class PHFit(Fit):
    """A fitted (PH or non-PH) piecewise-exponential model: a :class:`~prrt_bayes.core.fit.Fit`
    of a :class:`PHModel`, with the survival quantities of its hazards."""

    model: PHModel

    @property
    def data(self) -> IntervalData:
        """The interval data fitted."""
        return self.model.intervals

    @property
    def priors(self) -> dict[str, Prior]:
        """The priors (``{parameter: Prior}``, no ``rw_step`` without smoothing)."""
        return self.model.priors()

    @property
    def period_cuts(self) -> np.ndarray | None:
        """HR period cut points (months) of the non-PH variant, ``None`` for the PH model."""
        return self.model.period_cuts

    @property
    def treatment(self) -> str:
        """Treatment arm label."""
        return self.data.arms[1]

    @property
    def control(self) -> str:
        """Control arm label."""
        return self.data.arms[0]

    @property
    def hazard_draws(self) -> xr.DataArray:
        """Posterior hazards, dims (chain, draw, arm, interval)."""
        return self.tree.posterior["hazard"]

    def hazard_ratio(self) -> xr.DataArray:
        """Posterior HR draws (dim ``period`` added in the non-PH variant).

        Returns
        -------
        xarray.DataArray
            Treatment vs control hazard ratio, dims ``(chain, draw)`` or
            ``(chain, draw, period)``; the stored posterior variable, not a copy.
        """
        return self.tree.posterior["hazard_ratio"]

    def prob_hr_increases(self) -> float:
        """P(log HR in the last period > log HR in the first period | data) (non-PH only).

        Returns
        -------
        float
            Share of posterior draws with ``log_hr_change > 0`` (a probability).

        Raises
        ------
        InputError
            When the fit is the PH model (no ``period_cuts``).
        """
        if self.period_cuts is None:
            raise InputError("the PH model has one HR; fit with time_varying=True")
        return float((self.tree.posterior["log_hr_change"] > 0).mean())

    def effect_draws(self) -> list[tuple[str, xr.DataArray]]:
        """The hazard-ratio quantities: one (PH) or one per period (non-PH), named.

        Returns
        -------
        list[tuple[str, xarray.DataArray]]
            ``(quantity, draws)``: ``hazard_ratio``, or ``hazard_ratio_<lo>-<hi>m`` per period
            and ``hazard_ratio_<lo>m_plus`` for the last
            (:func:`prrt_bayes.core.vocabulary.period_hazard_ratio`).
        """
        hr = self.hazard_ratio()
        if self.period_cuts is None:
            return [(Quantity.HAZARD_RATIO.value, hr)]
        edges = np.concatenate([[0.0], self.period_cuts, [np.inf]])
        return [(period_hazard_ratio(edges[p], edges[p + 1]), hr.isel(period=p))
                for p in range(hr.sizes["period"])]

    def survival(self, times: Sequence[float] | np.ndarray) -> xr.DataArray:
        """Posterior S(t) per arm on ``times``: dims (chain, draw, arm, time).

        Parameters
        ----------
        times
            Time grid in months: starts at 0, strictly increasing (e.g. from
            :func:`prrt_bayes.survival.quantities.time_grid`).

        Returns
        -------
        xarray.DataArray
            S(t) named ``survival``, dims ``(chain, draw, arm, time)``; exact for the piecewise
            hazards (:func:`prrt_bayes.survival.quantities.piecewise_survival`).
        """
        return piecewise_survival(self.hazard_draws, self.data.edges, times)

    def hazard(self, times: Sequence[float] | np.ndarray) -> xr.DataArray:
        """Posterior h(t) per arm on ``times``: dims (chain, draw, arm, time).

        Parameters
        ----------
        times
            Time grid in months: starts at 0, strictly increasing.

        Returns
        -------
        xarray.DataArray
            h(t) per month named ``hazard``, dims ``(chain, draw, arm, time)``
            (:func:`prrt_bayes.survival.quantities.piecewise_hazard`).
        """
        return piecewise_hazard(self.hazard_draws, self.data.edges, times)

    def summary(self, *, endpoint: str = "", analysis: str = "") -> pd.DataFrame:
        """Hazard-ratio rows (``hazard_ratio``, or one per period) with the priors attached.

        Parameters
        ----------
        endpoint, analysis
            Labels written into every row.

        Returns
        -------
        pandas.DataFrame
            A new :func:`prrt_bayes.core.summary.summary_frame`, group ``<treatment>_vs_<control>``,
            rows as in :meth:`effect_draws`; the prior descriptions in ``attrs["priors"]``.
        """
        group = contrast(self.treatment, self.control)
        rows = [summarize_draws(draws, quantity=quantity, group=group, endpoint=endpoint,
                                analysis=analysis) for quantity, draws in self.effect_draws()]
        return summary_frame(rows, priors=describe_priors(self.priors))


def fit_ph(
    ipd: pd.DataFrame,
    *,
    settings: SamplerSettings,
    breakpoints: Sequence[float] | None = None,
    n_intervals: int = DEFAULT_N_INTERVALS,
    treatment: str = TREATMENT,
    control: str = CONTROL,
    priors: Mapping[str, Prior] | None = None,
    time_varying: bool = False,
    hr_breakpoints: Sequence[float] | None = None,
    check: Literal["record", "warn", "raise"] = "record",
    log_median_prior: tuple[Sequence[float], Sequence[float], Sequence[float]] | None = None,
) -> PHFit:
    """Fit the PH (or, with ``time_varying=True``, the period-wise HR) model to two-arm IPD.

    Parameters
    ----------
    ipd
        Columns ``time`` (months), ``event`` (0/1), ``arm`` (``treatment`` / ``control``).
    settings
        Sampler settings (draws, tuning, chains, target acceptance, seed).
    breakpoints
        Interior baseline cut points (months; finite, > 0 and strictly increasing; default:
        ``n_intervals`` intervals at pooled event-time quantiles).
    n_intervals
        Number of baseline intervals when ``breakpoints`` is ``None`` (tied quantiles are
        merged, so fewer can result); ignored otherwise.
    treatment, control
        Labels of the two arms in the ``arm`` column (default ``"lu177"``, ``"control"``).
    priors
        The complete priors (:func:`ph_priors`; default :data:`DEFAULT_PH_PRIORS`,
        :func:`vague_ph_priors` for ML agreement).
    time_varying, hr_breakpoints
        Non-PH variant; HR periods split at ``hr_breakpoints`` (months; finite, > 0 and strictly
        increasing; default: one split at the median pooled event time). These cuts are added
        to the baseline breakpoints. ``hr_breakpoints`` requires ``time_varying=True``.
    check
        Convergence gate on ``log_hr`` and ``log_baseline_hazard``: ``"record"`` only records
        the verdict, ``"warn"`` warns, ``"raise"`` raises
        :class:`prrt_bayes.core.diagnostics.ConvergenceError` (see
        :func:`prrt_bayes.core.fit.fit`).
    log_median_prior
        External mixture-of-normals information on the treatment arm's log median (months);
        see :func:`build_ph_model`. Not recorded in the fit's priors.

    Returns
    -------
    PHFit
        The posterior (priors, ``breakpoints``, ``arms`` and ``hr_breakpoints`` in its attrs),
        the model with its data and the diagnostics.

    Raises
    ------
    InputError
        When the IPD are invalid (:func:`prrt_bayes.survival.intervals.validate_ipd`), the
        breakpoints, HR breakpoints or priors are invalid, ``hr_breakpoints`` is given without
        ``time_varying=True``, or the non-PH variant has no HR breakpoint.
    prrt_bayes.core.diagnostics.ConvergenceError
        When ``check="raise"`` and the fit fails its convergence checks.
    """
    if hr_breakpoints is not None and not time_varying:
        raise InputError("hr_breakpoints are only used by the non-PH model: pass "
                         "time_varying=True or drop them", field="hr_breakpoints")
    clean = validate_ipd(ipd, treatment=treatment, control=control)
    time, event = clean["time"].to_numpy(), clean["event"].to_numpy()
    cuts = (default_breakpoints(time, event, n_intervals) if breakpoints is None
            else check_breakpoints(breakpoints))
    period_cuts = None
    if time_varying:
        period_cuts = (default_breakpoints(time, event, 2) if hr_breakpoints is None
                       else check_breakpoints(hr_breakpoints, "hr_breakpoints"))
        if period_cuts.size == 0:
            raise InputError("the non-PH model needs at least one HR breakpoint")
        cuts = np.union1d(cuts, period_cuts)
    data = aggregate(clean, cuts, treatment=treatment, control=control)
    model = PHModel(data, priors, period_cuts=period_cuts, log_median_prior=log_median_prior)
    result = fit(model, settings, check=check)
    return PHFit(model=model, tree=result.tree, diagnostics=result.diagnostics,
                 settings=result.settings)
