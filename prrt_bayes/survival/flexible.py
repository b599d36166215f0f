r"""Flexible-hazard survival model: M-spline excess hazard, background mortality, external data.

This is the package's recommended extrapolation model (``family = "auto"``), after survextrap
(Jackson 2023, BMC Med Res Methodol 23:282), with NICE DSU TSD 21's advice that extrapolation
should combine the trial with external long-term evidence and general-population mortality.

**Hazard.** For arm :math:`a` (0 = control, 1 = treatment) at time :math:`t` (months),

.. math::

    h_a(t) = h^*_a(t) + \underbrace{e^{\alpha + \beta_{p(t)} a}\, b
             \sum_{k=1}^{K} w_k M_k(t)}_{\text{excess hazard}}

with :math:`h^*_a` the background (general-population) hazard of arm :math:`a`'s cohort
(:mod:`prrt_bayes.survival.background`, zero without a life table), :math:`M_k` the cubic
M-spline basis on :math:`[0, b]` (:mod:`prrt_bayes.survival.mspline`; flat at the boundary
:math:`b`, survextrap's ``bsmooth``, and constant beyond it), :math:`w` a point on the simplex
and :math:`\beta_{p}` the log excess-hazard ratio of treatment vs control in HR period
:math:`p` (one period: proportional excess hazards).
Survival is relative survival: :math:`S_a(t) = S^*_a(t)\,\exp(-H^{E}_a(t))`, so no hazard falls
below the population's.

**Likelihood** (exact, on aggregates). Trial IPD :math:`(t_i, d_i, a_i)`:

.. math::

    \ell = \sum_{i: d_i = 1} \log h_{a_i}(t_i) - \sum_i H^{E}_{a_i}(t_i)

(the background cumulative hazard does not depend on the parameters and is dropped). Because
:math:`H^{E}_a(t) = e^{\alpha + \beta a} b \sum_k w_k I_k(t)` is linear in :math:`w`, the second
sum needs only :math:`\sum_i I_k(t_i)` per arm and period; the first needs the basis at each
distinct event time (with its count). External survivor counts — "r of n alive at
:math:`u_0` were alive at :math:`u_1`" — add

.. math::

    r \log \pi + (n - r) \log(1 - \pi), \qquad
    \pi = \exp\{-[H^*_a(u_1) - H^*_a(u_0)] - e^{\delta_g}[H^{E}_a(u_1) - H^{E}_a(u_0)]\}

(the binomial kernel; :math:`n, r` may be effective, non-integer counts), as survextrap's
``external`` data do. Rows from the single-arm series (group :math:`g`) carry a log offset
:math:`\delta_g` on the excess hazard — the series-vs-trial difference (population, regimen,
time origin). The trial and the series are exchangeable (the MAP assumption of
:mod:`prrt_bayes.borrowing.survival`): each source's log excess-hazard level is a draw around a
common mean with SD :math:`\tau`, so :math:`\delta_g = \tau(v_g - v_0)` with :math:`v_0` the
trial's own draw; the series inform the trial's tail only as far as the sources agree. A
user's own external counts (:math:`\delta = 0`) are taken to describe the trial's population.

**Priors** (defaults :data:`DEFAULT_FLEXIBLE_PRIORS`; time in months)

.. math::

    \alpha &\sim \text{Normal}(-3, 2) \quad
        \text{(excess hazard level under the constant shape: median 0.05/month)} \\
    w &= \operatorname{softmax}(\log \bar w + \sigma z), \quad z_k \sim \text{Normal}(0, 1) \\
    \sigma &\sim \text{Gamma}(2, 1) \quad \text{(smoothness; } \sigma = 0
        \text{ is a constant hazard, survextrap's default prior)} \\
    \beta_p &\sim \text{Normal}(0, 2) \\
    \delta_g &= \tau (v_g - v_0), \quad v_0, v_g \sim \text{Normal}(0, 1), \quad
        \tau \sim \text{HalfNormal}(0.5)

where :math:`\bar w` (:attr:`~prrt_bayes.survival.mspline.MSplineBasis.constant_weights`)
makes the hazard constant, so the prior is centred on an exponential model and :math:`\sigma`
says how far the data may bend it. The half-normal(0.5) series heterogeneity is the package's
MAP heterogeneity prior (:mod:`prrt_bayes.borrowing.survival`). Knots: interior knots at
event-time quantiles, plus the end of follow-up when external data reach beyond it; the
boundary is the last time any data reach (:func:`prrt_bayes.survival.mspline.default_knots`).

**Departures named.** The background hazard is the cohort's expected hazard (age and sex mix of
each arm), not each patient's (reconstructed IPD have no ages). Treatment-effect waning
(:class:`Waning`) acts on the excess-hazard ratio and is applied to the posterior draws, as a
scenario, not fitted. Against survextrap's defaults (package version of 2025): its spline
coefficients have a first-order random-walk prior with logistic steps (Timmins et al. 2025),
where this model keeps the exchangeable prior of the 2023 paper with normal rather than logistic
deviations; it has 7 basis functions (5 interior knots), not 10; and its boundary is the last
time any data reach, where survextrap's is the last event time. The boundary smoothing
(``bsmooth``) is survextrap's.
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
from prrt_bayes.core.priors import Gamma, HalfNormal, Normal, Prior
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.core.vocabulary import Quantity, period_hazard_ratio
from prrt_bayes.survival.intervals import CONTROL, TREATMENT, validate_ipd
from prrt_bayes.survival.mspline import MSplineBasis, default_knots

DEFAULT_FLEXIBLE_PRIORS: Mapping[str, Prior] = {
    "log_hazard_scale": Normal(-3.0, 2.0),
    "log_hr": Normal(0.0, 2.0),
    "smoothness": Gamma(2.0, 1.0),
    "series_sd": HalfNormal(0.5),
}
"""The documented priors of the module docstring (time in months)."""

N_INTERIOR_KNOTS = 5
"""Interior knots at event-time quantiles (7 basis functions, flat at the boundary)."""

EXTERNAL_FIELDS = ("start", "stop", "n", "r", "arm")
"""Columns of external survivor counts (months; ``r`` of ``n`` alive at start alive at stop)."""

_EVENT_BLOCK = 32
"""Distinct event times are padded to a multiple of this (zero-count rows), so reconstruction
members with slightly different numbers of distinct times share one compiled model."""


@dataclass(frozen=True)
class Waning:
    r"""Treatment-effect waning: the log excess-hazard ratio times a weight :math:`v(t)`.

    :math:`v = 1` before ``start`` and 0 after ``end`` (the HR has waned to 1); in between
    ``linear`` falls in a straight line and ``exponential`` as
    :math:`v(t) = (e^{-\lambda(t - s)} - e^{-\lambda(e - s)}) / (1 - e^{-\lambda(e - s)})`
    with :math:`\lambda = 3 / (e - s)` (a fast start, 95% of an unconstrained exponential
    decay reached at ``end``, and exactly 0 there).

    Parameters
    ----------
    kind
        ``"linear"`` or ``"exponential"``.
    start, end
        Months after randomisation; ``start`` must not precede the end of follow-up (checked
        by the analysis) and ``end`` must follow ``start``.
    """

    kind: Literal["linear", "exponential"]
    start: float
    end: float

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise InputError(f"waning needs 0 <= start < end, got start {self.start:g} and "
                             f"end {self.end:g} months", field="waning")

    def weight(self, times: np.ndarray) -> np.ndarray:
        """The weight :math:`v(t)` on the log HR at each time.

        Parameters
        ----------
        times
            Months, any shape.

        Returns
        -------
        numpy.ndarray
            Values in [0, 1], same shape as ``times``.
        """
        t = np.asarray(times, dtype=float)
        fraction = np.clip((t - self.start) / (self.end - self.start), 0.0, 1.0)
        if self.kind == "linear":
            return 1.0 - fraction
        tail = np.exp(-3.0)
        return (np.exp(-3.0 * fraction) - tail) / (1.0 - tail)

    def describe(self) -> str:
        """One line for reports, e.g. ``"HR wanes linearly to 1 between 30 and 90 months"``.

        Returns
        -------
        str
            The description.
        """
        return (f"HR wanes {'linearly' if self.kind == 'linear' else 'exponentially'} to 1 "
                f"between {self.start:g} and {self.end:g} months")


def flexible_priors(priors: Mapping[str, Prior] | None = None) -> dict[str, Prior]:
    """The model's priors over :data:`DEFAULT_FLEXIBLE_PRIORS`, unknown names refused.

    Parameters
    ----------
    priors
        Priors to change (any subset of the default names); ``None``: the defaults.

    Returns
    -------
    dict[str, Prior]
        A new dict with every parameter's prior, in the default order.

    Raises
    ------
    InputError
        For an unknown parameter name or a value that is not a Prior.
    """
    priors = dict(priors or {})
    unknown = sorted(set(priors) - set(DEFAULT_FLEXIBLE_PRIORS))
    if unknown:
        raise InputError(f"unknown prior(s) {unknown} for the flexible model; known: "
                         f"{sorted(DEFAULT_FLEXIBLE_PRIORS)}", field="priors")
    for name, prior in priors.items():
        if not isinstance(prior, Prior):
            raise InputError(f"prior {name!r} is not a Prior object: {prior!r}", field="priors")
    return {name: priors.get(name, default) for name, default in DEFAULT_FLEXIBLE_PRIORS.items()}


def _period_pieces(basis: MSplineBasis, times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """:math:`I(\\mathrm{clip}(t, c_{p-1}, c_p)) - I(c_{p-1})` per period: shape
    ``times.shape + (periods, K)`` — each period's share of the cumulative basis."""
    pieces = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        pieces.append(basis.integral(np.clip(times, lo, hi)) - basis.integral(np.array(lo)))
    return np.stack(pieces, axis=-2)


@dataclass(frozen=True)
class FlexibleData:
    """The aggregates the likelihood needs (module docstring), arms ordered (control, treatment).

    Built by :meth:`from_ipd`. Arrays: ``event_basis`` (E, K), ``event_count`` (E),
    ``event_arm`` (E, 0/1), ``event_period`` (E), ``event_background`` (E, per month);
    ``cumulative`` (2, P, K); external rows ``external_pieces`` (X, P, K),
    ``external_background`` (X), ``external_n``, ``external_r``, ``external_arm``,
    ``external_group`` (X; -1 for no offset).
    """

    basis: MSplineBasis
    period_edges: np.ndarray
    arms: tuple[str, str]
    follow_up: float
    event_basis: np.ndarray
    event_count: np.ndarray
    event_arm: np.ndarray
    event_period: np.ndarray
    event_background: np.ndarray
    cumulative: np.ndarray
    external_pieces: np.ndarray
    external_background: np.ndarray
    external_n: np.ndarray
    external_r: np.ndarray
    external_arm: np.ndarray
    external_group: np.ndarray
    series_groups: tuple[str, ...]

    @classmethod
    def from_ipd(
        cls,
        ipd: pd.DataFrame,
        basis: MSplineBasis,
        *,
        treatment: str = TREATMENT,
        control: str = CONTROL,
        period_cuts: Sequence[float] = (),
        background: Mapping[str, Any] | None = None,
        external: pd.DataFrame | None = None,
    ) -> FlexibleData:
        """Aggregate two-arm IPD (and external counts) for the model.

        Parameters
        ----------
        ipd
            Columns ``time`` (months), ``event`` (0/1), ``arm``.
        basis
            The M-spline basis (boundary at or beyond every time the data reach).
        treatment, control
            Arm labels in ``ipd`` and ``external``.
        period_cuts
            HR period cut points (months); empty for proportional excess hazards.
        background
            ``{arm label: BackgroundMortality}`` (objects with ``hazard(t)`` and
            ``cumulative_hazard(t)`` per month), or ``None`` for no background hazard.
        external
            Survivor counts with columns ``start, stop, n, r, arm`` and optionally ``group``
            (a series label: rows of one group share one offset; blank or absent: none).

        Returns
        -------
        FlexibleData
            The aggregates.

        Raises
        ------
        InputError
            Invalid IPD, or an external row whose arm is neither label.
        """
        clean = validate_ipd(ipd, treatment=treatment, control=control)
        arms = (control, treatment)
        edges = np.concatenate([[0.0], np.asarray(period_cuts, dtype=float), [np.inf]])
        time = clean["time"].to_numpy(dtype=float)
        arm = (clean["arm"].to_numpy() == treatment).astype(int)
        event = clean["event"].to_numpy().astype(bool)

        def background_of(label: str, method: str, t: np.ndarray) -> np.ndarray:
            if background is None:
                return np.zeros_like(t, dtype=float)
            return np.asarray(getattr(background[label], method)(t), dtype=float)

        keys = pd.DataFrame({"arm": arm[event], "time": time[event]})
        distinct = keys.value_counts().sort_index().reset_index(name="count")
        ev_time = distinct["time"].to_numpy(dtype=float)
        ev_arm = distinct["arm"].to_numpy(dtype=int)
        ev_background = np.zeros_like(ev_time)
        for a, label in enumerate(arms):
            mask = ev_arm == a
            ev_background[mask] = background_of(label, "hazard", ev_time[mask])
        count = distinct["count"].to_numpy(dtype=float)
        pad = (-len(ev_time)) % _EVENT_BLOCK
        if pad and len(ev_time):
            ev_time, ev_arm, ev_background = (np.concatenate([v, np.repeat(v[:1], pad)])
                                              for v in (ev_time, ev_arm, ev_background))
            count = np.concatenate([count, np.zeros(pad)])
        pieces = _period_pieces(basis, time, edges)
        cumulative = np.stack([pieces[arm == a].sum(axis=0) for a in (0, 1)])
        ext = _external_arrays(external, basis, edges, arms, background_of)
        return cls(basis=basis, period_edges=edges, arms=arms, follow_up=float(time.max()),
                   event_basis=basis.basis(ev_time), event_count=count,
                   event_arm=ev_arm, event_period=np.searchsorted(edges, ev_time, "right") - 1,
                   event_background=ev_background, cumulative=cumulative, **ext)

    @property
    def n_periods(self) -> int:
        """Number of HR periods (1: proportional excess hazards)."""
        return len(self.period_edges) - 1


def _external_arrays(external, basis, edges, arms, background_of) -> dict[str, Any]:
    """The external rows' arrays (see :class:`FlexibleData`); empty arrays without any."""
    n_periods = len(edges) - 1
    if external is None or len(external) == 0:
        return {"external_pieces": np.zeros((0, n_periods, basis.size)),
                "external_background": np.zeros(0), "external_n": np.zeros(0),
                "external_r": np.zeros(0), "external_arm": np.zeros(0, dtype=int),
                "external_group": np.zeros(0, dtype=int), "series_groups": ()}
    frame = external.reset_index(drop=True)
    unknown = sorted(set(frame["arm"]) - set(arms))
    if unknown:
        raise InputError(f"external counts name arm(s) {unknown}; known: {list(arms)}",
                         field="arm")
    start, stop = frame["start"].to_numpy(float), frame["stop"].to_numpy(float)
    arm = frame["arm"].map({label: a for a, label in enumerate(arms)}).to_numpy(int)
    pieces = _period_pieces(basis, stop, edges) - _period_pieces(basis, start, edges)
    back = np.zeros(len(frame))
    for a, label in enumerate(arms):
        mask = arm == a
        back[mask] = (background_of(label, "cumulative_hazard", stop[mask])
                      - background_of(label, "cumulative_hazard", start[mask]))
    labels = (frame["group"].fillna("").astype(str) if "group" in frame
              else pd.Series([""] * len(frame)))
    groups = tuple(sorted({g for g in labels if g}))
    group = np.array([groups.index(g) if g else -1 for g in labels], dtype=int)
    return {"external_pieces": pieces, "external_background": back,
            "external_n": frame["n"].to_numpy(float), "external_r": frame["r"].to_numpy(float),
            "external_arm": arm, "external_group": group, "series_groups": groups}


class FlexibleModel(BayesianModel):
    """The flexible excess-hazard model of the module docstring, as :func:`fit` needs it.

    The structure is the basis size, periods, distinct-event block, external rows, series
    groups (their names label the ``series`` coordinate) and priors; refits to other
    reconstruction members (same structure) do not recompile.

    Parameters
    ----------
    data
        The aggregates (:meth:`FlexibleData.from_ipd`).
    priors
        Priors to change (:func:`flexible_priors`).
    """

    what = "flexible-hazard model"
    gate_vars = ("log_hazard_scale", "log_hr", "smoothness", "weights", "series_sd")

    def __init__(self, data: FlexibleData, priors: Mapping[str, Prior] | None = None) -> None:
        self.flexible = data
        self.model_priors = flexible_priors(priors)

    def structure(self) -> Hashable:
        d = self.flexible
        return (d.basis.size, d.n_periods, d.event_basis.shape[0], d.external_n.size,
                d.series_groups, tuple(self.model_priors.items()))

    def data(self) -> dict[str, np.ndarray]:
        # float design matrices instead of integer indexing: the graph compiles much faster
        d = self.flexible
        period = np.eye(d.n_periods)[d.event_period]
        values = {"event_basis": d.event_basis, "event_count": d.event_count,
                  "event_effect": d.event_arm[:, None] * period,
                  "event_background": d.event_background, "cumulative": d.cumulative,
                  "log_boundary": np.asarray(np.log(d.basis.boundary)),
                  "log_constant_weights": np.log(d.basis.constant_weights)}
        if d.external_n.size:
            values |= {"external_pieces": d.external_pieces,
                       "external_background": d.external_background,
                       "external_n": d.external_n, "external_r": d.external_r,
                       "external_arm": d.external_arm}
            if d.series_groups:
                groups = np.zeros((d.external_n.size, len(d.series_groups)))
                rows = np.flatnonzero(d.external_group >= 0)
                groups[rows, d.external_group[rows]] = 1.0
                values["external_groups"] = groups
        return {name: np.asarray(v, dtype=float) for name, v in values.items()}

    def priors(self) -> dict[str, Prior]:
        return dict(self.model_priors) if self.flexible.series_groups else {
            k: v for k, v in self.model_priors.items() if k != "series_sd"}

    def attrs(self) -> dict[str, Any]:
        d = self.flexible
        return {"knots": list(d.basis.interior_knots), "boundary_knot": d.basis.boundary,
                "arms": list(d.arms), "follow_up": d.follow_up,
                "hr_breakpoints": d.period_edges[1:-1].tolist(),
                "series_groups": list(d.series_groups)}

    def build(self) -> pm.Model:
        d, priors = self.flexible, self.model_priors
        coords = {"basis": list(range(d.basis.size)), "period": list(range(d.n_periods))}
        if d.series_groups:
            coords["series"] = list(d.series_groups)
        with pm.Model(coords=coords) as model:
            data = {name: pm.Data(name, value) for name, value in self.data().items()}
            alpha = priors["log_hazard_scale"].to_pymc("log_hazard_scale")
            beta = (priors["log_hr"].to_pymc("log_hr") if d.n_periods == 1
                    else priors["log_hr"].to_pymc("log_hr", dims="period"))
            beta_p = pt.atleast_1d(beta) * pt.ones(d.n_periods)
            sigma = priors["smoothness"].to_pymc("smoothness")
            z = pm.Normal("spline_z", 0.0, 1.0, dims="basis")
            weights = pm.Deterministic(
                "weights", pt.special.softmax(data["log_constant_weights"] + sigma * z),
                dims="basis")
            if d.series_groups:
                tau = priors["series_sd"].to_pymc("series_sd")
                v = pm.Normal("series_z", 0.0, 1.0, dims="series")
                v_trial = pm.Normal("trial_z", 0.0, 1.0)
                offset = pm.Deterministic("series_offset", tau * (v - v_trial), dims="series")
            level = alpha + data["log_boundary"]
            if d.n_periods > 1:
                pm.Deterministic("hazard_ratio", pt.exp(beta), dims="period")
                pm.Deterministic("log_hr_change", beta_p[-1] - beta_p[0])
            else:
                pm.Deterministic("hazard_ratio", pt.exp(beta))
            # log excess scale per arm and period: (2, P)
            log_scale = level + pt.stack([pt.zeros(d.n_periods), beta_p])
            ev_log_scale = level + pt.dot(data["event_effect"], beta_p)
            excess = pt.exp(ev_log_scale) * pt.dot(data["event_basis"], weights)
            loglik = pt.sum(data["event_count"] * pt.log(data["event_background"] + excess))
            loglik -= pt.sum(pt.exp(log_scale) * pt.dot(data["cumulative"], weights))
            if d.external_n.size:
                ext_log_scale = level + pt.outer(data["external_arm"], beta_p)   # (X, P)
                if d.series_groups:
                    ext_log_scale += pt.dot(data["external_groups"], offset)[:, None]
                ext_excess = pt.sum(pt.exp(ext_log_scale)
                                    * pt.dot(data["external_pieces"], weights), axis=-1)
                total = data["external_background"] + ext_excess
                loglik += pt.sum(-data["external_r"] * total
                                 + (data["external_n"] - data["external_r"])
                                 * pt.log1mexp(-total))
            pm.Potential("likelihood", loglik)
        return model


def excess_cumulative_hazard(draws: xr.Dataset, data: FlexibleData, times: np.ndarray,
                             waning: Waning | None = None, step: float = 0.25) -> xr.DataArray:
    """Posterior excess cumulative hazard per arm on ``times``: dims (chain, draw, arm, time).

    Exact (I-splines) without waning. With waning, the treatment arm's excess hazard after
    ``waning.start`` is the control arm's times :math:`\\exp(v(t)\\beta)` (last period's
    :math:`\\beta`), integrated by the trapezoidal rule on a grid of ``step`` months.

    Parameters
    ----------
    draws
        Posterior (or prior) draws with ``log_hazard_scale``, ``log_hr``, ``weights``.
    data
        The fitted aggregates (basis, periods, arms).
    times
        Months, increasing, from 0.
    waning
        Optional :class:`Waning` of the excess-hazard ratio.
    step
        Integration step (months) after ``waning.start``.

    Returns
    -------
    xarray.DataArray
        Excess cumulative hazard named ``excess_cumulative_hazard``.
    """
    t = np.asarray(times, dtype=float)
    pieces = _period_pieces(data.basis, t, data.period_edges)            # (T, P, K)
    weights = draws["weights"].transpose("chain", "draw", "basis").values
    level = draws["log_hazard_scale"].values + np.log(data.basis.boundary)
    beta = draws["log_hr"].values
    beta = beta[..., None] if beta.ndim == 2 else beta                  # (C, D, P)
    by_period = np.einsum("cdk,tpk->cdtp", weights, pieces)
    control = np.exp(level)[..., None] * by_period.sum(axis=-1)
    treated = np.exp(level)[..., None] * np.einsum("cdtp,cdp->cdt", by_period, np.exp(beta))
    if waning is not None:
        treated = _waned(treated, weights, level, beta[..., -1], data.basis, t, waning, step)
    values = np.stack([control, treated], axis=2)
    return xr.DataArray(values, dims=("chain", "draw", "arm", "time"),
                        coords={"chain": draws["chain"].values, "draw": draws["draw"].values,
                                "arm": list(data.arms), "time": t},
                        name="excess_cumulative_hazard")


def _waned(treated, weights, level, beta_last, basis, times, waning, step):
    """Replace the treatment arm's excess cumulative hazard after ``waning.start``."""
    start = waning.start
    fine = np.union1d(np.arange(start, max(times.max(), start) + step, step), times[times > start])
    fine = np.union1d(fine, [start])
    m = basis.basis(fine)                                             # (F, K)
    control_hazard = np.exp(level)[..., None] * np.einsum("cdk,fk->cdf", weights, m)
    hazard = control_hazard * np.exp(beta_last[..., None] * waning.weight(fine))
    increments = 0.5 * (hazard[..., 1:] + hazard[..., :-1]) * np.diff(fine)
    after = np.concatenate([np.zeros(hazard.shape[:-1] + (1,)),
                            np.cumsum(increments, axis=-1)], axis=-1)
    at_start = np.array([np.interp(start, times, row) for row in treated.reshape(-1, len(times))])
    at_start = at_start.reshape(treated.shape[:-1])
    later = times > start
    index = np.searchsorted(fine, times[later])
    out = treated.copy()
    out[..., later] = at_start[..., None] + after[..., index]
    return out


def excess_hazard(draws: xr.Dataset, data: FlexibleData, times: np.ndarray,
                  waning: Waning | None = None) -> xr.DataArray:
    """Posterior excess hazard per arm on ``times`` (per month): dims (chain, draw, arm, time).

    Parameters
    ----------
    draws
        Posterior (or prior) draws with ``log_hazard_scale``, ``log_hr``, ``weights``.
    data
        The fitted aggregates.
    times
        Months.
    waning
        Optional :class:`Waning` of the excess-hazard ratio.

    Returns
    -------
    xarray.DataArray
        Excess hazard named ``excess_hazard``.
    """
    t = np.asarray(times, dtype=float)
    m = data.basis.basis(t)
    weights = draws["weights"].transpose("chain", "draw", "basis").values
    level = draws["log_hazard_scale"].values + np.log(data.basis.boundary)
    beta = draws["log_hr"].values
    beta = beta[..., None] if beta.ndim == 2 else beta
    period = np.searchsorted(data.period_edges, t, side="right") - 1
    log_ratio = beta[..., period]                                      # (C, D, T)
    if waning is not None:
        log_ratio = np.where(t > waning.start, beta[..., -1:] * waning.weight(t), log_ratio)
    control = np.exp(level)[..., None] * np.einsum("cdk,tk->cdt", weights, m)
    values = np.stack([control, control * np.exp(log_ratio)], axis=2)
    return xr.DataArray(values, dims=("chain", "draw", "arm", "time"),
                        coords={"chain": draws["chain"].values, "draw": draws["draw"].values,
                                "arm": list(data.arms), "time": t}, name="excess_hazard")


@dataclass
class FlexibleFit(Fit):
    """A fitted :class:`FlexibleModel` with its survival, hazards and effect quantities."""

    model: FlexibleModel
    background: Mapping[str, Any] | None = None

    @property
    def data(self) -> FlexibleData:
        """The fitted aggregates."""
        return self.model.flexible

    def background_cumulative(self, times: np.ndarray) -> xr.DataArray:
        """Background cumulative hazard per arm on ``times`` (zeros without a life table).

        Parameters
        ----------
        times
            Months.

        Returns
        -------
        xarray.DataArray
            Dims (arm, time).
        """
        return self._background("cumulative_hazard", times)

    def background_hazard(self, times: np.ndarray) -> xr.DataArray:
        """Background hazard per arm on ``times`` (per month; zeros without a life table).

        Parameters
        ----------
        times
            Months.

        Returns
        -------
        xarray.DataArray
            Dims (arm, time).
        """
        return self._background("hazard", times)

    def _background(self, method: str, times: np.ndarray) -> xr.DataArray:
        t = np.asarray(times, dtype=float)
        rows = [np.zeros_like(t) if self.background is None
                else np.asarray(getattr(self.background[arm], method)(t), dtype=float)
                for arm in self.data.arms]
        return xr.DataArray(np.stack(rows), dims=("arm", "time"),
                            coords={"arm": list(self.data.arms), "time": t})

    def draws(self, per_chain: int | None = None) -> xr.Dataset:
        """The posterior, or ``per_chain`` evenly spaced draws of each chain.

        Parameters
        ----------
        per_chain
            Draws kept per chain (positions ``round(linspace(0, D - 1, per_chain))``);
            ``None`` or at least the chain length: all.

        Returns
        -------
        xarray.Dataset
            The (thinned) posterior.
        """
        n = self.posterior.sizes["draw"]
        if per_chain is None or per_chain >= n:
            return self.posterior
        keep = np.unique(np.round(np.linspace(0, n - 1, per_chain)).astype(int))
        return self.posterior.isel(draw=keep)

    def survival(self, times: Sequence[float] | np.ndarray,
                 waning: Waning | None = None, per_chain: int | None = None) -> xr.DataArray:
        """Posterior all-cause S(t) per arm: dims (chain, draw, arm, time).

        Parameters
        ----------
        times
            Months, increasing from 0.
        waning
            Optional :class:`Waning` of the excess-hazard ratio.
        per_chain
            Evenly spaced draws kept per chain (:meth:`draws`); ``None``: all.

        Returns
        -------
        xarray.DataArray
            :math:`S^*_a(t) \\exp(-H^E_a(t))`, named ``survival``.
        """
        t = np.asarray(times, dtype=float)
        cumulative = (excess_cumulative_hazard(self.draws(per_chain), self.data, t, waning)
                      + self.background_cumulative(t))
        return np.exp(-cumulative).rename("survival")

    def hazard(self, times: Sequence[float] | np.ndarray,
               waning: Waning | None = None, per_chain: int | None = None) -> xr.DataArray:
        """Posterior all-cause h(t) per arm (per month): dims (chain, draw, arm, time).

        Parameters
        ----------
        times
            Months.
        waning
            Optional :class:`Waning` of the excess-hazard ratio.
        per_chain
            Evenly spaced draws kept per chain (:meth:`draws`); ``None``: all.

        Returns
        -------
        xarray.DataArray
            Background plus excess hazard, named ``hazard``.
        """
        t = np.asarray(times, dtype=float)
        return (excess_hazard(self.draws(per_chain), self.data, t, waning)
                + self.background_hazard(t)).rename("hazard")

    def effect_draws(self) -> list[tuple[str, xr.DataArray]]:
        """The treatment effect: ``hazard_ratio`` (no background) or ``excess_hazard_ratio``,
        one per period (``..._<lo>-<hi>m``) in the non-PH variant.

        Returns
        -------
        list[tuple[str, xarray.DataArray]]
            ``(quantity, draws)``.
        """
        hr = self.posterior["hazard_ratio"]
        name = (Quantity.HAZARD_RATIO if self.background is None
                else Quantity.EXCESS_HAZARD_RATIO).value
        if self.data.n_periods == 1:
            return [(name, hr)]
        edges = self.data.period_edges
        return [(period_hazard_ratio(edges[p], edges[p + 1]).replace(
                    Quantity.HAZARD_RATIO.value, name), hr.isel(period=p))
                for p in range(hr.sizes["period"])]


def flexible_basis(ipds: Sequence[pd.DataFrame], external: pd.DataFrame | None, *,
                   n_interior: int = N_INTERIOR_KNOTS) -> MSplineBasis:
    """The basis every data set of an analysis is fitted with (knots from the first data set).

    Parameters
    ----------
    ipds
        The trial data sets (reconstruction members); the first places the knots.
    external
        External survivor counts (``stop`` column), or ``None``.
    n_interior
        Knots at event-time quantiles.

    Returns
    -------
    MSplineBasis
        Boundary at the last time any data reach; the end of follow-up is a knot when
        external data reach beyond it.
    """
    follow_up = max(float(ipd["time"].max()) for ipd in ipds)
    reach = follow_up
    if external is not None and len(external):
        reach = max(reach, float(external["stop"].max()))
    first = ipds[0]
    events = first.loc[first["event"] == 1, "time"].to_numpy(dtype=float)
    knots = default_knots(events, follow_up, n_interior=n_interior, boundary=reach)
    return MSplineBasis(knots, reach)


def fit_flexible(
    ipd: pd.DataFrame,
    *,
    settings: SamplerSettings,
    basis: MSplineBasis | None = None,
    treatment: str = TREATMENT,
    control: str = CONTROL,
    priors: Mapping[str, Prior] | None = None,
    period_cuts: Sequence[float] = (),
    background: Mapping[str, Any] | None = None,
    external: pd.DataFrame | None = None,
    check: Literal["record", "warn", "raise"] = "record",
) -> FlexibleFit:
    """Fit the flexible excess-hazard model to two-arm IPD (with optional external data).

    Parameters
    ----------
    ipd
        Columns ``time`` (months), ``event`` (0/1), ``arm``.
    settings
        Sampler settings.
    basis
        The M-spline basis (default: :func:`flexible_basis` of ``ipd`` and ``external``).
    treatment, control
        Arm labels.
    priors
        Priors to change (:func:`flexible_priors`).
    period_cuts
        HR period cut points (months) for a non-PH excess-hazard ratio; empty: PH.
    background
        ``{arm: BackgroundMortality}`` or ``None`` (no general-population floor).
    external
        External survivor counts (:class:`FlexibleData`), or ``None``.
    check
        Convergence gate handling (:func:`prrt_bayes.core.fit.fit`).

    Returns
    -------
    FlexibleFit
        The posterior, diagnostics and the survival / hazard accessors.
    """
    basis = basis or flexible_basis([ipd], external)
    data = FlexibleData.from_ipd(ipd, basis, treatment=treatment, control=control,
                                 period_cuts=period_cuts, background=background,
                                 external=external)
    model = FlexibleModel(data, priors)
    result = fit(model, settings, check=check)
    return FlexibleFit(model=model, tree=result.tree, diagnostics=result.diagnostics,
                       settings=result.settings, background=background)
