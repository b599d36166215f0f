"""The toxicity analysis spec: adverse events (NEJM Table 4) and long-term MDS risk.

Example (``prrt_bayes/specs/toxicity.toml``, abridged)::

    name = "toxicity"
    kind = "toxicity"

    [evidence]
    endpoint = "adverse_events"

    [model]
    family = "berry_berry"

    [sampler]
    draws = 2000
    target_accept = 0.99

There is no ``[borrowing]``: the long-term MDS risk pools the series by design.
"""

from __future__ import annotations

from typing import Literal

from prrt_bayes.core.spec import ExportSpec, Netter1EvidenceSpec, SpecBase, StrictSection


class ToxicityEvidence(Netter1EvidenceSpec):
    """The bundled NETTER-1 safety population (111 vs 110) and the series."""

    endpoint: Literal["adverse_events"] = "adverse_events"


class ToxicityModel(StrictSection):
    """The adverse-event model family."""

    family: Literal["berry_berry"] = "berry_berry"


class ToxicitySpec(SpecBase):
    """A toxicity analysis: evidence, model family, priors, sampler and exports."""

    kind: Literal["toxicity"]
    evidence: ToxicityEvidence = ToxicityEvidence()
    model: ToxicityModel = ToxicityModel()
    export: ExportSpec = ExportSpec()
