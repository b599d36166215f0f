"""The result of one analysis: what the pipeline hands to summaries, exports, plots and the report.

Every analysis kind (survival, response, toxicity) returns an :class:`AnalysisResult`; the
exports (:mod:`prrt_bayes.outputs.hta`), plots (:mod:`prrt_bayes.outputs.plots`) and report
(:mod:`prrt_bayes.outputs.report`) read only this record, never the models themselves. Its
optional sections are typed fields (a borrowing report, a LOO table, prior-vs-posterior draws,
an AE forest), each ``None`` when the analysis has no such section.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import xarray as xr

from prrt_bayes.core.diagnostics import Diagnostics


@dataclass(frozen=True)
class BorrowingReport:
    """What an analysis borrowed from the single-arm series, how strongly, and the conflict.

    Parameters
    ----------
    method
        Borrowing method (``map``, ``robust-map``, ``power``, ``commensurate``).
    conflict_p_box
        Box's prior-predictive p-value of the trial's own estimate under the borrowed prior
        (small: prior-data conflict).
    lines
        ``(label, text)`` pairs for the report and the CLI: the prior and its scale, its ESS,
        the settings, the cohorts used and those excluded with their reasons.
    sources
        The series borrowed from, one short label each (study and its data).
    prior_ess
        The borrowed prior's effective sample size in words, with its unit and method
        (e.g. ``"12.3 events (ELIR), 10.1 (moment)"``).
    """

    method: str
    conflict_p_box: float
    lines: tuple[tuple[str, str], ...] = ()
    sources: tuple[str, ...] = ()
    prior_ess: str = ""


PRIOR_POSTERIOR_COLUMNS = ("parameter", "distribution", "x", "density", "value")
"""Columns of :attr:`AnalysisResult.prior_posterior`: prior rows carry ``x`` and ``density``
(a density on a grid), posterior rows carry ``value`` (one draw per row)."""

AE_FOREST_COLUMNS = ("group", "model", "median", "lower", "upper")
"""Columns of :attr:`AnalysisResult.ae_forest`: one risk difference per event and model."""


RECONSTRUCTION_SPREAD_COLUMNS: tuple[str, ...] = (
    "analysis", "quantity", "group", "member", "median", "lower", "upper",
)
"""Columns of ``reconstruction_spread.csv``: posterior median and 95% interval of each summary
quantity fitted to one reconstruction ensemble member (``member`` 0, 1, ...) and pooled over
the members with equal weights (``member`` ``pooled``)."""


EXTRAPOLATION_SCENARIO_COLUMNS: tuple[str, ...] = (
    "analysis", "scenario", "group", "quantity", "median", "lower", "upper",
)
"""Columns of ``extrapolation_scenarios.csv``: posterior median and 95% interval of each
extrapolated quantity (median, mean to the horizon, RMST at the end of follow-up, at 5 and 10
years) under each extrapolation scenario."""

EXTRAPOLATION_CURVE_COLUMNS: tuple[str, ...] = ("scenario", "arm", "time", "survival", "hazard")
"""Columns of :attr:`Extrapolation.curves`: posterior-median survival and hazard (per month) per
scenario, arm and time (months); scenario ``background`` is the general-population cohort."""


RECOMMENDED_SCENARIO = "recommended"
"""The scenario label of the recommended extrapolation (family ``auto``, or the spec's own)."""

WITHOUT_EXTERNAL_SCENARIO = "without_external_evidence"
"""The scenario refitted without the external survivor counts (series, user's CSV): how far the
external evidence moves the extrapolation."""

BACKGROUND_SCENARIO = "background"
"""The ``scenario`` of the general-population cohort's rows in :attr:`Extrapolation.curves`."""

SCENARIO_LABELS: dict[str, str] = {
    RECOMMENDED_SCENARIO: "recommended model",
    "recommended_without_waning": "recommended model without the spec's waning",
    "waning_linear_5y": "recommended, HR wanes linearly to 1 over 5 years after follow-up",
    "waning_exponential_10y": "recommended, HR wanes exponentially to 1 over 10 years after "
                              "follow-up",
    WITHOUT_EXTERNAL_SCENARIO: "recommended model without the external evidence",
    "without_background_mortality": "recommended model without the population mortality floor",
    "control_from_pre_crossover_2016_cut": "control arm from the 2016 cut (before crossover)",
    "piecewise_ph_constant_tail": "piecewise PH, constant hazard after the last interval",
    "piecewise_ph_series_as_median_prior": "piecewise PH, series as a prior on the 177Lu median",
    "exponential_ph": "exponential (PH)",
    "weibull_ph": "Weibull (PH)",
    "gompertz_ph": "Gompertz (PH)",
    "loglogistic_aft": "log-logistic (AFT)",
    "lognormal_aft": "log-normal (AFT)",
    "gengamma_aft": "generalised gamma (AFT)",
}
"""Each extrapolation scenario in words, for plot legends (the CSV files keep the ids)."""

POOLED_SCENARIOS = (RECOMMENDED_SCENARIO, "recommended_without_waning", "waning_linear_5y",
                    "waning_exponential_10y")
"""Scenarios derived from the recommended fits of every reconstruction member (pooled); the
others are refitted to the first (default) member."""


@dataclass(frozen=True)
class Extrapolation:
    """How a survival analysis extrapolates, and what the alternatives give.

    Parameters
    ----------
    drivers
        Lines saying what drives the tail (which hazard after which time, from which
        evidence), for the report and the CLI.
    scenarios
        One row per scenario, group and quantity (:data:`EXTRAPOLATION_SCENARIO_COLUMNS`).
    curves
        Posterior-median curves per scenario (:data:`EXTRAPOLATION_CURVE_COLUMNS`).
    follow_up
        End of the trial's follow-up (months): restricted means within it are observed, beyond
        it extrapolated.
    """

    drivers: tuple[str, ...]
    scenarios: pd.DataFrame
    curves: pd.DataFrame
    follow_up: float


@dataclass
class AnalysisResult:
    """One fitted analysis.

    Parameters
    ----------
    name
        Analysis name (e.g. ``"pfs_primary"``).
    kind
        ``"survival"``, ``"response"`` or ``"toxicity"``
        (:class:`~prrt_bayes.core.vocabulary.Kind`).
    endpoint
        ``"pfs"``, ``"os"``, ``"response"`` or ``"adverse_events"``.
    summary
        Rows in the fixed vocabulary, columns
        ``analysis, endpoint, quantity, group, mean, sd, median, lower, upper``.
    diagnostics
        Convergence record of the fit (the gate; with nested fits, the worst of them).
    tree
        The full posterior (ArviZ DataTree), with the priors and quantities attached.
    survival
        For survival analyses, arm -> posterior draws of S(t) (dims ``chain, draw, time``, time
        in months on the spec's cycle grid from 0 to the horizon).
    parameters
        Posterior draws of the model parameters on the real line (log scale for positive
        parameters), one row per draw (``chain``, ``draw`` columns first), for PSA.
    ipd
        The individual patient data the survival model was fitted to (``time, event, arm``).
    priors
        Parameter name -> description of its prior (e.g. ``"Normal(0, 2.5)"``).
    borrowing
        What was borrowed, or ``None`` without borrowing.
    loo
        PSIS-LOO table of candidate families (columns of
        :func:`prrt_bayes.survival.comparison.compare_fits`), or ``None``.
    prior_posterior
        Prior vs posterior of each borrowed parameter (:data:`PRIOR_POSTERIOR_COLUMNS`), or
        ``None``.
    ae_forest
        Adverse-event risk differences of the shrunk and unshrunk models
        (:data:`AE_FOREST_COLUMNS`), or ``None``.
    psa_pair
        For a PFS analysis, the name of the OS analysis its PSA curves are paired with (the
        spec's ``export.pair_with``), or ``None``.
    reconstruction_spread
        For an analysis pooled over the members of a reconstruction ensemble: each summary
        quantity per member and pooled (:data:`RECONSTRUCTION_SPREAD_COLUMNS`), or ``None``.
    reconstruction_members
        For an analysis of bundled pseudo-IPD (reconstructed from published summaries, not
        patient data): one row per member fitted, with the assumptions that shaped it
        (``member, hazard_shape, tail_rule, split, follow_up_reading, ...``); ``None`` for a
        user's own IPD.
    """

    name: str
    kind: str
    endpoint: str
    summary: pd.DataFrame
    diagnostics: Diagnostics
    tree: xr.DataTree | None = None
    survival: dict[str, xr.DataArray] = field(default_factory=dict)
    parameters: pd.DataFrame | None = None
    ipd: pd.DataFrame | None = None
    priors: dict[str, str] = field(default_factory=dict)
    borrowing: BorrowingReport | None = None
    loo: pd.DataFrame | None = None
    prior_posterior: pd.DataFrame | None = None
    ae_forest: pd.DataFrame | None = None
    psa_pair: str | None = None
    reconstruction_spread: pd.DataFrame | None = None
    reconstruction_members: pd.DataFrame | None = None
    extrapolation: Extrapolation | None = None
