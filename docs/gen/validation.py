"""Validation figures: run the cheap reference comparisons and write ``validation_figures.json``.

Usage (from the repository root)::

    .venv/bin/python docs/gen/validation.py            # writes docs/validation_figures.json

The docs build never runs this (it reads the JSON): the comparisons take about half a minute.
Each entry repeats, outside pytest, one check of a validation test against a result nobody here
wrote (published trial figures, lifelines / SciPy fits, the bayesmeta vignette) and records the
target, the test's criterion, the measured value and whether it passed. Targets come from the
package's evidence loaders or from the test module's own reference constants, so the page and the
tests cannot disagree. Checks that need MCMC are listed with their test and target but not run
(``measured`` is null): their figures come from ``pytest`` output.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "validation_figures.json"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "digitized_km"

# Validation tests that need MCMC: listed on the page (docstring read from the test), not run.
MCMC_TESTS = (
    "tests/survival/test_ph.py::test_rossi_log_hr_agrees_with_maximum_likelihood",
    "tests/survival/test_ph.py::test_netter1_against_published_hazard_ratios",
    "tests/survival/test_ph.py::test_netter1_final_os_hr_rises_over_time",
    "tests/survival/test_ph.py::test_netter1_final_os_quantities_against_published",
    "tests/survival/test_parametric.py::test_weibull_matches_lifelines",
    "tests/survival/test_parametric.py::test_lognormal_matches_lifelines",
    "tests/survival/test_parametric.py::test_loglogistic_matches_lifelines",
    "tests/survival/test_parametric.py::test_gengamma_matches_lifelines",
    "tests/survival/test_parametric.py::test_exponential_matches_closed_form_mle",
    "tests/survival/test_parametric.py::test_gompertz_matches_scipy_censored_mle",
    "tests/borrowing/test_meta.py::test_eight_schools_mcmc_matches_exact",
    "tests/borrowing/test_map.py::test_transplant_mcmc_matches_exact",
)


def entry(area: str, test: str, check: str, target, criterion: str, measured, passed: bool,
          source: str) -> dict:
    """One validation figure (JSON-ready)."""
    def clean(value):
        if isinstance(value, float):
            if math.isnan(value):
                return None
            return float(f"{value:.7g}") if math.isfinite(value) else str(value)
        return value

    return {"area": area, "test": test, "check": check, "target": clean(target),
            "criterion": criterion, "measured": clean(measured), "passed": bool(passed),
            "source": source}


# --------------------------------------------------------------------------- NETTER-1 pseudo-IPD
def netter1_pseudo_ipd() -> list[dict]:
    """Bundled NETTER-1 pseudo-IPD (default members) against the published figures
    (tests/reconstruct/test_netter1_ipd.py checks every member)."""
    import numpy as np
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    from prrt_bayes.evidence import load_netter1
    from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd

    evidence = load_netter1()
    area = "NETTER-1 pseudo-IPD (default ensemble member) against the published figures"
    test = "tests/reconstruct/test_netter1_ipd.py::test_every_member_meets_every_published_target"
    test += "[{}]"

    def km(ipd, arm):
        rows = ipd[ipd["arm"] == arm]
        return KaplanMeierFitter().fit(rows["time"], rows["event"])

    def cox(ipd):
        data = ipd.assign(lu177=(ipd["arm"] == "lu177").astype(int))[["time", "event", "lu177"]]
        return float(np.exp(CoxPHFitter().fit(data, "time", "event").params_["lu177"]))

    def events(ipd, arm=None):
        rows = ipd if arm is None else ipd[ipd["arm"] == arm]
        return int(rows["event"].sum())

    def cite(record):
        return f"{record.source}, {record.locator}"

    out = []
    pfs = load_netter1_ipd("pfs", "primary")
    for arm in ("lu177", "control"):
        rec = evidence.get("primary_2015", "pfs_survival", arm=arm, time=20)
        got = 100 * float(km(pfs, arm).survival_function_at_times(20).iloc[0])
        out.append(entry(area, test.format("pfs-primary"), f"PFS at 20 months, {arm} (%)",
                         rec.value, "within 1 percentage point", got,
                         abs(got - rec.value) < 1, cite(rec)))
        rec = evidence.get("primary_2015", "pfs_events", arm=arm)
        got = events(pfs, arm)
        out.append(entry(area, test.format("pfs-primary"), f"PFS events, {arm}", rec.value,
                         "exact", got, got == rec.value, cite(rec)))
    rec = evidence.get("primary_2015", "pfs_median_months", arm="control")
    got = float(km(pfs, "control").median_survival_time_)
    out.append(entry(area, test.format("pfs-primary"), "median PFS, control (months)", rec.value,
                     "within 0.3 months", got, abs(got - rec.value) <= 0.3, cite(rec)))
    rec = evidence.get("primary_2015", "pfs_hazard_ratio")
    got = cox(pfs)
    out.append(entry(area, test.format("pfs-primary"), "PFS hazard ratio (Cox)",
                     f"{rec.value} ({rec.lower} to {rec.upper})", "within 5%", got,
                     abs(got / rec.value - 1) <= 0.05, cite(rec)))

    os_interim = load_netter1_ipd("os", "primary")
    for arm in ("lu177", "control"):
        rec = evidence.get("primary_2015", "os_deaths", arm=arm)
        got = events(os_interim, arm)
        out.append(entry(area, test.format("os-primary"), f"interim OS deaths, {arm}", rec.value,
                         "exact", got, got == rec.value, cite(rec)))
    rec = evidence.get("primary_2015", "os_hazard_ratio")
    got = cox(os_interim)
    out.append(entry(area, test.format("os-primary"), "interim OS hazard ratio (Cox)", rec.value,
                     "within 5%", got, abs(got / rec.value - 1) <= 0.05, cite(rec)))

    final = load_netter1_ipd("os", "final")
    rec = evidence.get("final_2021", "os_deaths")
    got = events(final)
    out.append(entry(area, test.format("os-final"), "final OS deaths, total", rec.value, "exact",
                     got, got == rec.value, cite(rec)))
    for arm in ("lu177", "control"):
        rec = evidence.get("final_2021", "os_median_months", arm=arm)
        got = float(km(final, arm).median_survival_time_)
        out.append(entry(area, test.format("os-final"), f"median OS, {arm} (months)", rec.value,
                         "within 1 month", got, abs(got - rec.value) <= 1.0, cite(rec)))
        rec = evidence.get("final_2021", "os_rmst_24m", arm=arm)
        got = float(restricted_mean_survival_time(km(final, arm), 24))
        out.append(entry(area, test.format("os-final"), f"2-year RMST, {arm} (months)",
                         f"{rec.value} ({rec.lower} to {rec.upper})", "inside the published CI",
                         got, rec.lower <= got <= rec.upper, cite(rec)))
        rec = evidence.get("final_2021", "os_deaths_within_24m", arm=arm)
        rows = final[final["arm"] == arm]
        got = int(((rows["time"] <= 24) & (rows["event"] == 1)).sum())
        out.append(entry(area, test.format("os-final"), f"deaths within 2 years, {arm}",
                         rec.value, "exact", got, got == rec.value, cite(rec)))
    rec = evidence.get("final_2021", "os_hazard_ratio")
    got = cox(final)
    out.append(entry(area, test.format("os-final"), "final OS hazard ratio (Cox)",
                     f"{rec.value} ({rec.lower} to {rec.upper})", "within 5%", got,
                     abs(got / rec.value - 1) <= 0.05, cite(rec)))
    return out


# ------------------------------------------------------------------ Guyot on digitised curves
# Published figures of the two digitised trials (as in
# tests/reconstruct/test_reconstruct_fixtures.py).
BONNER = "Bonner et al., N Engl J Med 2006;354:567-78"
KEYNOTE189 = "Gandhi et al. (KEYNOTE-189), N Engl J Med 2018;378:2078-92"


def guyot_fixtures() -> list[dict]:
    """Guyot reconstruction of real digitised curves
    (tests/reconstruct/test_reconstruct_fixtures.py)."""
    area = "Guyot reconstruction of digitised published curves"
    test = "tests/reconstruct/test_reconstruct_fixtures.py::"
    if not FIXTURES.is_dir():
        return [entry(area, test, "digitised fixtures", None, f"fixtures at {FIXTURES}", None,
                      False, "skipped: fixtures not found")]
    from prrt_bayes.reconstruct.accuracy import cox_hazard_ratio, km_step
    from prrt_bayes.reconstruct.guyot import reconstruct_from_files

    def rebuild(stem, arm, column):
        return reconstruct_from_files(FIXTURES / f"{stem}_{arm}_curve.csv",
                                      FIXTURES / f"{stem}_numbers_at_risk.csv",
                                      at_risk_column=column)

    cetuximab = rebuild("bonner2006", "radiotherapy_cetuximab", "at_risk_radiotherapy_cetuximab")
    radiotherapy = rebuild("bonner2006", "radiotherapy", "at_risk_radiotherapy")
    pembro = rebuild("keynote189", "pembrolizumab", "at_risk_pembrolizumab")
    placebo = rebuild("keynote189", "placebo", "at_risk_placebo")
    out = []
    hr = cox_hazard_ratio(cetuximab.ipd, radiotherapy.ipd).estimate
    out.append(entry(area, test + "test_bonner_hazard_ratio", "Bonner 2006 locoregional-control HR",
                     "0.68 (0.52 to 0.89)", "0.61 to 0.75", hr, 0.61 <= hr <= 0.75, BONNER))
    hr = cox_hazard_ratio(pembro.ipd, placebo.ipd).estimate
    out.append(entry(area, test + "test_keynote189_hazard_ratio_and_12_month_survival",
                     "KEYNOTE-189 OS HR", "0.49 (stratified)", "0.44 to 0.55", hr,
                     0.44 <= hr <= 0.55, KEYNOTE189))
    for result, arm, published in ((pembro, "pembrolizumab", 0.692), (placebo, "placebo", 0.494)):
        got = float(km_step(result.ipd, [12.0])[0])
        out.append(entry(area, test + "test_keynote189_hazard_ratio_and_12_month_survival",
                         f"KEYNOTE-189 12-month OS, {arm}", published, "within 0.02", got,
                         abs(got - published) <= 0.02, KEYNOTE189))
    for name, result in (("Bonner cetuximab + RT", cetuximab), ("Bonner RT", radiotherapy),
                         ("KEYNOTE-189 pembrolizumab", pembro), ("KEYNOTE-189 placebo", placebo)):
        got = float(result.accuracy.max_abs_error)
        out.append(entry(area, test + "test_reconstructed_km_follows_digitised_points",
                         f"{name}: max |KM - digitised curve|", None, "below 0.02", got, got < 0.02,
                         "digitised curve (fixture)"))
    return out


# ---------------------------------------------------------------- parametric MLE vs lifelines
def parametric_mle() -> list[dict]:
    """Our censored log-likelihood maximised on lifelines' lung data vs the reference MLE."""
    import numpy as np
    from lifelines.datasets import load_lung
    from scipy.optimize import minimize

    from prrt_bayes.survival.distributions import FAMILIES, NP

    tests = _test_module("tests/survival/test_parametric.py")
    lung = load_lung()  # as the test's ``lung`` fixture
    t, d = lung["time"].astype(float).to_numpy(), lung["status"].astype(int).to_numpy()
    area = "Parametric likelihoods against maximum likelihood (lifelines / SciPy, lung data)"
    node = ("tests/survival/test_parametric.py::"
            "test_our_likelihood_is_maximised_at_the_reference_mle[{}]")
    out = []
    for family, reference_mle in sorted(tests.REFERENCE_MLE.items()):
        fam = FAMILIES[family]
        mle = reference_mle(t, d)
        doc = (reference_mle.__doc__ or "lifelines parametric fitter").split(":")[0]
        doc = doc.splitlines()[0].replace("``", "")

        def unpack(x, fam=fam):
            return {p.name: (np.exp(v) if p.transform == "log" else v)
                    for p, v in zip(fam.parameters, x, strict=True)}

        def nll(x, fam=fam, unpack=unpack):
            return -np.sum(fam.log_likelihood(NP, t, d, **unpack(x)))

        x0 = [np.log(mle[p.name]) + 0.2 if p.transform == "log" else mle[p.name] * 1.2
              for p in fam.parameters]
        ours = unpack(minimize(nll, x0, method="Nelder-Mead",
                               options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20000}).x)
        for name, reference in mle.items():
            got = float(ours[name])
            out.append(entry(area, node.format(family), f"{family} {name}", float(reference),
                             "relative difference < 0.2%", got,
                             abs(got / float(reference) - 1) < 2e-3, " ".join(doc.split())))
    return out


# ------------------------------------------------------------ normal-normal model vs bayesmeta
def bayesmeta_schools() -> list[dict]:
    """Exact normal-normal posterior on the eight schools vs the bayesmeta vignette."""
    from prrt_bayes.borrowing import normal_normal_exact

    tests = _test_module("tests/borrowing/test_meta.py")
    summary = normal_normal_exact(tests.SCHOOLS_Y, tests.SCHOOLS_SE, tau_prior=tests.TAU_PRIOR,
                                  mu_prior=tests.MU_PRIOR).summary()
    area = "Borrowing: normal-normal hierarchical model against bayesmeta"
    return [entry(area, f"tests/borrowing/test_meta.py::test_eight_schools_exact_matches_bayesmeta"
                  f"[{key}]", f"eight schools {key}", reference, "within 0.005",
                  float(summary[key]), abs(float(summary[key]) - reference) <= 0.005,
                  "bayesmeta vignette (Röver 2020, J Stat Softw 93(6))")
            for key, reference in sorted(tests.BAYESMETA.items())]


# ------------------------------------------------------------------------------ MCMC (listed)
def mcmc_listed() -> list[dict]:
    """The MCMC validation tests with their stated targets (docstrings), not run here."""
    out = []
    for node in MCMC_TESTS:
        path, name = node.split("::")
        file = ROOT / path
        if not file.exists():
            continue
        tree = ast.parse(file.read_text(encoding="utf-8"))
        function = next((f for f in tree.body if isinstance(f, ast.FunctionDef)
                         and f.name == name), None)
        if function is None:
            continue
        doc = " ".join((ast.get_docstring(function) or "").split())
        doc = doc or name.removeprefix("test_").replace("_", " ")
        slow = any("slow" in ast.unparse(d) for d in function.decorator_list)
        out.append({"area": "MCMC validations (run by pytest, not by this script)", "test": node,
                    "check": doc, "target": None, "criterion": "see the test",
                    "measured": None, "passed": None,
                    "source": "pytest -m slow" if slow else "pytest (default run)"})
    return out


def _test_module(relative: str):
    """Import a test module by path, for its reference constants (``tests/`` on the path for
    its ``helpers``, as pytest's ``pythonpath`` setting does)."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECKS: tuple[Callable[[], list[dict]], ...] = (
    netter1_pseudo_ipd, guyot_fixtures, parametric_mle, bayesmeta_schools, mcmc_listed,
)


def compute() -> dict:
    """Run every check; a check that errors is recorded as a failed entry, not raised."""
    from prrt_bayes.core.version import __version__

    entries = []
    started = time.perf_counter()
    for check in CHECKS:
        try:
            entries += check()
        except Exception as err:  # noqa: BLE001 - recorded on the page, so it is not hidden
            entries.append(entry(check.__doc__.splitlines()[0], check.__name__, "check errored",
                                 None, "", f"{type(err).__name__}: {err}", False, ""))
    return {"generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "package_version": __version__,
            "seconds": round(time.perf_counter() - started, 1),
            "command": "python docs/gen/validation.py",
            "entries": entries}


def render(path: Path = OUTPUT) -> str:
    """The validation page body (Markdown) from the JSON file; a note if it is missing."""
    from md_blocks import admonition, cell, table

    if not path.exists():
        return admonition("warning", "Figures not generated",
                          f"`{path.name}` is missing: run `python docs/gen/validation.py`.")
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = data["entries"]
    ran = [e for e in entries if e["passed"] is not None]
    passed = sum(e["passed"] for e in ran)
    parts = [f"Generated {cell(data['generated'])} with package version "
             f"{cell(data['package_version'])} by `{data['command']}` "
             f"({cell(data['seconds'])} s): {passed} of {len(ran)} reference checks pass.", ""]
    areas = list(dict.fromkeys(e["area"] for e in entries))
    for area in areas:
        mine = [e for e in entries if e["area"] == area]
        parts += [f"## {cell(area)}", ""]
        if all(e["passed"] is None for e in mine):
            parts += [table(["test", "what it checks", "run by"],
                            [[f"`{e['test']}`", cell(e["check"]), cell(e["source"])]
                             for e in mine]), ""]
            continue
        rows = [[cell(e["check"]), cell(e["target"]), cell(e["criterion"]), cell(e["measured"]),
                 "pass" if e["passed"] else "**FAIL**", cell(e["source"]),
                 f"`{e['test'].split('::')[-1]}`"] for e in mine]
        parts += [table(["check", "published / reference", "criterion", "measured", "result",
                         "source", "test"], rows), ""]
    return "\n".join(parts)


def main() -> int:
    """Write the JSON and print a one-line summary; exit 1 if a check failed."""
    sys.path.insert(0, str(ROOT))
    data = compute()
    OUTPUT.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    ran = [e for e in data["entries"] if e["passed"] is not None]
    failed = [e for e in ran if not e["passed"]]
    print(f"{len(ran) - len(failed)}/{len(ran)} checks pass in {data['seconds']} s -> {OUTPUT}")
    for e in failed:
        print(f"FAILED: {e['check']}: measured {e['measured']}, target {e['target']}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
