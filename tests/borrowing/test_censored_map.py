"""Not-reached medians as censored information in the MAP prior (issue 17, item 4).

The importance-resampling posterior of :func:`censored_predictive_draws` is checked against a
brute-force two-dimensional grid over (mu, tau) (a different algorithm), against the exact
conjugate posterior when nothing is censored, and in a simulation where cohorts with long
survival report "not reached": dropping them biases the MAP prior towards short survival,
entering them as censored does not.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import special, stats

from prrt_bayes.borrowing.meta import normal_normal_exact
from prrt_bayes.borrowing.meta_regression import censored_predictive_draws, meta_regression_exact
from prrt_bayes.borrowing.survival import (
    borrowing_report,
    external_log_median_prior,
    point_estimates_only,
    series_log_medians,
)
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import HalfNormal, Normal
from prrt_bayes.evidence import load_series
from prrt_bayes.survival.external import series_survivor_counts

Y = np.array([3.37, 3.21, 3.37, math.log(40.0)])
S = np.array([0.06, 0.17, 0.21, 0.20])


def _grid_theta_new(y, s, censored, tau_scale):
    """Mean and SD of theta_new by brute force on a (mu, tau) grid, flat mu prior."""
    mu = np.linspace(1.5, 5.5, 1601)
    tau = np.linspace(0.0, 4.0, 2001)
    m, t = np.meshgrid(mu, tau, indexing="ij")
    logp = stats.halfnorm(scale=tau_scale).logpdf(t)
    for yi, si, ci in zip(y, s, censored, strict=True):
        sd = np.sqrt(t**2 + si**2)
        logp += special.log_ndtr((m - yi) / sd) if ci else stats.norm.logpdf(yi, m, sd)
    w = np.exp(logp - logp.max())
    w /= w.sum()
    mean = float((w * m).sum())
    return mean, float(np.sqrt((w * (t**2 + (m - mean) ** 2)).sum()))


def test_censored_posterior_matches_a_brute_force_grid():
    censored = np.array([False, False, False, True])
    draws = censored_predictive_draws(Y, S, censored, tau_prior=HalfNormal(0.5), n=200_000,
                                      rng=np.random.default_rng(1))
    mean, sd = _grid_theta_new(Y, S, censored, 0.5)
    assert draws.mean() == pytest.approx(mean, abs=0.01)
    assert draws.std() == pytest.approx(sd, abs=0.01)
    # the bound pulls the prior up compared with leaving the cohort out
    without = normal_normal_exact(Y[:3], S[:3], tau_prior=HalfNormal(0.5))
    assert draws.mean() > without.mean("theta_new") + 0.02


def test_a_bound_far_below_the_others_carries_no_information():
    y = Y.copy()
    y[3] = math.log(1.0)
    draws = censored_predictive_draws(y, S, [False, False, False, True],
                                      tau_prior=HalfNormal(0.5), n=200_000,
                                      rng=np.random.default_rng(2))
    without = normal_normal_exact(Y[:3], S[:3], tau_prior=HalfNormal(0.5))
    assert draws.mean() == pytest.approx(without.mean("theta_new"), abs=0.01)
    assert draws.std() == pytest.approx(without.sd("theta_new"), abs=0.01)


def test_no_censored_study_gives_the_exact_meta_regression():
    x = np.array([0.0, 1.0, 0.0, 1.0])
    draws = censored_predictive_draws(Y, S, [False] * 4, x[:, None], [0.0],
                                      tau_prior=HalfNormal(0.5), coef_prior=Normal(0.0, 1.0),
                                      n=200_000, rng=np.random.default_rng(3))
    exact = meta_regression_exact(Y, S, x[:, None], [0.0], tau_prior=HalfNormal(0.5),
                                  coef_prior=Normal(0.0, 1.0))
    assert draws.mean() == pytest.approx(exact.mean("theta_new"), abs=0.01)
    assert draws.std() == pytest.approx(exact.sd("theta_new"), abs=0.01)


def test_bad_censoring_input_is_an_input_error():
    with pytest.raises(InputError, match="4 censoring flags for 3 studies"):
        censored_predictive_draws(Y[:3], S[:3], [False] * 4, tau_prior=HalfNormal(0.5), n=10,
                                  rng=np.random.default_rng(0))
    with pytest.raises(InputError, match="at least 2 studies"):
        censored_predictive_draws(Y[:2], S[:2], [False, True], tau_prior=HalfNormal(0.5), n=10,
                                  rng=np.random.default_rng(0))


def test_censoring_removes_the_bias_of_dropping_not_reached_cohorts():
    # Design fixed before looking: 8 cohorts of 60 patients, true log medians ~ N(3.4, 0.2^2)
    # (about 30 months), KM-median SE 1 / (log 2 sqrt(30)), median follow-up U(24, 48) months;
    # a cohort whose estimate exceeds its follow-up reports "not reached".
    rng = np.random.default_rng(17)
    se = 1 / (math.log(2) * math.sqrt(30))
    bias_dropped, bias_censored = [], []
    while len(bias_dropped) < 60:
        theta = rng.normal(3.4, 0.2, 8)
        y = rng.normal(theta, se)
        bound = np.log(rng.uniform(24, 48, 8))
        censored = y > bound
        if censored.sum() == 0 or (~censored).sum() < 2:
            continue
        y_seen = np.where(censored, bound, y)
        s = np.full(8, se)
        dropped = normal_normal_exact(y_seen[~censored], s[~censored],
                                      tau_prior=HalfNormal(0.5), n_grid=2000)
        draws = censored_predictive_draws(y_seen, s, censored, tau_prior=HalfNormal(0.5),
                                          n=20_000, rng=rng, n_grid=2000, n_proposals=40_000)
        bias_dropped.append(dropped.mean("theta_new") - 3.4)
        bias_censored.append(draws.mean() - 3.4)
    dropped_bias, censored_bias = np.mean(bias_dropped), np.mean(bias_censored)
    assert dropped_bias < -0.05
    assert abs(censored_bias) <= 0.5 * abs(dropped_bias)


def _netter_r_not_reached():
    """The bundled series with NETTER-R's PFS median reported as not reached."""
    series = load_series()
    records = tuple(
        r.model_copy(update={"value": None, "lower": None, "upper": None, "interval": None})
        if r.study == "netter_r2022" and r.quantity == "pfs_median_months" else r
        for r in series.records)
    return replace(series, records=records)


def test_not_reached_median_with_follow_up_enters_the_map_as_censored():
    series = _netter_r_not_reached()
    included, excluded = series_log_medians("pfs", series)
    row = included.set_index("study").loc["netter_r2022"]
    assert row.censored
    assert row["median"] == 24.5  # the median follow-up it exceeds
    assert row.std_error == pytest.approx(1 / (math.log(2) * math.sqrt(62 / 2)))
    assert "not reached" in dict(zip(excluded.study, excluded.reason,
                                     strict=True))["sansovini2013_full_dose"]
    map_prior, used, excluded = external_log_median_prior("pfs", "map", series=series)
    assert "netter_r2022" in set(used.study)
    report = borrowing_report(map_prior, used, excluded, method="map", settings={},
                              trial_log_median=3.5, trial_std_error=0.2)
    assert "netter_r2022 (median > 24.5 months (not reached))" in report.sources
    unknown = replace(series, records=tuple(
        r for r in series.records
        if not (r.study == "netter_r2022" and r.quantity == "pfs_median_months")))
    reached_only, _, _ = external_log_median_prior("pfs", "map", series=unknown)
    # a cohort still progression-free at half its patients beyond 24.5 months moves the
    # prior up relative to not knowing it (reached medians 29 and 29 months)
    assert map_prior.mean() > reached_only.mean()


def test_routes_that_need_a_point_estimate_leave_the_censored_cohort_out_with_its_reason():
    series = _netter_r_not_reached()
    included, excluded = point_estimates_only(*series_log_medians("pfs", series), "the power prior")
    assert "netter_r2022" not in set(included.study)
    reason = dict(zip(excluded.study, excluded.reason, strict=True))["netter_r2022"]
    assert "median not reached (> 24.5 months" in reason and "the power prior" in reason
    _, power_used, _ = external_log_median_prior("pfs", "power", series=series)
    assert "netter_r2022" not in set(power_used.study)
    counts, left_out = series_survivor_counts("pfs", series)
    assert "netter_r2022" not in set(counts.study)
    assert "a survivor count needs a reached median" in " ".join(
        left_out.loc[left_out.study == "netter_r2022", "reason"])
