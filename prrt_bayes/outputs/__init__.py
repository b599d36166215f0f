"""What a run writes for people and cost-effectiveness models: PSA exports, plots, the report,
and the escaping that keeps text inert in CSV, Excel and HTML."""
