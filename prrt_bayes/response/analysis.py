"""Objective response analysis: spec -> two-arm binomial fit (NETTER-1 Table 2), with borrowing.

Without borrowing the 177Lu-Dotatate and control response rates have independent Beta(1, 1)
priors (:func:`prrt_bayes.response.model.fit_response`). With a borrowing method the 177Lu-Dotatate
rate's prior comes from the single-arm series (:func:`prrt_bayes.response.model.borrowing_comparison`:
``map`` / ``robust-map`` with population type as covariate, ``power`` with the spec's ``a0``,
``commensurate`` with the spec's ``tau``); its posterior is exact (beta mixture), drawn as many
times as the control arm's MCMC draws so that the contrasts are per draw. The prior-data conflict
(box p-value of NETTER-1's responders under the prior) is reported in ``result.borrowing``.

Quantities: ``response_rate`` per arm, ``risk_difference``, ``odds_ratio`` and
``probability_risk_difference_positive`` (P(rate 177Lu > rate control), in ``mean``) for
``lu177_vs_control``; endpoint ``response``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from prrt_bayes.core.diagnostics import worst_of
from prrt_bayes.core.posterior import attach_quantities, parameter_frame, summary_from_tree
from prrt_bayes.core.priors import describe_priors
from prrt_bayes.response.model import CONTRAST, borrowing_comparison, fit_response, netter1_response
from prrt_bayes.core.results import AnalysisResult
from prrt_bayes.pipeline.specs import AnalysisSpec

METHODS = {"map": "map", "robust-map": "robust_map", "power": "power_prior",
           "commensurate": "commensurate"}
"""Spec borrowing method -> row of :func:`prrt_bayes.response.model.borrowing_comparison`."""


def _odds(p: xr.DataArray) -> xr.DataArray:
    return p / (1 - p)


def run(spec: AnalysisSpec) -> AnalysisResult:
    """Fit the response spec and derive the reported quantities.

    Parameters
    ----------
    spec
        Response spec. Used: ``evidence.population`` (NETTER-1 counts), ``borrowing`` (method,
        ``robust_weight``, ``a0``, ``tau``), the ``sampler`` settings and ``seed``. The rate
        priors are Beta(1, 1) (a spec with ``priors`` is rejected when it is loaded).

    Returns
    -------
    AnalysisResult
        Summary rows (quantities in the module docstring), diagnostics of the MCMC fit (with
        ``map`` / ``robust-map`` borrowing, the worse of it and the series MAP fit), the
        posterior tree, PSA ``parameters`` (``logit_response_rate_lu177``,
        ``logit_response_rate_control``), ``priors``, and with borrowing a ``borrowing``
        report and ``extras["prior_posterior"]`` (densities on a 0-1 grid).
    """
    counts = netter1_response(spec.evidence.population)
    sampler = spec.sampler
    fit = fit_response(counts, draws=sampler.draws, tune=sampler.tune, chains=sampler.chains,
                       seed=spec.seed, target_accept=sampler.target_accept)
    posterior = fit.tree.posterior.dataset
    control = posterior["p"].sel(arm="control", drop=True)
    lu177 = posterior["p"].sel(arm="lu177", drop=True)
    borrowing: dict = {}
    extras: dict[str, pd.DataFrame] = {}
    diagnostics = fit.diagnostics
    method = spec.borrowing.method
    if method != "none":
        comparison = borrowing_comparison(
            counts, robust_weight=spec.borrowing.robust_weight, a0=spec.borrowing.a0,
            commensurate_tau=spec.borrowing.tau, seed=spec.seed,
        )
        row = comparison.table.set_index("method").loc[METHODS[method]]
        if method in ("map", "robust-map"):  # the prior comes from the series MAP MCMC fit
            diagnostics = worst_of(diagnostics,
                                   comparison.map_fit.diagnostics.labelled("series MAP fit"))
        rng = np.random.default_rng(spec.seed)
        draws = comparison.posteriors[METHODS[method]].sample(control.size, rng)
        lu177 = xr.DataArray(draws.reshape(control.shape), dims=control.dims,
                             coords=control.coords)
        borrowing = {
            "method": method, "robust_weight": spec.borrowing.robust_weight,
            "a0": spec.borrowing.a0, "tau": spec.borrowing.tau,
            "prior_mean": float(row.prior_mean), "prior_ess_moment": float(row.ess_moment),
            "conflict_p_box": float(row.conflict_p_box),
            "posterior_informative_weight": float(row.posterior_informative_weight),
            "notes": list(comparison.notes),
        }
        grid = np.linspace(0.001, 0.999, 400)
        extras["prior_posterior"] = pd.concat([
            pd.DataFrame({"parameter": "response rate, 177Lu-Dotatate", "distribution": label,
                          "x": grid, "density": mixture.pdf(grid)})
            for label, mixture in ((f"{method} prior", comparison.priors[METHODS[method]]),
                                   ("posterior", comparison.posteriors[METHODS[method]]))
        ], ignore_index=True)
    difference = lu177 - control
    items = [
        ("response_rate", "lu177", lu177),
        ("response_rate", "control", control),
        ("risk_difference", CONTRAST, difference),
        ("odds_ratio", CONTRAST, _odds(lu177) / _odds(control)),
        ("probability_risk_difference_positive", CONTRAST, (difference > 0).astype(float)),
    ]
    attach_quantities(fit.tree, items, analysis=spec.name, endpoint="response")
    return AnalysisResult(
        name=spec.name, kind="response", endpoint="response",
        summary=summary_from_tree(fit.tree), diagnostics=diagnostics, tree=fit.tree,
        parameters=parameter_frame({"logit_response_rate_lu177": np.log(_odds(lu177)),
                                    "logit_response_rate_control": np.log(_odds(control))}),
        priors=describe_priors(fit.priors) | (
            {"p[lu177]": f"{method} prior from the single-arm series"} if borrowing else {}),
        borrowing=borrowing, extras=extras,
    )
