"""One self-contained HTML report of a run: verdict, summaries, figures, assumptions, provenance.

The page has no external resource (figures are base64 PNG data URIs, CSS is inline) and no
JavaScript; a Content-Security-Policy meta tag forbids both, so a browser shows it offline and
nothing in it can load or run. Every text that reaches the page - analysis, arm, event names,
priors, citations - goes through :func:`~prrt_bayes.outputs.safe_text.escape_html`.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from prrt_bayes.core.results import POOLED_SCENARIOS, AnalysisResult, Extrapolation
from prrt_bayes.core.vocabulary import ARM_LABELS, POSTERIOR_PROBABILITIES, Quantity, rmst
from prrt_bayes.outputs import plots
from prrt_bayes.outputs.hta import PsaReport
from prrt_bayes.outputs.safe_text import escape_html

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { padding: 0.6em 1em; border-radius: 4px; font-weight: bold; }
.pass { background: #e3f4e3; color: #14521b; } .fail { background: #fbe3e3; color: #8a1414; }
tr.pass td:last-child { color: #14521b; font-weight: bold; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; } nav a { margin-right: 1em; }
footer { margin-top: 3em; font-size: 0.85em; color: #666; }
"""


def format_number(x: Any) -> str:
    """A posterior figure for display: 3 significant digits (integers above 1000 in full).

    Parameters
    ----------
    x
        A number, or anything else (shown with ``str``).

    Returns
    -------
    str
        ``"n/a"`` for NaN, ``"not reached"`` for ``+inf`` (e.g. a median beyond the horizon),
        ``"-inf"``; a value whose 3-significant-digit rounding has ``abs >= 1000`` rounded to an
        integer (``"1234"``; ``999.6`` gives ``"1000"``), others with ``:.3g`` (tiny values in
        exponent notation, ``"1.23e-05"``); ``str(x)`` when ``x`` is not convertible to float.
    """
    try:
        value = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "not reached" if value > 0 else "-inf"
    text = f"{value:.3g}"
    return f"{value:.0f}" if abs(float(text)) >= 1000 else text


def _cell(value: Any, numeric: bool = False) -> str:
    if numeric:
        return f'<td class="num">{escape_html(format_number(value))}</td>'
    return f"<td>{escape_html(value)}</td>"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]],
           numeric: Sequence[int] = (), row_classes: Sequence[str] | None = None) -> str:
    """An HTML table, every cell escaped; columns at positions ``numeric`` formatted.

    ``row_classes`` (one CSS class per row, from this module's constants) styles rows.
    """
    rows = list(rows)
    classes = row_classes or [""] * len(rows)
    body = "".join(
        (f'<tr class="{cls}">' if cls else "<tr>")
        + "".join(_cell(v, i in numeric) for i, v in enumerate(row)) + "</tr>"
        for row, cls in zip(rows, classes, strict=True)
    )
    head = "".join(f"<th>{escape_html(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def verdict(result: AnalysisResult) -> str:
    """``"PASSED: converged"`` or ``"FAILED: <problems>"`` for one analysis.

    Parameters
    ----------
    result
        A fitted analysis; only its ``diagnostics`` are read.

    Returns
    -------
    str
        ``"PASSED: converged"``, or ``"FAILED: "`` followed by the problems joined with
        ``"; "`` (``"diagnostics failed"`` when there are none). Not HTML-escaped.
    """
    d = result.diagnostics
    if d.passed:
        return "PASSED: converged"
    return "FAILED: " + ("; ".join(d.problems) or "diagnostics failed")


def _overall(results: Sequence[AnalysisResult]) -> str:
    failed = [r.name for r in results if not r.diagnostics.passed]
    if not failed:
        text = f"All {len(results)} analyses passed their convergence checks."
        return f'<p class="verdict pass">{escape_html(text)}</p>'
    text = (f"{len(failed)} of {len(results)} analyses FAILED their convergence checks: "
            f"{', '.join(failed)}. Their estimates are shown but must not be used.")
    return f'<p class="verdict fail">{escape_html(text)}</p>'


def _diagnostics(results: Sequence[AnalysisResult]) -> str:
    rows = [(r.name, r.kind, r.endpoint, _backend(r), _fixed(r.diagnostics.max_rhat, 3),
             _fixed(r.diagnostics.min_ess_bulk, 0), _fixed(r.diagnostics.min_ess_tail, 0),
             r.diagnostics.divergences, _fixed(r.diagnostics.min_bfmi, 2),
             _fixed(r.diagnostics.max_mcse_ratio, 3), verdict(r))
            for r in results]
    header = ("analysis", "kind", "endpoint", "sampler", "max R-hat", "min bulk ESS",
              "min tail ESS", "divergences", "min E-BFMI", "max MCSE / SD", "verdict")
    note = ("<p>Thresholds (Vehtari et al. 2021): R-hat &le; 1.01, bulk and tail ESS &ge; 400, "
            "no divergent transitions, E-BFMI &ge; 0.3; and for every reported quantity a Monte "
            "Carlo standard error of at most 0.1 of its posterior SD (of the median, or of the "
            "mean for a probability).</p>")
    classes = ["pass" if r.diagnostics.passed else "fail" for r in results]
    return note + _table(header, rows, row_classes=classes)


def _backend(result: AnalysisResult) -> str:
    """The NUTS backend of the analysis' main fit, as recorded in its posterior."""
    if result.tree is None or "posterior" not in result.tree.children:
        return ""
    return str(result.tree.posterior.attrs.get("sampler_backend", ""))


def _fixed(x: float, digits: int) -> str:
    value = float(x)
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def _summary(result: AnalysisResult) -> str:
    s = result.summary
    if s is None or s.empty:
        return "<p>No summary rows.</p>"
    rows = [(q, g, f"probability {format_number(mean)}", "", "", "")
            if q in POSTERIOR_PROBABILITIES
            else (q, g, m, f"{format_number(lo)} to {format_number(hi)}", mean, sd)
            for q, g, m, lo, hi, mean, sd in zip(s["quantity"], s["group"], s["median"],
                                                 s["lower"], s["upper"], s["mean"], s["sd"],
                                                 strict=True)]
    return _table(("quantity", "group", "median", "95% CrI", "mean", "sd"), rows,
                  numeric=(2, 4, 5))


def _assumptions(result: AnalysisResult) -> str:
    priors = (_table(("parameter", "prior"), sorted(result.priors.items())) if result.priors
              else "<p>No priors recorded.</p>")
    if result.borrowing is not None:
        report = result.borrowing
        borrowing = _table(("borrowing", "value"), [
            ("method", report.method),
            ("prior-data conflict (Box p)", format_number(report.conflict_p_box)),
            *report.lines])
    else:
        borrowing = "<p>No borrowing: the analysis uses the trial data alone.</p>"
    loo = result.loo
    comparison = ""
    if loo is not None and not loo.empty:
        columns = [c for c in ("model", "rank", "elpd_loo", "se", "elpd_diff", "dse",
                               "n_pareto_k_high", "km_area", "status") if c in loo.columns]
        caution = ("" if result.reconstruction_members is None else
                   "<p class='verdict fail'>The data are pseudo-IPD reconstructed from published"
                   " summaries: this comparison partly tests the reconstruction's own "
                   "assumptions (hazard shape between published points, tail rule), not only "
                   "the models.</p>")
        comparison = (caution + "<p>Candidate parametric families, ranked by PSIS-LOO (elpd; "
                      "a Pareto k &gt; 0.7 makes an estimate unreliable and withholds the "
                      "ranking of every model; km_area: area between the "
                      "posterior mean curve and the Kaplan-Meier within follow-up):</p>"
                      + _table(columns, loo[columns].itertuples(index=False),
                               numeric=[i for i, c in enumerate(columns)
                                        if c not in ("model", "status")]))
    return priors + borrowing + comparison


RECONSTRUCTION_NOTE = (
    "These estimates rest on pseudo-IPD reconstructed from published summaries (event counts, "
    "landmarks, medians, the hazard ratio with its CI, follow-up), not on patient data or a "
    "digitised curve. What the summaries leave open was enumerated as an ensemble of "
    "reconstructions, each meeting every published target; the analysis was fitted to every "
    "member listed and the draws pooled with equal weights.")
HEADLINE_PREFIXES = ("hazard_ratio", "median_survival", "mean_survival", "rmst_difference")


def _reconstruction(result: AnalysisResult) -> str:
    """What the pseudo-IPD assumes, and how far the members' answers differ."""
    members = result.reconstruction_members
    if members is None:
        return ""
    columns = [c for c in ("member", "hazard_shape", "tail_rule", "split", "follow_up_reading",
                           "pfs_early_rule", "cox_hr") if c in members.columns]
    parts = [f"<p>{escape_html(RECONSTRUCTION_NOTE)}</p>",
             _table(columns, members[columns].itertuples(index=False),
                    numeric=[columns.index("cox_hr")] if "cox_hr" in columns else ())]
    spread = result.reconstruction_spread
    if spread is None:
        parts.append("<p>One member only (spec <code>evidence.reconstruction</code>): the "
                     "intervals carry no allowance for the reconstruction choices.</p>")
        return "".join(parts)
    rows = []
    headline = spread[spread["quantity"].str.startswith(HEADLINE_PREFIXES)]
    for (quantity, group), one in headline.groupby(["quantity", "group"], sort=False):
        pooled = one[one["member"] == "pooled"].iloc[0]
        each = one[one["member"] != "pooled"]
        within = float(((each["upper"] - each["lower"]) ** 2).mean())
        total = float((pooled["upper"] - pooled["lower"]) ** 2)
        share = max(0.0, 1.0 - within / total) if total > 0 else float("nan")
        rows.append((quantity, group, pooled["median"],
                     f"{format_number(pooled['lower'])} to {format_number(pooled['upper'])}",
                     f"{format_number(each['median'].min())} to "
                     f"{format_number(each['median'].max())}", f"{share:.0%}"))
    parts += ["<p>Headline quantities: the pooled posterior, the range of the members' "
              "posterior medians, and the approximate share of the pooled variance that comes "
              "from the reconstruction (1 - mean squared member interval width / squared pooled"
              " width; normal approximation). Per-member figures: "
              "<code>reconstruction_spread.csv</code>.</p>",
              _table(("quantity", "group", "pooled median", "pooled 95% CrI",
                      "member medians", "share from reconstruction"), rows, numeric=(2,))]
    return "".join(parts)




def _interval(one: pd.DataFrame, quantity: str) -> str:
    """``"median (lower to upper)"`` of the one row of ``quantity`` in ``one``, else ``"n/a"``."""
    match = one[one["quantity"] == quantity]
    if match.empty:
        return "n/a"
    r = match.iloc[0]
    return (f"{format_number(r['median'])} ({format_number(r['lower'])} to "
            f"{format_number(r['upper'])})")


def _horizon(result: AnalysisResult, extrapolation: Extrapolation) -> float | None:
    """The analysis horizon (months): the end of the curves' time grid, if known."""
    if not extrapolation.curves.empty:
        return float(extrapolation.curves["time"].max())
    if result.survival:
        return max(float(s["time"].max()) for s in result.survival.values())
    return None


def _extrapolation(result: AnalysisResult) -> str:
    """What drives the extrapolation, and the scenario table: lifetime means beside the
    restricted means within the observed follow-up and at 5 and 10 years."""
    extrapolation = result.extrapolation
    if extrapolation is None:
        return ""
    drivers = "".join(f"<li>{escape_html(line)}</li>" for line in extrapolation.drivers)
    parts = [f"<ul>{drivers}</ul>" if drivers else "<p>No drivers recorded.</p>"]
    table = extrapolation.scenarios
    if table.empty:
        parts.append("<p>Scenarios not computed (spec <code>export.scenarios = false</code>)."
                     "</p>")
        return "".join(parts)
    follow_up = extrapolation.follow_up
    horizon = _horizon(result, extrapolation)
    to_horizon = "" if horizon is None else f" ({format_number(horizon)} months)"
    difference = table["quantity"] == Quantity.MEAN_SURVIVAL_DIFFERENCE
    contrasts = list(dict.fromkeys(table.loc[difference, "group"].astype(str)))
    arms = list(dict.fromkeys(table.loc[~difference, "group"].astype(str)))
    rows = []
    for scenario, one in table.groupby(table["scenario"].astype(str), sort=False):
        mean_difference = _interval(one, Quantity.MEAN_SURVIVAL_DIFFERENCE)
        for i, arm in enumerate(a for a in arms if (one["group"] == a).any()):
            arm_rows = one[one["group"] == arm]
            rows.append((scenario, ARM_LABELS.get(arm, arm),
                         _interval(arm_rows, Quantity.MEDIAN_SURVIVAL),
                         _interval(arm_rows, Quantity.MEAN_SURVIVAL),
                         _interval(arm_rows, Quantity.RMST_FOLLOW_UP),
                         _interval(arm_rows, rmst(60)), _interval(arm_rows, rmst(120)),
                         mean_difference if i == 0 else ""))
    header = ("scenario", "arm", "median survival", f"mean to the horizon{to_horizon}",
              f"RMST to the end of follow-up ({format_number(follow_up)} months; observed, "
              "within follow-up)", "RMST to 5 years (60 months)",
              "RMST to 10 years (120 months)",
              f"mean difference to the horizon ({', '.join(contrasts) or 'contrast'})")
    members = ("" if result.reconstruction_members is None else
               f" Scenarios {', '.join(POOLED_SCENARIOS)} are derived from the recommended "
               "fits pooled over every member of the reconstruction ensemble; the others are "
               "refitted to a single reconstruction (the first, default member; the control "
               "arm of control_from_pre_crossover_2016_cut to the 2016 cut), so their "
               "intervals carry no allowance for the reconstruction choices.")
    note = ("Posterior median (95% CrI) in months under each extrapolation scenario. The "
            "restricted mean to the end of follow-up lies within the observed follow-up (the "
            "trial data cover it), so the scenarios should differ little there; the means to 5 "
            "and 10 years and to the horizon are extrapolated. The mean difference (treatment "
            "minus control) is given once per scenario." + members)
    parts += [f"<p>{escape_html(note)}</p>", _table(header, rows)]
    return "".join(parts)


def _figures(rendered: Sequence[plots.RenderedFigure]) -> str:
    parts = []
    for figure in rendered:
        caption = escape_html(figure.caption)
        data = base64.b64encode(figure.png).decode("ascii")
        parts.append(f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{caption}</figcaption></figure>")
    return "".join(parts) or "<p>No figures.</p>"


def _psa(psa: PsaReport) -> str:
    pairs = psa.pairs
    rows = [(p.pfs_analysis, p.os_analysis or "none", p.rule, p.n_samples, p.n_samples_adjusted)
            for p in pairs.itertuples(index=False)]
    left_out = ("" if not psa.excluded else
                "<p class='verdict fail'>Not exported (failed their convergence checks): "
                + escape_html(", ".join(psa.excluded)) + ".</p>")
    text = left_out + (
            f"<p>{psa.n_samples} PSA samples per analysis, thinned evenly from the pooled chains."
            " PFS is capped at the paired OS curve per sample and cycle (PFS &le; OS); the table"
            " gives how many samples needed it.</p>")
    table = _table(("PFS analysis", "OS analysis", "pairing rule", "samples",
                    "samples with PFS capped"), rows)
    ly = psa.life_years
    ly_rows = [(a, q, g, m, f"{format_number(lo)} to {format_number(hi)}")
               for a, q, g, m, lo, hi in zip(ly["analysis"], ly["quantity"], ly["group"],
                                             ly["median"], ly["lower"], ly["upper"], strict=True)]
    ly_table = _table(("pair", "quantity", "group", "median", "95% CrI"), ly_rows, numeric=(3,))
    rate = psa.discount_rate
    discount = "undiscounted" if rate == 0 else f"discounted at {rate:.2%} a year"
    heading = f"<h3>Partitioned survival: life-years to the horizon ({escape_html(discount)})</h3>"
    return text + table + heading + ly_table


def write_report(
    results: Sequence[AnalysisResult],
    path: Path,
    *,
    provenance: pd.DataFrame,
    version: str,
    title: str = "prrt-bayes: Bayesian evidence synthesis for 177Lu-Dotatate",
    psa: PsaReport | None = None,
    date: str | None = None,
    figures: Sequence[plots.RenderedFigure] | None = None,
) -> Path:
    """Write the self-contained HTML report of ``results`` to ``path``.

    Parameters
    ----------
    results
        Fitted analyses, in the order to show them.
    path
        Output file (e.g. ``results/report.html``).
    provenance
        Data provenance, one row per source (e.g. :func:`prrt_bayes.evidence.list_sources`:
        name, citation, what it contributes); all columns are shown.
    version
        Package version printed in the header and footer.
    title
        Page title.
    psa
        Optional :func:`prrt_bayes.outputs.hta.write_psa` report: PFS/OS pairing, capping counts and
        life-years are shown.
    date
        Date shown (default: now, UTC).
    figures
        The figures of ``results`` already rendered by
        :func:`prrt_bayes.outputs.plots.render_all` (the runner passes the ones it wrote to
        ``plots/``); default: rendered here at :data:`prrt_bayes.outputs.plots.FIGURE_DPI`.

    Returns
    -------
    Path
        ``path``.
    """
    date = date or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    e = escape_html
    nav = ("<nav><a href='#diagnostics'>Diagnostics</a><a href='#summary'>Summary</a>"
           "<a href='#figures'>Figures</a><a href='#assumptions'>Priors and borrowing</a>"
           + ("<a href='#extrapolation'>Extrapolation</a>"
              if any(r.extrapolation is not None for r in results) else "")
           + ("<a href='#reconstruction'>Reconstruction</a>"
              if any(r.reconstruction_members is not None for r in results) else "")
           + ("<a href='#psa'>PSA</a>" if psa is not None else "")
           + "<a href='#provenance'>Data provenance</a></nav>")
    summaries = "".join(
        f"<h3>{e(r.name)} ({e(r.kind)}, {e(r.endpoint)})</h3>"
        + ("" if r.diagnostics.passed else
           '<p class="verdict fail">Failed its convergence checks: do not use these estimates.'
           "</p>")
        + _summary(r)
        for r in results
    )
    assumptions = "".join(f"<h3>{e(r.name)}</h3>{_assumptions(r)}" for r in results)
    extrapolation = "".join(f"<h3>{e(r.name)}</h3>{_extrapolation(r)}" for r in results
                            if r.extrapolation is not None)
    reconstruction = "".join(f"<h3>{e(r.name)}</h3>{_reconstruction(r)}" for r in results
                             if r.reconstruction_members is not None)
    provenance_table = _table([str(c) for c in provenance.columns],
                              provenance.itertuples(index=False, name=None))
    sections = [
        f"<h1>{e(title)}</h1>",
        f"<p>prrt-bayes version {e(version)}, generated {e(date)}.</p>",
        _overall(results),
        nav,
        "<h2 id='diagnostics'>Convergence diagnostics</h2>", _diagnostics(results),
        "<h2 id='summary'>Posterior summary (median and 95% credible interval)</h2>",
        "<p>Credible intervals are equal-tailed (2.5% and 97.5% posterior quantiles); "
        "times in months.</p>", summaries,
        "<h2 id='figures'>Figures</h2>",
        _figures(plots.render_all(results) if figures is None else figures),
        "<h2 id='assumptions'>Priors and borrowing assumptions</h2>", assumptions,
    ]
    if extrapolation:
        sections += ["<h2 id='extrapolation'>What drives the extrapolation</h2>", extrapolation]
    if reconstruction:
        sections += ["<h2 id='reconstruction'>What the reconstruction assumes</h2>",
                     reconstruction]
    if psa is not None:
        sections += ["<h2 id='psa'>Probabilistic sensitivity analysis</h2>", _psa(psa)]
    sections += [
        "<h2 id='provenance'>Data provenance</h2>", provenance_table,
        f"<footer>prrt-bayes {e(version)} &middot; {e(date)} &middot; self-contained report: "
        "no external resources, no scripts.</footer>",
    ]
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(sections) + "\n</body></html>\n"
    )
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path
