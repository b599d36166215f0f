"""The notebook API: ``pb.analyse`` fits one analysis and returns a typed, plottable result."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import row
from matplotlib.figure import Figure

import prrt_bayes as pb
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.results import BorrowingReport
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.core.vocabulary import Arm, Quantity

NUMBA = "nutpie-numba"
"""The backend of these fits: the two-arm response model prefers ``nutpie-c`` (``auto``), which
gives the same draws; on numba both models compile once per session (the compiled models are
reused by the runner's and the sweep's response tests and by tests/response)."""


@pytest.fixture(scope="module")
def response():
    return pb.analyse("response", draws=300, tune=300, backend=NUMBA)


def test_analyse_a_bundled_name(response):
    assert isinstance(response, pb.Analysis)
    assert response.name == "response" and response.spec.sampler.draws == 300
    summary = response.summary()
    assert tuple(summary.columns) == SUMMARY_COLUMNS and (summary.analysis == "response").all()
    pd.testing.assert_series_equal(response.estimate(Quantity.RESPONSE_RATE, Arm.LU177),
                                   row(summary, Quantity.RESPONSE_RATE, Arm.LU177))
    assert response.diagnostics is response.result.diagnostics
    assert response.tree is not None
    assert response.borrowing.method == "robust-map" and response.borrowing.sources
    with pytest.raises(KeyError, match="no row 'hazard_ratio'"):
        response.estimate("hazard_ratio")


def test_a_spec_object_with_the_same_seed_gives_the_same_summary(response):
    again = pb.analyse(response.spec)
    pd.testing.assert_frame_equal(again.summary(), response.summary())


def test_to_results_writes_the_run_folder_once(response, tmp_path):
    out = response.to_results(tmp_path / "out")
    written = pd.read_csv(out / "summary.csv")
    rate = row(written, Quantity.RESPONSE_RATE, Arm.LU177)
    assert rate["median"] == pytest.approx(
        response.estimate(Quantity.RESPONSE_RATE, Arm.LU177)["median"], rel=1e-9)
    assert (out / "report.html").exists() and (out / "response" / "posterior.nc").exists()
    with pytest.raises(InputError, match="already exists"):
        response.to_results(out)


def test_borrowing_override_gives_typed_sections_and_a_figure():
    power = pb.analyse("response", draws=300, tune=300, borrowing="power", backend=NUMBA)
    assert isinstance(power.borrowing, BorrowingReport) and power.borrowing.method == "power"
    assert 0 <= power.borrowing.conflict_p_box <= 1
    assert isinstance(power.plot_prior_posterior(), Figure)


def test_bad_override_is_an_input_error():
    with pytest.raises(InputError, match="borrowing.method"):
        pb.analyse("response", borrowing="sideways")
