"""Adverse-event analysis: spec -> Berry & Berry hierarchical fits of NEJM Table 4, plus MDS risk.

Fits the hierarchical model to every Table 4 event type at any grade and at grade 3/4 in one
joint model (:func:`prrt_bayes.toxicity.adverse_events.fit_ae_tables`: one compile, separate
hyperparameters per grade), draws the independent-binomial model of the same tables exactly
(conjugate beta posteriors, no MCMC; the unshrunk comparison for the forest plot,
``result.ae_forest``), and fits the long-term risk of myelodysplastic syndrome with
177Lu-Dotatate pooled from the series and NETTER-1 final by the binomial MAP model
(:func:`prrt_bayes.toxicity.long_term.fit_long_term_risk`). Two model structures are compiled
per process: the hierarchical AE model of the two tables and the MDS model.

Rows (from the hierarchical fits, :func:`~prrt_bayes.toxicity.adverse_events.ae_quantities`):
``ae_probability`` per arm, ``risk_difference``, ``odds_ratio`` and
``probability_risk_difference_positive`` per event, with ``endpoint`` the event key
(``nausea_any_grade``, ``nausea_grade34``, ...); and ``ae_probability`` for ``lu177`` with
endpoints ``mds_long_term_pooled`` (pooled per-patient risk) and ``mds_long_term_new_cohort``
(predictive risk in a new cohort). The posterior file holds the any-grade table's part of the
joint fit at its root and the grade 3/4 part and the MDS fit as child groups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from prrt_bayes.core.diagnostics import worst_of
from prrt_bayes.core.posterior import attach_quantities, parameter_frame, summary_from_tree
from prrt_bayes.core.priors import describe_priors
from prrt_bayes.core.results import AnalysisResult, BorrowingReport
from prrt_bayes.core.vocabulary import Arm, Endpoint, Kind, Quantity
from prrt_bayes.toxicity.adverse_events import (
    AEFit,
    ae_quantities,
    fit_ae_tables,
    netter1_ae_table,
)
from prrt_bayes.toxicity.long_term import LongTermFit, fit_long_term_risk

if TYPE_CHECKING:
    from prrt_bayes.toxicity.spec import ToxicitySpec


def _forest(fit: AEFit, model: str) -> pd.DataFrame:
    rd = fit.tree.posterior["risk_difference"]
    quantiles = rd.quantile([0.025, 0.5, 0.975], dim=("chain", "draw"))
    return pd.DataFrame({
        "group": rd.event.values, "model": model,
        "median": quantiles.sel(quantile=0.5).values,
        "lower": quantiles.sel(quantile=0.025).values,
        "upper": quantiles.sel(quantile=0.975).values,
    })


def _logit(p: xr.DataArray) -> xr.DataArray:
    return np.log(p / (1 - p))


def _thin_to(draws: xr.DataArray, like: xr.DataArray) -> xr.DataArray:
    """Evenly thin (chain, draw) draws to the shape of ``like`` so all rows share one grid."""
    flat = draws.stack(sample=("chain", "draw")).values
    positions = np.floor(np.arange(like.size) * flat.size / like.size).astype(int)
    return xr.DataArray(flat[positions].reshape(like.shape), dims=like.dims, coords=like.coords)


def _cohorts(mds: LongTermFit) -> BorrowingReport:
    """The MDS cohorts pooled and those excluded, with reasons (no trial estimate to conflict)."""
    lines = (("long_term_mds_cohorts", ", ".join(mds.selection.included["study"])),
             *(("long_term_mds_excluded", f"{r.study}: {r.reason}")
               for r in mds.selection.excluded.itertuples()))
    return BorrowingReport(method="map", conflict_p_box=float("nan"), lines=lines)


def _event_items(fit: AEFit) -> list:
    post = fit.tree.posterior.dataset
    return ae_quantities(post, post["p"].event.values.tolist())


def run(spec: ToxicitySpec) -> AnalysisResult:
    """Fit the toxicity spec: hierarchical and independent AE models, long-term MDS risk.

    Parameters
    ----------
    spec
        Toxicity spec. Used: ``name``, :meth:`sampler_settings` (every fit; the seed and shape
        of the independent model's exact draws) and ``priors``: names of the hierarchical AE
        model (``mu_gamma``, ``sigma_gamma``, ``mu_theta0``, ``tau_theta``, ``sigma_theta``;
        the same for both grades) and of the long-term MDS model prefixed ``mds_``
        (``mds_mu``, ``mds_tau``); the rest keep their defaults. The data are NEJM Table 4
        and the series' MDS counts.

    Returns
    -------
    AnalysisResult
        Summary rows (vocabulary in the module docstring); diagnostics the worst of the joint
        hierarchical fit (both grades) and the MDS fit
        (:func:`~prrt_bayes.core.diagnostics.worst_of`; the exact independent draws have none
        to check); the tree (any-grade table at the root, ``grade34`` and ``long_term_mds``
        children); PSA ``parameters`` (logit AE probabilities); ``priors`` (MDS priors
        prefixed ``mds_``); the MDS cohorts included and excluded in ``borrowing`` (method
        ``map``, no conflict p-value); ``ae_forest``.
    """
    settings = spec.sampler_settings()
    given = spec.prior_objects()
    ae_given = {k: v for k, v in given.items() if not k.startswith("mds_")}
    mds_given = {k.removeprefix("mds_"): v for k, v in given.items() if k.startswith("mds_")}
    tables = {grade: netter1_ae_table(grade) for grade in ("any", "grade34")}
    fits = fit_ae_tables(tables, settings, kind="hierarchical", priors=ae_given,
                         analysis=spec.name)
    unshrunk = fit_ae_tables(tables, settings, kind="independent", analysis=spec.name)
    forest = [frame for grade in tables
              for frame in (_forest(fits[grade], "hierarchical (shrunk)"),
                            _forest(unshrunk[grade], "independent (unshrunk)"))]
    mds = fit_long_term_risk("mds", settings, priors=mds_given)
    tree = fits["any"].tree
    tree["grade34"] = xr.DataTree.from_dict(
        {"posterior": fits["grade34"].tree.posterior.dataset,
         "sample_stats": fits["grade34"].tree.sample_stats.dataset})
    tree["long_term_mds"] = xr.DataTree.from_dict(
        {"posterior": mds.tree.posterior.dataset,
         "sample_stats": mds.tree.sample_stats.dataset})
    like = tree.posterior.dataset["p"].isel(event=0, arm=0, drop=True)
    mds_post = mds.tree.posterior.dataset
    items = (_event_items(fits["any"]) + _event_items(fits["grade34"])
             + [(Quantity.AE_PROBABILITY, Arm.LU177,
                 _thin_to(1 / (1 + np.exp(-mds_post["mu"])), like), "mds_long_term_pooled"),
                (Quantity.AE_PROBABILITY, Arm.LU177, _thin_to(mds_post["p_new"], like),
                 "mds_long_term_new_cohort")])
    attach_quantities(tree, items, analysis=spec.name, endpoint=Endpoint.ADVERSE_EVENTS)
    return AnalysisResult(
        name=spec.name, kind=Kind.TOXICITY, endpoint=Endpoint.ADVERSE_EVENTS,
        summary=summary_from_tree(tree),
        diagnostics=worst_of(fits["any"].diagnostics, mds.diagnostics),
        tree=tree,
        parameters=parameter_frame({
            "logit_ae_probability": _logit(tree.posterior.dataset["p"]),
            "logit_ae_probability_grade34": _logit(fits["grade34"].tree.posterior.dataset["p"]),
        }),
        priors=describe_priors(fits["any"].priors) | {
            f"mds_{k}": v for k, v in describe_priors(mds.priors).items()},
        borrowing=_cohorts(mds),
        ae_forest=pd.concat(forest, ignore_index=True),
    )
