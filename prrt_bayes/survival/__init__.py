"""Bayesian survival models: interval aggregation, PH and parametric models, derived quantities."""
