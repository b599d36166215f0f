"""Objective response analysis: spec -> two-arm binomial fit (NETTER-1 Table 2), with borrowing.

Without borrowing the 177Lu-Dotatate and control response rates have independent Beta priors
(default Beta(1, 1), the spec's ``priors.p`` otherwise)
(:func:`prrt_bayes.response.model.fit_response`). With a borrowing method the
177Lu-Dotatate rate's prior comes from the single-arm series
(:func:`prrt_bayes.response.borrowing.borrowing_comparison`: ``map`` / ``robust-map`` with
population type as covariate, ``power`` with the spec's ``a0``, ``commensurate`` with the spec's
``tau``); its posterior is exact (beta mixture), drawn as many times as the control arm's MCMC
draws so that the contrasts are per draw. The prior-data conflict (box p-value of NETTER-1's
responders under the prior) is reported in ``result.borrowing``.

Quantities (:func:`prrt_bayes.response.model.response_quantities`): ``response_rate`` per arm,
``risk_difference``, ``odds_ratio`` and ``probability_risk_difference_positive`` (P(rate 177Lu >
rate control), in ``mean``) for ``lu177_vs_control``; endpoint ``response``. With borrowing
also ``response_rate_without_borrowing`` for ``lu177`` (the trial alone, Beta prior ``p``), so
that every output shows how far the series moved the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from prrt_bayes.borrowing.ess import describe_ess
from prrt_bayes.core.diagnostics import worst_of
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.posterior import attach_quantities, parameter_frame, summary_from_tree
from prrt_bayes.core.priors import describe_priors
from prrt_bayes.core.results import AnalysisResult, BorrowingReport
from prrt_bayes.core.vocabulary import Arm, Endpoint, Kind, Quantity
from prrt_bayes.response.borrowing import BorrowingComparison, borrowing_comparison
from prrt_bayes.response.model import (
    DEFAULT_RATE_PRIOR,
    fit_response,
    netter1_response,
    response_quantities,
)

if TYPE_CHECKING:
    from prrt_bayes.response.spec import ResponseSpec

METHODS = {"map": "map", "robust-map": "robust_map", "power": "power_prior",
           "commensurate": "commensurate", "commensurate-fixed": "commensurate_fixed"}
"""Spec borrowing method -> row of :func:`prrt_bayes.response.borrowing.borrowing_comparison`."""


def _logit(p: xr.DataArray) -> xr.DataArray:
    return np.log(p / (1 - p))


def _report(spec: ResponseSpec, comparison: BorrowingComparison) -> BorrowingReport:
    """What was borrowed: the spec's settings, the prior, its ESS and conflict, the cohorts."""
    b = spec.borrowing
    row = comparison.table.set_index("method").loc[METHODS[b.method]]
    sources = tuple(f"{r.study} ({r.events}/{r.total})"
                    for r in comparison.map_fit.selection.included.itertuples())
    lines = (
        ("robust_weight", f"{b.robust_weight:g}"), ("a0", f"{b.a0:g}"),
        ("power prior ESS cap", f"{comparison.power_cap.describe()} patients"),
        ("tau", f"{b.tau:g}"), ("tau_hyperprior", b.tau_hyperprior),
        ("sources", "; ".join(sources)),
        ("prior_mean", f"{row.prior_mean:.3g}"),
        ("prior_ess_elir", f"{row.ess_elir:.3g}"),
        ("prior_ess_moment", f"{row.ess_moment:.3g}"),
        ("conflict_p_box", f"{row.conflict_p_box:.3g}"),
        ("posterior_informative_weight", f"{row.posterior_informative_weight:.3g}"),
        *(("notes", note) for note in comparison.notes),
    )
    return BorrowingReport(method=b.method, conflict_p_box=float(row.conflict_p_box),
                           lines=lines, sources=sources,
                           prior_ess=describe_ess(comparison.priors[METHODS[b.method]],
                                                  "patients"))


def _prior_posterior(method: str, comparison: BorrowingComparison) -> pd.DataFrame:
    """Borrowed prior and posterior densities of the 177Lu-Dotatate rate on a 0-1 grid."""
    grid = np.linspace(0.001, 0.999, 400)
    return pd.concat([
        pd.DataFrame({"parameter": "response rate, 177Lu-Dotatate", "distribution": label,
                      "x": grid, "density": mixture.pdf(grid)})
        for label, mixture in ((f"{method} prior", comparison.priors[METHODS[method]]),
                               ("posterior", comparison.posteriors[METHODS[method]]))
    ], ignore_index=True)


def run(spec: ResponseSpec) -> AnalysisResult:
    """Fit the response spec and derive the reported quantities.

    Parameters
    ----------
    spec
        Response spec. Used: ``evidence.population`` (NETTER-1 counts), ``borrowing`` (method,
        ``robust_weight``, ``a0``, ``tau``) and :meth:`sampler_settings` (every fit, the series
        MAP fit included, and the seed of the borrowed draws), and ``priors``: ``p``, the Beta
        prior of each arm's rate (default Beta(1, 1); with borrowing, the control arm's only).

    Returns
    -------
    AnalysisResult
        Summary rows (quantities in the module docstring), diagnostics of the MCMC fit (with
        ``map`` / ``robust-map`` borrowing, the worse of it and the series MAP fit), the
        posterior tree, PSA ``parameters`` (``logit_response_rate_lu177``,
        ``logit_response_rate_control``), ``priors``, and with borrowing a ``borrowing``
        report and ``prior_posterior`` (densities on a 0-1 grid).
    """
    settings = spec.sampler_settings()
    given = spec.prior_objects()
    unknown = sorted(set(given) - {"p"})
    if unknown:
        raise InputError(f"unknown prior(s) {unknown} for the response model; known: ['p'] "
                         "(the Beta prior of each arm's response rate)", field="priors")
    counts = netter1_response(spec.evidence.population)
    fit = fit_response(counts, settings, prior=given.get("p", DEFAULT_RATE_PRIOR))
    posterior = fit.tree.posterior.dataset
    control = posterior["p"].sel(arm=Arm.CONTROL, drop=True)
    lu177 = posterior["p"].sel(arm=Arm.LU177, drop=True)
    diagnostics, report, prior_posterior = fit.diagnostics, None, None
    priors = describe_priors(fit.priors)
    method = spec.borrowing.method
    if method != "none":
        comparison = borrowing_comparison(
            counts, settings, robust_weight=spec.borrowing.robust_weight, a0=spec.borrowing.a0,
            max_prior_ess_fraction=spec.borrowing.max_prior_ess_fraction,
            commensurate_tau=spec.borrowing.tau, tau_hyperprior=spec.borrowing.tau_hyperprior,
        )
        if method in ("map", "robust-map"):  # the prior comes from the series MAP MCMC fit
            diagnostics = worst_of(diagnostics,
                                   comparison.map_fit.diagnostics.labelled("series MAP fit"))
        rng = np.random.default_rng(settings.seed)
        without = lu177  # the trial alone: the two-arm fit's 177Lu-Dotatate rate
        draws = comparison.posteriors[METHODS[method]].sample(control.size, rng)
        lu177 = xr.DataArray(draws.reshape(control.shape), dims=control.dims,
                             coords=control.coords)
        report = _report(spec, comparison)
        prior_posterior = _prior_posterior(method, comparison)
        priors[f"p[{Arm.LU177}]"] = f"{method} prior from the single-arm series"
    items = response_quantities(lu177, control)
    if method != "none":
        items.append((Quantity.RESPONSE_RATE_WITHOUT_BORROWING, Arm.LU177, without))
    attach_quantities(fit.tree, items, analysis=spec.name, endpoint=Endpoint.RESPONSE)
    return AnalysisResult(
        name=spec.name, kind=Kind.RESPONSE, endpoint=Endpoint.RESPONSE,
        summary=summary_from_tree(fit.tree), diagnostics=diagnostics, tree=fit.tree,
        parameters=parameter_frame({"logit_response_rate_lu177": _logit(lu177),
                                    "logit_response_rate_control": _logit(control)}),
        priors=priors, borrowing=report, prior_posterior=prior_posterior,
    )
