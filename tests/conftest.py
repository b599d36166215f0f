"""Fixtures shared by several test folders (helpers that are plain functions: ``helpers.py``)."""

from __future__ import annotations

import helpers
import pytest
from typer.testing import CliRunner


@pytest.fixture(scope="session")
def netter1():
    """The bundled NETTER-1 evidence (published numbers by data cut, NEJM Tables 1-4)."""
    return helpers.netter1()


@pytest.fixture(scope="session")
def cli_runner() -> CliRunner:
    """Runs ``prrt-bayes`` commands in this process (stdout and stderr kept apart)."""
    return CliRunner()


@pytest.fixture(scope="session")
def quick_response_spec():
    """The bundled response analysis with 300 draws and 300 tuning steps and no borrowing (a
    fit of seconds, for tests of the pipeline's machinery; the borrowing path, which adds the
    series MAP fit, has tests of its own)."""
    from prrt_bayes.pipeline.specs import resolve_spec

    return resolve_spec("response").with_overrides(draws=300, tune=300, borrowing="none")


@pytest.fixture(scope="session")
def quick_toxicity_run():
    """The bundled toxicity analysis at 200 draws and 200 tuning steps, fitted once per session
    in an emptied model cache: ``(result, compiles)``, ``compiles`` being the nutpie
    compilations the analysis needed. The models it built stay cached afterwards (beside the
    earlier ones), so a later fit of the same structures, e.g. the gate test in
    ``tests/pipeline/test_runner.py``, does not compile the Berry & Berry model (about 10 s)
    a second time."""
    from prrt_bayes.core import fit as core_fit
    from prrt_bayes.core.sampling import compile_count
    from prrt_bayes.pipeline.specs import resolve_spec
    from prrt_bayes.toxicity.analysis import run

    earlier = core_fit._CACHE.copy()
    core_fit._CACHE.clear()  # every model structure is new
    try:
        before = compile_count()
        result = run(resolve_spec("toxicity").with_overrides(draws=200, tune=200))
        compiles = compile_count() - before
    finally:
        fresh = core_fit._CACHE.copy()
        core_fit._CACHE.clear()
        core_fit._CACHE.update(earlier)
        core_fit._CACHE.update(fresh)  # most recently used last, as built_model keeps them
        while len(core_fit._CACHE) > core_fit._CACHE_SIZE:
            core_fit._CACHE.popitem(last=False)
    return result, compiles
