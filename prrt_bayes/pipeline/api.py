"""The notebook API: ``pb.analyse("pfs_primary", draws=500)`` returns a typed, plottable result.

One call does what ``prrt-bayes run NAME`` does for one analysis, without writing anything until
asked::

    import prrt_bayes as pb

    pfs = pb.analyse("pfs_primary", draws=500)      # a bundled name, a spec path or a spec
    pfs.summary()                                   # the summary.csv rows of this analysis
    pfs.diagnostics.passed                          # the convergence gate's verdict
    pfs.plot_km()                                   # a matplotlib Figure
    pfs.to_results("results_pfs")                   # the results folder of `prrt-bayes run`
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from prrt_bayes.core.diagnostics import Diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.results import AnalysisResult, BorrowingReport
from prrt_bayes.outputs import plots
from prrt_bayes.pipeline.registry import run_analysis
from prrt_bayes.pipeline.specs import AnalysisSpec, resolve_spec


@dataclass
class Analysis:
    """A fitted analysis with its spec: summary, diagnostics, figures and the results folder.

    Parameters
    ----------
    spec
        The validated spec that was fitted (overrides applied).
    result
        The typed result (every section the exports, plots and report read).
    """

    spec: AnalysisSpec
    result: AnalysisResult

    @property
    def name(self) -> str:
        """The analysis name."""
        return self.result.name

    @property
    def diagnostics(self) -> Diagnostics:
        """The convergence gate's record (``passed``, ``problems``, R-hat, ESS, ...)."""
        return self.result.diagnostics

    @property
    def tree(self) -> xr.DataTree | None:
        """The posterior DataTree (priors and quantities attached)."""
        return self.result.tree

    @property
    def borrowing(self) -> BorrowingReport | None:
        """What was borrowed from the series, or ``None``."""
        return self.result.borrowing

    def summary(self) -> pd.DataFrame:
        """The rows this analysis writes to ``summary.csv``.

        Returns
        -------
        pandas.DataFrame
            Columns ``analysis, endpoint, quantity, group, mean, sd, median, lower, upper``.
        """
        return self.result.summary.copy()

    def estimate(self, quantity: str, group: str | None = None) -> pd.Series:
        """One summary row, by quantity (and group; default: the first row of the quantity).

        Parameters
        ----------
        quantity
            A quantity name (:mod:`prrt_bayes.core.vocabulary`), e.g. ``"hazard_ratio"``.
        group
            An arm or contrast label; ``None`` takes the first row of that quantity.

        Returns
        -------
        pandas.Series
            The row (``median``, ``lower``, ``upper``, ...).

        Raises
        ------
        KeyError
            No such row.
        """
        rows = self.result.summary[self.result.summary["quantity"] == quantity]
        if group is not None:
            rows = rows[rows["group"] == group]
        if rows.empty:
            raise KeyError(f"{self.name} has no row {str(quantity)!r}"
                           + ("" if group is None else f" for group {str(group)!r}"))
        return rows.iloc[0]

    def plot_km(self) -> Figure:
        """Kaplan-Meier curves of the data under the posterior survival bands (survival only).

        Returns
        -------
        matplotlib.figure.Figure
            See :func:`prrt_bayes.outputs.plots.km_plot`.
        """
        return plots.km_plot(self.result)

    def plot_extrapolation(self) -> Figure:
        """Posterior survival to the horizon (survival only).

        Returns
        -------
        matplotlib.figure.Figure
            See :func:`prrt_bayes.outputs.plots.extrapolation_plot`.
        """
        return plots.extrapolation_plot(self.result)

    def plot_hazard_ratios(self) -> Figure:
        """Forest plot of this analysis' hazard ratios.

        Returns
        -------
        matplotlib.figure.Figure
            See :func:`prrt_bayes.outputs.plots.forest_hazard_ratios`.
        """
        return plots.forest_hazard_ratios([self.result])

    def plot_ae_forest(self) -> Figure:
        """Forest plot of adverse-event risk differences (toxicity only).

        Returns
        -------
        matplotlib.figure.Figure
            See :func:`prrt_bayes.outputs.plots.forest_risk_differences`.
        """
        return plots.forest_risk_differences(self.result)

    def plot_prior_posterior(self) -> Figure:
        """Prior vs posterior of the borrowed parameter (analyses that borrow).

        Returns
        -------
        matplotlib.figure.Figure
            See :func:`prrt_bayes.outputs.plots.prior_posterior_plot`.
        """
        return plots.prior_posterior_plot(self.result)

    def to_results(self, folder: str | Path, *, force: bool = False) -> Path:
        """Write the results folder ``prrt-bayes run`` writes, for this analysis alone.

        Parameters
        ----------
        folder
            The results folder (written atomically).
        force
            Replace an existing folder.

        Returns
        -------
        pathlib.Path
            ``folder``.

        Raises
        ------
        InputError
            The folder exists and ``force`` is false, or it cannot be written.
        """
        from prrt_bayes.pipeline.folders import check_out_dir
        from prrt_bayes.pipeline.runner import RunOutcome, write_results

        folder = Path(folder)
        check_out_dir(folder, force=force)
        write_results(RunOutcome(folder, [self.result]), {self.name: self.spec}, force=force)
        return folder


def analyse(
    analysis: str | Path | AnalysisSpec,
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
    borrowing: str | None = None,
    backend: str | None = None,
    scenarios: bool | None = None,
) -> Analysis:
    """Fit one analysis: a bundled name, a spec file or a spec object, with overrides.

    Parameters
    ----------
    analysis
        ``"pfs_primary"`` (see ``prrt-bayes run --list``), a path to a ``.toml`` spec, or a
        spec object.
    draws, tune, chains, seed
        Sampler overrides (``None`` keeps the spec's value).
    borrowing
        Borrowing method override for kinds that borrow (``none``, ``map``, ``robust-map``,
        ``power``, ``commensurate``).
    backend
        Sampler backend override (``auto``, ``nutpie-c``, ``nutpie-numba``, ``nutpie-jax``,
        ``pymc``).
    scenarios
        Survival analyses: fit the extrapolation scenarios (``False`` is faster; the tail
        drivers are still stated). ``None`` keeps the spec's ``export.scenarios``.

    Returns
    -------
    Analysis
        The fitted analysis.

    Raises
    ------
    InputError
        An unknown analysis, a bad spec or a bad override (e.g. ``borrowing`` for a survival
        analysis of family ``auto``, which uses the series as survivor counts).
    """
    spec = analysis if not isinstance(analysis, str | Path) else resolve_spec(analysis)
    if borrowing is not None and spec.kind == "survival" and not spec.accepts_borrowing():
        raise InputError(f"{spec.name} uses family 'auto', which already uses the single-arm "
                         "series as survivor counts; borrowing through a prior on the median "
                         "needs model.family = 'ph_piecewise'", field="borrowing")
    spec = spec.with_overrides(draws=draws, tune=tune, chains=chains, seed=seed,
                               borrowing=borrowing, backend=backend, scenarios=scenarios)
    return Analysis(spec, run_analysis(spec))
