"""Results folders: refused without --force, never the working folder, published atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from prrt_bayes.core.errors import InputError
from prrt_bayes.pipeline.folders import check_out_dir, write_atomically


def _write(text: str):
    def write(folder: Path) -> None:
        (folder / "summary.csv").write_text(text)
    return write


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_working_folder_and_its_parents_are_refused(tmp_path, monkeypatch):
    work = tmp_path / "project" / "analysis"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for out in (Path("."), Path(".."), work, tmp_path):
        with pytest.raises(InputError, match="must not be the working folder"):
            check_out_dir(out, force=True)
    check_out_dir(Path("results"), force=False)  # a new folder below is fine


def test_existing_folder_needs_force_and_is_replaced_whole(tmp_path):
    out = tmp_path / "out"
    write_atomically(out, _write("first"), force=False)
    (out / "notes.txt").write_text("user file")
    with pytest.raises(InputError, match="already exists"):
        check_out_dir(out, force=False)
    with pytest.raises(InputError, match="already exists"):
        write_atomically(out, _write("second"), force=False)
    assert (out / "summary.csv").read_text() == "first" and _hidden(tmp_path) == []
    write_atomically(out, _write("second"), force=True)
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]
    assert (out / "summary.csv").read_text() == "second" and _hidden(tmp_path) == []


def test_a_failing_writer_leaves_the_old_folder_untouched(tmp_path):
    out = tmp_path / "out"
    write_atomically(out, _write("first"), force=False)

    def crash(folder: Path) -> None:
        (folder / "summary.csv").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(out, crash, force=True)
    assert (out / "summary.csv").read_text() == "first" and _hidden(tmp_path) == []


def test_a_failing_final_rename_puts_the_old_folder_back(tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_atomically(out, _write("first"), force=False)
    rename = Path.rename

    def flaky(self, target):
        if ".partial-" in self.name:
            raise OSError("device busy")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", flaky)
    with pytest.raises(OSError, match="device busy"):
        write_atomically(out, _write("second"), force=True)
    assert (out / "summary.csv").read_text() == "first" and _hidden(tmp_path) == []
