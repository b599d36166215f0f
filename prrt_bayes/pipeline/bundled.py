"""The bundled analyses: package data ``prrt_bayes/specs/*.toml``, found where the package is.

They are read with :mod:`importlib.resources`, so an installed wheel finds them as an editable
checkout does. This module imports no model code (listing the analyses stays instant);
``prrt-bayes init`` copies one into the working folder to edit.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

from prrt_bayes.core.errors import InputError

BUNDLED_SPECS = resources.files("prrt_bayes") / "specs"
"""The folder of the bundled spec files (an :mod:`importlib.resources` traversable)."""

RUN_ORDER = ("pfs_primary", "os_interim", "os_final", "response", "toxicity")
"""Order of the bundled analyses in a run; other bundled specs follow alphabetically."""


def bundled_names() -> list[str]:
    """Names of the bundled analyses, in run order.

    Returns
    -------
    list[str]
        ``pfs_primary, os_interim, os_final, response, toxicity`` (those present), then any
        other bundled specs in alphabetical order.
    """
    names = sorted(p.name.removesuffix(".toml") for p in BUNDLED_SPECS.iterdir()
                   if p.name.endswith(".toml"))
    return [n for n in RUN_ORDER if n in names] + [n for n in names if n not in RUN_ORDER]


def bundled_text(name: str) -> str:
    """The TOML text of a bundled analysis (its comments included).

    Parameters
    ----------
    name
        A name from :func:`bundled_names`.

    Returns
    -------
    str
        The file's text.

    Raises
    ------
    InputError
        No bundled analysis of that name.
    """
    resource = BUNDLED_SPECS / f"{name}.toml"
    if not resource.is_file():
        raise InputError(f"unknown analysis {name!r}; bundled: {', '.join(bundled_names())} "
                         "(or give a path to a .toml spec)")
    return resource.read_text(encoding="utf-8")


def describe_bundled() -> list[tuple[str, str, str]]:
    """One line per bundled analysis: name, kind and description.

    Returns
    -------
    list[tuple[str, str, str]]
        ``(name, kind, description)`` in run order.
    """
    rows = []
    for name in bundled_names():
        data = tomllib.loads(bundled_text(name))
        rows.append((name, str(data.get("kind", "")), str(data.get("description", ""))))
    return rows


def copy_bundled(source: str, name: str, folder: Path, *, force: bool = False) -> Path:
    """Copy a bundled spec to ``folder/<name>.toml`` with its ``name`` set, to edit.

    Parameters
    ----------
    source
        The bundled analysis to start from (see :func:`bundled_names`).
    name
        The new analysis name (letters, digits, ``_`` and ``-``); also the file stem.
    folder
        Where to write the file.
    force
        Replace an existing file of that name.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputError
        An unknown bundled analysis, a name with other characters, or an existing file
        without ``force``.
    """
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise InputError(f"analysis name {name!r} may contain only letters, digits, _ and -",
                         field="name")
    text = bundled_text(source)
    text = re.sub(r'^name = ".*"$', f'name = "{name}"', text, count=1, flags=re.MULTILINE)
    target = Path(folder) / f"{name}.toml"
    if target.exists() and not force:
        raise InputError("exists already (use --force to replace it)", file=target)
    target.write_text(text, encoding="utf-8")
    return target
