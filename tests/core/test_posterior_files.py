"""Posterior files: compressed, each quantity stored once, exact where summaries need it.

A hand-made tree shaped like the toxicity analysis (a nested sub-fit, deterministics that are
also reported quantities, a derived indicator) - no MCMC.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from prrt_bayes.core.posterior import (
    attach_quantities,
    load_posterior,
    save_posterior,
    summary_from_tree,
)

CHAINS, DRAWS = 2, 500


def fit_group(rng, events):
    """(posterior, sample_stats) datasets of one fit with per-event deterministics."""
    coords = {"chain": np.arange(CHAINS), "draw": np.arange(DRAWS), "event": events,
              "arm": ["lu177", "control"]}
    z = rng.standard_normal((CHAINS, DRAWS, len(events)))
    p = 1 / (1 + np.exp(-(z[..., None] + np.array([0.5, -0.5]))))
    posterior = xr.Dataset({
        "mu": (("chain", "draw"), rng.normal(0, 1, (CHAINS, DRAWS))),
        "z": (("chain", "draw", "event"), z),
        "p": (("chain", "draw", "event", "arm"), p),
        "risk_difference": (("chain", "draw", "event"), p[..., 0] - p[..., 1]),
    }, coords=coords, attrs={"priors": json.dumps({"mu": "Normal(0, 1)"}), "backend": "nutpie"})
    stats = xr.Dataset({
        "energy": (("chain", "draw"), rng.normal(10, 1, (CHAINS, DRAWS))),
        "diverging": (("chain", "draw"), np.zeros((CHAINS, DRAWS), bool)),
        "n_steps": (("chain", "draw"), rng.integers(1, 16, (CHAINS, DRAWS)).astype(np.uint64)),
    }, coords={"chain": coords["chain"], "draw": coords["draw"]})
    return posterior, stats


def toxicity_like_tree(all_referenced=False):
    rng = np.random.default_rng(5)
    events = ["nausea", "vomiting", "anemia"]
    posterior, stats = fit_group(rng, events)
    grade34, grade34_stats = fit_group(rng, events)
    tree = xr.DataTree.from_dict({
        "posterior": posterior, "sample_stats": stats,
        "observed_data": xr.Dataset({"cases": (("event", "arm"), [[80, 10], [50, 9], [12, 11]])},
                                    coords={"event": events, "arm": ["lu177", "control"]}),
        "constant_data": xr.Dataset({"totals": ("arm", np.array([111.5, 110.25]))}),
        "grade34/posterior": grade34, "grade34/sample_stats": grade34_stats,
    })
    items = []
    for name, fit in (("any", posterior), ("grade34", grade34)):
        for event in events:
            rd = fit["risk_difference"].sel(event=event, drop=True)
            items.append(("risk_difference", "lu177_vs_control", rd, f"{event}_{name}"))
            for arm in ("lu177", "control"):
                items.append(("ae_probability", arm, fit["p"].sel(event=event, arm=arm, drop=True),
                              f"{event}_{name}"))
            if not all_referenced:
                items.append(("probability_risk_difference_positive", "lu177_vs_control",
                              (rd > 0).astype(float), f"{event}_{name}"))
                items.append(("odds_ratio", "lu177_vs_control", np.exp(rd * 3.0),
                              f"{event}_{name}"))
    attach_quantities(tree, items, analysis="toxicity", endpoint="adverse_events")
    return tree


def test_round_trip_keeps_quantities_exact_and_the_rest_close(tmp_path):
    tree = toxicity_like_tree()
    before = summary_from_tree(tree)
    save_posterior(tree, tmp_path / "p.nc", spec={"name": "toxicity"}, version="9.9")
    back = load_posterior(tmp_path / "p.nc")

    assert json.loads(back.attrs["spec"]) == {"name": "toxicity"}
    assert back.attrs["prrt_bayes_version"] == "9.9"
    assert back["posterior"].attrs == tree["posterior"].attrs
    assert [n.path for n in back.subtree] == [n.path for n in tree.subtree]
    for node in tree.subtree:
        assert set(back[node.path].dataset.data_vars) == set(node.dataset.data_vars), node.path
    # quantities: identical, so summarize reproduces summary.csv
    q, q_back = tree["quantities"].dataset, back["quantities"].dataset
    assert q_back["draws"].dims == ("row", "chain", "draw")
    np.testing.assert_array_equal(q_back["draws"].values, q["draws"].values)
    assert q_back["draws"].dtype == np.float64
    for label in ("quantity", "group", "endpoint", "analysis"):
        assert q_back[label].values.tolist() == q[label].values.tolist()
    assert summary_from_tree(back).equals(before)
    # every draw variable float32 (referenced ones too: rows hold their float32 values), data
    # exact
    for group in ("posterior", "grade34/posterior"):
        for name in ("p", "risk_difference", "z"):
            assert back[group][name].dtype == np.float32
            np.testing.assert_allclose(back[group][name].values, tree[group][name].values,
                                       rtol=2.0**-24, atol=0)
    assert back["sample_stats"]["energy"].dtype == np.float32
    np.testing.assert_array_equal(back["sample_stats"]["n_steps"].values,
                                  tree["sample_stats"]["n_steps"].values)
    np.testing.assert_array_equal(back["constant_data"]["totals"].values, [111.5, 110.25])
    assert back["constant_data"]["totals"].dtype == np.float64


def test_duplicated_quantities_are_stored_once(tmp_path):
    tree = toxicity_like_tree()
    save_posterior(tree, tmp_path / "p.nc", spec={}, version="x")
    with xr.open_datatree(tmp_path / "p.nc") as raw:
        stored = raw["quantities"].dataset
        # 2 fits x 3 events: rd and two probabilities are posterior cells; the indicator and
        # the derived odds ratio are not
        assert stored.sizes["row"] == 30 and stored["draws"].sizes["stored_row"] == 12
        referenced = stored["source_variable"].values[stored["stored_row"].values < 0]
        assert sorted(set(referenced.tolist())) == ["p", "risk_difference"]
        assert raw["posterior"]["z"].encoding["zlib"]
    plain = tmp_path / "plain.nc"
    tree.to_netcdf(plain)
    assert (tmp_path / "p.nc").stat().st_size < 0.6 * plain.stat().st_size


def test_every_row_referenced_and_old_files_load(tmp_path):
    tree = toxicity_like_tree(all_referenced=True)
    save_posterior(tree, tmp_path / "p.nc", spec={}, version="x")
    back = load_posterior(tmp_path / "p.nc")
    np.testing.assert_array_equal(back["quantities"]["draws"].values,
                                  tree["quantities"]["draws"].values)
    # a file written before (plain to_netcdf, draws stored in full) loads unchanged
    tree.to_netcdf(tmp_path / "old.nc")
    old = load_posterior(tmp_path / "old.nc")
    assert summary_from_tree(old).equals(summary_from_tree(tree))


def test_saving_changes_only_the_root_attributes(tmp_path):
    tree = toxicity_like_tree()
    copy = tree.copy(deep=True)
    save_posterior(tree, tmp_path / "p.nc", spec={"a": 1}, version="x")
    for node in copy.subtree:
        after = tree[node.path].to_dataset(inherit=False)
        if node.path == "/":
            assert after.attrs == {"spec": '{"a": 1}', "prrt_bayes_version": "x"}
            after.attrs = {}
        xr.testing.assert_identical(after, node.to_dataset(inherit=False))


def test_missing_file_is_an_input_error(tmp_path):
    from prrt_bayes.core.errors import InputError

    with pytest.raises(InputError, match="not found"):
        load_posterior(tmp_path / "none.nc")
