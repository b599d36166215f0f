"""Figures of fitted analyses: KM vs posterior, extrapolation, forest plots, prior vs posterior.

Every function reads only :class:`~prrt_bayes.core.results.AnalysisResult` records and returns a
matplotlib :class:`~matplotlib.figure.Figure` drawn on the Agg canvas (no pyplot, no global
state, no display needed); :func:`save_all` writes every applicable figure as PNG. Each figure
is titled with the exact quantity shown. Text from user files (arm, event, analysis names) is
passed through :func:`~prrt_bayes.outputs.safe_text.escape_mpl`, so it is drawn literally.

Typed sections of the result read here (contracts for the model authors):

- ``ae_forest``: one row per event and model, columns ``group`` (event name), ``model``
  (e.g. ``"shrunk"``, ``"unshrunk"``), ``median``, ``lower``, ``upper`` (risk difference
  177Lu-Dotatate minus control, 2.5% and 97.5% quantiles), optional ``grade``. Without it, a
  toxicity analysis' ``risk_difference`` summary rows are drawn as a single model.
- ``prior_posterior``: long format, columns ``parameter``, ``distribution`` (e.g.
  ``"prior"``, ``"posterior"``) and either ``value`` (draws; a Gaussian KDE is drawn) or ``x``
  and ``density`` (a density already evaluated on a grid).
- ``extrapolation``: its ``curves`` (posterior-median S(t) and h(t) per scenario, arm and month;
  scenario ``background`` is the general population) and ``follow_up`` are drawn by
  :func:`scenario_survival_plot` and :func:`scenario_hazard_plot`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from matplotlib import colormaps, rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from scipy.stats import gaussian_kde

from prrt_bayes.core.results import (
    AE_FOREST_COLUMNS,
    BACKGROUND_SCENARIO,
    EXTRAPOLATION_CURVE_COLUMNS,
    RECOMMENDED_SCENARIO,
    AnalysisResult,
)
from prrt_bayes.core.vocabulary import ARM_LABELS, ENDPOINT_LABELS, Arm, Kind, Quantity
from prrt_bayes.outputs.safe_text import escape_mpl, safe_name

CRI = "posterior median and 95% CrI"
MONTHS = "Months since randomisation"
FIGURE_DPI = 100
"""Resolution of the figures of a run (``plots/*.png`` and the report show the same PNG)."""


def arm_label(arm: str) -> str:
    """Display name of an arm (``lu177`` -> ``177Lu-Dotatate``), escaped for matplotlib.

    Parameters
    ----------
    arm
        Arm code; codes other than ``lu177`` and ``control`` are shown as given.

    Returns
    -------
    str
        The label, with ``$`` escaped.
    """
    return escape_mpl(ARM_LABELS.get(str(arm), arm))


def contrast_label(group: str) -> str:
    """``"a_vs_b"`` -> ``"<arm a> vs <arm b>"`` (e.g. ``177Lu-Dotatate vs control``).

    Parameters
    ----------
    group
        Contrast code of a summary row; one without exactly one ``_vs_`` is shown as given.

    Returns
    -------
    str
        The label, escaped for matplotlib.
    """
    parts = str(group).split("_vs_")
    if len(parts) == 2:
        return f"{arm_label(parts[0])} vs {arm_label(parts[1])}"
    return escape_mpl(group)


def _endpoint_label(result: AnalysisResult) -> str:
    return ENDPOINT_LABELS.get(result.endpoint, escape_mpl(result.endpoint))


def _new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    fig.subplots(nrows, ncols, squeeze=False)
    return fig


def _band(surv) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time grid, posterior median and 2.5%/97.5% quantiles of S(t) over all draws."""
    values = surv.transpose(..., "time").values
    values = values.reshape(-1, values.shape[-1])
    lower, median, upper = np.quantile(values, [0.025, 0.5, 0.975], axis=0)
    return surv["time"].values, median, lower, upper


def _arms(result: AnalysisResult) -> list[str]:
    """Arms with posterior curves: the NETTER-1 arms first (treated, control), then the others."""
    known = [a for a in ARM_LABELS if a in result.survival]
    return known + sorted(str(a) for a in result.survival if a not in ARM_LABELS)


def _survival_axes(result: AnalysisResult, t_max: float, ax) -> None:
    """KM of the IPD (step line) and posterior median (line) with 95% band, per arm."""
    palette = rcParams["axes.prop_cycle"].by_key()["color"]
    for i, arm in enumerate(_arms(result)):
        colour = palette[i % len(palette)]
        t, median, lower, upper = _band(result.survival[arm])
        keep = t <= t_max
        ax.fill_between(t[keep], lower[keep], upper[keep], color=colour, alpha=0.2, lw=0)
        ax.plot(t[keep], median[keep], color=colour,
                label=f"{arm_label(arm)}: posterior median, 95% CrI")
        if result.ipd is not None and "arm" in result.ipd:
            data = result.ipd[result.ipd["arm"] == arm]
            if len(data):
                km = KaplanMeierFitter().fit(data["time"], data["event"])
                sf = km.survival_function_
                ax.step(sf.index.values, sf.iloc[:, 0].values, where="post", color=colour,
                        ls="--", label=f"{arm_label(arm)}: Kaplan-Meier (n={len(data)})")
    ax.set_xlim(0, t_max)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(MONTHS)
    ax.set_ylabel("S(t)")
    ax.legend(loc="best", fontsize="small")


def _survival_figure(result: AnalysisResult, t_max: float) -> tuple[Figure, object]:
    """A one-axis figure with :func:`_survival_axes` up to ``t_max``; the figure and its axis."""
    fig = _new_figure(7.5, 4.8)
    ax = fig.axes[0]
    _survival_axes(result, t_max, ax)
    return fig, ax


def km_plot(result: AnalysisResult) -> Figure:
    """KM of the IPD with the posterior median S(t) and 95% band per arm, over the follow-up.

    Parameters
    ----------
    result
        A survival analysis with posterior curves (``result.survival``) and its IPD; the x axis
        runs to the last IPD time (months).

    Returns
    -------
    matplotlib.figure.Figure
        One axis; per arm one posterior line, one band and (if the IPD has the arm) one KM step
        line.

    Raises
    ------
    ValueError
        When ``result`` has no survival curves or no IPD.
    """
    if not result.survival or result.ipd is None:
        raise ValueError(f"analysis {result.name!r} has no survival curves or no IPD")
    follow_up = float(result.ipd["time"].max())
    fig, ax = _survival_figure(result, follow_up)
    ax.set_title(f"{_endpoint_label(result)} probability S(t), {escape_mpl(result.name)}:\n"
                 f"Kaplan-Meier of the IPD vs {CRI}", fontsize="medium")
    return fig


def extrapolation_plot(result: AnalysisResult) -> Figure:
    """Posterior S(t) per arm extrapolated to the horizon, KM overlaid, end of follow-up marked.

    Parameters
    ----------
    result
        A survival analysis with posterior curves; the horizon is the longest time grid of
        ``result.survival`` (months).

    Returns
    -------
    matplotlib.figure.Figure
        One axis; per arm a posterior line, band and KM line, plus one vertical line at the end of
        follow-up when the IPD is known.

    Raises
    ------
    ValueError
        When ``result`` has no survival curves.
    """
    if not result.survival:
        raise ValueError(f"analysis {result.name!r} has no survival curves")
    horizon = max(float(s["time"].max()) for s in result.survival.values())
    fig, ax = _survival_figure(result, horizon)
    if result.ipd is not None:
        follow_up = float(result.ipd["time"].max())
        ax.axvline(follow_up, color="grey", ls=":", lw=1)
        ax.annotate(f"end of follow-up ({follow_up:.0f} months)", (follow_up, 0.98),
                    fontsize="x-small", color="grey", ha="left", va="top")
    ax.set_title(f"{_endpoint_label(result)} probability S(t) extrapolated to {horizon:g} months "
                 f"({horizon / 12:g} years), {escape_mpl(result.name)}:\n{CRI}",
                 fontsize="medium")
    return fig


def _scenario_curves(result: AnalysisResult) -> pd.DataFrame:
    """The extrapolation curves of ``result`` (background included), or an empty frame."""
    extrapolation = result.extrapolation
    if extrapolation is None or extrapolation.curves.empty:
        return pd.DataFrame(columns=list(EXTRAPOLATION_CURVE_COLUMNS))
    return extrapolation.curves


def _has_scenario_curves(result: AnalysisResult) -> bool:
    """True when ``result`` has the curves of at least one extrapolation scenario."""
    curves = _scenario_curves(result)
    return bool((curves["scenario"].astype(str) != BACKGROUND_SCENARIO).any())


def _scenario_figure(result: AnalysisResult, column: str, what: str) -> Figure:
    """One panel per arm: every scenario's ``column`` (``survival`` or ``hazard``) over time,
    the recommended one bold and labelled, the background dashed, the end of follow-up marked;
    one legend for the figure, below the panels."""
    if not _has_scenario_curves(result):
        raise ValueError(f"analysis {result.name!r} has no extrapolation scenario curves")
    curves = _scenario_curves(result)
    label = curves["scenario"].astype(str)
    scenarios = [s for s in dict.fromkeys(label) if s != BACKGROUND_SCENARIO]
    arms = list(dict.fromkeys(curves.loc[label != BACKGROUND_SCENARIO, "arm"].astype(str)))
    arms = [a for a in arms if a != Arm.CONTROL] + [a for a in arms if a == Arm.CONTROL]
    others = [s for s in scenarios if s != RECOMMENDED_SCENARIO]
    palette = colormaps["tab20"]
    colour = {s: palette(i % palette.N) for i, s in enumerate(others)}
    follow_up = float(result.extrapolation.follow_up)
    horizon = float(curves["time"].max())
    fig = _new_figure(11.0, 6.0, 1, len(arms))
    handles: dict[str, object] = {}
    order = [*others, *([RECOMMENDED_SCENARIO] if RECOMMENDED_SCENARIO in scenarios else []),
             *([BACKGROUND_SCENARIO] if BACKGROUND_SCENARIO in set(label) else [])]
    for ax, arm in zip(fig.axes, arms, strict=True):
        for scenario in order:
            one = curves[(label == scenario) & (curves["arm"].astype(str) == arm)]
            if one.empty:
                continue
            one = one.sort_values("time")
            t, y = one["time"].to_numpy(float), one[column].to_numpy(float)
            if column == "hazard":
                y = np.where(np.isfinite(y) & (y > 0), y, np.nan)
            if scenario == RECOMMENDED_SCENARIO:
                style = {"color": "black", "lw": 2.6, "zorder": 4,
                         "label": "recommended (bold)"}
            elif scenario == BACKGROUND_SCENARIO:
                style = {"color": "dimgrey", "lw": 1.6, "ls": "--", "zorder": 3,
                         "label": "general population (life table, dashed)"}
            else:
                style = {"color": colour[scenario], "lw": 1.0, "alpha": 0.9,
                         "label": escape_mpl(scenario)}
            (line,) = ax.plot(t, y, **style)
            handles.setdefault(str(style["label"]), line)
            if scenario == RECOMMENDED_SCENARIO:
                last = np.flatnonzero(np.isfinite(y))
                if last.size:
                    ax.annotate("recommended", (t[last[-1]], y[last[-1]]), xytext=(-4, 4),
                                textcoords="offset points", ha="right", va="bottom",
                                fontsize="small", fontweight="bold")
        ax.axvline(follow_up, color="grey", ls=":", lw=1)
        ax.annotate(f"end of follow-up ({follow_up:.0f} months)", (follow_up, 0.98),
                    xycoords=ax.get_xaxis_transform(), xytext=(3, 0), textcoords="offset points",
                    fontsize="x-small", color="grey", ha="left", va="top")
        ax.set_xlim(0, horizon)
        ax.set_xlabel(MONTHS)
        ax.set_title(arm_label(arm), fontsize="medium")
    fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
               ncols=4, fontsize="x-small", title="scenario", title_fontsize="x-small")
    fig.suptitle(f"{_endpoint_label(result)} {what} under each extrapolation scenario to "
                 f"{horizon:g} months ({horizon / 12:g} years), {escape_mpl(result.name)}:\n"
                 "posterior medians; recommended bold, other scenarios thin, general "
                 "population dashed", fontsize="medium")
    return fig


def scenario_survival_plot(result: AnalysisResult) -> Figure:
    """Every extrapolation scenario's posterior-median S(t) to the horizon, one panel per arm.

    Parameters
    ----------
    result
        A survival analysis whose ``extrapolation`` has curves (scenario, arm, time, survival,
        hazard); scenario ``recommended`` is drawn bold and labelled, ``background`` (the
        general population) dashed.

    Returns
    -------
    matplotlib.figure.Figure
        One axis per arm (treatment first, control last); per axis one line per scenario, one
        for the general population when present and one vertical line at the end of follow-up;
        one legend for the figure.

    Raises
    ------
    ValueError
        When ``result`` has no extrapolation scenario curves.
    """
    fig = _scenario_figure(result, "survival", "probability S(t)")
    for ax in fig.axes:
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("S(t), posterior median")
    return fig


def scenario_hazard_plot(result: AnalysisResult) -> Figure:
    """Every extrapolation scenario's posterior-median hazard h(t) per month (log scale).

    Parameters
    ----------
    result
        A survival analysis whose ``extrapolation`` has curves (see
        :func:`scenario_survival_plot`); the general population's hazard is drawn dashed.

    Returns
    -------
    matplotlib.figure.Figure
        One axis per arm with a log y axis, lines as in :func:`scenario_survival_plot`; hazards
        that are not positive are left out. The y range covers the curves from month 1 on,
        at most four decades below their largest value.

    Raises
    ------
    ValueError
        When ``result`` has no extrapolation scenario curves.
    """
    fig = _scenario_figure(result, "hazard", "hazard h(t) per month (log scale)")
    curves = _scenario_curves(result)
    values = curves.loc[curves["time"].astype(float) >= 1.0, "hazard"].to_numpy(float)
    values = values[np.isfinite(values) & (values > 0)]
    for ax in fig.axes:
        ax.set_yscale("log")
        ax.set_ylabel("h(t) per month, posterior median (log scale)")
        if values.size:
            top = float(values.max())
            ax.set_ylim(max(float(values.min()), top * 1e-4) / 1.5, top * 1.5)
    return fig


HAZARD_RATIO_KINDS: dict[str, str] = {Quantity.HAZARD_RATIO: "hazard ratio",
                                       Quantity.EXCESS_HAZARD_RATIO: "excess hazard ratio"}
"""Quantities drawn in the hazard-ratio forest (each also with a ``_<period>`` suffix) -> label."""


def _hazard_ratio_kind(quantity: str) -> tuple[str, str] | None:
    """``(kind, period)`` of a hazard-ratio quantity (kind a key of :data:`HAZARD_RATIO_KINDS`,
    period the suffix after ``<kind>_``, or ``""``), or ``None`` for any other quantity."""
    for kind in HAZARD_RATIO_KINDS:
        if quantity == kind or quantity.startswith(f"{kind}_"):
            return kind, quantity.removeprefix(kind).lstrip("_")
    return None


def hazard_ratio_rows(results: Sequence[AnalysisResult]) -> pd.DataFrame:
    """Summary rows of every hazard ratio: ``hazard_ratio``, ``excess_hazard_ratio`` and their
    per-period (``hazard_ratio_*``, ``excess_hazard_ratio_*``) variants.

    Parameters
    ----------
    results
        Fitted analyses; those without summary rows are skipped.

    Returns
    -------
    pandas.DataFrame
        A new frame of the matching summary rows, with the summary columns (``analysis,
        endpoint, quantity, group, mean, sd, median, lower, upper``); empty with columns
        ``analysis, endpoint, quantity, group`` when no analysis has summary rows.
    """
    frames = [r.summary for r in results if r.summary is not None and len(r.summary)]
    if not frames:
        return pd.DataFrame(columns=["analysis", "endpoint", "quantity", "group"])
    rows = pd.concat(frames, ignore_index=True)
    keep = [_hazard_ratio_kind(str(q)) is not None for q in rows["quantity"]]
    return rows[keep]


def _fmt(x: float) -> str:
    return f"{x:.2f}" if np.isfinite(x) else str(x)


def forest_hazard_ratios(results: Sequence[AnalysisResult]) -> Figure:
    """Forest plot of all (excess) hazard ratios: median and 95% CrI on a log axis, 1 marked.

    Parameters
    ----------
    results
        Fitted analyses; their rows from :func:`hazard_ratio_rows` are drawn in order, top to
        bottom.

    Returns
    -------
    matplotlib.figure.Figure
        One axis; one errorbar line per hazard-ratio row plus the vertical line at 1. An excess
        hazard ratio (relative-survival model: the hazards above the general population's) is
        labelled as such.

    Raises
    ------
    ValueError
        When there are no hazard-ratio rows.
    """
    rows = hazard_ratio_rows(results).reset_index(drop=True)
    if rows.empty:
        raise ValueError("no hazard_ratio rows to plot")
    fig = _new_figure(7.5, 1.6 + 0.45 * len(rows))
    ax = fig.axes[0]
    y = np.arange(len(rows))[::-1]
    labels = []
    kinds = [_hazard_ratio_kind(str(q)) for q in rows["quantity"]]
    for yi, row, (kind, period) in zip(y, rows.itertuples(index=False), kinds, strict=True):
        ax.errorbar(row.median, yi, xerr=[[row.median - row.lower], [row.upper - row.median]],
                    fmt="o", color="black", capsize=3)
        what = f", {HAZARD_RATIO_KINDS[kind]}" if kind == Quantity.EXCESS_HAZARD_RATIO else ""
        where = f", {escape_mpl(period)}" if period else ""
        labels.append(f"{escape_mpl(row.analysis)} ({escape_mpl(str(row.endpoint).upper())}"
                      f"{what}{where}): {_fmt(row.median)} ({_fmt(row.lower)} to "
                      f"{_fmt(row.upper)})")
    ax.axvline(1.0, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    contrasts = "; ".join(dict.fromkeys(contrast_label(g) for g in rows["group"]))
    shown = " or ".join(HAZARD_RATIO_KINDS[k] for k in HAZARD_RATIO_KINDS
                        if k in {kind for kind, _ in kinds})
    ax.set_xlabel(f"{shown.capitalize()} (log scale; < 1 favours the first-named arm)")
    ax.set_title(f"{shown.capitalize()}, {contrasts}\n({CRI})", fontsize="medium")
    return fig


def risk_difference_rows(result: AnalysisResult) -> pd.DataFrame:
    """AE risk differences to plot: the ``ae_forest`` section, else the summary rows (one model).

    Parameters
    ----------
    result
        A fitted analysis (usually a toxicity analysis).

    Returns
    -------
    pandas.DataFrame
        A new frame with at least the columns ``group, model, median, lower, upper``: all of
        ``ae_forest`` if present; else the ``risk_difference`` summary rows of a
        toxicity analysis, with ``model`` set to the analysis name; else empty.

    Raises
    ------
    ValueError
        When ``ae_forest`` lacks one of those columns.
    """
    forest = result.ae_forest
    if forest is not None:
        missing = set(AE_FOREST_COLUMNS) - set(forest.columns)
        if missing:
            raise ValueError(f"ae_forest of {result.name!r} lacks {sorted(missing)}")
        return forest.reset_index(drop=True)
    if result.kind != Kind.TOXICITY or result.summary is None or result.summary.empty:
        return pd.DataFrame(columns=list(AE_FOREST_COLUMNS))
    rows = result.summary[result.summary["quantity"] == Quantity.RISK_DIFFERENCE]
    return rows.assign(model=result.name)[list(AE_FOREST_COLUMNS)].reset_index(drop=True)


def forest_risk_differences(result: AnalysisResult) -> Figure:
    """Forest plot of AE risk differences (177Lu-Dotatate minus control), one marker per model.

    Parameters
    ----------
    result
        A fitted analysis with rows from :func:`risk_difference_rows` (one y position per event
        and grade, models side by side).

    Returns
    -------
    matplotlib.figure.Figure
        One axis; one errorbar line per model (e.g. shrunk and unshrunk) plus the line at 0.

    Raises
    ------
    ValueError
        When ``result`` has no risk differences, or ``ae_forest`` lacks a column.
    """
    rows = risk_difference_rows(result)
    if rows.empty:
        raise ValueError(f"analysis {result.name!r} has no AE risk differences")
    label_of = rows["group"].astype(str)
    if "grade" in rows:
        label_of = label_of + ", grade " + rows["grade"].astype(str)
    events = list(dict.fromkeys(label_of))
    models = list(dict.fromkeys(rows["model"].astype(str)))
    fig = _new_figure(7.5, 1.8 + 0.32 * len(events) * max(1, len(models) / 2))
    ax = fig.axes[0]
    y_of = {e: len(events) - 1 - i for i, e in enumerate(events)}
    width = 0.6 / max(len(models), 1)
    for j, model in enumerate(models):
        sel = rows["model"].astype(str) == model
        y = np.array([y_of[e] for e in label_of[sel]]) + (j - (len(models) - 1) / 2) * width
        med, lo, hi = (rows.loc[sel, c].to_numpy(float) for c in ("median", "lower", "upper"))
        ax.errorbar(med, y, xerr=[med - lo, hi - med], fmt="o", ms=4, capsize=2,
                    label=escape_mpl(model))
    ax.axvline(0.0, color="grey", ls="--", lw=1)
    ax.set_yticks(list(y_of.values()), [escape_mpl(e) for e in events])
    ax.set_xlabel("Risk difference (177Lu-Dotatate minus control)")
    ax.legend(loc="lower right", fontsize="small")
    by = ", ".join(escape_mpl(m) for m in models)
    ax.set_title(f"Risk difference in adverse-event probability, 177Lu-Dotatate minus control\n"
                 f"({CRI}; {by}), {escape_mpl(result.name)}", fontsize="medium")
    return fig


def _density(group: pd.DataFrame, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, density) of one distribution: given on a grid, or a KDE of its draws."""
    if {"x", "density"} <= set(group.columns) and group["x"].notna().any():
        g = group.dropna(subset=["x", "density"]).sort_values("x")
        return g["x"].to_numpy(float), g["density"].to_numpy(float)
    values = group["value"].dropna().to_numpy(float)
    if values.size < 2 or np.ptp(values) == 0:
        raise ValueError("cannot draw a density from fewer than 2 distinct draws")
    return grid, gaussian_kde(values)(grid)


def prior_posterior_plot(result: AnalysisResult) -> Figure:
    """Prior vs posterior density of each borrowed parameter (``prior_posterior`` section).

    Parameters
    ----------
    result
        A fitted analysis whose ``prior_posterior`` table has the columns described in the
        module docstring; the axes are laid out in up to 3 columns.

    Returns
    -------
    matplotlib.figure.Figure
        One axis per parameter, one line per distribution (prior, posterior, ...).

    Raises
    ------
    ValueError
        When the table is missing, empty or lacks columns, or a distribution has fewer than 2
        distinct draws.
    """
    table = result.prior_posterior
    if table is None or table.empty:
        raise ValueError(f"analysis {result.name!r} has no prior_posterior table")
    if not {"parameter", "distribution"} <= set(table.columns) or not (
        "value" in table or {"x", "density"} <= set(table.columns)
    ):
        raise ValueError("prior_posterior needs parameter, distribution and value "
                         "(draws) or x and density")
    parameters = list(dict.fromkeys(table["parameter"].astype(str)))
    ncols = min(3, len(parameters))
    nrows = -(-len(parameters) // ncols)
    fig = _new_figure(max(7.0, 4.2 * ncols), 3.4 * nrows + 0.6, nrows, ncols)
    for ax, parameter in zip(fig.axes, parameters, strict=False):
        sub = table[table["parameter"].astype(str) == parameter]
        grid = _kde_grid(sub)
        for name, group in sub.groupby(sub["distribution"].astype(str), sort=False):
            x, dens = _density(group, grid)
            ax.plot(x, dens, label=escape_mpl(name))
        ax.set_title(f"{escape_mpl(parameter)}: prior vs posterior density", fontsize="small")
        ax.set_xlabel(escape_mpl(parameter))
        ax.set_ylabel("density")
        ax.legend(fontsize="x-small")
    for ax in fig.axes[len(parameters):]:
        ax.set_visible(False)
    fig.suptitle(f"Prior vs posterior density of borrowed parameters, "
                 f"{escape_mpl(result.name)}", fontsize="medium")
    return fig


def _kde_grid(sub: pd.DataFrame) -> np.ndarray:
    """Common x grid for the KDEs: 0.5%-99.5% range of all draws, padded by 10%."""
    if "value" not in sub or sub["value"].notna().sum() < 2:
        return np.array([])
    lo, hi = np.nanquantile(sub["value"].to_numpy(float), [0.005, 0.995])
    pad = 0.1 * (hi - lo) if hi > lo else 1.0
    return np.linspace(lo - pad, hi + pad, 256)


def figures(results: Sequence[AnalysisResult]) -> list[tuple[str, Figure]]:
    """Every applicable figure as ``(file stem, Figure)``, in report order.

    Parameters
    ----------
    results
        Fitted analyses. One hazard-ratio forest plot for all of them, then per analysis its
        KM, extrapolation, extrapolation-scenario (survival and hazard), AE forest and
        prior-posterior plots where the data allow.

    Returns
    -------
    list[tuple[str, matplotlib.figure.Figure]]
        File stems (``forest_hazard_ratios``, ``km_<name>``, ``extrapolation_<name>``,
        ``scenario_survival_<name>`` and ``scenario_hazard_<name>`` (when the analysis'
        ``extrapolation`` has scenario curves), ``forest_ae_<name>``,
        ``prior_posterior_<name>``; names made file-safe) with new
        figures. Stems are distinct, also ignoring case (for case-insensitive file systems):
        a repeat gets the first free suffix ``_2``, ``_3``, ... not used by any other stem.
    """
    out: list[tuple[str, Figure]] = []
    if not hazard_ratio_rows(results).empty:
        out.append(("forest_hazard_ratios", forest_hazard_ratios(results)))
    for r in results:
        stem = safe_name(r.name, 80)
        if r.survival and r.ipd is not None:
            out.append((f"km_{stem}", km_plot(r)))
        if r.survival:
            out.append((f"extrapolation_{stem}", extrapolation_plot(r)))
        if _has_scenario_curves(r):
            out.append((f"scenario_survival_{stem}", scenario_survival_plot(r)))
            out.append((f"scenario_hazard_{stem}", scenario_hazard_plot(r)))
        if not risk_difference_rows(r).empty:
            out.append((f"forest_ae_{stem}", forest_risk_differences(r)))
        table = r.prior_posterior
        if table is not None and not table.empty:
            out.append((f"prior_posterior_{stem}", prior_posterior_plot(r)))
    # a repeat's suffix must not hit another stem: "a", "a", "a_2" -> "a", "a_3", "a_2"
    reserved = {stem.casefold() for stem, _ in out}
    used: set[str] = set()
    unique = []
    for stem, fig in out:
        name, n = stem, 1
        while name.casefold() in used or (n > 1 and name.casefold() in reserved):
            n += 1
            name = f"{stem}_{n}"
        used.add(name.casefold())
        unique.append((name, fig))
    return unique


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (Agg).

    Parameters
    ----------
    fig
        The figure to render.
    dpi
        Resolution in dots per inch.

    Returns
    -------
    bytes
        The PNG file content.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


@dataclass(frozen=True)
class RenderedFigure:
    """A figure drawn once: its file stem, its caption and its PNG bytes.

    Attributes
    ----------
    stem : file stem (see :func:`figures`).
    caption : the figure's title as plain text (suptitle, else the first axes' title).
    png : PNG file content.
    """

    stem: str
    caption: str
    png: bytes


def caption(fig: Figure) -> str:
    """The title of ``fig`` as plain one-line text (``\\$`` unescaped, newlines as spaces).

    Parameters
    ----------
    fig
        A figure of this module.

    Returns
    -------
    str
        The suptitle, or the first axes' title when there is none.
    """
    title = fig.get_suptitle() or fig.axes[0].get_title()
    return title.replace("\\$", "$").replace("\n", " ")


def render_all(results: Sequence[AnalysisResult], *, dpi: int = FIGURE_DPI
               ) -> list[RenderedFigure]:
    """Draw every applicable figure once (see :func:`figures`) and render it as PNG.

    The runner renders once and uses the result twice (``plots/*.png`` and the report), since
    drawing and rendering are the whole cost of a figure (0.05-0.25 s each).

    Parameters
    ----------
    results
        Fitted analyses.
    dpi
        Resolution in dots per inch.

    Returns
    -------
    list[RenderedFigure]
        In report order.
    """
    return [RenderedFigure(stem, caption(fig), png_bytes(fig, dpi))
            for stem, fig in figures(results)]


def write_pngs(rendered: Sequence[RenderedFigure], out_dir: Path) -> list[Path]:
    """Write rendered figures as ``out_dir/<stem>.png``; return the paths written.

    Parameters
    ----------
    rendered
        Figures from :func:`render_all`.
    out_dir
        Output directory, created (with parents) if needed; existing files are overwritten.

    Returns
    -------
    list[pathlib.Path]
        The files written, in the order of ``rendered``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for figure in rendered:
        path = out_dir / f"{figure.stem}.png"
        path.write_bytes(figure.png)
        paths.append(path)
    return paths


def save_all(results: Sequence[AnalysisResult], out_dir: Path, *, dpi: int = 120) -> list[Path]:
    """Write every applicable figure as ``out_dir/<stem>.png``; return the paths written.

    Parameters
    ----------
    results
        Fitted analyses (see :func:`figures`).
    out_dir
        Output directory, created (with parents) if needed; existing files are overwritten.
    dpi
        Resolution of the PNG files in dots per inch.

    Returns
    -------
    list[pathlib.Path]
        The files written, in report order.
    """
    return write_pngs(render_all(results, dpi=dpi), out_dir)
