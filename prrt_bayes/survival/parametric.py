r"""Bayesian parametric survival models with right censoring, one per family and structure.

Model names say the family and how arms differ:

- ``<family>_separate`` — every parameter separate per arm (any number of arms, also one);
- ``exponential_ph``, ``weibull_ph``, ``gompertz_ph`` — proportional hazards: one shared shape,
  the treated arm's hazard is the control hazard times the hazard ratio HR;
- ``loglogistic_aft``, ``lognormal_aft``, ``gengamma_aft`` — accelerated failure time: shared
  shape parameters, the treated arm's survival times are the control times stretched by the
  time ratio φ (φ > 1: longer survival), i.e. :math:`S_1(t) = S_0(t/φ)`.

Families and parameterisations are in :mod:`prrt_bayes.survival.distributions` (flexsurv's;
generalised gamma is Prentice's (μ, σ, Q), flexsurv ``gengamma``).

Likelihood (every model). Patient :math:`i` in arm :math:`a_i` with time :math:`t_i` and event
flag :math:`d_i` (1 = event, 0 = right-censored) contributes

.. math:: \log L_i = d_i \log h(t_i \mid θ_{a_i}) + \log S(t_i \mid θ_{a_i}),

the log density for an event and the log survival for a censored time (non-informative
censoring). It is one observed PyMC variable ``time`` (a ``CustomDist`` with this log-density).
After sampling, the pointwise values are computed from the draws by the same formulas in NumPy
(nutpie does not store them; no extra compilation) and stored for PSIS-LOO in the group
``log_likelihood``, variable ``time``.

Priors. Independent priors on the unconstrained parameters (log of positive parameters;
``shape`` of the Gompertz, ``meanlog``/``mu`` and ``Q`` as they are; ``log_hr`` and
``log_time_ratio`` for the treatment effect). :func:`default_priors` gives weakly informative
priors for time in **months** (documented there); :func:`vague_priors` gives Normal(0, 10) on
every unconstrained parameter, for comparison with maximum likelihood.

Draws. :func:`arm_parameters`, :func:`survival_draws`, :func:`hazard_draws`,
:func:`quantile_draws` and :func:`pointwise_log_likelihood` read the posterior tree of a fit
(``ParametricFit.tree``): :func:`fit` writes the model name and arms into
``tree.posterior.attrs``, and the curves have dims (chain, draw, arm, time).
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.fit import BayesianModel, Fit
from prrt_bayes.core.fit import fit as fit_model
from prrt_bayes.core.priors import Normal, Prior
from prrt_bayes.core.sampling import DEFAULT_SEED, SamplerSettings
from prrt_bayes.survival.distributions import FAMILIES, NP, PT, Family
from prrt_bayes.survival.intervals import TREATMENT, validate_ipd
from prrt_bayes.survival.spec import DEFAULT_MODELS

Structure = Literal["separate", "ph", "aft"]
SINGLE_ARM_LABEL = "all"
"""Arm label used when the IPD has no ``arm`` column."""


@dataclass(frozen=True)
class ModelSpec:
    """Which family, and how the arms relate (separate parameters or a treatment effect)."""

    family: Family
    structure: Structure

    @property
    def name(self) -> str:
        """Model name, e.g. ``"weibull_ph"``."""
        return f"{self.family.name}_{self.structure}"

    @property
    def effect_name(self) -> str | None:
        """Name of the log treatment effect: ``log_hr`` (PH), ``log_time_ratio`` (AFT), None."""
        return {"ph": "log_hr", "aft": "log_time_ratio"}.get(self.structure)

    @property
    def free_names(self) -> tuple[str, ...]:
        """Names of the sampled (unconstrained) parameters, as keyed in the priors."""
        names = tuple(p.unconstrained for p in self.family.parameters)
        return names + ((self.effect_name,) if self.effect_name else ())


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for fam in FAMILIES.values()
    for spec in (ModelSpec(fam, fam.effect), ModelSpec(fam, "separate"))
}
"""All model specifications by name (``weibull_ph``, ``weibull_separate``, ...)."""



def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``; unknown name -> InputError listing the known.

    Parameters
    ----------
    name
        Model name, e.g. ``"weibull_ph"`` (a key of :data:`MODELS`).

    Returns
    -------
    ModelSpec
        The shared (frozen) specification stored in :data:`MODELS`.

    Raises
    ------
    InputError
        When ``name`` is not a key of :data:`MODELS`.
    """
    try:
        return MODELS[name]
    except KeyError:
        raise InputError(f"unknown parametric model {name!r}; known: {sorted(MODELS)}") from None


# Weakly informative priors for time in months. Centres: scale / median around 12-20 months;
# spreads allow medians from well under a month to several hundred months (checked by
# prior_predictive_check). Shapes: log shape Normal(0, 0.75) allows 0.23-4.3 (95%).
_DEFAULT_PRIORS: dict[str, Prior] = {
    "log_rate": Normal(-3.0, 1.5),
    "log_shape": Normal(0.0, 0.75),
    "log_scale": Normal(3.0, 1.5),
    "meanlog": Normal(2.5, 1.5),
    "log_sdlog": Normal(0.0, 0.75),
    "mu": Normal(2.5, 1.5),
    "log_sigma": Normal(0.0, 0.75),
    "Q": Normal(0.0, 1.0),
    "log_hr": Normal(0.0, 1.0),
    "log_time_ratio": Normal(0.0, 1.0),
}
_GOMPERTZ_DEFAULTS: dict[str, Prior] = {"shape": Normal(0.0, 0.02), "log_rate": Normal(-3.0, 1.5)}


def default_priors(name: str) -> dict[str, Prior]:
    r"""Weakly informative priors for model ``name``, time in months.

    ========================== ================= =========================================
    parameter                  prior             meaning
    ========================== ================= =========================================
    log_rate (exponential)     Normal(-3, 1.5)   rate ≈ 0.05/month, median ≈ 14 months
    log_rate (Gompertz)        Normal(-3, 1.5)   hazard at t = 0
    shape (Gompertz)           Normal(0, 0.02)   per month: hazard ×1.27 per year at 1 sd
    log_shape (Weibull, llogis) Normal(0, 0.75)   shape 0.23-4.3 (95%)
    log_scale (Weibull, llogis) Normal(3, 1.5)    scale ≈ 20 months
    meanlog / mu               Normal(2.5, 1.5)  median ≈ 12 months
    log_sdlog / log_sigma      Normal(0, 0.75)
    Q (gengamma)               Normal(0, 1)      covers Weibull (1), log-normal (0), gamma
    log_hr, log_time_ratio     Normal(0, 1)      effect 0.14-7.1 (95%)
    ========================== ================= =========================================

    Parameters
    ----------
    name
        Model name, e.g. ``"weibull_ph"`` (a key of :data:`MODELS`).

    Returns
    -------
    dict[str, Prior]
        A new dict ``{unconstrained parameter name: prior}``, in the order of
        :attr:`ModelSpec.free_names`.

    Raises
    ------
    InputError
        Unknown model name.
    """
    spec = get_spec(name)
    table = _DEFAULT_PRIORS | (_GOMPERTZ_DEFAULTS if spec.family.name == "gompertz" else {})
    return {n: table[n] for n in spec.free_names}


def vague_priors(name: str, sigma: float = 10.0) -> dict[str, Prior]:
    """Normal(0, ``sigma``) on every unconstrained parameter of model ``name``.

    Parameters
    ----------
    name
        Model name, e.g. ``"weibull_ph"`` (a key of :data:`MODELS`).
    sigma
        Prior standard deviation on the unconstrained scale (the log scale for positive
        parameters).

    Returns
    -------
    dict[str, Prior]
        A new dict ``{unconstrained parameter name: Normal(0, sigma)}``, in the order of
        :attr:`ModelSpec.free_names`.

    Raises
    ------
    InputError
        Unknown model name.
    """
    return {n: Normal(0.0, sigma) for n in get_spec(name).free_names}


@dataclass(frozen=True)
class SurvivalData:
    """Validated IPD as arrays: times, event flags, arm index into ``arms``."""

    time: np.ndarray
    event: np.ndarray
    arm_idx: np.ndarray
    arms: tuple[str, ...]
    treatment: str | None = None

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.time.size)


def prepare_ipd(
    ipd: pd.DataFrame, *, treatment: str | None = TREATMENT, require_two_arms: bool = False
) -> SurvivalData:
    """Validate IPD (``time``, ``event``, optional ``arm``) and convert it to arrays.

    Parameters
    ----------
    ipd
        One row per patient: ``time`` (>= 0, months), ``event`` (0/1), optional ``arm``.
    treatment
        Label of the treated arm. With two arms the order is (control, treatment); when the
        label is absent from the data and two arms are required -> InputError.
    require_two_arms
        True for models with a treatment effect.

    Returns
    -------
    SurvivalData
        Arrays; ``arms`` is ``("all",)`` when there is no ``arm`` column.

    Raises
    ------
    InputError
        Missing columns, missing/non-finite/negative times, event flags other than 0/1, an event
        at time 0 (zero likelihood under a continuous model), an arm without events, or the wrong
        number of arms.
    """
    clean = validate_ipd(ipd, treatment=None)
    time = clean["time"].to_numpy(dtype=float)
    event = clean["event"].to_numpy(dtype=np.int64)
    bad = np.flatnonzero((event == 1) & (time == 0))
    if bad.size:
        raise InputError(
            "event at time 0 has zero likelihood under a continuous survival model",
            row=int(bad[0]),
            field="time",
        )
    if "arm" in ipd.columns:
        missing = np.flatnonzero(ipd["arm"].isna().to_numpy())
        if missing.size:
            raise InputError("arm label is missing", row=int(missing[0]), field="arm")
        labels = ipd["arm"].astype(str).to_numpy()
        found = sorted(set(labels))
        if treatment is not None and treatment in found and len(found) == 2:
            found.remove(treatment)
            found.append(treatment)  # (control, treatment)
        arms = tuple(found)
    else:
        labels = np.full(time.size, SINGLE_ARM_LABEL)
        arms = (SINGLE_ARM_LABEL,)
    if require_two_arms:
        if len(arms) != 2:
            raise InputError(
                f"a treatment-effect model needs exactly 2 arms, found {len(arms)}: {list(arms)}",
                field="arm",
            )
        if treatment not in arms:
            raise InputError(
                f"treatment arm {treatment!r} not found in arms {list(arms)}", field="arm"
            )
    arm_idx = np.array([arms.index(lab) for lab in labels], dtype=np.int64)
    for k, arm in enumerate(arms):
        if not event[arm_idx == k].any():
            raise InputError(f"arm {arm!r} has no events: its survival curve is not estimable",
                             field="event")
    return SurvivalData(time, event, arm_idx, arms, treatment if treatment in arms else None)


def _natural(spec: ModelSpec, free: Mapping, exp) -> dict:
    """Natural per-arm parameters from unconstrained ones (PyTensor or NumPy via ``exp``).

    Separate models: each parameter already has an arm axis (last). Effect models: returns
    parameters stacked over (control, treated) on a new last axis.
    """
    fam = spec.family
    base = {
        p.name: exp(free[p.unconstrained]) if p.transform == "log" else free[p.unconstrained]
        for p in fam.parameters
    }
    if spec.structure == "separate":
        return base
    treated = fam.treated(free[spec.effect_name], **base)
    return {k: (base[k], treated[k]) for k in base}


def _logp(family: Family, names: tuple[str, ...]):
    """CustomDist log-density: event * log h(t) + log S(t), safe at t = 0 (censored)."""

    def logp(value, event, *params):
        return family.log_likelihood(PT, value, event, **dict(zip(names, params, strict=True)))

    return logp


def build_model(
    name: str, data: SurvivalData, priors: Mapping[str, Prior] | None = None
) -> pm.Model:
    r"""Build the PyMC model ``name`` on ``data`` (held in ``pm.Data``: refit with set_data).

    .. math::

        \log p(t, d \mid θ) = \sum_i d_i \log h(t_i \mid θ_{a_i}) + \log S(t_i \mid θ_{a_i}),
        \qquad u_j \sim \text{prior}_j \text{ independently},

    with :math:`u` the unconstrained parameters (:attr:`ModelSpec.free_names`). Separate models:
    one :math:`u` vector per arm. PH models: :math:`θ_{treated}` is :math:`θ_{control}` with the
    hazard multiplied by :math:`e^{log\_hr}`; AFT models: times stretched by
    :math:`e^{log\_time\_ratio}` (see each family's ``treated``).

    Parameters
    ----------
    name
        Model name (see :data:`MODELS`).
    data
        Output of :func:`prepare_ipd`.
    priors
        Priors keyed by unconstrained parameter name; missing ones take :func:`default_priors`.

    Returns
    -------
    pymc.Model
        Data containers ``t_obs``, ``event``, ``arm_idx``; free variables named as the priors;
        ``hazard_ratio`` (PH) or ``time_ratio`` (AFT) as deterministics; observed ``time``.
    """
    spec = get_spec(name)
    if spec.structure != "separate" and len(data.arms) != 2:
        raise InputError(f"{name} needs exactly 2 arms, found {list(data.arms)}", field="arm")
    full = _resolve_priors(spec, priors)
    fam = spec.family
    with pm.Model(coords={"arm": list(data.arms)}) as model:
        t = pm.Data("t_obs", data.time)
        d = pm.Data("event", data.event)
        a = pm.Data("arm_idx", data.arm_idx)
        dims = "arm" if spec.structure == "separate" else None
        free = {n: full[n].to_pymc(n, dims=dims) for n in spec.free_names}
        natural = _natural(spec, free, pt.exp)
        if spec.structure == "separate":
            per_obs = [natural[p][a] for p in fam.parameter_names]
        else:
            per_obs = [pt.stack(natural[p])[a] for p in fam.parameter_names]
            ratio = "hazard_ratio" if spec.structure == "ph" else "time_ratio"
            pm.Deterministic(ratio, pt.exp(free[spec.effect_name]))
        pm.CustomDist(
            "time", d, *per_obs, logp=_logp(fam, fam.parameter_names), observed=t
        )
    return model


def _resolve_priors(spec: ModelSpec, priors: Mapping[str, Prior] | None) -> dict[str, Prior]:
    """Defaults overridden by ``priors``; unknown names -> InputError."""
    priors = dict(priors or {})
    unknown = set(priors) - set(spec.free_names)
    if unknown:
        raise InputError(
            f"{spec.name}: priors given for unknown parameters {sorted(unknown)}; "
            f"parameters are {list(spec.free_names)}"
        )
    return default_priors(spec.name) | priors


def arm_parameters(tree: xr.DataTree) -> dict[str, xr.DataArray]:
    """Natural parameters per arm from a fitted posterior, dims (chain, draw, arm).

    Parameters
    ----------
    tree
        Posterior tree of a fit (module docstring, *Draws*).

    Returns
    -------
    dict[str, xarray.DataArray]
        ``{natural parameter name: draws}`` (e.g. ``shape``, ``scale``), new arrays with dims
        (chain, draw, arm) in the order of the fit's arms (control, treatment for effect
        models). Parameters shared by the arms are repeated along ``arm``.
    """
    post = tree.posterior.to_dataset()
    spec = get_spec(post.attrs["model"])
    arms = json.loads(post.attrs["arms"])
    free = {n: post[n].values for n in spec.free_names}
    if spec.structure != "separate":
        free = {n: v[..., None] for n, v in free.items()}  # broadcast against the arm axis
    natural = _natural(spec, free, np.exp)
    out = {}
    for p, value in natural.items():
        arr = np.concatenate(value, axis=-1) if isinstance(value, tuple) else value
        arr = np.broadcast_to(arr, (*arr.shape[:2], len(arms)))
        out[p] = xr.DataArray(
            np.array(arr),
            dims=("chain", "draw", "arm"),
            coords={"chain": post.chain, "draw": post.draw, "arm": arms},
        )
    return out


def _family(tree: xr.DataTree) -> Family:
    return get_spec(tree.posterior.attrs["model"]).family


def _curve(tree: xr.DataTree, times: Sequence[float] | np.ndarray, what: str) -> xr.DataArray:
    times = np.asarray(times, dtype=float)
    params = {k: v.values[..., None] for k, v in arm_parameters(tree).items()}
    fam = _family(tree)
    values = getattr(fam, what)(times, **params)
    post = tree.posterior
    arms = json.loads(post.attrs["arms"])
    return xr.DataArray(
        np.broadcast_to(values, (post.sizes["chain"], post.sizes["draw"], len(arms),
                                 times.size)).copy(),
        dims=("chain", "draw", "arm", "time"),
        coords={"chain": post.chain, "draw": post.draw, "arm": arms, "time": times},
        name=what,
    )


def survival_draws(tree: xr.DataTree, times: Sequence[float] | np.ndarray) -> xr.DataArray:
    """S(t) per posterior draw, arm and time: dims (chain, draw, arm, time).

    Parameters
    ----------
    tree
        Posterior tree of a fit (module docstring, *Draws*).
    times
        Times (months), 1-D, >= 0 (t = 0 gives S = 1).

    Returns
    -------
    xarray.DataArray
        A new array named ``survival`` of probabilities, coordinate ``time`` = ``times``.
    """
    return _curve(tree, times, "survival")


def hazard_draws(tree: xr.DataTree, times: Sequence[float] | np.ndarray) -> xr.DataArray:
    """h(t) per posterior draw, arm and time (t > 0): dims (chain, draw, arm, time).

    Parameters
    ----------
    tree
        Posterior tree of a fit (module docstring, *Draws*).
    times
        Times (months), 1-D, > 0 (t = 0 can give ``inf`` or ``nan``).

    Returns
    -------
    xarray.DataArray
        A new array named ``hazard`` (events per month), coordinate ``time`` = ``times``.
    """
    return _curve(tree, times, "hazard")


def quantile_draws(tree: xr.DataTree, survival: float = 0.5) -> xr.DataArray:
    """Time at which S(t) = ``survival`` per draw and arm (0.5: median); inf if never reached.

    Parameters
    ----------
    tree
        Posterior tree of a fit (module docstring, *Draws*).
    survival
        Survival probability in (0, 1).

    Returns
    -------
    xarray.DataArray
        Times (months), dims (chain, draw, arm); ``inf`` where the curve levels off above
        ``survival`` (Gompertz with a negative shape).
    """
    params = {k: v.values for k, v in arm_parameters(tree).items()}
    values = _family(tree).quantile(survival, **params)
    post = tree.posterior
    return xr.DataArray(
        values,
        dims=("chain", "draw", "arm"),
        coords={"chain": post.chain, "draw": post.draw, "arm": json.loads(post.attrs["arms"])},
    )


def pointwise_log_likelihood(tree: xr.DataTree, data: SurvivalData) -> xr.DataArray:
    """log L_i per draw and patient (NumPy, the model's formulas): dims (chain, draw, time_dim_0).

    Parameters
    ----------
    tree
        Posterior tree of a fit (module docstring, *Draws*).
    data
        The data the model was fitted to (:func:`prepare_ipd`); its ``arm_idx`` indexes the
        fit's arms.

    Returns
    -------
    xarray.DataArray
        A new array named ``time`` (the observed variable), log scale: the log density for an
        event, the log survival for a censored time. The patient dimension is ``time_dim_0``
        (no coordinate), in the order of ``data``; :func:`fit` stores it for PSIS-LOO.
    """
    fam = _family(tree)
    params = {k: v.values[..., data.arm_idx] for k, v in arm_parameters(tree).items()}
    with np.errstate(all="ignore"):
        values = fam.log_likelihood(NP, data.time, data.event, **params)
    return xr.DataArray(
        values,
        dims=("chain", "draw", "time_dim_0"),
        coords={"chain": tree.posterior.chain, "draw": tree.posterior.draw},
        name="time",
    )


class ParametricModel(BayesianModel):
    """A parametric survival model (family and arm structure) with its data and priors.

    Holds what :func:`prrt_bayes.core.fit.fit` needs; the graph is :func:`build_model` on
    ``pm.Data`` ``t_obs``, ``event`` and ``arm_idx``. The recorded priors are the full priors
    (defaults overridden by the caller's); the attrs ``model``, ``arms`` (JSON list) and
    ``treatment`` are read back by :func:`arm_parameters`.

    Parameters
    ----------
    name
        Model name, e.g. ``"weibull_ph"`` (see :data:`MODELS`).
    data
        Prepared data (:func:`prepare_ipd`); effect models need exactly two arms.
    priors
        Overrides of :func:`default_priors`, keyed by unconstrained parameter name.

    Raises
    ------
    InputError
        Unknown model name, a prior for an unknown parameter, or the wrong number of arms.
    """

    what = "parametric model"
    gate_vars = ("log_hr", "log_time_ratio", "log_rate", "log_shape", "log_scale", "meanlog",
                 "log_sdlog", "mu", "log_sigma", "Q", "shape")

    def __init__(self, name: str, data: SurvivalData,
                 priors: Mapping[str, Prior] | None = None) -> None:
        self.spec = get_spec(name)
        if self.spec.structure != "separate" and len(data.arms) != 2:
            raise InputError(f"{name} needs exactly 2 arms, found {list(data.arms)}", field="arm")
        self.name = name
        self.survival_data = data
        self.full_priors = _resolve_priors(self.spec, priors)

    def structure(self) -> Hashable:
        return (self.name, self.survival_data.arms, self.survival_data.n,
                tuple(self.full_priors.items()))

    def build(self) -> pm.Model:
        return build_model(self.name, self.survival_data, self.full_priors)

    def data(self) -> dict[str, np.ndarray]:
        d = self.survival_data
        return {"t_obs": d.time, "event": d.event, "arm_idx": d.arm_idx}

    def priors(self) -> dict[str, Prior]:
        return dict(self.full_priors)

    def attrs(self) -> dict[str, Any]:
        d = self.survival_data
        return {"model": self.name, "arms": json.dumps(list(d.arms)),
                "treatment": str(d.treatment)}


@dataclass
class ParametricFit(Fit):
    """A fitted parametric model: a :class:`~prrt_bayes.core.fit.Fit` of a
    :class:`ParametricModel`, its tree with the pointwise log-likelihood for LOO."""

    model: ParametricModel

    @property
    def name(self) -> str:
        """Model name, e.g. ``"weibull_ph"``."""
        return self.model.name

    @property
    def data(self) -> SurvivalData:
        """The data fitted."""
        return self.model.survival_data

    @property
    def priors(self) -> dict[str, Prior]:
        """The full priors, ``{unconstrained parameter: Prior}``."""
        return self.model.priors()

    def survival(self, times) -> xr.DataArray:
        """S(t) draws, dims (chain, draw, arm, time).

        Parameters
        ----------
        times
            Times (months), 1-D, >= 0.

        Returns
        -------
        xarray.DataArray
            Survival probabilities, named ``survival`` (see :func:`survival_draws`).
        """
        return survival_draws(self.tree, times)

    def hazard(self, times) -> xr.DataArray:
        """h(t) draws, dims (chain, draw, arm, time).

        Parameters
        ----------
        times
            Times (months), 1-D, > 0.

        Returns
        -------
        xarray.DataArray
            Hazards (events per month), named ``hazard`` (see :func:`hazard_draws`).
        """
        return hazard_draws(self.tree, times)

    def median(self) -> xr.DataArray:
        """Median survival draws, dims (chain, draw, arm).

        Returns
        -------
        xarray.DataArray
            Median survival (months); ``inf`` where S(t) never falls to 0.5.
        """
        return quantile_draws(self.tree, 0.5)

    def parameters(self) -> dict[str, xr.DataArray]:
        """Natural parameters per arm, dims (chain, draw, arm).

        Returns
        -------
        dict[str, xarray.DataArray]
            ``{natural parameter name: draws}`` (see :func:`arm_parameters`).
        """
        return arm_parameters(self.tree)


def fit(
    name: str,
    ipd: pd.DataFrame | SurvivalData,
    *,
    settings: SamplerSettings,
    treatment: str | None = TREATMENT,
    priors: Mapping[str, Prior] | None = None,
) -> ParametricFit:
    """Fit model ``name`` to IPD by NUTS; the posterior carries its model, arms and priors.

    The graph is cached per (name, arms, number of patients, priors) by
    :func:`prrt_bayes.core.fit.fit`: refitting to new data of the same size swaps the
    ``pm.Data`` values and reuses the compiled sampler (simulation studies). The convergence
    verdict on the sampled parameters is recorded in ``diagnostics``, not enforced.

    Parameters
    ----------
    name
        Model name, e.g. ``"weibull_ph"`` (see :data:`MODELS`).
    ipd
        IPD DataFrame (validated by :func:`prepare_ipd`) or prepared :class:`SurvivalData`.
    settings
        Sampler settings (draws, tuning, chains, target acceptance, seed).
    treatment
        Label of the treated arm (treatment-effect models); ignored when ``ipd`` is
        :class:`SurvivalData`.
    priors
        Overrides of :func:`default_priors`, keyed by unconstrained parameter name.

    Returns
    -------
    ParametricFit
        With ``tree`` holding ``posterior`` (attrs ``model``, ``arms``, ``treatment``,
        ``priors``), ``sample_stats`` and ``log_likelihood`` (variable ``time``).
    """
    spec = get_spec(name)
    data = ipd if isinstance(ipd, SurvivalData) else prepare_ipd(
        ipd, treatment=treatment, require_two_arms=spec.structure != "separate"
    )
    model = ParametricModel(name, data, priors)
    result = fit_model(model, settings)
    tree = result.tree
    tree["log_likelihood"] = xr.DataTree(
        xr.Dataset({"time": pointwise_log_likelihood(tree, data)})
    )
    return ParametricFit(model=model, tree=tree, diagnostics=result.diagnostics,
                         settings=result.settings)


@dataclass
class FitFailure:
    """A candidate model that could not be fitted, with the reason."""

    name: str
    error: str
    traceback: str = ""


def fit_all(
    ipd: pd.DataFrame,
    models: Sequence[str] = DEFAULT_MODELS,
    *,
    settings: SamplerSettings,
    treatment: str | None = TREATMENT,
    priors: Mapping[str, Mapping[str, Prior]] | None = None,
) -> dict[str, ParametricFit | FitFailure]:
    """Fit every candidate model; a model that fails is recorded, the others still run.

    Parameters
    ----------
    ipd
        IPD DataFrame. Bad input raises :class:`InputError` before any fit (it would fail all).
    models
        Model names (default :data:`DEFAULT_MODELS`); unknown names -> InputError.
    settings
        Sampler settings of every fit (the same seed for each model).
    treatment
        Label of the treated arm.
    priors
        Optional ``{model name: {parameter: prior}}`` overrides.

    Returns
    -------
    dict
        ``{name: ParametricFit}`` for successes and ``{name: FitFailure}`` (with the exception
        text) for failures, in the order of ``models``.
    """
    specs = [get_spec(m) for m in models]
    needs_two = any(s.structure != "separate" for s in specs)
    data = prepare_ipd(ipd, treatment=treatment, require_two_arms=needs_two)
    priors = priors or {}
    results: dict[str, ParametricFit | FitFailure] = {}
    for spec in specs:
        try:
            results[spec.name] = fit(spec.name, data, settings=settings,
                                     priors=priors.get(spec.name))
        except Exception as err:  # noqa: BLE001 - recorded, reported by the caller
            results[spec.name] = FitFailure(
                spec.name, f"{type(err).__name__}: {err}", traceback.format_exc()
            )
    return results


@dataclass(frozen=True)
class PriorCheck:
    """Prior predictive median survival of a model: is it plausible for the time unit?"""

    model: str
    lower: float
    upper: float
    prob_in_range: dict[str, float]
    median_quantiles: dict[str, tuple[float, float, float]]
    min_prob: float

    @property
    def passed(self) -> bool:
        """True when every arm's prior median lies in [lower, upper] with prob >= min_prob."""
        return all(p >= self.min_prob for p in self.prob_in_range.values())


def prior_predictive_check(
    name: str,
    priors: Mapping[str, Prior] | None = None,
    *,
    lower: float = 0.1,
    upper: float = 1000.0,
    min_prob: float = 0.9,
    draws: int = 4000,
    seed: int = DEFAULT_SEED,
) -> PriorCheck:
    """Prior predictive median survival of model ``name``, checked against a plausible range.

    Draws the parameters from their priors, computes each arm's median survival (closed form
    per family) and the probability that it lies in [``lower``, ``upper``] (default 0.1-1000
    months: anything outside is implausible for a cancer population followed in months).

    Parameters
    ----------
    name, priors
        Model name and prior overrides (as for :func:`build_model`).
    lower, upper
        Plausible range of median survival, in the data's time unit.
    min_prob
        Probability the check requires per arm.
    draws, seed
        Number of prior draws and seed.

    Returns
    -------
    PriorCheck
        Per arm (``control``/``treated`` for effect models, ``arm`` for separate ones): the
        probability and the 2.5%, 50%, 97.5% prior quantiles of the median.
    """
    spec = get_spec(name)
    full = _resolve_priors(spec, priors)
    with pm.Model():
        rvs = [full[n].to_pymc(n) for n in spec.free_names]
    values = pm.draw(rvs, draws=draws, random_seed=seed, mode="FAST_COMPILE")  # no compile wait
    free = {n: np.asarray(v, dtype=float)[:, None] for n, v in zip(spec.free_names, values,
                                                                   strict=True)}
    with np.errstate(all="ignore"):  # vague priors overflow: those medians are out of range
        natural = _natural(spec, free, np.exp)
        stacked = {k: np.concatenate(v, axis=-1) if isinstance(v, tuple) else v
                   for k, v in natural.items()}
        medians = spec.family.quantile(0.5, **stacked)
    roles = ("arm",) if spec.structure == "separate" else ("control", "treated")
    prob, quant = {}, {}
    for k, role in enumerate(roles):
        m = medians[:, k]
        prob[role] = float(np.mean((m >= lower) & (m <= upper)))
        q = np.quantile(np.where(np.isnan(m), np.inf, m), [0.025, 0.5, 0.975], method="lower")
        quant[role] = (float(q[0]), float(q[1]), float(q[2]))
    return PriorCheck(name, lower, upper, prob, quant, min_prob)
