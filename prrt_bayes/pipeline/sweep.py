"""Scenario sweeps: fit one spec under every combination of grid values.

A grid maps dotted spec keys to lists of values, e.g. ``{"borrowing.robust_weight": [0, 0.2,
0.5], "model.family": ["ph_piecewise", "weibull_ph"]}`` (from the command line:
``--grid borrowing.robust_weight=0,0.2,0.5 --grid model.family=ph_piecewise,weibull_ph``). Every
combination is applied to the spec, validated like a spec file, and fitted; each keeps the spec's
seed (unless ``seed`` is a grid key), so a sweep is reproducible and its results do not depend on
where the fits ran. A combination that fails (invalid together, bad input, a sampler error) is
recorded with its error and the sweep goes on.

Fits run in a local process pool (``spawn`` workers, :mod:`prrt_bayes.pipeline.parallel`) or, with
``scheduler=ADDRESS``, on a Dask distributed cluster (``dask.distributed.Client``; optional
extra ``dask[distributed]``). Outputs in ``out_dir``: ``summary.csv`` (one block of summary rows
per combination, with the grid values, status and error as leading columns; a failed
combination has one row with its error) and ``sweep.png`` (the key estimate with its 95% CrI
against each grid key).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.pipeline.folders import check_out_dir, write_atomically
from prrt_bayes.pipeline.parallel import default_jobs, executor
from prrt_bayes.pipeline.registry import REGISTRY
from prrt_bayes.pipeline.specs import AnalysisSpec, validate_spec

SWEEP_COLUMNS = ("combination", "status", "error")
"""Leading columns of the sweep summary (then one column per grid key, then the summary's)."""

def parse_value(text: str) -> Any:
    """A grid value from text: int, float, ``true``/``false``, else the string itself.

    Parameters
    ----------
    text
        One value as typed (surrounding whitespace is ignored).

    Returns
    -------
    Any
        ``bool`` for ``true``/``false`` (any case), else ``int`` if ``int()`` accepts it, else
        ``float`` if ``float()`` does (``1e3``, also ``nan``/``inf``), else the stripped string.
    """
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def apply_overrides(spec: AnalysisSpec, values: dict[str, Any]) -> AnalysisSpec:
    """A copy of ``spec`` with dotted keys set (``{"borrowing.a0": 0.3}``), validated.

    Parameters
    ----------
    spec
        The base spec (unchanged).
    values
        ``{dotted key: value}``; each key must name an existing entry of the spec (e.g.
        ``"seed"``, ``"sampler.draws"``, ``"model.family"``).

    Returns
    -------
    AnalysisSpec
        A new spec, validated like a spec file.

    Raises
    ------
    InputError
        A key that names no existing spec entry, or values the spec rejects.
    """
    data = spec.model_dump()
    for key, value in values.items():
        node = data
        parts = key.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                raise InputError("unknown key", file="(sweep grid)",
                                 field=".".join(parts[: depth + 1]))
            if depth == len(parts) - 1:
                node[part] = value
            else:
                node = node[part]
    return validate_spec(data, file="(sweep grid)")


def parse_grid(entries: Sequence[str], spec: AnalysisSpec) -> dict[str, list]:
    """Parse ``["KEY=V1,V2", ...]`` into ``{KEY: [V1, V2]}``, checking each value on ``spec``.

    Parameters
    ----------
    entries
        ``--grid`` entries ``KEY=V1,V2,...`` (values parsed with :func:`parse_value`); at least
        one.
    spec
        The base spec; each value is applied alone to it (:func:`apply_overrides`) to check it.

    Returns
    -------
    dict[str, list]
        ``{KEY: [values]}`` in entry order, values in the order given.

    Raises
    ------
    InputError
        An entry without ``=``, an empty key or value, a key given twice, an unknown key, or a
        value the spec rejects; or no entries at all.
    """
    grid: dict[str, list] = {}
    for entry in entries:
        key, sep, raw = entry.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"grid entry must look like KEY=V1,V2,..., got {entry!r}",
                             field="--grid")
        if key in grid:
            raise InputError(f"grid key {key!r} given twice", field="--grid")
        parts = raw.split(",")
        if any(not p.strip() for p in parts):
            raise InputError(f"empty value in grid entry {entry!r}", field="--grid")
        values = [parse_value(p) for p in parts]
        for value in values:
            apply_overrides(spec, {key: value})
        grid[key] = values
    if not grid:
        raise InputError("a sweep needs at least one --grid KEY=V1,V2,...", field="--grid")
    return grid


def combinations(grid: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of grid values, the last key varying fastest.

    Parameters
    ----------
    grid
        ``{dotted key: [values]}``, e.g. from :func:`parse_grid`.

    Returns
    -------
    list[dict[str, Any]]
        One ``{key: value}`` dict per combination (the product of the list lengths), keys in
        grid order.
    """
    keys = list(grid)
    return [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(grid[k] for k in keys))]


def sweep_task(spec: AnalysisSpec) -> tuple[str, Any]:
    """Fit one combination in a worker; bad input is an error of this combination only.

    Parameters
    ----------
    spec
        The combination's spec (from :func:`apply_overrides`).

    Returns
    -------
    tuple[str, Any]
        ``("ok", (summary DataFrame, diagnostics as a dict))`` or
        ``("error", "ExceptionType: message")`` (an :class:`InputError` included).
    """
    from dataclasses import asdict

    from prrt_bayes.pipeline.parallel import fit_one

    status, payload = fit_one(spec)
    if status == "ok":
        return "ok", (payload.summary, asdict(payload.diagnostics))
    if status == "input":
        message, file, row, field = payload
        return "error", f"InputError: {InputError(message, file=file, row=row, field=field)}"
    return status, payload


def _run_local(specs: dict[int, AnalysisSpec], jobs: int | None) -> dict[int, tuple[str, Any]]:
    jobs = min(default_jobs() if jobs is None else jobs, max(1, len(specs)))
    if jobs < 1:
        raise InputError(f"jobs must be a positive integer, got {jobs}", field="jobs")
    if jobs == 1:
        return {i: sweep_task(spec) for i, spec in specs.items()}
    with executor(jobs) as pool:
        futures = {i: pool.submit(sweep_task, spec) for i, spec in specs.items()}
        return {i: _result(future) for i, future in futures.items()}


def _run_dask(specs: dict[int, AnalysisSpec], address: str) -> dict[int, tuple[str, Any]]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask.distributed: pip install 'dask[distributed]'",
                         field="--scheduler") from None
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as err:
        raise InputError(f"cannot reach the Dask scheduler at {address!r}: {err}",
                         field="--scheduler") from None
    with client:
        futures = {i: client.submit(sweep_task, spec, pure=False, key=f"sweep-{spec.name}-{i}")
                   for i, spec in specs.items()}
        return {i: _result(future) for i, future in futures.items()}


def _result(future) -> tuple[str, Any]:
    try:
        return future.result()
    except Exception as err:  # noqa: BLE001 - a lost worker fails one combination only
        return "error", f"{type(err).__name__}: {err}"


def sweep(
    spec: AnalysisSpec,
    grid: dict[str, list],
    out_dir: Path,
    *,
    scheduler: str | None = None,
    jobs: int | None = None,
    force: bool = False,
) -> pd.DataFrame:
    """Fit ``spec`` under every combination of ``grid`` and write the combined summary and plot.

    Parameters
    ----------
    spec
        The base analysis spec.
    grid
        Dotted spec key -> values (see :func:`parse_grid`).
    out_dir
        Folder for ``summary.csv`` and ``sweep.png``, written atomically
        (:func:`prrt_bayes.pipeline.folders.write_atomically`); checked before any fit.
    scheduler
        Address of a Dask distributed scheduler (e.g. ``"tcp://10.0.0.5:8786"``); ``None``
        runs a local process pool.
    jobs
        Local worker processes (default: the number of cores; capped at the number of valid
        combinations; ``1`` fits in this process). Ignored with ``scheduler``.
    force
        Replace an existing ``out_dir``.

    Returns
    -------
    pandas.DataFrame
        Columns ``combination``, one per grid key, ``status`` (``ok`` / ``failed``), ``error``
        (for an unconverged fit ``not converged: ...``), then the summary columns; one block of
        rows per successful combination, one row per failed one.

    Raises
    ------
    InputError
        ``out_dir`` exists without ``force`` or is not writable, an empty grid, ``jobs``
        below 1, or (with ``scheduler``) ``dask.distributed`` not
        installed or the scheduler unreachable.
    """
    if not grid:
        raise InputError("a sweep needs at least one grid key", field="--grid")
    check_out_dir(Path(out_dir), force=force)
    combos = combinations(grid)
    specs: dict[int, AnalysisSpec] = {}
    outcomes: dict[int, tuple[str, Any]] = {}
    for i, values in enumerate(combos):
        try:
            specs[i] = apply_overrides(spec, values)
        except InputError as err:
            outcomes[i] = ("error", f"InputError: {err}")
    if specs:
        outcomes |= (_run_local(specs, jobs) if scheduler is None
                     else _run_dask(specs, scheduler))
    table = _combined(combos, outcomes)

    def write(folder: Path) -> None:
        table.to_csv(folder / "summary.csv", index=False, float_format="%.10g")
        plot_sweep(table, list(grid), spec.kind, folder / "sweep.png")

    write_atomically(Path(out_dir), write, force=force)
    return table


def _combined(combos: list[dict[str, Any]], outcomes: dict[int, tuple[str, Any]]) -> pd.DataFrame:
    blocks = []
    for i, values in enumerate(combos):
        status, payload = outcomes[i]
        if status == "ok":
            block = payload[0].copy()
            block.insert(0, "error", "" if payload[1]["passed"] else "not converged: " + "; ".join(
                payload[1]["problems"]))
            block.insert(0, "status", "ok")
        else:
            block = pd.DataFrame([{"status": "failed", "error": payload}])
        for key in reversed(list(values)):
            block.insert(0, key, [values[key]] * len(block))
        block.insert(0, "combination", i)
        blocks.append(block)
    keys = list(combos[0]) if combos else []
    columns = ["combination", *keys, "status", "error", *SUMMARY_COLUMNS]
    return pd.concat(blocks, ignore_index=True).reindex(columns=columns)


def key_estimate(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The key-estimate row of each successful combination (the kind's ``key_estimates`` in
    :data:`prrt_bayes.pipeline.registry.REGISTRY`).

    Parameters
    ----------
    table
        Sweep table as returned by :func:`sweep`.
    kind
        Analysis kind (``survival``, ``response``, ``toxicity``); another kind finds nothing.

    Returns
    -------
    pandas.DataFrame
        A new frame, one row (all columns of ``table``) per successful combination that has
        a key estimate, in combination order; empty when none has. For a candidate with
        ``group=None`` the first row of the quantity with a non-missing ``group`` is taken.
    """
    ok = table[table["status"] == "ok"]
    rows = []
    for _, block in ok.groupby("combination", sort=True):
        entry = REGISTRY.get(kind)
        for quantity, group in (entry.key_estimates if entry else ()):
            hit = block[(block["quantity"] == quantity)
                        & ((block["group"] == group) if group else block["group"].notna())]
            if len(hit):
                rows.append(hit.iloc[0])
                break
    return pd.DataFrame(rows)


def plot_sweep(table: pd.DataFrame, keys: list[str], kind: str, path: Path) -> None:
    """Plot the key estimate (median, 95% CrI) against each grid key, one panel per key.

    Within a panel, combinations that share the panel's value are spread sideways and
    coloured by the values of the other keys.

    Parameters
    ----------
    table
        Sweep table as returned by :func:`sweep` (failed combinations are skipped).
    keys
        Grid keys, one panel each (columns of ``table``), in panel order.
    kind
        Analysis kind, selecting the key estimate (see :func:`key_estimate`).
    path
        Output image file (PNG at 120 dpi; overwritten).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    est = key_estimate(table, kind)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.8), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        levels = list(dict.fromkeys(table[key].tolist()))
        others = [k for k in keys if k != key]
        if est.empty:
            ax.text(0.5, 0.5, "no successful combination", ha="center", transform=ax.transAxes)
        else:
            labels = est[others].astype(str).agg(", ".join, axis=1) if others else pd.Series(
                [""] * len(est), index=est.index)
            series = list(dict.fromkeys(labels))
            width = 0.6 / max(1, len(series))
            for s, label in enumerate(series):
                part = est[labels == label]
                x = [levels.index(v) - 0.3 + width * (s + 0.5) for v in part[key]]
                median = part["median"].to_numpy(dtype=float)
                yerr = [median - part["lower"].to_numpy(dtype=float),
                        part["upper"].to_numpy(dtype=float) - median]
                ax.errorbar(x, median, yerr=yerr,
                            fmt="o", capsize=3, label=label or None)
            if others:
                ax.legend(title=", ".join(others), fontsize=7, title_fontsize=7)
            ax.set_ylabel(f"{est['quantity'].iloc[0]} ({est['group'].iloc[0]})")
        ax.set_xticks(range(len(levels)), [str(v) for v in levels])
        ax.set_xlabel(key)
    fig.suptitle("Sweep: posterior median and 95% credible interval")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
