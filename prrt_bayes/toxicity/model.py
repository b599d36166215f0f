"""Adverse events: NETTER-1 event types (hierarchical and independent), overview rows, MDS risk.

**Input**: a table with one row per event type: ``event`` (name), ``organ_class`` (MedDRA system
organ class), ``lu177_events``, ``lu177_total``, ``control_events``, ``control_total``
(:func:`netter1_ae_table` builds it from NEJM Table 4, safety population 111 vs 110, for any
grade or grade 3/4; :func:`netter1_overview_table` from Table 3).

**Independent-binomial model** (unshrunk; event ``j``, arm ``a``)::

    r_aj ~ Binomial(n_aj, p_aj),   p_aj ~ Beta(1, 1)

so the posterior of every ``p_aj`` is exactly ``Beta(1 + r_aj, 1 + n_aj - r_aj)``.

**Hierarchical model** (Berry & Berry 2004, Biometrics 60:418; non-centred). Event ``j`` lies in
organ class ``b(j)``::

    r_cj ~ Binomial(n_cj, logit^-1(gamma_j))                  control arm
    r_tj ~ Binomial(n_tj, logit^-1(gamma_j + theta_j))        177Lu arm
    gamma_j  = mu_gamma + sigma_gamma zg_j                    control log-odds per event
    theta_j  = mu_theta[b(j)] + sigma_theta zt_j              log OR, shrunk to its class mean
    mu_theta[b] = mu_theta0 + tau_theta zb_b                  class means, shrunk to overall
    zg_j, zt_j, zb_b ~ Normal(0, 1)
    mu_gamma ~ Normal(0, 2),  sigma_gamma ~ HalfNormal(2)
    mu_theta0 ~ Normal(0, 2), tau_theta ~ HalfNormal(1),  sigma_theta ~ HalfNormal(1)

Departures from Berry & Berry, stated: half-normal rather than inverse-gamma variance priors
(with one or two events in most organ classes, inverse-gamma priors dominate), one within-class
SD ``sigma_theta`` shared by all classes (a per-class SD is not identified from one event), and
one level (not per organ class) for the control log-odds. The control hierarchy matters for
events with no case in either arm (common at grade 3/4): with independent control priors the
177Lu arm's log-odds (control prior plus theta) has the wider prior, so 0/111 vs 0/110 pulled
theta below 0 (P(RD > 0) about 0.15 for such events); the hierarchy learns that such events are
rare and removes most of that asymmetry.

**Long-term haematological risk** (:func:`fit_long_term_risk`): series counts with patient
denominators (plus NETTER-1 final, MDS 2/111, for ``mds``) pooled by the binomial-logit MAP
model of :mod:`prrt_bayes.borrowing.binomial_map`; the pooled risk ``logit^-1(mu)`` and the
predictive risk ``p_new`` of a new cohort are the posterior probabilities per patient.

**Summary rows** (:mod:`prrt_bayes.core.summary`): for AE models ``endpoint`` is the event key
``<event>_<grade>`` (e.g. ``nausea_any_grade``, ``nausea_grade34``), ``group`` the arm or
``lu177_vs_control``; quantities ``ae_probability`` (per arm), ``risk_difference``,
``odds_ratio`` and ``probability_risk_difference_positive`` (new vocabulary name:
P(p_lu177 > p_control), held in ``mean``; the other columns summarise 0/1 indicators).
Long-term rows use ``endpoint`` = the risk (``mds``, ``haematological_grade34``,
``mds_or_acute_leukaemia``), ``group="lu177"`` and ``analysis`` ``long_term_map_pooled``
(``logit^-1(mu)``) or ``long_term_map_predictive`` (``p_new``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy import stats

from prrt_bayes.core.diagnostics import Diagnostics, check_diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.evidence import load_netter1
from prrt_bayes.core.priors import (
    Beta,
    HalfCauchy,
    HalfNormal,
    Normal,
    Prior,
    attach_priors,
    describe_priors,
)
from prrt_bayes.response.model import ARMS, CONTRAST, SeriesSelection, check_count, select_series_counts
from prrt_bayes.core.sampling import DEFAULT_SEED, sample
from prrt_bayes.core.summary import summarize_draws, summary_frame

GRADES = {"any": "any_grade", "grade34": "grade34"}
COUNT_COLUMNS = ("lu177_events", "lu177_total", "control_events", "control_total")
AE_COLUMNS = ("event", "organ_class", *COUNT_COLUMNS)

INDEPENDENT_PRIOR = Beta(1.0, 1.0)


@dataclass(frozen=True)
class HierarchicalPriors:
    """Hyperpriors of the Berry & Berry model (see the module docstring)."""

    mu_gamma: Prior = Normal(0.0, 2.0)
    sigma_gamma: Prior = HalfNormal(2.0)
    mu_theta0: Prior = Normal(0.0, 2.0)
    tau_theta: Prior = HalfNormal(1.0)
    sigma_theta: Prior = HalfNormal(1.0)

    def as_dict(self) -> dict[str, Prior]:
        """``{parameter: prior}``.

        Returns
        -------
        dict[str, Prior]
            A new dict in field order: ``mu_gamma``, ``sigma_gamma``, ``mu_theta0``,
            ``tau_theta``, ``sigma_theta``.
        """
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


# ------------------------------------------------------------------------------------ inputs
def event_key(event: str, grade: str = "any") -> str:
    """``"Fatigue or asthenia", "any"`` -> ``"fatigue_or_asthenia_any_grade"``.

    Parameters
    ----------
    event
        Event name; lower-cased, each run of characters other than ``a-z0-9`` becomes ``_``,
        and leading / trailing ``_`` are stripped.
    grade
        ``"any"`` (suffix ``any_grade``) or ``"grade34"`` (suffix ``grade34``).

    Returns
    -------
    str
        The key ``<slug>_<suffix>``, e.g. ``nausea_grade34``.

    Raises
    ------
    InputError
        When ``grade`` is not ``"any"`` or ``"grade34"``.
    """
    if grade not in GRADES:
        raise InputError(f"grade must be one of {sorted(GRADES)}, got {grade!r}", field="grade")
    slug = re.sub(r"[^a-z0-9]+", "_", str(event).lower()).strip("_")
    return f"{slug}_{GRADES[grade]}"


def validate_ae_table(table: pd.DataFrame, *, need_organ_class: bool = True) -> pd.DataFrame:
    """Check an AE table (columns :data:`AE_COLUMNS`) and return a clean copy with int counts.

    Parameters
    ----------
    table
        One row per event type: ``event``, ``organ_class`` and the counts
        :data:`COUNT_COLUMNS`; other columns are kept.
    need_organ_class
        Require ``organ_class`` (the hierarchical model); ``False`` for the independent model
        and the overview table.

    Returns
    -------
    pandas.DataFrame
        A new frame with a fresh 0-based index and the count columns as ``int``.

    Raises
    ------
    InputError
        One line, naming the field (and the 1-based row where there is one): a missing column,
        no rows, an event with no name or no organ class, duplicate events, and counts that are
        missing, negative, not whole, with a zero denominator or above their denominator.
    """
    needed = AE_COLUMNS if need_organ_class else ("event", *COUNT_COLUMNS)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InputError(f"AE table lacks columns {missing}", field=missing[0])
    if table.empty:
        raise InputError("AE table has no rows")
    out = table.copy().reset_index(drop=True)
    for i, row in out.iterrows():
        name = str(row["event"]).strip()
        if not name or name == "nan":
            raise InputError("event with no name", row=i + 1, field="event")
        if need_organ_class:
            organ = row["organ_class"]
            if not isinstance(organ, str) or not organ.strip():
                raise InputError(f"event {name!r} has no organ class", row=i + 1,
                                 field="organ_class")
        for arm in ARMS:
            events, total = row[f"{arm}_events"], row[f"{arm}_total"]
            if pd.isna(events) or pd.isna(total):
                raise InputError(f"event {name!r}: {arm} count missing", row=i + 1,
                                 field=f"{arm}_events")
            try:
                events, total = check_count(events, total, what=f"event {name!r} {arm} arm")
            except InputError as err:
                raise InputError(err.message, row=i + 1, field=f"{arm}_events") from None
            out.loc[i, f"{arm}_events"], out.loc[i, f"{arm}_total"] = events, total
    duplicated = out["event"].duplicated()
    if duplicated.any():
        raise InputError(f"duplicate event {out['event'][duplicated].iloc[0]!r}", field="event")
    for column in COUNT_COLUMNS:
        out[column] = out[column].astype(int)
    return out


def netter1_ae_table(grade: str = "any", netter1=None) -> pd.DataFrame:
    """NETTER-1 adverse events by type (NEJM Table 4), one row per event, validated.

    Parameters
    ----------
    grade
        ``"any"`` or ``"grade34"``.
    netter1
        A :class:`~prrt_bayes.evidence.Netter1Evidence` (default: the bundled one).

    Returns
    -------
    pandas.DataFrame
        :data:`AE_COLUMNS` plus ``key`` (first column, e.g. ``nausea_any_grade``),
        ``p_value_printed`` (Table 4's Fisher P value for any grade, as printed; empty for
        grade 3/4, which the table does not test), ``p_value_numeric`` and ``p_value_bound``
        (printed as ``<x``).

    Raises
    ------
    InputError
        When ``grade`` is not ``"any"`` or ``"grade34"``.
    """
    if grade not in GRADES:
        raise InputError(f"grade must be one of {sorted(GRADES)}, got {grade!r}", field="grade")
    suffix = grade
    raw = (netter1 or load_netter1()).tables["table4_ae_by_type"]
    raw = raw[raw["row_type"] == "event"]
    table = pd.DataFrame({
        "event": raw["event"].to_numpy(),
        "organ_class": raw["organ_class"].to_numpy(),
        "lu177_events": raw[f"lu177_{suffix}_n"].to_numpy(),
        "lu177_total": raw["lu177_denominator"].to_numpy(),
        "control_events": raw[f"control_{suffix}_n"].to_numpy(),
        "control_total": raw["control_denominator"].to_numpy(),
    })
    table = validate_ae_table(table)
    table.insert(0, "key", [event_key(e, grade) for e in table["event"]])
    any_grade = grade == "any"
    table["p_value_printed"] = raw["p_value_any_grade"].to_numpy() if any_grade else ""
    table["p_value_numeric"] = raw["p_value_any_grade_numeric"].to_numpy() if any_grade else np.nan
    table["p_value_bound"] = raw["p_value_bound"].to_numpy() if any_grade else False
    return table


def netter1_overview_table(netter1=None) -> pd.DataFrame:
    """NETTER-1 adverse-event overview (NEJM Table 3) as an AE table without organ classes.

    Parameters
    ----------
    netter1
        A :class:`~prrt_bayes.evidence.Netter1Evidence` (default: the bundled one).

    Returns
    -------
    pandas.DataFrame
        Columns ``key`` (built from category and event, e.g. ``serious_adverse_event_any``),
        ``event`` (``"<category>: <event>"``), :data:`COUNT_COLUMNS` and ``p_value_printed``
        (Table 3's P value as printed); no ``organ_class``.
    """
    raw = (netter1 or load_netter1()).tables["table3_ae_overview"]
    keys = [
        re.sub(r"[^a-z0-9]+", "_", f"{c} {e}".lower()).strip("_")
        for c, e in zip(raw["category"], raw["event"], strict=True)
    ]
    table = pd.DataFrame({
        "event": [f"{c}: {e}" for c, e in zip(raw["category"], raw["event"], strict=True)],
        "lu177_events": raw["lu177_n"].to_numpy(),
        "lu177_total": raw["lu177_denominator"].to_numpy(),
        "control_events": raw["control_n"].to_numpy(),
        "control_total": raw["control_denominator"].to_numpy(),
    })
    table = validate_ae_table(table, need_organ_class=False)
    table.insert(0, "key", keys)
    table["p_value_printed"] = raw["p_value"].to_numpy()
    return table


def _keys(table: pd.DataFrame) -> list[str]:
    if "key" in table.columns:
        return [str(k) for k in table["key"]]
    return [event_key(e) for e in table["event"]]


# ------------------------------------------------------------------------------------ models
def independent_ae_model(table: pd.DataFrame, prior: Beta = INDEPENDENT_PRIOR) -> pm.Model:
    """Unshrunk model: a Beta prior on every probability, per event and arm (module docstring).

    Parameters
    ----------
    table
        AE table (validated; ``organ_class`` not needed). Events are labelled by ``key`` if
        present, else by :func:`event_key` of ``event`` (any grade).
    prior
        Beta prior of every event probability (default Beta(1, 1)).

    Returns
    -------
    pymc.Model
        A new model with coords ``event`` and ``arm`` (:data:`~prrt_bayes.response.model.ARMS`):
        free ``p`` (dims ``event, arm``), observed ``cases``, deterministics
        ``risk_difference`` and ``odds_ratio`` (dim ``event``, lu177 vs control).

    Raises
    ------
    InputError
        When the table is invalid (:func:`validate_ae_table`) or ``prior`` is not a
        :class:`~prrt_bayes.core.priors.Beta`.
    """
    table = validate_ae_table(table, need_organ_class=False)
    if not isinstance(prior, Beta):
        raise InputError(f"the independent AE model needs a Beta prior, got {prior.describe()}")
    keys = _keys(table)
    counts = table[["lu177_events", "control_events"]].to_numpy()
    totals = table[["lu177_total", "control_total"]].to_numpy()
    with pm.Model(coords={"event": keys, "arm": list(ARMS)}) as model:
        r = pm.Data("events", counts, dims=("event", "arm"))
        n = pm.Data("totals", totals, dims=("event", "arm"))
        p = prior.to_pymc("p", dims=("event", "arm"))
        pm.Binomial("cases", n=n, p=p, observed=r, dims=("event", "arm"))
        _contrasts(p[:, 0], p[:, 1])
    return model


def _contrasts(p_lu177, p_control) -> None:
    """Add risk difference and odds ratio per event (dims ``event``) to the current model."""
    pm.Deterministic("risk_difference", p_lu177 - p_control, dims="event")
    log_or = pm.math.logit(p_lu177) - pm.math.logit(p_control)
    pm.Deterministic("odds_ratio", pm.math.exp(log_or), dims="event")


def _class_index(table: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    classes = list(dict.fromkeys(table["organ_class"]))
    return classes, np.array([classes.index(c) for c in table["organ_class"]])


def hierarchical_ae_model(
    table: pd.DataFrame, priors: HierarchicalPriors = HierarchicalPriors()
) -> pm.Model:
    """Berry & Berry three-level model (module docstring), non-centred.

    Parameters
    ----------
    table
        AE table with ``organ_class`` (validated). Events are labelled by ``key`` if present,
        else by :func:`event_key` of ``event`` (any grade).
    priors
        :class:`HierarchicalPriors` of the hyperparameters.

    Returns
    -------
    pymc.Model
        A new model with coords ``event``, ``arm`` and ``organ_class``: free hyperparameters
        and ``z_gamma``, ``z_theta``, ``z_class``; deterministics ``gamma``, ``mu_theta``,
        ``theta``, ``p`` (dims ``event, arm``), ``risk_difference`` and ``odds_ratio``;
        observed ``cases``.

    Raises
    ------
    InputError
        When the table is invalid (:func:`validate_ae_table`).
    """
    table = validate_ae_table(table)
    keys = _keys(table)
    classes, index = _class_index(table)
    coords = {"event": keys, "arm": list(ARMS), "organ_class": classes}
    with pm.Model(coords=coords) as model:
        r = pm.Data("events", table[["lu177_events", "control_events"]].to_numpy(),
                    dims=("event", "arm"))
        n = pm.Data("totals", table[["lu177_total", "control_total"]].to_numpy(),
                    dims=("event", "arm"))
        hyper = {name: prior.to_pymc(name) for name, prior in priors.as_dict().items()}
        zg = pm.Normal("z_gamma", 0.0, 1.0, dims="event")
        zt = pm.Normal("z_theta", 0.0, 1.0, dims="event")
        zb = pm.Normal("z_class", 0.0, 1.0, dims="organ_class")
        gamma = pm.Deterministic("gamma", hyper["mu_gamma"] + hyper["sigma_gamma"] * zg,
                                 dims="event")
        mu_theta = pm.Deterministic("mu_theta", hyper["mu_theta0"] + hyper["tau_theta"] * zb,
                                    dims="organ_class")
        theta = pm.Deterministic("theta", mu_theta[index] + hyper["sigma_theta"] * zt,
                                 dims="event")
        p_lu177 = pm.math.invlogit(gamma + theta)
        p_control = pm.math.invlogit(gamma)
        p = pm.Deterministic("p", pm.math.stack([p_lu177, p_control], axis=1),
                             dims=("event", "arm"))
        pm.Binomial("cases", n=n, logit_p=pm.math.stack([gamma + theta, gamma], axis=1),
                    observed=r, dims=("event", "arm"))
        _contrasts(p[:, 0], p[:, 1])
    return model


@lru_cache(maxsize=8)
def _cached_model(kind: str, structure: tuple, prior) -> pm.Model:
    """One model per event/class structure and prior; refitted via ``pm.set_data``."""
    keys, classes = structure
    placeholder = pd.DataFrame({
        "key": list(keys), "event": list(keys), "organ_class": list(classes),
        "lu177_events": 0, "lu177_total": 1, "control_events": 0, "control_total": 1,
    })
    if kind == "hierarchical":
        return hierarchical_ae_model(placeholder, prior)
    return independent_ae_model(placeholder, prior)


# ------------------------------------------------------------------------------------ fitting
@dataclass
class AEFit:
    """A fitted AE model: posterior, diagnostics, summary rows, priors and its input table."""

    kind: str
    table: pd.DataFrame
    tree: xr.DataTree
    diagnostics: Diagnostics
    summary: pd.DataFrame
    priors: dict[str, Prior] = field(default_factory=dict)

    def probability_rd_positive(self) -> pd.Series:
        """Posterior P(risk difference > 0) per event key.

        Returns
        -------
        pandas.Series
            Probabilities indexed by event key (index name ``event``), in model order.
        """
        rd = self.tree.posterior["risk_difference"]
        return (rd > 0).mean(("chain", "draw")).to_series()


def _ae_rows(post: xr.Dataset, keys: Sequence[str], analysis: str) -> list[dict]:
    rows = []
    for key in keys:
        for arm in ARMS:
            rows.append(summarize_draws(post["p"].sel(event=key, arm=arm),
                                        quantity="ae_probability", group=arm, endpoint=key,
                                        analysis=analysis))
        rd = post["risk_difference"].sel(event=key)
        rows.append(summarize_draws(rd, quantity="risk_difference", group=CONTRAST,
                                    endpoint=key, analysis=analysis))
        rows.append(summarize_draws(post["odds_ratio"].sel(event=key), quantity="odds_ratio",
                                    group=CONTRAST, endpoint=key, analysis=analysis))
        rows.append(summarize_draws((rd > 0).astype(float),
                                    quantity="probability_risk_difference_positive",
                                    group=CONTRAST, endpoint=key, analysis=analysis))
    return rows


def fit_ae(
    table: pd.DataFrame,
    *,
    kind: str = "hierarchical",
    priors: HierarchicalPriors | Beta | None = None,
    analysis: str | None = None,
    draws: int = 2000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = DEFAULT_SEED,
    target_accept: float = 0.99,
) -> AEFit:
    """Fit the hierarchical (Berry & Berry) or independent-binomial AE model to ``table``.

    Parameters
    ----------
    table
        AE table (:func:`netter1_ae_table`, or your own with :data:`AE_COLUMNS`; the independent
        model does not need ``organ_class``).
    kind
        ``"hierarchical"`` or ``"independent"``.
    priors
        :class:`HierarchicalPriors` (hierarchical) or a :class:`~prrt_bayes.core.priors.Beta`
        (independent); defaults as in the module docstring.
    analysis
        Label of the summary rows (default ``"<kind>"``).
    draws, tune, chains, seed, target_accept
        Passed to :func:`prrt_bayes.core.sampling.sample`. The high default ``target_accept`` avoids
        the occasional divergence of the grade 3/4 fit (many 0/0 events, little information on
        the SDs).

    Returns
    -------
    AEFit
        Summary rows per event (see the module docstring) and ArviZ diagnostics of the free
        parameters (hierarchical: hyperparameters, ``gamma`` and ``theta``; independent: ``p``).
    """
    if kind not in ("hierarchical", "independent"):
        raise InputError(f"AE model kind must be 'hierarchical' or 'independent', got {kind!r}")
    hierarchical = kind == "hierarchical"
    table = validate_ae_table(table, need_organ_class=hierarchical)
    if priors is None:
        priors = HierarchicalPriors() if hierarchical else INDEPENDENT_PRIOR
    keys = _keys(table)
    classes = tuple(table["organ_class"]) if hierarchical else ("",) * len(keys)
    model = _cached_model(kind, (tuple(keys), classes), priors)
    with model:
        pm.set_data({
            "events": table[["lu177_events", "control_events"]].to_numpy(),
            "totals": table[["lu177_total", "control_total"]].to_numpy(),
        })
    tree = sample(model, draws=draws, tune=tune, chains=chains, seed=seed,
                  target_accept=target_accept)
    prior_map = priors.as_dict() if hierarchical else {"p": priors}
    attach_priors(tree, prior_map)
    checked = [*priors.as_dict(), "gamma", "theta"] if hierarchical else ["p"]
    diagnostics = check_diagnostics(tree, checked)
    label = analysis or kind
    summary = summary_frame(_ae_rows(tree.posterior.to_dataset(), keys, label),
                            priors=describe_priors(prior_map))
    return AEFit(kind, table, tree, diagnostics, summary, prior_map)


def prior_predictive_check(
    table: pd.DataFrame, *, kind: str = "hierarchical", priors=None, draws: int = 1000,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Prior predictive summary of an AE model at the table's arm sizes.

    Parameters
    ----------
    table
        AE table; gives the events and arm sizes (the observed counts are not used).
    kind
        ``"hierarchical"`` or ``"independent"``.
    priors
        :class:`HierarchicalPriors` (hierarchical) or a :class:`~prrt_bayes.core.priors.Beta`
        (independent); ``None``: the defaults.
    draws
        Number of prior predictive draws.
    seed
        Random seed of :func:`pymc.sample_prior_predictive`.

    Returns
    -------
    pandas.DataFrame
        One row per arm: ``arm``, ``p_mean``, ``p_lower``, ``p_upper`` (mean and 95% prior
        interval of the event probability over all events), ``share_zero`` and ``share_all``
        (share of simulated counts equal to 0 or to the arm size: a vague prior on the logit
        scale puts much mass near 0 and 1; this reports how much).

    Raises
    ------
    InputError
        When ``kind`` is unknown, the table is invalid or the independent model gets a non-Beta
        prior.
    """
    if kind not in ("hierarchical", "independent"):
        raise InputError(f"AE model kind must be 'hierarchical' or 'independent', got {kind!r}")
    if kind == "hierarchical":
        model = hierarchical_ae_model(table, priors or HierarchicalPriors())
    else:
        model = independent_ae_model(table, priors or INDEPENDENT_PRIOR)
    prior_tree = pm.sample_prior_predictive(draws=draws, model=model, random_seed=seed)
    p = prior_tree.prior["p"]
    cases = prior_tree.prior_predictive["cases"]
    totals = validate_ae_table(table, need_organ_class=False)[["lu177_total", "control_total"]]
    rows = []
    for j, arm in enumerate(ARMS):
        probs = np.asarray(p.sel(arm=arm)).ravel()
        y = np.asarray(cases.sel(arm=arm))
        n = totals.iloc[:, j].to_numpy()
        rows.append({
            "arm": arm, "p_mean": float(probs.mean()),
            "p_lower": float(np.quantile(probs, 0.025)),
            "p_upper": float(np.quantile(probs, 0.975)),
            "share_zero": float((y == 0).mean()), "share_all": float((y == n).mean()),
        })
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------- comparisons, plot
def compare_with_fisher(hierarchical: AEFit, independent: AEFit) -> pd.DataFrame:
    """Per event: Bayesian P(RD > 0) (both models) next to Fisher's exact P values.

    Parameters
    ----------
    hierarchical, independent
        The two :func:`fit_ae` fits of the same AE table: ``hierarchical`` of kind
        ``"hierarchical"``, ``independent`` of kind ``"independent"`` (column suffixes come from
        each fit's ``kind``).

    Returns
    -------
    pandas.DataFrame
        A new frame: the columns of ``hierarchical.table`` (``key, event, organ_class``, the
        counts, ``p_value_printed`` as printed in Table 4 if the table has it), then
        ``p_value_fisher`` (two-sided, recomputed with scipy) and per fit
        ``prob_rd_positive_<kind>``, the two-sided posterior tail probability
        ``tail_<kind>`` = ``2 min(P, 1 - P)`` and the posterior mean risk difference
        ``rd_mean_<kind>``. ``attrs["spearman"]`` maps ``<kind>_vs_p_value_fisher`` and
        ``<kind>_vs_p_value_numeric`` to the Spearman rank correlation of the tail probability
        with that P value (only for a P column without missing values).

    Raises
    ------
    InputError
        When the fits are not of kinds ``"hierarchical"`` and ``"independent"`` (in that order)
        or are of tables with different events.
    """
    if (hierarchical.kind, independent.kind) != ("hierarchical", "independent"):
        raise InputError("compare_with_fisher needs a hierarchical and an independent fit, in "
                         f"that order; got {hierarchical.kind!r} and {independent.kind!r}")
    table = hierarchical.table
    if list(table["event"]) != list(independent.table["event"]):
        raise InputError("the two fits are of different AE tables")
    out = table.copy()
    out["p_value_fisher"] = [
        stats.fisher_exact([[r.lu177_events, r.lu177_total - r.lu177_events],
                            [r.control_events, r.control_total - r.control_events]]).pvalue
        for r in table.itertuples()
    ]
    spearman = {}
    for fit in (hierarchical, independent):
        prob = fit.probability_rd_positive().reindex(_keys(table)).to_numpy()
        out[f"prob_rd_positive_{fit.kind}"] = prob
        out[f"tail_{fit.kind}"] = 2 * np.minimum(prob, 1 - prob)
        rd = fit.tree.posterior["risk_difference"].mean(("chain", "draw"))
        out[f"rd_mean_{fit.kind}"] = rd.to_series().reindex(_keys(table)).to_numpy()
        for reference in ("p_value_fisher", "p_value_numeric"):
            if reference in out and out[reference].notna().all():
                rho = stats.spearmanr(out[f"tail_{fit.kind}"], out[reference]).statistic
                spearman[f"{fit.kind}_vs_{reference}"] = float(rho)
    out.attrs["spearman"] = spearman
    return out


def plot_ae_forest(hierarchical: AEFit, independent: AEFit, *, title: str | None = None):
    """Forest plot of risk differences per event, shrunk (hierarchical) vs unshrunk.

    Parameters
    ----------
    hierarchical, independent
        The two :func:`fit_ae` fits of the same AE table; events are drawn top to bottom in the
        order of ``hierarchical.table`` (posterior median and 95% CrI per fit).
    title
        Plot title (default ``"Adverse events: risk differences"``).

    Returns
    -------
    matplotlib.figure.Figure
        A new figure, not shown and not attached to pyplot; save it with ``fig.savefig``.
    """
    from matplotlib.figure import Figure

    keys = _keys(hierarchical.table)
    labels = list(hierarchical.table["event"])
    fig = Figure(figsize=(7.5, 0.38 * len(keys) + 1.5))
    ax = fig.add_subplot()
    y = np.arange(len(keys))[::-1].astype(float)
    for fit, offset, colour in ((hierarchical, 0.15, "tab:blue"),
                                (independent, -0.15, "tab:orange")):
        rd = fit.tree.posterior["risk_difference"]
        q = rd.quantile([0.025, 0.5, 0.975], dim=("chain", "draw")).sel(event=keys).values
        ax.errorbar(q[1], y + offset, xerr=[q[1] - q[0], q[2] - q[1]], fmt="o", ms=4,
                    color=colour, capsize=2,
                    label=f"{fit.kind} ({'shrunk' if fit.kind == 'hierarchical' else 'unshrunk'})")
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, labels)
    ax.set_xlabel("risk difference, 177Lu-Dotatate minus control (median, 95% CrI)")
    ax.set_title(title or "Adverse events: risk differences")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------- long-term MDS risk
LONG_TERM_ENDPOINTS: dict[str, list[tuple[str, ...]]] = {
    "haematological_grade34": [("haematological_grade34",)],
    "mds": [("mds_cases",)],
    "mds_or_acute_leukaemia": [("mds_or_aml_cases",), ("mds_cases", "acute_leukaemia_cases")],
}
"""Long-term risk -> series quantities (first one reported is used; a tuple is summed)."""

NETTER1_LONG_TERM: dict[str, tuple[str, str, str]] = {"mds": ("final_2021", "mds_cases", "lu177")}
"""Long-term risk -> the NETTER-1 record (cut, quantity, arm) added to the series."""


def long_term_counts(endpoint: str, *, series=None, netter1=None) -> SeriesSelection:
    """Cohorts pooled for a long-term risk: series rules plus NETTER-1 final where it reports.

    The series rules of :func:`prrt_bayes.response.model.select_series_counts` apply with patient
    denominators only; NETTER-1's 177Lu arm (final 2021 cut, MDS 2/111) is added for ``mds``.

    Parameters
    ----------
    endpoint
        A key of :data:`LONG_TERM_ENDPOINTS`: ``"mds"``, ``"mds_or_acute_leukaemia"`` or
        ``"haematological_grade34"``.
    series
        A :class:`~prrt_bayes.evidence.SeriesEvidence` (default: the bundled series).
    netter1
        A :class:`~prrt_bayes.evidence.Netter1Evidence` (default: the bundled one); used for
        ``mds`` only.

    Returns
    -------
    SeriesSelection
        ``included`` (no covariate levels: ``level`` is empty; the NETTER-1 row, if any, last
        as study ``netter1_final_2021``) and ``excluded`` with reasons.

    Raises
    ------
    InputError
        When ``endpoint`` is unknown or a count is invalid.
    """
    if endpoint not in LONG_TERM_ENDPOINTS:
        raise InputError(f"long-term endpoint must be one of {sorted(LONG_TERM_ENDPOINTS)},"
                         f" got {endpoint!r}", field="endpoint")
    selection = select_series_counts(LONG_TERM_ENDPOINTS[endpoint], series=series,
                                     require_patient_denominator=True)
    included = selection.included
    if endpoint in NETTER1_LONG_TERM:
        cut, quantity, arm = NETTER1_LONG_TERM[endpoint]
        record = (netter1 or load_netter1()).get(cut, quantity, arm)
        events, total = check_count(record.value, record.denominator,
                                    what=f"NETTER-1 {cut} {quantity}")
        row = {"study": f"netter1_{cut}", "population": "midgut", "level": None,
               "overlap_group": "netter1", "quantity": quantity, "events": events,
               "total": total, "note": "NETTER-1 177Lu arm, safety population"}
        included = pd.concat([included, pd.DataFrame([row])], ignore_index=True)
    return SeriesSelection(included, selection.excluded)


@dataclass
class LongTermFit:
    """Pooled long-term risk: cohorts used and excluded, posterior, diagnostics, summary."""

    endpoint: str
    selection: SeriesSelection
    tree: xr.DataTree
    diagnostics: Diagnostics
    summary: pd.DataFrame
    priors: dict[str, Prior] = field(default_factory=dict)


_SPEC_PRIORS = {"normal": Normal, "halfnormal": HalfNormal, "halfcauchy": HalfCauchy}


def _spec_prior(text: str, *, field_name: str, allowed: tuple[str, ...]) -> tuple:
    """Parse ``family:params`` with the borrowing parser; return (PriorSpec, Prior)."""
    from prrt_bayes.borrowing.inputs import parse_prior

    spec = parse_prior(text, field=field_name)
    if spec.family not in allowed:
        raise InputError(f"{field_name} must be one of {', '.join(allowed)}, got {text!r}",
                         field=field_name)
    return spec, _SPEC_PRIORS[spec.family](*spec.params)


def fit_long_term_risk(
    endpoint: str = "mds",
    *,
    tau_prior: str = "halfnormal:1",
    mu_prior: str = "normal:0,2",
    series=None,
    netter1=None,
    draws: int = 2000,
    tune: int = 2000,
    chains: int = 2,
    seed: int = DEFAULT_SEED,
    target_accept: float = 0.99,
) -> LongTermFit:
    """Pool a long-term haematological risk of 177Lu-Dotatate by the binomial MAP model.

    Parameters
    ----------
    endpoint
        ``"mds"`` (series + NETTER-1 final), ``"mds_or_acute_leukaemia"`` or
        ``"haematological_grade34"`` (series only).
    tau_prior, mu_prior
        Between-cohort SD and mean log-odds priors as ``family:params`` strings
        (``halfnormal:S`` / ``halfcauchy:S``; ``normal:M,S``), as in the borrowing CLI.
    series, netter1
        Evidence to use instead of the bundled series and NETTER-1 (see
        :func:`long_term_counts`).
    draws, tune, chains, seed, target_accept
        Passed to :func:`prrt_bayes.core.sampling.sample`.

    Returns
    -------
    LongTermFit
        ``summary`` rows (quantity ``ae_probability``, group ``lu177``): the pooled risk
        ``logit^-1(mu)`` (analysis ``long_term_map_pooled``) and the risk in a new cohort
        ``p_new`` (``long_term_map_predictive``); ``selection`` lists cohorts used and excluded.
        Diagnostics are recorded, not enforced.

    Raises
    ------
    InputError
        When a prior string is malformed or of another family, ``endpoint`` is unknown, or
        fewer than 2 cohorts remain.
    """
    from prrt_bayes.borrowing.binomial_map import binomial_map_model

    tau_spec, tau = _spec_prior(tau_prior, field_name="tau_prior",
                                allowed=("halfnormal", "halfcauchy"))
    mu_spec, mu = _spec_prior(mu_prior, field_name="mu_prior", allowed=("normal",))
    selection = long_term_counts(endpoint, series=series, netter1=netter1)
    used = selection.included
    if len(used) < 2:
        raise InputError(f"{endpoint}: {len(used)} cohort(s) left after the series rules; the"
                         " MAP model needs at least 2", field="endpoint")
    model = binomial_map_model(used["events"], used["total"], tau_prior=tau_spec,
                               mu_prior=mu_spec, study_names=list(used["study"]))
    tree = sample(model, draws=draws, tune=tune, chains=chains, seed=seed,
                  target_accept=target_accept)
    priors = {"mu": mu, "tau": tau}
    attach_priors(tree, priors)
    diagnostics = check_diagnostics(tree, ["mu", "tau", "theta", "p_new"])
    post = tree.posterior
    pooled = 1.0 / (1.0 + np.exp(-post["mu"]))
    rows = [
        summarize_draws(pooled, quantity="ae_probability", group="lu177", endpoint=endpoint,
                        analysis="long_term_map_pooled"),
        summarize_draws(post["p_new"], quantity="ae_probability", group="lu177",
                        endpoint=endpoint, analysis="long_term_map_predictive"),
    ]
    summary = summary_frame(rows, priors=describe_priors(priors))
    return LongTermFit(endpoint, selection, tree, diagnostics, summary, priors)
