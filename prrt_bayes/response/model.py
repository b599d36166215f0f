"""Objective response: Bayesian binomial model per arm for NETTER-1, and borrowing from series.

Two-arm model (arms ``a`` in ``lu177``, ``control``), fitted with NUTS::

    r_a | p_a ~ Binomial(n_a, p_a)
    p_a       ~ Beta(alpha, beta)              default Beta(1, 1) (uniform), same for both arms

    risk_difference = p_lu177 - p_control
    odds_ratio      = [p_lu177 / (1 - p_lu177)] / [p_control / (1 - p_control)]

With the default prior the exact posterior of each rate is ``Beta(1 + r_a, 1 + n_a - r_a)``; the
tests check the sampler against it. NETTER-1 (NEJM 2017, Table 2) is analysed in the evaluable
population (18/101 vs 3/100, the primary view) and, as a labelled sensitivity analysis, in the
ITT population (116 / 113 randomised, non-evaluable patients counted as non-responders).

Borrowing (:func:`fit_series_response_map` and :func:`borrowing_comparison`): the 177Lu arm's
rate informed by single-arm 177Lu-DOTATATE series, through a binomial-logit meta-analytic
model with population type as a study-level covariate::

    r_i | theta_i ~ Binomial(n_i, logit^-1(theta_i))
    theta_i       = alpha + sum_l beta_l [level_i = l] + tau z_i,   z_i ~ Normal(0, 1)
    alpha         ~ Normal(0, 2)        (log-odds of response in the target's population level)
    beta_l        ~ Normal(0, 1)        (one offset per other population level present)
    tau           ~ HalfNormal(1)       (between-study SD, logit scale)
    theta_new     = alpha + tau z_new   (a new study in the target's level: the MAP prior)

The series populations are mapped to levels by :data:`POPULATION_LEVELS`; NETTER-1 (midgut) is
a subset of GEP-NET, and no bundled series is midgut-only, so midgut is predicted from the GEP
level (``gep`` and ``mixed`` cohorts; the mixed cohorts are mostly GEP-NET) and pancreatic NET
gets its own offset. The MAP prior is the predictive distribution of ``p_new``, approximated by
a beta mixture (:func:`prrt_bayes.borrowing.mixtures.fit_mixture_auto`) so that updating with
NETTER-1's 18/101 is exact.

Summary rows (see :mod:`prrt_bayes.core.summary`) use ``endpoint="objective_response"`` and the
quantities ``response_rate`` (group: arm), ``risk_difference``, ``odds_ratio`` and
``probability_risk_difference_positive`` (group ``lu177_vs_control``). The last is a new
vocabulary name: P(p_lu177 > p_control), a probability held in ``mean`` (``median``, ``lower``
and ``upper`` summarise the 0/1 indicator draws and carry no extra information).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from prrt_bayes.borrowing import (
    commensurate_prior_beta,
    conflict_beta,
    ess,
    full_pooling_beta,
    map_prior_counts,
    no_borrowing_beta,
    power_prior_beta,
)
from prrt_bayes.borrowing.mixtures import BetaMixture, fit_mixture_auto
from prrt_bayes.core.diagnostics import Diagnostics, check_diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.evidence import load_netter1, load_series
from prrt_bayes.core.priors import Beta, HalfNormal, Normal, Prior, attach_priors, describe_priors
from prrt_bayes.core.sampling import DEFAULT_SEED, sample
from prrt_bayes.core.summary import summarize_draws, summary_frame

ARMS: tuple[str, str] = ("lu177", "control")
ENDPOINT = "objective_response"
CONTRAST = "lu177_vs_control"
DEFAULT_RATE_PRIOR = Beta(1.0, 1.0)

POPULATION_LEVELS: dict[str, str] = {
    "midgut": "gep",
    "gep": "gep",
    "mixed": "gep",
    "pancreatic": "pancreatic",
}
"""Series population -> covariate level. ``unknown`` populations are excluded (no level)."""


# --------------------------------------------------------------------------------- inputs
def check_count(events, total, *, what: str) -> tuple[int, int]:
    """Return ``(events, total)`` as ints if ``0 <= events <= total`` and ``total > 0``.

    Parameters
    ----------
    events, total
        Event count and denominator: whole numbers of any numeric type (``3.0`` is accepted;
        booleans, NaN and non-numbers are not).
    what
        Name of the count used in the error message, e.g. ``"series kwekkeboom2008"``.

    Returns
    -------
    tuple[int, int]
        ``(events, total)`` converted to ``int``.

    Raises
    ------
    InputError
        Naming ``what``, when a value is not a whole number, is negative, ``total`` is 0 or
        ``events > total``.
    """
    for name, value in (("events", events), ("total", total)):
        try:
            whole = not isinstance(value, bool) and float(value).is_integer()
        except (TypeError, ValueError):
            whole = False
        if not whole:
            raise InputError(f"{what}: {name} must be a whole number, got {value!r}", field=name)
    events, total = int(events), int(total)
    if events < 0 or total < 0:
        raise InputError(f"{what}: negative count ({events}/{total})", field="events")
    if total == 0:
        raise InputError(f"{what}: total must be > 0", field="total")
    if events > total:
        raise InputError(f"{what}: events {events} > total {total}", field="events")
    return events, total


@dataclass(frozen=True)
class ResponseCounts:
    """Responders and patients per arm of a two-arm comparison, with a label for the analysis."""

    lu177_events: int
    lu177_total: int
    control_events: int
    control_total: int
    label: str = "custom"

    def __post_init__(self) -> None:
        for arm in ARMS:
            events, total = check_count(
                getattr(self, f"{arm}_events"), getattr(self, f"{arm}_total"),
                what=f"{self.label} {arm} arm",
            )
            object.__setattr__(self, f"{arm}_events", events)
            object.__setattr__(self, f"{arm}_total", total)

    def events(self) -> np.ndarray:
        """Responders in arm order :data:`ARMS`.

        Returns
        -------
        numpy.ndarray
            A new int array of shape ``(2,)``: ``[lu177_events, control_events]``.
        """
        return np.array([self.lu177_events, self.control_events])

    def totals(self) -> np.ndarray:
        """Patients in arm order :data:`ARMS`.

        Returns
        -------
        numpy.ndarray
            A new int array of shape ``(2,)``: ``[lu177_total, control_total]``.
        """
        return np.array([self.lu177_total, self.control_total])


def netter1_response(view: str = "evaluable", netter1=None) -> ResponseCounts:
    """NETTER-1 objective responses (primary 2015 cut, RECIST 1.1) from the bundled evidence.

    Parameters
    ----------
    view
        ``"evaluable"`` (NEJM Table 2: 18/101 vs 3/100, the primary analysis) or ``"itt"``
        (sensitivity: all randomised, 116 / 113, non-evaluable patients as non-responders).
    netter1
        A :class:`~prrt_bayes.evidence.Netter1Evidence` (default: the bundled one).

    Returns
    -------
    ResponseCounts
        Labelled ``netter1_evaluable`` or ``netter1_itt_sensitivity``.

    Raises
    ------
    InputError
        When ``view`` is not ``"evaluable"`` or ``"itt"``.
    """
    if view not in ("evaluable", "itt"):
        raise InputError(f"response view must be 'evaluable' or 'itt', got {view!r}", field="view")
    ev = netter1 or load_netter1()
    values = {}
    for arm in ARMS:
        record = ev.get("primary_2015", "objective_responses", arm)
        total = (
            record.denominator if view == "evaluable"
            else ev.get("primary_2015", "n_randomised", arm).value
        )
        values[f"{arm}_events"], values[f"{arm}_total"] = record.value, total
    label = "netter1_evaluable" if view == "evaluable" else "netter1_itt_sensitivity"
    return ResponseCounts(**values, label=label)


# ---------------------------------------------------------------------------- two-arm model
def _check_rate_prior(prior: Prior) -> Beta:
    if not isinstance(prior, Beta):
        raise InputError(f"the response-rate prior must be a Beta prior, got {prior.describe()}")
    return prior


def response_model(counts: ResponseCounts, prior: Beta = DEFAULT_RATE_PRIOR) -> pm.Model:
    """Build the two-arm binomial model of the module docstring (data in ``pm.Data``).

    Parameters
    ----------
    counts
        Responders and patients per arm (``pm.Data`` ``events`` and ``totals``, dim ``arm``).
    prior
        Beta prior of each arm's response rate (default Beta(1, 1)), the same for both arms.

    Returns
    -------
    pymc.Model
        A new model with coords ``arm`` (:data:`ARMS`): free ``p`` (dim ``arm``), observed
        ``responders``, deterministics ``risk_difference``, ``log_odds_ratio`` and
        ``odds_ratio`` (lu177 vs control).

    Raises
    ------
    InputError
        When ``prior`` is not a :class:`~prrt_bayes.core.priors.Beta`.
    """
    prior = _check_rate_prior(prior)
    with pm.Model(coords={"arm": list(ARMS)}) as model:
        events = pm.Data("events", counts.events(), dims="arm")
        totals = pm.Data("totals", counts.totals(), dims="arm")
        p = prior.to_pymc("p", dims="arm")
        pm.Binomial("responders", n=totals, p=p, observed=events, dims="arm")
        pm.Deterministic("risk_difference", p[0] - p[1])
        log_or = pm.Deterministic(
            "log_odds_ratio", pm.math.logit(p[0]) - pm.math.logit(p[1])
        )
        pm.Deterministic("odds_ratio", pm.math.exp(log_or))
    return model


@lru_cache(maxsize=4)
def _cached_response_model(prior: Beta) -> pm.Model:
    """One model per prior, refitted via ``pm.set_data`` (compiled once by the sampler)."""
    return response_model(ResponseCounts(0, 1, 0, 1, label="placeholder"), prior)


@dataclass
class ResponseFit:
    """A fitted two-arm response model: posterior, diagnostics, summary rows, priors."""

    counts: ResponseCounts
    tree: xr.DataTree
    diagnostics: Diagnostics
    summary: pd.DataFrame
    priors: dict[str, Prior] = field(default_factory=dict)

    def probability_superior(self) -> float:
        """Posterior P(p_lu177 > p_control).

        Returns
        -------
        float
            Share of posterior draws with ``risk_difference > 0`` (a probability).
        """
        return float((self.tree.posterior["risk_difference"] > 0).mean())


def _two_arm_rows(post: xr.Dataset, *, analysis: str) -> list[dict]:
    """Summary rows of a posterior with ``p`` (dim ``arm``) and the contrast deterministics."""
    rows = [
        summarize_draws(post["p"].sel(arm=arm), quantity="response_rate", group=arm,
                        endpoint=ENDPOINT, analysis=analysis)
        for arm in ARMS
    ]
    for quantity in ("risk_difference", "odds_ratio"):
        rows.append(summarize_draws(post[quantity], quantity=quantity, group=CONTRAST,
                                    endpoint=ENDPOINT, analysis=analysis))
    rows.append(summarize_draws((post["risk_difference"] > 0).astype(float),
                                quantity="probability_risk_difference_positive", group=CONTRAST,
                                endpoint=ENDPOINT, analysis=analysis))
    return rows


def fit_response(
    counts: ResponseCounts,
    *,
    prior: Beta = DEFAULT_RATE_PRIOR,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: int = DEFAULT_SEED,
    target_accept: float = 0.8,
) -> ResponseFit:
    """Fit the two-arm binomial model to ``counts`` and summarise it.

    Parameters
    ----------
    counts
        Responders and patients per arm; ``counts.label`` becomes the ``analysis`` of the
        summary rows.
    prior
        Beta prior of each arm's response rate (default Beta(1, 1)), the same for both arms.
    draws, tune, chains, seed, target_accept
        Passed to :func:`prrt_bayes.core.sampling.sample`.

    Returns
    -------
    ResponseFit
        ``summary`` has rows ``response_rate`` per arm and ``risk_difference``, ``odds_ratio``,
        ``probability_risk_difference_positive`` for ``lu177_vs_control``; ``diagnostics`` are
        the ArviZ convergence checks of ``p`` (recorded, not enforced: an unconverged fit does
        not raise); the priors are in ``tree.posterior.attrs``.

    Raises
    ------
    InputError
        When ``prior`` is not a :class:`~prrt_bayes.core.priors.Beta`.
    """
    model = _cached_response_model(_check_rate_prior(prior))
    with model:
        pm.set_data({"events": counts.events(), "totals": counts.totals()})
    tree = sample(model, draws=draws, tune=tune, chains=chains, seed=seed,
                  target_accept=target_accept)
    priors = {"p[lu177]": prior, "p[control]": prior}
    attach_priors(tree, priors)
    diagnostics = check_diagnostics(tree, ["p"])
    rows = _two_arm_rows(tree.posterior.to_dataset(), analysis=counts.label)
    summary = summary_frame(rows, priors=describe_priors(priors))
    return ResponseFit(counts, tree, diagnostics, summary, priors)


def posterior_predictive_check(fit: ResponseFit, *, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Replicated responders per arm (one binomial draw per posterior draw) vs observed.

    Parameters
    ----------
    fit
        A fit from :func:`fit_response`; draws of all chains are pooled.
    seed
        Seed of the binomial replication.

    Returns
    -------
    pandas.DataFrame
        One row per arm (:data:`ARMS` order): ``arm``, ``observed``, ``total``,
        ``replicated_mean``, ``replicated_lower`` / ``replicated_upper`` (95% interval) and the
        posterior predictive tail probabilities ``p_replicated_ge_observed`` and
        ``p_replicated_le_observed``.
    """
    rng = np.random.default_rng(seed)
    p = fit.tree.posterior["p"]
    rows = []
    for arm, observed, total in zip(ARMS, fit.counts.events(), fit.counts.totals(), strict=True):
        draws = np.asarray(p.sel(arm=arm)).ravel()
        replicated = rng.binomial(total, draws)
        lower, upper = np.quantile(replicated, [0.025, 0.975])
        rows.append({
            "arm": arm, "observed": int(observed), "total": int(total),
            "replicated_mean": float(replicated.mean()),
            "replicated_lower": float(lower), "replicated_upper": float(upper),
            "p_replicated_ge_observed": float((replicated >= observed).mean()),
            "p_replicated_le_observed": float((replicated <= observed).mean()),
        })
    return pd.DataFrame(rows)


def prior_predictive_check(
    counts: ResponseCounts, *, prior: Beta = DEFAULT_RATE_PRIOR, draws: int = 2000,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Prior predictive responders per arm at the observed arm sizes.

    Parameters
    ----------
    counts
        Gives the arm sizes (the responders are not used).
    prior
        Beta prior of each arm's response rate (default Beta(1, 1)).
    draws
        Number of prior predictive draws.
    seed
        Random seed of :func:`pymc.sample_prior_predictive`.

    Returns
    -------
    pandas.DataFrame
        One row per arm (:data:`ARMS` order): ``arm``, ``total``, ``rate_mean``,
        ``rate_lower``, ``rate_upper`` (95% prior interval of the rate) and
        ``responders_mean``, ``responders_lower``, ``responders_upper`` (mean and 95% interval
        of the simulated responders).

    Raises
    ------
    InputError
        When ``prior`` is not a :class:`~prrt_bayes.core.priors.Beta`.
    """
    model = response_model(counts, prior)
    prior_tree = pm.sample_prior_predictive(draws=draws, model=model, random_seed=seed)
    rates = prior_tree.prior["p"]
    simulated = prior_tree.prior_predictive["responders"]
    rows = []
    for arm, total in zip(ARMS, counts.totals(), strict=True):
        r = np.asarray(rates.sel(arm=arm)).ravel()
        y = np.asarray(simulated.sel(arm=arm)).ravel()
        rows.append({
            "arm": arm, "total": int(total), "rate_mean": float(r.mean()),
            "rate_lower": float(np.quantile(r, 0.025)), "rate_upper": float(np.quantile(r, 0.975)),
            "responders_mean": float(y.mean()),
            "responders_lower": float(np.quantile(y, 0.025)),
            "responders_upper": float(np.quantile(y, 0.975)),
        })
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------- series selection
@dataclass(frozen=True)
class SeriesSelection:
    """Series cohorts kept for one endpoint, and every cohort left out with its reason.

    ``included``: columns ``study, population, level, overlap_group, quantity, events, total,
    note``. ``excluded``: columns ``study, reason``.
    """

    included: pd.DataFrame
    excluded: pd.DataFrame


_FLAG_REASONS = {
    "mixed_radionuclides": "mixed radionuclides (177Lu and 90Y): not a 177Lu-only cohort",
    "chemotherapy": "combined with chemotherapy: not 177Lu-DOTATATE alone",
    "retreatment": "re-treatment cohort",
}


def _study_count(records: pd.DataFrame, names: tuple[str, ...]):
    """Summed value, common denominator and unit of the quantities ``names``, or None."""
    rows = [records[(records["quantity"] == n) & records["primary"]] for n in names]
    if any(r.empty for r in rows):
        return None
    values = [float(r["value"].iloc[0]) for r in rows]
    denominators = {float(r["denominator"].iloc[0]) for r in rows}
    if len(denominators) > 1:
        raise InputError(f"{'+'.join(names)} have different denominators {sorted(denominators)}",
                         row=str(records["study"].iloc[0]), field="denominator")
    return sum(values), denominators.pop(), rows[0]["denominator_unit"].iloc[0]


def select_series_counts(
    quantities: Sequence[tuple[str, ...]],
    *,
    series=None,
    levels: Mapping[str, str] | None = None,
    require_patient_denominator: bool = True,
    exclude_non_recist: bool = False,
) -> SeriesSelection:
    """Apply the series rules to pick one count per cohort for an endpoint.

    Rules, in order (each exclusion is listed with its reason):

    1. the cohort must report the endpoint: the first entry of ``quantities`` it reports is used
       (an entry of several names is summed, e.g. ``("complete_responses",
       "partial_responses")``, and needs one common denominator);
    2. counts per administration cannot be pooled per patient (always excluded); with
       ``require_patient_denominator`` the unit must be ``patients``;
    3. count and denominator must be reported;
    4. 177Lu-only: cohorts with mixed radionuclides, chemotherapy or re-treatment are excluded;
    5. with ``levels``, the population must map to a covariate level (``unknown`` does not);
    6. response criteria other than RECIST (e.g. Ezziddin 2014, modified SWOG) are noted, and
       excluded when ``exclude_non_recist``;
    7. one cohort per overlap group: the largest (a superset such as Brabander 2017 over
       Kwekkeboom 2008 in Rotterdam) is kept.

    Parameters
    ----------
    quantities
        Series quantity names for the endpoint, in order of preference; each entry is a tuple
        of names summed together (rule 1).
    series
        A :class:`~prrt_bayes.evidence.SeriesEvidence` (default: the bundled series).
    levels
        Population -> covariate level (e.g. :data:`POPULATION_LEVELS`); ``None``: no level
        (the ``level`` column is empty and rule 5 does not apply).
    require_patient_denominator
        Keep only counts whose denominator unit is ``patients`` (rule 2).
    exclude_non_recist
        Exclude response counts under non-RECIST criteria instead of noting them (rule 6).

    Returns
    -------
    SeriesSelection
        ``included``: one row per kept cohort (int ``events`` and ``total``, ``quantity`` the
        ``+``-joined names used, ``note``); ``excluded``: every other cohort with its reason.

    Raises
    ------
    InputError
        When the summed quantities of a cohort have different denominators, or a kept count
        fails :func:`check_count`.
    """
    series = series or load_series()
    frame = series.frame()
    studies = series.studies_frame().set_index("id")
    wanted = [tuple(q) for q in quantities]
    kept, excluded = [], []
    for study, info in studies.iterrows():
        records = frame[frame["study"] == study]
        found = next(((q, c) for q in wanted if (c := _study_count(records, q)) is not None), None)
        if found is None:
            names = " or ".join("+".join(q) for q in wanted)
            excluded.append({"study": study, "reason": f"reports no {names}"})
            continue
        names, (value, denominator, unit) = "+".join(found[0]), found[1]
        if unit == "administrations" or (require_patient_denominator and unit != "patients"):
            stated = f"per {unit}" if unit else "not stated as patients"
            excluded.append({"study": study, "reason": f"{names}: denominator {stated}; only"
                             " patient denominators are pooled"})
            continue
        if np.isnan(value) or np.isnan(denominator):
            excluded.append({"study": study, "reason": f"{names}: count or denominator not"
                             " reported"})
            continue
        flags = [reason for flag, reason in _FLAG_REASONS.items() if bool(info[flag])]
        if flags:
            excluded.append({"study": study, "reason": "; ".join(flags)})
            continue
        level = None
        if levels is not None:
            level = levels.get(info["population"])
            if level is None:
                excluded.append({"study": study, "reason": f"population {info['population']!r}"
                                 " has no covariate level"})
                continue
        criteria = str(info.get("response_criteria") or "")
        note = f"sum of {' and '.join(found[0])} (distinct patients)" if len(found[0]) > 1 else ""
        if "response" in names and ("not RECIST" in criteria or "SWOG" in criteria):
            note = "; ".join(filter(None, [note, f"non-RECIST response criteria: {criteria}"]))
            if exclude_non_recist:
                excluded.append({"study": study, "reason": f"non-RECIST criteria: {criteria}"})
                continue
        events, total = check_count(value, denominator, what=f"series {study} {names}")
        kept.append({"study": study, "population": info["population"], "level": level,
                     "overlap_group": info["overlap_group"], "quantity": names,
                     "events": events, "total": total, "note": note})
    included = pd.DataFrame(kept, columns=["study", "population", "level", "overlap_group",
                                           "quantity", "events", "total", "note"])
    keep_rows = []
    for group, cohort in included.groupby("overlap_group", sort=False):
        largest = cohort.sort_values("total", ascending=False).iloc[0]
        keep_rows.append(largest.name)
        for _, other in cohort.drop(largest.name).iterrows():
            excluded.append({"study": other["study"], "reason": f"overlaps with"
                             f" {largest['study']} (overlap group {group!r}); the larger cohort"
                             " is kept"})
    included = included.loc[sorted(keep_rows)].reset_index(drop=True)
    return SeriesSelection(included, pd.DataFrame(excluded, columns=["study", "reason"]))


# ------------------------------------------------------------ borrowing from the series
RESPONSE_QUANTITIES: tuple[tuple[str, ...], ...] = (
    ("objective_responses",),
    ("complete_responses", "partial_responses"),
)
"""Series quantities for objective response: the reported count, else CR + PR."""


def series_response_counts(
    *, series=None, levels: Mapping[str, str] = POPULATION_LEVELS,
    exclude_non_recist: bool = False,
) -> SeriesSelection:
    """Series cohorts for objective response after the rules of :func:`select_series_counts`.

    The count is ``objective_responses``, else complete + partial responses
    (:data:`RESPONSE_QUANTITIES`); denominators other than patients are accepted unless they
    count administrations.

    Parameters
    ----------
    series
        A :class:`~prrt_bayes.evidence.SeriesEvidence` (default: the bundled series).
    levels
        Population -> covariate level (default :data:`POPULATION_LEVELS`); cohorts whose
        population has no level are excluded.
    exclude_non_recist
        Exclude cohorts assessed with non-RECIST criteria instead of noting them.

    Returns
    -------
    SeriesSelection
        Cohorts used (with their ``level``) and cohorts excluded with reasons.
    """
    return select_series_counts(RESPONSE_QUANTITIES, series=series, levels=levels,
                                require_patient_denominator=False,
                                exclude_non_recist=exclude_non_recist)


@dataclass(frozen=True)
class SeriesMapPriors:
    """Priors of the covariate MAP model (module docstring), on the logit scale."""

    alpha: Prior = Normal(0.0, 2.0)
    beta: Prior = Normal(0.0, 1.0)
    tau: Prior = HalfNormal(1.0)

    def as_dict(self) -> dict[str, Prior]:
        """``{parameter: prior}``.

        Returns
        -------
        dict[str, Prior]
            A new dict with keys ``alpha``, ``beta`` and ``tau``.
        """
        return {"alpha": self.alpha, "beta": self.beta, "tau": self.tau}


def _map_structure(included: pd.DataFrame, target_level: str):
    """Study names, other levels and the study x other-level indicator matrix."""
    if included.empty:
        raise InputError("no series cohort left for the MAP prior")
    if target_level not in set(included["level"]):
        raise InputError(f"no series cohort in the target's population level {target_level!r};"
                         " map it to a level with data (see POPULATION_LEVELS)",
                         field="target_level")
    others = sorted(set(included["level"]) - {target_level})
    x = np.array([[float(level == o) for o in others] for level in included["level"]])
    return tuple(included["study"]), tuple(others), x.reshape(len(included), len(others))


def series_map_model(
    included: pd.DataFrame, *, target_level: str = "gep",
    priors: SeriesMapPriors = SeriesMapPriors(),
) -> pm.Model:
    """Binomial-logit MAP model with population level as covariate (module docstring).

    Parameters
    ----------
    included
        Cohorts with columns ``study``, ``level``, ``events``, ``total`` (e.g.
        ``series_response_counts().included``).
    target_level
        Level of the target population: ``alpha`` is its log-odds and the predictive ``p_new``
        is for a new study in it; every other level present gets an offset ``beta``.
    priors
        :class:`SeriesMapPriors` of ``alpha``, ``beta`` and ``tau`` (logit scale).

    Returns
    -------
    pymc.Model
        A new model with coords ``study`` and ``offset_level``: free ``alpha``, ``tau``, ``z``,
        ``beta`` (only with other levels), ``z_new``; observed ``responders``; deterministics
        ``theta``, ``target_rate`` (inverse logit of ``alpha``), ``level_rate`` (per other
        level) and ``p_new``.

    Raises
    ------
    InputError
        When ``included`` is empty, has no cohort in ``target_level``, or has an invalid count.
    """
    studies, others, x = _map_structure(included, target_level)
    for row in included.itertuples():
        check_count(row.events, row.total, what=f"series {row.study}")
    with pm.Model(coords={"study": list(studies), "offset_level": list(others)}) as model:
        events = pm.Data("events", included["events"].to_numpy(int), dims="study")
        totals = pm.Data("totals", included["total"].to_numpy(int), dims="study")
        alpha = priors.alpha.to_pymc("alpha")
        tau = priors.tau.to_pymc("tau")
        z = pm.Normal("z", 0.0, 1.0, dims="study")
        linear = alpha + tau * z
        if others:
            beta = priors.beta.to_pymc("beta", dims="offset_level")
            linear = linear + pm.math.dot(x, beta)
            pm.Deterministic("level_rate", pm.math.invlogit(alpha + beta), dims="offset_level")
        theta = pm.Deterministic("theta", linear, dims="study")
        pm.Binomial("responders", n=totals, logit_p=theta, observed=events, dims="study")
        pm.Deterministic("target_rate", pm.math.invlogit(alpha))
        z_new = pm.Normal("z_new", 0.0, 1.0)
        pm.Deterministic("p_new", pm.math.invlogit(alpha + tau * z_new))
    return model


@lru_cache(maxsize=4)
def _cached_map_model(structure: tuple, target_level: str, priors: SeriesMapPriors):
    studies, levels = structure
    placeholder = pd.DataFrame({"study": list(studies), "level": list(levels),
                                "events": 0, "total": 1})
    return series_map_model(placeholder, target_level=target_level, priors=priors)


@dataclass
class SeriesMapFit:
    """Covariate MAP model fit: cohorts used/excluded, posterior, diagnostics, mixture prior."""

    selection: SeriesSelection
    target_level: str
    tree: xr.DataTree
    diagnostics: Diagnostics
    summary: pd.DataFrame
    mixture: BetaMixture
    priors: dict[str, Prior] = field(default_factory=dict)


def fit_series_response_map(
    selection: SeriesSelection | None = None,
    *,
    target_level: str = "gep",
    priors: SeriesMapPriors = SeriesMapPriors(),
    draws: int = 2000,
    tune: int = 2000,
    chains: int = 2,
    seed: int = DEFAULT_SEED,
    target_accept: float = 0.99,
) -> SeriesMapFit:
    """Fit the covariate MAP model to the series and fit a beta mixture to ``p_new``.

    Parameters
    ----------
    selection
        Cohorts to pool (default: :func:`series_response_counts` of the bundled series).
    target_level
        Population level of the target (NETTER-1 midgut -> ``"gep"``); see
        :func:`series_map_model`.
    priors
        :class:`SeriesMapPriors` (logit scale).
    draws, tune, chains, seed, target_accept
        Passed to :func:`prrt_bayes.core.sampling.sample`; the high ``target_accept`` avoids
        divergences in the hierarchical model with few cohorts.

    Returns
    -------
    SeriesMapFit
        ``summary``: ``response_rate`` rows (group ``lu177``) for the predictive ``p_new``
        (analysis ``series_map_predictive``) and the pooled rate per level
        (``series_map_pooled_<level>``); ``mixture``: a
        :class:`~prrt_bayes.borrowing.mixtures.BetaMixture` fitted by EM (1-3 components, AIC)
        to the ``p_new`` draws: the MAP prior for NETTER-1's 177Lu arm. Diagnostics are
        recorded, not enforced.

    Raises
    ------
    InputError
        When the selection is empty or has no cohort in ``target_level``.
    """
    selection = selection or series_response_counts()
    included = selection.included
    _map_structure(included, target_level)
    model = _cached_map_model((tuple(included["study"]), tuple(included["level"])),
                              target_level, priors)
    with model:
        pm.set_data({"events": included["events"].to_numpy(int),
                     "totals": included["total"].to_numpy(int)})
    tree = sample(model, draws=draws, tune=tune, chains=chains, seed=seed,
                  target_accept=target_accept)
    prior_map = priors.as_dict()
    attach_priors(tree, prior_map)
    post = tree.posterior
    checked = [v for v in ("alpha", "beta", "tau", "theta", "p_new") if v in post]
    diagnostics = check_diagnostics(tree, checked)
    rows = [summarize_draws(post["p_new"], quantity="response_rate", group="lu177",
                            endpoint=ENDPOINT, analysis="series_map_predictive"),
            summarize_draws(post["target_rate"], quantity="response_rate", group="lu177",
                            endpoint=ENDPOINT, analysis=f"series_map_pooled_{target_level}")]
    if "level_rate" in post:
        for level in post["level_rate"].coords["offset_level"].values:
            rows.append(summarize_draws(post["level_rate"].sel(offset_level=level),
                                        quantity="response_rate", group="lu177",
                                        endpoint=ENDPOINT, analysis=f"series_map_pooled_{level}"))
    summary = summary_frame(rows, priors=describe_priors(prior_map))
    mixture = fit_mixture_auto(np.asarray(post["p_new"]).ravel(), "beta", 3)
    return SeriesMapFit(selection, target_level, tree, diagnostics, summary, mixture, prior_map)


@dataclass
class BorrowingComparison:
    """What each borrowing method does with NETTER-1's 177Lu-arm response.

    ``table``: one row per method with the prior (mean, 95% interval, ESS by ELIR and moments),
    the prior-data conflict p-values (``conflict_p_box``, ``conflict_p_tail``: how surprising
    NETTER-1's responders are under the prior), the posterior of the 177Lu rate (mean, median,
    95% CrI), the posterior weight of the informative part (robust priors), and the posterior
    risk difference vs control and P(RD > 0). ``summary``: the same posteriors as summary rows
    (analysis ``borrowing_<method>``). ``map_fit``: the covariate MAP fit behind ``map``.
    ``priors`` / ``posteriors``: method -> prior and exact posterior (beta mixtures) of the
    177Lu response rate.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    map_fit: SeriesMapFit
    notes: tuple[str, ...]
    posteriors: dict[str, BetaMixture] = field(default_factory=dict)
    priors: dict[str, BetaMixture] = field(default_factory=dict)


def _ess_or_nan(mix: BetaMixture, method: str) -> float:
    """ESS of ``mix`` by ``method``; NaN where undefined (ELIR needs every a, b >= 1)."""
    try:
        return float(ess(mix, method))
    except InputError:
        return float("nan")


def borrowing_comparison(
    counts: ResponseCounts | None = None,
    *,
    map_fit: SeriesMapFit | None = None,
    robust_weight: float = 0.2,
    a0: float = 0.5,
    commensurate_tau: float = 0.5,
    n_draws: int = 20_000,
    seed: int = DEFAULT_SEED,
) -> BorrowingComparison:
    """Posterior of the 177Lu-arm response rate under each borrowing method, with conflict.

    Methods (priors for the 177Lu rate; the control arm always has Beta(1, 1)):

    * ``none``: Beta(1, 1);
    * ``map``: the covariate MAP prior (:func:`fit_series_response_map`); ``robust_map``: the
      same mixed with Beta(1, 1) at weight ``robust_weight``;
    * ``map_exchangeable`` / ``robust_map_exchangeable``: MAP from all included series ignoring
      population (exact quadrature, :func:`prrt_bayes.borrowing.map_prior_counts`);
    * ``power_prior`` (fixed ``a0``), ``commensurate`` (fixed logit-scale ``commensurate_tau``)
      and ``full_pooling``: from the series in the target's population level only.

    Every prior is a beta mixture, so posteriors are exact conjugate updates; risk differences
    use ``n_draws`` Monte Carlo draws (seeded).

    Parameters
    ----------
    counts
        NETTER-1 counts to update with (default: ``netter1_response("evaluable")``, 18/101 vs
        3/100).
    map_fit
        Covariate MAP fit (default: :func:`fit_series_response_map` with its defaults, which
        runs MCMC); its selection and target level also define the series used by the other
        methods.
    robust_weight
        Weight of the Beta(1, 1) component in the robust priors, in [0, 1].
    a0
        Fixed power-prior discount, in [0, 1] (0: no borrowing, 1: full pooling).
    commensurate_tau
        Fixed between-source SD of the commensurate prior, logit scale (>= 0).
    n_draws
        Monte Carlo draws per method for the risk differences (the commensurate prior's
        mixture is fitted to its own default number of draws).
    seed
        Seed of the Monte Carlo draws, the exchangeable MAP prior and the commensurate prior.

    Returns
    -------
    BorrowingComparison
        ``table`` (one row per method), ``summary`` rows, the ``map_fit`` used, ``notes``
        (counts, settings, cohort notes and exclusions) and per-method ``priors`` and
        ``posteriors`` of the 177Lu response rate.

    Raises
    ------
    InputError
        When ``robust_weight`` or ``a0`` is outside [0, 1] or ``commensurate_tau`` is negative
        or not finite.
    """
    counts = counts or netter1_response("evaluable")
    map_fit = map_fit or fit_series_response_map()
    included = map_fit.selection.included
    same_level = included[included["level"] == map_fit.target_level]
    r_all, n_all = included["events"].to_numpy(), included["total"].to_numpy()
    r_lvl, n_lvl = same_level["events"].to_numpy(), same_level["total"].to_numpy()
    exchangeable = map_prior_counts(r_all, n_all, seed=seed)
    priors = {
        "none": no_borrowing_beta(),
        "map": map_fit.mixture,
        "robust_map": map_fit.mixture.robustify(robust_weight),
        "map_exchangeable": exchangeable,
        "robust_map_exchangeable": exchangeable.robustify(robust_weight),
        "power_prior": power_prior_beta(r_lvl, n_lvl, a0),
        "commensurate": commensurate_prior_beta(r_lvl, n_lvl, commensurate_tau, seed=seed),
        "full_pooling": full_pooling_beta(r_lvl, n_lvl),
    }
    rng = np.random.default_rng(seed)
    control = no_borrowing_beta().posterior(counts.control_events, counts.control_total)
    control_draws = control.sample(n_draws, rng)
    rows, summary_rows, posteriors = [], [], {}
    for method, prior in priors.items():
        post = prior.posterior(counts.lu177_events, counts.lu177_total)
        posteriors[method] = post
        conflict = conflict_beta(prior, counts.lu177_events, counts.lu177_total)
        robust = method.startswith("robust")
        draws = post.sample(n_draws, rng)
        rd = draws - control_draws
        rows.append({
            "method": method,
            "prior_mean": prior.mean(), "prior_lower": prior.quantile(0.025),
            "prior_upper": prior.quantile(0.975),
            "ess_elir": _ess_or_nan(prior, "elir"), "ess_moment": _ess_or_nan(prior, "moment"),
            "conflict_p_box": conflict.p_box, "conflict_p_tail": conflict.p_tail,
            "posterior_mean": post.mean(), "posterior_median": post.quantile(0.5),
            "posterior_lower": post.quantile(0.025), "posterior_upper": post.quantile(0.975),
            "prior_informative_weight": 1 - robust_weight if robust else np.nan,
            "posterior_informative_weight": 1 - post.weights[-1] if robust else np.nan,
            "rd_mean": float(rd.mean()), "rd_lower": float(np.quantile(rd, 0.025)),
            "rd_upper": float(np.quantile(rd, 0.975)),
            "probability_rd_positive": float((rd > 0).mean()),
        })
        analysis = f"borrowing_{method}"
        summary_rows += [
            summarize_draws(draws, quantity="response_rate", group="lu177", endpoint=ENDPOINT,
                            analysis=analysis),
            summarize_draws(rd, quantity="risk_difference", group=CONTRAST, endpoint=ENDPOINT,
                            analysis=analysis),
            summarize_draws((rd > 0).astype(float),
                            quantity="probability_risk_difference_positive", group=CONTRAST,
                            endpoint=ENDPOINT, analysis=analysis),
        ]
    notes = (
        f"NETTER-1 {counts.label}: {counts.lu177_events}/{counts.lu177_total} responders"
        f" (177Lu) vs {counts.control_events}/{counts.control_total} (control)",
        f"map / robust_map: population covariate, target level {map_fit.target_level!r}"
        f" (NETTER-1 midgut); robust weight {robust_weight:g}",
        f"power_prior (a0={a0:g}), commensurate (tau={commensurate_tau:g}) and full_pooling use"
        f" the {len(same_level)} series in level {map_fit.target_level!r}:"
        f" {', '.join(same_level['study'])}",
        *(f"{row.study}: {row.note}" for row in included.itertuples() if row.note),
        *(f"excluded {row.study}: {row.reason}" for row in map_fit.selection.excluded.itertuples()),
    )
    return BorrowingComparison(pd.DataFrame(rows), summary_frame(summary_rows), map_fit, notes,
                               posteriors, priors)
