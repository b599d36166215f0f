"""Sampler backends side by side: one model structure, one backend, N fits in a fresh process.

Usage (from the repository root, the project's venv)::

    for kind in ph response ae; do for b in pymc nutpie-numba nutpie-jax; do
        python benchmarks/backends.py $kind $b 2; done; done

prints one JSON line per run: import time and the wall time of each fit (compile included in
the first; ``nutpie-jax`` needs ``pip install jax``). ``kind``: ``ph`` (PFS primary
piecewise-exponential PH model), ``response`` (two-arm binomial, target_accept 0.99), ``ae``
(hierarchical AE model on NEJM Table 4 any grade, target_accept 0.99); 1,000 tuning steps and
1,000 draws per chain, 2 chains. The table in README.md ("Sampler backends") comes from it and
sets :attr:`prrt_bayes.core.fit.BayesianModel.preferred_backend`.
"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np, pymc as pm
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.core.fit import built_model
kind, backend, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
chains = int(sys.argv[4]) if len(sys.argv) > 4 else 2
t_import = time.perf_counter() - t0
if kind == "ph":
    from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd
    from prrt_bayes.survival.intervals import aggregate, default_breakpoints, validate_ipd
    from prrt_bayes.survival.ph import PHModel
    ipd = validate_ipd(load_netter1_ipd("pfs", "primary"), treatment="lu177", control="control")
    cuts = default_breakpoints(ipd.time.to_numpy(), ipd.event.to_numpy(), 6)
    model = PHModel(aggregate(ipd, cuts, treatment="lu177", control="control"))
    ta = 0.9
elif kind == "ae":
    from prrt_bayes.toxicity.adverse_events import AE_MODELS, netter1_ae_table
    model = AE_MODELS["hierarchical"](netter1_ae_table("any"), None)
    ta = 0.99
elif kind == "response":
    from prrt_bayes.response.model import TwoArmResponseModel, netter1_response, DEFAULT_RATE_PRIOR
    model = TwoArmResponseModel(netter1_response("evaluable"), DEFAULT_RATE_PRIOR)
    ta = 0.99
pmm = built_model(model)
with pmm:
    pm.set_data(dict(model.data()))
times = []
for r in range(repeats):
    t1 = time.perf_counter()
    if backend.startswith("nutpie"):
        import nutpie
        if r == 0:
            kw = {"gradient_backend": "jax"} if backend.endswith("jax") else {}
            compiled = nutpie.compile_pymc_model(pmm, backend=backend.split("-")[1], **kw)
        tree = nutpie.sample(compiled, draws=1000, tune=1000, chains=chains, seed=r, progress_bar=False, target_accept=ta)
    else:
        tree = pm.sample(draws=1000, tune=1000, chains=chains, cores=1, random_seed=r, target_accept=ta, model=pmm, progressbar=False, compute_convergence_checks=False, nuts_sampler="pymc")
    times.append(round(time.perf_counter() - t1, 2))
print(json.dumps({"kind": kind, "backend": backend, "chains": chains, "import_s": round(t_import, 1), "fits_s": times, "total_s": round(time.perf_counter() - t0, 1)}))
