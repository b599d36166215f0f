"""Parallel fits: worker processes give the same results as fitting in this process."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from prrt_bayes.errors import InputError
from prrt_bayes.parallel import fit_parallel
from prrt_bayes.specs import resolve_spec


@pytest.fixture(scope="module")
def specs():
    return [resolve_spec("os_interim").with_overrides(draws=300, tune=300),
            resolve_spec("response").with_overrides(draws=300, tune=300)]


@pytest.fixture(scope="module")
def sequential(specs):
    return fit_parallel(specs, jobs=1)


def test_jobs_2_matches_jobs_1(specs, sequential):
    results, errors = sequential
    parallel, parallel_errors = fit_parallel(specs, jobs=2)
    assert errors == parallel_errors == {}
    assert [r.name for r in parallel] == ["os_interim", "response"]
    for one, two in zip(results, parallel, strict=True):
        pd.testing.assert_frame_equal(one.summary, two.summary)
        assert one.diagnostics == two.diagnostics
        assert two.tree is not None and "posterior" in two.tree.children


def test_result_with_datatree_pickles(sequential):
    result = sequential[0][0]
    copy = pickle.loads(pickle.dumps(result))
    pd.testing.assert_frame_equal(copy.summary, result.summary)
    assert copy.tree.posterior["hazard_ratio"].equals(result.tree.posterior["hazard_ratio"])
    assert set(copy.survival) == set(result.survival)


def test_bad_input_raises_and_names_must_be_unique(specs):
    with pytest.raises(InputError, match="unique"):
        fit_parallel([specs[1], specs[1]], jobs=1)
    bad = specs[0].model_copy(update={"export": specs[0].export.model_copy(
        update={"horizon_months": 1.0})})
    with pytest.raises(InputError, match="horizon"):
        fit_parallel([bad, specs[1]], jobs=1)
