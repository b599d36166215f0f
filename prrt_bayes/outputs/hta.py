r"""Health-technology-assessment exports: PSA draws, per-cycle survival, partitioned survival.

:func:`write_psa` turns fitted analyses (:class:`~prrt_bayes.core.results.AnalysisResult`) into the
probabilistic-sensitivity-analysis (PSA) inputs of a partitioned-survival cost-effectiveness
model, in ``out_dir/psa/``:

- ``parameters_<analysis>.csv``: model parameters on the real line (log scale for positive
  ones), one row per PSA sample, one column per parameter (the layout of hesim's
  ``params_surv``), with the ``chain`` and ``draw`` each sample came from;
- ``survival.parquet``: long format ``sample, endpoint, analysis, arm, cycle, time_months,
  survival``: S(t) per PSA sample, arm and cycle for every PFS and OS analysis, PFS capped at OS
  (Parquet, zstd-compressed, survival as float32; read it with ``pandas.read_parquet`` or R's
  ``arrow::read_parquet``);
- ``life_years.csv``: per PSA sample and arm, life-years and progression-free life-years of
  each PFS/OS pair (:func:`partitioned_survival`);
- ``pfs_os_pairs.csv``: which OS analysis bounds each PFS analysis, and how many samples
  needed the bound;
- ``psa.xlsx``: a ``README`` sheet describing every column first, the parameter tables, one
  survival sheet per analysis and arm in the layout of a cost-effectiveness model (one row per
  cycle: ``cycle, time_months``, then one column per PSA sample ``sample_0, sample_1, ...``),
  the life-years and the pairs. Written by :mod:`prrt_bayes.outputs.workbook` (streaming,
  about 2 s for 6 curves x 361 cycles x 1,000 samples). There is no CSV copy of the wide
  survival tables: at about 10 bytes a value, 6 x 361 x 1,000 values would add 22 MB to a
  results folder budgeted at 30 MB, and the Parquet file holds the same numbers.

Precision. The exported survival values are the float32 cast of the (capped) float64 draws,
relative rounding below :math:`2^{-24} \approx 6 \times 10^{-8}`; the workbook shows them with 7
significant digits (``%.7g`` of the float32 value, relative difference below
:math:`5 \times 10^{-7}`). Both are orders of magnitude below the Monte Carlo error of a
1,000-sample PSA (the standard error of a mean survival probability is about
:math:`\mathrm{sd}/\sqrt{1000}`, i.e. 1e-3 for a posterior sd of 0.03), and both roundings are
monotone, so PFS <= OS survives them. Life-years are computed from the float64 curves before
the cast; parameters and life-years are written with 10 significant digits (CSV and workbook),
as ``summary.csv``.

Thinning. The chains are pooled in chain-major order (all draws of chain 0, then chain 1, ...)
and the sample at position :math:`\lfloor kN/n \rfloor`, :math:`k = 0..n-1`, is kept: evenly
spaced, deterministic, the same posterior draw for the parameters and the curves of one
analysis. Every analysis is thinned to the same number of samples ``n`` (``n_draws``, or fewer
if some analysis has fewer posterior draws), so sample ``k`` exists in every table.

PFS <= OS. PFS and OS are fitted separately, so a draw can have a PFS curve above the OS
curve, which is impossible (progression-free implies alive) and would give a negative
progressed state. Each PFS analysis is paired with the OS analysis its spec names
(``export.pair_with``; pass ``pairs`` to choose otherwise), the
``k``-th PFS sample with the ``k``-th OS sample (an independence assumption between the two
fits), and PFS is replaced by :math:`\min(S_{PFS}, S_{OS})` cycle by cycle. The number of
samples that needed it is reported.

Untrusted text (analysis, arm, event names from user files) goes through
:func:`prrt_bayes.outputs.safe_text.escape_cell` in every CSV, Parquet and Excel string cell
(and header), so the names match across files;
file and sheet names are reduced by :func:`prrt_bayes.outputs.safe_text.safe_name` (sheet names
to 31 characters, de-duplicated with ``_2``, ``_3``; the README maps each sheet to its analysis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import xarray as xr

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.results import AnalysisResult
from prrt_bayes.core.summary import summarize_draws, summary_frame
from prrt_bayes.core.vocabulary import LIFE_YEAR_QUANTITIES, Arm, Endpoint
from prrt_bayes.outputs.safe_text import escape_cell, safe_name
from prrt_bayes.outputs.workbook import MAX_COLUMNS, Sheet, write_workbook

SURVIVAL_COLUMNS: tuple[str, ...] = (
    "sample", "endpoint", "analysis", "arm", "cycle", "time_months", "survival",
)
CONTRAST = (Arm.LU177.value, Arm.CONTROL.value)
SURVIVAL_DTYPE = np.float32
"""Type of the exported survival values (``survival.parquet``; the workbook rounds further)."""
WORKBOOK_FORMAT = "%.7g"
"""Format of a survival value in the workbook: 7 significant digits of the float32 value."""
TABLE_FORMAT = "%.10g"
"""Format of the parameters and life-years (CSV and workbook): 10 significant digits."""
_GRID_RTOL = 1e-9


# --------------------------------------------------------------------------- thinning


def even_positions(n_total: int, n: int) -> np.ndarray:
    r"""Positions :math:`\lfloor kN/n \rfloor`, ``k = 0..n-1``: ``n`` evenly spaced of ``N``.

    Parameters
    ----------
    n_total
        :math:`N`, the number of pooled posterior draws to choose from.
    n
        :math:`n`, the number of positions to keep.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of shape ``(n,)``, strictly increasing, starting at 0, all below
        ``n_total``.

    Raises
    ------
    ValueError
        ``n`` is not in ``1..n_total``.
    """
    if not 1 <= n <= n_total:
        raise ValueError(f"cannot thin {n_total} draws to {n}")
    return (np.arange(n, dtype=np.int64) * n_total) // n


def _pooled(surv: xr.DataArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Survival draws as (sample, time) in chain-major order, with the chain and draw labels."""
    if "time" not in surv.dims or set(surv.dims) != {"chain", "draw", "time"}:
        raise ValueError(f"survival draws need dims (chain, draw, time), got {surv.dims}")
    surv = surv.sortby("chain").sortby("draw").transpose("chain", "draw", "time")
    n_chain, n_draw = surv.sizes["chain"], surv.sizes["draw"]
    chain = np.repeat(surv["chain"].values, n_draw)
    draw = np.tile(surv["draw"].values, n_chain)
    return surv.values.reshape(n_chain * n_draw, -1), chain, draw


def _pooled_parameters(frame: pd.DataFrame) -> pd.DataFrame:
    """Parameter draws sorted chain-major (the order of :func:`_pooled`)."""
    missing = {"chain", "draw"} - set(frame.columns)
    if missing:
        raise ValueError(f"parameters need columns chain and draw, missing {sorted(missing)}")
    return frame.sort_values(["chain", "draw"], kind="stable").reset_index(drop=True)


def _n_total(result: AnalysisResult) -> int:
    """Number of pooled posterior draws of an analysis (survival curves or parameters)."""
    if result.survival:
        first = next(iter(result.survival.values()))
        return int(first.sizes["chain"] * first.sizes["draw"])
    return len(result.parameters)


# --------------------------------------------------------------------------- PFS <= OS


def enforce_pfs_le_os(pfs: np.ndarray, os: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cap PFS at OS elementwise; also return which samples (rows) needed it.

    Parameters
    ----------
    pfs, os
        Arrays ``(sample, time)`` of survival probabilities, sample ``k`` paired with ``k``.

    Returns
    -------
    capped : numpy.ndarray
        New array ``min(pfs, os)``, shape ``(sample, time)``.
    adjusted : numpy.ndarray
        Boolean, shape ``(sample,)``: True if PFS exceeded OS at some time.

    Raises
    ------
    ValueError
        ``pfs`` and ``os`` differ in shape.
    """
    if pfs.shape != os.shape:
        raise ValueError(f"PFS draws {pfs.shape} and OS draws {os.shape} do not pair up")
    above = pfs > os
    return np.where(above, os, pfs), above.any(axis=-1)


# --------------------------------------------------------------------------- partitioned survival


@dataclass
class PartitionedSurvival:
    """Life-years per sample and arm from a PFS and an OS curve (partitioned survival).

    Attributes
    ----------
    draws : one row per sample and arm: ``sample, arm, life_years,
        progression_free_life_years``.
    summary : rows in the summary vocabulary (quantities :data:`LIFE_YEAR_QUANTITIES`, per arm
        and, when both arms exist, the contrast ``lu177_vs_control`` = difference).
    n_adjusted : arm -> number of samples in which PFS had to be capped at OS.
    discount_rate : annual discount rate used (0 = undiscounted).
    """

    draws: pd.DataFrame
    summary: pd.DataFrame
    n_adjusted: dict[str, int]
    discount_rate: float


def _cycle_values(surv: xr.DataArray, times: np.ndarray) -> np.ndarray:
    """S at ``times`` as (sample, time), all non-time dims flattened in their order."""
    if "time" not in surv.dims:
        raise InputError("survival draws need a 'time' dimension")
    grid = surv["time"].values.astype(float)
    idx = np.searchsorted(grid, times)
    idx = np.clip(idx, 0, len(grid) - 1)
    missing = ~np.isclose(grid[idx], times, rtol=_GRID_RTOL, atol=1e-9)
    if missing.any():
        raise InputError(
            f"cycle time {times[missing][0]:g} months is not on the survival grid "
            f"(0 to {grid.max():g} months)", field="cycle_months",
        )
    values = surv.transpose(..., "time").values
    return values.reshape(-1, values.shape[-1])[:, idx]


def cycle_times(cycle_months: float, horizon: float) -> np.ndarray:
    """Cycle start times ``0, c, 2c, ..., horizon`` in months (horizon a multiple of c).

    Parameters
    ----------
    cycle_months
        Cycle length ``c`` in months (> 0).
    horizon
        Time horizon in months (> 0); must be a whole number of cycles (tolerance 1e-9).

    Returns
    -------
    numpy.ndarray
        Float array of the ``horizon / c + 1`` cycle boundaries, from 0 to ``horizon``.

    Raises
    ------
    InputError
        A non-positive cycle length or horizon, or a horizon that is not a whole number of
        cycles.
    """
    if not (cycle_months > 0 and horizon > 0):
        raise InputError(f"cycle length ({cycle_months}) and horizon ({horizon}) must be > 0")
    n_cycles = horizon / cycle_months
    if not np.isclose(n_cycles, round(n_cycles), rtol=0, atol=1e-9):
        raise InputError(
            f"horizon {horizon:g} months is not a whole number of {cycle_months:g}-month cycles",
            field="horizon",
        )
    return np.arange(round(n_cycles) + 1) * cycle_months


def _life_years(s: np.ndarray, cycle_months: float, discount: np.ndarray) -> np.ndarray:
    """Trapezoid (half-cycle corrected) area under S per sample, in years, discounted."""
    per_cycle = 0.5 * (s[:, :-1] + s[:, 1:]) * cycle_months / 12.0
    return per_cycle @ discount


def partitioned_survival(
    pfs: Mapping[str, xr.DataArray],
    os: Mapping[str, xr.DataArray],
    cycle_months: float,
    horizon: float,
    *,
    discount_rate: float = 0.0,
    analysis: str = Endpoint.PARTITIONED_SURVIVAL,
) -> PartitionedSurvival:
    r"""Life-years (LY) and progression-free life-years (PFLY) per arm of a partitioned model.

    Per arm, with cycle length :math:`h` months, cycle times :math:`t_k = kh` up to the horizon
    and :math:`d_k = (1 + r)^{-(t_k + h/2)/12}` (annual rate :math:`r`, mid-cycle; 1 if
    undiscounted),

    .. math::

        LY = \frac{1}{12}\sum_k h\,\frac{S_{OS}(t_k) + S_{OS}(t_{k+1})}{2}\,d_k, \qquad
        PFLY = \text{same with } \min(S_{PFS}, S_{OS}).

    This is the trapezoid rule (the half-cycle correction). Discretisation error: for an
    exponential curve :math:`S = e^{-\lambda t}` it overestimates the exact integral
    :math:`(1 - e^{-\lambda H})/\lambda` by exactly the factor
    :math:`(x/2)\coth(x/2) = 1 + x^2/12 - x^4/720 + \dots` with :math:`x = \lambda h`, i.e. a
    relative error below :math:`(\lambda h)^2/12` (2e-4 for a 14-month median with monthly
    cycles); in general below :math:`h^2 \max|S''| H / 12` months.

    Parameters
    ----------
    pfs, os
        Arm -> survival draws (any sample dims, e.g. ``chain, draw``, plus ``time`` in months);
        the ``k``-th PFS draw is paired with the ``k``-th OS draw (an independence assumption
        between the two fits). With different numbers of draws (e.g. posteriors pooled over
        different numbers of reconstruction members) the larger set is thinned evenly to the
        smaller (:func:`even_positions`, as in the PSA).
    cycle_months, horizon
        Cycle length and horizon (months); every cycle time must be on the curves' grid.
    discount_rate
        Annual discount rate for outcomes (e.g. 0.035); 0 = undiscounted.
    analysis
        Label of the summary rows (e.g. ``"pfs_primary+os_final"``).

    Returns
    -------
    PartitionedSurvival
        ``draws`` (one row per sample and arm), ``summary`` rows (per arm, plus the
        ``lu177_vs_control`` difference when both arms exist), ``n_adjusted`` per arm.

    Raises
    ------
    InputError
        PFS and OS arms differ, ``discount_rate`` is outside ``[0, 1)``, the cycle settings are
        invalid (see :func:`cycle_times`), or a cycle time is not on a curve's ``time`` grid.
    """
    if set(pfs) != set(os):
        raise InputError(f"PFS arms {sorted(pfs)} and OS arms {sorted(os)} differ")
    if not 0 <= discount_rate < 1:
        raise InputError(f"discount rate {discount_rate} must be in [0, 1)", field="discount_rate")
    times = cycle_times(cycle_months, horizon)
    discount = (1.0 + discount_rate) ** (-(times[:-1] + cycle_months / 2) / 12.0)
    frames, rows, n_adjusted, per_arm = [], [], {}, {}
    for arm in pfs:
        s_os, s_pfs = _cycle_values(os[arm], times), _cycle_values(pfs[arm], times)
        n = min(len(s_os), len(s_pfs))  # e.g. pooled over different numbers of members
        s_os, s_pfs = (s[even_positions(len(s), n)] for s in (s_os, s_pfs))
        s_pfs, adjusted = enforce_pfs_le_os(s_pfs, s_os)
        n_adjusted[arm] = int(adjusted.sum())
        values = {"life_years": _life_years(s_os, cycle_months, discount),
                  "progression_free_life_years": _life_years(s_pfs, cycle_months, discount)}
        per_arm[arm] = values
        frames.append(pd.DataFrame({"sample": np.arange(len(s_os)), "arm": arm, **values}))
        rows += [summarize_draws(v, quantity=q, group=arm, endpoint=Endpoint.PARTITIONED_SURVIVAL,
                                 analysis=analysis) for q, v in values.items()]
    if set(CONTRAST) <= set(per_arm):
        treated, control = (per_arm[a] for a in CONTRAST)
        rows += [summarize_draws(treated[q] - control[q], quantity=q, group="_vs_".join(CONTRAST),
                                 endpoint=Endpoint.PARTITIONED_SURVIVAL, analysis=analysis)
                 for q in LIFE_YEAR_QUANTITIES]
    summary = summary_frame(rows)
    summary.attrs["discount_rate"] = discount_rate
    return PartitionedSurvival(
        draws=pd.concat(frames, ignore_index=True), summary=summary,
        n_adjusted=n_adjusted, discount_rate=discount_rate,
    )


# --------------------------------------------------------------------------- pairing


def pair_pfs_with_os(
    results: Sequence[AnalysisResult], pairs: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Choose the OS analysis that bounds each PFS analysis; return one row per PFS analysis.

    Parameters
    ----------
    results
        Fitted analyses; only those with ``survival`` curves and endpoint ``pfs`` or ``os``
        take part.
    pairs
        Optional explicit ``{pfs analysis name: os analysis name}``; a PFS analysis not in it
        is paired with the OS analysis its spec names (``export.pair_with``, carried as
        ``AnalysisResult.psa_pair``). Without either, or when the named OS analysis is not in
        this run, it stays unpaired and the rule says so.

    Returns
    -------
    pandas.DataFrame
        Columns ``pfs_analysis, os_analysis, rule`` (``rule``: how the pair was chosen), in the
        order of ``results``; ``os_analysis = ""`` for an unpaired PFS analysis (PFS <= OS not
        enforced).

    Raises
    ------
    InputError
        A pair in ``pairs`` that does not name a PFS and an OS analysis of ``results``.
    """
    pfs = [r for r in results if r.endpoint == Endpoint.PFS and r.survival]
    os_names = [r.name for r in results if r.endpoint == Endpoint.OS and r.survival]
    pfs_names = [r.name for r in pfs]
    pairs = dict(pairs or {})
    unknown = [(p, o) for p, o in pairs.items() if p not in pfs_names or o not in os_names]
    if unknown:
        raise InputError(f"PFS/OS pair {unknown[0]} does not name a PFS and an OS analysis "
                         f"(PFS: {pfs_names}, OS: {os_names})", field="pairs")
    rows = []
    for result in pfs:
        name, named = result.name, result.psa_pair
        if name in pairs:
            rows.append((name, pairs[name], "chosen explicitly"))
        elif named is not None and named in os_names:
            rows.append((name, named, f"export.pair_with = {named!r} in the spec"))
        elif named is not None:
            rows.append((name, "", f"export.pair_with = {named!r} is not in this run: "
                                   "PFS <= OS not enforced"))
        else:
            rows.append((name, "", "no export.pair_with in the spec: PFS <= OS not enforced"))
    return pd.DataFrame(rows, columns=["pfs_analysis", "os_analysis", "rule"])


# --------------------------------------------------------------------------- write_psa


@dataclass
class PsaReport:
    """What :func:`write_psa` wrote and what it had to do.

    Attributes
    ----------
    n_samples : PSA samples per analysis (``n_draws`` unless an analysis had fewer draws).
    n_draws_requested : the ``n_draws`` asked for.
    positions : analysis -> kept positions in its pooled chain-major posterior draws.
    pairs : one row per PFS analysis: ``pfs_analysis, os_analysis, rule, n_samples,
        n_samples_adjusted`` (samples where PFS was capped at OS in at least one arm and cycle).
    enforcement : per pair and arm: ``pfs_analysis, os_analysis, arm, n_samples,
        n_samples_adjusted, n_cells_adjusted, max_excess`` (largest PFS - OS before capping).
    life_years : summary rows (vocabulary) of :func:`partitioned_survival` per pair.
    discount_rate : annual discount rate of the life-years (0 = undiscounted).
    files : every file written.
    excluded : analyses with draws that failed their convergence checks: not exported (an
        unconverged fit is not a result).
    unconverged : analyses that failed their convergence checks and were exported all the
        same (``allow_unconverged``); every file then starts with :func:`unconverged_warning`.
    """

    n_samples: int
    n_draws_requested: int
    positions: dict[str, np.ndarray]
    pairs: pd.DataFrame
    enforcement: pd.DataFrame
    life_years: pd.DataFrame
    discount_rate: float = 0.0
    files: list[Path] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    unconverged: list[str] = field(default_factory=list)


@dataclass
class _Curves:
    """Thinned survival draws of one analysis: arm -> (sample, cycle) array, on one grid."""

    result: AnalysisResult
    times: np.ndarray
    arms: dict[str, np.ndarray]
    chain: np.ndarray
    draw: np.ndarray


def _thin_curves(result: AnalysisResult, positions: np.ndarray) -> _Curves:
    arms, grid, labels = {}, None, None
    for arm, surv in result.survival.items():
        values, chain, draw = _pooled(surv)
        times = surv["time"].values.astype(float)
        if grid is not None and not np.allclose(times, grid, rtol=_GRID_RTOL):
            raise InputError(f"analysis {result.name!r}: arms have different time grids")
        grid, labels = times, (chain[positions], draw[positions])
        arms[str(arm)] = values[positions]
    step = np.diff(grid)
    if grid[0] != 0 or not np.allclose(step, step[0], rtol=1e-6):
        raise InputError(f"analysis {result.name!r}: survival grid is not a cycle grid "
                         "(evenly spaced from 0)")
    return _Curves(result, grid, arms, *labels)


def _thin_parameters(result: AnalysisResult, positions: np.ndarray) -> pd.DataFrame:
    frame = _pooled_parameters(result.parameters)
    if result.survival and len(frame) != _n_total(result):
        raise ValueError(f"analysis {result.name!r}: {len(frame)} parameter draws but "
                         f"{_n_total(result)} survival draws")
    kept = frame.iloc[positions].reset_index(drop=True)
    kept.insert(0, "sample", np.arange(len(kept)))
    return kept


def _bound_pfs(curves: dict[str, _Curves], pairs: pd.DataFrame) -> tuple[list, list]:
    """Cap each PFS analysis at its paired OS analysis in place; return counts and LY rows."""
    enforcement, pair_counts = [], []
    for pfs_name, os_name in zip(pairs["pfs_analysis"], pairs["os_analysis"], strict=True):
        pfs = curves[pfs_name]
        n = len(pfs.chain)
        if not os_name:
            pair_counts.append((n, 0))
            continue
        os = curves[os_name]
        if pfs.times.shape != os.times.shape or not np.allclose(pfs.times, os.times):
            raise InputError(f"PFS analysis {pfs_name!r} and OS analysis {os_name!r} have "
                             "different cycle grids (horizon or cycle length)")
        missing = set(pfs.arms) - set(os.arms)
        if missing:
            raise InputError(f"OS analysis {os_name!r} has no arm {sorted(missing)[0]!r} "
                             f"of PFS analysis {pfs_name!r}")
        any_arm = np.zeros(n, dtype=bool)
        for arm, values in pfs.arms.items():
            excess = values - os.arms[arm]
            capped, adjusted = enforce_pfs_le_os(values, os.arms[arm])
            pfs.arms[arm] = capped
            any_arm |= adjusted
            enforcement.append((pfs_name, os_name, arm, n, int(adjusted.sum()),
                                int((excess > 0).sum()), float(max(excess.max(), 0.0))))
        pair_counts.append((n, int(any_arm.sum())))
    return enforcement, pair_counts


def exported_curves(values: np.ndarray) -> np.ndarray:
    """Survival values as exported: cast to :data:`SURVIVAL_DTYPE` (float32).

    Parameters
    ----------
    values
        Survival probabilities (any shape), PFS already capped at OS.

    Returns
    -------
    numpy.ndarray
        A float32 copy. Rounding to the nearest float32 is monotone, so ``pfs <= os`` holds
        after the cast wherever it held before; the relative rounding error is below
        :math:`2^{-24} \\approx 6 \\times 10^{-8}`.
    """
    return np.asarray(values).astype(SURVIVAL_DTYPE)


def _survival_long(curves: dict[str, _Curves]) -> pd.DataFrame:
    """The long table (:data:`SURVIVAL_COLUMNS`), survival as float32, text escaped."""
    frames = []
    for name, c in curves.items():
        n, n_t = next(iter(c.arms.values())).shape
        for arm, values in c.arms.items():
            frames.append(pd.DataFrame({
                "sample": np.repeat(np.arange(n, dtype=np.int32), n_t),
                "endpoint": escape_cell(str(c.result.endpoint)),
                "analysis": escape_cell(str(name)),
                "arm": escape_cell(str(arm)),
                "cycle": np.tile(np.arange(n_t, dtype=np.int32), n),
                "time_months": np.tile(c.times.astype(float), n),
                "survival": exported_curves(values).ravel(),
            }))
    if not frames:
        frames = [pd.DataFrame({
            "sample": np.array([], np.int32), "endpoint": np.array([], object),
            "analysis": np.array([], object), "arm": np.array([], object),
            "cycle": np.array([], np.int32), "time_months": np.array([], float),
            "survival": np.array([], SURVIVAL_DTYPE)})]
    long = pd.concat(frames, ignore_index=True)[list(SURVIVAL_COLUMNS)]
    for column in ("endpoint", "analysis", "arm"):
        long[column] = long[column].astype(object)
    return long


def unconverged_warning(names: Sequence[str]) -> str:
    """The line every PSA file starts with when unconverged fits were exported on request.

    Parameters
    ----------
    names
        The analyses that failed their convergence checks.

    Returns
    -------
    str
        One line naming them (no line break).
    """
    return (f"WARNING: exported although they FAILED the convergence checks "
            f"(--allow-unconverged): {', '.join(names)}; their draws are not a result "
            "(diagnostics.csv says why)")


def _write_parquet(long: pd.DataFrame, path: Path, warning: str = "") -> Path:
    """The long table as Parquet: zstd, byte-stream-split floats, dictionary-encoded text; a
    ``warning`` goes into the file's metadata (key ``prrt_bayes_warning``)."""
    table = pa.Table.from_pandas(long, preserve_index=False)
    if warning:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"prrt_bayes_warning": warning.encode()})
    pq.write_table(table, path, compression="zstd", compression_level=15,
                   use_dictionary=["endpoint", "analysis", "arm"],
                   use_byte_stream_split=["time_months", "survival"])
    return path


def _escaped(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` with every string cell (and header) passed through escape_cell."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].map(escape_cell)
    out.columns = [escape_cell(str(c)) for c in out.columns]
    return out


def _write_csv(frame: pd.DataFrame, path: Path, float_format: str | None = None,
               warning: str = "") -> Path:
    """A CSV table; a ``warning`` is its first line, as a ``#`` comment (pandas:
    ``read_csv(..., comment="#")``; R: ``read.csv(..., comment.char = "#")``)."""
    with path.open("w", newline="") as handle:
        if warning:
            handle.write(f"# {warning}\n")
        _escaped(frame).to_csv(handle, index=False, lineterminator="\n",
                               float_format=float_format)
    return path


def _unique_names(stems: Sequence[str], max_len: int) -> list[str]:
    """Sanitised, length-limited, de-duplicated names (``_2``, ``_3`` suffixes)."""
    out: list[str] = []
    for stem in stems:
        base = safe_name(stem, max_len)
        name, k = base, 1
        while name.lower() in {o.lower() for o in out}:
            k += 1
            name = safe_name(stem, max_len - len(str(k)) - 1) + f"_{k}"
        out.append(name)
    return out


def _readme_rows(report: PsaReport, sheets: list[tuple[str, str]], cycle: str,
                 seed: int | None) -> list[tuple[str, str, str]]:
    n = report.n_samples
    rows = [
        ("about", "content", "Probabilistic sensitivity analysis (PSA) inputs written by "
         "prrt-bayes: the CSV files of the psa folder as sheets, and the survival curves of "
         "survival.parquet (long format) as one sheet per analysis and arm: one row per cycle, "
         "one column per PSA sample."),
        ("about", "precision", "Survival values are float32 in survival.parquet (relative "
         "rounding below 6e-8) and written here with 7 significant digits of those float32 "
         "values (relative difference below 5e-7): far below the Monte Carlo error of 1,000 "
         "samples. Both roundings are monotone, so PFS <= OS holds in every file. Parameters "
         "and life-years: 10 significant digits."),
        ("about", "samples", f"{n} PSA samples per analysis (requested {report.n_draws_requested})."
         " Sample k is the same index in every table."),
        ("about", "thinning", "Chains pooled in chain-major order (all draws of chain 0, then "
         "chain 1, ...); kept positions floor(k*N/n), k = 0..n-1 (evenly spaced, not random)."),
        ("about", "seed", "not used by thinning (deterministic); seed of the run: "
         f"{'not given' if seed is None else seed}"),
        ("about", "cycles", cycle),
    ]
    if report.unconverged:
        rows.insert(0, ("WARNING", ", ".join(report.unconverged),
                        unconverged_warning(report.unconverged)))
    rows += [("excluded", name, "failed its convergence checks: not exported (an unconverged "
              "fit is not a result)") for name in report.excluded]
    for row in report.pairs.itertuples(index=False):
        if row.os_analysis:
            text = (f"PFS analysis {row.pfs_analysis} bounded by OS analysis {row.os_analysis} "
                    f"({row.rule}); PFS sample k paired with OS sample k (the two fits are "
                    f"independent); PFS capped at OS (PFS <= OS per sample and cycle) in "
                    f"{row.n_samples_adjusted} of {row.n_samples} samples.")
        else:
            text = f"PFS analysis {row.pfs_analysis}: {row.rule}."
        rows.append(("PFS <= OS", row.pfs_analysis, text))
    for row in report.enforcement.itertuples(index=False):
        rows.append(("PFS <= OS", f"{row.pfs_analysis} / {row.arm}",
                     f"{row.n_samples_adjusted} samples and {row.n_cells_adjusted} sample-cycles "
                     f"capped; largest PFS - OS before capping {row.max_excess:.4g}."))
    rows += [("sheet", name, what) for name, what in sheets]
    rows += [("column", c, d) for c, d in _COLUMN_DOC]
    return rows


_COLUMN_DOC: tuple[tuple[str, str], ...] = (
    ("sample", "PSA sample index k = 0..n-1 (same k = same row position in every table)."),
    ("chain, draw", "MCMC chain and draw the sample was taken from (parameters tables)."),
    ("<parameter>", "Posterior draw of a model parameter on the real line (log of positive "
     "parameters, e.g. log_hr = log hazard ratio), named as in the model."),
    ("endpoint", "pfs (progression-free survival) or os (overall survival)."),
    ("analysis", "Name of the analysis (its spec)."),
    ("arm", "Treatment arm, e.g. lu177 (177Lu-Dotatate) or control."),
    ("cycle", "Cycle index: cycle c starts at time c x cycle length."),
    ("time_months", "Time since randomisation at the cycle start, months."),
    ("survival", "Survival probability S(t) at time_months (PFS capped at the paired OS)."),
    ("sample_<k> (survival sheets)", "S(t) of PSA sample k, one row per cycle (wide "
     "layout; first columns cycle and time_months)."),
    ("life_years", "Area under the OS curve to the horizon, years (trapezoid / half-cycle "
     "correction; undiscounted unless stated)."),
    ("progression_free_life_years", "Area under min(PFS, OS) to the horizon, years."),
    ("pair", "PFS and OS analyses combined, as <pfs>+<os>."),
    ("n_samples_adjusted", "Samples in which PFS exceeded OS at some cycle and was capped."),
)


def _arrays(curves: _Curves, arms) -> dict[str, xr.DataArray]:
    """Thinned curves of ``arms`` as DataArrays (sample, time) for :func:`partitioned_survival`."""
    return {arm: xr.DataArray(curves.arms[arm], dims=("sample", "time"),
                              coords={"time": curves.times}) for arm in arms}


def _life_year_tables(curves: dict[str, _Curves], pairs: pd.DataFrame,
                      discount_rate: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Partitioned survival of every PFS/OS pair: (draws per sample and arm, summary rows)."""
    draws, summaries = [], []
    for pfs_name, os_name in zip(pairs["pfs_analysis"], pairs["os_analysis"], strict=True):
        if not os_name:
            continue
        pfs, os = curves[pfs_name], curves[os_name]
        label = f"{pfs_name}+{os_name}"
        ps = partitioned_survival(_arrays(pfs, pfs.arms), _arrays(os, pfs.arms),
                                  float(pfs.times[1]),
                                  float(pfs.times[-1]), discount_rate=discount_rate,
                                  analysis=label)
        draws.append(ps.draws.assign(pair=label))
        summaries.append(ps.summary)
    columns = ["sample", "pair", "arm", *LIFE_YEAR_QUANTITIES]
    if not draws:
        return pd.DataFrame(columns=columns), summary_frame([])
    return (pd.concat(draws, ignore_index=True)[columns],
            pd.concat(summaries, ignore_index=True))


def write_psa(
    results: Sequence[AnalysisResult],
    out_dir: Path,
    *,
    n_draws: int = 1000,
    seed: int | None = None,
    pairs: Mapping[str, str] | None = None,
    discount_rate: float = 0.0,
    allow_unconverged: bool = False,
) -> PsaReport:
    """Write the PSA tables (CSV, Parquet, one workbook) to ``out_dir/psa/``; see the module doc.

    Parameters
    ----------
    results
        Fitted analyses. Those with ``parameters`` get a parameters table; survival analyses
        (endpoint ``pfs`` or ``os``) with ``survival`` curves on a cycle grid get per-cycle rows.
    out_dir
        Folder to write into (the runner passes its temporary results folder).
    n_draws
        PSA samples per analysis (evenly thinned); fewer if an analysis has fewer draws.
    seed
        Seed of the run, recorded in the README (thinning itself is deterministic).
    pairs
        Optional explicit ``{pfs_analysis: os_analysis}``; default rule in
        :func:`pair_pfs_with_os`.
    discount_rate
        Annual discount rate for the life-years table (default 0: undiscounted).
    allow_unconverged
        Export analyses that failed their convergence checks too (default: left out and listed);
        every file then starts with :func:`unconverged_warning` (CSV: a ``#`` first line;
        Parquet: metadata ``prrt_bayes_warning``; workbook: the README's first row).

    Returns
    -------
    PsaReport
        What was written (``files``), the samples kept, the PFS/OS pairs and the PFS <= OS
        enforcement counts, and the life-year summary rows.

    Raises
    ------
    InputError
        ``n_draws`` below 1, more samples than a worksheet has columns for (16,382) when there
        are survival curves, no converged analysis with parameter or survival draws (analyses that
        failed their convergence checks are left out and listed in ``excluded``), or a problem
        found
        by :func:`pair_pfs_with_os` or :func:`partitioned_survival`.
    """
    if n_draws < 1:
        raise InputError(f"n_draws must be >= 1, got {n_draws}", field="n_draws")
    drawn = [r for r in results if r.parameters is not None or r.survival]
    failed = [r.name for r in drawn if not r.diagnostics.passed]
    used = drawn if allow_unconverged else [r for r in drawn if r.diagnostics.passed]
    excluded = [] if allow_unconverged else failed
    unconverged = failed if allow_unconverged else []
    warning = unconverged_warning(unconverged) if unconverged else ""
    if not used:
        raise InputError("no converged analysis has parameter or survival draws to export"
                         + (f" (failed the convergence checks: {', '.join(excluded)})"
                            if excluded else ""))
    n = min(n_draws, *(_n_total(r) for r in used))
    positions = {r.name: even_positions(_n_total(r), n) for r in used}
    survival = [r for r in used if r.survival and r.endpoint in (Endpoint.PFS, Endpoint.OS)]
    if survival and n + 2 > MAX_COLUMNS:
        raise InputError(f"{n} PSA samples do not fit the workbook's survival sheets (one column "
                         f"per sample, at most {MAX_COLUMNS - 2})", field="n_draws")
    curves = {r.name: _thin_curves(r, positions[r.name]) for r in survival}
    pair_frame = pair_pfs_with_os(survival, pairs)
    enforcement, counts = _bound_pfs(curves, pair_frame)
    pair_frame["n_samples"] = [c[0] for c in counts]
    pair_frame["n_samples_adjusted"] = [c[1] for c in counts]
    enforcement_frame = pd.DataFrame(enforcement, columns=[
        "pfs_analysis", "os_analysis", "arm", "n_samples", "n_samples_adjusted",
        "n_cells_adjusted", "max_excess"])

    life_years, ly_summary = _life_year_tables(curves, pair_frame, discount_rate)
    report = PsaReport(
        n_samples=n, n_draws_requested=n_draws, positions=positions, pairs=pair_frame,
        enforcement=enforcement_frame, life_years=ly_summary, discount_rate=discount_rate,
        excluded=excluded, unconverged=unconverged,
    )
    psa_dir = Path(out_dir) / "psa"
    psa_dir.mkdir(parents=True, exist_ok=True)

    param_tables = {r.name: _thin_parameters(r, positions[r.name])
                    for r in used if r.parameters is not None}
    stems = _unique_names([f"parameters_{name}" for name in param_tables], 100)
    for stem, table in zip(stems, param_tables.values(), strict=True):
        report.files.append(_write_csv(table, psa_dir / f"{stem}.csv", TABLE_FORMAT, warning))
    report.files.append(_write_parquet(_survival_long(curves), psa_dir / "survival.parquet",
                                       warning))
    report.files.append(_write_csv(life_years, psa_dir / "life_years.csv", TABLE_FORMAT,
                                   warning))
    report.files.append(_write_csv(pair_frame, psa_dir / "pfs_os_pairs.csv", warning=warning))
    report.files.append(_write_workbook(psa_dir / "psa.xlsx", report, param_tables, curves,
                                        life_years, discount_rate, seed))
    return report


def _table_sheet(title: str, table: pd.DataFrame) -> Sheet:
    """A sheet of ``table``: the numeric fast path when every column is a finite number."""
    header = [str(c) for c in table.columns]
    numeric = all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
                  for t in table.dtypes)
    if numeric and len(table) and np.isfinite(table.to_numpy(float)).all():
        formats = ["%d" if pd.api.types.is_integer_dtype(t) else TABLE_FORMAT
                   for t in table.dtypes]
        return Sheet(title, header, block=table.to_numpy(float), formats=formats)
    return Sheet(title, header, table.itertuples(index=False, name=None),
                 float_format=TABLE_FORMAT)


def _write_workbook(path: Path, report: PsaReport, param_tables: dict[str, pd.DataFrame],
                    curves: dict[str, _Curves], life_years: pd.DataFrame,
                    discount_rate: float, seed: int | None) -> Path:
    """``README`` first, then parameters, wide survival sheets, life-years and pairs."""
    sheets: list[Sheet] = []
    described: list[tuple[str, str]] = []
    param_names = _unique_names([f"par_{name}" for name in param_tables], 31)
    for name, (analysis, table) in zip(param_names, param_tables.items(), strict=True):
        sheets.append(_table_sheet(name, table))
        described.append((name, f"parameters of analysis {analysis}, one row per sample"))
    surv_keys = [(a, arm) for a, c in curves.items() for arm in c.arms]
    surv_names = _unique_names([f"S_{a}_{arm}" for a, arm in surv_keys], 31)
    for name, (analysis, arm) in zip(surv_names, surv_keys, strict=True):
        c = curves[analysis]
        values = exported_curves(c.arms[arm]).T  # (cycle, sample)
        n_t, n = values.shape
        block = np.column_stack([np.arange(n_t), c.times, values.astype(float)])
        sheets.append(Sheet(name, ["cycle", "time_months", *(f"sample_{k}" for k in range(n))],
                            block=block, formats=["%d", "%.12g", *[WORKBOOK_FORMAT] * n]))
        described.append((name, f"{c.result.endpoint.upper()} survival S(t) of analysis "
                                f"{analysis}, arm {arm}: one row per cycle (cycle, time_months), "
                                "one column per PSA sample (sample_0, sample_1, ...)"))
    sheets.append(_table_sheet("life_years", life_years))
    discount = ("undiscounted" if discount_rate == 0
                else f"discounted at {discount_rate:.2%} a year (mid-cycle)")
    described.append(("life_years", f"life-years per sample, pair and arm ({discount})"))
    pairs = report.pairs
    sheets.append(Sheet("pfs_os_pairs", [str(c) for c in pairs.columns],
                        pairs.itertuples(index=False, name=None)))
    described.append(("pfs_os_pairs", "which OS analysis bounds each PFS analysis, and how many "
                                      "samples needed PFS capped at OS"))
    grids = {f"{c.times[1] - c.times[0]:g}-month cycles from 0 to {c.times[-1]:g} months"
             for c in curves.values()}
    cycle = ("cycle length and horizon: " + "; ".join(sorted(grids))) if grids else "no curves"
    readme = Sheet("README", ["section", "item", "description"],
                   _readme_rows(report, described, cycle, seed))
    return write_workbook(path, [readme, *sheets])
