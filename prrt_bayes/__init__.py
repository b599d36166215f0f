"""prrt-bayes: Bayesian evidence synthesis for peptide receptor radionuclide therapy.

The public API, in the order of the data flow (evidence -> reconstruction -> models ->
posterior -> summaries and exports). Heavy modules (PyMC models) are imported on first use, so
``import prrt_bayes`` and the CLI stay quick.

- Evidence: :func:`load_netter1`, :func:`load_series`, :func:`list_sources`.
- Reconstruction: :func:`load_netter1_ipd` (bundled NETTER-1 pseudo-IPD),
  :func:`reconstruct_from_files` (Guyot 2012 from a digitised curve),
  :func:`reconstruct_from_summaries` (pseudo-IPD calibrated to published summaries).
- Survival models: :func:`fit_ph` (piecewise-exponential PH), :func:`fit_parametric`,
  :func:`fit_all_parametric`, :func:`compare_fits` (PSIS-LOO).
- Borrowing: :func:`map_prior_summary`.
- Running analyses: :func:`analyse` (one analysis, as short as the CLI:
  ``pb.analyse("pfs_primary", draws=500)`` returns an :class:`Analysis` with ``.summary()``,
  ``.diagnostics``, ``.plot_*()`` and ``.to_results(folder)``), :func:`load_spec`, :func:`run`
  (results folder of several analyses), :func:`check_diagnostics`.
"""

from __future__ import annotations

from importlib import import_module

from prrt_bayes.core.caches import configure_caches

configure_caches()  # before anything imports PyTensor: compiled models cached per user

from prrt_bayes.core.errors import InputError  # noqa: E402
from prrt_bayes.core.version import __version__  # noqa: E402
from prrt_bayes.evidence import list_sources, load_netter1, load_series  # noqa: E402
from prrt_bayes.reconstruct.netter1_ipd import load_netter1_ipd  # noqa: E402

_LAZY = {
    "analyse": "prrt_bayes.pipeline.api",
    "Analysis": "prrt_bayes.pipeline.api",
    "reconstruct_from_files": "prrt_bayes.reconstruct.guyot",
    "reconstruct_from_summaries": "prrt_bayes.reconstruct.from_summaries",
    "fit_ph": "prrt_bayes.survival.ph",
    "fit_parametric": ("prrt_bayes.survival.parametric", "fit"),
    "fit_all_parametric": ("prrt_bayes.survival.parametric", "fit_all"),
    "compare_fits": "prrt_bayes.survival.comparison",
    "map_prior_summary": "prrt_bayes.borrowing.map_prior",
    "load_spec": "prrt_bayes.pipeline.specs",
    "run": "prrt_bayes.pipeline.runner",
    "check_diagnostics": "prrt_bayes.core.diagnostics",
}

__all__ = [
    "InputError",
    "__version__",
    "list_sources",
    "load_netter1",
    "load_netter1_ipd",
    "load_series",
    *_LAZY,
]


def __getattr__(name: str):
    """Import the heavier public functions on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'prrt_bayes' has no attribute {name!r}")
    target = _LAZY[name]
    module, attribute = target if isinstance(target, tuple) else (target, name)
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value
