"""Bundled NETTER-1 pseudo-IPD: reconstruction ensembles from the published summaries.

NOT patient data. NETTER-1 has no public digitised Kaplan-Meier curve and no public numbers at
risk, so the package ships, per endpoint and data cut, an *ensemble* of deterministic pseudo-IPD
sets (:mod:`prrt_bayes.reconstruct.ensemble`): each member meets every published target (events,
landmarks, medians, deaths within 2 years, Cox hazard ratio with its CI, median follow-up) under
its own explicit assumptions where the summaries are silent (hazard shape between published
points, tail after the last one, per-arm split of a pooled count, reading of the follow-up,
censoring by arm, and for PFS extra dropout or low hazard before the first scan).
``scripts/make_netter1_ipd.py`` regenerates the files byte for byte.

Available (``endpoint``, ``cut``): ``("pfs", "primary")`` (cut-off 2015-07-24),
``("os", "primary")`` (interim OS at the same cut-off), ``("os", "update_2016")`` (cut-off
2016-06-30) and ``("os", "final")`` (cut-off 2021-01-18).

Files (package data ``reconstruct/data``): ``netter1_<endpoint>_<cut>_m<k>.csv`` per member (a
``#`` header naming the member's assumptions, the generating model and every target against what
the rows achieve) and ``netter1_<endpoint>_<cut>_members.csv`` (one row per member: its
assumptions and achieved values; the header says how many assumption sets were tried).
Member 0 is the default. Patients randomised after a cut-off (zero follow-up) are counted in the
header, not stored as rows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from prrt_bayes.core.errors import InputError

ENDPOINTS = ("pfs", "os")
CUTS = ("primary", "update_2016", "final")
DATASETS = {
    ("pfs", "primary"): "netter1_pfs_primary",
    ("os", "primary"): "netter1_os_primary",
    ("os", "update_2016"): "netter1_os_update_2016",
    ("os", "final"): "netter1_os_final",
}
"""(endpoint, cut) -> file stem of the bundled ensemble."""


def member_file_name(endpoint: str, cut: str, member: int) -> str:
    """File name of one bundled member.

    Parameters
    ----------
    endpoint, cut
        A key of :data:`DATASETS`.
    member
        Member index (0-based).

    Returns
    -------
    str
        ``netter1_<endpoint>_<cut>_m<kk>.csv``.
    """
    return f"{DATASETS[(endpoint, cut)]}_m{member:02d}.csv"


def table_file_name(endpoint: str, cut: str) -> str:
    """File name of the members table of one bundled ensemble.

    Parameters
    ----------
    endpoint, cut
        A key of :data:`DATASETS`.

    Returns
    -------
    str
        ``netter1_<endpoint>_<cut>_members.csv``.
    """
    return f"{DATASETS[(endpoint, cut)]}_members.csv"


def _data():
    return resources.files("prrt_bayes.reconstruct") / "data"


def _check(endpoint: str, cut: str) -> None:
    if endpoint not in ENDPOINTS:
        raise InputError(f"unknown endpoint {endpoint!r}; valid: 'pfs', 'os'", field="endpoint")
    if cut not in CUTS:
        raise InputError(f"unknown cut {cut!r}; valid: 'primary', 'update_2016', 'final'",
                         field="cut")
    if (endpoint, cut) not in DATASETS:
        valid = ", ".join(f"({e!r}, {c!r})" for e, c in DATASETS)
        raise InputError(
            f"no bundled NETTER-1 reconstruction for endpoint {endpoint!r} at cut {cut!r}; "
            f"valid: {valid}",
            field="cut",
        )


def _header(text: str) -> str:
    """The ``#`` lines of a CSV without the ``#`` and the one space (if any) after it.

    Further leading spaces are kept: the headers indent sub-items (``"#   target ..."``).
    """
    lines = [line[1:] for line in text.splitlines() if line.startswith("#")]
    return "\n".join(line[1:] if line[:1].isspace() else line for line in lines)


def _read(name: str) -> tuple[pd.DataFrame, str]:
    text = (_data() / name).read_text(encoding="utf-8")
    frame = pd.read_csv(io.StringIO(text), comment="#")
    return frame, _header(text)


def _table(endpoint: str, cut: str) -> tuple[pd.DataFrame, str]:
    frame, header = _read(table_file_name(endpoint, cut))
    frame.attrs["provenance"] = header
    return frame, header


def load_netter1_ipd(endpoint: str, cut: str, member: int | None = None) -> pd.DataFrame:
    """Bundled NETTER-1 pseudo-IPD for one endpoint and data cut: one ensemble member.

    Parameters
    ----------
    endpoint
        ``"pfs"`` or ``"os"``.
    cut
        ``"primary"`` (2015-07-24; OS at this cut is the interim analysis), ``"update_2016"``
        (2016-06-30, OS only) or ``"final"`` (2021-01-18, OS only).
    member
        Member index (0-based), or None for the default member (member 0).

    Returns
    -------
    pandas.DataFrame
        A new frame with columns ``time`` (float, months), ``event`` (int 0/1) and ``arm``
        (``"lu177"`` or ``"control"``); ``attrs["provenance"]`` holds the CSV header text
        (pseudo-IPD label, assumptions, targets against achieved values), ``attrs["member"]``
        the index and ``attrs["assumptions"]`` the member's row of the assumptions table (dict).

    Raises
    ------
    InputError
        Unknown endpoint or cut, a combination that is not bundled, or a member index out of
        range (the message names endpoint, cut, member and the number of members).
    """
    _check(endpoint, cut)
    table, _ = _table(endpoint, cut)
    index = 0 if member is None else member
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(table):
        raise InputError(
            f"NETTER-1 {endpoint!r} at cut {cut!r} has {len(table)} ensemble members "
            f"(0-{len(table) - 1}); member {member!r} does not exist",
            field="member",
        )
    frame, header = _read(member_file_name(endpoint, cut, index))
    frame = frame.astype({"time": float, "event": int, "arm": str})
    frame.attrs["provenance"] = header
    frame.attrs["member"] = index
    frame.attrs["assumptions"] = table.iloc[index].to_dict()
    return frame


@dataclass(frozen=True)
class BundledEnsemble:
    """All bundled members of one NETTER-1 endpoint and cut, with their assumptions.

    Attributes
    ----------
    endpoint, cut : which reconstruction.
    members : one pseudo-IPD frame per member (as :func:`load_netter1_ipd` returns), member 0
        (the default) first.
    table : one row per member: ``member, hazard_shape, tail_rule, split, follow_up_reading,
        censoring_by_arm, pfs_early_rule, hr_after_last_point, rmst_difference_end, rmst_end``
        and the achieved value of every target (``cox_hr``, ``cox_hr_lower``, ...);
        ``attrs["provenance"]`` is its header (tried / met / bundled counts, targets).
    """

    endpoint: str
    cut: str
    members: tuple[pd.DataFrame, ...]
    table: pd.DataFrame


def netter1_ensemble(endpoint: str, cut: str) -> BundledEnsemble:
    """Every bundled member of one NETTER-1 reconstruction and the table of their assumptions.

    Parameters
    ----------
    endpoint, cut
        Which reconstruction, as in :func:`load_netter1_ipd`.

    Returns
    -------
    BundledEnsemble
        The members (default first) and the assumptions table.

    Raises
    ------
    InputError
        Unknown endpoint or cut, or a combination that is not bundled.
    """
    _check(endpoint, cut)
    table, _ = _table(endpoint, cut)
    members = tuple(load_netter1_ipd(endpoint, cut, k) for k in range(len(table)))
    return BundledEnsemble(endpoint, cut, members, table)


def netter1_ipd_provenance(endpoint: str, cut: str, member: int | None = None) -> str:
    """The header of one bundled member: pseudo-IPD label, inputs, assumptions, targets.

    Parameters
    ----------
    endpoint, cut, member
        Which member, as in :func:`load_netter1_ipd`.

    Returns
    -------
    str
        The CSV's ``#`` header lines with the ``#`` and the one space (if any) after it removed,
        joined by newlines.

    Raises
    ------
    InputError
        As :func:`load_netter1_ipd`.
    """
    return load_netter1_ipd(endpoint, cut, member).attrs["provenance"]
