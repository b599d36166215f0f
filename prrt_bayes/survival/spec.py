"""The survival (PFS, OS) analysis spec: evidence, model family, borrowing and HTA exports.

Example (abridged from ``prrt_bayes/specs/pfs_primary.toml``)::

    name = "pfs_primary"
    kind = "survival"
    seed = 20170112

    [evidence]
    endpoint = "pfs"
    cut = "primary"          # a bundled NETTER-1 reconstruction, or ipd = "my_ipd.csv"

    [model]
    family = "ph_piecewise"
    intervals = 6

    [priors.log_hr]
    dist = "Normal"
    mu = 0.0
    sigma = 2.0

    [export]
    horizon_months = 360
    cycle_months = 1
    pair_with = "os_final"   # the OS analysis that bounds these PFS curves in the PSA
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from prrt_bayes.core.spec import BorrowingSpec, SpecBase, SpecFieldError, StrictSection
from prrt_bayes.core.vocabulary import Arm

DEFAULT_MODELS: tuple[str, ...] = (
    "exponential_ph",
    "weibull_ph",
    "gompertz_ph",
    "loglogistic_aft",
    "lognormal_aft",
    "gengamma_aft",
)
"""The two-arm parametric models of :mod:`prrt_bayes.survival.parametric` (NICE DSU TSD 14
families), named here so that validating a spec needs no model code."""


def survival_families() -> tuple[str, ...]:
    """Families a survival spec may name: ``ph_piecewise`` and the two-arm parametric models.

    Returns
    -------
    tuple[str, ...]
        ``"ph_piecewise"`` followed by :data:`DEFAULT_MODELS` (e.g. ``"weibull_ph"``,
        ``"lognormal_aft"``).
    """
    return ("ph_piecewise", *DEFAULT_MODELS)


class SurvivalEvidence(StrictSection):
    """Where the data come from: a bundled NETTER-1 reconstruction or a user's IPD CSV.

    ``reconstruction`` (bundled data only): ``"ensemble"`` fits every member of the
    reconstruction ensemble and pools the draws with equal weights (the default: the posterior
    carries the reconstruction's own uncertainty), ``"default"`` the default member only, an
    integer ``k`` the k-th member (:func:`prrt_bayes.reconstruct.netter1_ipd.netter1_ensemble`).
    """

    source: Literal["netter1"] | None = "netter1"
    endpoint: Literal["pfs", "os"]
    cut: Literal["primary", "update_2016", "final"] | None = None
    ipd: Path | None = None
    treatment_arm: str = Arm.LU177.value
    reconstruction: Literal["ensemble", "default"] | Annotated[int, Field(ge=0)] = "ensemble"

    @model_validator(mode="after")
    def _one_source(self) -> SurvivalEvidence:
        if self.ipd is None and self.cut is None:
            raise ValueError("a survival analysis needs 'cut' (bundled data) or 'ipd' (CSV)")
        if self.ipd is None and self.endpoint == "pfs" and self.cut != "primary":
            raise ValueError("NETTER-1 PFS is bundled for cut 'primary' only")
        if self.ipd is not None and self.reconstruction != "ensemble":
            raise SpecFieldError("reconstruction", "chooses among the bundled NETTER-1 "
                                 "reconstructions; a user's IPD is fitted as it is")
        if self.ipd is None and self.treatment_arm != Arm.LU177:
            raise SpecFieldError("treatment_arm", "applies to a user's IPD only (the bundled "
                                 "NETTER-1 arms are 'lu177' and 'control')")
        return self


class SurvivalModel(StrictSection):
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

    @model_validator(mode="after")
    def _known_families(self) -> SurvivalModel:
        families = survival_families()
        if self.family not in families:
            raise SpecFieldError("family", f"unknown survival family {self.family!r}; known: "
                                 f"{', '.join(families)}")
        for candidate in self.candidates:
            if candidate not in families:
                raise SpecFieldError("candidates", f"unknown candidate family {candidate!r}")
        return self


class SurvivalExport(StrictSection):
    """Horizon and cycle of the exported curves, PSA draws, landmarks and the PSA pairing.

    ``pair_with``: for a PFS analysis, the name of the OS analysis whose curves bound it in the
    PSA (PFS <= OS per draw); ``None`` leaves it unpaired.
    """

    horizon_months: Annotated[float, Field(gt=0)] = 360.0
    cycle_months: Annotated[float, Field(gt=0)] = 1.0
    psa_draws: Annotated[int, Field(gt=0)] = 1000
    landmarks_months: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [12.0, 24.0, 60.0])
    pair_with: str | None = None

    @model_validator(mode="after")
    def _whole_cycles(self) -> SurvivalExport:
        """The per-cycle curves end at the horizon: it must be a whole number of cycles."""
        n_cycles = self.horizon_months / self.cycle_months
        if abs(n_cycles - round(n_cycles)) > 1e-9:
            raise SpecFieldError("horizon_months", f"{self.horizon_months:g} months is not a "
                                 f"whole number of {self.cycle_months:g}-month cycles")
        return self


class SurvivalSpec(SpecBase):
    """A PFS or OS analysis: evidence, family, priors, borrowing, sampler, seed and exports."""

    kind: Literal["survival"]
    evidence: SurvivalEvidence
    model: SurvivalModel
    borrowing: BorrowingSpec = BorrowingSpec()
    export: SurvivalExport = SurvivalExport()

    @model_validator(mode="after")
    def _pairing(self) -> SurvivalSpec:
        if self.export.pair_with is not None and self.evidence.endpoint != "pfs":
            raise SpecFieldError("export.pair_with", "pairs a PFS analysis with an OS analysis; "
                                 "remove it from an OS analysis")
        return self
