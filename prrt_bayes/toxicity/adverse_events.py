"""Adverse events: NETTER-1 event types; Berry & Berry, Xia Model 1a and independent models.

**Input**: a table with one row per event type: ``event`` (name), ``organ_class`` (MedDRA system
organ class), ``lu177_events``, ``lu177_total``, ``control_events``, ``control_total``
(:func:`netter1_ae_table` builds it from NEJM Table 4, safety population 111 vs 110, for any
grade or grade 3/4; :func:`netter1_overview_table` from Table 3). The models label events by
the table's ``key`` column if present, else by :func:`event_key` of ``event`` (any grade).

**Three models** (``kind``, :data:`KINDS`): ``"berry_berry"`` (the default: Berry & Berry 2004,
Biometrics 60:418, with its point mass at no difference), ``"xia_1a"`` (the same hierarchy
without the point mass: Xia, Ma & Carlin 2011, Model 1a; this package's hierarchical model
before issue 17) and ``"independent"`` (unshrunk).

**Several tables, one model** (:func:`fit_ae_tables`): a stack of AE tables ``{label: table}``
(the toxicity analysis: Table 4 at any grade and at grade 3/4) is fitted as one model, so one
compile of the hierarchical graph serves every table; :func:`fit_ae` fits one table as a stack
of one. Event keys must be unique across the stack (``nausea_any_grade``, ``nausea_grade34``).

**Independent-binomial model** (unshrunk; event ``j``, arm ``a``)::

    r_aj ~ Binomial(n_aj, p_aj),   p_aj ~ Beta(alpha, beta)      (default Beta(1, 1))

It is conjugate: the posterior of every ``p_aj`` is ``Beta(alpha + r_aj, beta + n_aj - r_aj)``,
independent across events and arms. It is therefore drawn exactly, without MCMC (nothing to
compile, nothing to converge): ``chains x draws`` independent draws per probability (the
sampler settings' shape), from a numpy Generator seeded with the settings' seed (one stream
over the stack, table after table).

**Xia 2011 Model 1a** (non-centred). Table ``t`` is the leading dimension of every
hyperparameter; event ``j`` lies in table ``t(j)`` and organ class ``b(j)``::

    r_cj ~ Binomial(n_cj, logit^-1(gamma_j))                  control arm
    r_tj ~ Binomial(n_tj, logit^-1(gamma_j + theta_j))        177Lu arm
    gamma_j  = mu_gamma[t] + sigma_gamma[t] zg_j              control log-odds per event
    theta_j  = mu_theta[t, b(j)] + sigma_theta[t] zt_j        log OR, shrunk to its class mean
    mu_theta[t, b] = mu_theta0[t] + tau_theta[t] zb_tb        class means, shrunk to overall
    zg_j, zt_j, zb_tb ~ Normal(0, 1)
    mu_gamma[t] ~ Normal(0, 2),  sigma_gamma[t] ~ HalfNormal(2)
    mu_theta0[t] ~ Normal(0, 2), tau_theta[t] ~ HalfNormal(1),  sigma_theta[t] ~ HalfNormal(1)

(defaults :data:`XIA_1A_PRIORS`). Every event's log odds ratio is shrunk toward its class
mean, and none is ever exactly 0: an event with balanced counts in a class of raised events
(abdominal pain, 29/111 vs 29/110, among nausea and vomiting) is pulled up with its class
(P(RD > 0) about 0.8).

**Berry & Berry model** (the default): Model 1a with Berry & Berry's device against
multiplicity, a point mass at no difference per organ class::

    theta_eff_j = (1 - z_j) theta_j,   z_j ~ Bernoulli(pi[t, b(j)])      z_j = 1: no difference
    r_tj ~ Binomial(n_tj, logit^-1(gamma_j + theta_eff_j))
    pi[t, b] ~ Beta(1, 1)                                                 (prior ``pi``)

with ``gamma``, ``theta`` (the slab: Normal(mu_theta[t, b(j)], sigma_theta[t]^2)) and their
hyperpriors as in Model 1a (defaults :data:`BERRY_BERRY_PRIORS`). NUTS cannot sample the
discrete ``z_j``, so it is summed out of the likelihood exactly: the slab draw ``theta_j`` is
always in the model, with the slab as its pseudo-prior when ``z_j = 1`` (Carlin & Chib 1995,
exact for any pseudo-prior), and the 177Lu arm's likelihood is the mixture::

    log p(r_tj | gamma_j, theta_j, pi) = logsumexp(log pi + log B0_j, log(1 - pi) + log B1_j)
    B0_j = Binomial(r_tj | n_tj, logit^-1(gamma_j)),   B1_j = ... logit^-1(gamma_j + theta_j)

(the control arm does not depend on ``z_j``). Per posterior draw, the conditional probability
of no difference is ``w_j = pi B0_j / (pi B0_j + (1 - pi) B1_j)`` (``prob_no_difference``);
its posterior mean is the posterior probability that event ``j`` does not differ between the
arms (reported as ``probability_no_difference``). The effective quantities are drawn: per
draw, ``z_j ~ Bernoulli(w_j)`` from a numpy Generator seeded with ``(seed, 2004)`` (``seed``
the sampler settings'), which makes ``(z, theta)`` an exact draw of the joint posterior; then
``theta_effective = (1 - z) theta``, ``p`` (177Lu arm ``logit^-1(gamma + theta_effective)``),
``risk_difference`` (exactly 0 when ``z_j = 1``) and ``odds_ratio`` (exactly 1). Reported
probabilities of a difference therefore count only draws with a difference:
``probability_risk_difference_positive`` is P(RD > 0) with RD *strictly* positive, and
P(RD > 0) + P(RD < 0) + P(RD = 0) = 1 (the tie P(RD = 0) is the mean of the drawn ``z``,
whose expectation is ``probability_no_difference``). On NEJM Table 4 (any grade) abdominal
pain, 29/111 vs 29/110, has probability of no difference 0.92 and P(RD > 0) 0.06 (Model 1a:
0.80), while nausea and vomiting keep P(RD > 0) > 0.999. In simulated trials of the NETTER-1
size where 7 of 19 events differ, it flagged (P(RD > 0) > 0.95) 1.0% of the null events
against the independent model's 4.2%, and 95% of the true differences against 98%
(``tests/toxicity``). The hyperparameters of the slab mix more slowly than Model 1a's (most
classes' events sit at the point mass): the NETTER-1 tables need about 4000 draws per chain
for a bulk ESS of 400 for ``sigma_theta``.

Departures from Berry & Berry, stated: a fixed Beta(1, 1) prior on every class's ``pi`` (they
put a Beta(alpha_pi, beta_pi) prior on ``pi_b`` with hyperpriors on alpha_pi and beta_pi;
with one to five events per organ class those hyperparameters are not identified, and
Beta(1, 1) states prior odds 1:1 of no difference for each event); half-normal rather than
inverse-gamma variance priors (with one or two events in most organ classes, inverse-gamma
priors dominate); one within-class SD ``sigma_theta`` shared by all classes of a table (a
per-class SD is not identified from one event); one level (not per organ class) for the
control log-odds; and the slab of the point mass is Model 1a's (class means shrunk to an
overall mean), as in Berry & Berry. The control hierarchy matters for events with no case in
either arm (common at grade 3/4): with independent control priors the 177Lu arm's log-odds
(control prior plus theta) has the wider prior, so 0/111 vs 0/110 pulled theta below 0
(P(RD > 0) about 0.15 for such events); the hierarchy learns that such events are rare and
removes most of that asymmetry.

**Tables share priors only**: the same priors serve every table, and the joint log density is
the sum of the tables' own, so each table's posterior is that of a separate fit and the stack
saves compiles, not information. The grades are deliberately not pooled with each other:
grade 3/4 events are a subset of the any-grade events of the same patients (pooling would
count those patients twice), and the log odds ratio of an event need not be the same at every
severity. Class means and ``pi`` of a class with no event in some table are prior draws,
dropped from that table's posterior.

**Per-table fits**: :func:`fit_ae_tables` returns one :class:`AEFit` per table whose posterior
holds that table's events and classes only (dims ``event``, ``arm``, ``organ_class``; the
hyperparameters without the ``table`` dim), as a fit of that table alone would; its
``sample_stats`` and diagnostics are those of the joint fit.

**Summary rows** (:func:`ae_quantities`, summarised by :mod:`prrt_bayes.core.posterior`):
``endpoint`` is the event key ``<event>_<grade>`` (e.g. ``nausea_any_grade``,
``nausea_grade34``), ``group`` the arm or ``lu177_vs_control``; quantities ``ae_probability``
(per arm), ``risk_difference``, ``odds_ratio`` and ``probability_risk_difference_positive``
(P(p_lu177 > p_control), strictly greater, held in ``mean``; the other columns summarise 0/1
indicators), and for the Berry & Berry model ``probability_no_difference`` (held in ``mean``;
the other columns summarise the per-draw conditional probabilities ``w_j``). The long-term MDS
risk is in :mod:`prrt_bayes.toxicity.long_term`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy import stats

from prrt_bayes.core import fit as core_fit
from prrt_bayes.core.diagnostics import Diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.fit import BayesianModel, QuantityDraws
from prrt_bayes.core.posterior import attach_quantities, summary_from_tree
from prrt_bayes.core.priors import (
    Beta,
    HalfNormal,
    Normal,
    Prior,
    attach_priors,
    describe_priors,
)
from prrt_bayes.core.sampling import DEFAULT_SEED, SamplerSettings
from prrt_bayes.core.vocabulary import ARMS, LU177_VS_CONTROL, Endpoint, Quantity, event_slug
from prrt_bayes.evidence import load_netter1
from prrt_bayes.evidence.series_rules import check_count

GRADES = {"any": "any_grade", "grade34": "grade34"}
COUNT_COLUMNS = ("lu177_events", "lu177_total", "control_events", "control_total")
AE_COLUMNS = ("event", "organ_class", *COUNT_COLUMNS)

XIA_1A_PRIORS: dict[str, Prior] = {
    "mu_gamma": Normal(0.0, 2.0),
    "sigma_gamma": HalfNormal(2.0),
    "mu_theta0": Normal(0.0, 2.0),
    "tau_theta": HalfNormal(1.0),
    "sigma_theta": HalfNormal(1.0),
}
"""Default hyperpriors of Xia 2011 Model 1a (module docstring), in creation order."""

BERRY_BERRY_PRIORS: dict[str, Prior] = {**XIA_1A_PRIORS, "pi": Beta(1.0, 1.0)}
"""Default priors of the Berry & Berry model: Model 1a's and ``pi`` (probability of no
difference per organ class), in creation order."""

INDEPENDENT_PRIORS: dict[str, Prior] = {"p": Beta(1.0, 1.0)}
"""Default prior of every event probability of the independent model (a Beta prior)."""

_DEFAULT_PRIORS = {"berry_berry": BERRY_BERRY_PRIORS, "xia_1a": XIA_1A_PRIORS,
                   "independent": INDEPENDENT_PRIORS}
KINDS: tuple[str, ...] = tuple(_DEFAULT_PRIORS)
"""The AE models: ``"berry_berry"`` (default), ``"xia_1a"`` and ``"independent"``."""
SHRUNK_KINDS: tuple[str, ...] = ("berry_berry", "xia_1a")
"""The hierarchical (shrunk, NUTS-fitted) AE models."""
KIND_LABELS: dict[str, str] = {
    "berry_berry": "Berry & Berry 2004 (shrunk, point mass at no difference)",
    "xia_1a": "Xia 2011 Model 1a (shrunk)",
    "independent": "independent (unshrunk)",
}
"""AE model -> its label in forest plots."""
_BETA_PRIORS = {"pi", "p"}


def _check_kind(kind: str) -> None:
    if kind not in _DEFAULT_PRIORS:
        raise InputError(f"AE model kind must be one of {', '.join(map(repr, KINDS))}, "
                         f"got {kind!r}")


def ae_priors(kind: str, priors: Mapping[str, Prior] | None = None) -> dict[str, Prior]:
    """An AE model's priors: ``priors`` over the defaults of ``kind``.

    Parameters
    ----------
    kind
        ``"berry_berry"`` (defaults :data:`BERRY_BERRY_PRIORS`), ``"xia_1a"``
        (:data:`XIA_1A_PRIORS`) or ``"independent"`` (:data:`INDEPENDENT_PRIORS`).
    priors
        ``{parameter: Prior}`` for some of the model's parameters (``None``: none).

    Returns
    -------
    dict[str, Prior]
        A new dict with every parameter of the model, in the order of its defaults.

    Raises
    ------
    InputError
        When ``kind`` is unknown, ``priors`` names a parameter the model does not have, or the
        independent model's ``p`` prior or the Berry & Berry model's ``pi`` prior is not a
        :class:`~prrt_bayes.core.priors.Beta`.
    """
    _check_kind(kind)
    defaults, priors = _DEFAULT_PRIORS[kind], dict(priors or {})
    unknown = sorted(set(priors) - set(defaults))
    if unknown:
        raise InputError(f"the {kind} AE model has no parameter {unknown[0]!r}; its priors are"
                         f" {', '.join(defaults)}", field="priors")
    out = {name: priors.get(name, default) for name, default in defaults.items()}
    for name in _BETA_PRIORS & set(out):
        if not isinstance(out[name], Beta):
            raise InputError(f"the {kind} AE model needs a Beta prior for {name!r}, got "
                             f"{out[name].describe()}", field="priors")
    return out


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
    return f"{event_slug(event)}_{GRADES[grade]}"


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
def ae_stack(
    tables: Mapping[str, pd.DataFrame], *, need_organ_class: bool = True
) -> dict[str, pd.DataFrame]:
    """Validate a stack of AE tables ``{label: table}`` fitted together (module docstring).

    Parameters
    ----------
    tables
        Non-empty mapping of table labels (e.g. ``"any"``, ``"grade34"``) to AE tables.
    need_organ_class
        Require ``organ_class`` in every table (the hierarchical model).

    Returns
    -------
    dict[str, pandas.DataFrame]
        A new dict, same labels and order, of validated copies (:func:`validate_ae_table`).

    Raises
    ------
    InputError
        When there is no table, a label is not a non-empty string, a table is invalid, or an
        event key occurs twice in the stack.
    """
    if not tables:
        raise InputError("no AE table to fit", field="tables")
    out: dict[str, pd.DataFrame] = {}
    seen: set[str] = set()
    for label, table in tables.items():
        if not isinstance(label, str) or not label.strip():
            raise InputError(f"AE table labels must be non-empty strings, got {label!r}",
                             field="tables")
        out[label] = validate_ae_table(table, need_organ_class=need_organ_class)
        for key in _keys(out[label]):
            if key in seen:
                raise InputError(f"event key {key!r} occurs twice in the AE tables (table "
                                 f"{label!r}); keys must be unique across the tables",
                                 field="key")
            seen.add(key)
    return out


def _count_data(counts: pd.DataFrame) -> tuple:
    """Add the ``events`` and ``totals`` containers (dims ``event, arm``) to the current model."""
    r = pm.Data("events", counts[["lu177_events", "control_events"]].to_numpy(),
                dims=("event", "arm"))
    n = pm.Data("totals", counts[["lu177_total", "control_total"]].to_numpy(),
                dims=("event", "arm"))
    return r, n


def hierarchical_ae_model(
    tables: Mapping[str, pd.DataFrame], priors: Mapping[str, Prior] | None = None,
    *, kind: str = "berry_berry",
) -> pm.Model:
    """Berry & Berry or Xia Model 1a of a stack of AE tables (module docstring), non-centred.

    Parameters
    ----------
    tables
        ``{label: AE table with organ_class}`` (:func:`ae_stack`); one table is a stack of one.
    priors
        Priors over the defaults of ``kind`` (:func:`ae_priors`), the same for every table.
    kind
        ``"berry_berry"`` (point mass at no difference, summed out of the likelihood) or
        ``"xia_1a"``.

    Returns
    -------
    pymc.Model
        A new model with coords ``table`` (the labels), ``event`` (the keys of every table, in
        stack order), ``arm`` and ``organ_class`` (the classes of every table, in order of
        first appearance): free hyperparameters (dim ``table``), ``z_gamma``, ``z_theta``
        (dim ``event``) and ``z_class`` (dims ``table, organ_class``); deterministics
        ``gamma``, ``theta`` (dim ``event``) and ``mu_theta`` (dims ``table, organ_class``);
        observed ``cases`` (dims ``event, arm``). Model 1a adds the deterministics
        ``risk_difference``, ``odds_ratio`` (dim ``event``) and ``p`` (dims ``event, arm``);
        Berry & Berry adds ``pi`` (dims ``table, organ_class``, free) and the deterministic
        ``prob_no_difference`` (dim ``event``: ``w_j`` of the module docstring); its effective
        ``p``, ``risk_difference`` and ``odds_ratio`` are drawn after sampling
        (:func:`effective_draws`).

    Raises
    ------
    InputError
        When ``kind`` is not a shrunk model, the stack is invalid (:func:`ae_stack`) or
        ``priors`` names an unknown parameter.
    """
    if kind not in SHRUNK_KINDS:
        raise InputError(f"a hierarchical AE model is 'berry_berry' or 'xia_1a', got {kind!r}")
    stack = ae_stack(tables)
    priors = ae_priors(kind, priors)
    classes = list(dict.fromkeys(c for table in stack.values() for c in table["organ_class"]))
    table_index = np.concatenate([np.full(len(table), i) for i, table in enumerate(stack.values())])
    class_index = np.array([classes.index(c) for t in stack.values() for c in t["organ_class"]])
    coords = {"table": list(stack), "event": [k for t in stack.values() for k in _keys(t)],
              "arm": list(ARMS), "organ_class": classes}
    with pm.Model(coords=coords) as model:
        r, n = _count_data(pd.concat(stack.values(), ignore_index=True))
        hyper = {name: prior.to_pymc(name, dims="table") for name, prior in priors.items()
                 if name != "pi"}
        zg = pm.Normal("z_gamma", 0.0, 1.0, dims="event")
        zt = pm.Normal("z_theta", 0.0, 1.0, dims="event")
        zb = pm.Normal("z_class", 0.0, 1.0, dims=("table", "organ_class"))
        gamma = pm.Deterministic(
            "gamma", hyper["mu_gamma"][table_index] + hyper["sigma_gamma"][table_index] * zg,
            dims="event")
        mu_theta = pm.Deterministic(
            "mu_theta", hyper["mu_theta0"][:, None] + hyper["tau_theta"][:, None] * zb,
            dims=("table", "organ_class"))
        theta = pm.Deterministic(
            "theta",
            mu_theta[table_index, class_index] + hyper["sigma_theta"][table_index] * zt,
            dims="event")
        slab = pm.math.stack([gamma + theta, gamma], axis=1)
        if kind == "xia_1a":
            p = pm.Deterministic("p", pm.math.invlogit(slab), dims=("event", "arm"))
            pm.Binomial("cases", n=n, logit_p=slab, observed=r, dims=("event", "arm"))
            pm.Deterministic("risk_difference", p[:, 0] - p[:, 1], dims="event")
            pm.Deterministic("odds_ratio", pm.math.exp(theta), dims="event")
            return model
        pi = priors["pi"].to_pymc("pi", dims=("table", "organ_class"))[table_index, class_index]
        null = pm.math.stack([gamma, gamma], axis=1)
        # the control arm's components are equal, so the elementwise mixture over (event, arm)
        # is the mixture of the 177Lu arm's likelihood times the control arm's
        weights = pm.math.stack([pi, 1.0 - pi], axis=-1)[:, None, :] * pt.ones((1, 2, 1))
        pm.Mixture("cases", w=weights,
                   comp_dists=[pm.Binomial.dist(n=n, logit_p=null),
                               pm.Binomial.dist(n=n, logit_p=slab)],
                   observed=r, dims=("event", "arm"))
        # log B0 - log B1 of the 177Lu arm (the binomial coefficients cancel)
        log_ratio = (r[:, 0] * (pt.softplus(-(gamma + theta)) - pt.softplus(-gamma))
                     + (n[:, 0] - r[:, 0]) * (pt.softplus(gamma + theta) - pt.softplus(gamma)))
        pm.Deterministic("prob_no_difference",
                         pm.math.invlogit(pt.log(pi) - pt.log1p(-pi) + log_ratio), dims="event")
    return model


class HierarchicalAEModel(BayesianModel):
    """A shrunk AE model (:func:`hierarchical_ae_model`) of a stack of AE tables.

    The structure is the model kind, table labels, event keys, organ classes and priors; the
    graph is built on placeholder counts and the data fill ``events`` and ``totals`` (shape
    ``(events, 2)``, every table's events in stack order, ``ARMS`` order).

    Parameters
    ----------
    tables
        ``{label: AE table with organ_class}`` (:func:`ae_stack`).
    priors
        Priors over the defaults of ``kind`` (:func:`ae_priors`), the same for every table.
    kind
        ``"berry_berry"`` or ``"xia_1a"``.

    Raises
    ------
    InputError
        When the stack is invalid or ``priors`` names an unknown parameter.
    """

    what = "hierarchical AE model"
    gate_vars = (*BERRY_BERRY_PRIORS, "gamma", "theta")

    def __init__(self, tables: Mapping[str, pd.DataFrame],
                 priors: Mapping[str, Prior] | None, kind: str = "berry_berry") -> None:
        self.tables = ae_stack(tables)
        self.kind = kind
        self.prior_map = ae_priors(kind, priors)

    def structure(self) -> Hashable:
        layout = tuple((label, tuple(_keys(table)), tuple(table["organ_class"]))
                       for label, table in self.tables.items())
        return (self.kind, layout, tuple(self.prior_map.items()))

    def build(self) -> pm.Model:
        kind, layout, _ = self.structure()
        placeholder = {label: pd.DataFrame({
            "key": list(keys), "event": list(keys), "organ_class": list(classes),
            "lu177_events": 0, "lu177_total": 1, "control_events": 0, "control_total": 1,
        }) for label, keys, classes in layout}
        return hierarchical_ae_model(placeholder, self.prior_map, kind=kind)

    def data(self) -> Mapping[str, np.ndarray]:
        counts = pd.concat(self.tables.values(), ignore_index=True)
        return {"events": counts[["lu177_events", "control_events"]].to_numpy(),
                "totals": counts[["lu177_total", "control_total"]].to_numpy()}

    def priors(self) -> Mapping[str, Prior]:
        return dict(self.prior_map)


def effective_draws(post: xr.Dataset, rng: np.random.Generator,
                    no_difference: xr.DataArray | None = None) -> xr.Dataset:
    """Berry & Berry's effective draws: the indicator ``z`` drawn, then ``p``, RD and OR.

    Parameters
    ----------
    post
        Draws with ``gamma`` and ``theta`` (dims ``chain, draw, event``) and, unless
        ``no_difference`` is given, ``prob_no_difference`` (the conditional probability of
        ``z = 1`` per draw).
    rng
        The Generator ``z`` is drawn with (one uniform per draw and event).
    no_difference
        Probability of ``z = 1`` per draw and event in place of ``prob_no_difference`` (prior
        draws: ``pi`` of the event's class).

    Returns
    -------
    xarray.Dataset
        ``post`` with ``z_no_difference`` (0/1), ``theta_effective`` = ``(1 - z) theta``, ``p``
        (dims ``..., event, arm``; 177Lu arm ``logit^-1(gamma + theta_effective)``),
        ``risk_difference`` (exactly 0 where ``z = 1``) and ``odds_ratio`` (exactly 1 there).
    """
    w = post["prob_no_difference"] if no_difference is None else no_difference
    z = xr.DataArray(rng.random(w.shape) < w.values, dims=w.dims, coords=w.coords)
    theta_eff = xr.where(z, 0.0, post["theta"])
    gamma = post["gamma"]
    p = xr.concat([1 / (1 + np.exp(-(gamma + theta_eff))), 1 / (1 + np.exp(-gamma))],
                  dim=pd.Index(list(ARMS), name="arm")).transpose(..., "event", "arm")
    p_lu177, p_control = (p.sel(arm=arm, drop=True) for arm in ARMS)
    return post.assign(z_no_difference=z.astype(np.int8), theta_effective=theta_eff, p=p,
                       risk_difference=p_lu177 - p_control, odds_ratio=np.exp(theta_eff))


# ------------------------------------------------------------------------------------ fitting
def ae_quantities(post: xr.Dataset, keys: Sequence[str]) -> list[QuantityDraws]:
    """The reported quantities of a fitted AE model, one block of five (or six) per event.

    Parameters
    ----------
    post
        Posterior with ``p`` (dims ``event, arm``), ``risk_difference`` and ``odds_ratio``
        (dim ``event``) and, for the Berry & Berry model, ``prob_no_difference``.
    keys
        Event keys, in reporting order.

    Returns
    -------
    list
        ``(quantity, group, draws, endpoint)`` items, ``endpoint`` the event key: per event
        ``ae_probability`` per arm, then ``risk_difference``, ``odds_ratio``,
        ``probability_risk_difference_positive`` (indicators of RD strictly > 0) and, if
        ``post`` has ``prob_no_difference``, ``probability_no_difference`` for
        ``lu177_vs_control``.
    """
    items: list[QuantityDraws] = []
    for key in keys:
        for arm in ARMS:
            items.append((Quantity.AE_PROBABILITY, arm,
                          post["p"].sel(event=key, arm=arm, drop=True), key))
        rd = post["risk_difference"].sel(event=key, drop=True)
        items += [
            (Quantity.RISK_DIFFERENCE, LU177_VS_CONTROL, rd, key),
            (Quantity.ODDS_RATIO, LU177_VS_CONTROL,
             post["odds_ratio"].sel(event=key, drop=True), key),
            (Quantity.PROBABILITY_RISK_DIFFERENCE_POSITIVE, LU177_VS_CONTROL,
             (rd > 0).astype(float), key),
        ]
        if "prob_no_difference" in post:
            items.append((Quantity.PROBABILITY_NO_DIFFERENCE, LU177_VS_CONTROL,
                          post["prob_no_difference"].sel(event=key, drop=True), key))
    return items


@dataclass
class AEFit:
    """A fitted AE model of one table: posterior, diagnostics, summary rows, priors, table.

    ``diagnostics`` are those of the joint fit of the table's stack (shrunk models), or of
    exact draws (independent: R-hat 1, ESS the number of draws, no divergences, E-BFMI
    ``inf`` as there is no Hamiltonian dynamics to check).
    """

    kind: str
    table: pd.DataFrame
    tree: xr.DataTree
    diagnostics: Diagnostics
    summary: pd.DataFrame
    priors: dict[str, Prior] = field(default_factory=dict)

    def probability_rd_positive(self) -> pd.Series:
        """Posterior P(risk difference > 0) per event key, RD strictly positive (ties are not).

        Returns
        -------
        pandas.Series
            Probabilities indexed by event key (index name ``event``), in model order.
        """
        rd = self.tree.posterior["risk_difference"]
        return (rd > 0).mean(("chain", "draw")).to_series()

    def probability_no_difference(self) -> pd.Series:
        """Posterior probability of no difference (``z = 1``) per event key (Berry & Berry).

        Returns
        -------
        pandas.Series
            The posterior means of ``prob_no_difference``, indexed by event key (index name
            ``event``), in model order; 0 for the models without a point mass.
        """
        post = self.tree.posterior
        if "prob_no_difference" not in post:
            return pd.Series(0.0, index=pd.Index(post["risk_difference"].event.values,
                                                 name="event"))
        return post["prob_no_difference"].mean(("chain", "draw")).to_series()


def _table_tree(tree: xr.DataTree, label: str, table: pd.DataFrame) -> xr.DataTree:
    """The joint fit's groups restricted to one table: its events, classes and hyperparameters."""
    index = {"table": label, "event": _keys(table),
             "organ_class": list(dict.fromkeys(table["organ_class"]))}
    groups = {}
    for name, node in tree.children.items():
        ds = node.to_dataset()
        ds = ds.sel({dim: value for dim, value in index.items() if dim in ds.dims})
        groups[name] = ds.drop_vars("table", errors="ignore")
    return xr.DataTree.from_dict(groups)


def _exact_tree(table: pd.DataFrame, prior: Beta, settings: SamplerSettings,
                rng: np.random.Generator) -> xr.DataTree:
    """Exact conjugate posterior draws of the independent model (module docstring)."""
    keys = _keys(table)
    r = table[["lu177_events", "control_events"]].to_numpy()
    n = table[["lu177_total", "control_total"]].to_numpy()
    draws = stats.beta(prior.alpha + r, prior.beta + n - r).rvs(
        size=(settings.chains, settings.draws, *r.shape), random_state=rng)
    coords = {"chain": np.arange(settings.chains), "draw": np.arange(settings.draws),
              "event": keys, "arm": list(ARMS)}
    p = xr.DataArray(draws, dims=("chain", "draw", "event", "arm"), coords=coords)
    p_lu177, p_control = (p.sel(arm=arm, drop=True) for arm in ARMS)
    odds = (p_lu177 / (1 - p_lu177)) / (p_control / (1 - p_control))
    posterior = xr.Dataset({"p": p, "risk_difference": p_lu177 - p_control, "odds_ratio": odds},
                           attrs={"seed": int(settings.seed),
                                  "sampler_backend": "exact (conjugate beta draws)"})
    data_coords = {"event": keys, "arm": list(ARMS)}
    tree = xr.DataTree.from_dict({
        "posterior": posterior,
        "observed_data": xr.Dataset({"cases": (("event", "arm"), r)}, coords=data_coords),
        "constant_data": xr.Dataset({"events": (("event", "arm"), r),
                                     "totals": (("event", "arm"), n)}, coords=data_coords),
    })
    attach_priors(tree, {"p": prior})
    return tree


def _exact_diagnostics(n_draws: int) -> Diagnostics:
    """The record of exact independent draws: nothing to converge (see :class:`AEFit`)."""
    return Diagnostics(max_rhat=1.0, min_ess_bulk=float(n_draws), min_ess_tail=float(n_draws),
                       divergences=0, min_bfmi=math.inf, passed=True, problems=())


def fit_ae_tables(
    tables: Mapping[str, pd.DataFrame],
    settings: SamplerSettings,
    *,
    kind: str = "berry_berry",
    priors: Mapping[str, Prior] | None = None,
    analysis: str | None = None,
) -> dict[str, AEFit]:
    """Fit the AE model to a stack of tables: one joint NUTS fit, or exact draws (independent).

    Parameters
    ----------
    tables
        ``{label: AE table}`` (:func:`ae_stack`; e.g. ``{"any": netter1_ae_table("any"),
        "grade34": netter1_ae_table("grade34")}``); event keys unique across the tables.
    settings
        Sampler settings: the shrunk models' NUTS run (a high ``target_accept``, e.g. 0.99,
        avoids the occasional divergence of the grade 3/4 table: many 0/0 events, little
        information on the SDs; its ``seed`` also seeds the Berry & Berry indicator draws);
        the independent model's exact draws take their shape (``chains x draws``) and
        ``seed``.
    kind
        ``"berry_berry"`` (default) or ``"xia_1a"`` (one joint NUTS fit through
        :func:`prrt_bayes.core.fit.fit`, one compile per stack structure), or
        ``"independent"`` (exact conjugate draws, no MCMC).
    priors
        Priors over the kind's defaults (:func:`ae_priors`), the same for every table.
    analysis
        Label of the summary rows (default ``"<kind>"``).

    Returns
    -------
    dict[str, AEFit]
        One fit per label, in stack order: summary rows per event (:func:`ae_quantities`,
        also in the tree's ``quantities`` group; priors in ``summary.attrs["priors"]``) and
        diagnostics (shrunk models: the joint fit's convergence checks of the hyperparameters,
        ``pi``, ``gamma`` and ``theta`` of every table, recorded, not enforced).

    Raises
    ------
    InputError
        When ``kind`` is unknown, the stack is invalid or ``priors`` are not those of the
        model.
    """
    _check_kind(kind)
    stack = ae_stack(tables, need_organ_class=kind in SHRUNK_KINDS)
    prior_map = ae_priors(kind, priors)
    if kind in SHRUNK_KINDS:
        result = core_fit.fit(HierarchicalAEModel(stack, prior_map, kind), settings)
        tree = result.tree
        if kind == "berry_berry":
            rng = np.random.default_rng([int(settings.seed), 2004])
            tree["posterior"] = effective_draws(tree.posterior.dataset, rng)
        trees = {label: _table_tree(tree, label, table) for label, table in stack.items()}
        diagnostics = result.diagnostics
    else:
        rng = np.random.default_rng(settings.seed)
        trees = {label: _exact_tree(table, prior_map["p"], settings, rng)
                 for label, table in stack.items()}
        diagnostics = _exact_diagnostics(settings.chains * settings.draws)
    fits = {}
    for label, table in stack.items():
        tree = trees[label]
        attach_quantities(tree, ae_quantities(tree.posterior.dataset, _keys(table)),
                          analysis=analysis or kind, endpoint=Endpoint.ADVERSE_EVENTS)
        summary = summary_from_tree(tree)
        summary.attrs["priors"] = describe_priors(prior_map)
        fits[label] = AEFit(kind, table, tree, diagnostics, summary, dict(prior_map))
    return fits


def fit_ae(
    table: pd.DataFrame,
    settings: SamplerSettings,
    *,
    kind: str = "berry_berry",
    priors: Mapping[str, Prior] | None = None,
    analysis: str | None = None,
) -> AEFit:
    """Fit the Berry & Berry, Xia Model 1a or independent-binomial AE model to one table.

    The table is fitted as a stack of one (:func:`fit_ae_tables`).

    Parameters
    ----------
    table
        AE table (:func:`netter1_ae_table`, or your own with :data:`AE_COLUMNS`; the independent
        model does not need ``organ_class``).
    settings
        Sampler settings (see :func:`fit_ae_tables`).
    kind
        ``"berry_berry"`` (default) or ``"xia_1a"`` (NUTS), or ``"independent"`` (exact
        conjugate draws).
    priors
        Priors over the kind's defaults (:func:`ae_priors`).
    analysis
        Label of the summary rows (default ``"<kind>"``).

    Returns
    -------
    AEFit
        The table's fit (see :func:`fit_ae_tables`).

    Raises
    ------
    InputError
        When ``kind`` is unknown, the table is invalid or ``priors`` are not those of the
        model.
    """
    return fit_ae_tables({"table": table}, settings, kind=kind, priors=priors,
                         analysis=analysis)["table"]


def prior_predictive_check(
    table: pd.DataFrame, *, kind: str = "berry_berry",
    priors: Mapping[str, Prior] | None = None, draws: int = 1000, seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Prior predictive summary of an AE model at the table's arm sizes.

    Parameters
    ----------
    table
        AE table; gives the events and arm sizes (the observed counts are not used).
    kind
        ``"berry_berry"`` or ``"xia_1a"`` (:func:`pymc.sample_prior_predictive` of the model
        of a stack of one; Berry & Berry's ``p`` with ``z`` drawn from ``pi``), or
        ``"independent"`` (Beta and binomial draws with numpy).
    priors
        Priors over the kind's defaults (:func:`ae_priors`); ``None``: the defaults.
    draws, seed
        Number of draws and random seed.

    Returns
    -------
    pandas.DataFrame
        One row per arm: ``arm``, ``p_mean``, ``p_lower``, ``p_upper`` (mean and 95% prior
        interval of the event probability over all events), ``share_zero`` and ``share_all``
        (share of simulated counts equal to 0 or to the arm size: a vague prior on the logit
        scale puts much mass near 0 and 1; this reports how much), and ``share_no_difference``
        (prior share of draws with no difference between the arms, ``z = 1``; 0 without a
        point mass).

    Raises
    ------
    InputError
        When ``kind`` is unknown, the table is invalid or ``priors`` are not those of the
        model (:func:`ae_priors`).
    """
    _check_kind(kind)
    n = validate_ae_table(table, need_organ_class=False)[["lu177_total", "control_total"]]
    n = n.to_numpy()
    no_difference = np.zeros((draws, n.shape[0]))
    if kind in SHRUNK_KINDS:
        model = hierarchical_ae_model({"table": table}, priors, kind=kind)
        prior_tree = pm.sample_prior_predictive(draws=draws, model=model, random_seed=seed)
        prior = prior_tree.prior.dataset
        if kind == "berry_berry":
            classes = table["organ_class"].to_numpy()
            pi = prior["pi"].isel(table=0, drop=True).sel(organ_class=classes).rename(
                organ_class="event").assign_coords(event=prior["theta"].event)
            prior = effective_draws(prior, np.random.default_rng([seed, 2004]), pi)
            no_difference = prior["z_no_difference"].stack(sample=("chain", "draw")).transpose(
                "sample", ...).values
        p = prior["p"].stack(sample=("chain", "draw")).transpose("sample", ...).values
        y = prior_tree.prior_predictive["cases"].stack(sample=("chain", "draw")).transpose(
            "sample", ...).values
    else:
        prior = ae_priors(kind, priors)["p"]
        rng = np.random.default_rng(seed)
        p = rng.beta(prior.alpha, prior.beta, size=(draws, *n.shape))
        y = rng.binomial(n, p)
    rows = []
    for j, arm in enumerate(ARMS):
        probs = p[..., j].ravel()
        rows.append({
            "arm": arm, "p_mean": float(probs.mean()),
            "p_lower": float(np.quantile(probs, 0.025)),
            "p_upper": float(np.quantile(probs, 0.975)),
            "share_zero": float((y[..., j] == 0).mean()),
            "share_all": float((y[..., j] == n[:, j]).mean()),
            "share_no_difference": float(no_difference.mean()),
        })
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------- comparisons, plot
def compare_with_fisher(shrunk: AEFit, independent: AEFit) -> pd.DataFrame:
    """Per event: Bayesian P(RD > 0) (both models) next to Fisher's exact P values.

    Parameters
    ----------
    shrunk, independent
        Two :func:`fit_ae` fits of the same AE table: ``shrunk`` of kind ``"berry_berry"`` or
        ``"xia_1a"``, ``independent`` of kind ``"independent"`` (column suffixes come from
        each fit's ``kind``).

    Returns
    -------
    pandas.DataFrame
        A new frame: the columns of ``shrunk.table`` (``key, event, organ_class``, the
        counts, ``p_value_printed`` as printed in Table 4 if the table has it), then
        ``p_value_fisher`` (two-sided, recomputed with scipy) and per fit
        ``prob_rd_positive_<kind>`` (RD strictly > 0), the two-sided posterior tail
        probability ``tail_<kind>`` = ``min(1, 2 min(P(RD >= 0), P(RD <= 0)))`` (ties at RD = 0
        count on both sides, as Fisher's test counts tables as extreme as the observed; without
        ties it is ``2 min(P, 1 - P)``), ``prob_no_difference_<kind>`` (0 without a point mass)
        and the posterior mean risk difference ``rd_mean_<kind>``. ``attrs["spearman"]`` maps
        ``<kind>_vs_p_value_fisher`` and ``<kind>_vs_p_value_numeric`` to the Spearman rank
        correlation of the tail probability with that P value (only for a P column without
        missing values).

    Raises
    ------
    InputError
        When the fits are not a shrunk and an independent fit (in that order) or are of tables
        with different events.
    """
    if shrunk.kind not in SHRUNK_KINDS or independent.kind != "independent":
        raise InputError("compare_with_fisher needs a shrunk ('berry_berry' or 'xia_1a') and an "
                         f"independent fit, in that order; got {shrunk.kind!r} and "
                         f"{independent.kind!r}")
    table = shrunk.table
    if list(table["event"]) != list(independent.table["event"]):
        raise InputError("the two fits are of different AE tables")
    out = table.copy()
    out["p_value_fisher"] = [
        stats.fisher_exact([[r.lu177_events, r.lu177_total - r.lu177_events],
                            [r.control_events, r.control_total - r.control_events]]).pvalue
        for r in table.itertuples()
    ]
    keys = _keys(table)
    spearman = {}
    for fit in (shrunk, independent):
        rd = fit.tree.posterior["risk_difference"]
        out[f"prob_rd_positive_{fit.kind}"] = fit.probability_rd_positive().reindex(keys).to_numpy()
        at_least, at_most = ((test.mean(("chain", "draw")).to_series().reindex(keys).to_numpy())
                             for test in (rd >= 0, rd <= 0))
        out[f"tail_{fit.kind}"] = np.minimum(1.0, 2 * np.minimum(at_least, at_most))
        out[f"prob_no_difference_{fit.kind}"] = (
            fit.probability_no_difference().reindex(keys).to_numpy())
        out[f"rd_mean_{fit.kind}"] = rd.mean(("chain", "draw")).to_series().reindex(
            keys).to_numpy()
        for reference in ("p_value_fisher", "p_value_numeric"):
            if reference in out and out[reference].notna().all():
                rho = stats.spearmanr(out[f"tail_{fit.kind}"], out[reference]).statistic
                spearman[f"{fit.kind}_vs_{reference}"] = float(rho)
    out.attrs["spearman"] = spearman
    return out


def plot_ae_forest(shrunk: AEFit, independent: AEFit, *, title: str | None = None):
    """Forest plot of risk differences per event, shrunk vs unshrunk.

    Parameters
    ----------
    shrunk, independent
        Two :func:`fit_ae` fits of the same AE table (e.g. Berry & Berry and independent);
        events are drawn top to bottom in the order of ``shrunk.table`` (posterior median and
        95% CrI per fit, labelled by :data:`KIND_LABELS`).
    title
        Plot title (default ``"Adverse events: risk differences"``).

    Returns
    -------
    matplotlib.figure.Figure
        A new figure, not shown and not attached to pyplot; save it with ``fig.savefig``.
    """
    from matplotlib.figure import Figure

    keys = _keys(shrunk.table)
    labels = list(shrunk.table["event"])
    fig = Figure(figsize=(7.5, 0.38 * len(keys) + 1.5))
    ax = fig.add_subplot()
    y = np.arange(len(keys))[::-1].astype(float)
    for fit, offset, colour in ((shrunk, 0.15, "tab:blue"), (independent, -0.15, "tab:orange")):
        rd = fit.tree.posterior["risk_difference"]
        q = rd.quantile([0.025, 0.5, 0.975], dim=("chain", "draw")).sel(event=keys).values
        ax.errorbar(q[1], y + offset, xerr=[q[1] - q[0], q[2] - q[1]], fmt="o", ms=4,
                    color=colour, capsize=2, label=KIND_LABELS[fit.kind])
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, labels)
    ax.set_xlabel("risk difference, 177Lu-Dotatate minus control (median, 95% CrI)")
    ax.set_title(title or "Adverse events: risk differences")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig
