"""Reconstruction of individual patient data from published Kaplan-Meier curves and summaries."""
