"""Operating characteristics of borrowing priors by simulation (bias, MSE, coverage, SD).

For each prior (a mixture) and each true value of the new arm's parameter, new-study data are
simulated ``n_sim`` times and the posterior is computed by the exact conjugate mixture update
(normal estimates: normal-normal; counts: beta-binomial), so thousands of replicates take
seconds. The external data are held fixed: the priors are built once, as in practice.

Reported per (method, true value): ``bias`` = mean(posterior mean - truth), ``mse``,
``coverage`` of the central ``level`` interval, ``mean_sd`` (average posterior SD) and
``informative_weight`` (for priors named in ``robust``, whose last component is the vague one
added by ``robustify``: the average posterior weight of the other, informative components;
NaN for the others).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.priors import (
    BetaMixture,
    NormalMixture,
    beta_mixture_quantiles,
    beta_update,
    normal_mixture_quantiles,
    normal_update,
)


def _summaries_normal(prior: NormalMixture, y: np.ndarray, se: float, level: float):
    w, m, s = normal_update(prior.weights, prior.means, prior.sds, y[:, None], se)
    mean = np.sum(w * m, axis=1)
    sd = np.sqrt(np.sum(w * (s**2 + m**2), axis=1) - mean**2)
    lo = normal_mixture_quantiles(w, m, s, (1 - level) / 2)
    hi = normal_mixture_quantiles(w, m, s, (1 + level) / 2)
    return mean, sd, lo, hi, w


def _summaries_beta(prior: BetaMixture, r: np.ndarray, n: int, level: float):
    w, a, b = beta_update(prior.weights, prior.a, prior.b, r[:, None], n)
    mk = a / (a + b)
    mean = np.sum(w * mk, axis=1)
    second = np.sum(w * mk * (a + 1) / (a + b + 1), axis=1)
    sd = np.sqrt(np.maximum(second - mean**2, 0.0))
    lo = beta_mixture_quantiles(w, a, b, (1 - level) / 2)
    hi = beta_mixture_quantiles(w, a, b, (1 + level) / 2)
    return mean, sd, lo, hi, w


def operating_characteristics(
    priors: Mapping[str, NormalMixture | BetaMixture],
    true_values: Sequence[float],
    *,
    new_std_error: float | None = None,
    new_total: int | None = None,
    robust: Collection[str] = (),
    n_sim: int = 2000,
    level: float = 0.95,
    seed: int = 20170112,
) -> pd.DataFrame:
    """Simulate the new study under each true value and summarise each prior's posterior.

    Parameters
    ----------
    priors
        Name -> prior: all normal mixtures or all beta mixtures.
    true_values
        True parameter values of the new arm (probabilities in [0, 1] for counts).
    new_std_error
        Standard error of the new estimate, required (positive) for normal priors: the new
        estimate is ``Normal(truth, new_std_error^2)``; ignored for beta priors.
    new_total
        Patients in the new study, required (>= 1) for beta priors: the new count is
        ``Binomial(new_total, truth)``; ignored for normal priors.
    robust
        Names of robustified priors (last component vague), for ``informative_weight``.
    n_sim, level, seed
        Replicates per true value, interval level in (0, 1), random seed (same data for every
        prior).

    Returns
    -------
    pandas.DataFrame
        One row per (true value, prior); columns ``method, true_value, bias, mse, coverage,
        mean_sd, informative_weight, n_sim``.

    Raises
    ------
    InputError
        For no priors, mixed or unknown prior types, a missing or invalid ``new_std_error`` /
        ``new_total``, a level outside (0, 1) or a true probability outside [0, 1].
    """
    if not priors:
        raise InputError("no priors given")
    kinds = {type(p) for p in priors.values()}
    if len(kinds) != 1 or kinds.pop() not in (NormalMixture, BetaMixture):
        raise InputError("priors must be all NormalMixture or all BetaMixture")
    normal = isinstance(next(iter(priors.values())), NormalMixture)
    if normal and not (new_std_error is not None and new_std_error > 0):
        raise InputError("normal priors need a positive new_std_error")
    if not normal and not (new_total is not None and int(new_total) >= 1):
        raise InputError("beta priors need new_total >= 1")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    rows = []
    for truth in true_values:
        if normal:
            data = rng.normal(truth, new_std_error, n_sim)
        else:
            if not 0 <= truth <= 1:
                raise InputError(f"true probability must be in [0, 1], got {truth}")
            data = rng.binomial(int(new_total), truth, n_sim).astype(float)
        for name, prior in priors.items():
            if normal:
                mean, sd, lo, hi, w = _summaries_normal(prior, data, new_std_error, level)
            else:
                mean, sd, lo, hi, w = _summaries_beta(prior, data, int(new_total), level)
            inf_w = w[:, :-1].sum(axis=1).mean() if name in robust else np.nan
            err = mean - truth
            rows.append(
                {
                    "method": name,
                    "true_value": float(truth),
                    "bias": float(err.mean()),
                    "mse": float(np.mean(err**2)),
                    "coverage": float(np.mean((lo <= truth) & (truth <= hi))),
                    "mean_sd": float(sd.mean()),
                    "informative_weight": float(inf_w),
                    "n_sim": int(n_sim),
                }
            )
    return pd.DataFrame(rows)
