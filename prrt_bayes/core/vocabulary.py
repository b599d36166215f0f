"""The names every output uses: analysis kinds, endpoints, arms and reported quantities.

One module holds the vocabulary of ``summary.csv`` (columns ``analysis, endpoint, quantity,
group, ...``), the PSA files, the report and the CLI, so a name is written once. The enums are
``StrEnum``: a member *is* its string (``Arm.LU177 == "lu177"``), so it can be written to a CSV,
used as an xarray coordinate or compared with a string read back from a file.

Quantities that carry a time are built by functions (``survival_probability(12)`` ->
``"survival_probability_12m"``), so the format of the time is fixed here too.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Kind(StrEnum):
    """Analysis kinds (the ``kind`` of a spec)."""

    SURVIVAL = "survival"
    RESPONSE = "response"
    TOXICITY = "toxicity"


class Endpoint(StrEnum):
    """Endpoints (the ``endpoint`` column; an adverse-event row carries its event key instead)."""

    PFS = "pfs"
    OS = "os"
    RESPONSE = "response"
    ADVERSE_EVENTS = "adverse_events"
    PARTITIONED_SURVIVAL = "partitioned_survival"


class Arm(StrEnum):
    """The NETTER-1 arms: 177Lu-Dotatate (plus long-acting octreotide) and high-dose octreotide."""

    LU177 = "lu177"
    CONTROL = "control"


ARMS: tuple[str, str] = (Arm.LU177.value, Arm.CONTROL.value)
"""The two NETTER-1 arms in the order models index them (treatment first)."""

ARM_LABELS: dict[str, str] = {Arm.LU177: "177Lu-Dotatate", Arm.CONTROL: "control"}
"""Arm -> the label printed in plots and the report."""

ENDPOINT_LABELS: dict[str, str] = {Endpoint.PFS: "Progression-free survival",
                                   Endpoint.OS: "Overall survival"}
"""Survival endpoint -> the label printed in plots and the report."""


def contrast(treatment: str = Arm.LU177, control: str = Arm.CONTROL) -> str:
    """The group label of a two-arm contrast, e.g. ``"lu177_vs_control"``.

    Parameters
    ----------
    treatment, control
        Arm labels (a user's IPD may name its treatment arm otherwise).

    Returns
    -------
    str
        ``"<treatment>_vs_<control>"``.
    """
    return f"{treatment}_vs_{control}"


LU177_VS_CONTROL = contrast()
"""The NETTER-1 contrast: 177Lu-Dotatate vs control."""


class Quantity(StrEnum):
    """Reported quantities without a time in their name."""

    HAZARD_RATIO = "hazard_ratio"
    EXCESS_HAZARD_RATIO = "excess_hazard_ratio"
    """Ratio of the excess (over general-population) hazards, 177Lu-Dotatate vs control, in a
    relative-survival model (:mod:`prrt_bayes.survival.flexible` with a life table)."""
    HAZARD_RATIO_WITHOUT_BORROWING = "hazard_ratio_without_borrowing"
    TIME_RATIO = "time_ratio"
    PROBABILITY_HR_INCREASES = "probability_hr_increases"
    MEDIAN_SURVIVAL = "median_survival_months"
    MEDIAN_SURVIVAL_WITHOUT_BORROWING = "median_survival_months_without_borrowing"
    MEAN_SURVIVAL = "mean_survival_months"
    MEAN_SURVIVAL_DIFFERENCE = "mean_survival_difference_months"
    RMST_FOLLOW_UP = "rmst_follow_up_months"
    """RMST at the end of the trial's follow-up (observed, not extrapolated)."""
    RESPONSE_RATE = "response_rate"
    RESPONSE_RATE_WITHOUT_BORROWING = "response_rate_without_borrowing"
    RISK_DIFFERENCE = "risk_difference"
    ODDS_RATIO = "odds_ratio"
    PROBABILITY_RISK_DIFFERENCE_POSITIVE = "probability_risk_difference_positive"
    PROBABILITY_NO_DIFFERENCE = "probability_no_difference"
    """Posterior probability that an adverse event does not differ between the arms (the
    point mass of the Berry & Berry model, :mod:`prrt_bayes.toxicity.adverse_events`)."""
    AE_PROBABILITY = "ae_probability"


POSTERIOR_PROBABILITIES = frozenset({Quantity.PROBABILITY_HR_INCREASES,
                                     Quantity.PROBABILITY_RISK_DIFFERENCE_POSITIVE,
                                     Quantity.PROBABILITY_NO_DIFFERENCE})
"""Quantities reported as one posterior probability, the mean of their draws (0/1 indicators,
whose median and interval, 0 or 1, say nothing; and the per-draw conditional probability of no
difference): their summary rows leave ``sd``, ``median``, ``lower`` and ``upper`` empty."""

LIFE_YEAR_QUANTITIES: tuple[str, ...] = ("life_years", "progression_free_life_years")
"""Quantities of the partitioned-survival life-years (:mod:`prrt_bayes.outputs.hta`)."""


def _months(t: float) -> str:
    return f"{t:g}m"


def survival_probability(t: float) -> str:
    """``"survival_probability_<t>m"``: S(t) at a landmark ``t`` months.

    Parameters
    ----------
    t
        Landmark in months.

    Returns
    -------
    str
        The quantity name, ``t`` formatted with ``:g``.
    """
    return f"survival_probability_{_months(t)}"


def rmst(t: float) -> str:
    """``"rmst_<t>m"``: restricted mean survival time up to ``t`` months.

    Parameters
    ----------
    t
        Restriction time in months.

    Returns
    -------
    str
        The quantity name.
    """
    return f"rmst_{_months(t)}"


def rmst_difference(t: float) -> str:
    """``"rmst_difference_<t>m"``: RMST of the treatment arm minus the control's, up to ``t``.

    Parameters
    ----------
    t
        Restriction time in months.

    Returns
    -------
    str
        The quantity name.
    """
    return f"rmst_difference_{_months(t)}"


def period_hazard_ratio(start: float, end: float) -> str:
    """``"hazard_ratio_<a>-<b>m"`` (or ``"hazard_ratio_<a>m_plus"`` for an open last period).

    Parameters
    ----------
    start, end
        Period limits in months; ``end`` infinite for the last, open period.

    Returns
    -------
    str
        The quantity name of a non-PH model's period hazard ratio.
    """
    if end == float("inf"):
        return f"hazard_ratio_{start:g}m_plus"
    return f"hazard_ratio_{start:g}-{end:g}m"


def cumulative_incidence(t: float) -> str:
    """``"cumulative_incidence_<t>m"``: probability of the event by ``t`` months.

    Parameters
    ----------
    t
        Horizon in months.

    Returns
    -------
    str
        The quantity name, ``t`` formatted with ``:g``.
    """
    return f"cumulative_incidence_{_months(t)}"


def event_slug(name: str) -> str:
    """An adverse event's name as the stem of its key: lower case, each run of characters other
    than ``a-z0-9`` as ``_``, no leading or trailing ``_`` (``"Fatigue or asthenia"`` ->
    ``"fatigue_or_asthenia"``).

    Parameters
    ----------
    name
        The event's name.

    Returns
    -------
    str
        The slug.
    """
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
