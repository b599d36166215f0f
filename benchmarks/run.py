"""Benchmarks of prrt-bayes against the performance issue's figures, side by side in one run.

Run from the repository root with the project's venv (a benchmark, not a test)::

    .venv/bin/python benchmarks/run.py [--only SECTION ...] [--stan-python PATH]

Prints a table and writes ``benchmarks/results.json`` (figures, date, machine, versions);
``benchmarks/README.md`` shows the table. Sections (``--only`` re-measures some and keeps the
others from the existing JSON):

- ``end-to-end``: ``prrt-bayes run --force`` (all bundled analyses, bundled settings) in a new
  process with empty compile caches (**cold**: ``PRRT_BAYES_CACHE_DIR`` and ``NUMBA_CACHE_DIR``
  point at a new empty folder), then twice more with those caches filled (**warm**): with the
  default ``--jobs`` and with ``--jobs 1``; the results folder's size.
- ``per-analysis``: each bundled analysis in a warm process, with the seconds spent compiling
  and sampling summed over its fits (``posterior.attrs`` ``compile_time`` and
  ``sampling_time`` of every call of :func:`prrt_bayes.core.sampling.sample`).
- ``stan``: the PFS hazard-ratio job, borrowing off, end to end (``prrt-bayes run
  pfs_primary``, warm: all reconstruction members) against the Cox model brms fits, run by Stan
  (``benchmarks/stan_cox.py``, 4 chains) on the default member, with an empty Stan build cache
  (as brms compiles) and again with the program cached; needs ``--stan-python``, an
  interpreter with ``pystan``.
- ``psa``: :func:`prrt_bayes.outputs.hta.write_psa` of all bundled analyses, 1,000 draws: the
  workbook alone and all PSA files.
- ``likelihood``: aggregated-interval vs per-patient PH likelihood at 230 to 23,000 patients.
- ``suites``: ``pytest`` (what ``make test`` runs) and ``pytest -m notebooks``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLI = str(Path(PYTHON).with_name("prrt-bayes"))
SEED = 20170112
SECTIONS = ("end-to-end", "per-analysis", "stan", "psa", "likelihood", "suites")


# ---------------------------------------------------------------- child measurements

def _timed_sampling() -> dict:
    """Wrap :func:`prrt_bayes.core.sampling.sample` (as imported by ``core.fit``) to sum the
    compile and sampling seconds of every fit."""
    import prrt_bayes.core.fit as fit_module

    totals = {"compile_s": 0.0, "sampling_s": 0.0, "fits": 0}
    original = fit_module.sample

    def sample(*args, **kwargs):
        tree = original(*args, **kwargs)
        attrs = tree.posterior.attrs
        totals["compile_s"] += float(attrs.get("compile_time", 0.0))
        totals["sampling_s"] += float(attrs.get("sampling_time", 0.0))
        totals["fits"] += 1
        return tree

    fit_module.sample = sample
    return totals


def child_analysis(name: str) -> dict:
    """Fit one bundled analysis as the runner does; compile, sampling and wall seconds."""
    from prrt_bayes.pipeline.registry import run_analysis
    from prrt_bayes.pipeline.specs import resolve_spec

    totals = _timed_sampling()
    spec = resolve_spec(name)
    start = time.perf_counter()
    result = run_analysis(spec)
    wall = time.perf_counter() - start
    return {"analysis": name, "fit_wall_s": wall, **totals,
            "compile_plus_sampling_over_sampling":
                (totals["compile_s"] + totals["sampling_s"]) / totals["sampling_s"],
            "backends": sorted({str(result.tree.posterior.attrs.get("sampler_backend"))}),
            "passed": bool(result.diagnostics.passed),
            "min_ess_bulk": float(result.diagnostics.min_ess_bulk)}


def child_psa(_: str) -> dict:
    """Fit every bundled analysis, then time ``write_psa`` (1,000 draws) alone."""
    import prrt_bayes.outputs.hta as hta
    from prrt_bayes.outputs.hta import write_psa
    from prrt_bayes.pipeline.registry import run_analysis
    from prrt_bayes.pipeline.specs import bundled_names, resolve_spec

    results = [run_analysis(resolve_spec(name)) for name in bundled_names()]
    workbook = {"s": 0.0}
    original = hta._write_workbook

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            workbook["s"] += time.perf_counter() - start

    hta._write_workbook = timed
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = write_psa(results, Path(tmp), n_draws=1000, seed=SEED)
        wall = time.perf_counter() - start
        sizes = {p.name: p.stat().st_size for p in report.files}
    return {"write_psa_s": wall, "workbook_s": workbook["s"], "n_samples": report.n_samples,
            "file_bytes": sizes}


def _ph_setup(endpoint: str = "pfs", cut: str = "primary"):
    from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd
    from prrt_bayes.survival.intervals import aggregate, default_breakpoints, validate_ipd

    ipd = validate_ipd(load_netter1_ipd(endpoint, cut))
    cuts = default_breakpoints(ipd["time"].to_numpy(), ipd["event"].to_numpy(), 6)
    return ipd, cuts, aggregate(ipd, cuts)


def _per_patient_model(ipd, cuts, priors):
    """The same PH model with the piecewise-exponential likelihood summed over patients."""
    import pymc as pm
    import pytensor.tensor as pt

    from prrt_bayes.survival.intervals import exposure_matrix, interval_index

    k = len(cuts) + 1
    time_ = ipd["time"].to_numpy()
    with pm.Model() as model:
        expo = pm.Data("expo", exposure_matrix(time_, cuts))
        j = pm.Data("j", interval_index(time_, cuts).astype("int64"))
        event = pm.Data("event", ipd["event"].to_numpy().astype(float))
        arm = pm.Data("arm_index", (ipd["arm"] == "lu177").to_numpy().astype("int64"))
        first = priors["log_hazard_first"].to_pymc("log_hazard_first")
        delta = priors["rw_step"].to_pymc("rw_step", shape=k - 1)
        log_hr = priors["log_hr"].to_pymc("log_hr")
        log_base = first + pt.concatenate([pt.zeros(1), pt.cumsum(delta)])
        log_h = pt.stack([log_base, log_base + log_hr])[arm]
        own = log_h[pt.arange(log_h.shape[0]), j]
        pm.Potential("loglik", pt.sum(event * own) - pt.sum(pt.exp(log_h) * expo))
    return model


def _time_logp_dlogp(model, repeats: int) -> float:
    """Seconds of one logp + gradient evaluation of the compiled model (PyTensor function; best
    of 20 batches, the least noisy estimate on a shared machine)."""
    import numpy as np
    import pytensor.tensor as pt

    logp = model.logp()
    grads = pt.grad(logp, model.value_vars)
    fn = model.compile_fn([logp, *grads], inputs=model.value_vars, point_fn=False)
    point = model.initial_point()
    args = [point[v.name] for v in model.value_vars]
    fn(*args)
    batch = max(1, repeats // 20)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        for _ in range(batch):
            fn(*args)
        times.append((time.perf_counter() - start) / batch)
    return float(np.min(times))


def child_likelihood(_: str) -> dict:
    """logp + gradient time of the aggregated vs per-patient likelihood at 230 to 23,000
    patients (bootstrap resamples of the PFS pseudo-IPD, same cut points)."""
    import numpy as np

    from prrt_bayes.survival.intervals import aggregate
    from prrt_bayes.survival.ph import DEFAULT_PH_PRIORS, build_ph_model

    ipd, cuts, _ = _ph_setup()
    rng = np.random.default_rng(SEED)
    rows = []
    for n in (230, 2300, 23000):
        sample_ = ipd.iloc[rng.integers(0, len(ipd), n)].reset_index(drop=True)
        agg_times = []
        for _ in range(5):
            start = time.perf_counter()
            data = aggregate(sample_, cuts)
            agg_times.append(time.perf_counter() - start)
        rows.append({
            "patients": n,
            "aggregate_step_s": float(np.median(agg_times)),
            "aggregated_logp_dlogp_s": _time_logp_dlogp(build_ph_model(data), 4000),
            "per_patient_logp_dlogp_s": _time_logp_dlogp(
                _per_patient_model(sample_, cuts, DEFAULT_PH_PRIORS), 400 if n < 23000 else 100),
        })
    base = rows[0]
    for row in rows:
        row["aggregated_ratio_to_230"] = (row["aggregated_logp_dlogp_s"]
                                          / base["aggregated_logp_dlogp_s"])
        row["per_patient_ratio_to_230"] = (row["per_patient_logp_dlogp_s"]
                                           / base["per_patient_logp_dlogp_s"])
    import pytensor

    return {"pytensor_mode": str(pytensor.config.mode), "rows": rows,
            "timing": "logp + gradient, best of 20 batches; aggregate step median of 5"}


CHILDREN = {"analysis": child_analysis, "psa": child_psa, "likelihood": child_likelihood}


# ---------------------------------------------------------------- orchestration

def _env(cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS",)}
    env["PRRT_BAYES_CACHE_DIR"] = str(cache)
    env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _child(kind: str, arg: str, cache: Path) -> dict:
    proc = subprocess.run([PYTHON, __file__, "--child", kind, arg or "-"], cwd=ROOT,
                          env=_env(cache), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"child {kind} {arg} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _cli_run(cache: Path, out: Path, *extra: str) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([CLI, "run", "--force", "--out", str(out), *extra], cwd=ROOT,
                          env=_env(cache), capture_output=True, text=True)
    wall = time.perf_counter() - start
    row = {"args": " ".join(extra) or "(all bundled)", "wall_s": wall,
           "exit_code": proc.returncode}
    if out.exists():
        row["results_mb"] = _folder_mb(out)
    return row


def end_to_end(tmp: Path) -> dict:
    """Cold, then warm with the default --jobs and with --jobs 1."""
    cache = tmp / "cache-e2e"
    return {"cold": _cli_run(cache, tmp / "cold"),
            "warm": _cli_run(cache, tmp / "warm"),
            "warm_jobs_1": _cli_run(cache, tmp / "warm1", "--jobs", "1")}


def per_analysis(tmp: Path) -> list[dict]:
    """Every bundled analysis in its own warm process (caches filled by a first pass)."""
    cache = tmp / "cache-e2e"
    if not cache.exists():
        _cli_run(cache, tmp / "fill")
    from prrt_bayes.pipeline.bundled import bundled_names

    return [_child("analysis", name, cache) for name in bundled_names()]


def stan(tmp: Path, stan_python: str | None) -> dict:
    """PFS HR job end to end (warm) vs the brms Cox model in Stan on the same pseudo-IPD."""
    if not stan_python:
        return {"skipped": "no --stan-python given"}
    cache = tmp / "cache-e2e"
    ours = [_cli_run(cache, tmp / f"pfs{k}", "pfs_primary") for k in range(2)][-1]
    summary = tmp / "pfs1" / "summary.csv"
    import pandas as pd

    rows = pd.read_csv(summary)
    hr = rows[(rows.analysis == "pfs_primary") & (rows.quantity == "hazard_ratio")]
    ipd_csv = tmp / "pfs_ipd.csv"
    from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd

    load_netter1_ipd("pfs", "primary").to_csv(ipd_csv, index=False)
    runs = {}
    stan_cache = tmp / "stan-cache"  # httpstan caches built programs in the user cache folder
    for label in ("cold_build", "cached_build"):
        env = dict(os.environ, XDG_CACHE_HOME=str(stan_cache))
        proc = subprocess.run([stan_python, str(ROOT / "benchmarks" / "stan_cox.py"),
                               str(ipd_csv), "4"], capture_output=True, text=True, cwd=tmp,
                              env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"Stan reference failed:\n{proc.stderr[-3000:]}")
        runs[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    reference = runs["cold_build"]
    return {"prrt_bayes_pfs_primary": ours | {"hr_median": float(hr["median"].iloc[0])},
            "stan_brms_cox": runs,
            "speedup_vs_stan_cold_build": reference["total_s"] / ours["wall_s"],
            "speedup_vs_stan_cached_build": runs["cached_build"]["total_s"] / ours["wall_s"],
            "hr_median_relative_difference":
                float(hr["median"].iloc[0]) / reference["hr_median"] - 1}


def suites() -> dict:
    """Wall time of the default test run and of the notebook suite."""
    out = {}
    for label, args in (("make_test", []), ("notebooks", ["-m", "notebooks"])):
        start = time.perf_counter()
        proc = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                              cwd=ROOT, capture_output=True, text=True)
        out[label] = {"wall_s": time.perf_counter() - start, "exit_code": proc.returncode,
                      "last_line": proc.stdout.strip().splitlines()[-1]}
    return out


def machine() -> dict:
    """nproc, CPU model, memory, platform, versions."""
    import importlib.metadata as md

    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem_kb / 1024**2, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "load_average_at_start": os.getloadavg(),
            "versions": {p: md.version(p) for p in ("pymc", "nutpie", "numba", "pytensor",
                                                     "arviz", "lifelines", "prrt-bayes")}}


def targets(r: dict) -> dict:
    """Each figure of the issue: measured value and verdict (None where not measured)."""
    out = {}
    e = r.get("end_to_end")
    if e:
        warm = min(e["warm"]["wall_s"], e["warm_jobs_1"]["wall_s"])
        out["run_cold_le_45s"] = (e["cold"]["wall_s"], e["cold"]["wall_s"] <= 45)
        out["run_warm_le_15s"] = (warm, warm <= 15)
        out["results_folder_le_30MB"] = (e["warm"].get("results_mb"),
                                         e["warm"].get("results_mb", 1e9) <= 30)
    for row in r.get("per_analysis") or []:
        if row["analysis"].startswith(("pfs", "os")):
            ratio = row["compile_plus_sampling_over_sampling"]
            out[f"{row['analysis']}_compile_plus_sampling_le_3x_sampling"] = (ratio, ratio <= 3)
    s = r.get("stan") or {}
    if "speedup_vs_stan_cold_build" in s:
        out["pfs_job_ge_10x_faster_than_stan_cold_build"] = (
            s["speedup_vs_stan_cold_build"], s["speedup_vs_stan_cold_build"] >= 10)
        out["pfs_job_ge_10x_faster_than_stan_cached_build"] = (
            s["speedup_vs_stan_cached_build"], s["speedup_vs_stan_cached_build"] >= 10)
        diff = abs(s["hr_median_relative_difference"])
        out["pfs_hr_median_within_5pct_of_stan"] = (diff, diff <= 0.05)
    p = r.get("psa")
    if p:
        out["psa_workbook_le_3s"] = (p["workbook_s"], p["workbook_s"] <= 3)
        out["psa_all_files_le_3s"] = (p["write_psa_s"], p["write_psa_s"] <= 3)
    u = r.get("suites")
    if u:
        out["make_test_le_8min"] = (u["make_test"]["wall_s"], u["make_test"]["wall_s"] <= 480)
        out["notebooks_le_3min"] = (u["notebooks"]["wall_s"], u["notebooks"]["wall_s"] <= 180)
    return {name: {"measured": value, "met": met} for name, (value, met) in out.items()}


def table(r: dict) -> str:
    """A plain-text table of the targets and the per-analysis figures."""
    m = r["machine"]
    lines = [f"prrt-bayes benchmarks, {r['date']}; {m['nproc']} cores, {m['cpu']}, "
             f"{m['memory_gb']} GB; load at start {m['load_average_at_start']}", ""]
    for row in r.get("per_analysis") or []:
        lines.append(f"{row['analysis']:<12} fits {row['fits']:>3}  compile "
                     f"{row['compile_s']:6.1f} s  sampling {row['sampling_s']:6.1f} s  wall "
                     f"{row['fit_wall_s']:6.1f} s  backends {','.join(row['backends'])}")
    lines.append("")
    for name, t in r["targets"].items():
        value = t["measured"]
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        lines.append(f"{name:<58} {shown:>10}  {'met' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument("--only", nargs="+", choices=SECTIONS,
                        help="re-measure only these sections, keeping the others from --out")
    parser.add_argument("--stan-python", help="interpreter with pystan, for the stan section")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](args.child[1]), default=str))
        return
    sections = set(args.only or SECTIONS)
    results = json.loads(args.out.read_text()) if args.only and args.out.exists() else {}
    results |= {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="prrt-bench-") as tmp:
        tmp = Path(tmp)
        if "end-to-end" in sections:
            results["end_to_end"] = end_to_end(tmp)
            print("end to end:", json.dumps(results["end_to_end"]), flush=True)
        if "per-analysis" in sections:
            results["per_analysis"] = per_analysis(tmp)
        if "stan" in sections:
            results["stan"] = stan(tmp, args.stan_python)
        if "psa" in sections:
            results["psa"] = _child("psa", "-", tmp / "cache-e2e")
        if "likelihood" in sections:
            results["likelihood"] = _child("likelihood", "-", tmp / "cache-e2e")
        shutil.rmtree(tmp, ignore_errors=True)
    if "suites" in sections:
        results["suites"] = suites()
    results["targets"] = targets(results)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
