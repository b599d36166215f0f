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

from typing import Annotated, Literal

from pydantic import Field

from prrt_bayes.core.spec import BorrowingSpec, SpecBase, StrictSection


class ResponseEvidence(StrictSection):
    """The bundled NETTER-1 response counts and the population they are read in."""

    source: Literal["netter1"] = "netter1"
    endpoint: Literal["response"] = "response"
    population: Literal["evaluable", "itt"] = "evaluable"


class ResponseModel(StrictSection):
    """The model family: the two-arm binomial model (the only one)."""

    family: Literal["binomial"] = "binomial"


class ResponseExport(StrictSection):
    """PSA draws exported for the response rates."""

    psa_draws: Annotated[int, Field(gt=0)] = 1000


class ResponseSpec(SpecBase):
    """An objective-response analysis: population, priors, borrowing, sampler and exports."""

    kind: Literal["response"]
    evidence: ResponseEvidence = ResponseEvidence()
    model: ResponseModel = ResponseModel()
    borrowing: BorrowingSpec = BorrowingSpec()
    export: ResponseExport = ResponseExport()
