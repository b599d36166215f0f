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

import pymc as pm
import xarray as xr

from prrt_bayes.errors import InputError


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
        """Create the PyMC random variable ``name`` (inside a model context); kwargs: dims, ..."""
        dist = getattr(pm, self.pymc_name or type(self).__name__)
        return dist(name, **asdict(self), **kwargs)

    def describe(self) -> str:
        """One-line description, e.g. ``"Normal(0, 2.5)"``."""
        args = ", ".join(_fmt(getattr(self, f.name)) for f in fields(self))
        return f"{type(self).__name__}({args})"

    def to_dict(self) -> dict:
        """Plain dict ``{"dist": <class name>, <param>: value, ...}``."""
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


PRIOR_CLASSES: dict[str, type[Prior]] = {
    cls.__name__: cls
    for cls in (Normal, StudentT, HalfNormal, HalfCauchy, Exponential, Gamma, LogNormal, Beta,
                Uniform)
}


def prior_from_dict(data: Mapping) -> Prior:
    """Rebuild a prior from :meth:`Prior.to_dict` output; unknown names -> InputError."""
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
    """``{parameter: "Normal(0, 2.5)", ...}`` for summaries and reports."""
    return {name: prior.describe() for name, prior in priors.items()}


def attach_priors(tree: xr.DataTree, priors: Mapping[str, Prior]) -> None:
    """Record ``priors`` in ``tree.posterior.attrs["priors"]`` (JSON of their dicts)."""
    tree.posterior.attrs["priors"] = json.dumps({k: p.to_dict() for k, p in priors.items()})


def read_priors(tree: xr.DataTree) -> dict[str, Prior]:
    """The priors recorded by :func:`attach_priors` (empty dict if none)."""
    raw = tree.posterior.attrs.get("priors")
    if raw is None:
        return {}
    return {name: prior_from_dict(d) for name, d in json.loads(raw).items()}
