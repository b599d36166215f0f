"""Adverse-event analysis: spec -> Berry & Berry fits of NEJM Table 4, plus MDS risk.

Fits the spec's AE model (``[model] family``: ``berry_berry``, the default, Berry & Berry 2004
with its point mass at no difference; ``xia_1a``, the same hierarchy without it; or
``independent``) to every Table 4 event type at any grade and at grade 3/4 in one joint model
(:func:`prrt_bayes.toxicity.adverse_events.fit_ae_tables`: one compile, separate
hyperparameters per grade), draws the independent-binomial model of the same tables exactly
(conjugate beta posteriors, no MCMC; the unshrunk comparison for the forest plot,
``result.ae_forest``), and fits the long-term risk of myelodysplastic syndrome with
177Lu-Dotatate as a rate per person-year pooled by a Poisson MAP model over the cohorts that
report a follow-up (:func:`prrt_bayes.toxicity.long_term.fit_long_term_risk`). Two model
structures are compiled per process: the shrunk AE model of the two tables and the MDS model
(one with family ``independent``).

Rows (from the fits of the spec's family,
:func:`~prrt_bayes.toxicity.adverse_events.ae_quantities`): ``ae_probability`` per arm,
``risk_difference``, ``odds_ratio``, ``probability_risk_difference_positive`` (RD strictly
> 0) and, for ``berry_berry``, ``probability_no_difference`` per event, with ``endpoint`` the
event key (``nausea_any_grade``, ``nausea_grade34``, ...); and ``cumulative_incidence_<H>m``
(MDS by each horizon the follow-up supports, under a constant hazard) for ``lu177`` with
endpoints ``mds_long_term_pooled`` (pooled rate) and ``mds_long_term_new_cohort`` (predictive
rate of a new cohort). The posterior file holds the
any-grade table's part of the joint fit at its root and the grade 3/4 part and the MDS fit as
child groups.
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
from prrt_bayes.core.vocabulary import Arm, Endpoint, Kind
from prrt_bayes.toxicity.adverse_events import (
    KIND_LABELS,
    AEFit,
    ae_quantities,
    fit_ae_tables,
    netter1_ae_table,
)
from prrt_bayes.toxicity.long_term import LongTermFit, fit_long_term_risk, long_term_quantities

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


_MDS_ENDPOINTS = {"long_term_map_pooled": "mds_long_term_pooled",
                  "long_term_map_predictive": "mds_long_term_new_cohort"}
"""Long-term analysis label -> the endpoint of its rows in the toxicity summary."""


def _cohorts(mds: LongTermFit) -> BorrowingReport:
    """The MDS cohorts pooled (NETTER-1 final among them) and those excluded, with reasons and
    the model's assumptions (no separate trial estimate to conflict with)."""
    lines = (("long_term_mds_cohorts", ", ".join(mds.selection.included["study"])),
             *(("long_term_mds_excluded", f"{r.study}: {r.reason}")
               for r in mds.selection.excluded.itertuples()),
             *(("long_term_mds_assumption", note) for note in mds.notes))
    return BorrowingReport(method="map", conflict_p_box=float("nan"), lines=lines,
                           sources=tuple(f"{r.study} ({r.events:g} MDS in {r.person_years:.0f} "
                                         "person-years)"
                                         for r in mds.selection.included.itertuples()))


def _event_items(fit: AEFit) -> list:
    post = fit.tree.posterior.dataset
    return ae_quantities(post, post["p"].event.values.tolist())


def run(spec: ToxicitySpec) -> AnalysisResult:
    """Fit the toxicity spec: its AE model and the independent one, long-term MDS risk.

    Parameters
    ----------
    spec
        Toxicity spec. Used: ``name``, ``model.family`` (the AE model of the rows),
        :meth:`sampler_settings` (every fit; the seed and shape of the independent model's
        exact draws and of Berry & Berry's indicator draws) and ``priors``: names of the AE
        model (``mu_gamma``, ``sigma_gamma``, ``mu_theta0``, ``tau_theta``, ``sigma_theta``,
        and ``pi`` for ``berry_berry``, or ``p`` for ``independent``; the same for both
        grades) and of the long-term MDS model prefixed ``mds_`` (``mds_mu``, ``mds_tau``);
        the rest keep their defaults. The data are NEJM Table 4 and the series' MDS counts.

    Returns
    -------
    AnalysisResult
        Summary rows (vocabulary in the module docstring); diagnostics the worst of the joint
        AE fit (both grades) and the MDS fit
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
    family = spec.model.family
    fits = fit_ae_tables(tables, settings, kind=family, priors=ae_given, analysis=spec.name)
    shown = [fits] if family == "independent" else [fits, fit_ae_tables(
        tables, settings, kind="independent", analysis=spec.name)]
    forest = [_forest(by_grade[grade], KIND_LABELS[by_grade[grade].kind])
              for grade in tables for by_grade in shown]
    mds = fit_long_term_risk("mds", settings, priors=mds_given)
    tree = fits["any"].tree
    grade34 = fits["grade34"].tree  # exact independent draws have no sample_stats
    tree["grade34"] = xr.DataTree.from_dict(
        {name: grade34[name].dataset for name in ("posterior", "sample_stats")
         if name in grade34.children})
    tree["long_term_mds"] = xr.DataTree.from_dict(
        {"posterior": mds.tree.posterior.dataset,
         "sample_stats": mds.tree.sample_stats.dataset})
    like = tree.posterior.dataset["p"].isel(event=0, arm=0, drop=True)
    mds_post = mds.tree.posterior.dataset
    items = (_event_items(fits["any"]) + _event_items(fits["grade34"])
             + [(quantity, Arm.LU177, _thin_to(draws, like), _MDS_ENDPOINTS[analysis])
                for analysis, quantity, draws in long_term_quantities(mds_post,
                                                                      mds.horizons_months)])
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
