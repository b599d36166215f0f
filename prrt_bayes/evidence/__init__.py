"""Bundled published evidence with per-number provenance: NETTER-1 and single-arm PRRT series."""

from prrt_bayes.evidence.loaders import (
    Netter1Evidence,
    SeriesEvidence,
    list_sources,
    load_netter1,
    load_series,
)
from prrt_bayes.evidence.schema import Record, Source, Study

__all__ = [
    "Netter1Evidence",
    "Record",
    "SeriesEvidence",
    "Source",
    "Study",
    "list_sources",
    "load_netter1",
    "load_series",
]
