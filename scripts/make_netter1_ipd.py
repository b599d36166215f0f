"""Generate the bundled NETTER-1 reconstruction ensembles from the published summaries.

Run ``python scripts/make_netter1_ipd.py`` from the repository root. For each endpoint and cut of
:data:`prrt_bayes.reconstruct.netter1_ipd.DATASETS` it reads the targets from the evidence file
(:func:`prrt_bayes.reconstruct.netter1_targets.netter1_targets`), builds the ensemble
(:func:`prrt_bayes.reconstruct.ensemble.build_ensemble`) and writes one CSV per member plus the
members table into ``prrt_bayes/reconstruct/data``, removing the ensemble files it no longer
writes. No random numbers and fixed formatting: a re-run gives byte-identical files
(``tests/reconstruct/test_netter1_ipd.py`` regenerates one ensemble and compares bytes).

Each member's lifelines Cox fit (Efron ties, R's default) is written into its header next to the
calibration's own Efron estimate, so the header shows the published HR, the lifelines HR and
its CI.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

from prrt_bayes.reconstruct.ensemble import Ensemble, Member, build_ensemble
from prrt_bayes.reconstruct.netter1_ipd import DATASETS, member_file_name, table_file_name
from prrt_bayes.reconstruct.netter1_targets import netter1_checks, netter1_targets

SCRIPT_VERSION = "2.0"
SCRIPT_DATE = "2026-12-07"
DATA_DIR = Path(__file__).resolve().parents[1] / "prrt_bayes" / "reconstruct" / "data"
TITLES = {
    ("pfs", "primary"): "progression-free survival (central review), primary analysis, "
                        "cut-off 2015-07-24",
    ("os", "primary"): "overall survival, interim analysis at the primary cut-off 2015-07-24",
    ("os", "update_2016"): "overall survival, updated analysis, cut-off 2016-06-30",
    ("os", "final"): "overall survival, final analysis, cut-off 2021-01-18",
}
ASSUMPTION_FIELDS = ("hazard_shape", "tail_rule", "split", "follow_up_reading",
                     "censoring_by_arm", "pfs_early_rule")


def _lifelines_cox(ipd: pd.DataFrame) -> tuple[float, float, float]:
    data = ipd.assign(lu177=(ipd["arm"] == "lu177").astype(int))[["time", "event", "lu177"]]
    fit = CoxPHFitter().fit(data, "time", "event")
    low, high = fit.confidence_intervals_.loc["lu177"]
    return float(np.exp(fit.params_["lu177"])), float(np.exp(low)), float(np.exp(high))


def _model_lines(member: Member) -> list[str]:
    lines = []
    for arm, built in member.arms.items():
        hazard, cens = built.hazard, built.censoring
        points = ", ".join(f"S({t:g}) = {s:.5f}" for t, s in hazard.points) or "none"
        early = (f"; before {hazard.early[0]:.3f} months {hazard.early[1]:g} x the first "
                 "interval's average" if hazard.early else "")
        lines += [
            f"{arm}: model survival at the published points {points}; log-hazard slope "
            f"{hazard.slope:+.5f}/month between them{early}; after {hazard.last_time():g} months "
            f"hazard {hazard.tail_level:.6f}/month with slope {hazard.tail_slope:+.5f}/month",
            f"{arm}: censoring uniform on [{cens.minimum:.3f}, {cens.maximum:.3f}] months of "
            f"potential follow-up, dropout {cens.dropout_rate:.6f}/month; {built.unfollowed} "
            f"randomised after the cut-off (zero follow-up, not rows); {len(built.times)} rows",
        ]
    return lines


def _check_lines(member: Member) -> list[str]:
    out = []
    for c in member.checks:
        tol = ("exact" if c.tolerance == 0 else
               f"{100 * c.tolerance:g}%" if c.relative else f"+-{c.tolerance:g}")
        out.append(f"{c.name}: target {c.target:.4g} -> pseudo-IPD {c.achieved:.4g} ({tol}) "
                   f"{'met' if c.met else 'MISSED'}")
    return out


def _extra_checks(endpoint: str, cut: str, member: Member) -> list[str]:
    hr = _lifelines_cox(member.ipd)
    lines = [f"lifelines CoxPHFitter (Efron ties): HR lu177 vs control {hr[0]:.4f} "
             f"(95% CI {hr[1]:.4f}-{hr[2]:.4f})"]
    for arm, quantity, value, low, high in netter1_checks(cut):
        rows = member.ipd[member.ipd["arm"] == arm]
        km = KaplanMeierFitter().fit(rows["time"], rows["event"])
        rmst = restricted_mean_survival_time(km, 24)
        lines.append(f"{arm}: {quantity} {rmst:.2f} months (published {value:g}, 95% CI "
                     f"{low:g}-{high:g}; a check, not a target)")
    if "follow_up_pfs_rows" in member.tail:
        lines.append("follow-up: extra PFS-specific dropout censors PFS before the study "
                     "follow-up ends; the target is met by the study follow-up model, the PFS "
                     f"rows' reverse-KM median is {member.tail['follow_up_pfs_rows']:.2f} months")
    return lines


def _render_member(endpoint: str, cut: str, k: int, ensemble: Ensemble,
                   inputs: list[str]) -> str:
    member = ensemble.members[k]
    tail = member.tail
    header = [
        f"NETTER-1 pseudo-IPD: {TITLES[(endpoint, cut)]}",
        f"Ensemble member {k} of {len(ensemble.members)} (member 0 is the default).",
        "NOT patient data: pseudo-IPD, a deterministic reconstruction from published summaries",
        "by prrt_bayes.reconstruct.ensemble; its shape where the summaries are silent is an",
        "assumption (listed below), and other members make other assumptions.",
        f"Generator: scripts/make_netter1_ipd.py version {SCRIPT_VERSION} ({SCRIPT_DATE}).",
        "Columns: time (months from randomisation), event (1 = event, 0 = censored),",
        "arm (lu177 = 177Lu-Dotatate + octreotide LAR 30 mg; control = octreotide LAR 60 mg).",
        "Published inputs (prrt_bayes/evidence/netter1.toml):",
        *[f"  {line}" for line in inputs],
        "Assumptions of this member (where the summaries are silent):",
        *[f"  {name}: {getattr(member.assumptions, name)}" for name in ASSUMPTION_FIELDS],
        "Generating model:",
        *[f"  {line}" for line in _model_lines(member)],
        "Targets (KM / reverse KM / Cox of the rows; patients with zero follow-up included):",
        *[f"  {line}" for line in _check_lines(member)],
        "Checks (not calibration targets):",
        *[f"  {line}" for line in _extra_checks(endpoint, cut, member)],
        "Where members differ (the data are silent):",
        f"  hazard ratio of the generating hazards from {tail['last_point']:g} months "
        f"({'last published time point' if tail['last_point'] else 'no published time point'}"
        f") to {tail['end']:.2f} months: {tail['hr_after_last_point']:.4f}",
        f"  RMST difference lu177 - control at {tail['end']:.2f} months (end of follow-up): "
        f"{tail['rmst_difference_end']:.4f} months",
        f"Ensemble: {ensemble.tried} assumption sets tried, {ensemble.met} met every target, "
        f"{len(ensemble.members)} bundled.",
    ]
    buffer = io.StringIO()
    buffer.write("".join(f"# {line}\n" for line in header))
    member.ipd.to_csv(buffer, index=False, float_format="%.4f", lineterminator="\n")
    return buffer.getvalue()


def _render_table(endpoint: str, cut: str, ensemble: Ensemble) -> str:
    table = ensemble.table()
    table.insert(table.columns.get_loc("rmst_difference_end") + 1, "rmst_end",
                 [m.tail["end"] for m in ensemble.members])
    missed = ensemble.rejected["missed"].str.replace(r"[\d.]+ vs [\d.]+", "", regex=True) \
        if len(ensemble.rejected) else pd.Series(dtype=str)
    header = [
        f"NETTER-1 reconstruction ensemble: {TITLES[(endpoint, cut)]}",
        "NOT patient data: one row per bundled pseudo-IPD member, its assumptions and the",
        "achieved value of every target (see each member's CSV header).",
        f"Generator: scripts/make_netter1_ipd.py version {SCRIPT_VERSION} ({SCRIPT_DATE}).",
        f"Tried {ensemble.tried} assumption sets; {ensemble.met} met every target; "
        f"{len(ensemble.members)} bundled (spread over rmst_difference_end; member 0 default).",
        "Targets:",
        *[f"  {line}" for line in ensemble.targets.describe()],
        "Rejected assumption sets, by first reason:",
        *[f"  {count} x {reason.strip()}" for reason, count in
          missed.str.split(";").str[0].value_counts().sort_index().items()],
    ]
    buffer = io.StringIO()
    buffer.write("".join(f"# {line}\n" for line in header))
    table.to_csv(buffer, index=False, float_format="%.6g", lineterminator="\n")
    return buffer.getvalue()


def render(endpoint: str, cut: str) -> dict[str, str]:
    """File name -> text of every file of one bundled ensemble."""
    targets, inputs = netter1_targets(endpoint, cut)
    ensemble = build_ensemble(targets)
    files = {member_file_name(endpoint, cut, k): _render_member(endpoint, cut, k, ensemble,
                                                                inputs)
             for k in range(len(ensemble.members))}
    files[table_file_name(endpoint, cut)] = _render_table(endpoint, cut, ensemble)
    return files


def render_all() -> dict[str, str]:
    """File name -> CSV text of every bundled file."""
    out = {}
    for endpoint, cut in DATASETS:
        out.update(render(endpoint, cut))
    return out


def main(pairs: list[tuple[str, str]] | None = None) -> None:
    """Write the ensembles into the package data folder and remove stale ensemble files."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for endpoint, cut in pairs or list(DATASETS):
        files = render(endpoint, cut)
        stem = DATASETS[(endpoint, cut)]
        for old in DATA_DIR.glob(f"{stem}_*.csv"):
            if old.name not in files:
                old.unlink()
        for name, text in files.items():
            (DATA_DIR / name).write_text(text, encoding="utf-8")
        print(f"{endpoint}/{cut}: wrote {len(files)} files")
        print(files[table_file_name(endpoint, cut)].split("\n# Targets")[0])


if __name__ == "__main__":
    args = sys.argv[1:]
    main([tuple(arg.split("/")) for arg in args] or None)
