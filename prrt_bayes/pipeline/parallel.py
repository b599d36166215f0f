"""Fit several analyses at once, one worker process per analysis.

Each analysis is fitted by :func:`prrt_bayes.pipeline.registry.run_analysis` in a worker process
started with
the ``"spawn"`` method (a fresh interpreter: PyMC, pytensor and numba hold compiled state and
threads that ``fork`` would copy in an unsafe state). Results come back pickled
(:class:`~prrt_bayes.core.results.AnalysisResult`, including its DataTree, pickles). Fits are
deterministic given the spec's seed, so the results do not depend on ``jobs``.

Bad input (:class:`~prrt_bayes.core.errors.InputError`) is re-raised in the caller, as the
sequential
runner does; any other failure of one fit is recorded by analysis name and the others go on.
Each worker compiles its own models (compiled models live in the process that built them), so
``jobs > 1`` pays the compile cost once per worker and competes with the chains' threads; the
default (:func:`default_jobs`) is one worker per four cores.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.results import AnalysisResult
from prrt_bayes.pipeline.specs import AnalysisSpec

Outcome = tuple[str, Any]
"""What a worker returns: ``("ok", result)``, ``("input", (message, file, row, field))`` or
``("error", "ExceptionType: message")``."""


def default_jobs() -> int:
    """Worker processes a run uses unless told otherwise: one per four cores (at least 1).

    Measured (``benchmarks/README.md``): on 2 cores all bundled analyses took 39.7 s in one
    process and 54.0 s in 2 workers. Each fit already runs its chains in parallel threads, and
    one process compiles a model structure once for every analysis that shares it, where each
    worker compiles it again; a worker pays off only with cores to spare beyond the chains.

    Returns
    -------
    int
        ``cores // 4`` (cores: the process's CPU affinity set, or ``os.cpu_count()`` where that
        is unavailable), at least 1.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        cores = os.cpu_count() or 1
    return max(1, cores // 4)


def fit_one(spec: AnalysisSpec) -> Outcome:
    """Fit one spec and return its outcome instead of raising (runs inside a worker).

    Parameters
    ----------
    spec
        Validated analysis spec; fitted by :func:`~prrt_bayes.pipeline.registry.run_analysis`.

    Returns
    -------
    Outcome
        ``("ok", AnalysisResult)``; ``("input", (message, file, row, field))`` for an
        :class:`InputError`; ``("error", "ExceptionType: message")`` for any other exception.
    """
    from prrt_bayes.pipeline.registry import run_analysis

    try:
        return "ok", run_analysis(spec)
    except InputError as err:
        return "input", (err.message, err.file, err.row, err.field)
    except Exception as err:  # noqa: BLE001 - a failed fit is reported, the others go on
        return "error", f"{type(err).__name__}: {err}"


def executor(jobs: int) -> ProcessPoolExecutor:
    """A process pool of ``jobs`` workers using the ``spawn`` start method.

    Parameters
    ----------
    jobs
        Maximum number of worker processes (positive).

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
        A new pool; use it as a context manager so the workers are shut down.
    """
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def fit_parallel(
    specs: Sequence[AnalysisSpec],
    jobs: int | None = None,
    *,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[str], None] | None = None,
) -> tuple[list[AnalysisResult], dict[str, str]]:
    """Fit every spec, ``jobs`` at a time in worker processes.

    Parameters
    ----------
    specs
        Validated analysis specs (names must be unique).
    jobs
        Number of worker processes (default: :func:`default_jobs`); capped at the number of
        specs. ``1`` fits in this process, sequentially, with no worker, and stops at the first
        spec with bad input.
    on_start, on_done
        Progress callbacks called with the analysis name, in this process (with workers,
        ``on_start`` is called when the fit is submitted, ``on_done`` when its result is
        collected, in spec order). ``None``: no callback.

    Returns
    -------
    results : list[AnalysisResult]
        Results of the fits that succeeded, in spec order.
    errors : dict[str, str]
        ``{name: "ExceptionType: message"}`` for the fits that failed (or whose worker died).

    Raises
    ------
    InputError
        Duplicate analysis names, ``jobs`` below 1, or bad input in any spec (the first one in
        spec order, re-raised from its worker).
    """
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InputError(f"analysis names must be unique, got {names}")
    jobs = min(default_jobs() if jobs is None else jobs, max(1, len(specs)))
    if jobs < 1:
        raise InputError(f"jobs must be a positive integer, got {jobs}", field="jobs")
    outcomes: dict[str, Outcome] = {}
    if jobs == 1:
        for spec in specs:
            if on_start:
                on_start(spec.name)
            outcomes[spec.name] = fit_one(spec)
            if outcomes[spec.name][0] == "input":
                break
            if on_done:
                on_done(spec.name)
    else:
        with executor(jobs) as pool:
            futures: dict[str, Future] = {}
            for spec in specs:
                if on_start:
                    on_start(spec.name)
                futures[spec.name] = pool.submit(fit_one, spec)
            for name, future in futures.items():
                try:
                    outcomes[name] = future.result()
                except Exception as err:  # noqa: BLE001 - e.g. a worker killed by the OS
                    outcomes[name] = ("error", f"{type(err).__name__}: {err}")
                if on_done:
                    on_done(name)
    return collect(outcomes, names)


def collect(outcomes: dict[str, Outcome],
            names: Sequence[str]) -> tuple[list[AnalysisResult], dict[str, str]]:
    """Split outcomes into results (in ``names`` order) and errors; re-raise bad input.

    Parameters
    ----------
    outcomes
        ``{analysis name: Outcome}`` as returned by :func:`fit_one`.
    names
        Analysis names in the order wanted; names without an outcome are skipped.

    Returns
    -------
    results : list[AnalysisResult]
        Payloads of the ``"ok"`` outcomes, in ``names`` order.
    errors : dict[str, str]
        ``{name: "ExceptionType: message"}`` for the ``"error"`` outcomes.

    Raises
    ------
    InputError
        Rebuilt from the first ``"input"`` outcome in ``names`` order.
    """
    results, errors = [], {}
    for name in names:
        if name not in outcomes:
            continue
        status, payload = outcomes[name]
        if status == "input":
            message, file, row, field = payload
            raise InputError(message, file=file, row=row, field=field)
        if status == "ok":
            results.append(payload)
        else:
            errors[name] = payload
    return results, errors
