"""The series rules: which single-arm cohort count is pooled for an endpoint, and why not.

One place holds the rules that pick a count per published 177Lu-DOTATATE series for an endpoint
(objective response for the response MAP prior, MDS and other long-term risks for the toxicity
analysis): :func:`select_series_counts` applies them and lists every cohort left out with its
reason (:class:`SeriesSelection`); :func:`check_count` validates one ``events / total`` pair;
:data:`POPULATION_LEVELS` maps series populations to covariate levels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prrt_bayes.core.errors import InputError
from prrt_bayes.evidence.loaders import load_series

POPULATION_LEVELS: dict[str, str] = {
    "midgut": "gep",
    "gep": "gep",
    "mixed": "gep",
    "pancreatic": "pancreatic",
}
"""Series population -> covariate level. ``unknown`` populations are excluded (no level).

No bundled series is midgut-only: midgut (NETTER-1) is predicted from the ``gep`` level, which
holds the GEP-NET and the mostly GEP-NET mixed cohorts; pancreatic NET is its own level."""


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
            raise InputError(f"{what}: {name} must be a whole number, got {value}", field=name)
    events, total = int(events), int(total)
    if events < 0 or total < 0:
        raise InputError(f"{what}: negative count ({events}/{total})", field="events")
    if total == 0:
        raise InputError(f"{what}: total must be > 0", field="total")
    if events > total:
        raise InputError(f"{what}: events {events} > total {total}", field="events")
    return events, total


@dataclass(frozen=True)
class SeriesSelection:
    """Series cohorts kept for one endpoint, and every cohort left out with its reason.

    ``included``: columns ``study, population, level, overlap_group, quantity, events, total,
    note``. ``excluded``: columns ``study, reason``.
    """

    included: pd.DataFrame
    excluded: pd.DataFrame


REGIMEN_FLAGS = {
    "mixed_radionuclides": "mixed radionuclides (177Lu and 90Y): not a 177Lu-only cohort",
    "chemotherapy": "combined with chemotherapy: not 177Lu-DOTATATE alone",
    "retreatment": "re-treatment cohort",
    "non_standard_dose": "non-standard activity (well below NETTER-1's 4 x 7.4 GBq): not the "
                         "regimen of the trial",
}
"""Study flags that exclude a cohort from every borrowing route, with the reason given: the
regimen decides, never the outcome (a cohort is not left out for its result)."""


def regimen_exclusion(study) -> str | None:
    """Why a cohort's regimen excludes it from borrowing, or ``None`` when it qualifies.

    Parameters
    ----------
    study
        A :class:`~prrt_bayes.evidence.schema.Study` (or a row with its flags).

    Returns
    -------
    str or None
        The reasons of :data:`REGIMEN_FLAGS` that apply, joined by ``"; "``.
    """
    get = study.get if hasattr(study, "get") else lambda name: getattr(study, name)
    reasons = [reason for flag, reason in REGIMEN_FLAGS.items() if bool(get(flag))]
    return "; ".join(reasons) or None


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
        reason = regimen_exclusion(info)
        if reason:
            excluded.append({"study": study, "reason": reason})
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
