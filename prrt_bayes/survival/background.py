r"""General-population (background) mortality of a trial cohort, from a period life table.

Relative-survival and excess-hazard models split the observed hazard of patients into their
expected hazard in the general population and an excess due to the disease. This module gives
the expected part for a *cohort* described only by published summaries (pseudo-IPD has no
ages): mean and SD of age and the fraction of men.

Life table
    The bundled table (:func:`load_life_table` without a path) is the US Social Security
    Administration (Office of the Chief Actuary) period life table of the 2020 Trustees Report,
    calendar year 2017: :math:`q_x`, the probability that a person of exact age *x* dies
    before exact age *x* + 1, ages 0-119, males and females, copied verbatim from the SSA's files
    as kept in econ-ark/HARK (commit 13648b4; ``scripts/make_life_table.py`` regenerates it; US
    government work, public domain). A user's CSV may replace it (columns ``age, sex, qx`` or
    ``age, sex, mx``).

Method (expected survival of the cohort, Ederer I)
    Age in completed years (as trials report it) is taken to be Normal(``age_mean``,
    ``age_sd``) discretised to whole years: completed age *x* gets the Normal mass of
    :math:`[x - 0.5, x + 0.5)`, ages outside the table's range are dropped and the rest
    renormalised (``age_sd = 0``: everyone has completed age :math:`\lfloor m + 0.5 \rfloor`).
    Each group *g* = (completed age *x*, sex *s*) has weight :math:`w_g` = that mass times the sex
    fraction, and is assumed to be at **exact age x + 0.5 at entry** (birthdays spread evenly
    over the year), so all groups have their birthdays at 6, 18, 30, ... months.

    Within a year of age the hazard is constant, :math:`\mu_{s,x} = -\log(1 - q_{s,x})` per year
    (divided by 12 per month); ages beyond the table's last age keep the last age's hazard. A
    :math:`q` of exactly 1 would give an infinite hazard: it is replaced by the largest double
    below 1 (:math:`1 - 2^{-53}`, hazard :math:`53 \log 2 \approx 36.7` per year, survival through
    that year :math:`1.1 \times 10^{-16}`), so every result stays finite.

    .. math::

        S_g(t) = \exp\Big(-\int_0^{t} \mu_{s_g}(x_g + 0.5 + u/12)\, du/12\Big), \qquad
        S^*(t) = \sum_g w_g S_g(t),

        h^*(t) = \frac{\sum_g w_g S_g(t)\, \mu_g(t)/12}{S^*(t)}, \qquad
        H^*(t) = -\log S^*(t),

    with *t* in months. :math:`h^*` is the hazard of the cohort's expected survival (the
    cohort-average expected hazard, which drifts towards the younger groups as the older ones
    die), not any patient's own expected hazard. The group cumulative hazards are piecewise
    linear in *t* between birthdays; each is evaluated exactly as its (precomputed) cumulative
    hazard at the last birthday plus the current year's hazard times the time since that
    birthday, so the results carry only floating-point rounding error (relative, also for short
    times). At a birthday the hazard is the new year's (right-continuous).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.vocabulary import ARM_LABELS, Arm
from prrt_bayes.evidence import load_netter1

SEXES: tuple[str, str] = ("male", "female")
"""The sex labels of a life table (and their order in :attr:`LifeTable.table`)."""

BUNDLED_LIFE_TABLE = "life_tables/ssa_tr2020_2017.csv"
"""The bundled table, relative to the :mod:`prrt_bayes.evidence` package folder."""

_Q_ONE = float(np.nextafter(1.0, 0.0))  # stands in for q = 1 (see the module docstring)
_CHUNK = 2048  # evaluation times per block (bounds the memory of the times x groups arrays)


@dataclass(frozen=True, eq=False)
class LifeTable:
    """A period life table: annual death probabilities by single year of age and sex.

    Attributes
    ----------
    table
        Columns ``age`` (int, whole years), ``sex`` (``"male"`` / ``"female"``) and ``qx``
        (float, probability of dying before the next birthday), sorted by sex (male first) and
        age; each sex present covers a contiguous range of ages.
    source
        One-line citation of the table.
    path
        The file it was read from.
    """

    table: pd.DataFrame
    source: str
    path: Path


@dataclass(frozen=True)
class Cohort:
    """Age and sex make-up of a trial cohort (summary statistics, no individual ages).

    Attributes
    ----------
    age_mean
        Mean age in completed years.
    age_sd
        Standard deviation of age in years (>= 0; 0 means everyone has the same age).
    male_fraction
        Fraction of men, in [0, 1].
    source
        Where the numbers come from.
    """

    age_mean: float
    age_sd: float
    male_fraction: float
    source: str


# ------------------------------------------------------------------------------------ life table
def _bundled_path() -> Path:
    return Path(str(resources.files("prrt_bayes.evidence").joinpath(BUNDLED_LIFE_TABLE)))


def _read_lines(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Comment texts and ``(line number, cells)`` of the other non-blank lines of a CSV.

    Like :func:`prrt_bayes.reconstruct.curves.read_rows` (same delimiter sniffing), but lines
    starting with ``#`` are comments, kept apart and never parsed as CSV.
    """
    if not path.is_file():
        raise InputError("file not found", file=path)
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    comments = [line.strip()[1:].strip() for line in lines if line.strip().startswith("#")]
    numbered = [(number, line) for number, line in enumerate(lines, start=1)
                if line.strip() and not line.strip().startswith("#")]
    if not numbered:
        raise InputError("file is empty: expected a header age,sex,qx (or age,sex,mx) and rows",
                         file=path, row=1)
    try:
        delimiter = csv.Sniffer().sniff("\n".join(line for _, line in numbered[:20]),
                                        delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    rows = [(number, [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter))])
            for number, line in numbered]
    return comments, rows


def _number(text: str, *, file: Path, row: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"not a number: {text!r}", file=file, row=row, field=column) from None
    if not math.isfinite(value):
        raise InputError(f"not a finite number: {text!r}", file=file, row=row, field=column)
    return value


def _parse_row(cells: list[str], columns: dict[str, int], rate: str, *, file: Path,
               row: int) -> tuple[int, str, float]:
    """One data row as ``(age, sex, qx)``, validated."""
    def cell(name: str) -> str:
        index = columns[name]
        text = cells[index] if index < len(cells) else ""
        if not text:
            raise InputError("missing value", file=file, row=row, field=name)
        return text

    age = _number(cell("age"), file=file, row=row, column="age")
    if age < 0 or not age.is_integer():
        raise InputError(f"age must be a whole number of years >= 0, got {cell('age')!r}",
                         file=file, row=row, field="age")
    sex = cell("sex").lower()
    if sex not in SEXES:
        raise InputError(f"unknown sex label {cell('sex')!r}: use male or female",
                         file=file, row=row, field="sex")
    value = _number(cell(rate), file=file, row=row, column=rate)
    if rate == "qx" and not 0.0 <= value <= 1.0:
        raise InputError(f"qx must be a probability in [0, 1], got {value:g}",
                         file=file, row=row, field="qx")
    if rate == "mx" and value < 0:
        raise InputError(f"mx must be a rate >= 0, got {value:g}", file=file, row=row,
                         field="mx")
    qx = value if rate == "qx" else float(-np.expm1(-value))
    return int(age), sex, qx


def _check_ages(ages: dict[tuple[int, str], int], *, file: Path) -> None:
    """Each sex present covers its ages without a gap (names the first missing age)."""
    for sex in SEXES:
        present = sorted(age for age, s in ages if s == sex)
        for previous, following in zip(present, present[1:], strict=False):
            if following != previous + 1:
                raise InputError(
                    f"{sex}: age {previous + 1} is missing (ages must run without gaps from "
                    f"{present[0]} to {present[-1]})",
                    file=file, row=ages[(following, sex)], field="age",
                )


def load_life_table(path: Path | None = None) -> LifeTable:
    """Read and validate a life table (the bundled SSA 2017 table by default).

    A CSV with a header row and one row per age and sex; lines starting with ``#`` are comments
    (allowed anywhere). Columns (names case-insensitive; other columns are ignored):

    - ``age``: whole years (>= 0);
    - ``sex``: ``male`` or ``female`` (case-insensitive);
    - ``qx``: probability of dying before the next birthday, in [0, 1]; **or** ``mx``: the
      annual death rate per person-year (>= 0), converted to :math:`q_x = 1 - e^{-m_x}`.

    Each sex present must cover a contiguous range of ages; a table may have one sex only (a
    cohort needing the other is rejected by :func:`cohort_background`).

    Parameters
    ----------
    path
        A user's CSV, or None for the bundled US SSA period life table (TR2020, calendar year
        2017, ages 0-119).

    Returns
    -------
    LifeTable
        The table (columns ``age``, ``sex``, ``qx``, sorted by sex then age), its source (the
        text after ``source:`` in the first comment line that has it, else the first comment
        line, else ``"life table <file name>"``) and the path read.

    Raises
    ------
    InputError
        A missing or empty file, a missing column (``age``, ``sex``, ``qx``/``mx``), both
        ``qx`` and ``mx``, a value that is not a finite number, an age that is negative or not
        whole, a ``qx`` outside [0, 1] or a negative ``mx``, an unknown sex label, a duplicate
        (age, sex), or a missing age within a sex's range; with the file, line and column.
    """
    file = _bundled_path() if path is None else Path(path)
    comments, rows = _read_lines(file)
    (header_line, header), data = rows[0], rows[1:]
    names = [cell.lower() for cell in header]
    columns = {name: names.index(name) for name in ("age", "sex", "qx", "mx") if name in names}
    missing = [name for name in ("age", "sex") if name not in columns]
    if "qx" not in columns and "mx" not in columns:
        missing.append("qx")
    if missing:
        raise InputError(
            f"missing column {', '.join(missing)}: expected a header age,sex,qx (or age,sex,mx)"
            f", got {','.join(header)!r}",
            file=file, row=header_line, field=missing[0],
        )
    if "qx" in columns and "mx" in columns:
        raise InputError("both qx and mx columns: give one of them", file=file,
                         row=header_line, field="mx")
    if not data:
        raise InputError("no rows after the header", file=file, row=header_line)
    rate = "qx" if "qx" in columns else "mx"
    seen: dict[tuple[int, str], int] = {}
    records = []
    for line, cells in data:
        age, sex, qx = _parse_row(cells, columns, rate, file=file, row=line)
        if (age, sex) in seen:
            raise InputError(f"duplicate age {age} for {sex} (first on line {seen[(age, sex)]})",
                             file=file, row=line, field="age")
        seen[(age, sex)] = line
        records.append((age, sex, qx))
    _check_ages(seen, file=file)
    table = pd.DataFrame(records, columns=["age", "sex", "qx"]).astype(
        {"age": "int64", "sex": str, "qx": "float64"})
    table = table.sort_values(["sex", "age"], key=lambda c: c.map(SEXES.index)
                              if c.name == "sex" else c, kind="stable").reset_index(drop=True)
    cited = [c.split(":", 1)[1].strip() for c in comments if c.lower().startswith("source:")]
    source = cited[0] if cited else (comments[0] if comments else f"life table {file.name}")
    return LifeTable(table, source, file)


# ---------------------------------------------------------------------------------------- cohort
def netter1_cohort(arm: str) -> Cohort:
    """Age and sex of a NETTER-1 arm (NEJM 2017 Table 1), read from the bundled evidence.

    Parameters
    ----------
    arm
        ``"lu177"`` or ``"control"`` (:class:`~prrt_bayes.core.vocabulary.Arm`).

    Returns
    -------
    Cohort
        ``age_mean`` and ``age_sd`` as printed (177Lu-Dotatate 63 ± 9 years, control 64 ± 10),
        ``male_fraction`` = men / patients randomised, the exact ratio (63/116, 53/113), and a
        source naming the records.

    Raises
    ------
    InputError
        An unknown arm, or a record missing from the evidence file.
    """
    if arm not in {a.value for a in Arm}:
        raise InputError(f"unknown arm {arm!r}: use lu177 or control", field="arm")
    evidence = load_netter1()
    cut = "primary_2015"
    age = evidence.get(cut, "age_mean_years", arm)
    sd = evidence.get(cut, "age_sd_years", arm)
    men = evidence.get(cut, "male_patients", arm)
    randomised = evidence.get(cut, "n_randomised", arm)
    citation = evidence.sources[age.source].citation
    return Cohort(
        age_mean=age.value, age_sd=sd.value, male_fraction=men.value / randomised.value,
        source=f"NETTER-1 {ARM_LABELS[arm]} arm, {age.locator} of {citation}",
    )


# --------------------------------------------------------------------------- expected mortality
def _age_weights(mean: float, sd: float, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Completed ages and their Normal(mean, sd) masses, truncated to [first, last], summing to 1.

    The mass of age *x* is that of [x - 0.5, x + 0.5); tails are taken from the side where the
    CDF difference is accurate (``sf`` above the mean), so far-tail masses keep their precision.
    """
    if sd == 0:
        return np.array([math.floor(mean + 0.5)]), np.array([1.0])
    ages = np.arange(first, last + 1)
    lower, upper = (ages - 0.5 - mean) / sd, (ages + 0.5 - mean) / sd
    mass = np.where(upper <= 0, norm.cdf(upper) - norm.cdf(lower),
                    norm.sf(lower) - norm.sf(upper))
    keep = mass > 0
    return ages[keep], mass[keep] / mass[keep].sum()


def _check_cohort(table: LifeTable, cohort: Cohort) -> list[str]:
    """Validate a cohort against a table; the sexes it needs."""
    file = table.path
    if not (math.isfinite(cohort.age_sd) and cohort.age_sd >= 0):
        raise InputError(f"age_sd must be a finite number >= 0, got {cohort.age_sd}", file=file,
                         field="age_sd")
    if not (math.isfinite(cohort.male_fraction) and 0 <= cohort.male_fraction <= 1):
        raise InputError(f"male_fraction must be in [0, 1], got {cohort.male_fraction}",
                         file=file, field="male_fraction")
    needed = [sex for sex, share in zip(SEXES, (cohort.male_fraction, 1 - cohort.male_fraction),
                                        strict=True) if share > 0]
    present = set(table.table["sex"])
    for sex in needed:
        if sex not in present:
            raise InputError(
                f"the cohort needs {sex} rates (male_fraction = {cohort.male_fraction:g}) but "
                f"the life table has only {', '.join(sorted(present))}",
                file=file, field="male_fraction",
            )
        ages = table.table.loc[table.table["sex"] == sex, "age"]
        if not (math.isfinite(cohort.age_mean)
                and ages.min() <= cohort.age_mean <= ages.max()):
            raise InputError(
                f"age_mean {cohort.age_mean} is outside the life table's {sex} ages "
                f"{ages.min()}-{ages.max()}",
                file=file, field="age_mean",
            )
    return needed


@dataclass(frozen=True, eq=False)
class BackgroundMortality:
    """Expected (general-population) hazard, cumulative hazard and survival of a cohort.

    Built by :func:`cohort_background`; times are months since entry. See the module docstring
    for the method (Ederer I expected survival of age-sex groups, exact piecewise-constant
    hazards within each year of age).

    Attributes
    ----------
    table
        The life table.
    cohort
        The cohort's age and sex make-up.
    description
        One line: the table's source and the cohort's numbers.
    groups
        One row per age-sex group: ``sex``, ``age`` (completed years), ``entry_age`` (exact
        age at entry, ``age + 0.5``) and ``weight`` (summing to 1).
    """

    table: LifeTable
    cohort: Cohort
    description: str = field(init=False)
    groups: pd.DataFrame = field(init=False, repr=False)

    def __post_init__(self) -> None:
        needed = _check_cohort(self.table, self.cohort)
        shares = {"male": self.cohort.male_fraction, "female": 1 - self.cohort.male_fraction}
        frames, mu_parts, to_birthday, offset = [], [], [], 0
        for sex in needed:
            rows = self.table.table[self.table.table["sex"] == sex]
            first, last = int(rows["age"].min()), int(rows["age"].max())
            # 1 - q is exact in floating point, -log1p(-q) the most accurate hazard
            mu = -np.log1p(-np.minimum(rows["qx"].to_numpy(float), _Q_ONE))
            ages, mass = _age_weights(self.cohort.age_mean, self.cohort.age_sd, first, last)
            frames.append(pd.DataFrame({
                "sex": sex, "age": ages, "entry_age": ages + 0.5, "weight": shares[sex] * mass,
                "_index": offset + ages - first, "_top": last - ages,
            }))
            # cumulative hazard from entry (age x + 0.5) to the n-th birthday, n = 0..last - x + 1
            for i in ages - first:
                later = np.concatenate([[0.0], np.cumsum(mu[i + 1:])])  # whole years after
                to_birthday.append(np.concatenate([[0.0], 0.5 * mu[i] + later]))
            mu_parts.append(mu)
            offset += len(mu)
        groups = pd.concat(frames, ignore_index=True)
        mu = np.concatenate(mu_parts)
        index, top = groups["_index"].to_numpy(), groups["_top"].to_numpy()
        rates = {
            "mu": mu, "index": index, "top": top, "last_mu": mu[index + top],
            "to_birthday": np.concatenate(to_birthday),
            "start": np.concatenate([[0], np.cumsum(top + 2)[:-1]]),
            "weight": groups["weight"].to_numpy(),
            "log_weight": np.log(groups["weight"].to_numpy()),
        }
        object.__setattr__(self, "_rates", rates)
        object.__setattr__(self, "groups", groups[["sex", "age", "entry_age", "weight"]])
        ages = groups["age"]
        object.__setattr__(self, "description", (
            f"general-population mortality: {self.table.source}; cohort age "
            f"{self.cohort.age_mean:g} ± {self.cohort.age_sd:g} years (Normal over completed "
            f"ages {ages.min()}-{ages.max()}), {100 * self.cohort.male_fraction:.1f}% male "
            f"({self.cohort.source})"))

    def _groups_at(self, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each group's cumulative hazard since entry and hazard per year, ``years`` after entry.

        ``years`` is a column (one row per time); the results have one column per group. All
        groups have birthdays at 0.5, 1.5, ... years, so the number of birthdays passed is the
        same for all; beyond the table's last age its hazard continues. The time since the last
        birthday is computed without adding ``years`` to an age, so short times keep full
        relative precision.
        """
        rates = self._rates
        birthdays = np.floor(years + 0.5)
        mu = rates["mu"][rates["index"] + np.minimum(birthdays, rates["top"]).astype(np.int64)]
        tabled = np.minimum(birthdays, rates["top"] + 1).astype(np.int64)
        since = np.where(birthdays == 0, years, (years + 0.5) - birthdays)
        cumulative = (rates["to_birthday"][rates["start"] + tabled]
                      + rates["last_mu"] * (birthdays - tabled) + mu * since)
        return cumulative, mu

    def _evaluate(self, t_months) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
        """log S*(t) and h*(t) (per month), flattened, and the shape of ``t_months``.

        log S* is ``log1p(sum_g w_g expm1(-H_g))`` while S* > 1/2 (exact 0 at t = 0, full
        precision for small cumulative hazards) and a log-sum-exp of ``log w_g - H_g`` below
        (no underflow however long the time).
        """
        t = np.asarray(t_months, dtype=float)
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InputError("times must be finite and >= 0 (months since entry)",
                             field="t_months")
        flat = t.reshape(-1)
        rates = self._rates
        log_s, hazard = np.empty(flat.size), np.empty(flat.size)
        for start in range(0, flat.size, _CHUNK):
            cumulative, mu = self._groups_at(flat[start:start + _CHUNK, None] / 12.0)
            logits = rates["log_weight"] - cumulative
            top = logits.max(axis=1, keepdims=True)
            scaled = np.exp(logits - top)  # w_g S_g(t) / max_g w_g S_g(t): no underflow of all
            total = scaled.sum(axis=1)
            deficit = (np.expm1(-cumulative) * rates["weight"]).sum(axis=1)  # S*(t) - 1
            log_s[start:start + _CHUNK] = np.where(
                deficit > -0.5, np.log1p(np.maximum(deficit, -0.5)), top[:, 0] + np.log(total))
            hazard[start:start + _CHUNK] = (scaled * mu).sum(axis=1) / total / 12.0
        return log_s, hazard, t.shape

    def hazard(self, t_months) -> np.ndarray:
        """Expected hazard of the cohort per month, :math:`h^*(t)`.

        Parameters
        ----------
        t_months
            Months since entry (>= 0), a number or an array of any shape.

        Returns
        -------
        numpy.ndarray
            Hazard per month, same shape as ``t_months``.

        Raises
        ------
        InputError
            A negative or non-finite time.
        """
        _, hazard, shape = self._evaluate(t_months)
        return hazard.reshape(shape)

    def cumulative_hazard(self, t_months) -> np.ndarray:
        """Expected cumulative hazard of the cohort, :math:`H^*(t) = -\\log S^*(t)`.

        Parameters
        ----------
        t_months
            Months since entry (>= 0), a number or an array of any shape.

        Returns
        -------
        numpy.ndarray
            Cumulative hazard, same shape as ``t_months`` (0 at ``t = 0``).

        Raises
        ------
        InputError
            A negative or non-finite time.
        """
        log_s, _, shape = self._evaluate(t_months)
        return (0.0 - log_s).reshape(shape)  # 0.0 - x: no -0.0 at t = 0

    def survival(self, t_months) -> np.ndarray:
        """Expected survival of the cohort, :math:`S^*(t)` (Ederer I).

        Parameters
        ----------
        t_months
            Months since entry (>= 0), a number or an array of any shape.

        Returns
        -------
        numpy.ndarray
            Survival probability, same shape as ``t_months`` (1 at ``t = 0``).

        Raises
        ------
        InputError
            A negative or non-finite time.
        """
        log_s, _, shape = self._evaluate(t_months)
        return np.exp(log_s).reshape(shape)


def cohort_background(table: LifeTable, cohort: Cohort) -> BackgroundMortality:
    """Expected general-population mortality of a cohort from a life table.

    Parameters
    ----------
    table
        Life table (:func:`load_life_table`).
    cohort
        Age and sex make-up (e.g. :func:`netter1_cohort`).

    Returns
    -------
    BackgroundMortality
        Hazard, cumulative hazard and survival functions of months since entry.

    Raises
    ------
    InputError
        (file = the table's path, field = the cohort attribute) ``age_mean`` outside the table's
        ages for a sex the cohort needs, ``age_sd`` negative, ``male_fraction`` outside [0, 1],
        or a sex the cohort needs (male when ``male_fraction > 0``, female when it is < 1) that
        the table lacks.
    """
    return BackgroundMortality(table, cohort)
