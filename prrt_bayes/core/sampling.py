"""Run NUTS on a PyMC model with the backend the settings name, compiling each model once.

Backends (:data:`BACKENDS`): nutpie on numba or JAX, or PyMC's own NUTS; ``"auto"`` is chosen
per model from a measured table (:attr:`prrt_bayes.core.fit.BayesianModel.preferred_backend`).
``pm.sample`` in PyMC 6 picks nutpie when it is installed, but compiles the model again on every
call. Here the compiled nutpie model is cached per ``pm.Model`` object, and the current values of
the model's ``pm.Data`` containers are passed to it before each run
(``CompiledModel.with_data``). A model built on ``pm.Data`` can therefore be refitted to new data
of the same shape without recompiling::

    with model:                                  # a model built once on pm.Data containers
        pm.set_data({"events": d2, "exposure": e2})
    tree = sample(model, SamplerSettings(seed=2))  # re-uses the compiled logp

The shapes of free parameters (and any ``dims`` coordinates) are fixed at compile time: data that
change them need a new model. Adding variables to a model after a first ``sample`` call triggers a
recompile (detected by the number of named variables).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from prrt_bayes.core.errors import InputError

if TYPE_CHECKING:  # PyMC is imported on first sampling: specs and summaries need none
    import pymc as pm

DEFAULT_SEED = 20170112
"""Default seed (NETTER-1 publication date, NEJM 12 January 2017): fits are reproducible."""


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings of one fit: the spec's ``[sampler]`` section plus the analysis seed.

    One object travels from the spec to every fit of an analysis, nested fits included (the
    fit without borrowing, the series MAP fit, the candidate families of a LOO table), so no
    fit runs with settings of its own. Every field has the bundled specs' default.

    Parameters
    ----------
    draws, tune, chains
        Kept draws per chain, tuning (warm-up) draws per chain (discarded), number of chains.
    target_accept
        Target mean acceptance probability of NUTS (raise towards 0.99 against divergences).
    seed
        Integer seed; the same model, data, settings and seed give identical draws.
    backend
        NUTS implementation (:data:`BACKENDS`), or ``"auto"``: the one measured fastest for
        the model (see :attr:`prrt_bayes.core.fit.BayesianModel.preferred_backend`).
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    target_accept: float = 0.9
    seed: int = DEFAULT_SEED
    backend: str = "auto"

    def __post_init__(self) -> None:
        if min(self.draws, self.tune, self.chains) < 1:
            raise ValueError("draws, tune and chains must be positive integers")
        if not 0 < self.target_accept < 1:
            raise ValueError(f"target_accept must lie in (0, 1), got {self.target_accept}")

    def with_seed(self, seed: int) -> SamplerSettings:
        """The same settings with another seed (e.g. for one replicate of a simulation).

        Parameters
        ----------
        seed
            The new seed.

        Returns
        -------
        SamplerSettings
            A new, otherwise identical object.
        """
        return replace(self, seed=int(seed))


BACKENDS = ("nutpie-c", "nutpie-numba", "nutpie-jax", "pymc")
"""NUTS implementations :func:`sample` can use (``SamplerSettings.backend``; ``"auto"`` picks
one per model, :data:`AUTO_BACKEND` where the model does not say):

- ``nutpie-c``: nutpie's NUTS (Rust) calling the log density and its gradient compiled by
  PyTensor's C backend (:func:`_compile_c`). PyTensor caches the compiled C modules on disk, so
  a model structure seen before compiles in about half a second in any process; each gradient
  costs a Python call (tens of microseconds), so sampling is slower than on numba.
- ``nutpie-numba``: nutpie on a numba-compiled log density. Fastest sampling; its compile
  (5-10 s on a quiet machine) is paid once per model structure and process (nutpie's outer
  functions are not cached on disk).
- ``nutpie-jax``: nutpie on a JAX-compiled log density (needs ``jax``; ``pip install
  prrt-bayes[jax]``). Compiles in about a second, samples small models slowly.
- ``pymc``: PyMC's own NUTS (Python) on PyTensor's C backend.
"""

AUTO_BACKEND = "nutpie-numba"
"""The backend ``"auto"`` means for a model without a measured preference. An analysis fits most
model structures many times in one process (one fit per reconstruction ensemble member, per
analysis sharing the structure, with and without borrowing), where numba's compile (5-10 s,
once per structure and process) is repaid by sampling 5-10x faster than ``nutpie-c``. A model
fitted once per analysis that measured faster on ``nutpie-c`` (it loads from PyTensor's disk
cache) says so with ``preferred_backend = "nutpie-c"`` (``benchmarks/README.md``, backend
table)."""


@dataclass
class _CacheEntry:
    compiled: Any
    n_named_vars: int
    var_names: tuple[str, ...] | None
    backend: str


_CACHE: weakref.WeakKeyDictionary[pm.Model, _CacheEntry] = weakref.WeakKeyDictionary()
_COMPILE_COUNT = 0


def compile_count() -> int:
    """Return how many times :func:`sample` has compiled a model for nutpie in this process.

    Returns
    -------
    int
        Number of nutpie compilations since the module was imported (a cache hit does not
        count; PyMC's backend is not counted); compare before and after a call to check that a
        model was reused.
    """
    return _COMPILE_COUNT


def _compile_c(model: pm.Model, var_names: tuple[str, ...] | None) -> Any:
    """nutpie model over PyTensor C-backend functions (log density + gradient, trace expansion).

    Built on nutpie's own graph preparation (``nutpie.compile_pymc._make_functions``, the code
    its JAX backend uses) compiled in PyTensor's default C mode instead of JAX, and handed to
    nutpie as Python callables (``nutpie.compiled_pyfunc.from_pyfunc``). Each chain gets its own
    copy of the compiled functions (PyTensor functions keep per-call storage). The model's
    ``pm.Data`` containers stay shared variables of the compiled functions, so ``pm.set_data``
    on the model is what changes the data (the ``shared`` arguments nutpie passes are unused).
    """
    from nutpie.compile_pymc import _make_functions, _prepare_dims_and_coords
    from nutpie.compiled_pyfunc import from_pyfunc
    from pymc.initial_point import make_initial_point_fn

    lock = threading.Lock()  # nutpie starts chains in threads; a PyTensor function is not
    #                          thread-safe, so one call at a time, and each chain its own copy
    unlocked_initial_point = make_initial_point_fn(model=model, jitter_rvs=set(model.free_RVs),
                                                   return_transformed=True)

    def initial_point(seed):
        with lock:
            return unlocked_initial_point(seed)

    n_dim, _, logp_fn, expand_fn, initial_flat, shape_info, renamed = _make_functions(
        model, mode="FAST_RUN", compute_grad=True, join_expanded=False,
        pymc_initial_point_fn=initial_point,
        var_names=None if var_names is None else list(var_names))
    names, _, shapes = shape_info
    dtypes = [np.dtype("float64")] * len(names)

    def make_logp():
        with lock:
            own = logp_fn.copy()
        own.trust_input = True

        def logp(x, **_shared):
            value, grad = own(x)
            return float(value), np.asarray(grad, dtype="float64", order="C")

        return logp

    def make_expand(_seed1, _seed2, _chain):
        with lock:
            own = expand_fn.copy()

        def expand(x, **_shared):
            return {name: np.asarray(value, dtype=dtype, order="C").reshape(shape)
                    for name, value, dtype, shape in zip(names, own(x), dtypes, shapes,
                                                         strict=True)}

        return expand

    dims, coords = _prepare_dims_and_coords(model, shape_info, renamed)
    return from_pyfunc(ndim=n_dim, make_logp_fn=make_logp, make_expand_fn=make_expand,
                       make_initial_point_fn=initial_flat, expanded_dtypes=dtypes,
                       expanded_shapes=shapes, expanded_names=names, dims=dims, coords=coords,
                       reparameterized_names=renamed)


def _compiled_for(model: pm.Model, var_names: tuple[str, ...] | None,
                  backend: str) -> tuple[Any, float]:
    """Return the cached nutpie model for ``model`` (``c``, ``numba`` or ``jax``), compiling
    if needed, with the model's current ``pm.Data`` values; and the seconds spent compiling
    (0 when the cache had it)."""
    import nutpie

    global _COMPILE_COUNT
    entry, start = _CACHE.get(model), time.perf_counter()
    if (entry is None or entry.n_named_vars != len(model.named_vars)
            or entry.var_names != var_names or entry.backend != backend):
        options = {"gradient_backend": "jax"} if backend == "jax" else {}
        try:
            compiled = (_compile_c(model, var_names) if backend == "c" else
                        nutpie.compile_pymc_model(
                            model, backend=backend,
                            var_names=None if var_names is None else list(var_names),
                            **options))
        except ImportError as err:
            raise InputError(f"sampler backend nutpie-{backend} needs {err.name or 'jax'}: "
                             "pip install 'prrt-bayes[jax]', or choose another backend",
                             field="sampler.backend") from None
        _COMPILE_COUNT += 1
        entry = _CacheEntry(compiled, len(model.named_vars), var_names, backend)
        _CACHE[model] = entry
    compile_s = time.perf_counter() - start
    if backend == "c":  # the compiled functions read the model's shared variables directly
        return entry.compiled, compile_s
    data = {var.name: np.asarray(var.get_value()) for var in model.data_vars}
    return (entry.compiled.with_data(**data) if data else entry.compiled), compile_s


def sample(
    model: pm.Model,
    settings: SamplerSettings,
    *,
    var_names: Sequence[str] | None = None,
    progressbar: bool = False,
    cores: int | None = None,
) -> xr.DataTree:
    """Draw posterior samples of ``model`` with NUTS on the backend the settings name.

    Parameters
    ----------
    model
        The PyMC model. Its ``pm.Data`` values at call time are the data used.
    settings
        Draws, tuning, chains, target acceptance, seed and backend (:data:`BACKENDS`;
        ``"auto"`` is :data:`AUTO_BACKEND` here, :func:`prrt_bayes.core.fit.fit` resolves it
        per model).
    var_names
        Variables to store in the posterior (default: all free variables and deterministics).
    progressbar
        Show the sampler's progress bar.
    cores
        nutpie: threads to run chains on (default ``min(chains, available cores)``); PyMC:
        processes (default 1, chains one after the other: faster for small models than
        starting worker processes).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats`` (with ``diverging``, ``energy``) and the data
        groups; ``posterior.attrs`` has ``sampling_time``, ``tuning_steps``, ``seed``,
        ``sampler_backend`` and, for nutpie, ``compile_time`` (seconds; 0 when the compiled
        model was reused).

    Raises
    ------
    InputError
        An unknown backend, or ``nutpie-jax`` without ``jax`` installed.
    """
    backend = AUTO_BACKEND if settings.backend == "auto" else settings.backend
    if backend not in BACKENDS:
        raise InputError(f"unknown sampler backend {backend!r}; known: {', '.join(BACKENDS)}",
                         field="sampler.backend")
    if backend == "pymc":
        import pymc as pm

        tree = pm.sample(
            draws=settings.draws, tune=settings.tune, chains=settings.chains, cores=cores or 1,
            random_seed=int(settings.seed), target_accept=settings.target_accept, model=model,
            var_names=None if var_names is None else list(var_names), progressbar=progressbar,
            compute_convergence_checks=False, nuts_sampler="pymc",
        )
    else:
        import nutpie
        from pymc.backends.arviz import patch_nutpie_idata

        compiled, compile_s = _compiled_for(
            model, None if var_names is None else tuple(var_names), backend.removeprefix("nutpie-"))
        start = time.perf_counter()
        tree = nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=cores,
            seed=int(settings.seed),
            save_warmup=False,
            progress_bar=progressbar,
            target_accept=settings.target_accept,
        )
        patch_nutpie_idata(tree, model, sampling_time=time.perf_counter() - start)
        tree.posterior.attrs["compile_time"] = compile_s
    tree.posterior.attrs["seed"] = int(settings.seed)
    tree.posterior.attrs["sampler_backend"] = backend
    return tree
