"""Typed, serialisable prior distributions, so every fit states what it assumed.

Each prior is a small frozen dataclass that can build its PyMC variable (:meth:`to_pymc`),
describe itself in one line (``"Normal(0, 2.5)"``) and round-trip through a plain dict
(:meth:`to_dict` / :func:`prior_from_dict`). :func:`attach_priors` writes the priors of a fit into
the posterior's attributes (JSON, so they survive netCDF/zarr) and :func:`read_priors` reads them
back. Own objects rather than pymc-extras ``Prior``: the latter is not a dependency and these
few parameterisations are all the package needs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import ClassVar

import numpy as np
import pymc as pm
import xarray as xr

from prrt_bayes.core.errors import InputError


def _fmt(x: float) -> str:
    """Compact number: 0 -> '0', 2.5 -> '2.5', 1e-05 -> '1e-05'."""
    return f"{x:g}"


@dataclass(frozen=True)
class Prior:
    """Base class: subclasses are dataclasses whose fields are PyMC's parameter names."""

    positive: ClassVar[tuple[str, ...]] = ()
    pymc_name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(f"{type(self).__name__}: {f.name} must be a finite number")
            if f.name in self.positive and value <= 0:
                raise InputError(f"{type(self).__name__}: {f.name} must be > 0, got {value}")

    def to_pymc(self, name: str, **kwargs) -> pm.Distribution:
        """Create the PyMC random variable ``name`` (inside a model context).

        Parameters
        ----------
        name
            Name of the variable in the model.
        **kwargs
            Further keyword arguments of the PyMC distribution (e.g. ``dims``, ``shape``,
            ``observed``), passed on after this prior's own parameters.

        Returns
        -------
        pytensor.tensor.TensorVariable
            The new random variable, registered in the current model (``pm.<Dist>(name, ...)``;
            PyMC returns the variable, not a ``pm.Distribution`` instance).
        """
        dist = getattr(pm, self.pymc_name or type(self).__name__)
        return dist(name, **asdict(self), **kwargs)

    def describe(self) -> str:
        """One-line description, e.g. ``"Normal(0, 2.5)"``.

        Returns
        -------
        str
            Class name and parameter values in field order, numbers formatted with ``:g``.
        """
        args = ", ".join(_fmt(getattr(self, f.name)) for f in fields(self))
        return f"{type(self).__name__}({args})"

    def to_dict(self) -> dict:
        """Plain dict ``{"dist": <class name>, <param>: value, ...}``.

        Returns
        -------
        dict
            A new dict, JSON-serialisable; :func:`prior_from_dict` rebuilds the prior from it.
        """
        return {"dist": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class Normal(Prior):
    """Normal(mu, sigma)."""

    mu: float = 0.0
    sigma: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("sigma",)


@dataclass(frozen=True)
class StudentT(Prior):
    """Student-t(nu, mu, sigma)."""

    nu: float = 3.0
    mu: float = 0.0
    sigma: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("nu", "sigma")


@dataclass(frozen=True)
class HalfNormal(Prior):
    """Half-normal(sigma) on (0, inf)."""

    sigma: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("sigma",)


@dataclass(frozen=True)
class HalfCauchy(Prior):
    """Half-Cauchy(beta) on (0, inf)."""

    beta: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("beta",)


@dataclass(frozen=True)
class Exponential(Prior):
    """Exponential(lam) (rate lam)."""

    lam: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("lam",)


@dataclass(frozen=True)
class Gamma(Prior):
    """Gamma(alpha, beta) (shape alpha, rate beta)."""

    alpha: float = 2.0
    beta: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("alpha", "beta")


@dataclass(frozen=True)
class LogNormal(Prior):
    """Log-normal(mu, sigma): log X ~ Normal(mu, sigma)."""

    mu: float = 0.0
    sigma: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("sigma",)


@dataclass(frozen=True)
class Beta(Prior):
    """Beta(alpha, beta) on (0, 1)."""

    alpha: float = 1.0
    beta: float = 1.0
    positive: ClassVar[tuple[str, ...]] = ("alpha", "beta")


@dataclass(frozen=True)
class Uniform(Prior):
    """Uniform(lower, upper)."""

    lower: float = 0.0
    upper: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.lower < self.upper:
            raise InputError(f"Uniform: lower {self.lower} must be < upper {self.upper}")


@dataclass(frozen=True)
class NormalMixture(Prior):
    r"""Mixture of normals :math:`\sum_k w_k \, \text{Normal}(\mu_k, \sigma_k)`.

    The form of a (robust) MAP prior borrowed from the single-arm series, e.g. on the
    177Lu-Dotatate arm's log median survival. ``w``, ``mu`` and ``sigma`` are sequences of equal
    length (stored as tuples); the weights are non-negative and sum to 1.
    """

    w: tuple[float, ...] = (1.0,)
    mu: tuple[float, ...] = (0.0,)
    sigma: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        for f in fields(self):
            try:
                values = np.atleast_1d(np.asarray(getattr(self, f.name)))
            except ValueError:  # ragged nesting
                values = np.array([None])
            if (values.dtype.kind not in "iuf" or values.ndim != 1 or not values.size
                    or not np.all(np.isfinite(values))):
                raise InputError(f"NormalMixture: {f.name} must be a list of finite numbers")
            object.__setattr__(self, f.name, tuple(float(v) for v in values))
        if not len(self.w) == len(self.mu) == len(self.sigma):
            raise InputError("NormalMixture: w, mu and sigma must have the same length")
        if min(self.sigma) <= 0 or min(self.w) < 0 or abs(sum(self.w) - 1) > 1e-6:
            raise InputError("NormalMixture: sigma must be > 0 and w non-negative, summing to 1")

    def describe(self) -> str:
        """One-line description, e.g. ``NormalMixture(0.8 Normal(3.1, 0.2) + 0.2 Normal(3, 2))``.

        Returns
        -------
        str
            Each component as ``weight Normal(mu, sigma)``, numbers to 3 significant digits.
        """
        parts = [f"{w:.3g} Normal({m:.3g}, {s:.3g})"
                 for w, m, s in zip(self.w, self.mu, self.sigma, strict=True)]
        return f"NormalMixture({' + '.join(parts)})"

    def to_dict(self) -> dict:
        """Plain dict ``{"dist": "NormalMixture", "w": [...], "mu": [...], "sigma": [...]}``.

        Returns
        -------
        dict
            A new dict, JSON-serialisable (lists); :func:`prior_from_dict` rebuilds the prior.
        """
        return {"dist": "NormalMixture", **{f.name: list(getattr(self, f.name))
                                              for f in fields(self)}}


PRIOR_CLASSES: dict[str, type[Prior]] = {
    cls.__name__: cls
    for cls in (Normal, StudentT, HalfNormal, HalfCauchy, Exponential, Gamma, LogNormal, Beta,
                Uniform, NormalMixture)
}


def prior_from_dict(data: Mapping) -> Prior:
    """Rebuild a prior from :meth:`Prior.to_dict` output.

    Parameters
    ----------
    data
        ``{"dist": <class name in PRIOR_CLASSES>, <param>: value, ...}``; parameters left out
        take the class defaults. Not modified.

    Returns
    -------
    Prior
        A new instance of the named class.

    Raises
    ------
    InputError
        ``dist`` missing or not a known class name, a parameter the class does not have, or a
        value the class rejects (not a finite number, not positive where it must be).
    """
    data = dict(data)
    kind = data.pop("dist", None)
    if kind not in PRIOR_CLASSES:
        raise InputError(f"unknown prior distribution {kind!r}; known: {sorted(PRIOR_CLASSES)}")
    cls = PRIOR_CLASSES[kind]
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise InputError(f"{kind}: unknown parameters {sorted(unknown)}")
    return cls(**data)


def describe_priors(priors: Mapping[str, Prior]) -> dict[str, str]:
    """``{parameter: "Normal(0, 2.5)", ...}`` for summaries and reports.

    Parameters
    ----------
    priors
        ``{parameter name: Prior}``.

    Returns
    -------
    dict[str, str]
        A new dict, same keys and order, values from :meth:`Prior.describe`.
    """
    return {name: prior.describe() for name, prior in priors.items()}


def attach_priors(tree: xr.DataTree, priors: Mapping[str, Prior]) -> None:
    """Record ``priors`` in ``tree.posterior.attrs["priors"]`` (JSON of their dicts).

    Parameters
    ----------
    tree
        Posterior DataTree with a ``posterior`` group; modified in place (an existing
        ``priors`` attribute is replaced).
    priors
        ``{parameter name: Prior}``, stored as JSON of :meth:`Prior.to_dict` per parameter.
    """
    tree.posterior.attrs["priors"] = json.dumps({k: p.to_dict() for k, p in priors.items()})


def read_priors(tree: xr.DataTree) -> dict[str, Prior]:
    """The priors recorded by :func:`attach_priors` (empty dict if none).

    Parameters
    ----------
    tree
        Posterior DataTree with a ``posterior`` group.

    Returns
    -------
    dict[str, Prior]
        ``{parameter name: Prior}`` rebuilt with :func:`prior_from_dict`; ``{}`` when the tree
        has no ``priors`` attribute.

    Raises
    ------
    InputError
        A recorded prior that names an unknown distribution or parameter.
    """
    raw = tree.posterior.attrs.get("priors")
    if raw is None:
        return {}
    return {name: prior_from_dict(d) for name, d in json.loads(raw).items()}
