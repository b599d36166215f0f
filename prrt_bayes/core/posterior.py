"""Posterior trees on disk, and the derived quantities they carry for re-summarising.

Every analysis stores the draws of each reported quantity in a ``quantities`` group of its
DataTree (variable ``draws``, dims ``chain, draw, row``; coordinates ``quantity``, ``group``,
``endpoint``, ``analysis`` along ``row``). The summary table is computed from that group by
:func:`summary_from_tree`, both when the runner writes ``summary.csv`` and when
``prrt-bayes summarize POSTERIOR.nc`` reloads a saved posterior, so both give the same numbers.
:func:`save_posterior` writes the tree compressed, each quantity's draws once (a row equal to a
posterior variable is stored as a reference to it, a row equal to the difference of two other
rows as that difference), everything at float32 precision; :func:`load_posterior` restores the
``quantities`` group exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.summary import summarize_draws, summary_frame

QuantityDraws = tuple[str, str, xr.DataArray] | tuple[str, str, xr.DataArray, str]
"""(quantity, group, draws with dims chain, draw[, endpoint overriding the analysis's])."""
QUANTITIES = "quantities"
"""Name of the group holding the reported quantities' draws."""
LABELS = ("quantity", "group", "endpoint", "analysis")
"""Coordinates along ``row`` of the ``quantities`` group."""
LAYOUT_ATTR = "prrt_bayes_layout"
LAYOUT = "quantities-by-reference-2"
"""Marks a file whose ``quantities`` group stores duplicated rows as references and differences
(``quantities-by-reference-1``: references only, still read)."""
_LAYOUTS = ("quantities-by-reference-1", LAYOUT)
SAMPLER_BOOKKEEPING = frozenset({
    "fisher_distance", "index_in_trajectory", "max_energy_error", "mean_tree_accept_sym",
    "step_size_bar", "transformation_index", "transformation_update_id",
})
"""Sampler statistics of nutpie's own adaptation and tree building, not written to the file: no
diagnostic or output reads them (ArviZ's use ``diverging``, ``energy``, ``step_size``,
``depth``/``n_steps``, ``mean_tree_accept`` and ``logp``, which are kept): 0.4 MB of the 7.6 MB
bundled ``pfs_primary`` file."""
_PROBE = 16
"""Draws compared first when looking for rows that are differences of two others."""


def attach_quantities(
    tree: xr.DataTree, items: Sequence[QuantityDraws], *, analysis: str, endpoint: str
) -> None:
    """Store the draws of each reported quantity in ``tree["quantities"]``, at float32 precision.

    Each row's draws are rounded to the nearest float32 (relative error below
    :math:`6 \\times 10^{-8}`, far below any posterior summary's Monte Carlo error), except a
    row that is bitwise the difference of two earlier rows, which stays the difference of their
    rounded draws. The summary is computed from these rounded draws, and
    :func:`save_posterior` stores them exactly in half the bytes, so ``prrt-bayes summarize``
    gives back ``summary.csv`` bit for bit.

    Parameters
    ----------
    tree
        The posterior DataTree, modified in place (an existing ``quantities`` group is
        replaced).
    items
        ``(quantity, group, draws)`` triples, or ``(quantity, group, draws, endpoint)`` for
        rows whose endpoint differs (e.g. one adverse-event type per row); draws have dims
        ``chain, draw`` only.
    analysis, endpoint
        Labels written on every row (``endpoint`` unless the item has one).

    Raises
    ------
    ValueError
        ``items`` is empty, or some draws have dims other than ``chain`` and ``draw``.
    """
    if not items:
        raise ValueError("no quantities to attach")
    arrays = []
    for quantity, group, draws, *_ in items:
        extra = [d for d in draws.dims if d not in ("chain", "draw")]
        if extra:
            raise ValueError(f"{quantity}/{group}: draws have extra dims {extra}")
        arrays.append(draws.transpose("chain", "draw").astype(float).drop_vars(
            [c for c in draws.coords if c not in ("chain", "draw")]))
    stacked = xr.concat(arrays, dim="row")
    stacked = stacked.copy(data=_float32_precision(stacked.values))
    # labels may be vocabulary enums (str subclasses): store them as plain strings
    stacked = stacked.assign_coords(
        quantity=("row", [str(item[0]) for item in items]),
        group=("row", [str(item[1]) for item in items]),
        endpoint=("row", [str(item[3] if len(item) > 3 else endpoint) for item in items]),
        analysis=("row", [str(analysis)] * len(items)),
    )
    tree["quantities"] = xr.DataTree(xr.Dataset({"draws": stacked}))


def summary_from_tree(tree: xr.DataTree) -> pd.DataFrame:
    """The summary table (fixed vocabulary) from a tree's ``quantities`` group.

    Parameters
    ----------
    tree
        Posterior DataTree written by :func:`attach_quantities` (fresh or reloaded).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`prrt_bayes.core.summary.SUMMARY_COLUMNS`, one row per stored quantity, in
        the stored order (see :func:`prrt_bayes.core.summary.summarize_draws`).

    Raises
    ------
    InputError
        The tree has no ``quantities`` group.
    """
    if "quantities" not in tree.children:
        raise InputError("this posterior has no 'quantities' group (not written by prrt-bayes)")
    draws = tree["quantities"].dataset["draws"]
    rows = []
    for index in range(draws.sizes["row"]):
        one = draws.isel(row=index)
        rows.append(summarize_draws(
            one.drop_vars(["quantity", "group", "endpoint", "analysis"]),
            quantity=str(one.quantity.values), group=str(one.group.values),
            endpoint=str(one.endpoint.values), analysis=str(one.analysis.values),
        ))
    return summary_frame(rows)


def _cells(array: xr.DataArray) -> np.ndarray:
    """Draws of a (chain, draw, ...) variable as (cell, chain, draw), cells in C order."""
    values = array.transpose("chain", "draw", ...).values
    return np.moveaxis(values.reshape(values.shape[0], values.shape[1], -1), -1, 0)


def _draw_variables(tree: xr.DataTree, shape: tuple[int, int]):
    """(group path, name, variable) of every float variable with ``shape`` chain x draw."""
    for node in tree.subtree:
        if node.path == f"/{QUANTITIES}":
            continue
        for name, variable in node.to_dataset(inherit=False).data_vars.items():
            if ({"chain", "draw"} <= set(variable.dims) and variable.dtype.kind == "f"
                    and (variable.sizes["chain"], variable.sizes["draw"]) == shape):
                yield node.path, str(name), variable


def _differences(values: np.ndarray, free: np.ndarray) -> dict[int, tuple[int, int]]:
    """Rows bitwise equal to one row minus another: ``{row: (minuend, subtrahend)}``.

    ``values`` has shape (row, chain, draw); ``free[j]`` marks rows that cost nothing to store
    (references to a posterior cell). An operand is never itself a difference, so rows can be
    restored in one pass; it is an earlier row, or a later free row of a row that is not free,
    so a row is written as the difference of the rows it was computed from (e.g.
    ``rmst_difference_<t>m`` from the two arms' ``rmst_<t>m``, not an arm's ``rmst_<t>m``
    from the other arm's and the difference). Rows with one value in every draw compress to
    nothing and are left alone. Every match is checked on all draws, bit for bit.
    """
    n = len(values)
    flat = values.reshape(n, -1)
    if n < 3 or flat.shape[1] == 0:
        return {}
    probe = np.ascontiguousarray(flat[:, :_PROBE])
    targets: dict[bytes, list[int]] = {}
    for i in range(n):
        if not (flat[i] == flat[i, 0]).all():
            targets.setdefault(probe[i].tobytes(), []).append(i)
    candidates: dict[int, list[tuple[int, int]]] = {}
    for j in range(n):
        with np.errstate(all="ignore"):
            minus = probe[j] - probe
        for k in range(n):
            for i in targets.get(minus[k].tobytes(), ()) if k != j else ():
                candidates.setdefault(i, []).append((j, k))
    derived: dict[int, tuple[int, int]] = {}
    operands: set[int] = set()
    for i in sorted(candidates):
        if i in operands:
            continue
        for j, k in candidates[i]:
            if i in (j, k) or j in derived or k in derived:
                continue
            if not all(o < i or (free[o] and not free[i]) for o in (j, k)):
                continue
            with np.errstate(all="ignore"):
                if (flat[j] - flat[k]).tobytes() == flat[i].tobytes():
                    derived[i] = (j, k)
                    operands.update((j, k))
                    break
    return derived


def _float32_precision(values: np.ndarray) -> np.ndarray:
    """Rows (row, chain, draw) rounded to float32, differences of earlier rows kept as such.

    A row bitwise equal to an earlier row minus another (:func:`_differences`) becomes the
    difference of the two rounded rows, so that it can still be stored as that difference.
    """
    rounded = values.astype(np.float32).astype(float)
    for row, (minuend, subtrahend) in _differences(values, np.zeros(len(values), bool)).items():
        with np.errstate(all="ignore"):
            rounded[row] = rounded[minuend] - rounded[subtrahend]
    return rounded


def _stored_quantities(tree: xr.DataTree) -> xr.Dataset:
    """The ``quantities`` group as stored: rows equal to a posterior variable become references.

    A row whose draws are bitwise equal to one cell of a float variable elsewhere in the tree
    as that variable is stored (float32; e.g. ``ae_probability`` of one event and arm: a cell
    of ``p``) is stored as
    ``source_group``, ``source_variable`` and ``source_cell`` (C-order index over the
    variable's dims after chain and draw); a row bitwise equal to the difference of two other
    rows (e.g. ``rmst_difference_12m`` = ``rmst_12m`` of lu177 minus that of control; see
    :func:`_differences`) as ``minuend_row`` and ``subtrahend_row``. Both have ``stored_row =
    -1``; the other rows keep their draws in ``draws`` (dims ``stored_row, chain, draw``).
    """
    dataset = tree[QUANTITIES].to_dataset(inherit=False)
    draws = dataset["draws"].transpose("row", "chain", "draw")
    shape = (draws.sizes["chain"], draws.sizes["draw"])
    index: dict[bytes, tuple[str, str, int]] = {}
    for group, name, variable in _draw_variables(tree, shape):
        # as stored (float32) and read back: the value a reference restores
        for cell, values in enumerate(_cells(variable).astype(np.float32).astype(float)):
            index.setdefault(np.ascontiguousarray(values).tobytes(), (group, name, cell))
    values = draws.values
    sources = [index.get(np.ascontiguousarray(row).tobytes()) for row in values]
    derived = _differences(values, np.array([s is not None for s in sources], dtype=bool))
    sources = [None if i in derived else s for i, s in enumerate(sources)]
    kept = [i for i, source in enumerate(sources) if source is None and i not in derived]
    stored_row = np.full(len(sources), -1, dtype=np.int64)
    stored_row[kept] = np.arange(len(kept))
    operand = {name: np.array([derived[i][position] if i in derived else -1
                               for i in range(len(sources))], dtype=np.int64)
               for position, name in enumerate(("minuend_row", "subtrahend_row"))}
    labels = {c: ("row", dataset[c].values) for c in LABELS}
    stored = xr.Dataset(
        {"draws": (("stored_row", "chain", "draw"), values[kept]),
         "stored_row": ("row", stored_row),
         "source_group": ("row", [s[0] if s else "" for s in sources]),
         "source_variable": ("row", [s[1] if s else "" for s in sources]),
         "source_cell": ("row", np.array([s[2] if s else -1 for s in sources], dtype=np.int64)),
         **{name: ("row", rows) for name, rows in operand.items()}},
        coords={"chain": draws["chain"].values, "draw": draws["draw"].values, **labels},
        attrs={**dataset.attrs, LAYOUT_ATTR: LAYOUT},
    )
    return stored


def _restored_quantities(tree: xr.DataTree) -> xr.Dataset:
    """Inverse of :func:`_stored_quantities`: ``draws`` with dims ``row, chain, draw`` again."""
    stored = tree[QUANTITIES].to_dataset(inherit=False)
    n_rows = stored.sizes["row"]
    minuend = (stored["minuend_row"].values if "minuend_row" in stored
               else np.full(n_rows, -1, dtype=np.int64))
    rows: list[np.ndarray | None] = []
    for i, position in enumerate(stored["stored_row"].values):
        if position >= 0:
            rows.append(stored["draws"].values[position].astype(float))
        elif minuend[i] >= 0:
            rows.append(None)  # a difference of two rows restored below
        else:
            group = str(stored["source_group"].values[i])
            variable = tree[group].to_dataset(inherit=False)[
                str(stored["source_variable"].values[i])]
            rows.append(_cells(variable)[int(stored["source_cell"].values[i])].astype(float))
    for i in np.flatnonzero(minuend >= 0):
        with np.errstate(all="ignore"):
            rows[i] = rows[minuend[i]] - rows[int(stored["subtrahend_row"].values[i])]
    shape = (0, stored.sizes["chain"], stored.sizes["draw"])
    draws = np.stack(rows) if rows else np.empty(shape)
    attrs = {k: v for k, v in stored.attrs.items() if k != LAYOUT_ATTR}
    return xr.Dataset(
        {"draws": (("row", "chain", "draw"), draws)},
        coords={"chain": stored["chain"].values, "draw": stored["draw"].values,
                **{c: ("row", stored[c].values) for c in LABELS}},
        attrs=attrs,
    )


def _all_none(variable: xr.DataArray) -> bool:
    """Whether an object variable holds only ``None`` (written as NaN floats, compressible)."""
    return variable.dtype == object and all(value is None for value in variable.values.flat)


def save_posterior(tree: xr.DataTree, path: Path, *, spec: dict, version: str) -> None:
    """Write the tree as compressed NetCDF with the spec (JSON) and package version.

    What is stored:

    - every group and attribute of the tree, each numeric variable deflate-compressed (zlib
      level 4 with byte shuffle, readable by any netCDF-4 / HDF5 reader; higher levels gain
      below 0.1% on posterior draws), and so are sampler statistics that hold no value at all
      (nutpie's ``divergence_message`` without divergences, read back as NaN);
    - the ``quantities`` draws exactly: :func:`load_posterior` gives back the same numbers, so
      ``prrt-bayes summarize`` reproduces ``summary.csv``. They are at float32 precision
      (:func:`attach_quantities`) and stored as float32. A quantity whose draws are bitwise a
      cell of a posterior variable as stored (most toxicity rows: ``p``, ``odds_ratio``,
      ``prob_no_difference`` per event) is stored once, as a reference to that cell; a
      quantity whose draws are bitwise the difference of two other rows
      (``rmst_difference_<t>m``, ``mean_survival_difference_months``, a toxicity
      ``risk_difference``) is stored as that difference. Random draws compress to no less than
      about 3.4 of their 4 bytes (the bundled os_final file: 2.3 MB of quantities, 5.3 MB of
      parameters, 48,000 pooled draws of the reconstruction ensemble);
    - the sampler statistics except :data:`SAMPLER_BOOKKEEPING`;
    - the other draws (sampled parameters, other deterministics, sampler statistics: float64
      variables with ``chain`` and ``draw`` dims) as float32: relative rounding below
      :math:`6 \\times 10^{-8}`, far below the Monte Carlo error of any posterior summary (a
      posterior mean's MCSE is its sd over the square root of the ESS, i.e. a few percent of
      the sd). Data groups (``observed_data``, ``constant_data``) and coordinates are exact.

    Parameters
    ----------
    tree
        Posterior DataTree; its root attributes ``prrt_bayes_version`` and ``spec`` are set in
        place before writing (nothing else in it changes).
    path
        Output NetCDF file (overwritten if it exists).
    spec
        The analysis spec as a dict, stored as sorted-key JSON (non-JSON values via ``str``).
    version
        Package version string.
    """
    tree.attrs["prrt_bayes_version"] = version
    tree.attrs["spec"] = json.dumps(spec, default=str, sort_keys=True)
    groups = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
    for group, dataset in groups.items():
        if group.rsplit("/", 1)[-1] == "sample_stats":
            groups[group] = dataset.drop_vars(SAMPLER_BOOKKEEPING & set(dataset.data_vars))
    if QUANTITIES in tree.children and "draws" in tree[QUANTITIES].dataset:
        groups[f"/{QUANTITIES}"] = _stored_quantities(tree)
    encoding: dict[str, dict] = {}
    for group, dataset in groups.items():
        variables = {}
        for name, variable in dataset.data_vars.items():
            if variable.dtype.kind not in "biuf" and not _all_none(variable):
                continue
            variables[name] = {"zlib": True, "complevel": 4, "shuffle": True}
            if (variable.dtype == np.float64 and {"chain", "draw"} <= set(variable.dims)
                    and (group != f"/{QUANTITIES}" or _float32_exact(variable.values))):
                variables[name]["dtype"] = "float32"
        if variables:
            encoding[group] = variables
    xr.DataTree.from_dict(groups).to_netcdf(path, encoding=encoding)


def _float32_exact(values: np.ndarray) -> bool:
    """Whether float32 holds every value exactly (NaN and infinities included)."""
    return np.array_equal(values.astype(np.float32).astype(float), values, equal_nan=True)


def load_posterior(path: str | Path) -> xr.DataTree:
    """Read a saved posterior.

    Parameters
    ----------
    path
        NetCDF file written by :func:`save_posterior` (files written before quantities were
        stored by reference load as they are, those with references but no differences too).

    Returns
    -------
    xarray.DataTree
        The whole tree, loaded into memory (the file is not kept open), with the
        ``quantities`` group as :func:`attach_quantities` made it (``draws`` with dims ``row,
        chain, draw``, exact).

    Raises
    ------
    InputError
        The file does not exist or cannot be read as a NetCDF DataTree.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("posterior file not found", file=path)
    try:
        with xr.open_datatree(path) as opened:
            tree = opened.load()
    except (OSError, ValueError) as err:
        raise InputError(f"not a readable NetCDF posterior: {err}", file=path) from None
    if QUANTITIES in tree.children and tree[QUANTITIES].attrs.get(LAYOUT_ATTR) in _LAYOUTS:
        tree[QUANTITIES] = xr.DataTree(_restored_quantities(tree))
    return tree


def parameter_frame(arrays: dict[str, xr.DataArray]) -> pd.DataFrame:
    """Posterior draws as a PSA parameter table: one row per (chain, draw), one column per scalar.

    Parameters
    ----------
    arrays
        ``{name: draws}``; every array has dims ``chain`` and ``draw`` (same sizes across
        arrays), possibly with extra dims. At least one array.

    Returns
    -------
    pandas.DataFrame
        A new frame with ``chains * draws`` rows: columns ``chain`` and ``draw`` first, then one
        column per scalar array (its name), and for an array with extra dims one column
        ``name[label]`` per cell (label: the extra coordinate values, joined with ``,``).

    Raises
    ------
    InputError
        When ``arrays`` is empty, or an array lacks the ``chain``/``draw`` dims or has other
        chain and draw sizes than the first.
    """
    if not arrays:
        raise InputError("parameter_frame needs at least one array of posterior draws")
    sizes = None
    for name, array in arrays.items():
        if not {"chain", "draw"} <= set(array.dims):
            raise InputError(f"draws of {name!r} need dims 'chain' and 'draw', got {array.dims}")
        shape = (array.sizes["chain"], array.sizes["draw"])
        sizes = sizes or shape
        if shape != sizes:
            raise InputError(f"draws of {name!r} have (chain, draw) sizes {shape}, the first "
                             f"array {sizes}")
    columns: dict[str, np.ndarray] = {}
    index = None
    for name, array in arrays.items():
        stacked = array.stack(sample=("chain", "draw")).transpose("sample", ...)
        index = stacked.sample
        extra = [d for d in stacked.dims if d != "sample"]
        if not extra:
            columns[name] = stacked.values
            continue
        flat = stacked.stack(cell=extra)
        for j in range(flat.sizes["cell"]):
            label = flat.cell.values[j]
            label = ",".join(map(str, label)) if isinstance(label, tuple) else str(label)
            columns[f"{name}[{label}]"] = flat.isel(cell=j).values
    frame = pd.DataFrame(columns)
    frame.insert(0, "draw", index.draw.values)
    frame.insert(0, "chain", index.chain.values)
    return frame
