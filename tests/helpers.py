"""Helpers shared by the test files: simulators, a Cox reference, row getters, CLI checks.

Imported as ``from helpers import ...`` (``pythonpath = ["tests"]`` in ``pyproject.toml``). Each
helper exists once here; fixtures (objects a test receives by argument) are in ``conftest.py``.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from lifelines import CoxPHFitter

from prrt_bayes.core.diagnostics import Diagnostics
from prrt_bayes.core.results import AnalysisResult
from prrt_bayes.core.summary import SUMMARY_COLUMNS
from prrt_bayes.core.vocabulary import Arm
from prrt_bayes.evidence import load_netter1, load_series

REPO = Path(__file__).resolve().parents[1]
"""The repository root (the folder holding ``tests/``)."""

DIGITIZED_KM = REPO.parent / "shared" / "fixtures" / "digitized_km"
"""Digitised published KM curves, read-only beside the repository (absent in a fresh clone)."""

PASSED = Diagnostics(1.001, 900.0, 800.0, 0, 0.9, True, ())
"""A convergence record that passes the gate."""

FAILED = Diagnostics(1.2, 35.0, 20.0, 4, 0.2, False,
                     ("max R-hat 1.200 > 1.01", "min bulk ESS 35 < 400", "4 divergent transitions"))
"""A convergence record that fails the gate (R-hat, ESS and divergences)."""


# ------------------------------------------------------------------------------------- evidence
@lru_cache(maxsize=1)
def netter1():
    """The bundled NETTER-1 evidence, loaded once per test process (records are frozen)."""
    return load_netter1()


@lru_cache(maxsize=1)
def series():
    """The bundled single-arm series, loaded once per test process (records are frozen)."""
    return load_series()


def published_hr(cut: str, endpoint: str) -> tuple[float, float, float]:
    """A published NETTER-1 hazard ratio with its 95% CI, from the evidence file.

    ``cut`` is a data cut id (``"primary_2015"``, ``"final_2021"``), ``endpoint`` ``"pfs"`` or
    ``"os"``. When the primary record has no CI, the first alternative with one is taken.
    """
    records = netter1().alternatives(cut, f"{endpoint}_hazard_ratio")
    record = next(r for r in records if r.lower is not None)
    return record.value, record.lower, record.upper


# ------------------------------------------------------------------------------------ simulation
def simulate_weibull(rng: np.random.Generator, n: int = 230, *, shape: float = 1.3,
                     scale: float = 20.0, hr: float | None = 0.6, accrual: float = 24.0,
                     cut: float = 36.0, dropout_mean: float | None = 100.0) -> pd.DataFrame:
    """Weibull proportional-hazards trial data with administrative censoring and dropout.

    Control arm ``S(t) = exp(-(t/scale)^shape)``; the 177Lu arm's hazard is ``hr`` times it.
    Patients enter uniformly over ``accrual`` months and are analysed at month ``cut``
    (follow-up ``cut - U(0, accrual)``), and drop out at exponential times of mean
    ``dropout_mean`` months (``None``: no dropout). The first ``n // 2`` rows are control, the
    rest 177Lu. With ``hr=None`` there is one arm of ``n`` patients and no ``arm`` column.

    Draw order (fixed, so a seed gives the same data): event times, entry times, dropout.
    Returns columns ``time, event`` (and ``arm``).
    """
    if hr is None:
        arm, multiplier = None, np.ones(n)
    else:
        arm = np.repeat([Arm.CONTROL.value, Arm.LU177.value], [n // 2, n - n // 2])
        multiplier = np.where(arm == Arm.LU177, hr, 1.0)
    t_event = scale * (rng.exponential(size=n) / multiplier) ** (1 / shape)
    t_cens = cut - rng.uniform(0, accrual, n)
    if dropout_mean is not None:
        t_cens = np.minimum(t_cens, rng.exponential(dropout_mean, n))
    ipd = pd.DataFrame({"time": np.minimum(t_event, t_cens),
                        "event": (t_event <= t_cens).astype(int)})
    if arm is not None:
        ipd["arm"] = arm
    return ipd


def cox_hr(ipd: pd.DataFrame, treatment: str = Arm.LU177, **fitter) -> float:
    """Cox (lifelines) hazard ratio of ``treatment`` vs the other rows of ``ipd``.

    ``ipd`` has ``time, event, arm``; ``fitter`` goes to :class:`lifelines.CoxPHFitter` (e.g.
    ``baseline_estimation_method="piecewise", breakpoints=[...]``, whose coefficients carry a
    two-level index: the treatment's is found by name either way).
    """
    data = pd.DataFrame({"time": ipd["time"], "event": ipd["event"],
                         "treated": (ipd["arm"] == treatment).astype(int)})
    params = CoxPHFitter(**fitter).fit(data, "time", "event").params_
    return float(np.exp(params.filter(like="treated").iloc[0]))


# ------------------------------------------------------------------------------------ summaries
def row(summary: pd.DataFrame, quantity: str, group: str | None = None, **columns) -> pd.Series:
    """The one summary row of ``quantity`` (and ``group``, and any ``column=value``).

    ``group=None`` does not filter on the group. Fails the test unless exactly one row matches.
    """
    mask = summary["quantity"] == quantity
    if group is not None:
        mask &= summary["group"] == group
    for column, value in columns.items():
        mask &= summary[column] == value
    rows = summary[mask]
    assert len(rows) == 1, (quantity, group, columns, len(rows))
    return rows.iloc[0]


def summary_row(analysis: str, endpoint: str, quantity: str, group: str, median: float,
                lower: float, upper: float, *, sd: float = 0.1) -> dict:
    """One summary row (the vocabulary's columns) with ``mean`` equal to ``median``."""
    return dict(zip(SUMMARY_COLUMNS, (analysis, endpoint, quantity, group, median, sd, median,
                                      lower, upper), strict=True))


def exponential_result(name: str, endpoint: str, log_rates: dict[str, np.ndarray], *,
                       grid: np.ndarray | None = None, summary: pd.DataFrame | None = None,
                       ipd: pd.DataFrame | None = None, **fields) -> AnalysisResult:
    """A survival analysis whose draws are ``S(t) = exp(-exp(log_rate) t)`` (no MCMC).

    ``log_rates``: arm -> array ``(chain, draw)`` of log rates per month, one survival curve per
    draw on ``grid`` (default months 0..24); ``parameters`` holds ``log_rate_<arm>`` with
    ``chain, draw`` first (chain-major). ``fields`` go to :class:`AnalysisResult` (e.g.
    ``priors``, ``borrowing``, ``diagnostics``; default diagnostics :data:`PASSED`).
    """
    grid = np.arange(0.0, 25.0) if grid is None else grid
    surv, params = {}, {}
    for arm, lr in log_rates.items():
        lr = np.asarray(lr, dtype=float)
        chains, draws = lr.shape
        surv[arm] = xr.DataArray(
            np.exp(-np.exp(lr)[..., None] * grid), dims=("chain", "draw", "time"),
            coords={"chain": np.arange(chains), "draw": np.arange(draws), "time": grid},
        )
        params[f"log_rate_{arm}"] = lr.ravel()
    parameters = pd.DataFrame({"chain": np.repeat(np.arange(chains), draws),
                               "draw": np.tile(np.arange(draws), chains), **params})
    fields.setdefault("diagnostics", PASSED)
    return AnalysisResult(name=name, kind="survival", endpoint=endpoint,
                          summary=pd.DataFrame() if summary is None else summary,
                          survival=surv, parameters=parameters, ipd=ipd, **fields)


def simulate_exponential_ipd(rates: dict[str, float], n: int, rng: np.random.Generator, *,
                             censor: tuple[float, float]) -> pd.DataFrame:
    """Exponential event times per arm (``rates`` per month), uniform censoring in ``censor``.

    Per arm in order: ``n`` event times, then ``n`` censoring times. Columns ``time, event,
    arm``.
    """
    frames = []
    for arm, rate in rates.items():
        t = rng.exponential(1 / rate, n)
        c = rng.uniform(*censor, n)
        frames.append(pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int),
                                    "arm": arm}))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------ CLI
def write_file(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``folder / name`` and return the path."""
    path = folder / name
    path.write_text(text)
    return path


def assert_one_line_exit_2(result, *needles: str) -> None:
    """Exit code 2, one line on stderr containing every needle, no traceback.

    ``result`` is a typer ``CliRunner`` result or a :class:`subprocess.CompletedProcess`.
    """
    if isinstance(result, subprocess.CompletedProcess):
        code, stderr = result.returncode, result.stderr
    else:
        code, stderr = result.exit_code, result.stderr
    assert code == 2, (code, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
