"""The parts every analysis spec shares: strict sections, sampler settings, priors, borrowing.

Each analysis kind declares its own spec class beside its models (``survival/spec.py``,
``response/spec.py``, ``toxicity/spec.py``) from these parts, with only the fields it uses;
:mod:`prrt_bayes.pipeline.specs` joins them into one discriminated union on ``kind`` and reads
the TOML files. A spec is validated with pydantic: unknown keys and bad values are rejected with
the key and the reason (:class:`~prrt_bayes.core.errors.InputError` via the pipeline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Prior, prior_from_dict
from prrt_bayes.core.sampling import DEFAULT_SEED, SamplerSettings

BORROWING_METHODS = ("none", "map", "robust-map", "power", "commensurate", "commensurate-fixed")
"""Borrowing methods a spec may name (``none``: the trial alone)."""


class SpecFieldError(ValueError):
    """A spec value that is wrong in context, with the dotted key it belongs to.

    Raised inside the pydantic validators; the pipeline reports ``field`` as the key (prefixed
    by the section when raised inside one), as it does for pydantic's own errors.

    Parameters
    ----------
    field
        Dotted key, e.g. ``"evidence.ipd"`` (relative to the section for a section's own
        validator, e.g. ``"horizon_months"`` in ``[export]``).
    message
        What is wrong, one line.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def spec_input_error(err: ValidationError, *, file: str | Path,
                     tags: tuple[str, ...] = ()) -> InputError:
    """The first error of a spec validation as a one-line InputError naming the key.

    Parameters
    ----------
    err
        Pydantic's validation error.
    file
        The spec file (or a label such as ``(command-line overrides)``).
    tags
        Union tags that pydantic puts first in an error's location (the ``kind`` values); they
        are not keys and are dropped.

    Returns
    -------
    InputError
        ``field`` is the dotted key (with a :class:`SpecFieldError`'s own field appended), the
        message pydantic's (``unknown key`` for an extra key).
    """
    first = err.errors()[0]
    location = [str(part) for part in first["loc"]]
    if location and location[0] in tags:
        location = location[1:]
    original = first.get("ctx", {}).get("error")
    if isinstance(original, SpecFieldError):
        location.append(original.field)
    reason = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        reason = "unknown key"
    return InputError(reason, file=file, field=".".join(location) or None)


class StrictSection(BaseModel):
    """A spec section: unknown keys are errors and the values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplerSpec(StrictSection):
    """The ``[sampler]`` section: NUTS settings of every fit of the analysis.

    ``backend``: ``auto`` (each model's measured fastest, see ``benchmarks/README.md``),
    ``nutpie-c``, ``nutpie-numba``, ``nutpie-jax`` (needs ``jax``) or ``pymc``
    (:data:`prrt_bayes.core.sampling.BACKENDS`). Four chains by default: the R-hat and ESS
    thresholds of the gate (Vehtari et al. 2021) are calibrated for four.
    """

    draws: Annotated[int, Field(gt=0)] = 1000
    tune: Annotated[int, Field(gt=0)] = 1000
    chains: Annotated[int, Field(ge=1, le=16)] = 4
    target_accept: Annotated[float, Field(gt=0, lt=1)] = 0.9
    backend: Literal["auto", "nutpie-c", "nutpie-numba", "nutpie-jax", "pymc"] = "auto"


class BorrowingSpec(StrictSection):
    """How the single-arm series inform the 177Lu-Dotatate arm (``none`` = no borrowing).

    ``robust_weight``: weight of the vague component of ``robust-map``. ``a0``: the power
    prior's discount, capped so that the borrowed ESS is at most ``max_prior_ess_fraction`` of
    the trial arm (events for survival, patients for response). ``tau``: the between-source SD
    (log scale for survival, logit for response): the scale (= median) of the half-Cauchy
    hyperprior of ``commensurate`` (Hobbs et al. 2011, fitted jointly; with ``tau_hyperprior =
    "spike-slab"`` the spike-and-slab of Hobbs et al. 2012 on the precision instead, and ``tau``
    is not used), the fixed value of ``commensurate-fixed``.
    """

    method: Literal["none", "map", "robust-map", "power", "commensurate",
                    "commensurate-fixed"] = "none"
    robust_weight: Annotated[float, Field(ge=0, le=1)] = 0.2
    a0: Annotated[float, Field(ge=0, le=1)] = 0.5
    max_prior_ess_fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    tau: Annotated[float, Field(gt=0)] = 0.5
    tau_hyperprior: Literal["halfcauchy", "spike-slab"] = "halfcauchy"


class Netter1EvidenceSpec(StrictSection):
    """An ``[evidence]`` section read from the bundled NETTER-1 data (response, toxicity)."""

    source: Literal["netter1"] = "netter1"


class ExportSpec(StrictSection):
    """The ``[export]`` section of a kind that exports only PSA draws (response, toxicity)."""

    psa_draws: Annotated[int, Field(gt=0)] = 1000


class SpecBase(StrictSection):
    """Fields of every analysis spec: name, description, seed, priors and sampler.

    ``priors`` maps a model parameter to a prior dict (``{dist = "Normal", mu = 0, sigma =
    2}``, see :func:`~prrt_bayes.core.priors.prior_from_dict`); the kind's model checks the
    parameter names.
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$")]
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = DEFAULT_SEED
    priors: dict[str, dict] = Field(default_factory=dict)
    sampler: SamplerSpec = SamplerSpec()

    @field_validator("priors")
    @classmethod
    def _priors_parse(cls, value: dict[str, dict]) -> dict[str, dict]:
        for name, prior in value.items():
            try:
                prior_from_dict(prior)
            except InputError as err:
                raise ValueError(f"prior '{name}': {err}") from None
        return value

    def prior_objects(self) -> dict[str, Prior]:
        """The spec's priors as prior objects.

        Returns
        -------
        dict[str, Prior]
            A new dict ``{parameter name: Prior}`` (empty when the spec sets no priors).
        """
        return {name: prior_from_dict(d) for name, d in self.priors.items()}

    def accepts_borrowing(self) -> bool:
        """Whether a ``[borrowing]`` method applies to this spec (default: when it has one).

        Returns
        -------
        bool
            ``True`` when the spec has a ``borrowing`` section that its model uses.
        """
        return "borrowing" in type(self).model_fields

    def sampler_settings(self) -> SamplerSettings:
        """The ``[sampler]`` section and the seed, as every fit of this analysis receives them.

        Returns
        -------
        SamplerSettings
            Draws, tuning, chains, target acceptance and the spec's seed.
        """
        s = self.sampler
        return SamplerSettings(draws=s.draws, tune=s.tune, chains=s.chains,
                               target_accept=s.target_accept, seed=self.seed, backend=s.backend)

    def with_overrides(
        self,
        *,
        draws: int | None = None,
        tune: int | None = None,
        chains: int | None = None,
        seed: int | None = None,
        borrowing: str | None = None,
        psa_draws: int | None = None,
        backend: str | None = None,
        scenarios: bool | None = None,
    ) -> Self:
        """A copy with command-line overrides applied (validated like the file).

        Parameters
        ----------
        draws, tune, chains
            New ``sampler.draws``, ``sampler.tune`` and ``sampler.chains``. For every
            parameter, ``None`` (the default) keeps the spec's value.
        seed
            New ``seed``.
        borrowing
            New ``borrowing.method`` (one of :data:`BORROWING_METHODS`) of a spec that
            :meth:`accepts_borrowing`; the others (toxicity, a survival spec of family
            ``auto``) ignore it, so one ``--borrowing`` flag can apply to a whole run.
        psa_draws
            New ``export.psa_draws``.
        backend
            New ``sampler.backend``.
        scenarios
            New ``export.scenarios`` of a survival spec (others ignore it).

        Returns
        -------
        Self
            A new, validated spec of the same kind; this one is unchanged.

        Raises
        ------
        InputError
            An override the spec rejects (e.g. ``chains`` above 16, an unknown borrowing
            method); the file is reported as ``(command-line overrides)``.
        """
        data = self.model_dump()
        for key, value in (("draws", draws), ("tune", tune), ("chains", chains),
                           ("backend", backend)):
            if value is not None:
                data["sampler"][key] = value
        if seed is not None:
            data["seed"] = seed
        if borrowing is not None and "borrowing" in data and self.accepts_borrowing():
            data["borrowing"]["method"] = borrowing
        if psa_draws is not None and "export" in data:
            data["export"]["psa_draws"] = psa_draws
        if scenarios is not None and "scenarios" in data.get("export", {}):
            data["export"]["scenarios"] = scenarios
        try:
            return type(self).model_validate(data)
        except ValidationError as err:
            raise spec_input_error(err, file="(command-line overrides)") from None
