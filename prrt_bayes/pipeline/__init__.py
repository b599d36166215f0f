"""From spec files to a results folder: specs, the registry of analysis kinds, the runner,
parallel workers, sweeps and atomic folders."""
