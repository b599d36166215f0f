"""Same seed, same summary.csv bytes; and no row changes without a named reason.

The default test fits the PFS analysis (its default reconstruction member) twice in one process
(the second run reuses the compiled model) and requires identical ``summary.csv`` bytes.
``tests/fixtures/pre_redesign/summary_bundled.csv`` was written by ``prrt-bayes run --jobs 1``
(bundled settings) on the commit before the layered redesign (issue 13); the slow test
re-runs all five analyses and compares every row byte for byte, except those of
:data:`NAMED_CHANGES` (a change an issue names), whose rows must still be the same quantities
and groups.
"""

from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pre_redesign" / "summary_bundled.csv"


FLOAT32 = ("; issue 14: the reported quantities' draws are kept at float32 precision (stored "
           "exactly in half the bytes), which moves summary numbers in about the 7th "
           "significant digit")
NAMED_CHANGES = {
    "response": "issue 13: the series MAP fit ignored the spec's [sampler] (it ran 2000/2000 at "
                "0.99 from a default argument); every fit now takes the spec's settings, so the "
                "bundled response spec carries the settings its MAP fit needs (2000/2000/0.99), "
                "and its two-arm fit runs with them too; since issue 14 that fit runs on "
                "nutpie-c (backend 'auto', measured faster for a model fitted once); issue 17: "
                "the bundled response spec borrows from the series by robust MAP (the 177Lu "
                "rate's prior; the trial-alone rate is the new row "
                "response_rate_without_borrowing); the series rules exclude the reduced-dose "
                "Sansovini 2013 cohort by its regimen (non_standard_dose); a posterior "
                "probability row is its mean alone (sd, median, lower, upper empty)" + FLOAT32,
    "toxicity": "issue 14: the hierarchical AE model fits both grades in one joint model (one "
                "compile; separate hyperparameters per grade, same priors), so its draws come "
                "from a new random stream; the statistics agree with the five-fit version within "
                "Monte Carlo error (largest |mean difference| 0.064 posterior SD); the MDS rows "
                "are unchanged; issue 17: Berry & Berry 2004 as published (point mass at no "
                "difference per organ class, pi ~ Beta(1, 1)) replaces Xia 2011 Model 1a, 4 "
                "chains: every AE row changes (abdominal pain any grade P(RD > 0) 0.80 -> 0.06, "
                "P(no difference) 0.93) and probability_no_difference rows are added; the "
                "long-term MDS risk is a Poisson rate per person-year over the cohorts that "
                "report follow-up (NETTER-1 final), as cumulative incidence by 24 and 60 months; "
                "a posterior probability row is its mean alone (sd, median, lower, upper "
                "empty)" + FLOAT32,
    **dict.fromkeys(("pfs_primary", "os_interim", "os_final", "pfs_primary+os_final"),
                    "issue 15: fitted to every member of the reconstruction ensemble (pseudo-IPD "
                    "meeting every published target, the hazard ratio included) and pooled; the "
                    "old single data set missed the published HRs (pfs_primary+os_final: the "
                    "partitioned-survival life-years built on them); issue 16: the recommended "
                    "extrapolation (flexible excess hazard, population mortality, the series as "
                    "survivor counts) replaces the constant-tail piecewise PH model; issue 17: "
                    "the series' survivor counts use the Kaplan-Meier median's SE from events "
                    "(1/(log 2 sqrt(d))) and leave out the reduced-dose Sansovini 2013 cohort "
                    "(non-standard activity); a posterior probability row is its mean alone "
                    "(sd, median, lower, upper empty)" + FLOAT32),
}
"""Analyses whose numbers changed on purpose, and why."""
for _name in ("os_final", "pfs_primary+os_final"):
    NAMED_CHANGES[_name] += ("; issue 14: os_final tunes 1,500 steps, not 1,000 (one divergent "
                             "transition in a member with a freshly compiled model)")
for _name in ("pfs_primary", "os_interim", "os_final", "pfs_primary+os_final"):
    NAMED_CHANGES[_name] += ("; issue 16: the M-spline basis meets its boundary flat "
                             "(survextrap's bsmooth), which changes every recommended-model row")
for _name in NAMED_CHANGES:
    NAMED_CHANGES[_name] += ("; issue 14: numba code is compiled without fast-math, so a cached "
                             "model gives the same draws as a fresh compile; the draws of every "
                             "numba fit change within Monte Carlo error")

EFFECT_ROWS = ("hazard_ratio", "excess_hazard_ratio", "probability_hr_increases")
"""Issue 16 renamed the survival analyses' treatment-effect rows: with a general-population
floor the effect is the excess-hazard ratio (``excess_hazard_ratio``), and ``os_final`` has one
per period (the published PH test failed); the other rows keep the fixture's vocabulary."""


NEW_QUANTITIES = ("probability_no_difference", "response_rate_without_borrowing",
                  "median_survival_months_without_borrowing")
"""Rows issue 17 added: Berry & Berry's probability of no difference per adverse event, the
trial-alone response rate beside the borrowed one, the 177Lu median without the series."""

MDS_ENDPOINTS = ("mds_long_term_pooled", "mds_long_term_new_cohort")
"""Issue 17 replaced the long-term MDS rows (a per-patient ``ae_probability``) by cumulative
incidences by stated horizons (``cumulative_incidence_24m``, ``_60m``)."""


def _key(line: str) -> str:
    return ",".join(line.split(",")[:4])


def _comparable(line: str) -> bool:
    """A row whose key the fixture has too (not renamed, added or replaced since)."""
    fields = line.split(",")
    return not (fields[2].startswith(EFFECT_ROWS) or fields[2] in NEW_QUANTITIES
                or fields[1] in MDS_ENDPOINTS)


def _keys(lines: list[str]) -> list[str]:
    """Row keys without the rows renamed, added or replaced by issues 16 and 17."""
    return [_key(line) for line in lines if _comparable(line)]


def _rows(text: str, analysis: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{analysis},")]


def test_same_seed_same_bytes(tmp_path):
    from prrt_bayes.pipeline.runner import run
    from prrt_bayes.pipeline.specs import resolve_spec

    data = resolve_spec("pfs_primary").with_overrides(psa_draws=100, scenarios=False).model_dump()
    data["evidence"]["reconstruction"] = "default"  # one member: determinism, not pooling
    spec = type(resolve_spec("pfs_primary")).model_validate(data)
    run([spec], tmp_path / "first", jobs=1)
    run([spec], tmp_path / "second", jobs=1)
    first = (tmp_path / "first" / "summary.csv").read_bytes()
    assert first == (tmp_path / "second" / "summary.csv").read_bytes()
    # and the rows are the vocabulary of the pre-redesign fixture (effect rows renamed)
    expected = FIXTURE.read_text()
    rows = _rows(first.decode(), "pfs_primary")
    assert _keys(rows) == _keys(_rows(expected, "pfs_primary"))
    assert [_key(line) for line in rows if line.split(",")[2].startswith(EFFECT_ROWS)] == [
        "pfs_primary,pfs,excess_hazard_ratio,lu177_vs_control"]
    # the series enter as survivor counts: the 177Lu median is also reported without them
    assert [_key(line) for line in rows if "without_borrowing" in line] == [
        "pfs_primary,pfs,median_survival_months_without_borrowing,lu177"]


@pytest.mark.slow
def test_bundled_run_summary_bytes_unchanged(tmp_path):
    from prrt_bayes.pipeline.bundled import bundled_names
    from prrt_bayes.pipeline.runner import run
    from prrt_bayes.pipeline.specs import resolve_spec

    run([resolve_spec(n) for n in bundled_names()], tmp_path / "out", jobs=1)
    written = (tmp_path / "out" / "summary.csv").read_text().splitlines()
    expected = FIXTURE.read_text().splitlines()
    assert _keys(written) == _keys(expected)
    kept = [line for line in written if _comparable(line)]
    before = [line for line in expected if _comparable(line)]
    changed = [(new, old) for new, old in zip(kept, before, strict=True) if new != old]
    unexplained = [pair for pair in changed if pair[1].split(",")[0] not in NAMED_CHANGES]
    assert not unexplained, unexplained[:5]
    effect_analyses = {line.split(",")[0] for line in written
                       if line.split(",")[2].startswith(EFFECT_ROWS)}
    assert effect_analyses <= set(NAMED_CHANGES), effect_analyses
    mds = {_key(line) for line in written if line.split(",")[1] in MDS_ENDPOINTS}
    assert mds == {f"toxicity,{endpoint},cumulative_incidence_{h}m,lu177"
                   for endpoint in MDS_ENDPOINTS for h in (24, 60)}
