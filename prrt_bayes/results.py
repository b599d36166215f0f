"""The result of one analysis: what the runner hands to summaries, exports, plots and the report.

Every analysis kind (survival, response, toxicity) returns an :class:`AnalysisResult`; the
exports (:mod:`prrt_bayes.hta`), plots (:mod:`prrt_bayes.plots`) and report
(:mod:`prrt_bayes.report`) read only this record, never the models themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import xarray as xr

from prrt_bayes.diagnostics import Diagnostics


@dataclass
class AnalysisResult:
    """One fitted analysis.

    Attributes
    ----------
    name : analysis name (e.g. ``"pfs_primary"``).
    kind : ``"survival"``, ``"response"`` or ``"toxicity"``.
    endpoint : ``"pfs"``, ``"os"``, ``"response"`` or ``"adverse_events"``.
    summary : rows in the fixed vocabulary, columns
        ``analysis, endpoint, quantity, group, mean, sd, median, lower, upper``.
    diagnostics : convergence record of the fit (the gate).
    tree : the full posterior (ArviZ DataTree), with the spec, priors and package version in its
        attributes.
    survival : for survival analyses, arm -> posterior draws of S(t) (dims ``chain, draw, time``,
        time in months on the spec's cycle grid from 0 to the horizon).
    parameters : posterior draws of the model parameters on the real line (log scale for
        positive parameters), one row per draw (``chain``, ``draw`` columns first), for PSA.
    ipd : the individual patient data the survival model was fitted to (``time, event, arm``).
    priors : parameter name -> description of the prior (e.g. ``"Normal(0, 2.5)"``).
    borrowing : description of the borrowing used (method, strength, prior-data conflict),
        empty when none.
    extras : kind-specific tables for plots and the report (e.g. ``"ae_forest"``: a DataFrame
        of risk differences shrunk vs unshrunk).
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
    borrowing: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)
