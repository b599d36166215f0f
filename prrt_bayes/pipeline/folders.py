"""Results folders: refuse to overwrite without ``force``, and publish them atomically.

Every command that writes a folder (``run``, ``sweep``) checks the destination before any fit
(:func:`check_out_dir`), then writes everything into a temporary sibling folder and renames it
into place (:func:`write_atomically`), so an interrupted command (Ctrl-C, crash) never leaves a
half-written folder and an existing folder is replaced only with ``force``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from prrt_bayes.core.errors import InputError


def check_out_dir(out_dir: Path, *, force: bool) -> None:
    """Refuse an existing folder without ``force`` and an unwritable parent, before any fit.

    Parameters
    ----------
    out_dir
        The folder to be written (need not exist; missing parents are allowed).
    force
        Accept an existing folder (it is replaced later by :func:`write_atomically`).

    Raises
    ------
    InputError
        ``out_dir`` exists and ``force`` is false; ``out_dir`` exists and is not a folder; it
        is the working folder or one of its parents (it cannot be replaced); or the nearest
        existing ancestor of ``out_dir`` is not a writable, searchable folder.
    """
    out_dir = Path(out_dir)
    if out_dir.resolve() in (Path.cwd().resolve(), *Path.cwd().resolve().parents):
        raise InputError("the output folder must not be the working folder or one of its "
                         "parents; name a new folder", file=out_dir)
    if out_dir.exists() and not force:
        raise InputError("results folder already exists; use --force to replace it",
                         file=out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("exists and is not a folder", file=out_dir)
    parent = out_dir.resolve().parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError("output folder is not writable", file=out_dir)


def write_atomically(out_dir: Path, write: Callable[[Path], None], *, force: bool) -> None:
    """Let ``write`` fill a temporary folder, then move it to ``out_dir`` in one rename.

    The staging folder ``.<name>.partial-*`` is created next to ``out_dir`` and removed on any
    failure (including Ctrl-C). An existing folder is first renamed to ``.<name>.old-*``, the
    staging folder renamed into place, then the old one deleted (two renames, each atomic; if
    the second fails, the old folder is renamed back).

    Parameters
    ----------
    out_dir
        The destination folder.
    write
        Called once with the staging folder (it exists and is empty); writes every output.
    force
        Replace an existing destination folder.

    Raises
    ------
    InputError
        The destination exists and ``force`` is false (checked after writing the staging
        folder, which is then removed).
    """
    out_dir = Path(out_dir)
    out_dir.resolve().parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-",
                                    dir=out_dir.resolve().parent))
    try:
        write(staging)
        if out_dir.exists():
            if not force:
                raise InputError("results folder already exists; use --force", file=out_dir)
            old = staging.with_name(staging.name.replace(".partial-", ".old-"))
            out_dir.rename(old)
            try:
                staging.rename(out_dir)
            except BaseException:
                old.rename(out_dir)
                raise
            shutil.rmtree(old)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
