"""Sampler backends side by side: one model structure, one backend, N fits in a fresh process.

Usage (from the repository root, the project's venv)::

    for kind in ph response ae; do for b in nutpie-c nutpie-numba nutpie-jax pymc; do
        python benchmarks/backends.py $kind $b 2; done; done

prints one JSON line per run: import time and the wall time of each fit through
:func:`prrt_bayes.core.sampling.sample` (compile included in the first; ``nutpie-jax`` needs
``pip install jax``). ``kind``: ``ph`` (PFS primary
piecewise-exponential PH model, target_accept 0.9), ``response`` (two-arm binomial, 0.99),
``ae`` (hierarchical AE model on NEJM Table 4, both grades in one model, 0.99), or a
parametric family of the extrapolation scenarios (e.g. ``weibull_ph``: the family fitted to the
interim OS pseudo-IPD, 0.99, as ``os_interim`` fits it); 1,000
tuning steps and 1,000 draws per chain, 2 chains (a fourth argument changes the chains).
The table in README.md ("Sampler backends") comes from it and sets
:attr:`prrt_bayes.core.fit.BayesianModel.preferred_backend`.
"""

from __future__ import annotations

import json
import sys
import time


def _model(kind: str):
    """The bundled model of ``kind`` and its target acceptance."""
    if kind == "ph":
        from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd
        from prrt_bayes.survival.intervals import aggregate, default_breakpoints, validate_ipd
        from prrt_bayes.survival.ph import PHModel

        ipd = validate_ipd(load_netter1_ipd("pfs", "primary"), treatment="lu177",
                           control="control")
        cuts = default_breakpoints(ipd.time.to_numpy(), ipd.event.to_numpy(), 6)
        return PHModel(aggregate(ipd, cuts, treatment="lu177", control="control")), 0.9
    from prrt_bayes.survival.spec import DEFAULT_MODELS

    if kind in DEFAULT_MODELS:
        from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd
        from prrt_bayes.survival.parametric import ParametricModel, prepare_ipd

        data = prepare_ipd(load_netter1_ipd("os", "primary"), treatment="lu177")
        return ParametricModel(kind, data), 0.99
    if kind == "ae":
        from prrt_bayes.toxicity.adverse_events import HierarchicalAEModel, netter1_ae_table

        tables = {grade: netter1_ae_table(grade) for grade in ("any", "grade34")}
        return HierarchicalAEModel(tables, None), 0.99
    from prrt_bayes.response.model import (
        DEFAULT_RATE_PRIOR,
        TwoArmResponseModel,
        netter1_response,
    )

    return TwoArmResponseModel(netter1_response("evaluable"), DEFAULT_RATE_PRIOR), 0.99


def main(kind: str, backend: str, repeats: int, chains: int = 2) -> dict:
    """Fit the model ``repeats`` times with ``backend``; return the timings."""
    start = time.perf_counter()
    import pymc as pm

    from prrt_bayes.core.fit import built_model
    from prrt_bayes.core.sampling import SamplerSettings, sample

    model, target_accept = _model(kind)
    imported = time.perf_counter() - start
    graph = built_model(model)
    with graph:
        pm.set_data(dict(model.data()))
    fits = []
    for seed in range(repeats):  # the first fit compiles (or loads from disk), later ones reuse
        began = time.perf_counter()
        sample(graph, SamplerSettings(draws=1000, tune=1000, chains=chains,
                                      target_accept=target_accept, seed=seed, backend=backend))
        fits.append(round(time.perf_counter() - began, 2))
    return {"kind": kind, "backend": backend, "chains": chains, "import_s": round(imported, 1),
            "fits_s": fits, "total_s": round(time.perf_counter() - start, 1)}


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(args[0], args[1], int(args[2]), *(int(a) for a in args[3:]))))
