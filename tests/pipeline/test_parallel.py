"""Parallel fits: worker processes give the same results as fitting in this process."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from prrt_bayes.core.errors import InputError
from prrt_bayes.pipeline.parallel import executor, fit_one, fit_parallel
from prrt_bayes.pipeline.specs import resolve_spec


@pytest.fixture(scope="module")
def specs(quick_response_spec):
    """Two cheap analyses (a survival fit in a worker costs ~40 s of numba warm-up)."""
    response = quick_response_spec
    itt = response.model_copy(update={
        "name": "response_itt",
        "evidence": response.evidence.model_copy(update={"population": "itt"})})
    return [response, itt]


@pytest.fixture(scope="module")
def sequential(specs):
    return fit_parallel(specs, jobs=1)


def test_jobs_2_matches_jobs_1(specs, sequential):
    results, errors = sequential
    parallel, parallel_errors = fit_parallel(specs, jobs=2)
    assert errors == parallel_errors == {}
    assert [r.name for r in parallel] == ["response", "response_itt"]
    for one, two in zip(results, parallel, strict=True):
        pd.testing.assert_frame_equal(one.summary, two.summary)
        assert one.diagnostics == two.diagnostics
        assert two.tree is not None and "posterior" in two.tree.children


def test_result_with_datatree_pickles(sequential):
    result = sequential[0][0]
    copy = pickle.loads(pickle.dumps(result))
    pd.testing.assert_frame_equal(copy.summary, result.summary)
    assert copy.tree.posterior["p"].equals(result.tree.posterior["p"])
    assert copy.parameters.equals(result.parameters)


@pytest.mark.slow
def test_survival_analysis_in_worker_matches_in_process():
    spec = resolve_spec("os_interim").with_overrides(draws=300, tune=300)
    (one,), _ = fit_parallel([spec], jobs=1)
    with executor(1) as pool:
        status, two = pool.submit(fit_one, spec).result()
    assert status == "ok"
    pd.testing.assert_frame_equal(one.summary, two.summary)
    assert set(two.survival) == set(one.survival)


def test_bad_input_raises_and_names_must_be_unique(specs):
    with pytest.raises(InputError, match="unique"):
        fit_parallel([specs[1], specs[1]], jobs=1)
    survival = resolve_spec("os_interim")
    bad = survival.model_copy(update={"export": survival.export.model_copy(
        update={"horizon_months": 1.0})})
    with pytest.raises(InputError, match="horizon"):
        fit_parallel([bad, specs[1]], jobs=1)
