"""Long-term haematological risk of 177Lu-Dotatate pooled from the series and NETTER-1 final.

Series counts with patient denominators (series rules of
:func:`~prrt_bayes.evidence.series_rules.select_series_counts`, plus NETTER-1 final, MDS 2/111,
for ``mds``) are pooled by the binomial-logit MAP model of
:mod:`prrt_bayes.borrowing.binomial_map` (:func:`long_term_model`), non-centred::

    r_i | theta_i ~ Binomial(n_i, logit^-1(theta_i))
    theta_i       = mu + tau z_i,   z_i ~ Normal(0, 1)
    mu            ~ Normal(0, 2)       (logit scale; a Normal prior)
    tau           ~ HalfNormal(1)      (between-cohort SD; HalfNormal or HalfCauchy)
    theta_new     = mu + tau z_new,     p_new = logit^-1(theta_new)

(defaults :data:`LONG_TERM_PRIORS`). The pooled risk ``logit^-1(mu)`` and the predictive risk
``p_new`` of a new cohort are the posterior probabilities per patient.

Summary rows use ``endpoint`` = the risk (``mds``, ``haematological_grade34``,
``mds_or_acute_leukaemia``), quantity ``ae_probability``, ``group="lu177"`` and ``analysis``
``long_term_map_pooled`` (``logit^-1(mu)``) or ``long_term_map_predictive`` (``p_new``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from prrt_bayes.borrowing.binomial_map import binomial_map_model
from prrt_bayes.core import fit as core_fit
from prrt_bayes.core.diagnostics import Diagnostics
from prrt_bayes.core.errors import InputError
from prrt_bayes.core.fit import BayesianModel
from prrt_bayes.core.priors import HalfCauchy, HalfNormal, Normal, Prior, describe_priors
from prrt_bayes.core.sampling import SamplerSettings
from prrt_bayes.core.summary import summarize_draws, summary_frame
from prrt_bayes.core.vocabulary import Arm, Quantity
from prrt_bayes.evidence import load_netter1
from prrt_bayes.evidence.series_rules import SeriesSelection, check_count, select_series_counts

LONG_TERM_ENDPOINTS: dict[str, list[tuple[str, ...]]] = {
    "haematological_grade34": [("haematological_grade34",)],
    "mds": [("mds_cases",)],
    "mds_or_acute_leukaemia": [("mds_or_aml_cases",), ("mds_cases", "acute_leukaemia_cases")],
}
"""Long-term risk -> series quantities (first one reported is used; a tuple is summed)."""

NETTER1_LONG_TERM: dict[str, tuple[str, str, str]] = {
    "mds": ("final_2021", "mds_cases", Arm.LU177.value),
}
"""Long-term risk -> the NETTER-1 record (cut, quantity, arm) added to the series."""


def long_term_counts(endpoint: str, *, series=None, netter1=None) -> SeriesSelection:
    """Cohorts pooled for a long-term risk: series rules plus NETTER-1 final where it reports.

    The series rules of :func:`~prrt_bayes.evidence.series_rules.select_series_counts` apply
    with patient denominators only; NETTER-1's 177Lu arm (final 2021 cut, MDS 2/111) is added
    for ``mds``.

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


LONG_TERM_PRIORS: dict[str, Prior] = {"mu": Normal(0.0, 2.0), "tau": HalfNormal(1.0)}
"""Default priors of the long-term MAP model (logit scale)."""

_ALLOWED = {"mu": (Normal,), "tau": (HalfNormal, HalfCauchy)}


def long_term_priors(priors: Mapping[str, Prior] | None = None) -> dict[str, Prior]:
    """The long-term model's priors: ``priors`` over the defaults :data:`LONG_TERM_PRIORS`.

    Parameters
    ----------
    priors
        ``{parameter: Prior}`` for ``mu`` (a :class:`~prrt_bayes.core.priors.Normal`) and/or
        ``tau`` (a :class:`~prrt_bayes.core.priors.HalfNormal` or
        :class:`~prrt_bayes.core.priors.HalfCauchy`); ``None``: the defaults.

    Returns
    -------
    dict[str, Prior]
        A new dict ``{"mu": ..., "tau": ...}``.

    Raises
    ------
    InputError
        When ``priors`` names another parameter or gives a prior of another family.
    """
    priors = dict(priors or {})
    unknown = sorted(set(priors) - set(LONG_TERM_PRIORS))
    if unknown:
        raise InputError(f"the long-term MAP model has no parameter {unknown[0]!r}; its priors"
                         f" are {', '.join(LONG_TERM_PRIORS)}", field="priors")
    out = {name: priors.get(name, default) for name, default in LONG_TERM_PRIORS.items()}
    for name, prior in out.items():
        if not isinstance(prior, _ALLOWED[name]):
            allowed = " or ".join(cls.__name__ for cls in _ALLOWED[name])
            raise InputError(f"the {name} prior must be {allowed}, got {prior.describe()}",
                             field=name)
    return out


def long_term_model(
    used: pd.DataFrame, priors: Mapping[str, Prior] | None = None
) -> pm.Model:
    """The binomial-logit MAP model of the module docstring, non-centred.

    :func:`prrt_bayes.borrowing.binomial_map.binomial_map_model` on the cohorts, with the
    long-term priors checked by :func:`long_term_priors`.

    Parameters
    ----------
    used
        Cohorts with columns ``study``, ``events``, ``total`` (e.g.
        ``long_term_counts("mds").included``), at least 2.
    priors
        Priors of ``mu`` and ``tau`` over the defaults (:func:`long_term_priors`).

    Returns
    -------
    pymc.Model
        A new model with coords ``study``: ``pm.Data`` ``r`` and ``n``; free ``mu``, ``tau``,
        ``z`` (dim ``study``) and ``z_new``; deterministics ``theta``, ``theta_new`` and
        ``p_new``; observed ``r_obs``.

    Raises
    ------
    InputError
        When fewer than 2 cohorts are given, a count is invalid or the priors are not those of
        the model.
    """
    priors = long_term_priors(priors)
    if len(used) < 2:
        raise InputError(f"{len(used)} cohort(s): the MAP model needs at least 2", field="used")
    for row in used.itertuples():
        check_count(row.events, row.total, what=f"cohort {row.study}")
    return binomial_map_model(used["events"].to_numpy(int), used["total"].to_numpy(int),
                              tau_prior=priors["tau"], mu_prior=priors["mu"],
                              study_names=list(used["study"]))


class LongTermRiskModel(BayesianModel):
    """The long-term MAP model (:func:`long_term_model`) for :func:`~prrt_bayes.core.fit.fit`.

    Its structure is the cohort names and the priors; the graph is built on placeholder counts
    and :meth:`data` fills ``r`` and ``n`` (cases and patients per cohort, in cohort order).

    Parameters
    ----------
    used
        Cohorts with columns ``study``, ``events``, ``total``, at least 2.
    priors
        Priors of ``mu`` and ``tau`` over the defaults :data:`LONG_TERM_PRIORS`.

    Raises
    ------
    InputError
        When the priors are not those of the model.
    """

    what = "long-term MAP model"
    gate_vars = ("mu", "tau", "theta", "p_new")
    # fitted once per analysis: PyTensor's disk-cached C compile (about 0.5 s) beats numba's
    # per-process compile (5-10 s) although it samples slower (benchmarks/README.md)
    preferred_backend = "nutpie-c"

    def __init__(self, used: pd.DataFrame, priors: Mapping[str, Prior] | None) -> None:
        self.used = used
        self.prior_map = long_term_priors(priors)

    def structure(self) -> Hashable:
        return (tuple(self.used["study"]), tuple(self.prior_map.items()))

    def build(self) -> pm.Model:
        placeholder = pd.DataFrame({"study": list(self.used["study"]), "events": 0, "total": 1})
        return long_term_model(placeholder, self.prior_map)

    def data(self) -> Mapping[str, np.ndarray]:
        return {"r": self.used["events"].to_numpy(int), "n": self.used["total"].to_numpy(int)}

    def priors(self) -> Mapping[str, Prior]:
        return dict(self.prior_map)


@dataclass
class LongTermFit:
    """Pooled long-term risk: cohorts used and excluded, posterior, diagnostics, summary."""

    endpoint: str
    selection: SeriesSelection
    tree: xr.DataTree
    diagnostics: Diagnostics
    summary: pd.DataFrame
    priors: dict[str, Prior] = field(default_factory=dict)


def fit_long_term_risk(
    endpoint: str,
    settings: SamplerSettings,
    *,
    priors: Mapping[str, Prior] | None = None,
    series=None,
    netter1=None,
) -> LongTermFit:
    """Pool a long-term haematological risk of 177Lu-Dotatate by the binomial MAP model.

    Parameters
    ----------
    endpoint
        ``"mds"`` (series + NETTER-1 final), ``"mds_or_acute_leukaemia"`` or
        ``"haematological_grade34"`` (series only).
    settings
        Sampler settings of the fit (a high ``target_accept``, e.g. 0.99, suits this
        hierarchical model with few cohorts).
    priors
        Priors of ``mu`` (Normal) and ``tau`` (HalfNormal or HalfCauchy) over the defaults
        :data:`LONG_TERM_PRIORS` (from a ``family:params`` string such as ``"halfnormal:1"``
        with :func:`prrt_bayes.core.priors.parse_prior`).
    series, netter1
        Evidence to use instead of the bundled series and NETTER-1 (see
        :func:`long_term_counts`).

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
        When a prior is of another family or names an unknown parameter, ``endpoint`` is
        unknown, or fewer than 2 cohorts remain.
    """
    model_priors = long_term_priors(priors)
    selection = long_term_counts(endpoint, series=series, netter1=netter1)
    used = selection.included
    if len(used) < 2:
        raise InputError(f"{endpoint}: {len(used)} cohort(s) left after the series rules; the"
                         " MAP model needs at least 2", field="endpoint")
    result = core_fit.fit(LongTermRiskModel(used, model_priors), settings)
    post = result.tree.posterior
    pooled = 1.0 / (1.0 + np.exp(-post["mu"]))
    rows = [
        summarize_draws(draws, quantity=Quantity.AE_PROBABILITY, group=Arm.LU177,
                        endpoint=endpoint, analysis=analysis)
        for analysis, draws in (("long_term_map_pooled", pooled),
                                ("long_term_map_predictive", post["p_new"]))
    ]
    summary = summary_frame(rows, priors=describe_priors(model_priors))
    return LongTermFit(endpoint, selection, result.tree, result.diagnostics, summary,
                       model_priors)
