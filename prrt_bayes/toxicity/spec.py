"""The toxicity analysis spec: adverse events (NEJM Table 4) and long-term MDS risk.

Example (``prrt_bayes/specs/toxicity.toml``, abridged)::

    name = "toxicity"
    kind = "toxicity"

    [evidence]
    endpoint = "adverse_events"

    [model]
    family = "berry_berry"

    [sampler]
    draws = 4000
    target_accept = 0.99

``family`` is the adverse-event model (:mod:`prrt_bayes.toxicity.adverse_events`):
``"berry_berry"`` (Berry & Berry 2004 with its point mass at no difference, the default),
``"xia_1a"`` (the same hierarchy without the point mass, Xia 2011 Model 1a) or
``"independent"`` (unshrunk, exact conjugate draws). There is no ``[borrowing]``: the
long-term MDS risk pools the series by design.
"""

from __future__ import annotations

from typing import Literal

from prrt_bayes.core.spec import ExportSpec, Netter1EvidenceSpec, SpecBase, StrictSection


class ToxicityEvidence(Netter1EvidenceSpec):
    """The bundled NETTER-1 safety population (111 vs 110) and the series."""

    endpoint: Literal["adverse_events"] = "adverse_events"


class ToxicityModel(StrictSection):
    """The adverse-event model: ``"berry_berry"`` (default), ``"xia_1a"`` or ``"independent"``."""

    family: Literal["berry_berry", "xia_1a", "independent"] = "berry_berry"


class ToxicitySpec(SpecBase):
    """A toxicity analysis: evidence, model family, priors, sampler and exports."""

    kind: Literal["toxicity"]
    evidence: ToxicityEvidence = ToxicityEvidence()
    model: ToxicityModel = ToxicityModel()
    export: ExportSpec = ExportSpec()
