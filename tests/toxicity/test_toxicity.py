"""Adverse events: exact conjugate draws, Berry & Berry and Xia Model 1a stacks of tables,
Fisher, MDS risk."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import row
from matplotlib.figure import Figure
from scipy import stats

from prrt_bayes.core import fit as core_fit
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import Beta, HalfNormal, Normal, read_priors
from prrt_bayes.core.sampling import SamplerSettings, compile_count
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.toxicity.adverse_events import (
    BERRY_BERRY_PRIORS,
    KIND_LABELS,
    XIA_1A_PRIORS,
    AEFit,
    ae_priors,
    ae_stack,
    compare_with_fisher,
    event_key,
    fit_ae,
    fit_ae_tables,
    netter1_ae_table,
    netter1_overview_table,
    plot_ae_forest,
    prior_predictive_check,
    validate_ae_table,
)

AE_SETTINGS = SamplerSettings(draws=2000, tune=1000, target_accept=0.99)
"""The Xia Model 1a fits' settings (the former defaults of ``fit_ae``)."""

BB_SETTINGS = replace(AE_SETTINGS, draws=4000)
"""The Berry & Berry fits' settings: with 2000 draws per chain the any-grade table's
``sigma_theta`` had a bulk ESS of 224 (seed 20170112; 418 with 2000 tuning steps), with 4000
draws 487 (about 46 s for both tables, compile included)."""

@pytest.fixture(scope="module")
def table_any():
    return netter1_ae_table("any")


@pytest.fixture(scope="module")
def table_g34():
    return netter1_ae_table("grade34")


FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pre_redesign" / "summary_bundled.csv"
"""The bundled summary before the redesign (five toxicity fits: one per table and model)."""


@pytest.fixture(scope="module")
def tables(table_any, table_g34):
    return {"any": table_any, "grade34": table_g34}


@pytest.fixture(scope="module")
def hier(tables):
    """Both grades in one Berry & Berry model: the bundled analysis' fit (default model)."""
    return fit_ae_tables(tables, BB_SETTINGS, analysis="toxicity")


@pytest.fixture(scope="module")
def xia(tables):
    """Both grades in one Xia Model 1a: the pre-issue-17 analysis' fit (same settings, seed)."""
    return fit_ae_tables(tables, AE_SETTINGS, kind="xia_1a", analysis="toxicity")


@pytest.fixture(scope="module")
def indep(tables):
    return fit_ae_tables(tables, AE_SETTINGS, kind="independent", analysis="toxicity")


@pytest.fixture(scope="module")
def hier_any(hier):
    return hier["any"]


@pytest.fixture(scope="module")
def hier_g34(hier):
    return hier["grade34"]


@pytest.fixture(scope="module")
def xia_any(xia):
    return xia["any"]


@pytest.fixture(scope="module")
def xia_g34(xia):
    return xia["grade34"]


@pytest.fixture(scope="module")
def indep_any(indep):
    return indep["any"]


@pytest.fixture(scope="module")
def indep_g34(indep):
    return indep["grade34"]


# ------------------------------------------------------------------------------ inputs
def test_table4_from_evidence(table_any, table_g34):
    assert len(table_any) == 19 and len(table_g34) == 19
    nausea = table_any.set_index("key").loc["nausea_any_grade"]
    assert (nausea.lu177_events, nausea.lu177_total, nausea.control_events,
            nausea.control_total) == (65, 111, 13, 110)
    assert table_g34.set_index("key").loc["lymphopenia_grade34", "lu177_events"] == 10
    assert event_key("Fatigue or asthenia", "grade34") == "fatigue_or_asthenia_grade34"


def _bad(changes):
    table = netter1_ae_table("any").drop(columns=["key"])
    for (index, column), value in changes.items():
        table.loc[index, column] = value
    return table


@pytest.mark.parametrize(
    "changes, text",
    [({(2, "lu177_events"): 112}, "events 112 > total 111"),
     ({(0, "control_events"): -1}, "negative"),
     ({(3, "organ_class"): ""}, "has no organ class"),
     ({(3, "organ_class"): None}, "has no organ class"),
     ({(1, "event"): "Nausea"}, "duplicate event")],
)
def test_bad_ae_tables_raise_one_line_input_error(changes, text):
    with pytest.raises(InputError, match=text) as err:
        validate_ae_table(_bad(changes))
    assert "\n" not in str(err.value)


def test_missing_organ_class_is_caught_before_fitting():
    with pytest.raises(InputError, match="organ class"):
        fit_ae(_bad({(5, "organ_class"): " "}), AE_SETTINGS)


def test_bad_kind_and_grade():
    for kind in ("pooled", "hierarchical"):
        with pytest.raises(InputError, match="kind must be one of 'berry_berry', 'xia_1a'"):
            fit_ae(netter1_ae_table(), AE_SETTINGS, kind=kind)
    with pytest.raises(InputError, match="grade"):
        netter1_ae_table("grade5")


def test_bad_stacks_of_tables_raise_input_error(table_any, table_g34):
    with pytest.raises(InputError, match="no AE table"):
        ae_stack({})
    with pytest.raises(InputError, match="occurs twice in the AE tables"):
        fit_ae_tables({"a": table_any, "b": table_any}, AE_SETTINGS)
    with pytest.raises(InputError, match="labels must be non-empty strings"):
        ae_stack({"": table_any})
    assert list(ae_stack({"any": table_any, "grade34": table_g34})) == ["any", "grade34"]


# ------------------------------------------------------- independent model: conjugate check
@pytest.mark.parametrize("fixture", ["indep_any", "indep_g34"])
def test_independent_means_match_conjugate_beta(request, fixture):
    fit = request.getfixturevalue(fixture)
    assert fit.diagnostics.passed, fit.diagnostics.problems
    post = fit.tree.posterior["p"]
    mean = post.mean(("chain", "draw"))
    ess = fit.diagnostics.min_ess_bulk
    for record in fit.table.itertuples():
        for arm in ("lu177", "control"):
            r, n = getattr(record, f"{arm}_events"), getattr(record, f"{arm}_total")
            exact = stats.beta(1 + r, 1 + n - r)
            mc_error = exact.std() / np.sqrt(ess)
            assert abs(float(mean.sel(event=record.key, arm=arm)) - exact.mean()) < 4 * mc_error


def test_independent_draws_are_exact_and_compile_nothing(table_any):
    """Conjugate: Beta(alpha + r, beta + n - r) drawn directly, seeded, no model compiled."""
    settings = SamplerSettings(draws=3000, chains=3, seed=11)
    before = compile_count()
    fit = fit_ae(table_any, settings, kind="independent", priors={"p": Beta(2.0, 3.0)})
    again = fit_ae(table_any, settings, kind="independent", priors={"p": Beta(2.0, 3.0)})
    other = fit_ae(table_any, settings.with_seed(12), kind="independent",
                   priors={"p": Beta(2.0, 3.0)})
    assert compile_count() == before
    p = fit.tree.posterior["p"]
    assert p.sizes == {"chain": 3, "draw": 3000, "event": 19, "arm": 2}
    assert np.array_equal(p.values, again.tree.posterior["p"].values)
    assert not np.array_equal(p.values, other.tree.posterior["p"].values)
    assert fit.diagnostics.passed and fit.diagnostics.min_ess_bulk == 9000
    assert read_priors(fit.tree) == {"p": Beta(2.0, 3.0)}
    n_draws = 9000
    for record in fit.table.itertuples():
        for arm in ("lu177", "control"):
            r, n = getattr(record, f"{arm}_events"), getattr(record, f"{arm}_total")
            exact = stats.beta(2 + r, 3 + n - r)
            draws = p.sel(event=record.key, arm=arm).values.ravel()
            assert abs(draws.mean() - exact.mean()) < 4 * exact.std() / np.sqrt(n_draws)
            assert abs(draws.std() / exact.std() - 1) < 0.05
    rd = fit.tree.posterior["risk_difference"]
    assert np.allclose(rd, p.sel(arm="lu177") - p.sel(arm="control"))
    assert (fit.tree.observed_data["cases"].sel(arm="lu177").values
            == table_any["lu177_events"].to_numpy()).all()


def test_table3_overview_simple_binomials():
    table = netter1_overview_table()
    fit = fit_ae(table, AE_SETTINGS, kind="independent", analysis="netter1_table3")
    assert fit.diagnostics.passed, fit.diagnostics.problems
    for record in table.itertuples():
        got = row(fit.summary, "ae_probability", "lu177", endpoint=record.key)
        assert abs(got["mean"] - (1 + record.lu177_events) / (2 + record.lu177_total)) < 0.005
    serious = row(fit.summary, "probability_risk_difference_positive", "lu177_vs_control",
                  endpoint="serious_adverse_event_any")
    assert 0.2 < serious["mean"] < 0.9  # 29/111 vs 26/110, printed P = 0.76


# ----------------------------------------------------------------- published event figures
XIA_SLOW = pytest.param("xia_any", marks=pytest.mark.slow)
"""Xia Model 1a (an option since issue 17) is checked in the slow suite."""


@pytest.mark.parametrize("fixture", ["hier_any", XIA_SLOW, "indep_any"])
@pytest.mark.parametrize("key", ["nausea_any_grade", "vomiting_any_grade"])
def test_nausea_and_vomiting_clearly_raised(request, fixture, key):
    fit = request.getfixturevalue(fixture)
    assert fit.probability_rd_positive()[key] > 0.999


def _direction(fit: AEFit, key: str) -> tuple[float, float]:
    """(P(RD > 0), P(RD < 0)), both strict: Berry & Berry's ties RD = 0 count in neither."""
    rd = fit.tree.posterior["risk_difference"].sel(event=key)
    return float((rd > 0).mean()), float((rd < 0).mean())


def test_abdominal_pain_balanced_unshrunk(indep_any):
    """29/111 vs 29/110 (printed Fisher P = 1.00)."""
    assert 0.3 < indep_any.probability_rd_positive()["abdominal_pain_any_grade"] < 0.7


@pytest.mark.parametrize("fixture", [
    "hier_any",
    pytest.param("xia_any", marks=[pytest.mark.slow, pytest.mark.xfail(
        strict=True,
        reason="measured P(RD > 0) 0.800 and 0.813 in two processes (joint fit, seed 20170112; "
        "0.795 in the five-fit version, 0.808 with seed 1): Model 1a's "
        "shrinkage pulls abdominal pain (29/111 vs 29/110) toward the gastrointestinal class "
        "mean log OR ~1.0 (nausea, vomiting); the unshrunk model gives 0.49")]),
])
def test_abdominal_pain_balanced_shrunk(request, fixture):
    """Not flagged either way: P(RD > 0) < 0.7 and P(RD < 0) < 0.7 (without ties, as in
    Model 1a, the second is the former bound P(RD > 0) > 0.3)."""
    positive, negative = _direction(request.getfixturevalue(fixture), "abdominal_pain_any_grade")
    assert positive < 0.7 and negative < 0.7


def test_abdominal_pain_most_probably_no_difference(hier_any):
    """Berry & Berry's point mass: the balanced event is most probably not different, while
    nausea and vomiting in the same organ class are certainly different."""
    no_difference = hier_any.probability_no_difference()
    assert no_difference["abdominal_pain_any_grade"] >= 0.5
    assert no_difference[["nausea_any_grade", "vomiting_any_grade"]].max() < 0.001


def test_probability_rd_positive_does_not_count_ties(hier_any):
    """P(RD > 0) + P(RD < 0) + P(RD = 0) = 1, the ties are exact (drawn z = 1) and their share
    estimates the probability of no difference."""
    post = hier_any.tree.posterior
    rd, z = post["risk_difference"], post["z_no_difference"]
    assert ((rd == 0) == (z == 1)).all()
    assert (post["odds_ratio"].where(z == 1) == 1).sum() == z.sum()
    tie = (rd == 0).mean(("chain", "draw")).to_series()
    positive = hier_any.probability_rd_positive()
    assert np.allclose(positive + (rd < 0).mean(("chain", "draw")).to_series() + tie, 1.0)
    n_draws = rd.sizes["chain"] * rd.sizes["draw"]
    w = hier_any.probability_no_difference()
    assert (np.abs(tie - w) < 5 * np.sqrt(w * (1 - w) / n_draws) + 1e-9).all()


def _zero_zero(fit: AEFit) -> list[str]:
    """Events of a table with no case in either arm."""
    return list(fit.table.query("lu177_events == 0 and control_events == 0")["key"])


def test_zero_zero_events_stay_near_even(xia_g34):
    """Grade 3/4 events with no case in either arm: no artefact of the control-arm prior being
    tighter than the 177Lu arm's. Model 1a: P(RD > 0) stays near 0.5."""
    zero = _zero_zero(xia_g34)
    assert len(zero) >= 5
    prob = xia_g34.probability_rd_positive()[zero]
    assert ((prob > 0.3) & (prob < 0.75)).all()


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "measured 2026-12-07: anemia grade 3/4 (0/0) has P(RD > 0 | RD != 0) = 0.751 in this fit "
    "and 0.756 in a long run (4 chains x 20,000 draws, seed 7; chains 0.750-0.769), above "
    "0.75: its organ class (Blood disorders: lymphopenia and thrombocytopenia grade 3/4 more "
    "frequent on 177Lu-Dotatate) leans it positive, as distension (GI, 0.69-0.70) leans; the "
    "0/0 events of the other classes stay at 0.48-0.55. It passed before only by "
    "Monte Carlo error (the fast-math draws)"))
def test_zero_zero_events_direction_near_even_berry_berry(hier_g34):
    """Berry & Berry: for the grade 3/4 events with no case in either arm,
    P(RD > 0 | RD != 0), the direction of a difference if there is one, stays near 0.5."""
    zero = _zero_zero(hier_g34)
    assert len(zero) >= 5
    for key in zero:
        positive, negative = _direction(hier_g34, key)
        assert 0.3 < positive / (positive + negative) < 0.75, key


@pytest.mark.parametrize("fixture", ["hier", "xia"])
def test_convergence_on_bundled_data(request, fixture):
    """One joint fit of both grades: one set of diagnostics, shared by the per-table fits."""
    fits = request.getfixturevalue(fixture)
    d = fits["any"].diagnostics
    assert d is fits["grade34"].diagnostics
    assert d.max_rhat <= 1.01 and d.min_ess_bulk >= 400 and d.min_ess_tail >= 400
    assert d.divergences == 0 and d.passed, d.problems


def test_stack_gives_each_table_its_own_posterior(hier, table_g34):
    """Each table's part of the joint fit looks like a fit of that table alone."""
    post = hier["grade34"].tree.posterior
    assert list(post["p"].event.values) == list(table_g34["key"])
    classes = list(dict.fromkeys(table_g34["organ_class"]))
    assert list(post["mu_theta"].organ_class.values) == classes
    assert list(post["pi"].organ_class.values) == classes
    assert "table" not in post.dims and post["mu_gamma"].dims == ("chain", "draw")
    assert read_priors(hier["grade34"].tree) == BERRY_BERRY_PRIORS
    assert (hier["grade34"].tree.observed_data["cases"].sel(arm="control").values
            == table_g34["control_events"].to_numpy()).all()
    # separate hyperparameters per table: any grade has many more events than grade 3/4
    mu_gamma = {label: float(fit.tree.posterior["mu_gamma"].mean()) for label, fit in hier.items()}
    assert mu_gamma["any"] > mu_gamma["grade34"] + 1.5


def _mc_z(a, b, names):
    """Largest |difference of posterior means| of two fits in Monte Carlo standard errors."""
    import arviz as az

    z = []
    for name in names:
        ess = [az.ess(fit.tree, var_names=[name], method="mean").to_dataset()[name].values
               for fit in (a, b)]
        draws = [fit.tree.posterior[name] for fit in (a, b)]
        means = [d.mean(("chain", "draw")).values for d in draws]
        var = draws[0].var(("chain", "draw")).values
        z.append(np.abs(means[0] - means[1]) / np.sqrt(var / ess[0] + var / ess[1]))
    return float(np.max(np.concatenate([np.ravel(v) for v in z])))


@pytest.mark.slow  # a second Berry & Berry fit (about 16 s)
def test_stack_agrees_with_a_fit_of_one_table(hier_any, table_any):
    """The tables share priors only: the any-grade part of the joint fit and a fit of the
    any-grade table alone (another seed) agree within Monte Carlo error (``pi`` too; the
    probabilities of no difference are a function of ``pi``, ``gamma`` and ``theta``, and
    their draws near 0 are too heavy-tailed for a Monte Carlo error of the mean: nausea's are
    about 1e-15 with rare spikes)."""
    alone = fit_ae(table_any, BB_SETTINGS.with_seed(7))
    assert alone.diagnostics.passed, alone.diagnostics.problems
    assert _mc_z(hier_any, alone, ["mu_theta0", "mu_gamma", "theta", "gamma", "pi"]) < 4.5


@pytest.mark.slow  # Xia Model 1a, an option since issue 17
def test_agrees_with_pre_redesign_rows(xia_any, xia_g34):
    """Five fits before, one joint fit of Xia Model 1a (the pre-issue-17 model) now: the same
    rows within Monte Carlo error (0.2 posterior SD). A posterior probability's SD is that of
    its indicator, sqrt(p (1 - p)) at the two estimates' mean p: the fixture's P(RD > 0) = 1
    for lymphopenia (no draw at or below 0, so SD 0) and today's 0.99975 (2 of 8,000 draws) are
    the same row within it."""
    old = pd.read_csv(FIXTURE).query("analysis == 'toxicity'").set_index(
        ["endpoint", "quantity", "group"])
    new = pd.concat([xia_any.summary, xia_g34.summary]).set_index(
        ["endpoint", "quantity", "group"])
    assert len(new) == 2 * 19 * 5 and new.index.isin(old.index).all()
    old = old.loc[new.index]
    probability = old.index.get_level_values("quantity") == "probability_risk_difference_positive"
    p = (new["mean"] + old["mean"]) / 2
    scale = old["sd"].where(~probability, np.sqrt((p * (1 - p)).where(probability, 0.0)))
    varying = scale > 0
    assert (new.loc[~varying, "mean"] == old.loc[~varying, "mean"]).all()
    diff = (new["mean"] - old["mean"]).abs()[varying] / scale[varying]
    assert diff.max() < 0.2, diff.idxmax()


FIVE_QUANTITIES = {"ae_probability", "risk_difference", "odds_ratio",
                   "probability_risk_difference_positive"}


def _check_rows(fit, quantities):
    s = fit.summary
    assert tuple(s.columns) == SUMMARY_COLUMNS
    assert set(s["quantity"]) == quantities
    assert set(s["group"]) == {"lu177", "control", "lu177_vs_control"}
    assert len(s) == 19 * (len(quantities) + 1)
    assert "sigma_theta" in s.attrs["priors"]


def test_summary_rows_vocabulary(hier_any):
    _check_rows(hier_any, FIVE_QUANTITIES | {"probability_no_difference"})
    assert "pi" in hier_any.summary.attrs["priors"]
    got = row(hier_any.summary, "probability_no_difference", "lu177_vs_control",
              endpoint="abdominal_pain_any_grade")
    assert got["mean"] == pytest.approx(
        hier_any.probability_no_difference()["abdominal_pain_any_grade"])


@pytest.mark.slow  # Xia Model 1a, an option since issue 17
def test_summary_rows_vocabulary_xia(xia_any):
    _check_rows(xia_any, FIVE_QUANTITIES)


# ---------------------------------------------------------------- comparison with Fisher
def test_printed_fisher_p_values_reproduced(table_any, hier_any, indep_any):
    cmp = compare_with_fisher(hier_any, indep_any)
    for record in cmp.itertuples():
        text = record.p_value_printed
        if text.startswith("<"):
            assert record.p_value_fisher < float(text[1:])
        else:
            half_digit = 0.5 * 10.0 ** -len(text.split(".")[1])
            assert abs(record.p_value_fisher - float(text)) <= half_digit + 1e-12, record.event


def test_compare_with_fisher_rejects_fits_of_the_wrong_kinds(table_any):
    """Columns are suffixed by kind: two fits of one kind would overwrite each other's."""
    bb = AEFit("berry_berry", table_any, None, None, None)
    xia = AEFit("xia_1a", table_any, None, None, None)
    indep = AEFit("independent", table_any, None, None, None)
    for first, second in ((bb, bb), (bb, xia), (indep, indep), (indep, bb)):
        with pytest.raises(InputError, match="needs a shrunk .* and an independent fit"):
            compare_with_fisher(first, second)


@pytest.mark.parametrize("fixture", ["hier_any", XIA_SLOW])
def test_posterior_probability_orders_events_like_fisher(request, fixture, indep_any):
    shrunk = request.getfixturevalue(fixture)
    cmp = compare_with_fisher(shrunk, indep_any)
    rho = cmp.attrs["spearman"]
    assert rho["independent_vs_p_value_fisher"] > 0.9
    assert rho[f"{shrunk.kind}_vs_p_value_fisher"] > 0.9
    assert rho["independent_vs_p_value_numeric"] > 0.9
    # without ties the tail is 2 min(P, 1 - P)
    p = cmp["prob_rd_positive_independent"]
    assert np.allclose(cmp["tail_independent"], 2 * np.minimum(p, 1 - p))


def test_forest_plot_returns_figure(hier_g34, indep_g34):
    fig = plot_ae_forest(hier_g34, indep_g34, title="Grade 3/4")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.containers) == 2
    assert [t.get_text() for t in ax.get_yticklabels()] == list(hier_g34.table["event"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        KIND_LABELS["berry_berry"], KIND_LABELS["independent"]]


# --------------------------------------------------------- shrunk models: recovery, shrinkage
def _simulated(table, log_or, control_p, n, seed):
    rng = np.random.default_rng(seed)
    out = table[["key", "event", "organ_class"]].copy()
    p_t = 1 / (1 + np.exp(-(np.log(control_p / (1 - control_p)) + log_or)))
    out["lu177_total"], out["control_total"] = n, n
    out["lu177_events"] = rng.binomial(n, p_t)
    out["control_events"] = rng.binomial(n, control_p)
    return out


@pytest.mark.slow  # Xia Model 1a, an option since issue 17
def test_xia_1a_recovers_each_tables_log_odds_ratios(table_any, table_g34):
    """Model 1a (every log OR continuous). The bundled structure (Table 4 events and organ
    classes, both grades in one model) with counts simulated from known log ORs at two
    levels: any grade around class means N(0.5, 0.5), grade 3/4 around -0.6. Each table's log
    ORs and control log-odds are recovered, and each its own overall mean ``mu_theta0``."""
    rng = np.random.default_rng(21)
    classes = list(dict.fromkeys(table_any["organ_class"]))
    class_mean = dict(zip(classes, rng.normal(0.5, 0.5, len(classes)), strict=True))
    log_or = np.array([class_mean[c] for c in table_any["organ_class"]])
    truth = {"any": log_or + rng.normal(0, 0.2, len(log_or))}
    control = {"any": rng.uniform(0.05, 0.3, len(log_or))}
    rng = np.random.default_rng(24)
    truth["grade34"] = -0.6 + rng.normal(0, 0.2, len(table_g34))
    control["grade34"] = rng.uniform(0.05, 0.3, len(table_g34))
    sims = {"any": _simulated(table_any, truth["any"], control["any"], 3000, seed=22),
            "grade34": _simulated(table_g34, truth["grade34"], control["grade34"], 3000,
                                  seed=25)}
    fits = fit_ae_tables(sims, AE_SETTINGS.with_seed(23), kind="xia_1a")
    assert fits["any"].diagnostics.passed, fits["any"].diagnostics.problems
    for label, fit in fits.items():
        theta = fit.tree.posterior["theta"]
        lo, hi = theta.quantile([0.025, 0.975], dim=("chain", "draw")).values
        assert np.sum((lo < truth[label]) & (truth[label] < hi)) >= len(truth[label]) - 2, label
        gamma = fit.tree.posterior["gamma"].mean(("chain", "draw")).values
        assert np.max(np.abs(gamma - np.log(control[label] / (1 - control[label])))) < 0.3
    mu = {label: fit.tree.posterior["mu_theta0"] for label, fit in fits.items()}
    lo, hi = mu["grade34"].quantile([0.025, 0.975]).values
    assert lo < -0.6 < hi
    assert float(mu["any"].mean()) > hi


@pytest.mark.slow  # Xia Model 1a, an option since issue 17
def test_shrinkage_moves_rare_event_toward_class_mean(table_any):
    """Constructed: every gastrointestinal event has log OR 1.2 (n = 2000 per arm) except one
    rare event observed 1/2000 vs 1/2000 (empirical OR 1); other classes have log OR 0. The
    Model 1a fit must move the rare event's log OR and risk difference toward the
    gastrointestinal mean, while the unshrunk fit leaves it near 0."""
    gi = (table_any["organ_class"] == "Gastrointestinal disorders").to_numpy()
    log_or = np.where(gi, 1.2, 0.0)
    control_p = np.random.default_rng(30).uniform(0.05, 0.3, len(gi))
    sim = _simulated(table_any, log_or, control_p, 2000, seed=31)
    rare = table_any["key"][gi].iloc[-1]
    sim.loc[sim["key"] == rare, ["lu177_events", "control_events"]] = 1
    hier = fit_ae(sim, replace(AE_SETTINGS, draws=6000, seed=32),  # mu_gamma: ESS 400-470 at 4000
                  kind="xia_1a")
    indep = fit_ae(sim, AE_SETTINGS.with_seed(33), kind="independent")
    assert hier.diagnostics.passed and indep.diagnostics.passed
    post = hier.tree.posterior
    class_mean = float(post["mu_theta"].sel(organ_class="Gastrointestinal disorders").mean())
    assert class_mean > 0.8
    shrunk = float(post["theta"].sel(event=rare).mean())
    unshrunk = float(np.log(indep.tree.posterior["odds_ratio"].sel(event=rare)).mean())
    assert abs(shrunk - class_mean) < abs(unshrunk - class_mean)
    assert shrunk > unshrunk + 0.3
    rd_h = float(post["risk_difference"].sel(event=rare).mean())
    rd_i = float(indep.tree.posterior["risk_difference"].sel(event=rare).mean())
    assert rd_h > rd_i


TRUE_LOG_OR = 1.5
"""Log OR of the events that truly differ in the simulations below; the others have 0."""


def _some_differ(table):
    """Truth where only some AEs differ: every blood disorder, and nausea and vomiting in the
    gastrointestinal class (the other three of that class do not); 12 of 19 events null."""
    differ = (table["organ_class"] == "Blood disorders") | table["key"].str.startswith(
        ("nausea", "vomiting"))
    return np.where(differ, TRUE_LOG_OR, 0.0)


@pytest.mark.slow  # 4 x 6,000 draws, about 22 s: the largest fit of the default suite
def test_berry_berry_recovers_which_events_differ(table_any):
    """Recovery (seeds fixed before looking): the Table 4 structure with counts simulated at
    n = 1000 per arm where only some events differ (:func:`_some_differ`). The events that
    differ are found (probability of no difference < 0.05, P(RD > 0) > 0.95, class ``pi``
    low), the null events are most probably not different, the effective log ORs
    ``(1 - z) theta`` cover the truth and the control log-odds are recovered. 6,000 draws per
    chain: with 4,000 the fit's smallest bulk ESS was 399, one short of the gate (measured
    2026-12-07, after the numba fast-math change moved the draws)."""
    log_or = _some_differ(table_any)
    control = np.random.default_rng(40).uniform(0.05, 0.3, len(log_or))
    sim = _simulated(table_any, log_or, control, 1000, seed=41)
    fit = fit_ae(sim, replace(BB_SETTINGS, draws=6000).with_seed(42))
    assert fit.diagnostics.passed, fit.diagnostics.problems
    differ, keys = log_or != 0, list(sim["key"])
    no_difference = fit.probability_no_difference()[keys].to_numpy()
    positive = fit.probability_rd_positive()[keys].to_numpy()
    assert (no_difference[differ] < 0.05).all() and (positive[differ] > 0.95).all()
    assert no_difference[~differ].mean() > 0.5
    assert np.sum(positive[~differ] > 0.95) <= 1
    theta = fit.tree.posterior["theta_effective"].sel(event=keys)
    lo, hi = theta.quantile([0.025, 0.975], dim=("chain", "draw")).values
    assert np.sum((lo <= log_or) & (log_or <= hi)) >= len(log_or) - 2
    gamma = fit.tree.posterior["gamma"].sel(event=keys).mean(("chain", "draw")).values
    assert np.max(np.abs(gamma - np.log(control / (1 - control)))) < 0.3
    pi = fit.tree.posterior["pi"].mean(("chain", "draw"))
    assert float(pi.sel(organ_class="Blood disorders")) < 0.3
    assert float(pi.sel(organ_class="Blood disorders")) < float(
        pi.sel(organ_class="Musculoskeletal disorders"))


@pytest.mark.slow  # one joint fit of 8 simulated tables (152 events), about 4 minutes
def test_berry_berry_fewer_false_positives_than_independent(table_any):
    """Multiplicity: 8 simulated trials of the NETTER-1 size (110 per arm) and Table 4
    structure, stacked in one model, where only some events differ (:func:`_some_differ`; 96
    null events). Flagging an event when P(RD > 0) > 0.95, Berry & Berry flags fewer null
    events than the independent model (seeds fixed before looking)."""
    log_or = _some_differ(table_any)
    rng = np.random.default_rng(50)
    sims, truth = {}, []
    for k in range(8):
        control = rng.uniform(0.05, 0.3, len(log_or))
        sim = _simulated(table_any, log_or, control, 110, seed=51 + k)
        sim["key"] = [f"{key}_{k}" for key in sim["key"]]
        sims[f"trial{k}"], truth = sim, [*truth, *log_or]
    truth = np.array(truth)
    flagged = {}
    # at 4000 draws and 1000 (2000) tuning steps tau_theta of one trial had a bulk ESS of 267
    # (312): the between-class SD is weakly identified when most classes are null; at 8000
    # draws the smallest tail ESS was 315 once numba fast-math was off (2026-12-07)
    for kind, settings in (("berry_berry", replace(BB_SETTINGS, draws=12000, tune=2000, seed=60)),
                           ("independent", AE_SETTINGS.with_seed(61))):
        fits = fit_ae_tables(sims, settings, kind=kind)
        diagnostics = fits["trial0"].diagnostics
        assert diagnostics.passed, diagnostics.problems
        flagged[kind] = np.concatenate([fits[label].probability_rd_positive()[list(
            sim["key"])].to_numpy() > 0.95 for label, sim in sims.items()])
    false_positive = {kind: float(f[truth == 0].mean()) for kind, f in flagged.items()}
    power = {kind: float(f[truth != 0].mean()) for kind, f in flagged.items()}
    print(f"false-positive rate {false_positive}, power {power}")
    assert false_positive["berry_berry"] < false_positive["independent"], false_positive


def test_prior_predictive_checks(table_any):
    checks = {kind: prior_predictive_check(table_any, kind=kind, draws=1000, seed=5)
              for kind in ("berry_berry", "xia_1a", "independent")}
    for check in checks.values():
        assert list(check["arm"]) == ["lu177", "control"]
        assert (check["p_lower"] < 0.05).all() and (check["p_upper"] > 0.9).all()
    # the logit-normal hyperpriors allow rare and common events without piling up at 0 / all
    for kind in ("berry_berry", "xia_1a"):
        assert (checks[kind]["share_zero"] < 0.5).all() and (checks[kind]["share_all"] < 0.2).all()
    assert abs(checks["independent"].loc[0, "p_mean"] - 0.5) < 0.03
    # Beta(1, 1) on pi: prior odds 1:1 of no difference; the other models have no point mass
    assert abs(checks["berry_berry"].loc[0, "share_no_difference"] - 0.5) < 0.05
    assert (checks["xia_1a"]["share_no_difference"] == 0).all()


def test_ae_priors_defaults_and_bad_priors():
    assert ae_priors("berry_berry") == BERRY_BERRY_PRIORS == {**XIA_1A_PRIORS,
                                                               "pi": Beta(1.0, 1.0)}
    assert ae_priors("xia_1a") == XIA_1A_PRIORS
    assert list(XIA_1A_PRIORS) == ["mu_gamma", "sigma_gamma", "mu_theta0", "tau_theta",
                                   "sigma_theta"]
    custom = ae_priors("berry_berry", {"sigma_theta": HalfNormal(0.5), "pi": Beta(2.0, 2.0)})
    assert custom["sigma_theta"] == HalfNormal(0.5) and custom["mu_gamma"] == Normal(0.0, 2.0)
    assert custom["pi"] == Beta(2.0, 2.0)
    assert list(custom) == list(BERRY_BERRY_PRIORS)  # creation order of the graph
    assert ae_priors("independent") == {"p": Beta(1.0, 1.0)}
    with pytest.raises(InputError, match="no parameter 'tau'"):
        fit_ae(netter1_ae_table(), AE_SETTINGS, priors={"tau": HalfNormal(1)})
    with pytest.raises(InputError, match="no parameter 'pi'"):
        fit_ae(netter1_ae_table(), AE_SETTINGS, kind="xia_1a", priors={"pi": Beta(1, 1)})
    with pytest.raises(InputError, match="Beta prior for 'p'"):
        fit_ae(netter1_ae_table(), AE_SETTINGS, kind="independent", priors={"p": Normal(0, 1)})
    with pytest.raises(InputError, match="Beta prior for 'pi'"):
        fit_ae(netter1_ae_table(), AE_SETTINGS, priors={"pi": Normal(0, 1)})


def test_prior_predictive_check_rejects_unknown_kind(table_any):
    with pytest.raises(InputError, match="kind must be one of"):
        prior_predictive_check(table_any, kind="hierarchical", draws=10)


def test_toxicity_analysis_compiles_two_models(quick_toxicity_run):
    """The analysis: one Berry & Berry model of both grades and the MDS model are compiled (the
    independent model is drawn exactly); rows, tree layout and forest as the readers expect.
    The run (200 draws, an emptied model cache) is the session's ``quick_toxicity_run``."""
    result, compiles = quick_toxicity_run
    assert compiles == 2
    s = result.summary
    assert len(s) == 2 * 19 * 6 + 4
    assert {e.rsplit("_", 2)[-1] for e in s["endpoint"] if not e.startswith("mds")} == {
        "grade", "grade34"}
    mds = s[s["endpoint"].str.startswith("mds")]
    assert set(mds["endpoint"]) == {"mds_long_term_pooled", "mds_long_term_new_cohort"}
    assert set(mds["quantity"]) == {"cumulative_incidence_24m", "cumulative_incidence_60m"}
    assert {"grade34", "long_term_mds"} <= set(result.tree.children)
    assert list(result.tree["grade34"].posterior["p"].event.values)[0] == "nausea_grade34"
    forest = result.ae_forest
    assert forest.groupby("model").size().to_dict() == {KIND_LABELS["berry_berry"]: 38,
                                                        KIND_LABELS["independent"]: 38}
    assert set(s["quantity"]) >= {"probability_no_difference"}
    assert "pi" in result.priors


@pytest.mark.parametrize("family, compiled, quantities", [
    pytest.param("xia_1a", 2, 5, marks=pytest.mark.slow), ("independent", 1, 5)])
def test_toxicity_analysis_other_families(monkeypatch, family, compiled, quantities):
    """``[model] family`` chooses the AE model of the rows; the forest adds the independent
    model unless it is the family."""
    from prrt_bayes.pipeline.specs import resolve_spec
    from prrt_bayes.toxicity.analysis import run

    spec = resolve_spec("toxicity").with_overrides(draws=200, tune=200)
    data = spec.model_dump()
    data["model"]["family"] = family
    monkeypatch.setattr(core_fit, "_CACHE", OrderedDict())
    before = compile_count()
    result = run(type(spec).model_validate(data))
    assert compile_count() - before == compiled
    assert len(result.summary) == 2 * 19 * quantities + 4
    assert set(result.ae_forest["model"]) == {KIND_LABELS[family], KIND_LABELS["independent"]}
    assert list(result.tree["grade34"].posterior["p"].event.values)[0] == "nausea_grade34"

