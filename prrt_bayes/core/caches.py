"""Where compiled models are cached on disk: one user cache folder, never the results folder.

PyTensor compiles each log density to C (``nutpie-c`` and ``pymc`` backends) or numba
(``nutpie-numba``) and caches the compiled modules in its ``base_compiledir``; JAX caches
compiled XLA programs in its persistent compilation cache (``nutpie-jax``). Both caches make a
second run of the same model structure cheap in any later process (``benchmarks/README.md``).
:func:`configure_caches` points them at one folder, ``platformdirs.user_cache_dir("prrt-bayes")``
(on Linux ``~/.cache/prrt-bayes``), or ``$PRRT_BAYES_CACHE_DIR`` when set. It is called when the
package is imported, before PyTensor is: a user's own setting wins (``base_compiledir`` or
``compiledir`` in ``$PYTENSOR_FLAGS``, a ``$PYTENSORRC`` or ``~/.pytensorrc`` file,
``$JAX_COMPILATION_CACHE_DIR``), and nothing is changed if PyTensor was imported first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CACHE_ENV = "PRRT_BAYES_CACHE_DIR"


def cache_dir() -> Path:
    """Return the package's user cache folder (not created here).

    Returns
    -------
    pathlib.Path
        ``$PRRT_BAYES_CACHE_DIR`` if set, else ``platformdirs.user_cache_dir("prrt-bayes")``.
    """
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("prrt-bayes", appauthor=False))


def _user_configured_pytensor() -> bool:
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "compiledir" in flags:
        return True
    rc = os.environ.get("PYTENSORRC")
    return bool(rc) or (Path.home() / ".pytensorrc").exists()


def configure_caches() -> dict[str, str]:
    """Point PyTensor's and JAX's on-disk compile caches at :func:`cache_dir`.

    Returns
    -------
    dict
        The environment variables set (name -> value); empty when every cache was already
        configured by the user or PyTensor was already imported.
    """
    root = cache_dir()
    changed = {}
    if "pytensor" not in sys.modules and not _user_configured_pytensor():
        flags = os.environ.get("PYTENSOR_FLAGS", "")
        value = f"base_compiledir={root / 'pytensor'}"
        changed["PYTENSOR_FLAGS"] = f"{flags},{value}" if flags else value
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ and "jax" not in sys.modules:
        changed["JAX_COMPILATION_CACHE_DIR"] = str(root / "jax")
    os.environ.update(changed)
    return changed
