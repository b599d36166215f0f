"""Analysis specs: bundled specs validate; bad specs and arguments get one-line errors, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import assert_one_line_exit_2

from prrt_bayes.cli import app
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Beta
from prrt_bayes.pipeline.bundled import bundled_names, bundled_text
from prrt_bayes.pipeline.specs import SPEC_CLASSES, load_spec, resolve_spec


def _bundled_text(name: str = "pfs_primary", **replace: str) -> str:
    """A bundled spec's text with each ``old=new`` replacement applied (old must occur)."""
    text = bundled_text(name)
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


def _cli_subprocess(*args: str) -> subprocess.CompletedProcess:
    """Run the real console entry point, as a user would."""
    return subprocess.run([sys.executable, "-m", "prrt_bayes", *args], capture_output=True,
                          text=True)


def test_bundled_specs_validate():
    names = bundled_names()
    assert {"pfs_primary", "os_interim", "os_final"} <= set(names)
    for name in names:
        spec = resolve_spec(name)
        assert spec.name == name
        assert isinstance(spec, SPEC_CLASSES[spec.kind])


def test_overrides_are_validated():
    spec = resolve_spec("pfs_primary")
    assert spec.with_overrides(draws=10, seed=3).sampler.draws == 10
    with pytest.raises(InputError, match="sampler.draws"):
        spec.with_overrides(draws=-1)


def test_sampler_settings_carry_the_sampler_section_and_the_seed():
    spec = resolve_spec("toxicity").with_overrides(draws=50, tune=60, chains=3, seed=9)
    settings = spec.sampler_settings()
    assert (settings.draws, settings.tune, settings.chains, settings.seed) == (50, 60, 3, 9)
    assert settings.target_accept == spec.sampler.target_accept


def test_malformed_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("name = 'x'\n[evidence\n")
    with pytest.raises(InputError, match="bad.toml: malformed TOML"):
        load_spec(path)


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text(_bundled_text(**{"draws = 1000": "drawz = 1000"}))
    with pytest.raises(InputError, match=r"typo.toml: field 'sampler.drawz': unknown key"):
        load_spec(path)


def test_unknown_kind(tmp_path):
    path = tmp_path / "kind.toml"
    path.write_text(_bundled_text(**{'kind = "survival"': 'kind = "surv"'}))
    with pytest.raises(InputError, match="field 'kind': must be one of survival, response, "
                                         "toxicity"):
        load_spec(path)


def test_negative_draws(tmp_path):
    path = tmp_path / "neg.toml"
    path.write_text(_bundled_text(**{"draws = 1000": "draws = -5"}))
    with pytest.raises(InputError, match=r"neg.toml: field 'sampler.draws': .*greater than 0"):
        load_spec(path)


def test_unknown_family(tmp_path):
    path = tmp_path / "fam.toml"
    path.write_text(_bundled_text(**{'family = "auto"': 'family = "cubic"'}))
    with pytest.raises(InputError, match="unknown survival family 'cubic'"):
        load_spec(path)


def test_bad_prior(tmp_path):
    path = tmp_path / "prior.toml"
    path.write_text(_bundled_text(**{"sigma = 2.0": "sigma = -2.0"}))
    with pytest.raises(InputError, match="prior 'log_hr'"):
        load_spec(path)


def test_missing_evidence_file(tmp_path):
    path = tmp_path / "user.toml"
    path.write_text(_bundled_text(**{'cut = "primary"': 'ipd = "no_such_ipd.csv"'}))
    with pytest.raises(InputError, match="evidence file not found"):
        load_spec(path)


def test_cli_malformed_spec_exits_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[[[")
    assert_one_line_exit_2(_cli_subprocess("run", str(path), "--out", str(tmp_path / "r")),
                           "bad.toml", "malformed TOML")


def test_cli_unknown_key_exits_2(tmp_path, cli_runner):
    path = tmp_path / "typo.toml"
    path.write_text(_bundled_text(**{"[sampler]": "[sampler]\nspeed = 3"}))
    result = cli_runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "r")])
    assert_one_line_exit_2(result, "typo.toml", "sampler.speed", "unknown key")


def test_cli_negative_draws_exits_2(tmp_path, cli_runner):
    result = cli_runner.invoke(app, ["run", "pfs_primary", "--draws", "-3", "--out",
                                     str(tmp_path / "r")])
    assert_one_line_exit_2(result, "--draws")


def test_cli_unknown_analysis_exits_2(tmp_path, cli_runner):
    result = cli_runner.invoke(app, ["run", "no_such_analysis", "--out", str(tmp_path / "r")])
    assert_one_line_exit_2(result, "unknown analysis 'no_such_analysis'")


def test_cli_missing_evidence_exits_2(tmp_path, cli_runner):
    path = tmp_path / "user.toml"
    path.write_text(_bundled_text(**{'cut = "primary"': 'ipd = "missing.csv"'}))
    result = cli_runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "r")])
    assert_one_line_exit_2(result, "evidence file not found")


def test_cli_existing_output_without_force_exits_2(tmp_path, cli_runner):
    out = tmp_path / "results"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    assert_one_line_exit_2(cli_runner.invoke(app, ["run", "pfs_primary", "--out", str(out)]),
                           "--force")
    assert (out / "keep.txt").read_text() == "precious"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; permission test void")
def test_cli_unwritable_output_exits_2(tmp_path, cli_runner):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = cli_runner.invoke(app, ["run", "pfs_primary", "--out", str(locked / "r")])
    assert_one_line_exit_2(result, "not writable")


def test_cli_output_under_a_file_exits_2(tmp_path, cli_runner):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    result = cli_runner.invoke(app, ["run", "pfs_primary", "--out", str(blocker / "r")])
    assert_one_line_exit_2(result, "not writable")


def test_cli_bad_borrowing_is_a_usage_error(tmp_path, cli_runner):
    """``--borrowing`` takes one of the methods: typer's usage error names the option."""
    result = cli_runner.invoke(app, ["run", "--borrowing", "sideways", "--out",
                                     str(tmp_path / "r")])
    assert result.exit_code == 2, result.stderr
    assert "--borrowing" in result.stderr and "sideways" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_summarize_missing_file_exits_2(tmp_path, cli_runner):
    result = cli_runner.invoke(app, ["summarize", str(tmp_path / "none.nc")])
    assert_one_line_exit_2(result, "not found")


def test_cli_help_lists_commands(cli_runner):
    result = cli_runner.invoke(app, ["--help"])
    for command in ("run", "init", "sweep", "summarize", "reconstruct", "data"):
        assert command in result.output


@pytest.mark.parametrize(("name", "replace", "field", "needle"), [
    ("response", {'population = "evaluable"': 'population = "evaluable"\ncut = "final"'},
     "evidence.cut", "applies to survival analyses only, not to response analyses"),
    ("response", {'family = "binomial"': 'family = "weibull_ph"'}, "model.family", "'binomial'"),
    ("response", {'endpoint = "response"': 'endpoint = "adverse_events"'}, "evidence.endpoint",
     "'response'"),
    ("toxicity", {"[sampler]": '[borrowing]\nmethod = "map"\n\n[sampler]'}, "borrowing",
     "applies to survival and response analyses only, not to toxicity analyses"),
    ("toxicity", {'endpoint = "adverse_events"': 'endpoint = "adverse_events"\n'
                  'population = "itt"'}, "evidence.population",
     "applies to response analyses only, not to toxicity analyses"),
    ("toxicity", {'endpoint = "adverse_events"': 'endpoint = "adverse_events"\n'
                  'treatment_arm = "lu"'}, "evidence.treatment_arm",
     "applies to survival analyses only, not to toxicity analyses"),
    ("pfs_primary", {'cut = "primary"': 'cut = "primary"\npopulation = "itt"'},
     "evidence.population", "applies to response analyses only, not to survival analyses"),
    ("pfs_primary", {'cut = "primary"': 'cut = "primary"\ntreatment_arm = "lu"'},
     "evidence.treatment_arm", "user's IPD only"),
    ("response", {'family = "binomial"': 'family = "binomial"\nintervals = 4'},
     "model.intervals", "applies to survival analyses only, not to response analyses"),
    ("toxicity", {'family = "berry_berry"': 'family = "berry_berry"\ncandidates = ["weibull_ph"]'},
     "model.candidates", "applies to survival analyses only, not to toxicity analyses"),
    ("os_final", {"landmarks_months": 'pair_with = "os_interim"\nlandmarks_months'},
     "export.pair_with", "pairs a PFS analysis with an OS analysis"),
])
def test_settings_the_analysis_kind_would_ignore_are_rejected(tmp_path, name, replace, field,
                                                               needle):
    path = tmp_path / f"{name}.toml"
    path.write_text(_bundled_text(name, **replace))
    with pytest.raises(InputError, match=needle) as caught:
        load_spec(path)
    assert caught.value.field == field
    assert caught.value.file == str(path)


@pytest.mark.parametrize("name", ["response", "toxicity"])
def test_every_kind_accepts_priors(tmp_path, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(_bundled_text(name, **{
        "[sampler]": '[priors.p]\ndist = "Beta"\nalpha = 2.0\nbeta = 2.0\n\n[sampler]'}))
    assert load_spec(path).prior_objects() == {"p": Beta(2.0, 2.0)}


def test_breakpoints_must_increase(tmp_path):
    path = tmp_path / "cuts.toml"
    path.write_text(_bundled_text(**{'family = "auto"':
                                     'family = "auto"\nbreakpoints = [12.0, 6.0]'}))
    with pytest.raises(InputError, match="strictly increasing") as caught:
        load_spec(path)
    assert caught.value.field == "model.breakpoints"


def test_horizon_must_be_a_whole_number_of_cycles(tmp_path):
    path = tmp_path / "cycles.toml"
    path.write_text(_bundled_text(**{"cycle_months = 1.0": "cycle_months = 7.0"}))
    with pytest.raises(InputError, match="not a whole number of 7-month cycles") as caught:
        load_spec(path)
    assert caught.value.field == "export.horizon_months"


def test_run_wide_borrowing_override_leaves_toxicity_without_borrowing():
    toxicity = resolve_spec("toxicity")
    assert "borrowing" not in toxicity.model_dump()
    assert toxicity.with_overrides(borrowing="map") == toxicity
    assert resolve_spec("response").with_overrides(borrowing="map").borrowing.method == "map"


def test_ipd_csv_errors_name_the_file_line(tmp_path):
    from prrt_bayes.survival.analysis import read_ipd_csv

    path = tmp_path / "ipd.csv"
    path.write_text("time,event,arm\n1.0,1,lu177\n\n2.0,1,control\n3.0,1,placebo\n")
    with pytest.raises(InputError, match="unknown arm label 'placebo'") as caught:
        read_ipd_csv(path, treatment="lu177")
    assert (caught.value.file, caught.value.row, caught.value.field) == (str(path), 5, "arm")
    path.write_text("time,event,arm\n1.0,1,lu177\n\n2.0,x,control\n")
    with pytest.raises(InputError, match="not a number: 'x'") as caught:
        read_ipd_csv(path, treatment="lu177")
    assert (caught.value.row, caught.value.field) == (4, "event")
    path.write_text("time,event,arm\n1.0,1,lu177\n2.0,1\n")
    with pytest.raises(InputError, match="expected 3 cells") as caught:
        read_ipd_csv(path, treatment="lu177")
    assert caught.value.row == 3
    path.write_text("time,event,time,arm\n1.0,1,2.0,lu177\n")
    with pytest.raises(InputError, match=r"\['time'\] appear more than once"):
        read_ipd_csv(path, treatment="lu177")
    path.write_text("\nid,time,event,arm\n1,1.0,1,lu177\n2,2.0,1,control\n3,3.0,0,lu177\n"
                    "4, 4.0 ,0,control\n\n")
    frame = read_ipd_csv(path, treatment="lu177")
    assert frame["time"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert frame["arm"].tolist() == ["lu177", "control", "lu177", "control"]


def test_sampler_backend_is_a_spec_setting(tmp_path):
    spec = resolve_spec("pfs_primary")
    assert spec.sampler_settings().backend == "auto"
    assert spec.with_overrides(backend="pymc").sampler_settings().backend == "pymc"
    path = tmp_path / "bad_backend.toml"
    text = bundled_text("pfs_primary")
    assert "[sampler]\n" in text
    path.write_text(text.replace("[sampler]\n", '[sampler]\nbackend = "stan"\n'))
    with pytest.raises(InputError) as caught:
        load_spec(path)
    assert caught.value.field == "sampler.backend"
