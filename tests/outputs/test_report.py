"""HTML report: one self-contained, script-free, escaped page; renders in headless chromium.

Synthetic analyses (one passing, one failing its diagnostics, hostile names, hand-made
extrapolation scenarios), no MCMC.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import (
    FAILED,
    PASSED,
    exponential_result,
    netter1,
    published_hr,
    summary_row,
)

from prrt_bayes.core.results import (
    EXTRAPOLATION_CURVE_COLUMNS,
    EXTRAPOLATION_SCENARIO_COLUMNS,
    AnalysisResult,
    BorrowingReport,
    Extrapolation,
)
from prrt_bayes.core.vocabulary import LU177_VS_CONTROL
from prrt_bayes.outputs.hta import write_psa
from prrt_bayes.outputs.report import format_number, write_report
from prrt_bayes.outputs.safe_text import escape_html

SCRIPT = "<script>alert(1)</script>"
ROBUST_MAP = BorrowingReport(method="robust-map", conflict_p_box=0.031,
                             lines=(("robust weight", "0.2"),))


def survival(name, endpoint, diagnostics, rates, hr, psa_pair=None):
    rng = np.random.default_rng(0)
    log_rates = {arm: np.log(rate) + 0.05 * rng.standard_normal((2, 40))
                 for arm, rate in rates.items()}
    t = rng.exponential(20, 60)
    ipd = pd.DataFrame({"time": np.minimum(t, 30), "event": (t < 30).astype(int),
                        "arm": np.repeat(list(rates), 30)})
    summary = pd.DataFrame([
        summary_row(name, endpoint, "hazard_ratio", LU177_VS_CONTROL, *hr),
        summary_row(name, endpoint, "median_survival_months", "lu177", np.inf, 25.3, np.inf),
        summary_row(name, endpoint, "survival_probability_24m", SCRIPT, 0.654, 0.55, 0.75),
    ])
    return exponential_result(
        name, endpoint, log_rates, grid=np.arange(0.0, 61.0), summary=summary, ipd=ipd,
        diagnostics=diagnostics, psa_pair=psa_pair,
        priors={"log_hr": "Normal(0, 2.5)", "log_baseline_hazard": "Normal(-3, 2)"},
        borrowing=None if endpoint == "pfs" else ROBUST_MAP,
    )


def toxicity():
    events = ["nausea", SCRIPT, '=HYPERLINK("x")']
    rows = [summary_row("toxicity", "adverse_events", "risk_difference", e, d, d - 0.1, d + 0.1)
            for e, d in zip(events, (0.47, 0.1, -0.02), strict=True)]
    return AnalysisResult(name="toxicity", kind="toxicity", endpoint="adverse_events",
                          summary=pd.DataFrame(rows), diagnostics=PASSED,
                          priors={"mu_organ_class": "Normal(0, 10)"})


NEJM = netter1().get("primary_2015", "pfs_hazard_ratio").source
PROVENANCE = pd.DataFrame({
    "name": [NEJM, "hostile"],
    "citation": [netter1().sources[NEJM].citation, "<img src=x onerror=alert(1)>"],
    "contributes": ["table1_baseline, pfs_events", SCRIPT],
})


RESULTS = [
    survival("pfs_primary", "pfs", PASSED, {"lu177": 0.03, "control": 0.1},
             published_hr("primary_2015", "pfs"), psa_pair="os_final"),
    survival("os_final", "os", FAILED, {"lu177": 0.01, "control": 0.02},
             published_hr("final_2021", "os")),
    toxicity(),
]


@pytest.fixture(scope="module")
def report_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    psa = write_psa(RESULTS, out, n_draws=40)
    return write_report(RESULTS, out / "report.html", provenance=PROVENANCE, version="0.1.0",
                        psa=psa, date="2026-11-23")


class Tags(HTMLParser):
    """Collects (tag, attributes) of every element and checks that tags nest properly."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self, html: str):
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()


def test_report_is_one_self_contained_file_without_scripts(report_path):
    html = report_path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "http://" not in html and "https://" not in html
    tags = Tags(html).tags
    assert not [t for t, _ in tags if t in {"script", "link", "iframe", "object", "embed"}]
    for tag, attrs in tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if "src" in attrs:
            assert attrs["src"].startswith("data:image/png;base64,"), (tag, attrs["src"][:40])
        if "href" in attrs:
            assert attrs["href"].startswith("#"), (tag, attrs["href"])
    assert "url(" not in html and "@import" not in html.lower()
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(images) >= 5  # HR forest, KM + extrapolation x 2, AE forest
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)


def test_report_contains_every_analysis_row_and_verdict(report_path):
    html = report_path.read_text(encoding="utf-8")
    for result in RESULTS:
        assert f"<h3>{escape_html(result.name)} (" in html
        for row in result.summary.itertuples(index=False):
            cells = (f"<td>{escape_html(row.quantity)}</td><td>{escape_html(row.group)}</td>"
                     f'<td class="num">{escape_html(format_number(row.median))}</td>'
                     f"<td>{format_number(row.lower)} to {format_number(row.upper)}</td>")
            assert cells in html, cells
    assert "<td>PASSED: converged</td>" in html
    assert "FAILED: max R-hat 1.200 &gt; 1.01; min bulk ESS 35 &lt; 400" in html
    assert "1 of 3 analyses FAILED their convergence checks: os_final" in html
    assert "Normal(0, 2.5)" in html and "<td>robust-map</td>" in html
    assert "<td>prior-data conflict (Box p)</td><td>0.031</td>" in html
    assert "<td>robust weight</td><td>0.2</td>" in html
    assert escape_html(PROVENANCE.citation[0]) in html
    assert "prrt-bayes version 0.1.0, generated 2026-11-23" in html
    assert "in 0 of 40" not in html and "samples with PFS capped" in html


def test_hostile_text_is_escaped(report_path):
    html = report_path.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html


def test_report_is_well_formed(report_path):
    assert Tags(report_path.read_text(encoding="utf-8")).stack == []


def test_format_number():
    assert format_number(0.21234) == "0.212"
    assert format_number(float("inf")) == "not reached"
    assert format_number(float("nan")) == "n/a"
    assert format_number(12345.6) == "12346"
    # values that round to 1000 at 3 significant digits print in full, like their neighbours
    assert [format_number(v) for v in (999.4, 999.5, 999.6, 1000.4)] == ["999", "1000", "1000",
                                                                          "1000"]
    assert format_number(-999.6) == "-1000"
    assert format_number(99.96) == "100" and format_number(1.234e-5) == "1.23e-05"


# ----------------------------------------------------------------------------- headless browser

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian chromium not installed (apt-get update && apt-get install -y chromium);"
           " headless rendering of the report not checked",
)
CONSOLE = re.compile(r":CONSOLE[:(\]]")


def render(page: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """Screenshot ``page`` in headless chromium; return the PNG and its console messages."""
    png = tmp_path / f"{page.stem}.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
           "--window-size=1280,2400", f"--screenshot={png}", "--enable-logging=stderr", "--v=0",
           page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return png, [line for line in proc.stderr.splitlines() if CONSOLE.search(line)]


@needs_chromium
def test_console_check_detects_a_blocked_resource(tmp_path):
    """The detector itself can fail: an external image under the report's CSP is reported."""
    from prrt_bayes.outputs.report import CSP

    bad = tmp_path / "bad.html"
    bad.write_text(f"<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
                   f"content=\"{CSP}\"></head><body><img src='http://example.invalid/x.png'>"
                   "</body></html>", encoding="utf-8")
    _, console = render(bad, tmp_path)
    assert console, "an external image should have produced a console message"


@needs_chromium
def test_report_renders_in_headless_chromium_without_console_errors(report_path, tmp_path):
    png, console = render(report_path, tmp_path)
    assert console == []
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000


def test_prerendered_figures_are_embedded_as_they_are(tmp_path, monkeypatch):
    """The runner draws each figure once: the report embeds the PNG files' bytes unchanged."""
    from prrt_bayes.outputs import plots

    rendered = plots.render_all(RESULTS)
    paths = plots.write_pngs(rendered, tmp_path / "plots")
    assert [p.read_bytes() for p in paths] == [f.png for f in rendered]

    def no_drawing(*args, **kwargs):
        raise AssertionError("the report drew a figure again")

    monkeypatch.setattr(plots, "figures", no_drawing)
    html = write_report(RESULTS, tmp_path / "report.html", provenance=PROVENANCE,
                        version="0.1.0", date="2026-11-23", figures=rendered).read_text()
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert [base64.b64decode(i) for i in images] == [f.png for f in rendered]
    for figure in rendered:
        assert f"<figcaption>{escape_html(figure.caption)}</figcaption>" in html


def test_pseudo_ipd_analyses_say_so_and_show_the_reconstruction_spread(tmp_path):
    from dataclasses import replace

    base = survival("pfs_pseudo", "pfs", PASSED, {"lu177": 0.03, "control": 0.09},
                    (0.21, 0.13, 0.33))
    members = pd.DataFrame({"member": [0, 1], "hazard_shape": ["piecewise", "log-linear"],
                            "tail_rule": ["last", "mean"], "cox_hr": [0.21, 0.22]})
    rows = [("pfs_pseudo", "hazard_ratio", LU177_VS_CONTROL, m, med, lo, hi)
            for m, med, lo, hi in (("0", 0.20, 0.14, 0.29), ("1", 0.24, 0.17, 0.34),
                                   ("pooled", 0.22, 0.14, 0.33))]
    spread = pd.DataFrame(rows, columns=["analysis", "quantity", "group", "member", "median",
                                         "lower", "upper"])
    plain = write_report([base], tmp_path / "plain.html", provenance=PROVENANCE,
                         version="0.1.0").read_text()
    assert "What the reconstruction assumes" not in plain
    result = replace(base, reconstruction_members=members, reconstruction_spread=spread)
    page = write_report([result], tmp_path / "pseudo.html", provenance=PROVENANCE,
                        version="0.1.0").read_text()
    assert "What the reconstruction assumes" in page
    assert "pseudo-IPD reconstructed from published summaries" in page
    assert "log-linear" in page
    assert "0.2 to 0.24" in page  # the range of the members' medians
    # share from the reconstruction: 1 - mean(0.15^2, 0.17^2) / 0.19^2 = 0.288
    assert "29%" in page
    one_member = replace(result, reconstruction_spread=None)
    page = write_report([one_member], tmp_path / "one.html", provenance=PROVENANCE,
                        version="0.1.0").read_text()
    assert "no allowance for the reconstruction choices" in page


# ------------------------------------------------------------------- extrapolation scenarios
HOSTILE_ARM = "<img src=x onerror=alert(2)>"
SCENARIOS = ("recommended", "waning_linear_5y", "exponential_ph")


def scenario_table(name, arms, scenarios=SCENARIOS, horizon=240.0):
    """Hand-made scenario rows: per scenario k and arm j, distinct values (median 20 + 10k + 5j,
    mean 100 + 10k + 5j, RMST to follow-up 30 + j, to 5 years 40 + j, to 10 years 60 + 10k + j);
    RMST to 10 years only when the horizon reaches it."""
    rows = []
    for k, scenario in enumerate(scenarios):
        for j, arm in enumerate(arms):
            values = [("median_survival_months", 20 + 10 * k + 5 * j),
                      ("mean_survival_months", 100 + 10 * k + 5 * j),
                      ("rmst_follow_up_months", 30 + j), ("rmst_60m", 40 + j)]
            if horizon >= 120:
                values.append(("rmst_120m", 60 + 10 * k + j))
            rows += [(name, scenario, arm, q, v, v - 3, v + 3) for q, v in values]
        rows.append((name, scenario, f"{arms[0]}_vs_{arms[1]}", "mean_survival_difference_months",
                     7.5 + k, 2.0, 13.0))
    return pd.DataFrame(rows, columns=list(EXTRAPOLATION_SCENARIO_COLUMNS))


def scenario_curves(arms, scenarios=SCENARIOS, horizon=240.0):
    grid = np.arange(0.0, horizon + 1.0)
    frames = [pd.DataFrame({"scenario": s, "arm": arm, "time": grid,
                            "survival": np.exp(-0.02 * (k + 1) * grid),
                            "hazard": np.full(grid.shape, 0.02 * (k + 1))})
              for k, s in enumerate(scenarios) for arm in arms]
    return pd.concat(frames, ignore_index=True)


DRIVERS = ("Hazard: flexible M-spline excess hazard, held constant after 70.3 months.",
           f"General-population mortality: {SCRIPT}.")


def extrapolated(name, arms, *, scenarios=True, curves=True, horizon=240.0, **fields):
    from dataclasses import replace

    rates = dict(zip(arms, (0.01, 0.02), strict=True))
    base = survival(name, "os", PASSED, rates, (0.6, 0.4, 0.9))
    table = (scenario_table(name, arms, horizon=horizon) if scenarios
             else pd.DataFrame(columns=list(EXTRAPOLATION_SCENARIO_COLUMNS)))
    frame = (scenario_curves(arms, horizon=horizon) if curves
             else pd.DataFrame(columns=list(EXTRAPOLATION_CURVE_COLUMNS)))
    return replace(base, extrapolation=Extrapolation(DRIVERS, table, frame, 70.3), **fields)


def cells(*values):
    return "".join(f"<td>{escape_html(v)}</td>" for v in values)


def test_no_extrapolation_section_without_extrapolation(report_path):
    html = report_path.read_text(encoding="utf-8")
    assert "What drives the extrapolation" not in html and "#extrapolation" not in html


def test_extrapolation_section_has_drivers_and_scenario_table(tmp_path):
    result = extrapolated("os_final", ["lu177", "control"])
    html = write_report([result], tmp_path / "r.html", provenance=PROVENANCE,
                        version="0.1.0").read_text()
    assert "<h2 id='extrapolation'>What drives the extrapolation</h2>" in html
    assert "<a href='#extrapolation'>Extrapolation</a>" in html
    assert f"<li>{escape_html(DRIVERS[0])}</li>" in html
    assert "<li>General-population mortality: &lt;script&gt;alert(1)&lt;/script&gt;.</li>" in html
    header = ("<th>RMST to the end of follow-up (70.3 months; observed, within follow-up)</th>"
              "<th>RMST to 5 years (60 months)</th><th>RMST to 10 years (120 months)</th>")
    assert header in html and "<th>mean to the horizon (240 months)</th>" in html
    assert "<th>mean difference to the horizon (lu177_vs_control)</th>" in html
    # one row per scenario and arm; the mean difference on the scenario's first row only
    assert cells("waning_linear_5y", "177Lu-Dotatate", "30 (27 to 33)", "110 (107 to 113)",
                 "30 (27 to 33)", "40 (37 to 43)", "70 (67 to 73)", "8.5 (2 to 13)") in html
    assert cells("waning_linear_5y", "control", "35 (32 to 38)", "115 (112 to 118)",
                 "31 (28 to 34)", "41 (38 to 44)", "71 (68 to 74)", "") in html
    assert html.count("<tr><td>recommended</td>") == 2
    assert html.count("<tr><td>exponential_ph</td>") == 2
    assert "pooled over every member" not in html  # the user's own IPD: one data set
    # the scenario figures are in the report
    assert "Overall survival probability S(t) under each extrapolation scenario" in html
    assert "Overall survival hazard h(t) per month (log scale)" in html


def test_extrapolation_section_escapes_a_users_arm_and_notes_pooling(tmp_path):
    members = pd.DataFrame({"member": [0, 1], "hazard_shape": ["piecewise", "log-linear"]})
    hostile = extrapolated("os_user", [HOSTILE_ARM, "control"], horizon=96.0,
                           reconstruction_members=members)
    html = write_report([hostile], tmp_path / "r.html", provenance=PROVENANCE,
                        version="0.1.0").read_text()
    assert "<img src=x" not in html
    assert cells("recommended", HOSTILE_ARM, "20 (17 to 23)") in html
    assert escape_html(f"({HOSTILE_ARM}_vs_control)") in html
    # horizon 96 months: no RMST to 10 years
    assert cells("40 (37 to 43)", "n/a", "7.5 (2 to 13)") in html
    assert "<th>mean to the horizon (96 months)</th>" in html
    assert ("Scenarios recommended, recommended_without_waning, waning_linear_5y, "
            "waning_exponential_10y are derived from the recommended fits pooled over every "
            "member of the reconstruction ensemble") in html
    assert Tags(html).stack == []


def test_extrapolation_section_without_scenarios_says_so(tmp_path):
    result = extrapolated("os_final", ["lu177", "control"], scenarios=False, curves=False)
    html = write_report([result], tmp_path / "r.html", provenance=PROVENANCE,
                        version="0.1.0").read_text()
    assert "What drives the extrapolation" in html and f"<li>{escape_html(DRIVERS[0])}</li>" in html
    assert "Scenarios not computed" in html
    assert "under each extrapolation scenario" not in html
