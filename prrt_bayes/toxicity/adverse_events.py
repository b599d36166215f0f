"""Adverse events: NETTER-1 event types, hierarchical (Berry & Berry) and independent models.

**Input**: a table with one row per event type: ``event`` (name), ``organ_class`` (MedDRA system
organ class), ``lu177_events``, ``lu177_total``, ``control_events``, ``control_total``
(:func:`netter1_ae_table` builds it from NEJM Table 4, safety population 111 vs 110, for any
grade or grade 3/4; :func:`netter1_overview_table` from Table 3). The models label events by
the table's ``key`` column if present, else by :func:`event_key` of ``event`` (any grade).

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

(defaults :data:`HIERARCHICAL_PRIORS`; the independent model's :data:`INDEPENDENT_PRIORS`).

Departures from Berry & Berry, stated: half-normal rather than inverse-gamma variance priors
(with one or two events in most organ classes, inverse-gamma priors dominate), one within-class
SD ``sigma_theta`` shared by all classes (a per-class SD is not identified from one event), and
one level (not per organ class) for the control log-odds. The control hierarchy matters for
events with no case in either arm (common at grade 3/4): with independent control priors the
177Lu arm's log-odds (control prior plus theta) has the wider prior, so 0/111 vs 0/110 pulled
theta below 0 (P(RD > 0) about 0.15 for such events); the hierarchy learns that such events are
rare and removes most of that asymmetry.

**Summary rows** (:func:`ae_quantities`, summarised by :mod:`prrt_bayes.core.posterior`):
``endpoint`` is the event key ``<event>_<grade>`` (e.g. ``nausea_any_grade``,
``nausea_grade34``), ``group`` the arm or ``lu177_vs_control``; quantities ``ae_probability``
(per arm), ``risk_difference``, ``odds_ratio`` and ``probability_risk_difference_positive``
(P(p_lu177 > p_control), held in ``mean``; the other columns summarise 0/1 indicators).
The long-term MDS risk is in :mod:`prrt_bayes.toxicity.long_term`.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy import stats

from prrt_bayes.core import fit as core_fit
from prrt_bayes.core.diagnostics import Diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.fit import BayesianModel, QuantityDraws
from prrt_bayes.core.posterior import attach_quantities, summary_from_tree
from prrt_bayes.core.priors import Beta, HalfNormal, Normal, Prior, describe_priors
from prrt_bayes.core.sampling import DEFAULT_SEED, SamplerSettings
from prrt_bayes.core.vocabulary import ARMS, LU177_VS_CONTROL, Endpoint, Quantity
from prrt_bayes.evidence import load_netter1
from prrt_bayes.evidence.series_rules import check_count

GRADES = {"any": "any_grade", "grade34": "grade34"}
COUNT_COLUMNS = ("lu177_events", "lu177_total", "control_events", "control_total")
AE_COLUMNS = ("event", "organ_class", *COUNT_COLUMNS)

HIERARCHICAL_PRIORS: dict[str, Prior] = {
    "mu_gamma": Normal(0.0, 2.0),
    "sigma_gamma": HalfNormal(2.0),
    "mu_theta0": Normal(0.0, 2.0),
    "tau_theta": HalfNormal(1.0),
    "sigma_theta": HalfNormal(1.0),
}
"""Default hyperpriors of the Berry & Berry model (module docstring), in creation order."""

INDEPENDENT_PRIORS: dict[str, Prior] = {"p": Beta(1.0, 1.0)}
"""Default prior of every event probability of the independent model (a Beta prior)."""

_DEFAULT_PRIORS = {"hierarchical": HIERARCHICAL_PRIORS, "independent": INDEPENDENT_PRIORS}


def ae_priors(kind: str, priors: Mapping[str, Prior] | None = None) -> dict[str, Prior]:
    """An AE model's priors: ``priors`` over the defaults of ``kind``.

    Parameters
    ----------
    kind
        ``"hierarchical"`` (defaults :data:`HIERARCHICAL_PRIORS`) or ``"independent"``
        (:data:`INDEPENDENT_PRIORS`).
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
        independent model's ``p`` prior is not a :class:`~prrt_bayes.core.priors.Beta`.
    """
    if kind not in _DEFAULT_PRIORS:
        raise InputError(f"AE model kind must be 'hierarchical' or 'independent', got {kind!r}")
    defaults, priors = _DEFAULT_PRIORS[kind], dict(priors or {})
    unknown = sorted(set(priors) - set(defaults))
    if unknown:
        raise InputError(f"the {kind} AE model has no parameter {unknown[0]!r}; its priors are"
                         f" {', '.join(defaults)}", field="priors")
    out = {name: priors.get(name, default) for name, default in defaults.items()}
    if kind == "independent" and not isinstance(out["p"], Beta):
        raise InputError(f"the independent AE model needs a Beta prior, got {out['p'].describe()}")
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
def independent_ae_model(
    table: pd.DataFrame, priors: Mapping[str, Prior] | None = None
) -> pm.Model:
    """Unshrunk model: a Beta prior on every probability, per event and arm (module docstring).

    Parameters
    ----------
    table
        AE table (validated; ``organ_class`` not needed).
    priors
        ``{"p": Beta prior}`` of every event probability (default :data:`INDEPENDENT_PRIORS`,
        Beta(1, 1)).

    Returns
    -------
    pymc.Model
        A new model with coords ``event`` and ``arm`` (``ARMS``):
        free ``p`` (dims ``event, arm``), observed ``cases``, deterministics
        ``risk_difference`` and ``odds_ratio`` (dim ``event``, lu177 vs control).

    Raises
    ------
    InputError
        When the table is invalid (:func:`validate_ae_table`) or ``priors`` are not those of
        the model (:func:`ae_priors`).
    """
    table = validate_ae_table(table, need_organ_class=False)
    prior = ae_priors("independent", priors)["p"]
    keys = _keys(table)
    with pm.Model(coords={"event": keys, "arm": list(ARMS)}) as model:
        r, n = _count_data(table)
        p = prior.to_pymc("p", dims=("event", "arm"))
        pm.Binomial("cases", n=n, p=p, observed=r, dims=("event", "arm"))
        _contrasts(p[:, 0], p[:, 1])
    return model


def _count_data(table: pd.DataFrame) -> tuple:
    """Add the ``events`` and ``totals`` containers (dims ``event, arm``) to the current model."""
    r = pm.Data("events", table[["lu177_events", "control_events"]].to_numpy(),
                dims=("event", "arm"))
    n = pm.Data("totals", table[["lu177_total", "control_total"]].to_numpy(),
                dims=("event", "arm"))
    return r, n


def _contrasts(p_lu177, p_control) -> None:
    """Add risk difference and odds ratio per event (dims ``event``) to the current model."""
    pm.Deterministic("risk_difference", p_lu177 - p_control, dims="event")
    log_or = pm.math.logit(p_lu177) - pm.math.logit(p_control)
    pm.Deterministic("odds_ratio", pm.math.exp(log_or), dims="event")


def _class_index(table: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    classes = list(dict.fromkeys(table["organ_class"]))
    return classes, np.array([classes.index(c) for c in table["organ_class"]])


def hierarchical_ae_model(
    table: pd.DataFrame, priors: Mapping[str, Prior] | None = None
) -> pm.Model:
    """Berry & Berry three-level model (module docstring), non-centred.

    Parameters
    ----------
    table
        AE table with ``organ_class`` (validated).
    priors
        Hyperpriors over the defaults :data:`HIERARCHICAL_PRIORS`.

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
        When the table is invalid (:func:`validate_ae_table`) or ``priors`` names an unknown
        parameter.
    """
    table = validate_ae_table(table)
    priors = ae_priors("hierarchical", priors)
    keys = _keys(table)
    classes, index = _class_index(table)
    coords = {"event": keys, "arm": list(ARMS), "organ_class": classes}
    with pm.Model(coords=coords) as model:
        r, n = _count_data(table)
        hyper = {name: prior.to_pymc(name) for name, prior in priors.items()}
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


# ------------------------------------------------------------------------------------ fitting
def ae_quantities(post: xr.Dataset, keys: Sequence[str]) -> list[QuantityDraws]:
    """The reported quantities of a fitted AE model, one block of five per event.

    Parameters
    ----------
    post
        Posterior with ``p`` (dims ``event, arm``), ``risk_difference`` and ``odds_ratio``
        (dim ``event``).
    keys
        Event keys, in reporting order.

    Returns
    -------
    list
        ``(quantity, group, draws, endpoint)`` items, ``endpoint`` the event key: per event
        ``ae_probability`` per arm, then ``risk_difference``, ``odds_ratio`` and
        ``probability_risk_difference_positive`` for ``lu177_vs_control``.
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
    return items


class _AEModel(BayesianModel):
    """An AE model of a validated table, as :func:`~prrt_bayes.core.fit.fit` needs it.

    The structure is the event keys, organ classes (hierarchical model) and priors; the graph
    is built on placeholder counts and the data fill ``events`` and ``totals`` (shape
    ``(events, 2)`` in ``ARMS`` order); the quantities are those of :func:`ae_quantities`.
    """

    kind: str = ""

    def __init__(self, table: pd.DataFrame, priors: Mapping[str, Prior] | None) -> None:
        self.table = validate_ae_table(table, need_organ_class=self.kind == "hierarchical")
        self.prior_map = ae_priors(self.kind, priors)
        self.keys = _keys(self.table)

    def structure(self) -> Hashable:
        classes = (tuple(self.table["organ_class"]) if self.kind == "hierarchical"
                   else ("",) * len(self.keys))
        return (tuple(self.keys), classes, tuple(self.prior_map.items()))

    def _placeholder(self) -> pd.DataFrame:
        """A table of the same events and classes with counts 0/1 (the graph's first data)."""
        keys, classes, _ = self.structure()
        return pd.DataFrame({
            "key": list(keys), "event": list(keys), "organ_class": list(classes),
            "lu177_events": 0, "lu177_total": 1, "control_events": 0, "control_total": 1,
        })

    def data(self) -> Mapping[str, np.ndarray]:
        return {"events": self.table[["lu177_events", "control_events"]].to_numpy(),
                "totals": self.table[["lu177_total", "control_total"]].to_numpy()}

    def priors(self) -> Mapping[str, Prior]:
        return dict(self.prior_map)

    def quantities(self, tree: xr.DataTree) -> list[QuantityDraws]:
        return ae_quantities(tree.posterior.dataset, self.keys)


class HierarchicalAEModel(_AEModel):
    """The Berry & Berry model (:func:`hierarchical_ae_model`) of an AE table.

    Parameters
    ----------
    table
        AE table with ``organ_class``.
    priors
        Hyperpriors over the defaults :data:`HIERARCHICAL_PRIORS`.

    Raises
    ------
    InputError
        When the table is invalid or ``priors`` names an unknown parameter.
    """

    kind = "hierarchical"
    what = "hierarchical AE model"
    gate_vars = (*HIERARCHICAL_PRIORS, "gamma", "theta")

    def build(self) -> pm.Model:
        return hierarchical_ae_model(self._placeholder(), self.prior_map)


class IndependentAEModel(_AEModel):
    """The independent-binomial model (:func:`independent_ae_model`) of an AE table.

    Parameters
    ----------
    table
        AE table (``organ_class`` not needed).
    priors
        ``{"p": Beta prior}`` over the default :data:`INDEPENDENT_PRIORS`.

    Raises
    ------
    InputError
        When the table is invalid or ``priors`` are not those of the model.
    """

    kind = "independent"
    what = "independent AE model"
    gate_vars = ("p",)

    def build(self) -> pm.Model:
        return independent_ae_model(self._placeholder(), self.prior_map)


AE_MODELS: dict[str, type[_AEModel]] = {"hierarchical": HierarchicalAEModel,
                                        "independent": IndependentAEModel}
"""AE model kind -> its model class."""


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


def fit_ae(
    table: pd.DataFrame,
    settings: SamplerSettings,
    *,
    kind: str = "hierarchical",
    priors: Mapping[str, Prior] | None = None,
    analysis: str | None = None,
) -> AEFit:
    """Fit the hierarchical (Berry & Berry) or independent-binomial AE model to ``table``.

    Parameters
    ----------
    table
        AE table (:func:`netter1_ae_table`, or your own with :data:`AE_COLUMNS`; the independent
        model does not need ``organ_class``).
    settings
        Sampler settings of the fit (a high ``target_accept``, e.g. 0.99, avoids the occasional
        divergence of the grade 3/4 fit: many 0/0 events, little information on the SDs).
    kind
        ``"hierarchical"`` or ``"independent"``.
    priors
        Priors over the kind's defaults (:func:`ae_priors`).
    analysis
        Label of the summary rows (default ``"<kind>"``).

    Returns
    -------
    AEFit
        Summary rows per event (:func:`ae_quantities`, also in the tree's ``quantities``
        group; priors in ``summary.attrs["priors"]``) and the convergence checks of the free
        parameters (hierarchical: hyperparameters, ``gamma`` and ``theta``; independent:
        ``p``), recorded, not enforced.

    Raises
    ------
    InputError
        When ``kind`` is unknown, the table is invalid or ``priors`` are not those of the
        model.
    """
    if kind not in AE_MODELS:
        raise InputError(f"AE model kind must be 'hierarchical' or 'independent', got {kind!r}")
    result = core_fit.fit(AE_MODELS[kind](table, priors), settings)
    prior_map = dict(result.model.priors())
    attach_quantities(result.tree, result.quantities(), analysis=analysis or kind,
                      endpoint=Endpoint.ADVERSE_EVENTS)
    summary = summary_from_tree(result.tree)
    summary.attrs["priors"] = describe_priors(prior_map)
    return AEFit(kind, result.model.table, result.tree, result.diagnostics, summary, prior_map)


def prior_predictive_check(
    table: pd.DataFrame, *, kind: str = "hierarchical",
    priors: Mapping[str, Prior] | None = None, draws: int = 1000, seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Prior predictive summary of an AE model at the table's arm sizes.

    Parameters
    ----------
    table
        AE table; gives the events and arm sizes (the observed counts are not used).
    kind
        ``"hierarchical"`` or ``"independent"``.
    priors
        Priors over the kind's defaults (:func:`ae_priors`); ``None``: the defaults.
    draws, seed
        Number of draws and random seed of :func:`pymc.sample_prior_predictive`.

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
        When ``kind`` is unknown, the table is invalid or ``priors`` are not those of the
        model (:func:`ae_priors`).
    """
    if kind not in AE_MODELS:
        raise InputError(f"AE model kind must be 'hierarchical' or 'independent', got {kind!r}")
    build = hierarchical_ae_model if kind == "hierarchical" else independent_ae_model
    model = build(table, priors)
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
