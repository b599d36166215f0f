"""Benchmarks of prrt-bayes: per-analysis cost, end-to-end runs, reference samplers, scaling.

Run from the repository root (a benchmark, not a test; about 15-20 minutes on 2 cores)::

    .venv/bin/python benchmarks/run.py [--out benchmarks/results.json]

Prints a table and writes ``benchmarks/results.json``. Every measurement runs in its own
subprocess (``--child KIND``) so compile caches, memory peaks and imports do not leak between
measurements. "Cold" means a new process with empty on-disk caches: PyTensor's numba cache lives
in ``base_compiledir/numba`` and numba's own in ``NUMBA_CACHE_DIR``; both are pointed at a fresh
temporary folder. "Warm" means a new process with those on-disk caches filled by the cold run
(the realistic second ``prrt-bayes run``). nutpie's outer logp/gradient function is a numba
``cfunc`` over dynamic globals, which numba cannot cache to disk, so every process still compiles
each model once; in-process reuse of a compiled model needs the same ``pm.Model`` object
(:func:`prrt_bayes.core.sampling.sample`'s cache).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ANALYSIS_NAMES = ["pfs_primary", "os_interim", "os_final", "response", "toxicity"]
SEED = 20170112


# ---------------------------------------------------------------- child measurements

class _Timers:
    """Wrap nutpie's compile and sample functions to accumulate their time and count."""

    def __init__(self) -> None:
        import nutpie

        self.compile_s = self.sample_s = 0.0
        self.compiles = 0
        original_compile, original_sample = nutpie.compile_pymc_model, nutpie.sample

        def compile_pymc_model(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original_compile(*args, **kwargs)
            finally:
                self.compile_s += time.perf_counter() - start
                self.compiles += 1

        def sample(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original_sample(*args, **kwargs)
            finally:
                self.sample_s += time.perf_counter() - start

        nutpie.compile_pymc_model, nutpie.sample = compile_pymc_model, sample


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_analysis(name: str) -> dict:
    """Fit one bundled analysis as the runner does; time compile, sampling and the whole fit."""
    start = time.perf_counter()
    from prrt_bayes.pipeline.registry import run_analysis
    from prrt_bayes.pipeline.specs import resolve_spec

    imports = time.perf_counter() - start
    timers = _Timers()
    spec = resolve_spec(name)
    start = time.perf_counter()
    result = run_analysis(spec)
    wall = time.perf_counter() - start
    ess = float(result.diagnostics.min_ess_bulk)
    return {"analysis": name, "import_s": imports, "fit_wall_s": wall,
            "compile_s": timers.compile_s, "sampling_s": timers.sample_s,
            "compiles": timers.compiles, "min_ess_bulk": ess,
            "ess_per_s_sampling": ess / timers.sample_s, "ess_per_s_wall": ess / wall,
            "peak_rss_mb": _peak_mb(), "passed": bool(result.diagnostics.passed),
            "draws": f"{spec.sampler.chains}x{spec.sampler.draws} (+{spec.sampler.tune} tune)"}


def child_parallel(jobs: str) -> dict:
    """All bundled analyses fitted by ``fit_parallel`` and written like ``prrt-bayes run``."""
    start = time.perf_counter()
    from prrt_bayes.pipeline.parallel import fit_parallel
    from prrt_bayes.pipeline.runner import RunOutcome, write_results
    from prrt_bayes.pipeline.specs import bundled_names, resolve_spec

    specs = [resolve_spec(n).with_overrides(psa_draws=200) for n in bundled_names()]
    results, errors = fit_parallel(specs, jobs=int(jobs))
    fitted = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        outcome = RunOutcome(Path(tmp) / "results", results, errors)
        write_results(outcome, {s.name: s for s in specs}, force=False)
    return {"jobs": int(jobs), "wall_s": time.perf_counter() - start, "fit_s": fitted,
            "errors": errors, "all_passed": outcome.all_passed}


def _ph_setup(endpoint: str = "pfs", cut: str = "primary"):
    from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd
    from prrt_bayes.survival.intervals import aggregate, default_breakpoints, validate_ipd

    ipd = validate_ipd(load_netter1_ipd(endpoint, cut))
    cuts = default_breakpoints(ipd["time"].to_numpy(), ipd["event"].to_numpy(), 6)
    return ipd, cuts, aggregate(ipd, cuts)


def child_ph_reference(_: str) -> dict:
    """PH model (PFS primary, 6 intervals): nutpie vs PyMC's NUTS; lifelines' MLE as the floor."""
    import numpy as np
    import pymc as pm
    from lifelines import CoxPHFitter

    from prrt_bayes.core.diagnostics import check_diagnostics
    from prrt_bayes.core.sampling import SamplerSettings, sample
    from prrt_bayes.survival.ph import PHModel, build_ph_model

    gate = PHModel.gate_vars
    ipd, cuts, data = _ph_setup()
    settings = dict(draws=1000, tune=1000, chains=2)
    nuts = SamplerSettings(**settings, target_accept=0.9, seed=SEED)
    out = {"model": f"PH piecewise, PFS primary, {len(ipd)} patients, 6 intervals",
           "draws": "2x1000 (+1000 tune)"}
    timers = _Timers()
    start = time.perf_counter()
    tree = sample(build_ph_model(data), nuts)
    wall = time.perf_counter() - start
    diag = check_diagnostics(tree, gate)
    out["nutpie"] = {"wall_s": wall, "compile_s": timers.compile_s,
                     "sampling_s": timers.sample_s, "min_ess_bulk": diag.min_ess_bulk,
                     "ess_per_s_wall": diag.min_ess_bulk / wall,
                     "ess_per_s_sampling": diag.min_ess_bulk / timers.sample_s,
                     "hr_median": float(tree.posterior["hazard_ratio"].median())}
    # the same structure again in this process: a new model (compiled again, numba warm) and
    # the already compiled model refitted (compile once, pm.Data reuse)
    model = build_ph_model(data)
    for label in ("nutpie_second_model_same_process", "nutpie_compiled_model_reused"):
        compile_before, start = timers.compile_s, time.perf_counter()
        tree = sample(model, nuts.with_seed(SEED + 1))
        wall = time.perf_counter() - start
        ess = check_diagnostics(tree, gate).min_ess_bulk
        out[label] = {"wall_s": wall, "compile_s": timers.compile_s - compile_before,
                      "min_ess_bulk": ess, "ess_per_s_wall": ess / wall}
    start = time.perf_counter()
    with build_ph_model(data):
        tree = pm.sample(nuts_sampler="pymc", random_seed=SEED, target_accept=0.9,
                         cores=2, progressbar=False, compute_convergence_checks=False,
                         **settings)
    wall = time.perf_counter() - start
    diag = check_diagnostics(tree, gate)
    sampling = float(tree.posterior.attrs.get("sampling_time", float("nan")))
    out["pymc"] = {"wall_s": wall, "sampling_s": sampling, "min_ess_bulk": diag.min_ess_bulk,
                   "ess_per_s_wall": diag.min_ess_bulk / wall,
                   "ess_per_s_sampling": diag.min_ess_bulk / sampling,
                   "hr_median": float(tree.posterior["hazard_ratio"].median())}
    pymc_rate = out["pymc"]["ess_per_s_wall"]
    out["nutpie_over_pymc_ess_per_s_wall"] = out["nutpie"]["ess_per_s_wall"] / pymc_rate
    out["nutpie_reused_over_pymc_ess_per_s_wall"] = (
        out["nutpie_compiled_model_reused"]["ess_per_s_wall"] / pymc_rate)
    out["nutpie_over_pymc_ess_per_s_sampling"] = (out["nutpie"]["ess_per_s_sampling"]
                                                  / out["pymc"]["ess_per_s_sampling"])
    frame = ipd.assign(lu177=(ipd["arm"] == "lu177").astype(float))[["time", "event", "lu177"]]
    times = []
    for _ in range(5):
        start = time.perf_counter()
        cph = CoxPHFitter(baseline_estimation_method="piecewise", breakpoints=list(cuts))
        cph.fit(frame, duration_col="time", event_col="event")
        times.append(time.perf_counter() - start)
    hr = float(np.exp(cph.params_.filter(like="lu177").iloc[0]))
    out["lifelines_mle"] = {"fit_s_median_of_5": float(np.median(times)), "hr": hr}
    return out


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


def child_compile_count(_: str) -> dict:
    """Compile counts of refits that share a model structure, via the analyses and via
    ``set_ph_data`` on one built model."""
    from prrt_bayes.core.sampling import SamplerSettings, compile_count, sample
    from prrt_bayes.pipeline.registry import run_analysis
    from prrt_bayes.pipeline.specs import resolve_spec
    from prrt_bayes.survival.ph import build_ph_model, set_ph_data

    out = {}
    small = dict(draws=300, tune=300)

    def through_analyses(label: str, specs: list) -> None:
        before, start = compile_count(), time.perf_counter()
        for spec in specs:
            run_analysis(spec)
        out[label] = {"fits": len(specs), "compiles": compile_count() - before,
                      "wall_s": time.perf_counter() - start}

    response = resolve_spec("response").with_overrides(borrowing="robust-map", **small)
    through_analyses("response_robust_weight_sweep_3_values_analyses", [
        response.model_copy(update={"borrowing": response.borrowing.model_copy(
            update={"robust_weight": w})}) for w in (0.1, 0.2, 0.5)])
    pfs = resolve_spec("pfs_primary").with_overrides(borrowing="robust-map", **small)
    through_analyses("pfs_robust_weight_sweep_3_values_analyses", [
        pfs.model_copy(update={"borrowing": pfs.borrowing.model_copy(
            update={"robust_weight": w})}) for w in (0.1, 0.2, 0.5)])
    through_analyses("pfs_vs_os_ph_piecewise_analyses", [
        resolve_spec("pfs_primary").with_overrides(**small),
        resolve_spec("os_interim").with_overrides(**small)])
    _, _, pfs_data = _ph_setup("pfs", "primary")
    _, _, os_data = _ph_setup("os", "primary")
    before, start = compile_count(), time.perf_counter()
    nuts = SamplerSettings(**small, seed=SEED)
    model = build_ph_model(pfs_data)
    hr = {"pfs": float(sample(model, nuts).posterior["hazard_ratio"].median())}
    set_ph_data(model, os_data)
    hr["os"] = float(sample(model, nuts).posterior["hazard_ratio"].median())
    out["pfs_vs_os_set_ph_data"] = {"fits": 2, "compiles": compile_count() - before,
                                    "wall_s": time.perf_counter() - start, "hr_median": hr}
    fresh = float(sample(build_ph_model(os_data), nuts)
                  .posterior["hazard_ratio"].median())
    out["pfs_vs_os_set_ph_data"]["os_hr_median_fresh_model"] = fresh
    return out


SECTIONS = ("analyses", "end-to-end", "ph-reference", "likelihood", "compile-count")

CHILDREN = {"analysis": child_analysis, "parallel": child_parallel,
            "ph-reference": child_ph_reference, "likelihood": child_likelihood,
            "compile-count": child_compile_count}


# ---------------------------------------------------------------- orchestration

def _cache_env(cache: Path) -> dict:
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = f"base_compiledir={cache / 'pytensor'}"
    env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _child(kind: str, arg: str, cache: Path) -> dict:
    proc = subprocess.run([PYTHON, __file__, "--child", kind, arg or "-"], cwd=ROOT,
                          env=_cache_env(cache), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"child {kind} {arg} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cli_run(cache: Path, out: Path) -> dict:
    cli = Path(PYTHON).with_name("prrt-bayes")
    start = time.perf_counter()
    proc = subprocess.run([str(cli), "run", "--quick", "--force", "--out", str(out)], cwd=ROOT,
                          env=_cache_env(cache), capture_output=True, text=True)
    return {"wall_s": time.perf_counter() - start, "exit_code": proc.returncode}


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
                                                     "arviz", "lifelines")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument("--only", nargs="+", choices=SECTIONS,
                        help="re-measure only these sections, keeping the others from --out")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](args.child[1]), default=str))
        return
    sections = set(args.only or SECTIONS)
    results = {}
    if sections != set(SECTIONS):
        results = json.loads(args.out.read_text())  # re-measure some sections, keep the rest
    results |= {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="prrt-bench-") as tmp:
        tmp = Path(tmp)
        if "analyses" in sections:
            results["analyses"] = []
            for name in ANALYSIS_NAMES:  # each with its own empty caches: cold compile
                results["analyses"].append(_child("analysis", name, tmp / f"cache-{name}"))
                _print_progress(results["analyses"][-1])
        if "end-to-end" in sections:
            cache = tmp / "cache-e2e"
            results["end_to_end"] = {
                "command": "prrt-bayes run --quick (all 5 bundled analyses, sequential)",
                "cold": _cli_run(cache, tmp / "out-cold"),
                "warm_disk_cache": _cli_run(cache, tmp / "out-warm"),
                "jobs_2_warm_disk_cache": _child("parallel", "2", cache),
            }
            print("end to end:", json.dumps(results["end_to_end"]), flush=True)
        for kind in ("ph-reference", "likelihood", "compile-count"):
            if kind in sections:
                results[kind.replace("-", "_")] = _child(kind, "-", tmp / f"cache-{kind}")
                print(kind, "done", flush=True)
    results["targets"] = targets(results)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))


def _print_progress(row: dict) -> None:
    print(f"{row['analysis']}: fit {row['fit_wall_s']:.1f} s", flush=True)


def targets(r: dict) -> dict:
    """The issue's targets, measured value and verdict."""
    e2e = r["end_to_end"]
    ph = r["ph_reference"]
    lik = r["likelihood"]["rows"]
    ratio = lik[-1]["aggregated_ratio_to_230"]
    cc = r["compile_count"]
    return {
        "warm_end_to_end_under_30s": {"measured_s": e2e["warm_disk_cache"]["wall_s"],
                                      "jobs_2_measured_s": e2e["jobs_2_warm_disk_cache"]["wall_s"],
                                      "met": min(e2e["warm_disk_cache"]["wall_s"],
                                                 e2e["jobs_2_warm_disk_cache"]["wall_s"]) < 30},
        "cold_end_to_end_under_120s": {"measured_s": e2e["cold"]["wall_s"],
                                       "met": e2e["cold"]["wall_s"] < 120},
        "nutpie_ess_per_s_wall_at_least_10x_pymc": {
            "measured_ratio": ph["nutpie_over_pymc_ess_per_s_wall"],
            "measured_ratio_compiled_model_reused": ph["nutpie_reused_over_pymc_ess_per_s_wall"],
            "met": ph["nutpie_over_pymc_ess_per_s_wall"] >= 10},
        "aggregated_logp_23000_within_1_5x_of_230": {"measured_ratio": ratio,
                                                     "met": ratio <= 1.5},
        "compile_once_shared_structure": {
            label: f"{v['compiles']} compiles for {v['fits']} fits" for label, v in cc.items()},
    }


def table(r: dict) -> str:
    """A plain-text table of the results."""
    m = r["machine"]
    lines = [f"prrt-bayes benchmarks, {r['date']}; {m['nproc']} cores, {m['cpu']}, "
             f"{m['memory_gb']} GB; load at start {m['load_average_at_start']}", "",
             f"{'analysis':<12}{'compile s':>10}{'sample s':>10}{'fit s':>8}{'ESS bulk':>10}"
             f"{'ESS/s smp':>11}{'ESS/s wall':>11}{'peak MB':>9}{'compiles':>9}"]
    for a in r["analyses"]:
        lines.append(f"{a['analysis']:<12}{a['compile_s']:>10.1f}{a['sampling_s']:>10.1f}"
                     f"{a['fit_wall_s']:>8.1f}{a['min_ess_bulk']:>10.0f}"
                     f"{a['ess_per_s_sampling']:>11.0f}{a['ess_per_s_wall']:>11.0f}"
                     f"{a['peak_rss_mb']:>9.0f}{a['compiles']:>9d}")
    e = r["end_to_end"]
    lines += ["", f"end to end (run --quick): cold {e['cold']['wall_s']:.1f} s, warm disk cache "
              f"{e['warm_disk_cache']['wall_s']:.1f} s, --jobs 2 warm "
              f"{e['jobs_2_warm_disk_cache']['wall_s']:.1f} s"]
    ph = r["ph_reference"]
    lines += [f"PH model ESS/s wall: nutpie {ph['nutpie']['ess_per_s_wall']:.0f} "
              f"({ph['nutpie']['wall_s']:.1f} s), PyMC NUTS {ph['pymc']['ess_per_s_wall']:.0f} "
              f"({ph['pymc']['wall_s']:.1f} s): ratio {ph['nutpie_over_pymc_ess_per_s_wall']:.1f}x;"
              f" lifelines MLE {ph['lifelines_mle']['fit_s_median_of_5'] * 1000:.0f} ms",
              f"  ESS/s of sampling only: nutpie {ph['nutpie']['ess_per_s_sampling']:.0f}, PyMC "
              f"{ph['pymc']['ess_per_s_sampling']:.0f} "
              f"({ph['nutpie_over_pymc_ess_per_s_sampling']:.1f}x); nutpie reusing its compiled"
              f" model {ph['nutpie_compiled_model_reused']['ess_per_s_wall']:.0f} ESS/s wall "
              f"({ph['nutpie_reused_over_pymc_ess_per_s_wall']:.1f}x PyMC); a second model in "
              f"the same process compiles in "
              f"{ph['nutpie_second_model_same_process']['compile_s']:.1f} s"]
    lines.append(f"{'patients':>9}{'aggregate ms':>14}{'agg logp+grad us':>18}"
                 f"{'per-patient logp+grad us':>26}")
    for row in r["likelihood"]["rows"]:
        lines.append(f"{row['patients']:>9}{row['aggregate_step_s'] * 1e3:>14.2f}"
                     f"{row['aggregated_logp_dlogp_s'] * 1e6:>18.1f}"
                     f"{row['per_patient_logp_dlogp_s'] * 1e6:>26.1f}")
    for label, v in r["compile_count"].items():
        lines.append(f"{label}: {v['compiles']} compiles / {v['fits']} fits, "
                     f"{v['wall_s']:.1f} s")
    lines.append("")
    for name, t in r["targets"].items():
        lines.append(f"target {name}: {t}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
