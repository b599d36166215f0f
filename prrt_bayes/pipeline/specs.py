"""Analysis specs: one TOML file per analysis (``prrt_bayes/specs/*.toml``), validated with pydantic.

A spec names the evidence (a bundled NETTER-1 reconstruction or a user's IPD CSV), the model
family and its options, priors, the borrowing method and strength, sampler settings, the seed,
and the horizon / cycle length for HTA exports. Unknown keys and bad values are rejected with
the file, the key and the reason (:class:`~prrt_bayes.core.errors.InputError`).

Example (abridged from ``prrt_bayes/specs/pfs_primary.toml``)::

    name = "pfs_primary"
    kind = "survival"
    description = "PFS by central review, primary analysis (2015-07-24 cut)"
    seed = 20170112

    [evidence]
    source = "netter1"
    endpoint = "pfs"
    cut = "primary"

    [model]
    family = "ph_piecewise"
    intervals = 6

    [priors.log_hr]
    dist = "Normal"
    mu = 0.0
    sigma = 2.0

    [sampler]
    draws = 1000
    tune = 1000
    chains = 2

    [export]
    horizon_months = 360
    cycle_months = 1
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Prior, prior_from_dict

BUNDLED_SPECS = resources.files("prrt_bayes") / "specs"
"""The bundled analyses: package data ``prrt_bayes/specs/*.toml``, read with
:mod:`importlib.resources` so that an installed wheel finds them."""

BORROWING_METHODS = ("none", "map", "robust-map", "power", "commensurate")


def survival_families() -> tuple[str, ...]:
    """Families a survival spec may name: ``ph_piecewise`` and the two-arm parametric models.

    Returns
    -------
    tuple[str, ...]
        ``"ph_piecewise"`` followed by
        :data:`prrt_bayes.survival.parametric.DEFAULT_MODELS` (e.g. ``"weibull_ph"``,
        ``"lognormal_aft"``).
    """
    from prrt_bayes.survival.parametric import DEFAULT_MODELS

    return ("ph_piecewise", *DEFAULT_MODELS)


class SpecFieldError(ValueError):
    """A spec value that is wrong in context, with the dotted key it belongs to.

    Raised inside the pydantic validators; :func:`load_spec` reports ``field`` as the key
    (prefixed by the section when raised inside one), as it does for pydantic's own errors.

    Parameters
    ----------
    field
        Dotted key, e.g. ``"evidence.population"`` (relative to the section for a section's
        own validator, e.g. ``"horizon_months"`` in ``[export]``).
    message
        What is wrong, one line.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_KIND_SETTINGS = {"response": ("response", "binomial"),
                  "toxicity": ("adverse_events", "berry_berry")}
"""Non-survival kind -> (the only endpoint, the only model family) it supports."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceSpec(_Strict):
    """Where the data come from: bundled NETTER-1 evidence or a user's IPD CSV."""

    source: Literal["netter1"] | None = "netter1"
    endpoint: Literal["pfs", "os", "response", "adverse_events"]
    cut: Literal["primary", "final"] | None = None
    ipd: Path | None = None
    population: Literal["evaluable", "itt"] = "evaluable"
    treatment_arm: str = "lu177"

    @model_validator(mode="after")
    def _one_source(self) -> EvidenceSpec:
        if self.endpoint in ("pfs", "os"):
            if self.ipd is None and self.cut is None:
                raise ValueError("a survival analysis needs 'cut' (bundled data) or 'ipd' (CSV)")
            if self.ipd is None and self.endpoint == "pfs" and self.cut == "final":
                raise ValueError("NETTER-1 PFS is bundled for cut 'primary' only")
        return self


class ModelSpec(_Strict):
    """Model family and options.

    ``intervals`` / ``breakpoints``: baseline intervals of ``ph_piecewise`` (default: 6 at
    event-time quantiles); ``smoothing = false`` drops its random-walk prior (independent
    interval hazards); ``time_varying_hr``: one log HR per period (non-PH variant);
    ``candidates``: extra parametric families fitted for the PSIS-LOO comparison table.
    """

    family: str
    intervals: Annotated[int, Field(ge=1, le=50)] = 6
    breakpoints: list[Annotated[float, Field(gt=0)]] | None = None
    time_varying_hr: bool = False
    smoothing: bool = True
    candidates: list[str] = Field(default_factory=list)

    @field_validator("breakpoints")
    @classmethod
    def _increasing(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError(f"breakpoints must be strictly increasing, got {value}")
        return value


class BorrowingSpec(_Strict):
    """How the single-arm series inform the 177Lu-Dotatate arm (``none`` = no borrowing)."""

    method: Literal["none", "map", "robust-map", "power", "commensurate"] = "none"
    robust_weight: Annotated[float, Field(ge=0, le=1)] = 0.2
    a0: Annotated[float, Field(ge=0, le=1)] = 0.5
    tau: Annotated[float, Field(gt=0)] = 0.5


class SamplerSpec(_Strict):
    """NUTS settings (nutpie)."""

    draws: Annotated[int, Field(gt=0)] = 1000
    tune: Annotated[int, Field(gt=0)] = 1000
    chains: Annotated[int, Field(ge=1, le=16)] = 2
    target_accept: Annotated[float, Field(gt=0, lt=1)] = 0.9


class ExportSpec(_Strict):
    """Horizon and cycle length of the exported curves, PSA draws, and reporting landmarks."""

    horizon_months: Annotated[float, Field(gt=0)] = 360.0
    cycle_months: Annotated[float, Field(gt=0)] = 1.0
    psa_draws: Annotated[int, Field(gt=0)] = 1000
    landmarks_months: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [12.0, 24.0, 60.0])

    @model_validator(mode="after")
    def _whole_cycles(self) -> ExportSpec:
        """The per-cycle curves end at the horizon: it must be a whole number of cycles."""
        n_cycles = self.horizon_months / self.cycle_months
        if abs(n_cycles - round(n_cycles)) > 1e-9:
            raise SpecFieldError("horizon_months", f"{self.horizon_months:g} months is not a "
                                 f"whole number of {self.cycle_months:g}-month cycles")
        return self


class AnalysisSpec(_Strict):
    """One analysis: evidence, model, priors, borrowing, sampler, seed and exports."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$")]
    kind: Literal["survival", "response", "toxicity"]
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 20170112
    evidence: EvidenceSpec
    model: ModelSpec
    priors: dict[str, dict] = Field(default_factory=dict)
    borrowing: BorrowingSpec = BorrowingSpec()
    sampler: SamplerSpec = SamplerSpec()
    export: ExportSpec = ExportSpec()

    @field_validator("priors")
    @classmethod
    def _priors_parse(cls, value: dict[str, dict]) -> dict[str, dict]:
        for name, prior in value.items():
            try:
                prior_from_dict(prior)
            except InputError as err:
                raise ValueError(f"prior '{name}': {err}") from None
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> AnalysisSpec:
        """Reject settings the analysis kind would otherwise ignore silently."""
        evidence = self.evidence
        if self.kind != "response" and evidence.population != "evaluable":
            raise SpecFieldError("evidence.population", "applies to response analyses only")
        if evidence.ipd is None and evidence.treatment_arm != "lu177":
            raise SpecFieldError("evidence.treatment_arm", "applies to a user's IPD only "
                                 "(the bundled NETTER-1 arms are 'lu177' and 'control')")
        if self.kind == "survival":
            families = survival_families()
            if self.model.family not in families:
                raise SpecFieldError("model.family", f"unknown survival family "
                                     f"{self.model.family!r}; known: {', '.join(families)}")
            for candidate in self.model.candidates:
                if candidate not in families:
                    raise SpecFieldError("model.candidates",
                                         f"unknown candidate family {candidate!r}")
            if evidence.endpoint not in ("pfs", "os"):
                raise SpecFieldError("evidence.endpoint",
                                     "a survival analysis needs endpoint 'pfs' or 'os'")
            return self
        endpoint, family = _KIND_SETTINGS[self.kind]
        if evidence.endpoint != endpoint:
            raise SpecFieldError("evidence.endpoint",
                                 f"a {self.kind} analysis needs endpoint {endpoint!r}")
        if self.model.family != family:
            raise SpecFieldError("model.family",
                                 f"a {self.kind} analysis has family {family!r}")
        for key, value in self.model.model_dump().items():
            if key != "family" and value != ModelSpec.model_fields[key].get_default(
                    call_default_factory=True):
                raise SpecFieldError(f"model.{key}", "applies to survival analyses only")
        for key, value in (("cut", evidence.cut), ("ipd", evidence.ipd)):
            if value is not None:
                raise SpecFieldError(f"evidence.{key}", f"a {self.kind} analysis uses the "
                                     "bundled NETTER-1 counts (primary analysis); remove it")
        if self.priors:
            raise SpecFieldError("priors", f"a {self.kind} analysis has fixed priors (see its "
                                 "documentation); remove [priors]")
        if self.kind == "toxicity" and self.borrowing.method != "none":
            raise SpecFieldError("borrowing.method", "a toxicity analysis does not borrow "
                                 "(its long-term MDS risk pools the series by design)")
        return self

    def prior_objects(self) -> dict[str, Prior]:
        """The spec's priors as prior objects.

        Returns
        -------
        dict[str, Prior]
            A new dict ``{parameter name: Prior}`` built from ``priors`` with
            :func:`~prrt_bayes.core.priors.prior_from_dict` (empty when the spec sets no priors).
        """
        return {name: prior_from_dict(d) for name, d in self.priors.items()}

    def with_overrides(
        self,
        *,
        draws: int | None = None,
        tune: int | None = None,
        chains: int | None = None,
        seed: int | None = None,
        borrowing: str | None = None,
        psa_draws: int | None = None,
    ) -> AnalysisSpec:
        """A copy with command-line overrides applied (validated like the file).

        Parameters
        ----------
        draws, tune, chains
            New ``sampler.draws``, ``sampler.tune`` and ``sampler.chains``. For every
            parameter, ``None`` (the default) keeps the spec's value.
        seed
            New ``seed``.
        borrowing
            New ``borrowing.method`` (one of :data:`BORROWING_METHODS`) of an analysis that
            borrows (survival, response); a toxicity spec keeps ``none``, so one
            ``--borrowing`` flag can apply to a whole run.
        psa_draws
            New ``export.psa_draws``.

        Returns
        -------
        AnalysisSpec
            A new, validated spec; this one is unchanged.

        Raises
        ------
        InputError
            An override the spec rejects (e.g. ``chains`` above 16, an unknown borrowing
            method); the file is reported as ``(command-line overrides)``.
        """
        data = self.model_dump()
        for key, value in (("draws", draws), ("tune", tune), ("chains", chains)):
            if value is not None:
                data["sampler"][key] = value
        if seed is not None:
            data["seed"] = seed
        if borrowing is not None and self.kind != "toxicity":
            data["borrowing"]["method"] = borrowing
        if psa_draws is not None:
            data["export"]["psa_draws"] = psa_draws
        return _validate(data, file="(command-line overrides)")


def _validate(data: dict, *, file: str | Path) -> AnalysisSpec:
    try:
        return AnalysisSpec(**data)
    except ValidationError as err:
        first = err.errors()[0]
        location = [str(part) for part in first["loc"]]
        original = first.get("ctx", {}).get("error")
        if isinstance(original, SpecFieldError):
            location.append(original.field)
        key = ".".join(location) or None
        reason = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            reason = "unknown key"
        raise InputError(reason, file=file, field=key) from None


def load_spec(path: str | Path) -> AnalysisSpec:
    """Read and validate one spec file; a relative ``evidence.ipd`` is resolved against it.

    Parameters
    ----------
    path
        The TOML spec file.

    Returns
    -------
    AnalysisSpec
        The validated spec; a relative ``evidence.ipd`` is replaced by the path joined to the
        spec file's folder.

    Raises
    ------
    InputError
        The file is missing, is a folder, is malformed TOML, or fails validation (unknown key,
        bad value), or ``evidence.ipd`` names a file that does not exist.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError("spec file not found", file=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a spec file", file=path) from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"malformed TOML: {err}", file=path) from None
    spec = _validate(data, file=path)
    if spec.evidence.ipd is not None:
        ipd = spec.evidence.ipd
        ipd = ipd if ipd.is_absolute() else path.parent / ipd
        if not ipd.exists():
            raise InputError(f"evidence file not found: {ipd}", file=path, field="evidence.ipd")
        data["evidence"]["ipd"] = ipd
        spec = _validate(data, file=path)
    return spec


def bundled_names() -> list[str]:
    """Names of the bundled analyses (``prrt_bayes/specs/*.toml``), in run order.

    Returns
    -------
    list[str]
        File stems: ``pfs_primary, os_interim, os_final, response, toxicity`` (those present),
        then any other bundled specs in alphabetical order.
    """
    order = ["pfs_primary", "os_interim", "os_final", "response", "toxicity"]
    names = sorted(p.name.removesuffix(".toml") for p in BUNDLED_SPECS.iterdir()
                   if p.name.endswith(".toml"))
    return [n for n in order if n in names] + [n for n in names if n not in order]


def resolve_spec(name_or_path: str) -> AnalysisSpec:
    """A bundled analysis by name, or a spec file by path.

    Parameters
    ----------
    name_or_path
        A path is taken when it ends in ``.toml`` or exists; otherwise the name of a bundled
        analysis (``prrt_bayes/specs/<name>.toml``, see :func:`bundled_names`).

    Returns
    -------
    AnalysisSpec
        The validated spec (see :func:`load_spec`).

    Raises
    ------
    InputError
        No bundled analysis of that name, or the spec file fails :func:`load_spec`.
    """
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        return load_spec(candidate)
    bundled = BUNDLED_SPECS / f"{name_or_path}.toml"
    if not bundled.is_file():
        raise InputError(
            f"unknown analysis {name_or_path!r}; bundled: {', '.join(bundled_names())} "
            "(or give a path to a .toml spec)"
        )
    return load_spec(bundled)
