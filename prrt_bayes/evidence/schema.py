"""Typed records for published numbers, and the checks every bundled number must pass.

A :class:`Record` is one published number with its provenance: value (or a date), unit,
source, locator (table / section / address), an optional verbatim quote, and ``derived_from``
when it was computed (e.g. a count from a reported percentage). Validation on load rejects a
count above its denominator, a percentage inconsistent with its count, a CI that does not contain
its estimate, an unknown source, and ambiguous alternatives (two primary values for one number).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

Arm = Literal["lu177", "control", "all"]
Population = Literal["midgut", "gep", "pancreatic", "mixed", "unknown"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """A publication or web page that numbers come from."""

    key: str
    citation: str
    doi: str | None = None
    pmid: str | None = None
    address: str | None = None

    @field_validator("key", "citation")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


def percent_consistent(count: float, denominator: float, percent: float) -> bool:
    """True when a printed percentage agrees with ``count / denominator``.

    Accepts the exact percentage rounded half-up *or* truncated to the printed precision (one
    decimal if the printed value has a fractional part, else integer), because published papers
    do both (e.g. 3/203 printed as 1.4%).

    Parameters
    ----------
    count
        Numerator (e.g. patients with the event).
    denominator
        Denominator; must be non-zero.
    percent
        The printed percentage (0-100, not a probability), integer or with one decimal.

    Returns
    -------
    bool
        True when ``percent`` equals ``100 * count / denominator`` rounded half-up or truncated
        to its printed precision (compared with :func:`math.isclose`).
    """
    exact = 100.0 * count / denominator
    decimals = 0 if float(percent).is_integer() else 1
    scale = 10**decimals
    rounded = math.floor(exact * scale + 0.5 + 1e-9) / scale
    truncated = math.floor(exact * scale + 1e-9) / scale
    return math.isclose(percent, rounded) or math.isclose(percent, truncated)


class Record(_Strict):
    """One published number (or date) with its provenance.

    ``value`` is None for "not reached" medians and for records that carry only a percentage or
    a date. ``lower``/``upper`` are a 95% CI or a range: ``interval`` says which, and is required
    with them.
    """

    quantity: str
    unit: str
    locator: str
    source: str | None = None
    cut: str | None = None
    study: str | None = None
    arm: Arm = "all"
    time: float | None = None
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    interval: Literal["95% CI", "range"] | None = None
    denominator: float | None = None
    denominator_unit: Literal["patients", "administrations"] | None = None
    percent: float | None = None
    p_value: str | None = None
    date: str | None = None
    quote: str | None = None
    derived_from: str | None = None
    primary: bool = True
    reason: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Record:
        if self.value is not None and self.value < 0 and self.unit != "difference":
            raise ValueError(f"value {self.value} is negative")
        if self.denominator is not None and self.value is not None:
            if self.denominator <= 0:
                raise ValueError(f"denominator {self.denominator} is not positive")
            if self.value > self.denominator:
                raise ValueError(
                    f"count {self.value:g} is above its denominator {self.denominator:g}"
                )
            if self.percent is not None and not percent_consistent(
                self.value, self.denominator, self.percent
            ):
                raise ValueError(
                    f"percentage {self.percent:g}% is inconsistent with "
                    f"{self.value:g}/{self.denominator:g} = "
                    f"{100 * self.value / self.denominator:.2f}%"
                )
        if (self.lower is not None or self.upper is not None) and self.interval is None:
            raise ValueError("lower/upper need interval = \"95% CI\" or \"range\" (borrowing "
                             "uses a 95% CI as one, never a range)")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"interval lower {self.lower:g} is above upper {self.upper:g}")
        if self.value is not None and (self.lower is not None or self.upper is not None):
            estimate = self.value
            # a count's CI is printed for the rate in percent
            if self.denominator is not None and self.percent is not None:
                estimate = self.percent
            if (self.lower is not None and estimate < self.lower) or (
                self.upper is not None and estimate > self.upper
            ):
                raise ValueError(
                    f"{self.interval or 'interval'} {self.lower}-{self.upper} does not contain "
                    f"its estimate {estimate:g}"
                )
        if self.unit == "date" and not self.date:
            raise ValueError("a record with unit 'date' needs a date")
        if self.value is None and self.percent is None and self.date is None and not self.note:
            raise ValueError("a record without value, percent or date needs a note saying why")
        return self

    def key(self) -> tuple:
        """The identity of the number this record reports (alternatives share a key).

        Returns
        -------
        tuple
            ``(cut or study, quantity, arm, time)``: ``cut`` for NETTER-1 records, ``study`` for
            series records (``time`` is None when the number is not tied to a time point).
        """
        return (self.cut or self.study, self.quantity, self.arm, self.time)


class Cut(_Strict):
    """A NETTER-1 data cut-off."""

    id: str
    description: str
    date: str | None = None


class Study(_Strict):
    """A single-arm 177Lu-DOTATATE cohort and the flags that decide how it may be borrowed."""

    id: str
    citation: str
    population: Population
    population_detail: str
    overlap_group: str
    doi: str | None = None
    pmid: str | None = None
    address: str | None = None
    response_criteria: str | None = None
    progression_endpoint: Literal["pfs", "ttp"] | None = None
    mixed_radionuclides: bool
    chemotherapy: bool
    retreatment: bool
    non_standard_dose: bool = False
    note: str | None = None
