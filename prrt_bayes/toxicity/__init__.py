"""Adverse events (hierarchical and independent models), long-term MDS risk, their analysis."""
