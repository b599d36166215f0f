"""Adverse events (hierarchical and independent models) and long-term MDS risk, and their analysis."""
