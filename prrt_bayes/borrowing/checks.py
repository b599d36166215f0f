"""Prior predictive sanity check shared by the hierarchical borrowing models.

Simulates data from the priors alone and reports central quantiles, so a user can see whether
the priors allow plausible study results (rates away from 0 and 1 only if intended, log-scale
estimates within a believable range) before any data are seen.
"""

from __future__ import annotations

import numpy as np
import pymc as pm

_QS = (0.025, 0.5, 0.975)


def prior_predictive_check(
    model: pm.Model, *, observed: str = "y_obs", draws: int = 2000, seed: int = 1
) -> dict:
    """Prior predictive quantiles (2.5%, 50%, 97.5%) of the data and of tau.

    Parameters
    ----------
    model
        A hierarchical borrowing model with a random variable ``tau``, an observed variable
        named ``observed`` and, for binomial data, a data container ``n`` of study totals.
    observed
        Name of the observed variable whose prior predictive draws are summarised.
    draws, seed
        Number of prior predictive draws and the random seed.

    Returns
    -------
    dict
        ``y_quantiles`` (the observed variable, all studies pooled) and ``tau_quantiles``, each
        a ``(2.5%, 50%, 97.5%)`` tuple of floats; for a binomial model (a data container ``n``)
        also ``rate_quantiles`` of r / n.
    """
    with model:
        tree = pm.sample_prior_predictive(draws=draws, random_seed=seed)
    sim = np.asarray(tree.prior_predictive[observed])
    out = {
        "y_quantiles": tuple(float(v) for v in np.quantile(sim.ravel(), _QS)),
        "tau_quantiles": tuple(float(v) for v in np.quantile(np.asarray(tree.prior["tau"]), _QS)),
    }
    names = {v.name: v for v in model.data_vars}
    if "n" in names:
        rates = sim / np.asarray(names["n"].get_value())
        out["rate_quantiles"] = tuple(float(v) for v in np.quantile(rates.ravel(), _QS))
    return out
