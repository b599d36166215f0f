"""Adverse-event analysis: spec -> Berry & Berry hierarchical fits of NEJM Table 4, plus MDS risk.

Fits the hierarchical model (:func:`prrt_bayes.toxicity.model.fit_ae`) to every Table 4 event type at
any grade and at grade 3/4, the independent-binomial model to the same tables (unshrunk
comparison for the forest plot, ``extras["ae_forest"]``), and the long-term risk of
myelodysplastic syndrome with 177Lu-Dotatate pooled from the series and NETTER-1 final by the
binomial MAP model (:func:`prrt_bayes.toxicity.model.fit_long_term_risk`).

Rows (from the hierarchical fits): ``ae_probability`` per arm, ``risk_difference``,
``odds_ratio`` and ``probability_risk_difference_positive`` per event, with ``endpoint`` the
event key (``nausea_any_grade``, ``nausea_grade34``, ...); and ``ae_probability`` for
``lu177`` with endpoints ``mds_long_term_pooled`` (pooled per-patient risk) and
``mds_long_term_new_cohort`` (predictive risk in a new cohort). The posterior file holds the
any-grade fit at its root and the grade 3/4 and MDS fits as child groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from prrt_bayes.core.diagnostics import worst_of
from prrt_bayes.core.posterior import attach_quantities, parameter_frame, summary_from_tree
from prrt_bayes.core.priors import describe_priors
from prrt_bayes.response.model import ARMS, CONTRAST
from prrt_bayes.core.results import AnalysisResult
from prrt_bayes.pipeline.specs import AnalysisSpec
from prrt_bayes.toxicity.model import fit_ae, fit_long_term_risk, netter1_ae_table


def _event_items(post: xr.Dataset) -> list:
    items = []
    for key in post["p"].event.values.tolist():
        for arm in ARMS:
            items.append(("ae_probability", arm, post["p"].sel(event=key, arm=arm, drop=True),
                          key))
        rd = post["risk_difference"].sel(event=key, drop=True)
        items += [
            ("risk_difference", CONTRAST, rd, key),
            ("odds_ratio", CONTRAST, post["odds_ratio"].sel(event=key, drop=True), key),
            ("probability_risk_difference_positive", CONTRAST, (rd > 0).astype(float), key),
        ]
    return items


def _forest(fit, model: str) -> pd.DataFrame:
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


def run(spec: AnalysisSpec) -> AnalysisResult:
    """Fit the toxicity spec: hierarchical and independent AE models, long-term MDS risk.

    Parameters
    ----------
    spec
        Toxicity spec. Used: ``name``, ``seed`` and the ``sampler`` settings (every fit).
        The data are NEJM Table 4 and the series' MDS counts, with the models' default priors
        (a spec that sets ``priors``, ``borrowing`` or other evidence is rejected when it is
        loaded).

    Returns
    -------
    AnalysisResult
        Summary rows (vocabulary in the module docstring); diagnostics the worst of the
        any-grade, grade 3/4 and MDS fits and of the independent (unshrunk) fits behind the AE
        forest plot (:func:`~prrt_bayes.core.diagnostics.worst_of`); the tree
        (any-grade fit at the root, ``grade34`` and ``long_term_mds`` children); PSA
        ``parameters`` (logit AE probabilities); ``priors`` (MDS priors prefixed ``mds_``); the
        MDS cohorts included and excluded in ``borrowing``; ``extras["ae_forest"]``.
    """
    s = spec.sampler
    settings = dict(draws=s.draws, tune=s.tune, chains=s.chains, seed=spec.seed,
                    target_accept=s.target_accept)
    fits, forest, unshrunk = {}, [], []
    for grade in ("any", "grade34"):
        table = netter1_ae_table(grade)
        fits[grade] = fit_ae(table, kind="hierarchical", analysis=spec.name, **settings)
        independent = fit_ae(table, kind="independent", analysis=spec.name, **settings)
        forest += [_forest(fits[grade], "hierarchical (shrunk)"),
                   _forest(independent, "independent (unshrunk)")]
        unshrunk.append(independent.diagnostics.labelled(f"independent model ({grade})"))
    mds = fit_long_term_risk("mds", **settings)
    tree = fits["any"].tree
    tree["grade34"] = xr.DataTree.from_dict(
        {"posterior": fits["grade34"].tree.posterior.dataset,
         "sample_stats": fits["grade34"].tree.sample_stats.dataset})
    tree["long_term_mds"] = xr.DataTree.from_dict(
        {"posterior": mds.tree.posterior.dataset,
         "sample_stats": mds.tree.sample_stats.dataset})
    like = tree.posterior.dataset["p"].isel(event=0, arm=0, drop=True)
    mds_post = mds.tree.posterior.dataset
    items = (_event_items(tree.posterior.dataset)
             + _event_items(fits["grade34"].tree.posterior.dataset)
             + [("ae_probability", "lu177", _thin_to(1 / (1 + np.exp(-mds_post["mu"])), like),
                 "mds_long_term_pooled"),
                ("ae_probability", "lu177", _thin_to(mds_post["p_new"], like),
                 "mds_long_term_new_cohort")])
    attach_quantities(tree, items, analysis=spec.name, endpoint="adverse_events")
    excluded = mds.selection.excluded
    return AnalysisResult(
        name=spec.name, kind="toxicity", endpoint="adverse_events",
        summary=summary_from_tree(tree),
        diagnostics=worst_of(fits["any"].diagnostics, fits["grade34"].diagnostics,
                             mds.diagnostics, *unshrunk),
        tree=tree,
        parameters=parameter_frame({
            "logit_ae_probability": _logit(tree.posterior.dataset["p"]),
            "logit_ae_probability_grade34": _logit(fits["grade34"].tree.posterior.dataset["p"]),
        }),
        priors=describe_priors(fits["any"].priors) | {
            f"mds_{k}": v for k, v in describe_priors(mds.priors).items()},
        borrowing={"long_term_mds_cohorts": list(mds.selection.included["study"]),
                   "long_term_mds_excluded": [f"{r.study}: {r.reason}"
                                              for r in excluded.itertuples()]},
        extras={"ae_forest": pd.concat(forest, ignore_index=True)},
    )
