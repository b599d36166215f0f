"""Posterior trees on disk, and the derived quantities they carry for re-summarising.

Every analysis stores the draws of each reported quantity in a ``quantities`` group of its
DataTree (variable ``draws``, dims ``chain, draw, row``; coordinates ``quantity``, ``group``,
``endpoint``, ``analysis`` along ``row``). The summary table is computed from that group by
:func:`summary_from_tree`, both when the runner writes ``summary.csv`` and when
``prrt-bayes summarize POSTERIOR.nc`` reloads a saved posterior, so both give the same numbers.
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


def attach_quantities(
    tree: xr.DataTree, items: Sequence[QuantityDraws], *, analysis: str, endpoint: str
) -> None:
    """Store the draws of each reported quantity in ``tree["quantities"]``.

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


def save_posterior(tree: xr.DataTree, path: Path, *, spec: dict, version: str) -> None:
    """Write the tree as NetCDF with the spec (JSON) and package version in its attributes.

    Parameters
    ----------
    tree
        Posterior DataTree; its root attributes ``prrt_bayes_version`` and ``spec`` are set in
        place before writing.
    path
        Output NetCDF file (overwritten if it exists).
    spec
        The analysis spec as a dict, stored as sorted-key JSON (non-JSON values via ``str``).
    version
        Package version string.
    """
    tree.attrs["prrt_bayes_version"] = version
    tree.attrs["spec"] = json.dumps(spec, default=str, sort_keys=True)
    tree.to_netcdf(path)


def load_posterior(path: str | Path) -> xr.DataTree:
    """Read a saved posterior.

    Parameters
    ----------
    path
        NetCDF file written by :func:`save_posterior`.

    Returns
    -------
    xarray.DataTree
        The whole tree, loaded into memory (the file is not kept open).

    Raises
    ------
    InputError
        The file does not exist or cannot be read as a NetCDF DataTree.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("posterior file not found", file=path)
    try:
        return xr.open_datatree(path).load()
    except (OSError, ValueError) as err:
        raise InputError(f"not a readable NetCDF posterior: {err}", file=path) from None


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
