"""Shared machinery with no endpoint knowledge: errors, priors, sampling, the diagnostics gate,
summaries, posterior storage and the result record every analysis returns."""
