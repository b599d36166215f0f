"""Where compiled models are cached on disk (one user cache folder, never the results folder),
and compiled so that a cached model gives the same draws as a freshly compiled one.

PyTensor compiles each log density to C (``nutpie-c`` and ``pymc`` backends) or numba
(``nutpie-numba``) and caches the compiled modules in its ``base_compiledir``; JAX caches
compiled XLA programs in its persistent compilation cache (``nutpie-jax``). Both caches make a
second run of the same model structure cheap in any later process (``benchmarks/README.md``).
:func:`configure_caches` points them at one folder, ``platformdirs.user_cache_dir("prrt-bayes")``
(on Linux ``~/.cache/prrt-bayes``), or ``$PRRT_BAYES_CACHE_DIR`` when set. It is called when the
package is imported, before PyTensor is: a user's own setting wins (``base_compiledir`` or
``compiledir`` in ``$PYTENSOR_FLAGS``, a ``$PYTENSORRC`` or ``~/.pytensorrc`` file,
``$JAX_COMPILATION_CACHE_DIR``), and nothing is changed if PyTensor was imported first.

Same seed, same bytes, whatever the cache holds: PyTensor compiles numba code with fast-math
flags by default (reassociation, contraction to fused multiply-add, approximate functions),
which leave LLVM free to round differently when a model's inner functions are compiled in this
process than when they are loaded, already compiled, from the disk cache (the likely mechanism;
not traced inside numba, the measurement is the evidence). Measured 2026-12-07 on the
bundled Berry & Berry AE model (2 x 100 draws, seed 5): with fast-math a cold and a warm process
gave draws differing by up to 2.7 (log-odds), without it the same bytes
(``tests/core/test_caches.py``). So :func:`configure_caches` also sets
``numba__fastmath=False`` unless the user's own PyTensor flags or ``.pytensorrc`` name it.
"""

from __future__ import annotations

import configparser
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


def _user_sets_pytensor(key: str) -> bool:
    """Whether the user's ``$PYTENSOR_FLAGS`` or PyTensor configuration file sets ``key``
    (``numba__fastmath`` is option ``fastmath`` of section ``[numba]`` in the file; any
    configuration file counts for the compile folder, which it may also decide)."""
    if key in os.environ.get("PYTENSOR_FLAGS", ""):
        return True
    given = os.environ.get("PYTENSORRC")
    files = ([Path(f).expanduser() for f in given.split(os.pathsep) if f] if given
             else [Path.home() / ".pytensorrc"])
    if key == "compiledir":
        return bool(given) or any(f.is_file() for f in files)
    section, option = key.split("__", 1) if "__" in key else ("global", key)
    parser = configparser.ConfigParser()
    parser.read(files)
    return parser.has_option(section, option)


def configure_caches() -> dict[str, str]:
    """Point PyTensor's and JAX's on-disk compile caches at :func:`cache_dir`; numba code
    without fast-math (module docstring).

    Returns
    -------
    dict
        The environment variables set (name -> value); empty when the user already set the
        compile folders and ``numba__fastmath``, or PyTensor was already imported.
    """
    root = cache_dir()
    changed = {}
    if "pytensor" not in sys.modules:
        ours = [value for key, value in (
            ("compiledir", f"base_compiledir={root / 'pytensor'}"),
            ("numba__fastmath", "numba__fastmath=False")) if not _user_sets_pytensor(key)]
        if ours:
            flags = os.environ.get("PYTENSOR_FLAGS", "")
            changed["PYTENSOR_FLAGS"] = ",".join(([flags] if flags else []) + ours)
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ and "jax" not in sys.modules:
        changed["JAX_COMPILATION_CACHE_DIR"] = str(root / "jax")
    os.environ.update(changed)
    return changed
