"""Fast vs full settings shared by the notebooks.

The notebooks run with small MCMC settings by default (each notebook in a few minutes on 2
cores, as CI runs them). Set the environment variable ``PRRT_FULL=1`` to use the settings of the
bundled analyses (``models/*.toml``: 2 chains x 1000 draws after 1000 tuning steps) instead.
Fast settings may fail the convergence gate; the notebooks then show the diagnostics as they are.
"""

from __future__ import annotations

import os

FULL = os.environ.get("PRRT_FULL", "0").strip().lower() in ("1", "true", "yes")
"""True when the full settings are requested (``PRRT_FULL=1``)."""

DRAWS = 1000 if FULL else 500
"""Posterior draws per chain."""

TUNE = 1000 if FULL else 500
"""Tuning (warm-up) steps per chain."""

CHAINS = 2
"""Number of chains (2 in both modes: R-hat needs at least two)."""

SEED = 20170112
"""Seed of every fit in the notebooks (the bundled analyses' seed)."""


def sampler_settings() -> dict:
    """Keyword arguments ``draws, tune, chains, seed`` for the package's fit functions."""
    return {"draws": DRAWS, "tune": TUNE, "chains": CHAINS, "seed": SEED}


def mode() -> str:
    """One line naming the settings in use, printed at the top of every notebook."""
    label = "FULL" if FULL else "FAST (set PRRT_FULL=1 for full settings)"
    return f"settings: {label}; {CHAINS} chains x {DRAWS} draws after {TUNE} tuning steps"
