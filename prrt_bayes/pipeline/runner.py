"""Run analysis specs and write the results folder atomically.

``run`` fits each spec (:func:`prrt_bayes.pipeline.registry.run_analysis`), then writes
everything into a temporary sibling folder and renames it into place, so an interrupted run (Ctrl-C,
crash) never
leaves a half-written results folder, and an existing folder is replaced only with
``force=True``. Layout of the results folder:

- ``summary.csv`` / ``summary.json``: one row per estimate, columns
  ``analysis, endpoint, quantity, group, mean, sd, median, lower, upper`` (the analyses' rows,
  then the partitioned-survival life-years of the PSA, endpoint ``partitioned_survival``);
- ``diagnostics.csv``: per analysis ``max_rhat, min_ess_bulk, min_ess_tail, divergences,
  min_bfmi, max_mcse_ratio, passed`` (and ``problems``); ``max_mcse_ratio`` is the largest
  Monte Carlo standard error of a reported quantity over its posterior SD (gate: <= 0.1);
- ``<analysis>/posterior.nc``: the posterior DataTree with the spec and package version,
  compressed, reported quantities exact and stored once (see
  :func:`prrt_bayes.core.posterior.save_posterior`), and ``<analysis>/loo.csv``, the PSIS-LOO
  table, when the spec lists candidate families;
- ``psa/``: ``parameters_<analysis>.csv``, ``survival.parquet`` (long table, float32),
  ``life_years.csv``, ``pfs_os_pairs.csv`` and ``psa.xlsx`` (one wide sheet per curve); see
  :mod:`prrt_bayes.outputs.hta`. Only converged analyses are exported (an unconverged fit is
  not a result: the report and the workbook's README name those left out); no ``psa/`` when
  none converged;
- ``reconstruction_spread.csv``: for analyses pooled over a reconstruction ensemble, each
  summary quantity per member and pooled;
- ``extrapolation_scenarios.csv``: per survival analysis and extrapolation scenario (the
  recommended model, constant-tail piecewise PH, the six parametric families, waning, without
  external evidence, without background mortality, ...) the median, mean to the horizon, RMST at
  the end of follow-up and at 5 and 10 years (columns ``analysis, scenario, group, quantity,
  median, lower, upper``); the same rows per analysis in ``<analysis>/extrapolation_scenarios.csv``
  with the posterior-median curves in ``<analysis>/extrapolation_curves.csv`` (``scenario, arm,
  time, survival, hazard``; scenario ``background`` is the general population);
- ``plots/``, ``report.html``: figures and the report.

About 65 MB for the bundled analyses (1,000 PSA samples, 4 chains per reconstruction member).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from prrt_bayes.core.posterior import save_posterior
from prrt_bayes.core.results import AnalysisResult
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.core.version import __version__
from prrt_bayes.pipeline.folders import check_out_dir, write_atomically
from prrt_bayes.pipeline.parallel import fit_parallel
from prrt_bayes.pipeline.specs import AnalysisSpec

DIAGNOSTIC_COLUMNS = ("analysis", "max_rhat", "min_ess_bulk", "min_ess_tail", "divergences",
                      "min_bfmi", "max_mcse_ratio", "passed", "problems")


@dataclass
class RunOutcome:
    """What a run produced: results, analyses that failed to fit, and the folder written."""

    out_dir: Path
    results: list[AnalysisResult]
    errors: dict[str, str] = field(default_factory=dict)
    allow_unconverged: bool = False
    """Export the PSA draws of analyses that failed their convergence checks too (each PSA file
    then says so first); by default they are left out."""

    @property
    def summary(self) -> pd.DataFrame:
        """All summary rows of all analyses."""
        frames = [r.summary for r in self.results]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=list(SUMMARY_COLUMNS))

    @property
    def diagnostics(self) -> pd.DataFrame:
        """One row per analysis (failed fits included, with passed = False)."""
        rows = []
        for result in self.results:
            d = result.diagnostics
            rows.append({"analysis": result.name, "max_rhat": d.max_rhat,
                         "min_ess_bulk": d.min_ess_bulk, "min_ess_tail": d.min_ess_tail,
                         "divergences": d.divergences, "min_bfmi": d.min_bfmi,
                         "max_mcse_ratio": d.max_mcse_ratio, "passed": d.passed,
                         "problems": "; ".join(d.problems)})
        for name, error in self.errors.items():
            rows.append({"analysis": name, "passed": False, "problems": f"fit failed: {error}"})
        return pd.DataFrame(rows, columns=list(DIAGNOSTIC_COLUMNS))

    @property
    def all_passed(self) -> bool:
        """True when every analysis fitted and passed its convergence checks."""
        return not self.errors and all(r.diagnostics.passed for r in self.results)


def run(
    specs: Sequence[AnalysisSpec],
    out_dir: Path,
    *,
    force: bool = False,
    jobs: int | None = None,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[str], None] | None = None,
    allow_unconverged: bool = False,
) -> RunOutcome:
    """Fit every spec and write the results folder.

    Parameters
    ----------
    specs
        Validated analysis specs (names must be unique).
    out_dir
        Results folder (layout in the module docstring); written via a temporary sibling.
    force
        Replace an existing ``out_dir``; without it an existing folder is an error, checked
        before any fit.
    jobs
        Analyses fitted in parallel worker processes (default:
        :func:`prrt_bayes.pipeline.parallel.default_jobs`, one per four cores, capped at the
        number of specs; ``1``: in this process). Results do not depend on ``jobs`` (fits
        are seeded).
    on_start, on_done
        Progress callbacks, called with the analysis name (see
        :func:`prrt_bayes.pipeline.parallel.fit_parallel`); ``None``: no callback.
    allow_unconverged
        Export the PSA draws of unconverged analyses too, marked in every PSA file
        (:func:`prrt_bayes.outputs.hta.write_psa`); default: left out.

    Returns
    -------
    RunOutcome
        The fitted results, ``errors`` ``{name: "ExceptionType: message"}`` for fits that
        raised anything other than bad input (the others still run and are written), and
        ``out_dir``.

    Raises
    ------
    InputError
        An existing ``out_dir`` without ``force``, an unwritable parent, duplicate analysis
        names, or bad input in any spec (nothing is written then).
    """
    check_out_dir(out_dir, force=force)
    results, errors = fit_parallel(specs, jobs, on_start=on_start, on_done=on_done)
    outcome = RunOutcome(out_dir, results, errors, allow_unconverged)
    write_results(outcome, {s.name: s for s in specs}, force=force)
    return outcome


def write_results(outcome: RunOutcome, specs: dict[str, AnalysisSpec], *, force: bool) -> None:
    """Write every output into a temporary folder, then move it into place atomically.

    See :func:`prrt_bayes.pipeline.folders.write_atomically`: an interrupted run leaves no
    half-written
    folder, and an existing folder is replaced only with ``force``.

    Parameters
    ----------
    outcome
        The run's results; ``outcome.out_dir`` is the destination.
    specs
        ``{analysis name: spec}`` for every result (PSA draws and the spec saved with each
        posterior).
    force
        Replace an existing destination folder.

    Raises
    ------
    InputError
        The destination exists and ``force`` is false (checked after writing the staging
        folder, which is then removed).
    """
    write_atomically(outcome.out_dir, lambda folder: _write_all(outcome, specs, folder),
                     force=force)


def _write_all(outcome: RunOutcome, specs: dict[str, AnalysisSpec], folder: Path) -> None:
    from prrt_bayes.evidence import list_sources
    from prrt_bayes.outputs.hta import write_psa
    from prrt_bayes.outputs.plots import render_all, write_pngs
    from prrt_bayes.outputs.report import write_report
    from prrt_bayes.outputs.safe_text import escape_cell

    psa_draws = min((specs[r.name].export.psa_draws for r in outcome.results), default=1000)
    exportable = [r for r in outcome.results
                  if (r.diagnostics.passed or outcome.allow_unconverged)
                  and (r.parameters is not None or r.survival)]
    psa = write_psa(outcome.results, folder, n_draws=psa_draws,
                    allow_unconverged=outcome.allow_unconverged) if exportable else None
    life_years = psa.life_years if psa is not None else pd.DataFrame()
    summary = pd.concat([f for f in (outcome.summary, life_years) if not f.empty],
                        ignore_index=True)
    summary.map(escape_cell).to_csv(folder / "summary.csv", index=False, float_format="%.10g")
    (folder / "summary.json").write_text(
        json.dumps(json.loads(summary.to_json(orient="records", double_precision=10)), indent=2)
        + "\n")
    outcome.diagnostics.map(escape_cell).to_csv(folder / "diagnostics.csv", index=False,
                                                float_format="%.10g")
    spread = [r.reconstruction_spread for r in outcome.results
              if r.reconstruction_spread is not None]
    if spread:
        pd.concat(spread, ignore_index=True).map(escape_cell).to_csv(
            folder / "reconstruction_spread.csv", index=False, float_format="%.10g")
    scenarios = [r.extrapolation.scenarios for r in outcome.results
                 if r.extrapolation is not None and not r.extrapolation.scenarios.empty]
    if scenarios:
        pd.concat(scenarios, ignore_index=True).map(escape_cell).to_csv(
            folder / "extrapolation_scenarios.csv", index=False, float_format="%.10g")
    for result in outcome.results:
        (folder / result.name).mkdir()
        extrapolation = result.extrapolation
        if extrapolation is not None and not extrapolation.scenarios.empty:
            extrapolation.scenarios.map(escape_cell).to_csv(
                folder / result.name / "extrapolation_scenarios.csv", index=False,
                float_format="%.10g")
            extrapolation.curves.map(escape_cell).to_csv(
                folder / result.name / "extrapolation_curves.csv", index=False,
                float_format="%.7g")
        if result.loo is not None:
            result.loo.map(escape_cell).to_csv(folder / result.name / "loo.csv",
                                                         index=False, float_format="%.10g")
        if result.tree is not None:
            save_posterior(result.tree, folder / result.name / "posterior.nc",
                           spec=specs[result.name].model_dump(mode="json"), version=__version__)
    figures = render_all(outcome.results)  # drawn once: the PNG files and the report
    write_pngs(figures, folder / "plots")
    write_report(outcome.results, folder / "report.html", provenance=list_sources(),
                 version=__version__, psa=psa, figures=figures)
