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
