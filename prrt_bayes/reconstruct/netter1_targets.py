"""The NETTER-1 reconstruction targets of each endpoint and cut, read from the evidence file.

Every number comes from :func:`prrt_bayes.evidence.load_netter1` (nothing is typed here); the
records used are listed (with their source and locator) for the CSV headers.

- ``("pfs", "primary")``: 116 / 113 randomised, 23 / 68 events (central review), KM at 20
  months, control median, 177Lu median not reached, Cox HR 0.21 (0.13-0.33), pooled median
  follow-up 14 months, accrual window and cut-off 2015-07-24, first scan at 12 weeks (NEJM
  Methods: "every 12 weeks").
- ``("os", "primary")``: interim deaths 14 / 26, HR 0.40 (NEJM) with the 95% CI 0.21-0.77 of the
  conference report (the NEJM prints no CI), the same follow-up.
- ``("os", "update_2016")``: deaths 28 / 43, control median 27.4, 177Lu not reached, accrual
  window and cut-off 2016-06-30; no follow-up figure is published, so the censoring is
  administrative, with or without the dropout the primary cut's follow-up implies.
- ``("os", "final")``: 117 / 114, 142 deaths in total (no per-arm split published), medians,
  deaths within 24 months 26 / 39, HR 0.84 (0.60-1.17), per-arm median follow-up, cut-off
  2021-01-18. The 2-year RMST (21.2 / 19.3) is a check, never a target.
"""

from __future__ import annotations

from dataclasses import dataclass

from prrt_bayes.core.errors import InputError
from prrt_bayes.evidence import load_netter1
from prrt_bayes.reconstruct.from_summaries import (
    FollowUpSummary,
    calibrate_censoring,
    months_between,
)
from prrt_bayes.reconstruct.targets import ArmTargets, HazardRatioTarget, SurvivalTargets

ARMS = ("lu177", "control")
CUT_IDS = {"primary": "primary_2015", "update_2016": "update_2016", "final": "final_2021"}
"""Reconstruction cut names -> evidence cut ids."""
ENDPOINT_CUTS = (("pfs", "primary"), ("os", "primary"), ("os", "update_2016"), ("os", "final"))
FIRST_SCAN_WEEKS = 12
"""NEJM Methods: "An objective tumor assessment ... was performed every 12 weeks"."""
WEEKS_PER_MONTH = 365.25 / 12 / 7


@dataclass
class _Reader:
    """Fetches records and remembers each one used, for the CSV headers."""

    evidence: object
    used: list[str]

    def get(self, cut: str, quantity: str, arm: str = "all", time: float | None = None,
            with_ci: bool = False):
        record = self.evidence.get(cut, quantity, arm=arm, time=time)
        if with_ci and record.lower is None:
            record = next((r for r in self.evidence.alternatives(cut, quantity, arm, time)
                           if r.lower is not None and r.interval == "95% CI"), record)
        shown = record.date if record.date else (
            "not reached" if record.value is None else f"{record.value:g}")
        ci = (f" (95% CI {record.lower:g}-{record.upper:g})" if record.lower is not None
              and record.upper is not None and record.interval == "95% CI" else "")
        at = f" at {time:g} months" if time is not None else ""
        line = (f"{cut} {quantity}{at} [{arm}] = {shown}{ci} ({record.source}: "
                f"{record.locator})")
        if line not in self.used:
            self.used.append(line)
        return record

    def value(self, *args, **kwargs) -> float:
        return float(self.get(*args, **kwargs).value)


def _window(reader: _Reader, cut: str) -> tuple[float, float]:
    start = reader.get("primary_2015", "accrual_start").date
    end = reader.get("primary_2015", "accrual_end").date
    cutoff = reader.get(cut, "data_cutoff").date
    return months_between(end, cutoff), months_between(start, cutoff)


def _hr(reader: _Reader, cut: str, quantity: str) -> HazardRatioTarget:
    point = reader.get(cut, quantity)
    ci = reader.get(cut, quantity, with_ci=True)
    return HazardRatioTarget(float(point.value), ci.lower, ci.upper)


def netter1_targets(endpoint: str, cut: str) -> tuple[SurvivalTargets, list[str]]:
    """The targets of one NETTER-1 endpoint and cut, and the evidence records they come from.

    Parameters
    ----------
    endpoint
        ``"pfs"`` or ``"os"``.
    cut
        ``"primary"``, ``"update_2016"`` (OS only) or ``"final"`` (OS only).

    Returns
    -------
    tuple[SurvivalTargets, list[str]]
        The targets (``lu177`` first) and one text line per evidence record used.

    Raises
    ------
    InputError
        An endpoint / cut pair that is not reconstructed.
    """
    if (endpoint, cut) not in ENDPOINT_CUTS:
        valid = ", ".join(f"({e!r}, {c!r})" for e, c in ENDPOINT_CUTS)
        raise InputError(f"no NETTER-1 reconstruction for endpoint {endpoint!r} at cut "
                         f"{cut!r}; valid: {valid}", field="cut")
    reader = _Reader(load_netter1(), [])
    cut_id = CUT_IDS[cut]
    if cut == "primary":
        minimum, maximum = _window(reader, cut_id)
        follow_up = reader.value(cut_id, "median_follow_up_months")
        n = {arm: int(reader.value(cut_id, "n_randomised", arm)) for arm in ARMS}
        if endpoint == "pfs":
            arms = {}
            for arm in ARMS:
                landmark = reader.get(cut_id, "pfs_survival", arm, time=20)
                median = reader.get(cut_id, "pfs_median_months", arm)
                arms[arm] = ArmTargets(
                    n=n[arm], events=int(reader.value(cut_id, "pfs_events", arm)),
                    landmarks={float(landmark.time): landmark.value / 100},
                    median=median.value, median_not_reached=median.value is None)
            return SurvivalTargets(
                "pfs", cut, arms, maximum, minimum, _hr(reader, cut_id, "pfs_hazard_ratio"),
                follow_up_median=follow_up,
                first_assessment=FIRST_SCAN_WEEKS / WEEKS_PER_MONTH), reader.used
        arms = {arm: ArmTargets(n=n[arm], events=int(reader.value(cut_id, "os_deaths", arm)))
                for arm in ARMS}
        return SurvivalTargets("os", cut, arms, maximum, minimum,
                               _hr(reader, cut_id, "os_hazard_ratio"),
                               follow_up_median=follow_up), reader.used
    if cut == "update_2016":
        minimum, maximum = _window(reader, cut_id)
        n = {arm: int(reader.value("primary_2015", "n_randomised", arm)) for arm in ARMS}
        arms = {}
        for arm in ARMS:
            median = reader.get(cut_id, "os_median_months", arm)
            arms[arm] = ArmTargets(n=n[arm], events=int(reader.value(cut_id, "os_deaths", arm)),
                                   median=median.value, median_not_reached=median.value is None)
        return SurvivalTargets("os", cut, arms, maximum, minimum,
                               dropout_rates=_primary_dropouts(reader)), reader.used
    minimum, maximum = _window(reader, cut_id)
    arms = {}
    for arm in ARMS:
        arms[arm] = ArmTargets(
            n=int(reader.value(cut_id, "n_randomised", arm)),
            median=reader.value(cut_id, "os_median_months", arm),
            events_by={24.0: int(reader.value(cut_id, "os_deaths_within_24m", arm))},
            follow_up_median=reader.value(cut_id, "median_follow_up_months", arm))
    return SurvivalTargets("os", cut, arms, maximum, minimum,
                           _hr(reader, cut_id, "os_hazard_ratio"),
                           total_events=int(reader.value(cut_id, "os_deaths"))), reader.used


def _primary_dropouts(reader: _Reader) -> tuple[float, ...]:
    """Dropout rates the primary cut's 14-month reverse-KM follow-up implies (both readings)."""
    minimum, maximum = _window(reader, "primary_2015")
    median = reader.value("primary_2015", "median_follow_up_months")
    rates = []
    for low in (minimum, max(minimum, 0.0)):
        rates.append(calibrate_censoring(FollowUpSummary(maximum=maximum, minimum=low,
                                                         median=median)).dropout_rate)
    return tuple(rates)


def netter1_checks(cut: str) -> list[tuple[str, str, float, float, float]]:
    """Published numbers that are checks, never targets: ``(arm, quantity, value, lo, hi)``.

    Parameters
    ----------
    cut
        Reconstruction cut name; only ``"final"`` has checks (2-year RMST).

    Returns
    -------
    list[tuple[str, str, float, float, float]]
        One entry per arm and check (empty for other cuts).
    """
    if cut != "final":
        return []
    evidence = load_netter1()
    out = []
    for arm in ARMS:
        record = evidence.get("final_2021", "os_rmst_24m", arm)
        out.append((arm, "rmst_24m", record.value, record.lower, record.upper))
    return out
