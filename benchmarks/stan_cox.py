"""Stan reference for the PFS hazard ratio: the Cox model brms fits, run by PyStan.

Usage (an interpreter with ``pystan`` installed; R and brms are not on the benchmark machine)::

    python benchmarks/stan_cox.py IPD.csv [CHAINS]

``IPD.csv`` has columns ``time, event, arm`` (``lu177`` / ``control``). Prints one JSON line:
build (compile) seconds, sampling seconds, posterior median and 95% interval of the hazard
ratio of 177Lu-Dotatate vs control.

The Stan program is what ``brms::brm(time | cens(1 - event) ~ arm, family = cox())`` generates
(brms 2.21), written out here: proportional hazards with a cubic M-spline baseline hazard
(``bhaz = list(df = 5, intercept = TRUE)``: one interior knot at the median of the times,
boundary knots widened by 1/50 of the range, as brms' ``data_bhaz`` does), spline weights a
simplex with a Dirichlet(1, ..., 1) prior, intercept ~ Student-t(3, 0, 2.5) on the centred
design, a flat prior on the log hazard ratio; 1,000 warm-up and 1,000 draws per chain (brms'
defaults). It differs from brms only in what runs it (PyStan, not rstan / cmdstanr).
"""

from __future__ import annotations

import csv
import json
import sys
import time

import numpy as np
from scipy.interpolate import BSpline

PROGRAM = """
data {
  int<lower=1> N;
  vector[N] Y;
  array[N] int<lower=0, upper=1> cens;
  int<lower=1> Kbhaz;
  matrix[N, Kbhaz] Zbhaz;
  matrix[N, Kbhaz] Zcbhaz;
  vector[Kbhaz] con_sbhaz;
  vector[N] x;
}
transformed data {
  real mean_x = mean(x);
  vector[N] xc = x - mean_x;
}
parameters {
  real b;
  real Intercept;
  simplex[Kbhaz] sbhaz;
}
model {
  vector[N] bhaz = Zbhaz * sbhaz;
  vector[N] cbhaz = Zcbhaz * sbhaz;
  vector[N] mu = Intercept + xc * b;
  for (n in 1:N) {
    if (cens[n] == 0) {
      target += log(bhaz[n]) + mu[n] - cbhaz[n] * exp(mu[n]);
    } else {
      target += -cbhaz[n] * exp(mu[n]);
    }
  }
  target += student_t_lpdf(Intercept | 3, 0, 2.5);
  target += dirichlet_lpdf(sbhaz | con_sbhaz);
}
generated quantities {
  real hazard_ratio = exp(b);
}
"""


def m_and_i_splines(y: np.ndarray, df: int = 5, degree: int = 3):
    """Cubic M-spline basis (hazard) and its integral, the I-spline basis (cumulative hazard),
    with brms' default knots for the cox family."""
    low, high = float(y.min()), float(y.max())
    lower, upper = max(low - (high - low) / 50, 0.0), high + (high - low) / 50
    n_interior = df - degree - 1
    interior = np.quantile(y, np.linspace(0, 1, n_interior + 2)[1:-1])
    order = degree + 1
    knots = np.concatenate([[lower] * order, interior, [upper] * order])
    m, i = [], []
    for k in range(len(knots) - order):
        coef = np.zeros(len(knots) - order)
        coef[k] = 1.0
        basis = BSpline(knots, coef * order / (knots[k + order] - knots[k]), degree)
        m.append(basis(y))
        i.append(basis.antiderivative()(y) - basis.antiderivative()(lower))
    return np.column_stack(m), np.column_stack(i)


def main(path: str, chains: int = 4) -> dict:
    import stan

    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    y = np.array([float(r["time"]) for r in rows])
    event = np.array([int(float(r["event"])) for r in rows])
    x = np.array([1.0 if r["arm"] == "lu177" else 0.0 for r in rows])
    zb, zc = m_and_i_splines(y)
    data = {"N": len(y), "Y": y, "cens": (1 - event).tolist(), "Kbhaz": zb.shape[1],
            "Zbhaz": zb, "Zcbhaz": zc, "con_sbhaz": np.ones(zb.shape[1]), "x": x}
    start = time.perf_counter()
    posterior = stan.build(PROGRAM, data=data, random_seed=20170112)
    built = time.perf_counter() - start
    start = time.perf_counter()
    fit = posterior.sample(num_chains=chains, num_warmup=1000, num_samples=1000)
    sampled = time.perf_counter() - start
    hr = np.asarray(fit["hazard_ratio"]).ravel()
    return {"build_s": built, "sampling_s": sampled, "total_s": built + sampled,
            "chains": chains, "hr_median": float(np.median(hr)),
            "hr_95": [float(v) for v in np.quantile(hr, [0.025, 0.975])]}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], *(int(a) for a in sys.argv[2:]))))
