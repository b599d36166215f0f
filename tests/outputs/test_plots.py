"""Figures: each function returns a Figure with the expected axes/lines/titles; PNGs are written.

Synthetic analyses (exponential survival draws, simulated IPD, hand-made forest and
prior/posterior tables, hand-made extrapolation-scenario curves) - no MCMC.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from helpers import (
    PASSED,
    exponential_result,
    published_hr,
    simulate_exponential_ipd,
    summary_row,
)
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from prrt_bayes.core.results import (
    EXTRAPOLATION_SCENARIO_COLUMNS,
    RECOMMENDED_SCENARIO,
    SCENARIO_LABELS,
    WITHOUT_EXTERNAL_SCENARIO,
    AnalysisResult,
    Extrapolation,
)
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.core.vocabulary import LU177_VS_CONTROL
from prrt_bayes.outputs import plots
from prrt_bayes.toxicity.adverse_events import KIND_LABELS, netter1_ae_table

RATES = {"lu177": 0.03, "control": 0.1}


def survival_result(name="pfs_primary", endpoint="pfs", rates=None, horizon=120.0, hr=None):
    """Exponential survival draws (rates with 10% noise), simulated IPD and one HR row."""
    rates = rates or RATES
    rng = np.random.default_rng(1)
    log_rates = {arm: np.log(rate) + 0.1 * rng.standard_normal((2, 50))
                 for arm, rate in rates.items()}
    summary = pd.DataFrame([summary_row(name, endpoint, "hazard_ratio", LU177_VS_CONTROL,
                                        *(hr or (0.3, 0.2, 0.45)))],
                           columns=list(SUMMARY_COLUMNS))
    ipd = simulate_exponential_ipd(rates, 80, np.random.default_rng(0), censor=(5, 30.0))
    return exponential_result(name, endpoint, log_rates, grid=np.arange(0.0, horizon + 0.5),
                              summary=summary, ipd=ipd)


def toxicity_result(with_forest=True):
    events = ["nausea", "vomiting", "abdominal pain"]
    rows = [summary_row("toxicity", "adverse_events", "risk_difference", e, d, d - 0.1, d + 0.1,
                        sd=0.05)
            for e, d in zip(events, (0.47, 0.37, 0.0), strict=True)]
    forest = None
    if with_forest:
        forest = pd.DataFrame(
            [{"group": r["group"], "model": m, "median": r["median"] * f,
              "lower": r["lower"] * f, "upper": r["upper"] * f}
             for r in rows for m, f in (("shrunk", 0.9), ("unshrunk", 1.0))])
    return AnalysisResult(name="toxicity", kind="toxicity", endpoint="adverse_events",
                          summary=pd.DataFrame(rows), diagnostics=PASSED, ae_forest=forest)


def borrowing_result(form="draws"):
    rng = np.random.default_rng(2)
    if form == "draws":
        table = pd.concat([
            pd.DataFrame({"parameter": p, "distribution": d, "value": rng.normal(m, s, 400)})
            for p in ("logit response rate, 177Lu-Dotatate", "log tau")
            for d, m, s in (("prior", -1.0, 1.0), ("posterior", -1.4, 0.3))
        ])
    else:
        x = np.linspace(-4, 2, 101)
        table = pd.concat([
            pd.DataFrame({"parameter": "logit rate", "distribution": d, "x": x,
                          "density": np.exp(-0.5 * ((x - m) / s) ** 2) / s})
            for d, m, s in (("prior", -1.0, 1.0), ("posterior", -1.4, 0.3))
        ])
    return AnalysisResult(name="response", kind="response", endpoint="response",
                          summary=pd.DataFrame(columns=list(SUMMARY_COLUMNS)),
                          diagnostics=PASSED, prior_posterior=table)


def test_km_plot_has_km_and_posterior_per_arm():
    result = survival_result()
    fig = plots.km_plot(result)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.lines) == 4  # per arm: posterior median + KM step
    assert len(ax.collections) == 2  # per arm: 95% band
    assert ax.get_xlim()[1] == pytest.approx(result.ipd["time"].max())
    assert "Progression-free survival probability S(t), pfs_primary" in ax.get_title()
    assert "Kaplan-Meier" in ax.get_title() and "95% CrI" in ax.get_title()
    # the KM line of an arm is the lifelines estimate: starts at 1, ends at its last value
    km_lines = [ln for ln in ax.lines if "Kaplan-Meier" in ln.get_label()]
    assert len(km_lines) == 2 and all(ln.get_ydata()[0] == 1.0 for ln in km_lines)


def test_posterior_band_is_the_draw_quantiles():
    result = survival_result()
    t, median, lower, upper = plots._band(result.survival["lu177"])
    values = result.survival["lu177"].values.reshape(-1, len(t))
    np.testing.assert_allclose(median, np.median(values, axis=0))
    assert np.all(lower <= median) and np.all(median <= upper)


def test_extrapolation_plot_reaches_horizon_and_marks_follow_up():
    result = survival_result(endpoint="os", name="os_final", horizon=240.0)
    ax = plots.extrapolation_plot(result).axes[0]
    assert ax.get_xlim()[1] == 240.0
    assert len(ax.lines) == 5  # 2 arms x (posterior + KM) + end of follow-up
    assert "Overall survival probability S(t) extrapolated to 240 months (20 years)" in (
        ax.get_title())


def test_forest_hazard_ratios_log_scale_with_one_marked():
    pfs_hr = published_hr("primary_2015", "pfs")
    results = [survival_result("pfs_primary", "pfs", hr=pfs_hr),
               survival_result("os_interim", "os", hr=published_hr("primary_2015", "os")),
               survival_result("os_final", "os", hr=published_hr("final_2021", "os"))]
    fig = plots.forest_hazard_ratios(results)
    ax, right = fig.axes
    assert len(ax.containers) == 3  # one errorbar per hazard ratio
    assert ax.get_xscale() == "log"
    assert any(list(ln.get_xdata()) == [1.0, 1.0] for ln in ax.lines)
    assert fig.get_suptitle() == ("Hazard ratio, 177Lu-Dotatate vs control: posterior median "
                                  "and 95% CrI")
    assert ax.get_xlabel() == ("Hazard ratio, 177Lu-Dotatate vs control\n"
                               "(log scale; below 1 favours 177Lu-Dotatate)")
    assert top_down(ax) == ["pfs_primary (PFS)", "os_interim (OS)", "os_final (OS)"]
    assert top_down(right)[0] == "{:.2f} ({:.2f} to {:.2f})".format(*pfs_hr)
    assert right.get_ylim() == ax.get_ylim()


def top_down(ax):
    """The y tick labels of ``ax`` from top to bottom."""
    ticks = zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()), strict=True)
    return [label for _, label in sorted(ticks, reverse=True)]


@pytest.mark.parametrize("period, words", [("0-26.0277m", "months 0 to 26"),
                                           ("12-24m", "months 12 to 24"),
                                           ("26.0277m_plus", "after month 26"),
                                           ("2.26m_plus", "after month 2.3"),
                                           ("late$", "late\\$")])
def test_periods_of_hazard_ratios_in_words(period, words):
    assert plots.period_words(period) == words


def test_forest_risk_differences_shrunk_vs_unshrunk_and_fallback():
    fig = plots.forest_risk_differences(toxicity_result())
    ax = fig.axes[0]
    assert len(ax.containers) == 2  # shrunk, unshrunk
    assert fig.get_suptitle().startswith("Adverse events by organ class: risk difference, "
                                         "177Lu-Dotatate minus control, toxicity")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["shrunk", "unshrunk"]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Gastrointestinal disorders", "Nausea", "Vomiting", "Abdominal pain"]
    assert [t.get_fontweight() for t in ax.get_yticklabels()] == ["bold", *["normal"] * 3]
    # the shrunk marker of each event sits just above its unshrunk one, both at the event's tick
    shrunk, unshrunk = (c.lines[0].get_ydata() for c in ax.containers)
    assert np.all(shrunk > unshrunk) and np.allclose((shrunk + unshrunk) / 2, [2, 1, 0])
    single = plots.forest_risk_differences(toxicity_result(with_forest=False)).axes[0]
    assert len(single.containers) == 1
    assert [t.get_text() for t in single.get_yticklabels()] == labels


def test_ae_forest_rows_in_words_grouped_by_organ_class():
    """Event keys of the toxicity analysis (grade-major, as it stacks its tables) come out in
    the order of NEJM Table 4 by organ class, any grade before grade 3 or 4, unknown events
    last under their own header, in the order they came."""
    keys = ["zz_rash_any_grade", "lymphopenia_any_grade", "nausea_any_grade",
            "lymphopenia_grade34", "nausea_grade34", "aa_itch_grade34"]
    forest = pd.DataFrame({"group": keys, "model": "m", "median": 0.1, "lower": 0.0,
                           "upper": 0.2})
    result = AnalysisResult(name="tox", kind="toxicity", endpoint="adverse_events",
                            summary=pd.DataFrame(), diagnostics=PASSED, ae_forest=forest)
    rows = plots.risk_difference_rows(result)
    assert list(rows["label"]) == ["Nausea, any grade", "Nausea, grade 3 or 4",
                                   "Lymphopenia, any grade", "Lymphopenia, grade 3 or 4",
                                   "Zz rash, any grade", "Aa itch, grade 3 or 4"]
    assert list(rows["organ_class"]) == ["Gastrointestinal disorders"] * 2 + [
        "Blood disorders"] * 2 + [plots.UNCLASSIFIED] * 2
    ax = plots.forest_risk_differences(result).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Gastrointestinal disorders", "Nausea, any grade", "Nausea, grade 3 or 4",
        "Blood disorders", "Lymphopenia, any grade", "Lymphopenia, grade 3 or 4",
        plots.UNCLASSIFIED, "Zz rash, any grade", "Aa itch, grade 3 or 4"]
    assert len(ax.patches) == 3  # one grey band per organ-class header


def test_ae_forest_columns_name_classify_and_grade_the_events():
    forest = pd.DataFrame({"group": ["e1", "e2", "e1"], "model": "m", "median": 0.1,
                           "lower": 0.0, "upper": 0.2, "event": ["Rash $x$", "Itch", "Rash $x$"],
                           "organ_class": ["Skin disorders", "Skin disorders", "Skin disorders"],
                           "grade": ["grade34", "any", "any"]})
    result = AnalysisResult(name="tox", kind="toxicity", endpoint="adverse_events",
                            summary=pd.DataFrame(), diagnostics=PASSED, ae_forest=forest)
    rows = plots.risk_difference_rows(result)
    assert list(rows["label"]) == ["Rash $x$, any grade", "Rash $x$, grade 3 or 4",
                                   "Itch, any grade"]
    ax = plots.forest_risk_differences(result).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Skin disorders", r"Rash \$x\$, any grade", r"Rash \$x\$, grade 3 or 4",
        "Itch, any grade"]


def test_every_netter1_event_key_is_named_and_classified_as_in_table_4():
    for grade, words in (("any", "any grade"), ("grade34", "grade 3 or 4")):
        table = netter1_ae_table(grade)
        described = [plots.describe_event(key) for key in table["key"]]
        assert described == [(e, words, c) for e, c in zip(table["event"],
                                                           table["organ_class"], strict=True)]
    assert plots.describe_event("hand-foot_syndrome") == ("Hand-foot syndrome", "",
                                                          plots.UNCLASSIFIED)


def test_summary_rows_of_the_toxicity_analysis_are_drawn_by_event_key():
    """The toxicity summary carries the event key in ``endpoint`` (``group`` is the contrast)."""
    rows = [summary_row("toxicity", key, q, LU177_VS_CONTROL, 0.3, 0.2, 0.4)
            for key in ("vomiting_grade34", "vomiting_any_grade")
            for q in ("risk_difference", "odds_ratio")]
    result = AnalysisResult(name="toxicity", kind="toxicity", endpoint="adverse_events",
                            summary=pd.DataFrame(rows), diagnostics=PASSED)
    drawn = plots.risk_difference_rows(result)
    assert list(drawn["label"]) == ["Vomiting, any grade", "Vomiting, grade 3 or 4"]
    assert list(drawn["model"]) == ["toxicity"] * 2


@pytest.mark.parametrize("form", ["draws", "densities"])
def test_prior_posterior_one_axis_per_parameter(form):
    fig = plots.prior_posterior_plot(borrowing_result(form))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == (2 if form == "draws" else 1)
    for ax in visible:
        assert [ln.get_label() for ln in ax.lines] == ["prior", "posterior"]
        assert "prior vs posterior density" in ax.get_title()
    assert fig.get_suptitle().startswith("Prior vs posterior density of borrowed parameters")


def test_dollar_signs_in_names_are_drawn_literally():
    result = survival_result(rates={r"$\frac$": 0.03, "control": 0.1})
    result.name = r"$\sqrt{$"
    png = plots.png_bytes(plots.km_plot(result))  # raises on invalid mathtext if unescaped
    assert png.startswith(b"\x89PNG")


def test_save_all_writes_non_empty_pngs(tmp_path):
    results = [survival_result(), survival_result("os_final", "os"), toxicity_result(),
               borrowing_result()]
    paths = plots.save_all(results, tmp_path / "plots")
    names = {p.name for p in paths}
    assert names == {"forest_hazard_ratios.png", "km_pfs_primary.png",
                     "extrapolation_pfs_primary.png", "km_os_final.png",
                     "extrapolation_os_final.png", "forest_ae_toxicity.png",
                     "prior_posterior_response.png"}
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000


def test_repeated_names_never_collide_with_other_stems(tmp_path):
    """A repeat of "ae" once became "ae_2", overwriting the PNG of an analysis named "ae_2"."""
    results = []
    for name in ("ae", "ae", "ae_2", "AE"):
        result = toxicity_result()
        result.name = name
        results.append(result)
    stems = [stem for stem, _ in plots.figures(results)]
    assert stems == ["forest_ae_ae", "forest_ae_ae_3", "forest_ae_ae_2", "forest_ae_AE_4"]
    paths = plots.save_all(results, tmp_path)
    assert len({p.name.casefold() for p in paths}) == 4
    assert len(list(tmp_path.iterdir())) == 4


# ------------------------------------------------------------------- extrapolation scenarios
SCENARIOS = ("recommended", "waning_linear_5y", "waning_exponential_10y",
             "without_background_mortality", "piecewise_ph_constant_tail", "exponential_ph",
             "weibull_ph", "lognormal_aft")


def scenario_curves(rates=None, scenarios=SCENARIOS, horizon=240.0, background=True):
    """Constant-hazard curves per scenario and arm (hazard scaled by 1 + 0.1 k for scenario k;
    the last scenario's hazard is 0 at t = 0, as finite differences can give), plus the
    general population's Gompertz hazard."""
    rates = rates or RATES
    grid = np.arange(0.0, horizon + 0.5)
    frames = []
    for k, scenario in enumerate(scenarios):
        for arm, rate in rates.items():
            hazard = np.full(grid.shape, rate * (1 + 0.1 * k))
            if k == len(scenarios) - 1:
                hazard[0] = 0.0
            frames.append(pd.DataFrame({"scenario": scenario, "arm": arm, "time": grid,
                                        "survival": np.exp(-hazard * grid), "hazard": hazard}))
    if background:
        hazard = 0.001 * np.exp(0.007 * grid)
        for arm in rates:
            frames.append(pd.DataFrame({
                "scenario": "background", "arm": arm, "time": grid, "hazard": hazard,
                "survival": np.exp(-0.001 / 0.007 * np.expm1(0.007 * grid))}))
    return pd.concat(frames, ignore_index=True)


def with_extrapolation(result, curves, follow_up=30.0):
    empty = pd.DataFrame(columns=list(EXTRAPOLATION_SCENARIO_COLUMNS))
    return replace(result, extrapolation=Extrapolation(("Hazard: constant.",), empty, curves,
                                                       follow_up))


def test_scenario_figures_follow_the_extrapolation_figure_with_captions():
    result = with_extrapolation(survival_result("os_final", "os", horizon=240.0),
                                scenario_curves())
    plain = survival_result("pfs_primary")
    drawn = plots.figures([plain, result])
    stems = [stem for stem, _ in drawn]
    assert stems == ["forest_hazard_ratios", "km_pfs_primary", "extrapolation_pfs_primary",
                     "km_os_final", "extrapolation_os_final", "scenario_survival_os_final",
                     "scenario_hazard_os_final"]
    captions = {stem: plots.caption(fig) for stem, fig in drawn}
    assert captions["scenario_survival_os_final"].startswith(
        "Overall survival probability S(t) under each extrapolation scenario to 240 months "
        "(20 years), os_final: posterior medians; recommended bold")
    assert captions["scenario_hazard_os_final"].startswith(
        "Overall survival hazard h(t) per month (log scale) under each extrapolation scenario")
    assert "general population dashed" in captions["scenario_hazard_os_final"]


@pytest.mark.parametrize("curves", [None, "empty", "background only"])
def test_no_scenario_figures_without_scenario_curves(curves):
    result = survival_result("os_final", "os")
    if curves is not None:
        frame = scenario_curves()
        frame = (frame.iloc[:0] if curves == "empty" else frame[frame["scenario"] == "background"])
        result = with_extrapolation(result, frame)
    stems = [stem for stem, _ in plots.figures([result])]
    assert not [s for s in stems if s.startswith("scenario_")]
    with pytest.raises(ValueError, match="no extrapolation scenario curves"):
        plots.scenario_survival_plot(result)


@pytest.mark.parametrize("plot", ["survival", "hazard"])
def test_scenario_plot_has_one_line_per_scenario_per_arm(plot):
    result = with_extrapolation(survival_result("os_final", "os", horizon=240.0),
                                scenario_curves(), follow_up=70.0)
    fig = getattr(plots, f"scenario_{plot}_plot")(result)
    assert [ax.get_title() for ax in fig.axes] == ["177Lu-Dotatate", "control"]
    for ax in fig.axes:
        # every scenario, the general population, the end of follow-up
        assert len(ax.lines) == len(SCENARIOS) + 2
        assert ax.get_xlim() == (0.0, 240.0)
        bold = [ln for ln in ax.lines if ln.get_linewidth() > 2]
        assert [ln.get_label() for ln in bold] == ["recommended (bold)"]
        dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
        assert [ln.get_label() for ln in dashed] == ["general population (life table, dashed)"]
        assert any(list(ln.get_xdata()) == [70.0, 70.0] for ln in ax.lines)
        texts = [t.get_text() for t in ax.texts]
        assert "recommended" in texts and "end of follow-up (70 months)" in texts
    legend = fig.legends[0]
    assert len(legend.get_texts()) == len(SCENARIOS) + 1
    # scenarios in words (SCENARIO_LABELS), the ids stay in the CSV files
    assert legend.get_texts()[0].get_text() == (
        "recommended, HR wanes linearly to 1 over 5 years after follow-up")
    assert not any("_" in text.get_text() for text in legend.get_texts())
    if plot == "hazard":
        assert all(ax.get_yscale() == "log" for ax in fig.axes)
        last = next(ln for ln in fig.axes[0].lines
                    if ln.get_label() == SCENARIO_LABELS[SCENARIOS[-1]])
        assert np.isnan(last.get_ydata()[0])  # a zero hazard is left out of the log axis
        bottom, top = fig.axes[0].get_ylim()
        assert bottom < 0.001 and top > 0.1 * 1.7  # background and the largest hazard shown
    else:
        assert fig.axes[0].get_ylim() == (0.0, 1.02)
        recommended = next(ln for ln in fig.axes[1].lines if ln.get_linewidth() > 2)
        np.testing.assert_allclose(recommended.get_ydata()[12], np.exp(-0.1 * 12))


def test_every_extrapolation_scenario_has_words_for_the_legend():
    """The scenarios of docs/extrapolation.md, each with a label of its own."""
    from prrt_bayes.survival.extrapolation import SCENARIO_WANING, SERIES_MEDIAN_PRIOR_SCENARIO
    from prrt_bayes.survival.spec import DEFAULT_MODELS

    scenarios = {RECOMMENDED_SCENARIO, "recommended_without_waning", WITHOUT_EXTERNAL_SCENARIO,
                 "without_background_mortality", "control_from_pre_crossover_2016_cut",
                 "piecewise_ph_constant_tail", SERIES_MEDIAN_PRIOR_SCENARIO,
                 *(label for label, _, _ in SCENARIO_WANING), *DEFAULT_MODELS}
    assert set(SCENARIO_LABELS) == scenarios
    assert len(set(SCENARIO_LABELS.values())) == len(SCENARIO_LABELS)


def test_scenario_plot_puts_a_users_treatment_arm_first_and_draws_its_label_literally():
    rates = {"control": 0.1, r"$\frac{": 0.03}
    result = with_extrapolation(survival_result("os_user", "os", rates=rates),
                                scenario_curves(rates, background=False))
    fig = plots.scenario_hazard_plot(result)
    assert [ax.get_title() for ax in fig.axes] == [r"\$\frac{", "control"]
    assert all(len(ax.lines) == len(SCENARIOS) + 1 for ax in fig.axes)  # no background
    assert plots.png_bytes(fig).startswith(b"\x89PNG")  # raises on invalid mathtext


def test_excess_hazard_ratios_are_in_the_forest_labelled_as_such():
    relative = survival_result("os_relative", "os")
    relative.summary = pd.DataFrame(
        [summary_row("os_relative", "os", q, LU177_VS_CONTROL, *ci)
         for q, ci in (("excess_hazard_ratio", (0.5, 0.3, 0.8)),
                       ("excess_hazard_ratio_0-12m", (0.4, 0.2, 0.7)),
                       ("probability_hr_increases", (0.6, 0.0, 1.0)))],
        columns=list(SUMMARY_COLUMNS))
    results = [survival_result("pfs_primary"), relative]
    rows = plots.hazard_ratio_rows(results)
    assert list(rows["quantity"]) == ["hazard_ratio", "excess_hazard_ratio",
                                      "excess_hazard_ratio_0-12m"]
    fig = plots.forest_hazard_ratios(results)
    ax = fig.axes[0]
    assert len(ax.containers) == 3
    assert top_down(ax) == ["pfs_primary (PFS, hazard ratio)",
                            "os_relative (OS, excess hazard ratio)",
                            "os_relative (OS, excess hazard ratio, months 0 to 12)"]
    assert fig.get_suptitle().startswith("Hazard ratio or excess hazard ratio, 177Lu-Dotatate")
    assert "excess hazard: the hazard above the general population's" in fig.get_suptitle()
    assert ax.get_xlabel().startswith("Hazard ratio or excess hazard ratio, 177Lu-Dotatate vs "
                                      "control\n(log scale")


# ------------------------------------------------------------------ every text inside the canvas
def netter1_forest():
    """An AE forest shaped like the toxicity analysis' (Table 4 event keys at any grade and at
    grade 3/4, Berry & Berry and independent model labels); observed risk differences with
    normal-approximation intervals stand in for posterior summaries (no MCMC)."""
    frames = []
    for grade in ("any", "grade34"):
        table = netter1_ae_table(grade)
        p1 = table["lu177_events"] / table["lu177_total"]
        p0 = table["control_events"] / table["control_total"]
        rd = p1 - p0
        se = np.sqrt(p1 * (1 - p1) / table["lu177_total"] + p0 * (1 - p0) / table["control_total"])
        for kind, shrink in (("berry_berry", 0.8), ("independent", 1.0)):
            frames.append(pd.DataFrame({
                "group": table["key"], "model": KIND_LABELS[kind], "median": shrink * rd,
                "lower": shrink * rd - 1.96 * se, "upper": shrink * rd + 1.96 * se}))
    return pd.concat(frames, ignore_index=True)


def bundled_like_results():
    """The figures of a bundled run, without MCMC: relative-survival (excess) hazard ratios, one
    split at a period boundary with decimals, extrapolation scenarios, the toxicity analysis'
    AE forest and the response analysis' prior vs posterior."""
    results = []
    for name, endpoint, periods in (("pfs_primary", "pfs", [""]), ("os_interim", "os", [""]),
                                    ("os_final", "os", ["_0-26.0277m", "_26.0277m_plus"])):
        result = survival_result(name, endpoint, horizon=240.0)
        result.summary = pd.DataFrame(
            [summary_row(name, endpoint, f"excess_hazard_ratio{p}", LU177_VS_CONTROL,
                         0.23 + 0.4 * i, 0.15 + 0.2 * i, 0.33 + 0.8 * i)
             for i, p in enumerate(periods)], columns=list(SUMMARY_COLUMNS))
        results.append(with_extrapolation(result, scenario_curves(horizon=240.0)))
    toxicity = AnalysisResult(name="toxicity", kind="toxicity", endpoint="adverse_events",
                              summary=pd.DataFrame(columns=list(SUMMARY_COLUMNS)),
                              diagnostics=PASSED, ae_forest=netter1_forest())
    return [*results, toxicity, borrowing_result("densities"), borrowing_result("draws")]


def long_names_results():
    """Names from user files as long as they come: analysis names, an event key that is no
    NEJM Table 4 event, a model label; each longer than its part of a 7.5-inch figure."""
    long = "sensitivity_analysis_with_the_2021_data_cut_and_a_very_long_descriptive_name"
    survival = survival_result(long, "os")
    survival.summary = pd.DataFrame(
        [summary_row(long, "os", q, LU177_VS_CONTROL, 0.5, 0.3, 0.8)
         for q in ("hazard_ratio_0-12m", "hazard_ratio_12m_plus")], columns=list(SUMMARY_COLUMNS))
    forest = pd.DataFrame({
        "group": ["nausea_any_grade", f"{long}_event_any_grade"] * 2,
        "model": ["independent (unshrunk)"] * 2 + [f"a shrunk model called {long}"] * 2,
        "median": 0.1, "lower": -0.05, "upper": 0.3})
    toxicity = AnalysisResult(name=long.upper(), kind="toxicity", endpoint="adverse_events",
                              summary=pd.DataFrame(columns=list(SUMMARY_COLUMNS)),
                              diagnostics=PASSED, ae_forest=forest)
    borrowed = borrowing_result()
    borrowed.name = long
    borrowed.prior_posterior["parameter"] += f" of {long}"
    return [survival, toxicity, borrowed]


def drawn_texts(fig):
    """Every text artist drawn in ``fig``: titles, suptitle, axis labels, tick labels in the
    view, legend texts and titles, annotations (visible, non-empty, of visible axes)."""
    undrawn = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            slack = 1e-9 * max(1.0, abs(high - low))
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not low - slack <= tick.get_loc() <= high + slack:
                    undrawn |= {id(tick.label1), id(tick.label2)}
    return [t for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in undrawn
            and (t.axes is None or t.axes.get_visible())]


def texts_outside(fig):
    """``(text, its window extent)`` of every drawn text not entirely inside the canvas."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    out = []
    for text in drawn_texts(fig):
        box = text.get_window_extent(renderer)
        if (box.x0 < canvas.x0 - 0.5 or box.y0 < canvas.y0 - 0.5 or box.x1 > canvas.x1 + 0.5
                or box.y1 > canvas.y1 + 0.5):
            out.append((text.get_text(), box.bounds))
    return out


@pytest.mark.parametrize("results", [
    pytest.param(bundled_like_results, id="bundled-like"),
    pytest.param(lambda: [survival_result(), survival_result("os_final", "os"),
                          toxicity_result(), borrowing_result()], id="small"),
    pytest.param(long_names_results, id="long-names"),
])
def test_every_text_of_every_figure_is_inside_the_canvas(results):
    """Also no two texts overlap. Before issue 17 (item 8) the bundled-like case failed: the HR
    forest's title and x label and the AE forest's title ran past the right edge."""
    drawn = plots.figures(results())
    assert len(drawn) >= 5
    problems = {stem: outside for stem, fig in drawn if (outside := texts_outside(fig))}
    assert not problems, problems
    overlaps = {stem: pairs for stem, fig in drawn if (pairs := overlapping_texts(fig))}
    assert not overlaps, overlaps


def overlapping_texts(fig):
    """Pairs of drawn texts (a legend counts as one) whose boxes overlap by more than a pixel
    both ways; ``fig`` already drawn."""
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    in_legend = {id(t) for legend in legends for t in legend.findobj(Text)}
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in drawn_texts(fig)
             if id(t) not in in_legend]
    boxes += [("legend", legend.get_window_extent(renderer)) for legend in legends]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
            if min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0) > 1
            and min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0) > 1]


def test_a_figure_too_narrow_for_its_labels_is_widened():
    fig = plots.forest_hazard_ratios(long_names_results())
    assert fig.get_size_inches()[0] > 7.5 and not texts_outside(fig)


def test_texts_outside_sees_a_title_cut_off():
    """The check itself: a title far wider than its figure is reported."""
    fig = Figure(figsize=(3.0, 2.0), layout="constrained")
    FigureCanvasAgg(fig)
    fig.add_subplot().set_title("a title much wider than a figure three inches wide " * 2)
    assert [text for text, _ in texts_outside(fig)] == [fig.axes[0].get_title()]
