"""The recommended extrapolation's spec, evidence and bad input (fast: no full analysis runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import assert_one_line_exit_2

from prrt_bayes.cli import app
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.sampling import SamplerSettings, compile_count
from prrt_bayes.pipeline.bundled import bundled_text
from prrt_bayes.pipeline.specs import load_spec, resolve_spec
from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd
from prrt_bayes.survival.analysis import run
from prrt_bayes.survival.extrapolation import fit_recommended, tail_evidence


def _user_spec(tmp_path, extra_evidence: str = "", extra_model: str = "") -> object:
    ipd = load_netter1_ipd("os", "primary")
    ipd.to_csv(tmp_path / "ipd.csv", index=False)
    text = bundled_text("os_interim").replace(
        'source = "netter1"\n', "").replace('cut = "primary"', 'ipd = "ipd.csv"' + extra_evidence)
    text = text.replace('family = "auto"', 'family = "auto"' + extra_model)
    path = tmp_path / "user.toml"
    path.write_text(text)
    return path


def test_bundled_specs_use_the_recommended_model_with_netter1_cohorts_and_series():
    for name in ("pfs_primary", "os_interim", "os_final"):
        spec = resolve_spec(name)
        assert spec.model.family == "auto"
        evidence = tail_evidence(spec)
        assert set(evidence.background) == {"lu177", "control"}
        assert len(evidence.series) >= 3
        assert (evidence.external["arm"] == "lu177").all()


def test_a_users_ipd_without_a_cohort_has_no_floor_and_says_so(tmp_path):
    spec = load_spec(_user_spec(tmp_path))
    evidence = tail_evidence(spec)
    assert evidence.background is None and "not given" in evidence.background_note
    assert evidence.external is None  # the series are for the bundled data unless asked for


def test_a_users_cohort_sets_the_floor_for_both_arms(tmp_path):
    spec = load_spec(_user_spec(tmp_path, "\nage_mean = 60\nage_sd = 8\nmale_fraction = 0.5"))
    background = tail_evidence(spec).background
    t = np.array([0.0, 120.0, 360.0])
    assert np.allclose(background["lu177"].survival(t), background["control"].survival(t))
    assert background["lu177"].survival(t)[-1] < 0.6


@pytest.mark.parametrize(("evidence", "model", "field"), [
    ("\nage_mean = 60", "", "age_sd"),
    ("", "\n[borrowing]\nmethod = \"map\"", "borrowing.method"),
    ("", "\n[model.waning]\nkind = \"linear\"\nstart = 50\nend = 40", "end"),
    ("", "\nseries = true\nfamily_typo = 1", "family_typo"),
])
def test_spec_mistakes_exit_2_naming_the_field(tmp_path, cli_runner, evidence, model, field):
    path = _user_spec(tmp_path, evidence, model)
    result = cli_runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "r")])
    assert_one_line_exit_2(result, field)


def test_waning_inside_follow_up_is_an_input_error_before_any_fit(tmp_path):
    spec = load_spec(_user_spec(tmp_path, "", "\n[model.waning]\nkind = \"linear\"\n"
                                               "start = 12\nend = 60"))
    before = compile_count()
    with pytest.raises(InputError, match="before the end of follow-up") as err:
        run(spec)
    assert err.value.field == "model.waning.start"
    assert compile_count() == before


@pytest.mark.parametrize(("name", "text", "field"), [
    ("life.csv", "age,sex,qx\n60,male,0.01\n61,male,1.5\n", "qx"),
    ("life.csv", "age,sex,qx\n60,male,0.01\n62,male,0.02\n", "age"),
    ("life.csv", "age,sex,qx\n60,man,0.01\n", "sex"),
    ("counts.csv", "start,stop,n,r\n0,60,10,12\n", "r"),
])
def test_bad_long_term_evidence_files_exit_2_naming_file_row_and_field(tmp_path, cli_runner,
                                                                       name, text, field):
    (tmp_path / name).write_text(text)
    key = "life_table" if name == "life.csv" else "external"
    cohort = "\nage_mean = 60\nage_sd = 0\nmale_fraction = 1" if key == "life_table" else ""
    path = _user_spec(tmp_path, f'{cohort}\n{key} = "{name}"')
    result = cli_runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "r")])
    assert_one_line_exit_2(result, name, f"field '{field}'")


def test_a_cohort_age_outside_the_life_table_exits_2(tmp_path, cli_runner):
    (tmp_path / "life.csv").write_text("age,sex,qx\n60,male,0.01\n61,male,0.02\n")
    path = _user_spec(tmp_path, '\nage_mean = 80\nage_sd = 2\nmale_fraction = 1\n'
                                'life_table = "life.csv"')
    result = cli_runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "r")])
    assert_one_line_exit_2(result, "life.csv", "age_mean")


def test_reconstruction_members_share_one_compiled_structure():
    spec = resolve_spec("os_interim")
    ipds = [load_netter1_ipd("os", "primary", member=k) for k in (0, 1, 2)]
    evidence = tail_evidence(spec)
    settings = SamplerSettings(draws=50, tune=50, chains=2, target_accept=0.9, seed=3)
    fit_recommended(spec, ipds[:1], evidence, settings)
    before = compile_count()
    fits = fit_recommended(spec, ipds, evidence, settings)
    assert compile_count() == before
    assert len({f.data.basis for f in fits}) == 1
    assert pd.Series([f.data.event_basis.shape[0] for f in fits]).nunique() == 1


@pytest.mark.slow  # two PH fits at 2 x (1,000 + 1,000): a validation, not a unit check
def test_series_as_median_prior_scenario_sits_between_the_trial_and_the_series():
    # the series' other route (issue 17): the PH model with the robust MAP median prior
    from prrt_bayes.borrowing.survival import external_log_median_prior
    from prrt_bayes.survival.extrapolation import _series_as_median_prior
    from prrt_bayes.survival.ph import fit_ph
    from prrt_bayes.survival.quantities import median_survival

    spec = resolve_spec("pfs_primary")
    ipd = load_netter1_ipd("pfs", "primary")
    settings = SamplerSettings(draws=1000, tune=1000, chains=2, target_accept=0.95, seed=5)
    grid = np.arange(0.0, 241.0)
    scenario = _series_as_median_prior(spec, ipd, settings, grid)
    assert scenario.problem == ""
    alone = fit_ph(ipd, settings=settings, treatment="lu177", n_intervals=spec.model.intervals)
    prior, _, _ = external_log_median_prior("pfs", "robust-map")
    with_series = float(np.median(median_survival(scenario.survival.sel(arm="lu177"))))
    trial = float(np.median(median_survival(alone.survival(grid).sel(arm="lu177"))))
    series = float(np.exp(prior.ppf(0.5)))
    assert min(trial, series) < with_series < max(trial, series)
