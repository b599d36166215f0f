"""Strip outputs from the notebooks so that they are committed without them.

Usage::

    python scripts/strip_notebooks.py            # strip notebooks/*.ipynb in place
    python scripts/strip_notebooks.py --check    # exit 1 if any notebook has outputs (CI)
    python scripts/strip_notebooks.py path.ipynb ...

Removes cell outputs, execution counts and per-cell execution metadata; keeps sources, cell
ids and the notebook's kernel metadata. Uses only the standard library (plain JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_METADATA_DROP = ("execution", "collapsed", "scrolled", "ExecuteTime")


def strip(notebook: dict) -> dict:
    """Return the notebook with outputs, execution counts and run metadata removed."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        metadata = cell.get("metadata", {})
        for key in CELL_METADATA_DROP:
            metadata.pop(key, None)
    notebook.get("metadata", {}).pop("widgets", None)
    return notebook


def has_outputs(notebook: dict) -> bool:
    """True when any code cell has outputs or an execution count."""
    return any(
        cell.get("outputs") or cell.get("execution_count") is not None
        for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"
    )


def main(argv: list[str] | None = None) -> int:
    """Strip (or with ``--check`` only inspect) the given notebooks; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/)")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if dirty")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOKS.glob("*.ipynb"))
    dirty = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        notebook = json.loads(text)
        if args.check:
            if has_outputs(notebook):
                dirty.append(path)
            continue
        cleaned = json.dumps(strip(notebook), indent=1, ensure_ascii=False) + "\n"
        if cleaned != text:
            path.write_text(cleaned, encoding="utf-8")
            print(f"stripped {path}")
    for path in dirty:
        print(f"{path}: has outputs (run scripts/strip_notebooks.py)", file=sys.stderr)
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
