"""Guyot reconstruction of real digitised published curves against the published results.

Fixtures (read-only, never copied into the repo): ``../shared/fixtures/digitized_km`` beside the
repository root. Skipped when absent, so a fresh clone still passes.
"""

from __future__ import annotations

import pytest
from helpers import DIGITIZED_KM as FIXTURES

from prrt_bayes.reconstruct.accuracy import cox_hazard_ratio, km_step
from prrt_bayes.reconstruct.guyot import ReconstructionResult, reconstruct_from_files

pytestmark = pytest.mark.skipif(
    not FIXTURES.is_dir(),
    reason=f"digitised KM fixtures not found at {FIXTURES} (they live in ../shared, outside the "
    "repository)",
)


def reconstruct(stem: str, arm: str, column: str) -> ReconstructionResult:
    return reconstruct_from_files(
        FIXTURES / f"{stem}_{arm}_curve.csv",
        FIXTURES / f"{stem}_numbers_at_risk.csv",
        at_risk_column=column,
    )


@pytest.fixture(scope="module")
def bonner():
    """Bonner 2006 (NEJM 354:567): locoregional control, 211 cetuximab+RT vs 213 RT."""
    return (
        reconstruct("bonner2006", "radiotherapy_cetuximab", "at_risk_radiotherapy_cetuximab"),
        reconstruct("bonner2006", "radiotherapy", "at_risk_radiotherapy"),
    )


@pytest.fixture(scope="module")
def keynote189():
    """KEYNOTE-189 (NEJM 378:2078): overall survival, 410 pembrolizumab vs 206 placebo."""
    return (
        reconstruct("keynote189", "pembrolizumab", "at_risk_pembrolizumab"),
        reconstruct("keynote189", "placebo", "at_risk_placebo"),
    )


def test_bonner_hazard_ratio(bonner):
    """Published HR 0.68 (0.52-0.89); the reconstruction must give 0.61-0.75."""
    cetuximab, radiotherapy = bonner
    assert len(cetuximab.ipd) == 211 and len(radiotherapy.ipd) == 213
    hr = cox_hazard_ratio(cetuximab.ipd, radiotherapy.ipd)
    assert 0.61 <= hr.estimate <= 0.75
    assert hr.lower < 0.68 < hr.upper


def test_keynote189_hazard_ratio_and_12_month_survival(keynote189):
    """Published HR 0.49 (stratified); 12-month OS 69.2% vs 49.4%."""
    pembro, placebo = keynote189
    assert len(pembro.ipd) == 410 and len(placebo.ipd) == 206
    hr = cox_hazard_ratio(pembro.ipd, placebo.ipd)
    assert 0.44 <= hr.estimate <= 0.55
    assert km_step(pembro.ipd, [12.0])[0] == pytest.approx(0.692, abs=0.02)
    assert km_step(placebo.ipd, [12.0])[0] == pytest.approx(0.494, abs=0.02)


@pytest.mark.parametrize("trial", ["bonner", "keynote189"])
def test_reconstructed_km_follows_digitised_points(trial, request):
    """Max absolute error of the reconstructed KM at the digitised points < 0.02; numbers at
    risk reproduced within one patient."""
    for result in request.getfixturevalue(trial):
        assert result.accuracy.max_abs_error < 0.02
        assert (result.accuracy.at_risk["difference"].abs() <= 1).all()
