"""The objective-response analysis spec (NETTER-1 NEJM Table 2, optional series borrowing).

Example (``prrt_bayes/specs/response.toml``, abridged)::

    name = "response"
    kind = "response"

    [evidence]
    endpoint = "response"
    population = "evaluable"   # or "itt": non-evaluable patients counted as non-responders

    [borrowing]
    method = "robust-map"
"""

from __future__ import annotations

from typing import Literal

from prrt_bayes.core.spec import (
    BorrowingSpec,
    ExportSpec,
    Netter1EvidenceSpec,
    SpecBase,
    StrictSection,
)


class ResponseEvidence(Netter1EvidenceSpec):
    """The bundled NETTER-1 response counts and the population they are read in."""

    endpoint: Literal["response"] = "response"
    population: Literal["evaluable", "itt"] = "evaluable"


class ResponseModel(StrictSection):
    """The model family: the two-arm binomial model (the only one)."""

    family: Literal["binomial"] = "binomial"


class ResponseSpec(SpecBase):
    """An objective-response analysis: population, priors, borrowing, sampler and exports."""

    kind: Literal["response"]
    evidence: ResponseEvidence = ResponseEvidence()
    model: ResponseModel = ResponseModel()
    borrowing: BorrowingSpec = BorrowingSpec()
    export: ExportSpec = ExportSpec()
