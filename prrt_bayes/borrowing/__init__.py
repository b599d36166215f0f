"""Borrowing from external studies: MAP, robust MAP, power and commensurate priors.

Building blocks, one job per module:

* :mod:`.inputs` — standard errors from reported CIs / medians, input validation, prior strings;
* :mod:`.meta` — normal-normal hierarchical model (exact quadrature and PyMC);
* :mod:`.meta_regression` — the same with study covariates (population type), exact;
* :mod:`.binomial_map` — binomial-logit MAP model as RBesT ``gMAP`` (exact and PyMC);
* :mod:`.mixtures` — normal / beta mixture priors, EM fits, conjugate updates;
* :mod:`.ess` — effective sample size (ELIR, moment);
* :mod:`.power` — power and commensurate priors, no-borrowing and full-pooling baselines;
* :mod:`.conflict` — prior-data conflict p-values;
* :mod:`.checks` — prior predictive sanity check of the hierarchical models;
* :mod:`.map_prior` — MAP prior end to end and the ``map-prior`` CLI summary;
* :mod:`.operating` — operating characteristics by simulation.
"""

from prrt_bayes.borrowing.binomial_map import (
    BinomialMapPosterior,
    binomial_map_exact,
    binomial_map_model,
)
from prrt_bayes.borrowing.checks import prior_predictive_check
from prrt_bayes.borrowing.conflict import ConflictCheck, conflict_beta, conflict_normal
from prrt_bayes.borrowing.ess import ess, ess_beta, ess_normal
from prrt_bayes.borrowing.inputs import (
    PriorSpec,
    StudyEstimate,
    approximate_events,
    log_median_estimate,
    parse_float_list,
    parse_prior,
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
    BetaMixture,
    NormalMixture,
    fit_beta_mixture,
    fit_mixture_auto,
    fit_normal_mixture,
)
from prrt_bayes.borrowing.operating import operating_characteristics
from prrt_bayes.borrowing.power import (
    commensurate_prior_beta,
    commensurate_prior_normal,
    full_pooling_beta,
    full_pooling_normal,
    no_borrowing_beta,
    no_borrowing_normal,
    power_prior_beta,
    power_prior_normal,
)

__all__ = [
    "BetaMixture",
    "BinomialMapPosterior",
    "ConflictCheck",
    "NormalMixture",
    "NormalNormalPosterior",
    "PriorSpec",
    "StudyEstimate",
    "approximate_events",
    "binomial_map_exact",
    "binomial_map_model",
    "commensurate_prior_beta",
    "commensurate_prior_normal",
    "conflict_beta",
    "conflict_normal",
    "ess",
    "ess_beta",
    "ess_normal",
    "fit_beta_mixture",
    "fit_mixture_auto",
    "fit_normal_mixture",
    "full_pooling_beta",
    "full_pooling_normal",
    "log_median_estimate",
    "map_prior_counts",
    "map_prior_estimates",
    "map_prior_summary",
    "meta_regression_exact",
    "no_borrowing_beta",
    "no_borrowing_normal",
    "normal_normal_exact",
    "normal_normal_model",
    "operating_characteristics",
    "parse_float_list",
    "parse_prior",
    "power_prior_beta",
    "power_prior_normal",
    "prior_predictive_check",
    "se_from_ci",
    "validate_counts",
    "validate_estimates",
    "validate_weight",
]
