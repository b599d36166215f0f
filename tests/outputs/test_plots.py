"""Figures: each function returns a Figure with the expected axes/lines/titles; PNGs are written.

Synthetic analyses (exponential survival draws, simulated IPD, hand-made forest and
prior/posterior tables) - no MCMC.
"""

from __future__ import annotations

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
from matplotlib.figure import Figure

from prrt_bayes.core.results import AnalysisResult
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.core.vocabulary import LU177_VS_CONTROL
from prrt_bayes.outputs import plots

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
    ax = plots.forest_hazard_ratios(results).axes[0]
    assert len(ax.containers) == 3  # one errorbar per hazard ratio
    assert ax.get_xscale() == "log"
    assert any(list(ln.get_xdata()) == [1.0, 1.0] for ln in ax.lines)
    assert ax.get_title().startswith("Hazard ratio, 177Lu-Dotatate vs control")
    top_down = sorted(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()),
                          strict=True), reverse=True)
    labels = [label for _, label in top_down]  # rows in the order of the analyses
    assert [lab.split(":")[0] for lab in labels] == ["pfs_primary (PFS)", "os_interim (OS)",
                                                      "os_final (OS)"]
    assert any("{:.2f} ({:.2f} to {:.2f})".format(*pfs_hr) in lab for lab in labels)


def test_forest_risk_differences_shrunk_vs_unshrunk_and_fallback():
    ax = plots.forest_risk_differences(toxicity_result()).axes[0]
    assert len(ax.containers) == 2  # shrunk, unshrunk
    assert "Risk difference in adverse-event probability" in ax.get_title()
    assert "shrunk, unshrunk" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["nausea", "vomiting",
                                                             "abdominal pain"]
    single = plots.forest_risk_differences(toxicity_result(with_forest=False)).axes[0]
    assert len(single.containers) == 1


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
