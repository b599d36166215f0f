"""Fast vs full settings shared by the notebooks.

The notebooks run with small MCMC settings by default (each notebook in a few minutes on 2
cores, as CI runs them). Set the environment variable ``PRRT_FULL=1`` to use the settings of the
bundled analyses (``prrt_bayes/specs/*.toml``: 2 chains x 1000 draws after 1000 tuning steps)
instead. Fast settings may fail the convergence gate; the notebooks then show the diagnostics as
they are.

Two forms of the same settings: :data:`OVERRIDES` for ``pb.analyse(name, **OVERRIDES)`` (a
bundled analysis keeps its own ``target_accept``), and :func:`sampler_settings` for the model
functions, which take a :class:`~prrt_bayes.core.sampling.SamplerSettings` object with an
explicit ``target_accept``.
"""

from __future__ import annotations

import os

from prrt_bayes.core.sampling import SamplerSettings

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

OVERRIDES = {"draws": DRAWS, "tune": TUNE, "chains": CHAINS, "seed": SEED}
"""Sampler overrides of ``pb.analyse`` (the same as ``prrt-bayes run --draws ... --seed ...``)."""


def sampler_settings(target_accept: float) -> SamplerSettings:
    """The notebook's draws, tuning, chains and seed with the given target acceptance.

    Parameters
    ----------
    target_accept
        NUTS target acceptance of the fit (0.9 for most models; 0.99 for the hierarchical
        models with few groups, as their functions' docstrings advise).

    Returns
    -------
    SamplerSettings
        Settings to pass to a model function (``fit_response(counts, settings)``, ...).
    """
    return SamplerSettings(draws=DRAWS, tune=TUNE, chains=CHAINS, target_accept=target_accept,
                           seed=SEED)


def mode() -> str:
    """One line naming the settings in use, printed at the top of every notebook.

    Returns
    -------
    str
        ``FULL`` or ``FAST`` with chains, draws and tuning steps.
    """
    label = "FULL" if FULL else "FAST (set PRRT_FULL=1 for full settings)"
    return f"settings: {label}; {CHAINS} chains x {DRAWS} draws after {TUNE} tuning steps"


PIECEWISE_PRIORS = {"log_hr": {"dist": "Normal", "mu": 0.0, "sigma": 2.0},
                    "log_hazard_first": {"dist": "Normal", "mu": -3.0, "sigma": 2.0},
                    "rw_step": {"dist": "Normal", "mu": 0.0, "sigma": 0.5}}
"""The priors of the piecewise-exponential PH model (its documented defaults)."""


def piecewise(name: str):
    """A bundled survival analysis switched to the piecewise-exponential PH model.

    The bundled survival specs use the recommended extrapolation (``family = "auto"``); the
    notebooks that study hazard ratios and borrowing through a prior on the 177Lu median use
    this variant: ``ph_piecewise`` with 6 intervals, one HR, the model's default priors, the
    series moved to ``[borrowing]`` (``pb.analyse(..., borrowing="map")``).

    Parameters
    ----------
    name
        A bundled survival analysis (``pfs_primary``, ``os_interim``, ``os_final``).

    Returns
    -------
    SurvivalSpec
        The validated variant (same evidence, seed and exports; 2 chains).
    """
    from prrt_bayes.pipeline.specs import resolve_spec

    spec = resolve_spec(name)
    data = spec.model_dump()
    data["model"] = {"family": "ph_piecewise", "intervals": 6}
    data["priors"] = PIECEWISE_PRIORS
    data["sampler"].update(chains=2, target_accept=0.9)
    return type(spec).model_validate(data)
