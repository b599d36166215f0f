"""Posterior draws -> summary rows in the package's fixed vocabulary.

Every reported number is a row ``analysis, endpoint, quantity, group, mean, sd, median, lower,
upper`` (lower/upper: 2.5% and 97.5% posterior quantiles, an equal-tailed 95% credible
interval) computed over all chains and draws. A posterior probability
(:data:`~prrt_bayes.core.vocabulary.POSTERIOR_PROBABILITIES`) is its ``mean``; its other
columns are empty. :func:`summary_frame` collects rows into a DataFrame in that column order
and can carry the priors that produced them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from prrt_bayes.core.vocabulary import LIFE_YEAR_QUANTITIES, POSTERIOR_PROBABILITIES, Quantity

SUMMARY_COLUMNS: tuple[str, ...] = (
    "analysis",
    "endpoint",
    "quantity",
    "group",
    "mean",
    "sd",
    "median",
    "lower",
    "upper",
)
SAMPLE_DIMS: tuple[str, ...] = ("chain", "draw")


def _flat_draws(draws: xr.DataArray | np.ndarray) -> np.ndarray:
    """All draws of one scalar quantity as a 1-D float array."""
    if isinstance(draws, xr.DataArray):
        extra = [d for d in draws.dims if d not in SAMPLE_DIMS]
        if extra:
            raise ValueError(f"draws of one quantity must have only chain/draw dims, got {extra}")
    values = np.asarray(draws, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("no draws to summarise")
    return values


def equal_tailed(draws) -> tuple[float, float, float]:
    """Posterior median and equal-tailed 95% interval of draws: ``(median, lower, upper)``.

    Interpolating between two infinite draws (e.g. medians not reached on the grid) gives NaN,
    so with any non-finite draw the quantiles are order statistics (no interpolation).

    Parameters
    ----------
    draws
        Array-like of draws (any shape; flattened).

    Returns
    -------
    tuple[float, float, float]
        The 50%, 2.5% and 97.5% quantiles.
    """
    values = np.asarray(draws, dtype=float).ravel()
    method = "linear" if np.all(np.isfinite(values)) else "inverted_cdf"
    with np.errstate(invalid="ignore"):
        lower, median, upper = np.quantile(values, [0.025, 0.5, 0.975], method=method)
    return float(median), float(lower), float(upper)


def summarize_draws(
    draws: xr.DataArray | np.ndarray,
    *,
    quantity: str,
    group: str,
    endpoint: str = "",
    analysis: str = "",
) -> dict:
    """Summarise the draws of one scalar quantity as one row.

    Parameters
    ----------
    draws
        DataArray with (some of) the dims ``chain``/``draw`` only, or any array of draws.
    quantity, group, endpoint, analysis
        Labels of the row (see the vocabulary in the module docstring).

    Returns
    -------
    dict
        Keys :data:`SUMMARY_COLUMNS`; ``sd`` uses ``ddof=1``. A non-finite draw (e.g. a median
        survival not reached on the grid, ``inf``) makes mean and sd non-finite; quantiles are then
        order statistics (no interpolation), finite while fewer than 2.5% of draws are infinite.
        For a posterior probability (``quantity`` in
        :data:`~prrt_bayes.core.vocabulary.POSTERIOR_PROBABILITIES`) only ``mean`` is filled
        (the probability); ``sd``, ``median``, ``lower`` and ``upper`` are NaN.
    """
    values = _flat_draws(draws)
    median, lower, upper = equal_tailed(values)
    with np.errstate(invalid="ignore"):
        mean = float(values.mean())
        sd = float(values.std(ddof=1)) if values.size > 1 else float("nan")
    if quantity in POSTERIOR_PROBABILITIES:
        sd = median = lower = upper = float("nan")
    return {  # labels may be vocabulary enums (str subclasses): plain strings in the table
        "analysis": str(analysis),
        "endpoint": str(endpoint),
        "quantity": str(quantity),
        "group": str(group),
        "mean": mean,
        "sd": sd,
        "median": float(median),
        "lower": float(lower),
        "upper": float(upper),
    }


def summary_frame(
    rows: Iterable[Mapping], *, priors: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Collect summary rows into a DataFrame with exactly :data:`SUMMARY_COLUMNS`, in order.

    Parameters
    ----------
    rows
        Row dicts from :func:`summarize_draws` (extra keys are an error, missing keys too).
    priors
        Optional ``{parameter: description}`` (e.g. from
        :func:`prrt_bayes.core.priors.describe_priors`), stored (copied) in
        ``frame.attrs["priors"]``;
        ``None`` stores nothing.

    Returns
    -------
    pandas.DataFrame
        A new frame, one row per input row, columns :data:`SUMMARY_COLUMNS` in that order.

    Raises
    ------
    ValueError
        A row whose keys are not exactly :data:`SUMMARY_COLUMNS`.
    """
    rows = list(rows)
    for i, row in enumerate(rows):
        if set(row) != set(SUMMARY_COLUMNS):
            raise ValueError(f"summary row {i} has keys {sorted(row)}, expected {SUMMARY_COLUMNS}")
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    if priors is not None:
        frame.attrs["priors"] = dict(priors)
    return frame


HEADLINE_QUANTITIES = frozenset({
    Quantity.HAZARD_RATIO, Quantity.EXCESS_HAZARD_RATIO, Quantity.HAZARD_RATIO_WITHOUT_BORROWING,
    Quantity.TIME_RATIO, Quantity.PROBABILITY_HR_INCREASES, Quantity.MEDIAN_SURVIVAL,
    Quantity.MEDIAN_SURVIVAL_WITHOUT_BORROWING, Quantity.MEAN_SURVIVAL,
    Quantity.MEAN_SURVIVAL_DIFFERENCE, Quantity.RESPONSE_RATE,
    Quantity.RESPONSE_RATE_WITHOUT_BORROWING, Quantity.RISK_DIFFERENCE,
    Quantity.PROBABILITY_RISK_DIFFERENCE_POSITIVE,
})
"""Headline quantities: the console's table and the MCSE gate (every row is in
``summary.csv``); period-wise hazard ratios (``hazard_ratio_<a>-<b>m``) count as hazard ratios,
and the cost-effectiveness life years (:data:`~prrt_bayes.core.vocabulary.LIFE_YEAR_QUANTITIES`)
and the cumulative incidences of long-term risks are headline quantities too."""

CLEAR_PROBABILITY = 0.95
"""An adverse event is a headline when P(risk difference > 0) or P(risk difference < 0) is at
least this (the others are in ``summary.csv`` and the report's forest plot)."""


def headline_rows(summary):
    """The headline rows of a summary: the key estimates per analysis, which the console shows
    and whose Monte Carlo error the gate checks
    (:func:`~prrt_bayes.core.diagnostics.with_quantity_check`).

    Every hazard ratio, median and mean survival, response and risk difference; of the adverse
    events only those whose P(risk difference > 0) or P(risk difference < 0) is at least
    :data:`CLEAR_PROBABILITY` (P(RD < 0) = 1 - P(RD > 0) - P(no difference), the last from the
    Berry & Berry model's ``probability_no_difference`` row, 0 without one), and the long-term
    risks.

    Parameters
    ----------
    summary
        A run's summary frame (the columns of ``summary.csv``).

    Returns
    -------
    pandas.DataFrame
        The headline rows, in the summary's order.
    """
    quantity = summary["quantity"].astype(str)
    key = (quantity.isin(HEADLINE_QUANTITIES | set(LIFE_YEAR_QUANTITIES))
           | quantity.str.match(r"(excess_)?hazard_ratio_"))
    adverse = summary["endpoint"].astype(str).str.endswith(("_any_grade", "_grade34"))
    def by_event(name: str):
        return summary.loc[adverse & (quantity == name)].set_index(["analysis", "endpoint"])[
            "mean"]

    positive = by_event(Quantity.PROBABILITY_RISK_DIFFERENCE_POSITIVE)
    negative = 1 - positive - by_event(Quantity.PROBABILITY_NO_DIFFERENCE).reindex(
        positive.index, fill_value=0.0)
    clear = positive[(positive >= CLEAR_PROBABILITY) | (negative >= CLEAR_PROBABILITY)].index
    event = summary.set_index(["analysis", "endpoint"]).index
    shown_event = adverse & event.isin(clear) & quantity.isin(
        {Quantity.RISK_DIFFERENCE, Quantity.PROBABILITY_RISK_DIFFERENCE_POSITIVE})
    long_term = ~adverse & (summary["endpoint"].astype(str).str.contains("long_term")
                            | quantity.str.startswith("cumulative_incidence"))
    return summary[(key & ~adverse) | shown_event | long_term]
