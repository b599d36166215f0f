r"""Compare fitted parametric survival models: PSIS-LOO and visual fit to the Kaplan-Meier curve.

Two complementary criteria, as NICE DSU TSD 14 recommends for choosing an extrapolation:

- **PSIS-LOO** (ArviZ ``loo``/``compare``): expected log pointwise predictive density
  :math:`\widehat{\mathrm{elpd}}_{loo} = \sum_i \log p(y_i \mid y_{-i})` estimated by
  Pareto-smoothed importance sampling, its standard error, and the Pareto :math:`\hat k`
  diagnostic per patient.
  Patients with :math:`\hat k > 0.7` make the estimate unreliable; their count is reported,
  such a model's status is ``loo_unreliable``, and no model is ranked (ranks, differences and
  weights withheld): a ranking that rests on an unreliable estimate is not one. K-fold
  cross-validation would be the remedy; it is not built.
- **KM area**: :math:`\sum_{a} \int_0^{\tau_a} |\bar S_a(t) - \hat S^{KM}_a(t)|\,dt`, the area
  between the posterior-mean survival curve and the Kaplan-Meier estimate of each arm within that
  arm's follow-up :math:`\tau_a` (in time units, months; 0 = perfect visual fit).

Failed fits (:class:`~prrt_bayes.survival.parametric.FitFailure`) are kept in the table with
``status = "failed"`` and their error text, ranked after every fitted model.
"""

from __future__ import annotations

from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from prrt_bayes.core.diagnostics import check_diagnostics
from prrt_bayes.survival.parametric import FitFailure, ParametricFit, get_spec

PARETO_K_THRESHOLD = 0.7
"""Pareto k above which the PSIS estimate for a patient is unreliable (Vehtari et al. 2024)."""

COLUMNS = (
    "model",
    "rank",
    "elpd_loo",
    "se",
    "p_loo",
    "elpd_diff",
    "dse",
    "weight",
    "pareto_k_max",
    "n_pareto_k_high",
    "km_area",
    "status",
    "error",
)
"""Columns of :func:`compare_fits`, in order."""


def km_area(fit: ParametricFit, n_grid: int = 2000) -> dict[str, float]:
    """Area between the posterior-mean S(t) and the Kaplan-Meier curve, per arm.

    Parameters
    ----------
    fit
        A fitted model (its own data give the KM curves).
    n_grid
        Grid points per arm on [0, last follow-up time], to which the arm's observed times are
        added (so every KM jump is a grid point): the KM curve is constant on each grid interval
        and the model curve is taken at its midpoint (midpoint rule; error of order
        (follow-up / n_grid)^2).

    Returns
    -------
    dict
        ``{arm: area}`` in time units (months).
    """
    data = fit.data
    areas = {}
    for k, arm in enumerate(data.arms):
        mask = data.arm_idx == k
        time, event = data.time[mask], data.event[mask]
        horizon = float(time.max())
        grid = np.union1d(np.linspace(0.0, horizon, n_grid), time)
        left, width = grid[:-1], np.diff(grid)
        km = KaplanMeierFitter().fit(time, event).survival_function_at_times(left).to_numpy()
        mid = left + width / 2
        mean_curve = fit.survival(mid).sel(arm=arm).mean(("chain", "draw")).to_numpy()
        areas[arm] = float(np.sum(np.abs(mean_curve - km) * width))
    return areas


def loo(fit: ParametricFit):
    """PSIS-LOO of a fit (ArviZ ``loo`` with pointwise values and Pareto k).

    Parameters
    ----------
    fit
        A fitted model; its ``tree`` holds the pointwise log-likelihood (group
        ``log_likelihood``, variable ``time``), one value per patient.

    Returns
    -------
    arviz.ELPDData
        The PSIS-LOO result: ``elpd`` (log scale), ``se``, ``p`` (effective number of
        parameters) and, per patient, ``elpd_i`` and ``pareto_k``.
    """
    return az.loo(fit.tree, pointwise=True, var_name="time")


def compare_fits(fits: Mapping[str, ParametricFit | FitFailure]) -> pd.DataFrame:
    """Rank models by PSIS-LOO and report Pareto-k warnings and the KM area.

    Parameters
    ----------
    fits
        Output of :func:`~prrt_bayes.survival.parametric.fit_all` (or any mapping of names to
        fits and failures). All fits must be to the same patients.

    Returns
    -------
    pandas.DataFrame
        A new frame, one row per model, best first (by elpd), columns :data:`COLUMNS`:
        ``model`` (the key in ``fits``), ``rank`` (0 = best), ``elpd_loo`` and ``se``
        (PSIS-LOO, log scale), ``p_loo`` (effective number of parameters), ``elpd_diff`` and
        ``dse`` (difference to the best model and its standard error), ``weight`` (stacking),
        ``pareto_k_max``, ``n_pareto_k_high`` (patients with k > 0.7), ``km_area`` (sum over
        arms, months), ``status`` (``ok``, ``loo_unreliable``: some k > 0.7, which withholds
        every model's rank, or ``failed``) and ``error`` (failure or warning text). A model
        whose sampled parameters fail the convergence checks (error ``not converged: ...``), or
        whose LOO or KM computation fails, is reported as failed too and not ranked; failed
        rows come last, with missing values in the numeric columns.
    """
    rows, loos = [], {}
    for name, item in fits.items():
        if isinstance(item, FitFailure):
            rows.append({"model": name, "status": "failed", "error": item.error})
            continue
        free = [n for n in get_spec(item.name).free_names if n in item.tree.posterior]
        diagnostics = check_diagnostics(item.tree, free)
        if not diagnostics.passed:  # an unconverged fit is not a result: not ranked
            rows.append({"model": name, "status": "failed",
                         "error": "not converged: " + "; ".join(diagnostics.problems)})
            continue
        try:
            result = loo(item)
            area = sum(km_area(item).values())
        except Exception as err:  # noqa: BLE001 - recorded in the table
            error = f"{type(err).__name__}: {err}"
            rows.append({"model": name, "status": "failed", "error": error})
            continue
        k = np.asarray(result.pareto_k)
        loos[name] = result
        rows.append(
            {
                "model": name,
                "elpd_loo": float(result.elpd),
                "se": float(result.se),
                "p_loo": float(result.p),
                "pareto_k_max": float(np.max(k)),
                "n_pareto_k_high": int(np.sum(k > PARETO_K_THRESHOLD)),
                "km_area": area,
                "status": "ok",
                "error": "",
            }
        )
    table = pd.DataFrame(rows, columns=list(COLUMNS)).set_index("model", drop=False)
    if len(loos) >= 2:
        ranked = az.compare(loos, round_to="none")
        table.loc[ranked.index, "rank"] = ranked["rank"].to_numpy()
        table.loc[ranked.index, ["elpd_diff", "dse", "weight"]] = ranked[
            ["elpd_diff", "dse", "weight"]
        ].to_numpy()
    elif len(loos) == 1:
        only = next(iter(loos))
        table.loc[only, ["rank", "elpd_diff", "dse", "weight"]] = [0, 0.0, 0.0, 1.0]
    unreliable = (table["status"] == "ok") & (table["n_pareto_k_high"].fillna(0) > 0)
    if unreliable.any():  # an unreliable PSIS estimate blocks the ranking of every model
        table.loc[unreliable, "status"] = "loo_unreliable"
        table.loc[unreliable, "error"] = [
            f"{n:.0f} patient(s) with Pareto k > {PARETO_K_THRESHOLD}: PSIS-LOO unreliable, "
            "no model ranked" for n in table.loc[unreliable, "n_pareto_k_high"]]
        table[["rank", "elpd_diff", "dse", "weight"]] = np.nan
    fitted = table["status"].isin(["ok", "loo_unreliable"])
    table["_order"] = np.where(fitted, -table["elpd_loo"].fillna(0), np.inf)
    table = table.sort_values("_order", kind="stable").drop(columns="_order")
    return table.reset_index(drop=True).astype({"n_pareto_k_high": "Int64", "rank": "Int64"})
