"""Parametric survival families: log-hazard, log-survival and quantiles, written once.

Each family's formulas are written against a small array namespace (``PT`` for PyTensor, used in
the likelihood; ``NP`` for NumPy/SciPy, used on posterior draws), so the curve a user sees is
computed by exactly the code that was fitted. All formulas are on the log scale and numerically
stable in the tails (softplus, ``erfcx``, regularised incomplete gamma functions).

Parameterisations follow R's flexsurv (``dweibull``, ``dgompertz``, ``dllogis``, ``dlnorm``,
``dgengamma``) so estimates can be compared with published HTA models:

========== ======================= ====================================================
family     natural parameters      survival function S(t)
========== ======================= ====================================================
exponential rate λ                  exp(-λ t)
weibull    shape a, scale b        exp(-(t/b)^a)
gompertz   shape a (real), rate b  exp(-(b/a)(e^{a t} - 1))            (a = 0: exp(-b t))
loglogistic shape a, scale b       1 / (1 + (t/b)^a)
lognormal  meanlog μ, sdlog σ      1 - Φ((log t - μ)/σ)
gengamma   mu μ, sigma σ, Q (real) Prentice (1974) / flexsurv ``gengamma``: with γ = Q⁻²,
                                   w = (log t - μ)/σ, u = γ e^{Q w}:
                                   Q > 0: S = Γ_upper(γ, u)/Γ(γ);  Q < 0: S = Γ_lower(γ, u)/Γ(γ);
                                   Q = 0: log-normal(μ, σ)
========== ======================= ====================================================

The treatment effect is proportional hazards (hazard ratio HR) for exponential, Weibull and
Gompertz and accelerated failure time (time ratio φ, the factor by which survival times of the
treated arm are stretched) for log-logistic, log-normal and generalised gamma.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
import pytensor.tensor as pt
import scipy.special as sc

NP = SimpleNamespace(
    exp=np.exp,
    log=np.log,
    log1p=np.log1p,
    expm1=np.expm1,
    abs=np.abs,
    erfc=sc.erfc,
    erfcx=sc.erfcx,
    gammaln=sc.gammaln,
    gammaincc=sc.gammaincc,
    gammainc=sc.gammainc,
    softplus=lambda x: np.logaddexp(0.0, x),
    where=np.where,
    maximum=np.maximum,
    minimum=np.minimum,
)
"""NumPy/SciPy namespace: evaluate a family on arrays of posterior draws."""

PT = SimpleNamespace(
    exp=pt.exp,
    log=pt.log,
    log1p=pt.log1p,
    expm1=pt.expm1,
    abs=pt.abs,
    erfc=pt.erfc,
    erfcx=pt.erfcx,
    gammaln=pt.gammaln,
    gammaincc=pt.gammaincc,
    gammainc=pt.gammainc,
    softplus=pt.softplus,
    where=pt.switch,
    maximum=pt.maximum,
    minimum=pt.minimum,
)
"""PyTensor namespace: evaluate a family inside a PyMC model (differentiable)."""

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_SQRT2 = np.sqrt(2.0)
_SMALL_GOMPERTZ = 1e-8  # |a t| below this: expm1(a t)/(a t) = 1 + a t / 2 to double precision
_SMALL_Q = 1e-3  # |Q| below this: generalised gamma evaluated as its Q -> 0 limit, log-normal


def _log_normal_sf(xp: Any, z: Any) -> Any:
    """log(1 - Φ(z)), stable for all z (``erfcx`` in the upper tail; both branches finite)."""
    z_pos = xp.maximum(z, 0.0)
    z_neg = xp.minimum(z, 0.0)
    upper = xp.log(0.5 * xp.erfcx(z_pos / _SQRT2)) - 0.5 * z_pos**2
    lower = xp.log1p(-0.5 * xp.erfc(-z_neg / _SQRT2))
    return xp.where(z > 0, upper, lower)


@dataclass(frozen=True)
class Parameter:
    """One natural parameter and the unconstrained scale it is sampled on.

    ``transform`` is ``"log"`` (positive parameter, sampled as its logarithm, prior on the log)
    or ``"identity"`` (real parameter, prior on the parameter itself).
    """

    name: str
    transform: Literal["log", "identity"]

    @property
    def unconstrained(self) -> str:
        """Name of the sampled (unconstrained) variable, e.g. ``log_scale``."""
        return f"log_{self.name}" if self.transform == "log" else self.name


class Family:
    """A parametric survival family (abstract): formulas plus how a treatment effect enters.

    Subclasses define ``name``, ``parameters``, ``effect`` (``"ph"`` or ``"aft"``),
    :meth:`log_hazard`, :meth:`log_survival`, :meth:`quantile` and :meth:`treated`.
    Parameters are passed as keyword arguments named after ``parameters``; ``t`` must be > 0
    in :meth:`log_hazard` (callers mask the others).
    """

    name: str
    parameters: tuple[Parameter, ...]
    effect: Literal["ph", "aft"]

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Natural parameter names, in order."""
        return tuple(p.name for p in self.parameters)

    def log_hazard(self, xp: Any, t: Any, **p: Any) -> Any:
        """log h(t).

        Parameters
        ----------
        xp
            Array namespace: :data:`NP` (NumPy, on posterior draws) or :data:`PT` (PyTensor,
            inside the PyMC model).
        t
            Times (months), > 0 (at t = 0 some families give ``inf`` or ``nan``).
        **p
            Natural parameters, named as in ``parameters`` (e.g. ``shape=..., scale=...``);
            they broadcast against ``t``.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log hazard (per month, log scale), of the broadcast shape of ``t`` and ``p``.
        """
        raise NotImplementedError

    def log_survival(self, xp: Any, t: Any, **p: Any) -> Any:
        """log S(t).

        Parameters
        ----------
        xp
            Array namespace: :data:`NP` (NumPy, on posterior draws) or :data:`PT` (PyTensor,
            inside the PyMC model).
        t
            Times (months), >= 0 (with :data:`NP`, t = 0 gives log S = 0).
        **p
            Natural parameters, named as in ``parameters``; they broadcast against ``t``.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log survival probability (<= 0), of the broadcast shape of ``t`` and ``p``.
        """
        raise NotImplementedError

    def quantile(self, s: float, **p: np.ndarray) -> np.ndarray:
        """Time t with S(t) = s (NumPy; ``inf`` when the curve never falls to s).

        Parameters
        ----------
        s
            Survival probability in (0, 1) (0.5: the median); a NumPy array broadcasts.
        **p
            Natural parameters as NumPy arrays (e.g. draws), named as in ``parameters``.

        Returns
        -------
        numpy.ndarray
            Times (months), of the broadcast shape of ``s`` and ``p``.
        """
        raise NotImplementedError

    def treated(self, log_effect: Any, **control: Any) -> dict[str, Any]:
        """Natural parameters of the treated arm given the control arm's and the log effect.

        Parameters
        ----------
        log_effect
            Log treatment effect: the log hazard ratio for PH families, the log time ratio for
            AFT families. A PyTensor variable or a NumPy value/array.
        **control
            The control arm's natural parameters, named as in ``parameters``.

        Returns
        -------
        dict[str, Any]
            A new dict of the treated arm's natural parameters, same keys as ``control``.
        """
        raise NotImplementedError

    def log_likelihood(self, xp: Any, t: Any, event: Any, **p: Any) -> Any:
        """Right-censored log-likelihood per patient: event · log h(t) + log S(t).

        Safe where a branch is not used: censored at t = 0 contributes log S(0) = 0, and the
        hazard is evaluated only at event times (> 0), so no inf/NaN reaches values or gradients.

        Parameters
        ----------
        xp
            Array namespace: :data:`NP` (NumPy, on posterior draws) or :data:`PT` (PyTensor,
            inside the PyMC model).
        t
            Observed or censoring times (months), >= 0; an event must have t > 0.
        event
            Event flags: > 0 event, 0 right-censored.
        **p
            Natural parameters per patient, named as in ``parameters``; they broadcast against
            ``t``.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log L_i per patient (not summed), of the broadcast shape of ``t``, ``event`` and
            ``p``.
        """
        positive = t > 0
        t_safe = xp.where(positive, t, 1.0)
        log_s = xp.where(positive, self.log_survival(xp, t_safe, **p), 0.0)
        is_event = event > 0
        log_h = self.log_hazard(xp, xp.where(is_event, t_safe, 1.0), **p)
        return xp.where(is_event, log_h, 0.0) + log_s

    def survival(self, t: np.ndarray, **p: np.ndarray) -> np.ndarray:
        """S(t) on NumPy arrays (broadcasting).

        Parameters
        ----------
        t
            Times (months), >= 0.
        **p
            Natural parameters as NumPy arrays, named as in ``parameters``.

        Returns
        -------
        numpy.ndarray
            Survival probabilities in [0, 1], of the broadcast shape of ``t`` and ``p``
            (floating-point warnings are suppressed).
        """
        with np.errstate(all="ignore"):
            return np.exp(self.log_survival(NP, t, **p))

    def hazard(self, t: np.ndarray, **p: np.ndarray) -> np.ndarray:
        """h(t) on NumPy arrays (broadcasting); t must be > 0.

        Parameters
        ----------
        t
            Times (months), > 0 (t = 0 may give ``inf`` or ``nan``, without a warning).
        **p
            Natural parameters as NumPy arrays, named as in ``parameters``.

        Returns
        -------
        numpy.ndarray
            Hazard (events per month), of the broadcast shape of ``t`` and ``p``.
        """
        with np.errstate(all="ignore"):
            return np.exp(self.log_hazard(NP, t, **p))


class Exponential(Family):
    """Exponential: h(t) = λ, S(t) = exp(-λ t). PH effect: λ₁ = λ₀ HR.

    Natural parameters: ``rate``: Rate λ > 0 (per month).
    """

    name = "exponential"
    parameters = (Parameter("rate", "log"),)
    effect = "ph"

    def log_hazard(self, xp, t, *, rate):
        """log h(t) = log λ, constant in t.

        Parameters
        ----------
        xp, t, rate
            As for :meth:`Family.log_hazard`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log h(t) (per month, log scale).
        """
        return xp.log(rate) + 0.0 * t

    def log_survival(self, xp, t, *, rate):
        """log S(t) = -λ t.

        Parameters
        ----------
        xp, t, rate
            As for :meth:`Family.log_survival`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log S(t).
        """
        return -rate * t

    def quantile(self, s, *, rate):
        """t = -log(s) / λ.

        Parameters
        ----------
        s, rate
            As for :meth:`Family.quantile`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray
            Times (months).
        """
        return -np.log(s) / rate

    def treated(self, log_effect, *, rate):
        """Treated-arm rate under PH: λ₁ = λ₀ HR.

        Parameters
        ----------
        log_effect, rate
            As for :meth:`Family.treated`: the log effect and the control arm's parameters
            (class docstring).

        Returns
        -------
        dict[str, Any]
            A new dict ``{"rate": λ₀ HR}``.
        """
        return {"rate": rate * _exp(log_effect)}


def _exp(x: Any) -> Any:
    """exp for either a PyTensor variable or a NumPy value."""
    return pt.exp(x) if isinstance(x, pt.TensorVariable) else np.exp(x)


class Weibull(Family):
    """Weibull (flexsurv ``weibull``): S(t) = exp(-(t/b)^a), h(t) = (a/b)(t/b)^(a-1).

    PH effect: the cumulative hazard (t/b)^a is multiplied by HR, so b₁ = b₀ HR^(-1/a).

    Natural parameters: ``shape``: Shape a > 0; ``scale``: Scale b > 0 (months).
    """

    name = "weibull"
    parameters = (Parameter("shape", "log"), Parameter("scale", "log"))
    effect = "ph"

    def log_hazard(self, xp, t, *, shape, scale):
        """log h(t) = log(a/b) + (a - 1) log(t/b).

        Parameters
        ----------
        xp, t, shape, scale
            As for :meth:`Family.log_hazard`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log h(t) (per month, log scale).
        """
        log_ratio = xp.log(t) - xp.log(scale)
        return xp.log(shape) - xp.log(scale) + (shape - 1.0) * log_ratio

    def log_survival(self, xp, t, *, shape, scale):
        """log S(t) = -(t/b)^a.

        Parameters
        ----------
        xp, t, shape, scale
            As for :meth:`Family.log_survival`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log S(t).
        """
        return -((t / scale) ** shape)

    def quantile(self, s, *, shape, scale):
        """t = b (-log s)^(1/a).

        Parameters
        ----------
        s, shape, scale
            As for :meth:`Family.quantile`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray
            Times (months).
        """
        return scale * (-np.log(s)) ** (1.0 / shape)

    def treated(self, log_effect, *, shape, scale):
        """Treated-arm parameters under PH: shape unchanged, b₁ = b₀ HR^(-1/a).

        Parameters
        ----------
        log_effect, shape, scale
            As for :meth:`Family.treated`: the log effect and the control arm's parameters
            (class docstring).

        Returns
        -------
        dict[str, Any]
            A new dict ``{"shape": a, "scale": b₀ HR^(-1/a)}``.
        """
        return {"shape": shape, "scale": scale * _exp(-log_effect / shape)}


class Gompertz(Family):
    """Gompertz (flexsurv ``gompertz``): h(t) = b e^(a t), S(t) = exp(-(b/a)(e^(a t) - 1)).

    The shape a is real: a < 0 gives a hazard falling to zero and a plateau (cure) in S(t).
    PH effect: b₁ = b₀ HR.

    Natural parameters: ``shape``: Shape a (real, per month; a < 0: falling hazard and a cure
    plateau); ``rate``: Rate b > 0: the hazard at t = 0 (per month).
    """

    name = "gompertz"
    parameters = (Parameter("shape", "identity"), Parameter("rate", "log"))
    effect = "ph"

    def log_hazard(self, xp, t, *, shape, rate):
        """log h(t) = log b + a t.

        Parameters
        ----------
        xp, t, shape, rate
            As for :meth:`Family.log_hazard`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log h(t) (per month, log scale).
        """
        return xp.log(rate) + shape * t

    def log_survival(self, xp, t, *, shape, rate):
        """log S(t) = -(b/a)(e^(a t) - 1), stable as a -> 0.

        Computed as ``-b t · expm1(a t) / (a t)``, with the ratio replaced by ``1 + a t / 2``
        where |a t| < 1e-8 (so a = 0 gives the exponential).

        Parameters
        ----------
        xp, t, shape, rate
            As for :meth:`Family.log_survival`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log S(t).
        """
        x = shape * t
        small = xp.abs(x) < _SMALL_GOMPERTZ
        x_safe = xp.where(small, 1.0, x)
        ratio = xp.where(small, 1.0 + 0.5 * x, xp.expm1(x_safe) / x_safe)
        return -rate * t * ratio

    def quantile(self, s, *, shape, rate):
        """t = log(1 + a H / b) / a with H = -log s; ``inf`` below the plateau.

        With a < 0, S(t) levels off at exp(b/a): where a H / b <= -1 the curve never falls to s
        and the result is ``inf``. Where |a H / b| < 1e-10 (e.g. a = 0) the limit H / b is used.

        Parameters
        ----------
        s, shape, rate
            As for :meth:`Family.quantile`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray
            Times (months).
        """
        shape, rate = np.broadcast_arrays(np.asarray(shape, float), np.asarray(rate, float))
        target = -np.log(s)  # cumulative hazard at the quantile
        with np.errstate(all="ignore"):
            arg = shape * target / rate
            t = np.where(arg > -1.0, np.log1p(arg) / np.where(shape == 0, 1.0, shape), np.inf)
            return np.where(np.abs(arg) < 1e-10, target / rate, t)

    def treated(self, log_effect, *, shape, rate):
        """Treated-arm parameters under PH: shape unchanged, b₁ = b₀ HR.

        Parameters
        ----------
        log_effect, shape, rate
            As for :meth:`Family.treated`: the log effect and the control arm's parameters
            (class docstring).

        Returns
        -------
        dict[str, Any]
            A new dict ``{"shape": a, "rate": b₀ HR}``.
        """
        return {"shape": shape, "rate": rate * _exp(log_effect)}


class LogLogistic(Family):
    """Log-logistic (flexsurv ``llogis``): S(t) = 1/(1 + (t/b)^a), h(t) = (a/b)(t/b)^(a-1) S(t).

    AFT effect: b₁ = b₀ φ (the median is b, so φ is the ratio of medians).

    Natural parameters: ``shape``: Shape a > 0; ``scale``: Scale b > 0 (months; the median).
    """

    name = "loglogistic"
    parameters = (Parameter("shape", "log"), Parameter("scale", "log"))
    effect = "aft"

    def log_hazard(self, xp, t, *, shape, scale):
        """log h(t) = log(a/b) + (a - 1) log(t/b) - log(1 + (t/b)^a).

        The last term is a softplus, stable in both tails.

        Parameters
        ----------
        xp, t, shape, scale
            As for :meth:`Family.log_hazard`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log h(t) (per month, log scale).
        """
        log_ratio = xp.log(t) - xp.log(scale)
        return (
            xp.log(shape)
            - xp.log(scale)
            + (shape - 1.0) * log_ratio
            - xp.softplus(shape * log_ratio)
        )

    def log_survival(self, xp, t, *, shape, scale):
        """log S(t) = -log(1 + (t/b)^a), as a softplus (stable in both tails).

        Parameters
        ----------
        xp, t, shape, scale
            As for :meth:`Family.log_survival`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log S(t).
        """
        return -xp.softplus(shape * (xp.log(t) - xp.log(scale)))

    def quantile(self, s, *, shape, scale):
        """t = b ((1 - s)/s)^(1/a).

        Parameters
        ----------
        s, shape, scale
            As for :meth:`Family.quantile`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray
            Times (months).
        """
        return scale * ((1.0 - s) / s) ** (1.0 / shape)

    def treated(self, log_effect, *, shape, scale):
        """Treated-arm parameters under AFT: shape unchanged, b₁ = b₀ φ.

        Parameters
        ----------
        log_effect, shape, scale
            As for :meth:`Family.treated`: the log effect and the control arm's parameters
            (class docstring).

        Returns
        -------
        dict[str, Any]
            A new dict ``{"shape": a, "scale": b₀ φ}``.
        """
        return {"shape": shape, "scale": scale * _exp(log_effect)}


class LogNormal(Family):
    """Log-normal (flexsurv ``lnorm``): log T ~ Normal(μ, σ). AFT effect: μ₁ = μ₀ + log φ.

    Natural parameters: ``meanlog``: Mean μ of log T (log months); ``sdlog``: Standard deviation
    σ > 0 of log T.
    """

    name = "lognormal"
    parameters = (Parameter("meanlog", "identity"), Parameter("sdlog", "log"))
    effect = "aft"

    def log_hazard(self, xp, t, *, meanlog, sdlog):
        """log h(t) = log f(t) - log S(t), stable in the upper tail (``erfcx``).

        Parameters
        ----------
        xp, t, meanlog, sdlog
            As for :meth:`Family.log_hazard`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log h(t) (per month, log scale).
        """
        log_t = xp.log(t)
        z = (log_t - meanlog) / sdlog
        log_f = -log_t - xp.log(sdlog) - _LOG_SQRT_2PI - 0.5 * z**2
        return log_f - _log_normal_sf(xp, z)

    def log_survival(self, xp, t, *, meanlog, sdlog):
        """log S(t) = log(1 - Φ((log t - μ)/σ)), stable for all t.

        Parameters
        ----------
        xp, t, meanlog, sdlog
            As for :meth:`Family.log_survival`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log S(t).
        """
        return _log_normal_sf(xp, (xp.log(t) - meanlog) / sdlog)

    def quantile(self, s, *, meanlog, sdlog):
        """t = exp(μ + σ Φ⁻¹(1 - s)).

        Parameters
        ----------
        s, meanlog, sdlog
            As for :meth:`Family.quantile`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray
            Times (months).
        """
        return np.exp(meanlog + sdlog * sc.ndtri(1.0 - s))

    def treated(self, log_effect, *, meanlog, sdlog):
        """Treated-arm parameters under AFT: μ₁ = μ₀ + log φ, σ unchanged.

        Parameters
        ----------
        log_effect, meanlog, sdlog
            As for :meth:`Family.treated`: the log effect and the control arm's parameters
            (class docstring).

        Returns
        -------
        dict[str, Any]
            A new dict ``{"meanlog": μ₀ + log φ, "sdlog": σ}``.
        """
        return {"meanlog": meanlog + log_effect, "sdlog": sdlog}


class GenGamma(Family):
    """Generalised gamma, Prentice (1974) parameterisation = flexsurv ``gengamma`` (μ, σ, Q).

    With γ = Q⁻², w = (log t - μ)/σ and u = γ exp(Q w):

    f(t) = |Q| γ^γ / (σ t Γ(γ)) · exp(γ (Q w) - u),
    S(t) = Q(γ, u) (regularised upper incomplete gamma) if Q > 0, P(γ, u) (lower) if Q < 0,
    and the log-normal(μ, σ) limit at Q = 0 (used for |Q| < 1e-3, where the incomplete-gamma
    form loses precision). Q = 1: Weibull; Q = σ: gamma; Q = 0: log-normal.
    AFT effect: μ₁ = μ₀ + log φ.

    Natural parameters: ``mu``: Location μ (log months); ``sigma``: Scale σ > 0; ``Q``: Shape Q
    (real; 0: log-normal, 1: Weibull).
    """

    name = "gengamma"
    parameters = (
        Parameter("mu", "identity"),
        Parameter("sigma", "log"),
        Parameter("Q", "identity"),
    )
    effect = "aft"

    @staticmethod
    def _pieces(xp, t, mu, sigma, Q):
        small = xp.abs(Q) < _SMALL_Q
        q = xp.where(small, _SMALL_Q, Q)  # finite in the branch that is discarded
        gamma = 1.0 / q**2
        w = (xp.log(t) - mu) / sigma
        log_u = xp.log(gamma) + q * w
        return small, q, gamma, w, log_u

    def _log_survival_gg(self, xp, q, gamma, log_u):
        u = xp.exp(log_u)
        return xp.where(q > 0, xp.log(xp.gammaincc(gamma, u)), xp.log(xp.gammainc(gamma, u)))

    def log_survival(self, xp, t, *, mu, sigma, Q):
        """log S(t): log Q(γ, u) if Q > 0, log P(γ, u) if Q < 0 (γ, u as in the class docstring).

        For |Q| < 1e-3 the log-normal(μ, σ) limit is used.

        Parameters
        ----------
        xp, t, mu, sigma, Q
            As for :meth:`Family.log_survival`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log S(t).
        """
        small, q, gamma, w, log_u = self._pieces(xp, t, mu, sigma, Q)
        gg = self._log_survival_gg(xp, q, gamma, log_u)
        return xp.where(small, _log_normal_sf(xp, w), gg)

    @staticmethod
    def _log_density_gg(xp, t, sigma, q, gamma, w, log_u):
        """log f(t) in closed form (class docstring): no incomplete gamma function."""
        return (
            xp.log(xp.abs(q))
            + gamma * xp.log(gamma)
            - xp.log(sigma)
            - xp.log(t)
            - xp.gammaln(gamma)
            + gamma * q * w
            - xp.exp(log_u)
        )

    def log_hazard(self, xp, t, *, mu, sigma, Q):
        """log h(t) = log f(t) - log S(t), with f and S as in the class docstring.

        For |Q| < 1e-3 the log-normal(μ, σ) hazard is used.

        Parameters
        ----------
        xp, t, mu, sigma, Q
            As for :meth:`Family.log_hazard`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log h(t) (per month, log scale).
        """
        small, q, gamma, w, log_u = self._pieces(xp, t, mu, sigma, Q)
        gg = (self._log_density_gg(xp, t, sigma, q, gamma, w, log_u)
              - self._log_survival_gg(xp, q, gamma, log_u))
        ln = LogNormal().log_hazard(xp, t, meanlog=mu, sdlog=sigma)
        return xp.where(small, ln, gg)

    def log_likelihood(self, xp, t, event, *, mu, sigma, Q):
        """Right-censored log-likelihood per patient: log f(t) for an event, log S(t) if censored.

        The same likelihood as :meth:`Family.log_likelihood` (log f = log h + log S), but an
        event enters through the closed-form density, so the incomplete gamma functions (and
        their costly derivatives in the shape γ) are evaluated once per patient, for S, not
        twice (measured: ``benchmarks/backends.py gengamma_aft``, see benchmarks/README.md).
        For |Q| < 1e-3 the log-normal(μ, σ) limit is used, as in :meth:`log_hazard`.

        Parameters
        ----------
        xp, t, event
            As for :meth:`Family.log_likelihood`.
        mu, sigma, Q
            The parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray or TensorVariable
            log L_i per patient (not summed).
        """
        positive = t > 0
        t_safe = xp.where(positive, t, 1.0)
        log_s = xp.where(positive, self.log_survival(xp, t_safe, mu=mu, sigma=sigma, Q=Q), 0.0)
        is_event = event > 0
        t_event = xp.where(is_event, t_safe, 1.0)
        small, q, gamma, w, log_u = self._pieces(xp, t_event, mu, sigma, Q)
        ln = LogNormal()
        log_f = xp.where(
            small,
            ln.log_hazard(xp, t_event, meanlog=mu, sdlog=sigma)
            + ln.log_survival(xp, t_event, meanlog=mu, sdlog=sigma),
            self._log_density_gg(xp, t_event, sigma, q, gamma, w, log_u),
        )
        return xp.where(is_event, log_f, log_s)

    def quantile(self, s, *, mu, sigma, Q):
        """Time t with S(t) = s, by inverting the regularised incomplete gamma function.

        u = Q⁻¹(γ, s) if Q > 0 or P⁻¹(γ, s) if Q < 0, w = log(u/γ)/Q and t = exp(μ + σ w);
        for |Q| < 1e-3 the log-normal quantile exp(μ + σ Φ⁻¹(1 - s)).

        Parameters
        ----------
        s, mu, sigma, Q
            As for :meth:`Family.quantile`; the parameters as in the class docstring.

        Returns
        -------
        numpy.ndarray
            Times (months).
        """
        mu, sigma, Q = np.broadcast_arrays(*(np.asarray(x, float) for x in (mu, sigma, Q)))
        with np.errstate(all="ignore"):
            q = np.where(np.abs(Q) < _SMALL_Q, _SMALL_Q, Q)
            gamma = 1.0 / q**2
            u = np.where(q > 0, sc.gammainccinv(gamma, s), sc.gammaincinv(gamma, s))
            w = np.log(u / gamma) / q
            w = np.where(np.abs(Q) < _SMALL_Q, sc.ndtri(1.0 - s), w)
            return np.exp(mu + sigma * w)

    def treated(self, log_effect, *, mu, sigma, Q):
        """Treated-arm parameters under AFT: μ₁ = μ₀ + log φ, σ and Q unchanged.

        Parameters
        ----------
        log_effect, mu, sigma, Q
            As for :meth:`Family.treated`: the log effect and the control arm's parameters
            (class docstring).

        Returns
        -------
        dict[str, Any]
            A new dict ``{"mu": μ₀ + log φ, "sigma": σ, "Q": Q}``.
        """
        return {"mu": mu + log_effect, "sigma": sigma, "Q": Q}


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (Exponential(), Weibull(), Gompertz(), LogLogistic(), LogNormal(), GenGamma())
}
"""All families by name."""
