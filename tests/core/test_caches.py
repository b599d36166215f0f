"""Compile caches go to the user cache folder, a user's own PyTensor setting wins, and a model
loaded from the cache gives the same draws as one compiled in the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

PROBE = ("import json, prrt_bayes, pytensor, os; print(json.dumps("
         "[str(pytensor.config.base_compiledir), os.environ.get('JAX_COMPILATION_CACHE_DIR'), "
         "pytensor.config.numba__fastmath]))")

AE_DRAWS = """
import sys, numpy as np, prrt_bayes
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.toxicity.adverse_events import fit_ae_tables, netter1_ae_table
fits = fit_ae_tables({g: netter1_ae_table(g) for g in ("any", "grade34")},
                     SamplerSettings(draws=100, tune=100, chains=2, seed=5, backend="nutpie-numba"))
np.save(sys.argv[1], next(iter(fits.values())).tree["posterior"]["gamma"].values)
"""


def _env(env_update: dict[str, str], home) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTENSOR_FLAGS", "PYTENSORRC", "JAX_COMPILATION_CACHE_DIR",
                        "PRRT_BAYES_CACHE_DIR")}
    return env | {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")} | env_update


def _probe(env_update: dict[str, str], home) -> list:
    out = subprocess.run([sys.executable, "-c", PROBE], env=_env(env_update, home),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_caches_default_to_the_user_cache_folder(tmp_path):
    compiledir, jax_dir, fastmath = _probe({}, tmp_path)
    assert compiledir == str(tmp_path / ".cache" / "prrt-bayes" / "pytensor")
    assert jax_dir == str(tmp_path / ".cache" / "prrt-bayes" / "jax")
    assert fastmath is False


def test_cache_folder_can_be_moved(tmp_path):
    compiledir, jax_dir, _ = _probe({"PRRT_BAYES_CACHE_DIR": str(tmp_path / "c")}, tmp_path)
    assert compiledir == str(tmp_path / "c" / "pytensor")
    assert jax_dir == str(tmp_path / "c" / "jax")


def test_a_users_own_pytensor_setting_wins(tmp_path):
    own = tmp_path / "mine"
    compiledir, _, fastmath = _probe({"PYTENSOR_FLAGS": f"base_compiledir={own}"}, tmp_path)
    assert compiledir == str(own)
    assert fastmath is False  # the compile folder is the user's; fast-math stays off
    rc = tmp_path / "pytensorrc"
    rc.write_text("[numba]\nfastmath = True\n")
    compiledir, _, fastmath = _probe({"PYTENSORRC": str(rc)}, tmp_path)
    assert fastmath is True and compiledir != str(tmp_path / ".cache" / "prrt-bayes" / "pytensor")
    assert _probe({"PYTENSOR_FLAGS": "numba__fastmath=True"}, tmp_path)[2] is True


@pytest.mark.slow
def test_a_cached_model_gives_the_same_draws_as_a_fresh_compile(tmp_path):
    """The Berry & Berry AE model, same seed, in a process with an empty compile cache and then
    in one that loads the compiled code from it: the same bytes (with PyTensor's default
    fast-math they differed by up to 2.7; ``prrt_bayes.core.caches``)."""
    env = _env({"PRRT_BAYES_CACHE_DIR": str(tmp_path / "cache")}, tmp_path)
    draws = []
    for run in ("cold", "warm"):
        out = subprocess.run([sys.executable, "-c", AE_DRAWS, str(tmp_path / f"{run}.npy")],
                             env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        draws.append(np.load(tmp_path / f"{run}.npy"))
    assert np.array_equal(*draws)
