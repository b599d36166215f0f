"""What a posterior file stores: every variable compressed and float32, differences of rows as
differences, no sampler bookkeeping, and the summary numbers back bit for bit.

Hand-made trees shaped like a pooled survival analysis and the toxicity analysis - no MCMC.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from prrt_bayes.core.posterior import (
    LAYOUT_ATTR,
    QUANTITIES,
    SAMPLER_BOOKKEEPING,
    attach_quantities,
    load_posterior,
    save_posterior,
    summary_from_tree,
)

CHAINS, DRAWS = 4, 1000
DIMS = ("chain", "draw")


def sample_stats(rng) -> xr.Dataset:
    """nutpie-like sampler statistics, including bookkeeping and an all-None message."""
    shape = (CHAINS, DRAWS)
    stats = {
        "diverging": (DIMS, np.zeros(shape, bool)),
        "energy": (DIMS, rng.normal(10, 1, shape)),
        "step_size": (DIMS, np.repeat(rng.uniform(0.2, 0.5, (CHAINS, 1)), DRAWS, axis=1)),
        "n_steps": (DIMS, rng.integers(1, 16, shape).astype(np.uint64)),
        "divergence_message": (DIMS, np.full(shape, None, dtype=object)),
    }
    stats |= {name: (DIMS, rng.normal(0, 1, shape)) for name in SAMPLER_BOOKKEEPING}
    return xr.Dataset(stats, coords={"chain": np.arange(CHAINS), "draw": np.arange(DRAWS)})


def survival_like_tree() -> xr.DataTree:
    """Parameters, a referenced hazard ratio, per-arm RMST and median rows and their
    differences (with infinite draws, as a median beyond the horizon has)."""
    rng = np.random.default_rng(11)
    coords = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS), "basis": np.arange(5)}
    log_hr = rng.normal(-1.5, 0.2, (CHAINS, DRAWS))
    posterior = xr.Dataset({
        "log_hr": (DIMS, log_hr),
        "weights": (DIMS + ("basis",), rng.dirichlet(np.ones(5), (CHAINS, DRAWS))),
        "hazard_ratio": (DIMS, np.exp(log_hr)),
    }, coords=coords)
    tree = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": sample_stats(rng)})
    # multiples of 2**-10: subtraction is exact, so control = lu177 - difference holds too
    rmst = {arm: xr.DataArray(np.round(rng.gamma(20, 0.6, (CHAINS, DRAWS)) * 1024) / 1024,
                              dims=DIMS) for arm in ("lu177", "control")}
    median = rmst["lu177"].copy(data=np.where(rng.random((CHAINS, DRAWS)) < 0.01, np.inf,
                                              rmst["lu177"].values * 1.7))
    items = [("hazard_ratio", "lu177_vs_control", posterior["hazard_ratio"]),
             ("rmst_24m", "lu177", rmst["lu177"]), ("rmst_24m", "control", rmst["control"]),
             ("median_survival_months", "lu177", median),
             ("median_survival_months", "control", rmst["control"] * 1.3),
             ("rmst_difference_24m", "lu177_vs_control", rmst["lu177"] - rmst["control"]),
             ("median_difference", "lu177_vs_control", median - rmst["control"] * 1.3),
             ("constant", "lu177", xr.zeros_like(rmst["lu177"]))]
    attach_quantities(tree, items, analysis="pfs_primary", endpoint="pfs")
    return tree


def toxicity_like_tree() -> xr.DataTree:
    """Per-event probabilities (cells of ``p``) listed before their risk difference."""
    rng = np.random.default_rng(3)
    events = ["nausea", "anemia"]
    p = rng.beta(2, 5, (CHAINS, DRAWS, len(events), 2))
    posterior = xr.Dataset({
        "p": (DIMS + ("event", "arm"), p),
        "risk_difference": (DIMS + ("event",), p[..., 0] - p[..., 1]),
    }, coords={"chain": np.arange(CHAINS), "draw": np.arange(DRAWS), "event": events,
               "arm": ["lu177", "control"]})
    tree = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": sample_stats(rng)})
    items = []
    for event in events:
        for arm in ("lu177", "control"):
            items.append(("ae_probability", arm, posterior["p"].sel(event=event, arm=arm,
                                                                    drop=True), event))
        items.append(("risk_difference", "lu177_vs_control",
                      posterior["risk_difference"].sel(event=event, drop=True), event))
    attach_quantities(tree, items, analysis="toxicity", endpoint="adverse_events")
    return tree


def raw_quantities(path) -> xr.Dataset:
    """The ``quantities`` group as written (before :func:`load_posterior` restores it)."""
    with xr.open_datatree(path) as raw:
        return raw[QUANTITIES].to_dataset(inherit=False).load()


def test_every_variable_is_compressed_and_bookkeeping_is_left_out(tmp_path):
    tree = survival_like_tree()
    save_posterior(tree, tmp_path / "p.nc", spec={}, version="x")
    with xr.open_datatree(tmp_path / "p.nc") as raw:
        for node in raw.subtree:
            for name, variable in node.to_dataset(inherit=False).data_vars.items():
                if variable.dtype.kind in "biuf":
                    assert variable.encoding.get("zlib"), f"{node.path}/{name} not compressed"
                    assert variable.encoding.get("shuffle"), f"{node.path}/{name}"
        stats = raw["sample_stats"].to_dataset(inherit=False)
        assert not SAMPLER_BOOKKEEPING & set(stats.data_vars)
        assert {"diverging", "energy", "step_size", "n_steps",
                "divergence_message"} <= set(stats.data_vars)
        assert raw["posterior"]["weights"].dtype == np.float32
        assert raw["posterior"]["hazard_ratio"].dtype == np.float32  # also when referenced
        assert raw[QUANTITIES]["draws"].dtype == np.float32
    plain = tmp_path / "plain.nc"
    tree.to_netcdf(plain)
    assert (tmp_path / "p.nc").stat().st_size < 0.5 * plain.stat().st_size
    # the tree itself keeps everything
    assert SAMPLER_BOOKKEEPING <= set(tree["sample_stats"].dataset.data_vars)


def test_difference_rows_are_stored_as_differences_and_come_back_exact(tmp_path):
    tree = survival_like_tree()
    before = summary_from_tree(tree)
    save_posterior(tree, tmp_path / "p.nc", spec={}, version="x")
    stored = raw_quantities(tmp_path / "p.nc")
    assert stored.attrs[LAYOUT_ATTR] == "quantities-by-reference-2"
    quantity = stored["quantity"].values.tolist()
    derived = {quantity[i]: (quantity[stored["minuend_row"].values[i]],
                             quantity[stored["subtrahend_row"].values[i]])
               for i in np.flatnonzero(stored["minuend_row"].values >= 0)}
    # the differences, each from the rows it was computed from (never an arm from the other
    # arm and the difference); the constant row and the referenced hazard ratio are left alone
    assert derived == {"rmst_difference_24m": ("rmst_24m", "rmst_24m"),
                       "median_difference": ("median_survival_months",
                                             "median_survival_months")}
    assert stored["source_variable"].values.tolist()[0] == "hazard_ratio"
    assert stored["draws"].sizes["stored_row"] == 5
    back = load_posterior(tmp_path / "p.nc")
    draws = back[QUANTITIES]["draws"]
    assert draws.dims == ("row", "chain", "draw") and draws.dtype == np.float64
    assert draws.values.tobytes() == tree[QUANTITIES]["draws"].values.tobytes()
    assert np.isinf(draws.values).any()
    assert summary_from_tree(back).equals(before)


def test_a_difference_of_referenced_cells_frees_its_variable(tmp_path):
    tree = toxicity_like_tree()
    save_posterior(tree, tmp_path / "p.nc", spec={}, version="x")
    stored = raw_quantities(tmp_path / "p.nc")
    assert stored["draws"].sizes["stored_row"] == 0
    is_difference = stored["minuend_row"].values >= 0
    assert stored["quantity"].values[is_difference].tolist() == ["risk_difference"] * 2
    assert set(stored["source_variable"].values[~is_difference].tolist()) == {"p"}
    back = load_posterior(tmp_path / "p.nc")
    assert back["posterior"]["p"].dtype == np.float32
    assert back["posterior"]["risk_difference"].dtype == np.float32
    np.testing.assert_array_equal(back[QUANTITIES]["draws"].values,
                                  tree[QUANTITIES]["draws"].values)


def test_files_with_references_only_still_load(tmp_path):
    """Layout 1 (written before differences were stored as such) reads back exactly."""
    tree = survival_like_tree()
    quantities = tree[QUANTITIES].to_dataset(inherit=False)
    draws = quantities["draws"].values
    n = len(draws)
    old = xr.Dataset(
        {"draws": (("stored_row", "chain", "draw"), draws[1:]),  # row 0: the hazard ratio
         "stored_row": ("row", np.arange(-1, n - 1)),
         "source_group": ("row", ["/posterior"] + [""] * (n - 1)),
         "source_variable": ("row", ["hazard_ratio"] + [""] * (n - 1)),
         "source_cell": ("row", np.array([0] + [-1] * (n - 1)))},
        coords={"chain": quantities["chain"].values, "draw": quantities["draw"].values,
                **{c: ("row", quantities[c].values) for c in ("quantity", "group", "endpoint",
                                                             "analysis")}},
        attrs={LAYOUT_ATTR: "quantities-by-reference-1"},
    )
    groups = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
    groups[f"/{QUANTITIES}"] = old
    # a layout-1 file's referenced variable held the row's draws exactly
    groups["/posterior"]["hazard_ratio"] = (DIMS, draws[0])
    xr.DataTree.from_dict(groups).to_netcdf(tmp_path / "old.nc")
    back = load_posterior(tmp_path / "old.nc")
    assert back[QUANTITIES]["draws"].values.tobytes() == draws.tobytes()
    assert summary_from_tree(back).equals(summary_from_tree(tree))


def test_quantities_are_float32_precision_and_differences_stay_differences(tmp_path):
    """Rounding each row on its own would break ``rmst_difference = lu177 - control``: the
    difference row is the difference of the rounded rows instead, and still stored as such."""
    rng = np.random.default_rng(5)
    arms = {arm: xr.DataArray(rng.gamma(20, 0.6, (CHAINS, DRAWS)), dims=DIMS)
            for arm in ("lu177", "control")}
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"x": arms["lu177"]})})
    attach_quantities(tree, [("rmst_24m", "lu177", arms["lu177"]),
                             ("rmst_24m", "control", arms["control"]),
                             ("rmst_difference_24m", "lu177_vs_control",
                              arms["lu177"] - arms["control"])],
                      analysis="a", endpoint="os")
    lu177, control, difference = tree[QUANTITIES]["draws"].transpose("row", ...).values
    for row, exact in ((lu177, arms["lu177"]), (control, arms["control"])):
        np.testing.assert_array_equal(row, exact.values.astype(np.float32))
        assert not np.array_equal(row, exact.values)  # rounded, not float64 any more
    assert difference.tobytes() == (lu177 - control).tobytes()
    # within a float32 rounding of the operands (about 12 months here)
    np.testing.assert_allclose(difference, (arms["lu177"] - arms["control"]).values, rtol=0,
                               atol=2e-6)
    save_posterior(tree, tmp_path / "p.nc", spec={}, version="x")
    assert raw_quantities(tmp_path / "p.nc")["minuend_row"].values.tolist() == [-1, -1, 0]
    back = load_posterior(tmp_path / "p.nc")
    assert back[QUANTITIES]["draws"].values.tobytes() == tree[QUANTITIES]["draws"].values.tobytes()
