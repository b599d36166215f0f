"""Regenerate the bundled US life table ``prrt_bayes/evidence/life_tables/ssa_tr2020_2017.csv``.

The table is the US Social Security Administration (Office of the Chief Actuary) period life
table of the 2020 Trustees Report for calendar year 2017: q(x), the probability that a person of
exact age x dies before exact age x + 1, for ages 0-119, males and females. It is taken from the
copies of the SSA's historical period life tables in the Apache-2.0 repository econ-ark/HARK
(commit 13648b4), ``HARK/Calibration/life_tables/us_ssa/PerLifeTables_{M,F}_Hist_TR2020.csv``
(the SSA's files for calendar years 1900-2017, one block of ages 0-119 per year).

Get the two source files, then run the script from the repository root::

    HARK=<path of a clone of github.com/econ-ark/HARK>
    D=HARK/Calibration/life_tables/us_ssa
    git -C $HARK show 13648b4:$D/PerLifeTables_M_Hist_TR2020.csv > /tmp/M.csv
    git -C $HARK show 13648b4:$D/PerLifeTables_F_Hist_TR2020.csv > /tmp/F.csv
    python scripts/make_life_table.py /tmp/M.csv /tmp/F.csv

It writes the bundled CSV (or ``--out PATH``); ``--check`` compares instead of writing and exits
with status 1 when the bundled file differs. The q(x) values are copied as text, never parsed and
re-printed, so a re-run gives a byte-identical file.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

YEAR = "2017"
AGES = range(0, 120)
HARK_COMMIT = "13648b4"
HARK_DIR = "HARK/Calibration/life_tables/us_ssa"
SSA_PAGE = "https://www.ssa.gov/oact/HistEst/PerLifeTables/2020/PerLifeTables2020.html"
OUT = (Path(__file__).resolve().parents[1] / "prrt_bayes" / "evidence" / "life_tables"
       / "ssa_tr2020_2017.csv")
HEADER_LINES = (
    "# source: SSA OCACT, TR2020, year 2017 (US Social Security Administration, Office of the"
    " Chief Actuary: period life table of the 2020 Trustees Report, calendar year 2017)",
    "# qx: probability that a person of exact age x dies before exact age x + 1 (ages 0-119),"
    " copied verbatim (not rounded)",
    f"# SSA page: {SSA_PAGE}",
    f"# taken from econ-ark/HARK (Apache-2.0), commit {HARK_COMMIT}:"
    f" {HARK_DIR}/PerLifeTables_M_Hist_TR2020.csv and PerLifeTables_F_Hist_TR2020.csv",
    "# US government work, public domain",
    "# regenerate with scripts/make_life_table.py (see its docstring)",
)


def read_year(path: Path, sex_title: str) -> list[str]:
    """The q(x) texts of calendar year 2017, ages 0-119, from one SSA/HARK life-table CSV.

    Parameters
    ----------
    path
        ``PerLifeTables_M_Hist_TR2020.csv`` or ``PerLifeTables_F_Hist_TR2020.csv``.
    sex_title
        ``"Males"`` or ``"Females"``: the title line the file must have (guards against
        swapped arguments).

    Returns
    -------
    list[str]
        120 q(x) texts, ages 0 to 119 in order, exactly as in the file.
    """
    lines = path.read_text(encoding="ascii").splitlines()
    if sex_title not in (line.strip() for line in lines[:4]):
        sys.exit(f"{path}: expected the title line {sex_title!r} in the first lines")
    start = next(i for i, line in enumerate(lines) if line.startswith("Year,"))
    rows = list(csv.reader(lines[start:]))
    header = rows[0]
    year, age, qx = header.index("Year"), header.index("x"), header.index("q(x)")
    found = {int(row[age]): row[qx] for row in rows[1:] if row and row[year] == YEAR}
    if sorted(found) != list(AGES):
        sys.exit(f"{path}: calendar year {YEAR} does not have exactly the ages 0-119")
    return [found[a] for a in AGES]


def render(male: list[str], female: list[str]) -> str:
    """The bundled CSV text: comment lines, header ``age,sex,qx``, males then females.

    Parameters
    ----------
    male, female
        The q(x) texts of ages 0-119 (from :func:`read_year`).

    Returns
    -------
    str
        The file's text, ``\\n`` line endings, ending with a newline.
    """
    rows = [*HEADER_LINES, "age,sex,qx"]
    for sex, values in (("male", male), ("female", female)):
        rows.extend(f"{a},{sex},{q}" for a, q in zip(AGES, values, strict=True))
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or check) the bundled life table from the two HARK source files.

    Parameters
    ----------
    argv
        Command-line arguments (``MALE_CSV FEMALE_CSV [--out PATH] [--check]``); None reads
        ``sys.argv``.

    Returns
    -------
    int
        Exit status: 0, or 1 when ``--check`` finds a difference.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("male_csv", type=Path, help="PerLifeTables_M_Hist_TR2020.csv")
    parser.add_argument("female_csv", type=Path, help="PerLifeTables_F_Hist_TR2020.csv")
    parser.add_argument("--out", type=Path, default=OUT, help="file to write (default: bundled)")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render(read_year(args.male_csv, "Males"), read_year(args.female_csv, "Females"))
    if args.check:
        same = args.out.is_file() and args.out.read_bytes() == text.encode("ascii")
        print(f"{args.out}: {'identical' if same else 'DIFFERS'}")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(text.encode("ascii"))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
