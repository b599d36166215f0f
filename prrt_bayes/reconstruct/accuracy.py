"""How well a reconstruction reproduces what was published.

Three checks, all computed with lifelines so they do not depend on the reconstruction code:

* the Kaplan-Meier curve of the reconstructed IPD against the digitised points (after cleaning),
  evaluated at the digitised times with the right-continuous step function: RMSE and maximum
  absolute error;
* reconstructed against reported numbers at risk at the reported times (reconstructed = number of
  patients whose time is >= the reported time);
* given the other arm's reconstruction, the unstratified Cox hazard ratio (this arm vs the other)
  with its 95% confidence interval — to set beside the published one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter

from prrt_bayes.reconstruct.curves import AtRiskTable, DigitisedCurve


@dataclass(frozen=True)
class HazardRatio:
    """Unstratified Cox hazard ratio of one arm vs another, with its 95% CI."""

    estimate: float
    lower: float
    upper: float
    arm: str
    reference: str


@dataclass(frozen=True)
class AccuracyReport:
    """Agreement of a reconstructed arm with the published curve and at-risk table.

    Attributes
    ----------
    n_patients : rows in the reconstruction.
    n_events : events in the reconstruction.
    n_points : digitised points compared.
    rmse : root mean squared difference, reconstructed KM minus digitised survival.
    max_abs_error : largest absolute difference.
    max_error_time : digitised time at which it occurs.
    at_risk : DataFrame ``time, reported, reconstructed, difference`` (empty without a table).
    hazard_ratio : Cox hazard ratio vs the other arm, when one was given.
    """

    n_patients: int
    n_events: int
    n_points: int
    rmse: float
    max_abs_error: float
    max_error_time: float
    at_risk: pd.DataFrame
    hazard_ratio: HazardRatio | None = None

    def to_dict(self) -> dict:
        """Plain-data form (JSON-serialisable).

        Returns
        -------
        dict
            A new dict with the scalar fields under their names, ``at_risk`` as a list of
            ``{time, reported, reconstructed, difference}`` dicts (time float, counts int) and
            ``hazard_ratio`` as ``{estimate, lower, upper, arm, reference}`` or None.
        """
        out = {
            "n_patients": self.n_patients,
            "n_events": self.n_events,
            "n_points": self.n_points,
            "rmse": self.rmse,
            "max_abs_error": self.max_abs_error,
            "max_error_time": self.max_error_time,
            "at_risk": [
                {k: (float(v) if k == "time" else int(v)) for k, v in row.items()}
                for row in self.at_risk.to_dict(orient="records")
            ],
            "hazard_ratio": None,
        }
        if self.hazard_ratio is not None:
            hr = self.hazard_ratio
            out["hazard_ratio"] = {
                "estimate": hr.estimate,
                "lower": hr.lower,
                "upper": hr.upper,
                "arm": hr.arm,
                "reference": hr.reference,
            }
        return out

    def to_text(self) -> str:
        """Human-readable multi-line report.

        Returns
        -------
        str
            Lines joined by newlines (no trailing newline): patients and events, the KM fit to
            the digitised points, the at-risk comparison (when there is a table; differences
            flagged) and the Cox hazard ratio (when there is one).
        """
        lines = [
            f"Reconstructed IPD: {self.n_patients} patients, {self.n_events} events",
            f"KM of the reconstruction vs {self.n_points} digitised points: "
            f"RMSE {self.rmse:.4f}, max abs error {self.max_abs_error:.4f} "
            f"(at time {self.max_error_time:g})",
        ]
        if len(self.at_risk):
            lines.append("Numbers at risk (time: reported / reconstructed):")
            for row in self.at_risk.itertuples(index=False):
                flag = "" if row.difference == 0 else f"  (difference {row.difference:+d})"
                lines.append(
                    f"  {row.time:>8g}: {row.reported:>6d} / {row.reconstructed:>6d}{flag}"
                )
        if self.hazard_ratio is not None:
            hr = self.hazard_ratio
            lines.append(
                f"Cox hazard ratio {hr.arm} vs {hr.reference} (unstratified): "
                f"{hr.estimate:.3f} (95% CI {hr.lower:.3f}-{hr.upper:.3f})"
            )
        return "\n".join(lines)


def km_step(ipd: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """Kaplan-Meier survival of ``ipd`` (lifelines) at ``times``, right-continuous step.

    Parameters
    ----------
    ipd
        Columns ``time`` and ``event`` (1 = event, 0 = censored).
    times
        Times to evaluate at, in the unit of ``ipd["time"]``; any order.

    Returns
    -------
    numpy.ndarray
        Survival probability at each of ``times`` (same shape): the KM value at the last KM time
        at or before it, 1.0 before the first.
    """
    kmf = KaplanMeierFitter().fit(ipd["time"], ipd["event"])
    sf = kmf.survival_function_
    grid = sf.index.to_numpy(float)
    values = sf.iloc[:, 0].to_numpy(float)
    index = np.searchsorted(grid, np.asarray(times, float), side="right") - 1
    return np.where(index >= 0, values[np.clip(index, 0, None)], 1.0)


def numbers_at_risk(ipd: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """Number of patients with time >= t, for each t in ``times``.

    Parameters
    ----------
    ipd
        Column ``time`` (events and censorings count alike).
    times
        Report times, in the unit of ``ipd["time"]``.

    Returns
    -------
    numpy.ndarray
        Integer counts, one per entry of ``times``.
    """
    sorted_times = np.sort(ipd["time"].to_numpy(float))
    return sorted_times.size - np.searchsorted(sorted_times, np.asarray(times, float), "left")


def cox_hazard_ratio(
    ipd: pd.DataFrame, reference: pd.DataFrame, *, arm: str = "arm", reference_name: str = "other"
) -> HazardRatio:
    """Unstratified Cox hazard ratio (lifelines, Efron ties) of ``ipd`` vs ``reference``.

    Parameters
    ----------
    ipd
        Columns ``time`` and ``event`` of the arm in the numerator.
    reference
        Columns ``time`` and ``event`` of the reference arm (the denominator).
    arm, reference_name
        Labels stored in the result (not used in the fit).

    Returns
    -------
    HazardRatio
        ``exp(coef)`` of the arm indicator (HR > 1: higher hazard in ``ipd``) and its 95% Wald
        confidence interval from lifelines.
    """
    data = pd.concat(
        [
            ipd[["time", "event"]].assign(treated=1.0),
            reference[["time", "event"]].assign(treated=0.0),
        ],
        ignore_index=True,
    )
    cph = CoxPHFitter().fit(data, duration_col="time", event_col="event")
    coef = float(cph.params_["treated"])
    ci = cph.confidence_intervals_.loc["treated"].to_numpy(float)
    return HazardRatio(
        estimate=float(np.exp(coef)),
        lower=float(np.exp(ci[0])),
        upper=float(np.exp(ci[1])),
        arm=arm,
        reference=reference_name,
    )


def assess_accuracy(
    ipd: pd.DataFrame,
    curve: DigitisedCurve,
    at_risk: AtRiskTable | None = None,
    *,
    other_arm: pd.DataFrame | None = None,
    arm: str = "arm",
    other_name: str = "other",
) -> AccuracyReport:
    """Compare a reconstructed arm with its digitised curve and at-risk table.

    Parameters
    ----------
    ipd
        Reconstructed ``time, event`` for this arm.
    curve
        The cleaned digitised curve (the points compared are its points, time 0 included).
    at_risk
        The reported numbers at risk, or None (the report's ``at_risk`` frame is then empty).
    other_arm
        The other arm's reconstruction (``time, event``), for the Cox hazard ratio (this arm vs
        it); None skips the hazard ratio.
    arm, other_name
        Labels of this arm and the other arm in the hazard ratio.

    Returns
    -------
    AccuracyReport
        KM errors at the curve's points (RMSE, largest absolute error and its time), the
        at-risk comparison (``difference`` = reconstructed - reported) and the hazard ratio.
    """
    fitted = km_step(ipd, curve.time)
    diff = fitted - curve.survival
    worst = int(np.argmax(np.abs(diff)))
    if at_risk is not None:
        recon = numbers_at_risk(ipd, at_risk.time)
        table = pd.DataFrame(
            {
                "time": at_risk.time,
                "reported": at_risk.n_risk.astype(int),
                "reconstructed": recon.astype(int),
            }
        )
        table["difference"] = table["reconstructed"] - table["reported"]
    else:
        table = pd.DataFrame(columns=["time", "reported", "reconstructed", "difference"])
    hazard = None
    if other_arm is not None:
        hazard = cox_hazard_ratio(ipd, other_arm, arm=arm, reference_name=other_name)
    return AccuracyReport(
        n_patients=len(ipd),
        n_events=int(ipd["event"].sum()),
        n_points=int(curve.time.size),
        rmse=float(np.sqrt(np.mean(diff**2))),
        max_abs_error=float(np.abs(diff[worst])),
        max_error_time=float(curve.time[worst]),
        at_risk=table,
        hazard_ratio=hazard,
    )
