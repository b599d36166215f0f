"""Figures of fitted analyses: KM vs posterior, extrapolation, forest plots, prior vs posterior.

Every function reads only :class:`~prrt_bayes.core.results.AnalysisResult` records and returns a
matplotlib :class:`~matplotlib.figure.Figure` drawn on the Agg canvas (no pyplot, no global
state, no display needed); :func:`save_all` writes every applicable figure as PNG. Each figure
is titled with the exact quantity shown, in words (``Hazard ratio, 177Lu-Dotatate vs control``,
``Probability alive and progression-free, S(t)``), and everything it draws lies inside its
canvas: the layout is matplotlib's constrained layout, long titles are broken into lines that
fit the figure's width, and a figure whose text still sticks out (a long name from a user file)
is widened until it fits (:func:`fit_canvas`). Text from user files (arm, event, analysis names)
is passed through :func:`~prrt_bayes.outputs.safe_text.escape_mpl`, so it is drawn literally.

Typed sections of the result read here (contracts for the model authors):

- ``ae_forest``: one row per event and model, columns ``group`` (event key such as
  ``nausea_any_grade`` or ``nausea_grade34``, or an event name), ``model`` (e.g. the Berry &
  Berry and independent models' labels), ``median``, ``lower``, ``upper`` (risk difference
  177Lu-Dotatate minus control, 2.5% and 97.5% quantiles); optional ``event`` (its name),
  ``organ_class`` and ``grade`` (``any``, ``any_grade``, ``grade34``, or another grade shown as
  ``grade <value>``). Without it, a toxicity analysis' ``risk_difference`` summary rows are
  drawn as a single model. Events without these columns are named by :func:`describe_event`.
- ``prior_posterior``: long format, columns ``parameter``, ``distribution`` (e.g.
  ``"prior"``, ``"posterior"``) and either ``value`` (draws; a Gaussian KDE is drawn) or ``x``
  and ``density`` (a density already evaluated on a grid).
- ``extrapolation``: its ``curves`` (posterior-median S(t) and h(t) per scenario, arm and month;
  scenario ``background`` is the general population) and ``follow_up`` are drawn by
  :func:`scenario_survival_plot` and :func:`scenario_hazard_plot`.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from matplotlib import colormaps, rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
from matplotlib.transforms import Bbox
from scipy.stats import gaussian_kde

from prrt_bayes.core.results import (
    AE_FOREST_COLUMNS,
    BACKGROUND_SCENARIO,
    EXTRAPOLATION_CURVE_COLUMNS,
    RECOMMENDED_SCENARIO,
    SCENARIO_LABELS,
    AnalysisResult,
)
from prrt_bayes.core.vocabulary import (
    ARM_LABELS,
    ENDPOINT_LABELS,
    Arm,
    Endpoint,
    Kind,
    Quantity,
    event_slug,
)
from prrt_bayes.evidence import load_netter1
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


SURVIVAL_WORDS: dict[str, str] = {Endpoint.PFS: "alive and progression-free",
                                   Endpoint.OS: "alive"}
"""Survival endpoint -> what S(t) is the probability of (other endpoints: ``event-free``)."""


def _survival_probability_label(result: AnalysisResult) -> str:
    """The y label of S(t): ``Probability alive and progression-free, S(t)`` for PFS."""
    return f"Probability {SURVIVAL_WORDS.get(result.endpoint, 'event-free')}, S(t)"


def _new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    fig.subplots(nrows, ncols, squeeze=False)
    return fig


def _wrap(fig: Figure, text: str, fontsize: str | float, share: float = 1.0) -> str:
    """``text`` with each line broken at spaces so that none is wider than ``share`` of the
    figure's width less 2% (widths measured with the figure's renderer and default font)."""
    renderer = fig.canvas.get_renderer()
    prop = FontProperties(size=fontsize)
    limit = (share - 0.02) * fig.bbox.width

    def width(line: str) -> float:
        return renderer.get_text_width_height_descent(line.replace("\\$", "$"), prop,
                                                      ismath=False)[0]

    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}" if line else word
            if line and width(trial) > limit:
                lines.append(line)
                trial = word
            line = trial
        lines.append(line)
    return "\n".join(lines)


def fit_canvas(fig: Figure, *, rounds: int = 4) -> Figure:
    """Grow ``fig`` until every axes (with its labels), legend and figure text is inside it.

    Constrained layout keeps titles, labels and legends inside the canvas only while they fit
    beside the axes: a label centred on an axes pushed aside by long tick labels, or a word
    longer than its axes, still sticks out. Each round lays the figure out, measures how far
    the drawn extent passes the canvas edges and widens (heightens) the figure by that times
    twice the number of axes columns (rows): each axes grows by its share only, so text centred
    on the last of ``n`` columns moves ``(2n - 1) / 2n`` as far as the edge. When the layout
    could not be applied at all (the decorations leave the axes no room: matplotlib warns that
    they collapsed), the figure grows by the overflow only, as the axes stay where they were;
    that warning is silenced while fitting.

    Parameters
    ----------
    fig
        A figure of this module (constrained layout, Agg canvas).
    rounds
        At most this many layouts; a figure that fits costs one.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig`` itself, resized if it had to be.
    """
    grids = [ax.get_gridspec() for ax in fig.axes if ax.get_gridspec() is not None]
    columns = max((g.ncols for g in grids), default=1)
    rows = max((g.nrows for g in grids), default=1)
    for _ in range(rounds):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.draw_without_rendering()
        collapsed = False
        for warning in caught:
            if "constrained_layout not applied" in str(warning.message):
                collapsed = True
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                       warning.lineno)
        renderer = fig.canvas.get_renderer()
        boxes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]
        boxes += [artist.get_window_extent(renderer) for artist in fig.legends]
        boxes += [text.get_window_extent(renderer) for text in fig.texts
                  if text.get_visible() and text.get_text()]
        drawn, canvas = Bbox.union([b for b in boxes if b is not None]), fig.bbox
        dx = max(0.0, canvas.x0 - drawn.x0) + max(0.0, drawn.x1 - canvas.x1)
        dy = max(0.0, canvas.y0 - drawn.y0) + max(0.0, drawn.y1 - canvas.y1)
        if dx < 0.5 and dy < 0.5:
            break
        width, height = fig.get_size_inches()
        grow_x, grow_y = (1, 1) if collapsed else (2 * columns, 2 * rows)
        fig.set_size_inches(width + grow_x * dx / fig.dpi, height + grow_y * dy / fig.dpi)
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
    ax.set_ylabel(_survival_probability_label(result))
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
    title = (f"{_endpoint_label(result)} probability S(t), {escape_mpl(result.name)}:\n"
             f"Kaplan-Meier of the IPD vs {CRI}")
    ax.set_title(_wrap(fig, title, "medium"), fontsize="medium")
    return fit_canvas(fig)


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
    title = (f"{_endpoint_label(result)} probability S(t) extrapolated to {horizon:g} months "
             f"({horizon / 12:g} years), {escape_mpl(result.name)}:\n{CRI}")
    ax.set_title(_wrap(fig, title, "medium"), fontsize="medium")
    return fit_canvas(fig)


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
                         "label": escape_mpl(SCENARIO_LABELS.get(scenario, scenario))}
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
               ncols=3, fontsize="x-small", title="scenario", title_fontsize="x-small")
    title = (f"{_endpoint_label(result)} {what} under each extrapolation scenario to "
             f"{horizon:g} months ({horizon / 12:g} years), {escape_mpl(result.name)}:\n"
             "posterior medians; recommended bold, other scenarios thin, general population "
             "dashed")
    fig.suptitle(_wrap(fig, title, "medium"), fontsize="medium")
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
        ax.set_ylabel(f"{_survival_probability_label(result)}, posterior median")
    return fit_canvas(fig)


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
        _plain_log_ticks(ax.yaxis)
        ax.set_ylabel("Hazard h(t), events per person-month,\nposterior median (log scale)")
        if values.size:
            top = float(values.max())
            ax.set_ylim(max(float(values.min()), top * 1e-4) / 1.5, top * 1.5)
    return fit_canvas(fig)


def _plain_log_ticks(axis) -> None:
    """Log-axis ticks at 1, 2 and 5 times the powers of ten, labelled as plain numbers (0.01, not
    mathtext 10^-2: readable, and much faster to draw); no minor ticks (they cost more to draw
    than all the rest of a forest plot)."""
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    axis.set_minor_locator(NullLocator())


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


_PERIOD = re.compile(r"(?P<start>\d+(?:\.\d+)?)(?:-(?P<end>\d+(?:\.\d+)?)m|m_plus)")


def period_words(period: str) -> str:
    """A hazard-ratio period suffix in words: ``"0-26.0277m"`` -> ``"months 0 to 26"``.

    Parameters
    ----------
    period
        The suffix of a per-period quantity
        (:func:`~prrt_bayes.core.vocabulary.period_hazard_ratio`): ``"<a>-<b>m"`` or
        ``"<a>m_plus"``; months are rounded to 0.1.

    Returns
    -------
    str
        ``"months <a> to <b>"`` or ``"after month <a>"``; any other suffix as given, escaped
        for matplotlib.
    """
    match = _PERIOD.fullmatch(str(period))
    if match is None:
        return escape_mpl(period)
    start = f"{round(float(match['start']), 1):g}"
    if match["end"] is None:
        return f"after month {start}"
    return f"months {start} to {round(float(match['end']), 1):g}"


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
        Two axes sharing x: the first (``fig.axes[0]``) has one errorbar line per hazard-ratio
        row, labelled on the left by analysis, endpoint and period (:func:`period_words`), plus
        the vertical line at 1; the second holds the medians and intervals as text on the
        right. When the rows mix hazard ratios and excess hazard ratios (relative-survival
        model: the hazards above the general population's), each row says which it is.

    Raises
    ------
    ValueError
        When there are no hazard-ratio rows.
    """
    rows = hazard_ratio_rows(results).reset_index(drop=True)
    if rows.empty:
        raise ValueError("no hazard_ratio rows to plot")
    fig = _new_figure(7.5, 2.0 + 0.45 * len(rows))
    ax = fig.axes[0]
    y = np.arange(len(rows))[::-1]
    kinds = [_hazard_ratio_kind(str(q)) for q in rows["quantity"]]
    mixed = len({kind for kind, _ in kinds}) > 1
    labels, estimates = [], []
    for yi, row, (kind, period) in zip(y, rows.itertuples(index=False), kinds, strict=True):
        ax.errorbar(row.median, yi, xerr=[[row.median - row.lower], [row.upper - row.median]],
                    fmt="o", color="black", capsize=3)
        what = [escape_mpl(str(row.endpoint).upper())]
        what += [HAZARD_RATIO_KINDS[kind]] if mixed else []
        what += [period_words(period)] if period else []
        labels.append(f"{escape_mpl(row.analysis)} ({', '.join(what)})")
        estimates.append(f"{_fmt(row.median)} ({_fmt(row.lower)} to {_fmt(row.upper)})")
    ax.axvline(1.0, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks(y, estimates)
    right.tick_params(axis="y", length=0)
    right.set_ylabel("posterior median (95% CrI)", fontsize="small")
    groups = list(dict.fromkeys(str(g) for g in rows["group"]))
    contrasts = "; ".join(contrast_label(g) for g in groups)
    arms = groups[0].split("_vs_")
    favoured = (arm_label(arms[0]) if len(groups) == 1 and len(arms) == 2
                else "the first-named arm")
    present = {kind for kind, _ in kinds}
    shown = " or ".join(HAZARD_RATIO_KINDS[k] for k in HAZARD_RATIO_KINDS if k in present)
    ax.set_xlabel(f"{shown.capitalize()}, {contrasts}\n(log scale; below 1 favours {favoured})")
    excess = ("\n(excess hazard: the hazard above the general population's)"
              if Quantity.EXCESS_HAZARD_RATIO in present else "")
    fig.suptitle(_wrap(fig, f"{shown.capitalize()}, {contrasts}: {CRI}{excess}", "medium"),
                 fontsize="medium")
    return fit_canvas(fig)


GRADE_WORDS: dict[str, str] = {"any_grade": "any grade", "grade34": "grade 3 or 4"}
"""Grade suffixes of AE event keys (``nausea_any_grade``, ``nausea_grade34``) -> words; an
``ae_forest`` ``grade`` column may also say ``any`` (any grade)."""

UNCLASSIFIED = "Organ class not known"
"""The group of AE events that are neither classified by their rows nor NEJM Table 4 events."""


@cache
def _netter1_events() -> dict[str, tuple[str, str]]:
    """Slug -> (name as printed, organ class) of each NEJM Table 4 event, in the table's order."""
    table = load_netter1().tables["table4_ae_by_type"]
    table = table[table["row_type"] == "event"]
    return {event_slug(event): (str(event), str(organ))
            for event, organ in zip(table["event"], table["organ_class"], strict=True)}


def describe_event(key: str) -> tuple[str, str, str]:
    """An AE event key in words: its name, grade and organ class.

    ``"nausea_grade34"`` -> ``("Nausea", "grade 3 or 4", "Gastrointestinal disorders")``.

    Parameters
    ----------
    key
        An event key of the toxicity analysis (event slug plus ``_any_grade`` or ``_grade34``,
        :data:`GRADE_WORDS`) or an event name without a grade.

    Returns
    -------
    tuple[str, str, str]
        The event's name, its grade in words (``""`` without a grade suffix) and its organ
        class. A NEJM Table 4 event (matched by its slug: lower case, each run of other
        characters than ``a-z0-9`` as ``_``) has its name as printed there and the organ class
        the AE models use; any other event is named by its key without the grade suffix,
        underscores as spaces and the first letter capitalised (``hand_foot_syndrome`` ->
        ``Hand foot syndrome``), in the class :data:`UNCLASSIFIED`.
    """
    event, grade = str(key), ""
    for suffix, words in GRADE_WORDS.items():
        if event.endswith(f"_{suffix}"):
            event, grade = event.removesuffix(f"_{suffix}"), words
            break
    known = _netter1_events().get(event_slug(event))
    if known is not None:
        return known[0], grade, known[1]
    name = re.sub(r"\s+", " ", event.replace("_", " ")).strip()
    return name[:1].upper() + name[1:], grade, UNCLASSIFIED


def _grade_words(grade) -> str:
    """A value of the ``grade`` column in words (missing: ``""``)."""
    if pd.isna(grade) or not str(grade).strip():
        return ""
    grade = str(grade).strip()
    return {"any": GRADE_WORDS["any_grade"], **GRADE_WORDS}.get(grade, f"grade {grade}")


def _rank(values: pd.Series, reference: Sequence[str]) -> pd.Series:
    """Position of each value in ``reference``, then in order of first appearance."""
    order = list(dict.fromkeys([*reference, *values]))
    return values.map({v: i for i, v in enumerate(order)})


def _in_words(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with ``event``, ``grade``, ``organ_class`` and ``label`` in words, in the order
    of the forest: organ classes and events as in NEJM Table 4 and the others after them in
    order of appearance, any grade before grade 3 or 4."""
    words = pd.DataFrame([describe_event(g) for g in rows["group"].astype(str)],
                         columns=["event", "grade", "organ_class"], index=rows.index)
    for column in ("event", "organ_class"):
        if column in rows:
            given = rows[column].where(rows[column].notna(), "").astype(str).str.strip()
            words[column] = given.where(given != "", words[column])
    if "grade" in rows:
        words["grade"] = [_grade_words(g) for g in rows["grade"]]
    out = rows.drop(columns=["event", "grade", "organ_class"], errors="ignore").join(words)
    out["label"] = [f"{e}, {g}" if g else e for e, g in zip(out["event"], out["grade"],
                                                              strict=True)]
    known = _netter1_events()
    ranks = pd.DataFrame({
        "organ_class": _rank(out["organ_class"], [c for _, c in known.values()]),
        "event": _rank(out["event"].map(event_slug), list(known)),
        "grade": _rank(out["grade"], list(GRADE_WORDS.values())),
    })
    order = ranks.sort_values(["organ_class", "event", "grade"], kind="stable").index
    return out.loc[order].reset_index(drop=True)


def risk_difference_rows(result: AnalysisResult) -> pd.DataFrame:
    """AE risk differences to plot, in words and in the forest's order.

    Parameters
    ----------
    result
        A fitted analysis (usually a toxicity analysis).

    Returns
    -------
    pandas.DataFrame
        A new frame with the columns ``group, model, median, lower, upper`` of ``ae_forest`` if
        present (its other columns kept); else of the ``risk_difference`` summary rows of a
        toxicity analysis (``group`` the event key, i.e. the row's ``endpoint``, or the row's
        ``group`` when the endpoint is ``adverse_events``), with ``model`` set to the analysis
        name; else empty. Plus ``event``, ``grade``, ``organ_class`` (the ``ae_forest`` columns
        where given, else :func:`describe_event` of ``group``) and ``label`` (``"Nausea, any
        grade"``), sorted by organ class and event as in NEJM Table 4 (others after them, in
        order of appearance), any grade before grade 3 or 4, the models in their order.

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
        return _in_words(forest.reset_index(drop=True))
    if result.kind != Kind.TOXICITY or result.summary is None or result.summary.empty:
        return pd.DataFrame(columns=[*AE_FOREST_COLUMNS, "event", "grade", "organ_class",
                                     "label"])
    rows = result.summary[result.summary["quantity"] == Quantity.RISK_DIFFERENCE]
    event = rows["endpoint"].where(rows["endpoint"] != Endpoint.ADVERSE_EVENTS, rows["group"])
    rows = rows.assign(group=event.astype(str), model=result.name)
    return _in_words(rows[list(AE_FOREST_COLUMNS)].reset_index(drop=True))


def forest_risk_differences(result: AnalysisResult) -> Figure:
    """Forest plot of AE risk differences (177Lu-Dotatate minus control) by organ class.

    Parameters
    ----------
    result
        A fitted analysis with rows from :func:`risk_difference_rows`: one y position per event
        and grade (labelled ``"Nausea, any grade"``), under a bold header per organ class on a
        grey band, models side by side.

    Returns
    -------
    matplotlib.figure.Figure
        One axis: one errorbar line per model (e.g. shrunk and unshrunk) plus the line at 0;
        y tick labels the organ classes (bold) and events in the order of
        :func:`risk_difference_rows`; x tick labels above and below; the models' legend at the
        bottom.

    Raises
    ------
    ValueError
        When ``result`` has no risk differences, or ``ae_forest`` lacks a column.
    """
    rows = risk_difference_rows(result)
    if rows.empty:
        raise ValueError(f"analysis {result.name!r} has no AE risk differences")
    lines: list[tuple[str, str]] = []  # (organ class, event label or "" for its header)
    for organ_class, group in rows.groupby("organ_class", sort=False):
        lines += [(organ_class, ""), *((organ_class, label)
                                       for label in dict.fromkeys(group["label"]))]
    models = list(dict.fromkeys(rows["model"].astype(str)))
    fig = _new_figure(7.5, 2.2 + 0.23 * len(lines) * max(1.0, len(models) / 2))
    ax = fig.axes[0]
    y = len(lines) - 1 - np.arange(len(lines))
    y_of = dict(zip(lines, y, strict=True))
    for (_, label), yi in zip(lines, y, strict=True):
        if not label:
            ax.axhspan(yi - 0.5, yi + 0.5, color="0.92", lw=0, zorder=0)
    width = 0.6 / len(models)
    for j, model in enumerate(models):
        sel = rows[rows["model"].astype(str) == model]
        offset = (j - (len(models) - 1) / 2) * width
        at = np.array([y_of[line] for line in zip(sel["organ_class"], sel["label"],
                                                  strict=True)]) - offset
        med, lo, hi = (sel[c].to_numpy(float) for c in ("median", "lower", "upper"))
        ax.errorbar(med, at, xerr=[med - lo, hi - med], fmt="o", ms=4, capsize=2,
                    label=escape_mpl(model))
    ax.axvline(0.0, color="grey", ls="--", lw=1)
    ax.set_yticks(y, [escape_mpl(label or organ_class) for organ_class, label in lines])
    for tick, (_, label) in zip(ax.get_yticklabels(), lines, strict=True):
        tick.set_fontweight("normal" if label else "bold")
    ax.set_ylim(-0.6, len(lines) - 0.4)
    ax.tick_params(axis="x", labeltop=True)
    ax.set_xlabel("Risk difference: probability of the event,\n177Lu-Dotatate minus control")
    fig.legend(loc="outside lower center", fontsize="small", title="model",
               title_fontsize="small")
    title = ("Adverse events by organ class: risk difference, 177Lu-Dotatate minus control, "
             f"{escape_mpl(result.name)}:\n{CRI}")
    fig.suptitle(_wrap(fig, title, "medium"), fontsize="medium")
    return fit_canvas(fig)


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
        ax.set_title(_wrap(fig, f"{escape_mpl(parameter)}: prior vs posterior density",
                           "small", 1 / ncols), fontsize="small")
        ax.set_xlabel(_wrap(fig, escape_mpl(parameter), "medium", 1 / ncols))
        ax.set_ylabel("probability density")
        ax.legend(fontsize="x-small")
    for ax in fig.axes[len(parameters):]:
        ax.set_visible(False)
    title = f"Prior vs posterior density of borrowed parameters, {escape_mpl(result.name)}"
    fig.suptitle(_wrap(fig, title, "medium"), fontsize="medium")
    return fit_canvas(fig)


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
    drawing and rendering are the whole cost of a figure (0.1-0.5 s each).

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
