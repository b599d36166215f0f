"""Bundled NETTER-1 pseudo-IPD: reconstructions from the published summaries, not patient data.

NETTER-1 has no public digitised Kaplan-Meier curve and no public numbers at risk, so the
package ships pseudo-IPD built by :mod:`prrt_bayes.reconstruct.from_summaries` from the numbers
in :mod:`prrt_bayes.evidence` (``scripts/make_netter1_ipd.py`` regenerates them byte for byte).
Each CSV starts with a ``#`` header listing the published inputs with their sources, the choices
made, the calibrated models, every target against what the rows achieve, and the checks (Cox
hazard ratio against the published one; for the final OS also 2-year deaths and RMST).

Available reconstructions (``endpoint``, ``cut``):

- ``("pfs", "primary")``: progression-free survival by central review, cut-off 2015-07-24.
- ``("os", "primary")``: interim overall survival at the same cut-off (constant hazard per arm).
- ``("os", "final")``: final overall survival, cut-off 2021-01-18 (per-arm deaths chosen from the
  published total of 142; rule in the header).

At the primary cut-off, accrual was still open: patients randomised after it (about 14%) have
zero follow-up. They are part of the published n but are not rows (parametric fitters reject zero
durations; they change neither Kaplan-Meier nor Cox estimates); the header gives their number.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from prrt_bayes.core.errors import InputError

DATASETS = {
    ("pfs", "primary"): "netter1_pfs_primary.csv",
    ("os", "primary"): "netter1_os_primary.csv",
    ("os", "final"): "netter1_os_final.csv",
}
ENDPOINTS = ("pfs", "os")
CUTS = ("primary", "final")


def _file(endpoint: str, cut: str):
    if endpoint not in ENDPOINTS:
        raise InputError(f"unknown endpoint {endpoint!r}; valid: 'pfs', 'os'", field="endpoint")
    if cut not in CUTS:
        raise InputError(f"unknown cut {cut!r}; valid: 'primary', 'final'", field="cut")
    if (endpoint, cut) not in DATASETS:
        valid = ", ".join(f"({e!r}, {c!r})" for e, c in DATASETS)
        raise InputError(
            f"no bundled NETTER-1 reconstruction for endpoint {endpoint!r} at cut {cut!r}; "
            f"valid: {valid}",
            field="cut",
        )
    return resources.files("prrt_bayes.reconstruct") / "data" / DATASETS[(endpoint, cut)]


def _header(text: str) -> str:
    """The ``#`` lines of a CSV without the ``#`` and the one space (if any) after it.

    Further leading spaces are kept: the headers indent sub-items (``"#   target ..."``).
    """
    lines = [line[1:] for line in text.splitlines() if line.startswith("#")]
    return "\n".join(line[1:] if line[:1].isspace() else line for line in lines)


def load_netter1_ipd(endpoint: str, cut: str) -> pd.DataFrame:
    """Bundled NETTER-1 pseudo-IPD for one endpoint and data cut.

    Parameters
    ----------
    endpoint
        ``"pfs"`` or ``"os"``.
    cut
        ``"primary"`` (2015-07-24; OS at this cut is the interim analysis) or ``"final"``
        (2021-01-18, OS only).

    Returns
    -------
    pandas.DataFrame
        A new frame with columns ``time`` (float, months), ``event`` (int 0/1) and ``arm``
        (``"lu177"`` or ``"control"``); ``attrs["provenance"]`` holds the CSV header text (how
        the rows were made and how well they meet the published numbers).

    Raises
    ------
    InputError
        Unknown endpoint or cut, or a combination that is not bundled.
    """
    source = _file(endpoint, cut)
    text = source.read_text(encoding="utf-8")
    header = _header(text)
    with resources.as_file(source) as path:
        frame = pd.read_csv(path, comment="#", dtype={"time": float, "event": int, "arm": str})
    frame.attrs["provenance"] = header
    return frame


def netter1_ipd_provenance(endpoint: str, cut: str) -> str:
    """The header of one bundled reconstruction: inputs, choices, calibration and checks.

    Parameters
    ----------
    endpoint, cut
        Which reconstruction, as in :func:`load_netter1_ipd` (``"pfs"`` / ``"os"``,
        ``"primary"`` / ``"final"``).

    Returns
    -------
    str
        The CSV's ``#`` header lines with the ``#`` and the one space (if any) after it removed,
        joined by newlines.

    Raises
    ------
    InputError
        Unknown endpoint or cut, or a combination that is not bundled.
    """
    return load_netter1_ipd(endpoint, cut).attrs["provenance"]
