"""One entry per analysis kind: its spec class, how it is fitted, and its key estimate.

Everything the pipeline knows about a kind is here (the CLI, runner, parallel workers and
sweeps read it); adding a kind means a subpackage with ``spec.py`` and ``analysis.py`` (a
``run(spec) -> AnalysisResult`` function) and one :class:`KindEntry`. The fitting modules are
imported on first use, so listing or validating specs does not load the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from prrt_bayes.core.diagnostics import with_quantity_check
from prrt_bayes.core.results import AnalysisResult
from prrt_bayes.core.vocabulary import Arm, Kind, Quantity
from prrt_bayes.pipeline.specs import SPEC_CLASSES, AnalysisSpec


@dataclass(frozen=True)
class KindEntry:
    """What the pipeline needs to know about one analysis kind.

    Parameters
    ----------
    kind
        The kind (``spec.kind``).
    analysis_module
        Module with ``run(spec) -> AnalysisResult`` (imported on first use).
    key_estimates
        ``(quantity, group)`` candidates for the one estimate a sweep plots and the CLI
        headlines, first found wins (``group=None``: the first row of that quantity, i.e. the
        contrast).
    """

    kind: Kind
    analysis_module: str
    key_estimates: tuple[tuple[str, str | None], ...]

    @property
    def spec_class(self) -> type:
        """The kind's spec class."""
        return SPEC_CLASSES[self.kind]

    def run(self, spec: AnalysisSpec) -> AnalysisResult:
        """Fit one spec of this kind.

        Parameters
        ----------
        spec
            A validated spec whose ``kind`` is this entry's.

        Returns
        -------
        AnalysisResult
            The fitted analysis.
        """
        return import_module(self.analysis_module).run(spec)


REGISTRY: dict[str, KindEntry] = {
    Kind.SURVIVAL: KindEntry(Kind.SURVIVAL, "prrt_bayes.survival.analysis",
                             ((Quantity.HAZARD_RATIO, None), (Quantity.TIME_RATIO, None))),
    Kind.RESPONSE: KindEntry(Kind.RESPONSE, "prrt_bayes.response.analysis",
                             ((Quantity.RESPONSE_RATE, Arm.LU177),)),
    Kind.TOXICITY: KindEntry(Kind.TOXICITY, "prrt_bayes.toxicity.analysis",
                             ((Quantity.RISK_DIFFERENCE, None),)),
}
"""Kind -> its entry."""


def run_analysis(spec: AnalysisSpec) -> AnalysisResult:
    """Fit one analysis spec with its kind's entry, and gate its reported quantities.

    Besides each fit's own convergence checks, every reported quantity's Monte Carlo standard
    error must be small against its posterior spread
    (:func:`prrt_bayes.core.diagnostics.with_quantity_check`): a converged fit can still carry
    a derived number (a lifetime mean, a tail median) that its draws pin down poorly.

    Parameters
    ----------
    spec
        A validated spec.

    Returns
    -------
    AnalysisResult
        The fitted analysis, its diagnostics including the MCSE check.
    """
    result = REGISTRY[spec.kind].run(spec)
    result.diagnostics = with_quantity_check(result.diagnostics, result.tree,
                                             result.summary)
    return result
