"""The survival (PFS, OS) analysis spec: evidence, model family, borrowing and HTA exports.

Example (abridged from ``prrt_bayes/specs/pfs_primary.toml``)::

    name = "pfs_primary"
    kind = "survival"
    seed = 20170112

    [evidence]
    endpoint = "pfs"
    cut = "primary"          # a bundled NETTER-1 reconstruction, or ipd = "my_ipd.csv"

    [model]
    family = "auto"          # the recommended extrapolation (docs/extrapolation.md)

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


RECOMMENDED_FAMILY = "auto"
"""The recommended extrapolation: the flexible (M-spline) excess hazard of
:mod:`prrt_bayes.survival.flexible` with general-population mortality and, where the endpoint
has them, the single-arm series as survivor counts (``docs/extrapolation.md``)."""


def survival_families() -> tuple[str, ...]:
    """Families a survival spec may name: ``auto``, ``ph_piecewise`` and the parametric models.

    Returns
    -------
    tuple[str, ...]
        ``"auto"`` (:data:`RECOMMENDED_FAMILY`), ``"ph_piecewise"``, then :data:`DEFAULT_MODELS`
        (e.g. ``"weibull_ph"``, ``"lognormal_aft"``).
    """
    return (RECOMMENDED_FAMILY, "ph_piecewise", *DEFAULT_MODELS)


class SurvivalEvidence(StrictSection):
    """Where the data come from: a bundled NETTER-1 reconstruction or a user's IPD CSV.

    ``reconstruction`` (bundled data only): ``"ensemble"`` fits every member of the
    reconstruction ensemble and pools the draws with equal weights (the default: the posterior
    carries the reconstruction's own uncertainty), ``"default"`` the default member only, an
    integer ``k`` the k-th member (:func:`prrt_bayes.reconstruct.netter1_ipd.netter1_ensemble`).

    Long-term evidence for the recommended model (``family = "auto"``): ``external`` names a CSV
    of survivor counts (``start, stop, n, r[, arm]``, months: r of n alive at ``start`` alive
    at ``stop``; :func:`prrt_bayes.survival.external.read_external_counts`). The cohort's
    ``age_mean``, ``age_sd`` (years) and ``male_fraction`` set the general-population mortality
    floor, from ``life_table`` (a CSV with ``age, sex, qx`` or ``age, sex, mx``) or, by default,
    the bundled US period life table; on the bundled NETTER-1 data the cohort defaults to each
    arm's NEJM 2017 Table 1 figures. A user's IPD without a cohort runs without a floor and
    says so.
    """

    source: Literal["netter1"] | None = "netter1"
    endpoint: Literal["pfs", "os"]
    cut: Literal["primary", "update_2016", "final"] | None = None
    ipd: Path | None = None
    treatment_arm: str = Arm.LU177.value
    reconstruction: Literal["ensemble", "default"] | Annotated[int, Field(ge=0)] = "ensemble"
    external: Path | None = None
    age_mean: Annotated[float, Field(gt=0)] | None = None
    age_sd: Annotated[float, Field(ge=0)] | None = None
    male_fraction: Annotated[float, Field(ge=0, le=1)] | None = None
    life_table: Path | None = None

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
        cohort = {"age_mean": self.age_mean, "age_sd": self.age_sd,
                  "male_fraction": self.male_fraction}
        given = [key for key, value in cohort.items() if value is not None]
        if given and len(given) < 3:
            missing = sorted(set(cohort) - set(given))
            raise SpecFieldError(missing[0], "the cohort needs age_mean, age_sd and "
                                 "male_fraction together")
        if self.life_table is not None and not given and self.ipd is not None:
            raise SpecFieldError("life_table", "needs the cohort's age_mean, age_sd and "
                                 "male_fraction")
        return self


class WaningSpec(StrictSection):
    """Treatment-effect waning (``[model.waning]``): the (excess-)hazard ratio wanes to 1,
    ``linear``-ly or ``exponential``-ly, between ``start`` and ``end`` months (both after the
    end of follow-up; :class:`prrt_bayes.survival.flexible.Waning`)."""

    kind: Literal["linear", "exponential"]
    start: Annotated[float, Field(ge=0)]
    end: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _ordered(self) -> WaningSpec:
        if self.end <= self.start:
            raise SpecFieldError("end", f"waning must end after it starts ({self.start:g} "
                                 "months)")
        return self


class SurvivalModel(StrictSection):
    """Model family and options.

    ``family = "auto"`` is the recommended extrapolation (:data:`RECOMMENDED_FAMILY`):
    ``knots`` interior spline knots at event-time quantiles (default 5); ``series`` uses the
    single-arm series as survivor counts on the 177Lu-Dotatate arm (default: on for the bundled
    NETTER-1 data, off for a user's IPD); ``background = false`` drops the general-population
    floor; ``waning`` (``[model.waning]``) makes the excess-hazard ratio wane to 1.
    ``intervals`` / ``breakpoints``: baseline intervals of ``ph_piecewise`` (default: 6 at
    event-time quantiles); ``smoothing = false`` drops its random-walk prior (independent
    interval hazards); ``time_varying_hr``: one log HR per period (non-PH variant; ``auto`` and
    ``ph_piecewise``); ``candidates``: extra parametric families fitted for the PSIS-LOO
    comparison table.
    """

    family: str
    intervals: Annotated[int, Field(ge=1, le=50)] = 6
    breakpoints: list[Annotated[float, Field(gt=0)]] | None = None
    time_varying_hr: bool = False
    smoothing: bool = True
    candidates: list[str] = Field(default_factory=list)
    knots: Annotated[int, Field(ge=1, le=20)] = 5
    series: bool | None = None
    background: bool = True
    waning: WaningSpec | None = None

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
            if candidate not in families[1:]:
                raise SpecFieldError("candidates", f"unknown candidate family {candidate!r}")
        if self.family != RECOMMENDED_FAMILY:
            for key in ("series", "waning"):
                if getattr(self, key) is not None:
                    raise SpecFieldError(key, f"applies to family '{RECOMMENDED_FAMILY}' only")
        return self


class SurvivalExport(StrictSection):
    """Horizon and cycle of the exported curves, PSA draws, landmarks and the PSA pairing.

    ``pair_with``: for a PFS analysis, the name of the OS analysis whose curves bound it in the
    PSA (PFS <= OS per draw); ``None`` leaves it unpaired. ``scenarios``: fit the extrapolation
    scenarios (``extrapolation_scenarios.csv``; default on).
    """

    horizon_months: Annotated[float, Field(gt=0)] = 360.0
    cycle_months: Annotated[float, Field(gt=0)] = 1.0
    psa_draws: Annotated[int, Field(gt=0)] = 1000
    landmarks_months: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [12.0, 24.0, 60.0])
    pair_with: str | None = None
    scenarios: bool = True

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

    def accepts_borrowing(self) -> bool:
        """Family ``auto`` uses the series as survivor counts; ``[borrowing]`` is for the others.

        Returns
        -------
        bool
            ``False`` for family ``auto``.
        """
        return self.model.family != RECOMMENDED_FAMILY

    @model_validator(mode="after")
    def _auto_borrows_by_counts(self) -> SurvivalSpec:
        if self.model.family == RECOMMENDED_FAMILY and self.borrowing.method != "none":
            raise SpecFieldError("borrowing.method", "family 'auto' already uses the single-arm "
                                 "series, as survivor counts (model.series); [borrowing] "
                                 "applies to family 'ph_piecewise'")
        return self

    @model_validator(mode="after")
    def _pairing(self) -> SurvivalSpec:
        if self.export.pair_with is not None and self.evidence.endpoint != "pfs":
            raise SpecFieldError("export.pair_with", "pairs a PFS analysis with an OS analysis; "
                                 "remove it from an OS analysis")
        return self
