"""Densities and PyMC variables for the parsed hyperprior strings (mu and tau priors).

One place turns a :class:`~prrt_bayes.borrowing.inputs.PriorSpec` into (a) a log density that
the exact quadrature code integrates and (b) the matching PyMC random variable, so the exact and
MCMC versions of a model can never disagree about their priors.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
from scipy import stats

from prrt_bayes.borrowing.inputs import PriorSpec
from prrt_bayes.core.errors import InputError

_TAU_FAMILIES = ("halfnormal", "halfcauchy", "halft", "uniform")


def check_tau_prior(spec: PriorSpec) -> PriorSpec:
    """Return ``spec`` if it can be a prior for a standard deviation; InputError otherwise.

    Parameters
    ----------
    spec
        Parsed prior; allowed families are ``halfnormal``, ``halfcauchy``, ``halft`` and
        ``uniform`` (with ``LOW >= 0``).

    Returns
    -------
    PriorSpec
        ``spec`` itself, unchanged.

    Raises
    ------
    InputError
        For any other family or a uniform prior with a negative lower limit.
    """
    if spec.family not in _TAU_FAMILIES:
        raise InputError(
            f"tau prior must be one of {', '.join(_TAU_FAMILIES)}, got {spec.family!r}",
            field="tau_prior",
        )
    if spec.family == "uniform" and spec.params[0] < 0:
        raise InputError("uniform tau prior needs LOW >= 0", field="tau_prior")
    return spec


def check_mu_prior(spec: PriorSpec) -> PriorSpec:
    """Return ``spec`` if it is a normal prior (the only one with closed-form mu | tau).

    Parameters
    ----------
    spec
        Parsed prior for the overall mean (or a regression coefficient).

    Returns
    -------
    PriorSpec
        ``spec`` itself, unchanged.

    Raises
    ------
    InputError
        When the family is not ``normal``.
    """
    if spec.family != "normal":
        raise InputError(f"mu prior must be normal:MEAN,SD, got {spec.family!r}", field="mu_prior")
    return spec


def tau_logpdf(spec: PriorSpec, tau: np.ndarray) -> np.ndarray:
    """Log density of the tau prior at ``tau`` (>= 0), normalised on [0, inf).

    Parameters
    ----------
    spec
        A tau prior (see :func:`check_tau_prior`).
    tau
        Values of the between-study SD; any shape.

    Returns
    -------
    numpy.ndarray
        Log densities, same shape as ``tau`` (``-inf`` outside the support).

    Raises
    ------
    InputError
        When ``spec`` is not a supported tau family.
    """
    tau = np.asarray(tau, dtype=float)
    p = spec.params
    if spec.family == "halfnormal":
        return stats.halfnorm.logpdf(tau, scale=p[0])
    if spec.family == "halfcauchy":
        return stats.halfcauchy.logpdf(tau, scale=p[0])
    if spec.family == "halft":
        support = np.where(tau < 0, -np.inf, 0.0)
        return np.log(2.0) + stats.t.logpdf(tau, df=p[0], scale=p[1]) + support
    if spec.family == "uniform":
        return stats.uniform.logpdf(tau, loc=p[0], scale=p[1] - p[0])
    raise InputError(f"unsupported tau prior {spec.family!r}", field="tau_prior")


def tau_upper_quantile(spec: PriorSpec, q: float) -> float:
    """The ``q`` quantile of the tau prior (used to bound integration grids).

    Parameters
    ----------
    spec
        A tau prior (see :func:`check_tau_prior`).
    q
        Probability in [0, 1].

    Returns
    -------
    float
        The quantile, on the tau scale.

    Raises
    ------
    InputError
        When ``spec`` is not a supported tau family.
    """
    p = spec.params
    if spec.family == "halfnormal":
        return float(stats.halfnorm.ppf(q, scale=p[0]))
    if spec.family == "halfcauchy":
        return float(stats.halfcauchy.ppf(q, scale=p[0]))
    if spec.family == "halft":
        return float(stats.t.ppf(0.5 + q / 2, df=p[0], scale=p[1]))
    if spec.family == "uniform":
        return float(p[0] + q * (p[1] - p[0]))
    raise InputError(f"unsupported tau prior {spec.family!r}", field="tau_prior")


def pymc_tau(spec: PriorSpec, name: str = "tau"):
    """The PyMC random variable for a tau prior (call inside a model context).

    Parameters
    ----------
    spec
        A tau prior (see :func:`check_tau_prior`).
    name
        Name of the variable in the model.

    Returns
    -------
    pytensor.tensor.TensorVariable
        The new ``HalfNormal``, ``HalfCauchy``, ``HalfStudentT`` or ``Uniform`` variable,
        registered in the current model.

    Raises
    ------
    InputError
        When ``spec`` is not a supported tau family.
    """
    p = spec.params
    if spec.family == "halfnormal":
        return pm.HalfNormal(name, sigma=p[0])
    if spec.family == "halfcauchy":
        return pm.HalfCauchy(name, beta=p[0])
    if spec.family == "halft":
        return pm.HalfStudentT(name, nu=p[0], sigma=p[1])
    if spec.family == "uniform":
        return pm.Uniform(name, lower=p[0], upper=p[1])
    raise InputError(f"unsupported tau prior {spec.family!r}", field="tau_prior")
