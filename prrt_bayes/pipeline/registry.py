"""Analysis kinds: each turns a validated spec into an :class:`~prrt_bayes.core.results.AnalysisResult`.

The runner looks the kind up in :data:`ANALYSES`; adding a kind means adding a module with a
``run(spec) -> AnalysisResult`` function and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable

from prrt_bayes.core.results import AnalysisResult
from prrt_bayes.pipeline.specs import AnalysisSpec


def _survival(spec: AnalysisSpec) -> AnalysisResult:
    from prrt_bayes.survival.analysis import run

    return run(spec)


def _response(spec: AnalysisSpec) -> AnalysisResult:
    from prrt_bayes.response.analysis import run

    return run(spec)


def _toxicity(spec: AnalysisSpec) -> AnalysisResult:
    from prrt_bayes.toxicity.analysis import run

    return run(spec)


ANALYSES: dict[str, Callable[[AnalysisSpec], AnalysisResult]] = {
    "survival": _survival,
    "response": _response,
    "toxicity": _toxicity,
}
