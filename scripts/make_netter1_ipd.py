"""Generate the bundled NETTER-1 pseudo-IPD from the published summaries in ``prrt_bayes.evidence``.

Run ``python scripts/make_netter1_ipd.py`` from the repository root. It rewrites
``prrt_bayes/reconstruct/data/netter1_{pfs_primary,os_primary,os_final}.csv`` with
:mod:`prrt_bayes.reconstruct.from_summaries` (method and assumptions in its docstring). No random
numbers and fixed formatting: a re-run gives byte-identical files, and
``tests/test_netter1_ipd.py`` compares the shipped files with a fresh :func:`render_all`.

Every number comes from :func:`prrt_bayes.evidence.load_netter1`; the choices below are written
into each CSV header as well.

- Accrual "September 2012 through mid-January 2016" (NEJM) is read as 2012-09-15 to 2016-01-15,
  uniform; the same window serves the final cut (the final report's 231 patients include 2
  randomised later; their dates are not public).
- Primary cut (2015-07-24) falls before the end of accrual. The published 116 / 113 are read as
  the whole randomised population, the ~14% randomised after the cut having zero follow-up
  (``late_entrants="zero_follow_up"``; they are not rows, their count is in the header). The
  other reading (n randomised by the cut) cannot reproduce the published events: the header
  reports the event range it allows.
- Median follow-up 14 months (primary, pooled) and 76.3 / 76.5 months (final, per arm) are
  reverse-Kaplan-Meier medians.
- PFS by central review, NEJM counts (23 / 68; the JNM abstract's 67 is an alternative record).
- Interim OS: deaths only, so a constant hazard per arm.
- Final OS: 2-year survival = 1 - deaths within 24 months / N (no censoring before 24 months
  assumed); the total of 142 deaths is split by
  :func:`~prrt_bayes.reconstruct.from_summaries.allocate_total_events` (common multiplier of the
  hazard after each arm's median), because medians, 2-year survival and follow-up are met by any
  split.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

from prrt_bayes.evidence import load_netter1
from prrt_bayes.reconstruct.from_summaries import (
    ArmSummary,
    FollowUpSummary,
    Reconstruction,
    allocate_total_events,
    feasible_events,
    reconstruct_arm,
    stack_arms,
)

SCRIPT_VERSION = "1.0"
SCRIPT_DATE = "2026-11-23"
DATA_DIR = Path(__file__).resolve().parents[1] / "prrt_bayes" / "reconstruct" / "data"
ARMS = ("lu177", "control")
TIME_DECIMALS = 4


class _Inputs:
    """Fetches published records and remembers them for the CSV header."""

    def __init__(self) -> None:
        self.evidence = load_netter1()
        self.used: list[str] = []

    def get(self, cut: str, quantity: str, arm: str = "all", time: float | None = None):
        record = self.evidence.get(cut, quantity, arm=arm, time=time)
        shown = record.date if record.date else ("not reached" if record.value is None
                                                 else f"{record.value:g}")
        extra = f" (95% CI {record.lower:g}-{record.upper:g})" if (
            record.lower is not None and record.upper is not None
            and record.interval == "95% CI") else ""
        at = f" at {time:g} months" if time is not None else ""
        line = f"{cut} {quantity}{at} [{arm}] = {shown}{extra} ({record.source}: {record.locator})"
        if line not in self.used:
            self.used.append(line)
        return record

    def value(self, *args, **kwargs) -> float:
        return float(self.get(*args, **kwargs).value)


def _follow_up_primary(inputs: _Inputs) -> FollowUpSummary:
    return FollowUpSummary.from_dates(
        inputs.get("primary_2015", "accrual_start").date,
        inputs.get("primary_2015", "accrual_end").date,
        inputs.get("primary_2015", "data_cutoff").date,
        median=inputs.value("primary_2015", "median_follow_up_months"),
        late_entrants="zero_follow_up",
    )


def _excluded_reading(inputs: _Inputs, summary: ArmSummary) -> str:
    """Event range under the other reading of n (only patients randomised by the cut-off)."""
    follow_up = FollowUpSummary.from_dates(
        inputs.get("primary_2015", "accrual_start").date,
        inputs.get("primary_2015", "accrual_end").date,
        inputs.get("primary_2015", "data_cutoff").date,
        median=inputs.value("primary_2015", "median_follow_up_months"),
        late_entrants="excluded",
    )
    low, high = feasible_events(summary.model_copy(update={"follow_up": follow_up}))
    return f"{low}-{high}"


def _rounded(ipd: pd.DataFrame) -> pd.DataFrame:
    return ipd.assign(time=ipd["time"].round(TIME_DECIMALS))


def _cox(ipd: pd.DataFrame) -> tuple[float, float, float]:
    """Unstratified Cox hazard ratio lu177 vs control (lifelines) with its 95% CI."""
    data = ipd.assign(lu177=(ipd["arm"] == "lu177").astype(int))[["time", "event", "lu177"]]
    fit = CoxPHFitter().fit(data, "time", "event")
    low, high = fit.confidence_intervals_.loc["lu177"]
    return float(np.exp(fit.params_["lu177"])), float(np.exp(low)), float(np.exp(high))


def _km(ipd: pd.DataFrame) -> KaplanMeierFitter:
    return KaplanMeierFitter().fit(ipd["time"], ipd["event"])


def _calibration_lines(recs: dict[str, Reconstruction]) -> list[str]:
    lines = []
    for arm, rec in recs.items():
        hazard = ", ".join(
            f"{rate:.6f} from {start:g}" for start, rate in zip(rec.hazard.starts,
                                                                rec.hazard.rates, strict=True)
        )
        cens = rec.censoring
        lines += [
            f"{arm}: event calibration '{rec.event_calibration}'; hazard per month {hazard}",
            f"{arm}: censoring uniform on [{cens.minimum:.3f}, {cens.maximum:.3f}] months of "
            f"potential follow-up, dropout {cens.dropout_rate:.6f}/month; {rec.unfollowed} "
            f"randomised after the cut-off (zero follow-up, not rows); {len(rec.ipd)} rows",
        ]
        for check in rec.diagnostics.checks:
            lines.append(f"{arm}: target {check.name} {check.target:.4g} -> pseudo-IPD "
                         f"{check.achieved:.4g}")
    return lines


def _render(title: str, inputs: _Inputs, choices: list[str], recs: dict[str, Reconstruction],
            checks: list[str], ipd: pd.DataFrame) -> str:
    header = [
        f"NETTER-1 pseudo-IPD: {title}",
        "NOT patient data: a deterministic reconstruction from published summaries by",
        "prrt_bayes.reconstruct.from_summaries (piecewise-constant hazard through the published",
        "points; uniform-accrual administrative censoring with dropout; see its docstring).",
        f"Generator: scripts/make_netter1_ipd.py version {SCRIPT_VERSION} ({SCRIPT_DATE}).",
        "Columns: time (months from randomisation), event (1 = event, 0 = censored),",
        "arm (lu177 = 177Lu-Dotatate + octreotide LAR 30 mg; control = octreotide LAR 60 mg).",
        "Published inputs (prrt_bayes/evidence/netter1.toml):",
        *[f"  {line}" for line in inputs.used],
        "Choices:",
        *[f"  {line}" for line in choices],
        "Calibration and targets (KM / reverse KM of the rows, all n patients):",
        *[f"  {line}" for line in _calibration_lines(recs)],
        "Checks (not calibration targets):",
        *[f"  {line}" for line in checks],
    ]
    buffer = io.StringIO()
    buffer.write("".join(f"# {line}\n" for line in header))
    ipd.to_csv(buffer, index=False, float_format=f"%.{TIME_DECIMALS}f", lineterminator="\n")
    return buffer.getvalue()


def _hr_check(ipd: pd.DataFrame, record, label: str) -> str:
    hr, low, high = _cox(ipd)
    published = f"{record.value:g}"
    if record.lower is not None:
        published += f" ({record.lower:g}-{record.upper:g})"
    return (f"{label}: unstratified Cox HR lu177 vs control (lifelines) {hr:.3f} "
            f"(95% CI {low:.3f}-{high:.3f}); published {published}")


def pfs_primary() -> str:
    """PFS by central review at the primary cut-off (2015-07-24)."""
    inputs = _Inputs()
    cut = "primary_2015"
    follow_up = _follow_up_primary(inputs)
    summaries = {
        arm: ArmSummary(
            n=int(inputs.value(cut, "n_randomised", arm)),
            events=int(inputs.value(cut, "pfs_events", arm)),
            landmarks={20.0: inputs.value(cut, "pfs_survival", arm, time=20) / 100},
            median=inputs.get(cut, "pfs_median_months", arm).value,
            follow_up=follow_up,
        )
        for arm in ARMS
    }
    recs = {arm: reconstruct_arm(summary) for arm, summary in summaries.items()}
    ipd = _rounded(stack_arms(recs))
    hr = inputs.get(cut, "pfs_hazard_ratio")
    lu_median = _km(ipd[ipd["arm"] == "lu177"]).median_survival_time_
    checks = [
        _hr_check(ipd, hr, "PFS"),
        f"lu177 KM median of the rows: {'not reached' if math.isinf(lu_median) else lu_median}"
        " (published: not reached)",
    ]
    choices = [
        "accrual YYYY-MM read as the 15th; uniform accrual over the whole window",
        "n = all randomised (ITT); patients randomised after the cut-off have zero follow-up",
        "reading n as only those randomised by the cut-off allows these event counts: "
        + ", ".join(f"{arm} {_excluded_reading(inputs, s)} (published {s.events})"
                    for arm, s in summaries.items()),
        "median follow-up 14 months = reverse-KM median, pooled: same censoring in both arms",
        "events: NEJM central review (JNM abstract reports 67 control events)",
    ]
    return _render("progression-free survival (central review), primary analysis, cut-off "
                   "2015-07-24", inputs, choices, recs, checks, ipd)


def os_primary() -> str:
    """Interim overall survival at the primary cut-off (2015-07-24)."""
    inputs = _Inputs()
    cut = "primary_2015"
    follow_up = _follow_up_primary(inputs)
    recs = {
        arm: reconstruct_arm(ArmSummary(
            n=int(inputs.value(cut, "n_randomised", arm)),
            events=int(inputs.value(cut, "os_deaths", arm)),
            follow_up=follow_up,
        ))
        for arm in ARMS
    }
    ipd = _rounded(stack_arms(recs))
    checks = [_hr_check(ipd, inputs.get(cut, "os_hazard_ratio"), "interim OS")]
    choices = [
        "accrual YYYY-MM read as the 15th; uniform accrual over the whole window",
        "n = all randomised (ITT); patients randomised after the cut-off have zero follow-up",
        "median follow-up 14 months = reverse-KM median, pooled: same censoring in both arms",
        "only deaths are published: constant hazard per arm",
    ]
    return _render("overall survival, interim analysis at the primary cut-off 2015-07-24",
                   inputs, choices, recs, checks, ipd)


def os_final() -> str:
    """Final overall survival (cut-off 2021-01-18)."""
    inputs = _Inputs()
    cut = "final_2021"
    summaries = {}
    for arm in ARMS:
        n = int(inputs.value(cut, "n_randomised", arm))
        deaths_24 = inputs.value(cut, "os_deaths_within_24m", arm)
        summaries[arm] = ArmSummary(
            n=n,
            landmarks={24.0: 1 - deaths_24 / n},
            median=inputs.value(cut, "os_median_months", arm),
            follow_up=FollowUpSummary.from_dates(
                inputs.get("primary_2015", "accrual_start").date,
                inputs.get("primary_2015", "accrual_end").date,
                inputs.get(cut, "data_cutoff").date,
                median=inputs.value(cut, "median_follow_up_months", arm),
            ),
        )
    total = int(inputs.value(cut, "os_deaths"))
    split = allocate_total_events(summaries, total)
    recs = {
        arm: reconstruct_arm(summary.model_copy(update={"events": split.events[arm]}))
        for arm, summary in summaries.items()
    }
    ipd = _rounded(stack_arms(recs))
    checks = [_hr_check(ipd, inputs.get(cut, "os_hazard_ratio"), "final OS")]
    for arm in ARMS:
        rows = ipd[ipd["arm"] == arm]
        deaths = int(((rows["time"] <= 24) & (rows["event"] == 1)).sum())
        rmst = restricted_mean_survival_time(_km(rows), 24)
        published = inputs.get(cut, "os_rmst_24m", arm)
        checks.append(
            f"{arm}: deaths within 24 months {deaths} (published "
            f"{inputs.value(cut, 'os_deaths_within_24m', arm):g}); 24-month RMST {rmst:.2f} "
            f"months (published {published.value:g}, 95% CI {published.lower:g}-"
            f"{published.upper:g})"
        )
    expected = ", ".join(f"{arm} {value:.2f}" for arm, value in split.expected.items())
    choices = [
        "accrual YYYY-MM read as the 15th, uniform; NEJM accrual window (the final report's 2 "
        "extra patients are not dated in public text)",
        "2-year survival = 1 - deaths within 24 months / N (no censoring before 24 months "
        "assumed)",
        "median follow-up per arm = reverse-KM median",
        f"per-arm deaths not published: total {total} split {split.events['lu177']} / "
        f"{split.events['control']} by allocate_total_events (expected {expected}; the hazard "
        f"after each arm's median is its pre-median rate times a common "
        f"{split.tail_multiplier:.4f}); medians, 2-year survival and follow-up are met by any "
        "split",
    ]
    return _render("overall survival, final analysis, cut-off 2021-01-18", inputs, choices,
                   recs, checks, ipd)


GENERATORS = {
    "netter1_pfs_primary.csv": pfs_primary,
    "netter1_os_primary.csv": os_primary,
    "netter1_os_final.csv": os_final,
}


def render_all() -> dict[str, str]:
    """File name -> CSV text of every bundled reconstruction."""
    return {name: make() for name, make in GENERATORS.items()}


def main() -> None:
    """Write the CSVs into the package data folder and print their headers' checks."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (DATA_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {DATA_DIR / name}")
        for line in text.splitlines():
            if line.startswith("#   ") and ("target" in line or "HR" in line or "RMST" in line):
                print(line[4:])


if __name__ == "__main__":
    main()
