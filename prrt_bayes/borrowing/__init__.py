"""Borrowing from external studies: MAP, robust MAP, power and commensurate priors.

Priors are the objects of :mod:`prrt_bayes.core.priors` (mixtures included); each task is one
verb dispatching on the prior's type (:func:`ess`, :func:`conflict`, :func:`robustify`,
:func:`no_borrowing`, :func:`power_prior`, :func:`full_pooling`, :func:`commensurate_prior`,
:func:`commensurate_prior_fixed`, :func:`posterior_informed_prior`),
and every function taking a prior also accepts its string (``"halfnormal:1"``).

Building blocks, one job per module:

* :mod:`.inputs` — standard errors from reported CIs / medians, input and hyperprior checks;
* :mod:`.grid` — the tau marginal every exact grid posterior reports;
* :mod:`.meta` — normal-normal hierarchical model (exact quadrature and PyMC);
* :mod:`.meta_regression` — the same with study covariates (population type), exact;
* :mod:`.binomial_map` — binomial-logit MAP model as RBesT ``gMAP`` (exact and PyMC);
* :mod:`.mixtures` — EM fits of normal / beta mixtures to draws, robustification;
* :mod:`.ess` — effective sample size (ELIR, moment, Morita);
* :mod:`.power` — power prior and its ESS cap, no-borrowing and full-pooling baselines;
* :mod:`.commensurate` — commensurate priors: hyperprior on tau (Hobbs), or tau fixed;
* :mod:`.conflict` — prior-data conflict p-values;
* :mod:`.checks` — prior predictive sanity check of the hierarchical models;
* :mod:`.map_prior` — MAP prior end to end and the ``map-prior`` CLI summary;
* :mod:`.operating` — operating characteristics by simulation;
* :mod:`.survival` — the series' information on the 177Lu arm's log median survival.
"""

from prrt_bayes.borrowing.binomial_map import (
    BinomialMapPosterior,
    binomial_map_exact,
    binomial_map_model,
)
from prrt_bayes.borrowing.checks import prior_predictive_check
from prrt_bayes.borrowing.commensurate import (
    DEFAULT_TAU_PRIOR,
    SpikeSlab,
    commensurability_nodes,
    commensurate_prior,
    commensurate_prior_fixed,
    posterior_informed_prior,
)
from prrt_bayes.borrowing.conflict import ConflictCheck, conflict
from prrt_bayes.borrowing.ess import ess
from prrt_bayes.borrowing.inputs import (
    StudyEstimate,
    approximate_events,
    as_mu_prior,
    as_tau_prior,
    log_median_estimate,
    se_from_ci,
    validate_counts,
    validate_estimates,
    validate_weight,
)
from prrt_bayes.borrowing.map_prior import (
    map_prior_counts,
    map_prior_estimates,
    map_prior_summary,
)
from prrt_bayes.borrowing.meta import (
    NormalNormalPosterior,
    normal_normal_exact,
    normal_normal_model,
)
from prrt_bayes.borrowing.meta_regression import meta_regression_exact
from prrt_bayes.borrowing.mixtures import (
    fit_beta_mixture,
    fit_mixture_auto,
    fit_normal_mixture,
    robustify,
)
from prrt_bayes.borrowing.operating import operating_characteristics
from prrt_bayes.borrowing.power import (
    MAX_PRIOR_ESS_FRACTION,
    UNIFORM_BETA,
    VAGUE_NORMAL,
    VAGUE_SD,
    PowerPriorCap,
    external_information,
    full_pooling,
    no_borrowing,
    power_prior,
    power_prior_cap,
)
from prrt_bayes.core.priors import BetaMixture, NormalMixture

__all__ = [
    "DEFAULT_TAU_PRIOR",
    "MAX_PRIOR_ESS_FRACTION",
    "UNIFORM_BETA",
    "VAGUE_NORMAL",
    "VAGUE_SD",
    "BetaMixture",
    "BinomialMapPosterior",
    "ConflictCheck",
    "NormalMixture",
    "NormalNormalPosterior",
    "PowerPriorCap",
    "SpikeSlab",
    "StudyEstimate",
    "approximate_events",
    "as_mu_prior",
    "as_tau_prior",
    "binomial_map_exact",
    "binomial_map_model",
    "commensurability_nodes",
    "commensurate_prior",
    "commensurate_prior_fixed",
    "conflict",
    "ess",
    "external_information",
    "fit_beta_mixture",
    "fit_mixture_auto",
    "fit_normal_mixture",
    "full_pooling",
    "log_median_estimate",
    "map_prior_counts",
    "map_prior_estimates",
    "map_prior_summary",
    "meta_regression_exact",
    "no_borrowing",
    "normal_normal_exact",
    "normal_normal_model",
    "operating_characteristics",
    "posterior_informed_prior",
    "power_prior",
    "power_prior_cap",
    "prior_predictive_check",
    "robustify",
    "se_from_ci",
    "validate_counts",
    "validate_estimates",
    "validate_weight",
]
