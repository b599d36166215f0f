"""Borrowing on the 177Lu arm's log median survival: series rules, the median functional, effect."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest
from helpers import simulate_exponential_ipd

from prrt_bayes.borrowing import conflict, ess
from prrt_bayes.borrowing.survival import (
    PRIOR_SCALE,
    borrowing_report,
    external_log_median_prior,
    series_log_medians,
)
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import NormalMixture
from prrt_bayes.core.results import BorrowingReport
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.survival.ph import fit_ph, treatment_median


def test_pfs_rules_exclude_ttp_overlap_and_not_reached():
    included, excluded = series_log_medians("pfs")
    reasons = dict(zip(excluded.study, excluded.reason, strict=True))
    assert "time to progression" in reasons["bodei2011"]
    assert "overlaps with brabander2017" in reasons["kwekkeboom2008"]
    assert "not reached" in reasons["sansovini2013_full_dose"]
    # excluded by its regimen (18.5 GBq), not by its outcome
    assert "non-standard activity" in reasons["sansovini2013_reduced_dose"]
    brabander = included.set_index("study").loc["brabander2017"]
    # SE of the log median from the published 95% CI 26-33 months
    assert brabander.std_error == pytest.approx((math.log(33) - math.log(26)) / (2 * 1.959964),
                                                rel=1e-4)
    assert not brabander.approximated


def test_os_rules_exclude_mixed_radionuclides():
    included, excluded = series_log_medians("os")
    reasons = dict(zip(excluded.study, excluded.reason, strict=True))
    assert "mixed radionuclides" in reasons["horsch2016"]
    assert set(included.study) == {"brabander2017", "netter_r2022", "sundlov2022"}


def test_unknown_endpoint_and_method_are_input_errors():
    with pytest.raises(InputError, match="endpoint"):
        series_log_medians("qol")
    with pytest.raises(InputError, match="unknown borrowing method"):
        external_log_median_prior("os", "guess")


@pytest.mark.parametrize("method", ["map", "robust-map", "power", "commensurate",
                                    "commensurate-fixed"])
def test_external_prior_is_a_normal_mixture_prior(method):
    prior, included, _ = external_log_median_prior("pfs", method)
    assert isinstance(prior, NormalMixture)
    # the series' medians lie around 30 months; the prior's median is among them
    assert included["median"].min() < math.exp(float(prior.ppf(0.5))) < included["median"].max()


def test_borrowing_report_lines():
    prior, included, excluded = external_log_median_prior("pfs", "robust-map", robust_weight=0.2)
    trial = math.log(20.0)
    report = borrowing_report(prior, included, excluded, method="robust-map",
                              settings={"robust_weight": 0.2}, trial_log_median=trial,
                              trial_std_error=0.1)
    assert isinstance(report, BorrowingReport) and report.method == "robust-map"
    check = conflict(prior, trial, 0.1)
    assert report.conflict_p_box == check.p_box
    lines = dict(report.lines)
    assert lines["prior scale"] == PRIOR_SCALE
    assert lines["prior"] == prior.describe()
    low, mid, high = (math.exp(float(prior.ppf(q))) for q in (0.025, 0.5, 0.975))
    assert lines["prior median"] == f"{mid:.3g} months (95% interval {low:.3g} to {high:.3g})"
    assert lines["prior ESS"].startswith(f"{ess(prior, 'elir'):.1f} events (ELIR), "
                                         f"{ess(prior, 'moment'):.1f} (moment), ")
    assert "(Morita" in lines["prior ESS"]
    assert report.prior_ess == lines["prior ESS"] and report.sources
    assert ess(prior, "moment") < ess(prior, "elir")  # moment ESS is conservative when robust
    assert lines["robust_weight"] == "0.2"
    assert lines["trial median without borrowing"] == "20 months"
    assert lines["prior-data conflict"].startswith(f"Box p = {check.p_box:.3g}")
    used = [text for label, text in report.lines if label == "cohort used"]
    dropped = [text for label, text in report.lines if label == "cohort excluded"]
    assert len(used) == len(included) and len(dropped) == len(excluded)
    assert any(t.startswith("brabander2017: median") for t in used)
    assert "bodei2011: reports time to progression, not PFS" in dropped


@pytest.mark.parametrize("hazards", [[0.05, 0.02, 0.1], [0.5, 0.01, 0.01], [0.001, 0.001, 0.3]])
def test_treatment_median_matches_cumulative_hazard(hazards):
    edges = np.array([0.0, 6.0, 18.0, np.inf])
    median = float(treatment_median(pt.as_tensor(np.array(hazards)), edges).eval())
    grid = np.linspace(0, 2000, 400_001)
    cumulative = np.zeros_like(grid)
    for j, rate in enumerate(hazards):
        cumulative += rate * np.clip(np.minimum(grid, edges[j + 1]) - edges[j], 0, None)
    expected = grid[np.searchsorted(cumulative, math.log(2))]
    assert median == pytest.approx(expected, abs=0.01)


def _simulate(seed: int, n: int = 120) -> pd.DataFrame:
    """Exponential arms with medians 28 (177Lu) and 9 (control) months, censoring U(6, 30)."""
    rates = {"lu177": math.log(2) / 28.0, "control": math.log(2) / 9.0}
    return simulate_exponential_ipd(rates, n, np.random.default_rng(seed), censor=(6, 30))


@pytest.mark.slow  # two PH fits (about 12 s)
def test_commensurate_external_information_narrows_the_177lu_median():
    ipd = _simulate(3)
    settings = SamplerSettings(draws=800, tune=800)
    alone = fit_ph(ipd, settings=settings, n_intervals=4, check="warn")
    median_alone = alone.survival(np.linspace(0, 400, 1601)).sel(arm="lu177")
    external = ([1.0], [math.log(28.0)], [0.08])
    borrowed = fit_ph(ipd, settings=settings, n_intervals=4, check="warn",
                      log_median_prior=external)
    assert borrowed.diagnostics.passed, borrowed.diagnostics.problems
    post = borrowed.tree.posterior["median_treatment"].values.ravel()
    from prrt_bayes.survival.quantities import median_survival

    before = np.log(median_survival(median_alone).values.ravel())
    after = np.log(post)
    finite = np.isfinite(before)
    assert after.std() < 0.75 * before[finite].std()
    assert abs(np.median(post) - 28.0) < 4.0


def test_borrowed_fits_reuse_one_compiled_model_and_match_a_fresh_build():
    """Other data (other interval edges) and another mixture of the same size: no recompile,
    and the same draws as a model built from scratch for them (same seed)."""
    from prrt_bayes.core.sampling import compile_count, sample
    from prrt_bayes.survival.intervals import aggregate, default_breakpoints
    from prrt_bayes.survival.ph import build_ph_model

    first = ([0.8, 0.2], [math.log(28.0)] * 2, [0.1, 1.0])
    second = ([0.5, 0.5], [math.log(20.0)] * 2, [0.2, 2.0])
    settings = SamplerSettings(draws=300, tune=300, seed=5)
    fit_ph(_simulate(3), settings=settings, n_intervals=4, log_median_prior=first)
    before = compile_count()
    ipd = _simulate(4)
    cached = fit_ph(ipd, settings=settings, n_intervals=4, log_median_prior=second)
    assert compile_count() == before
    data = aggregate(ipd, default_breakpoints(ipd["time"].to_numpy(), ipd["event"].to_numpy(), 4))
    fresh = sample(build_ph_model(data, log_median_prior=second), settings)
    for name in ("median_treatment", "log_hr"):
        np.testing.assert_allclose(cached.tree.posterior[name].values,
                                   fresh.posterior[name].values, rtol=1e-10)


def test_bad_external_log_median_mixture_is_an_input_error():
    settings = SamplerSettings(draws=10, tune=10)
    with pytest.raises(InputError, match="summing to 1"):
        fit_ph(_simulate(3), settings=settings, n_intervals=4,
               log_median_prior=([0.5], [3.0], [0.1]))
    with pytest.raises(InputError, match="one common length"):
        fit_ph(_simulate(3), settings=settings, n_intervals=4,
               log_median_prior=([0.5, 0.5], [3.0], [0.1, 1]))


def _series_with(study: str, quantity: str, drop_n: bool = False, **update):
    """The bundled series with one primary record of ``study`` changed (and its N dropped)."""
    from dataclasses import replace

    from prrt_bayes.evidence import load_series

    series = load_series()
    records = []
    for record in series.records:
        if record.study == study and record.primary:
            if record.quantity == quantity:
                record = record.model_copy(update=update)
            elif drop_n and record.quantity == "n_efficacy":
                continue
        records.append(record)
    return replace(series, records=tuple(records))


def test_median_reported_with_a_range_is_not_used_as_a_95_ci():
    series = _series_with("brabander2017", "pfs_median_months", interval="range")
    included, _ = series_log_medians("pfs", series)
    brabander = included.set_index("study").loc["brabander2017"]
    assert brabander.se_method == "events_half_n"
    assert brabander.approximated
    assert brabander.std_error != pytest.approx((math.log(33) - math.log(26)) / (2 * 1.959964),
                                                rel=1e-4)


def test_ci_lower_limit_of_zero_is_not_treated_as_missing():
    series = _series_with("brabander2017", "pfs_median_months", lower=0.0)
    with pytest.raises(InputError, match="brabander2017.*positive lower limit"):
        series_log_medians("pfs", series)


def test_cohort_without_ci_and_without_n_is_excluded_not_an_error():
    series = _series_with("sundlov2022", "os_median_months", drop_n=True, denominator=None)
    included, excluded = series_log_medians("os", series)
    reasons = dict(zip(excluded.study, excluded.reason, strict=True))
    assert "sundlov2022" not in set(included.study)
    assert "no 95% CI and no number of patients" in reasons["sundlov2022"]
    assert set(included.study) == {"brabander2017", "netter_r2022"}


def test_power_prior_for_survival_borrows_at_most_the_capped_share_of_trial_events():
    """NETTER-1's 177Lu PFS arm has 23 events: at a0 = 0.5 the pooled series would be worth far
    more; the cap keeps the borrowed ESS at half of 23, and the prior built with the capped a0
    has exactly that information (moment ESS = initial + a0 x I_ext)."""
    from prrt_bayes.borrowing.survival import power_cap

    cap = power_cap("pfs", 0.5, 23.0)
    assert cap.capped and cap.ess_uncapped > 23
    assert cap.ess == pytest.approx(11.5) and cap.a0 < 0.5
    prior, _, _ = external_log_median_prior("pfs", "power", a0=cap.a0)
    assert ess(prior, "moment") == pytest.approx(11.5 + 1 / 10.0**2, rel=1e-9)
    assert "capped" in cap.describe()


def test_commensurate_hyperprior_options():
    """The spike-and-slab and the half-Cauchy give different priors; both centred on the
    series."""
    cauchy, *_ = external_log_median_prior("pfs", "commensurate", tau=0.5)
    spike, *_ = external_log_median_prior("pfs", "commensurate", tau_hyperprior="spike-slab")
    assert len(cauchy.weights) > 4 and cauchy != spike
    assert float(cauchy.ppf(0.5)) == pytest.approx(float(spike.ppf(0.5)), abs=1e-6)


def test_survival_map_has_the_population_covariate_of_the_response_map():
    """Pancreatic cohorts get an offset (NETTER-1 is midgut, predicted at the GEP level): a
    pancreatic cohort with a much shorter median pulls the covariate MAP less than the
    exchangeable one."""
    from prrt_bayes.borrowing.map_prior import map_prior_estimates
    from prrt_bayes.borrowing.survival import population_covariate

    included, _ = series_log_medians("pfs")
    covariate = population_covariate(included)
    pancreatic = included["population"].eq("pancreatic").to_numpy()
    assert pancreatic.any() and (covariate["covariates"][:, 0] == pancreatic).all()
    assert covariate["new_covariates"] == [0.0]
    shifted = included["log_median"].to_numpy() - 1.0 * pancreatic  # pancreatic e times shorter
    s = included["std_error"].to_numpy()
    with_covariate = float(map_prior_estimates(shifted, s, **covariate).ppf(0.5))
    exchangeable = float(map_prior_estimates(shifted, s).ppf(0.5))
    unshifted = float(map_prior_estimates(included["log_median"].to_numpy(), s,
                                          **covariate).ppf(0.5))
    assert abs(with_covariate - unshifted) < abs(exchangeable - unshifted)
    assert population_covariate(included[~pancreatic]) == {}
