"""Objective response: the two-arm binomial model, borrowing from the series, and its analysis."""
