"""Compile caches go to the user cache folder, and a user's own PyTensor setting wins."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = ("import json, prrt_bayes, pytensor, os; print(json.dumps("
         "[str(pytensor.config.base_compiledir), os.environ.get('JAX_COMPILATION_CACHE_DIR')]))")


def _probe(env_update: dict[str, str], home) -> list[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTENSOR_FLAGS", "PYTENSORRC", "JAX_COMPILATION_CACHE_DIR",
                        "PRRT_BAYES_CACHE_DIR")}
    env |= {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")} | env_update
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_caches_default_to_the_user_cache_folder(tmp_path):
    compiledir, jax_dir = _probe({}, tmp_path)
    assert compiledir == str(tmp_path / ".cache" / "prrt-bayes" / "pytensor")
    assert jax_dir == str(tmp_path / ".cache" / "prrt-bayes" / "jax")


def test_cache_folder_can_be_moved(tmp_path):
    compiledir, jax_dir = _probe({"PRRT_BAYES_CACHE_DIR": str(tmp_path / "c")}, tmp_path)
    assert compiledir == str(tmp_path / "c" / "pytensor")
    assert jax_dir == str(tmp_path / "c" / "jax")


def test_a_users_own_pytensor_setting_wins(tmp_path):
    own = tmp_path / "mine"
    compiledir, _ = _probe({"PYTENSOR_FLAGS": f"base_compiledir={own}"}, tmp_path)
    assert compiledir == str(own)
