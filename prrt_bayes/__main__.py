"""``python -m prrt_bayes`` runs the CLI."""

from prrt_bayes.cli import app

app(prog_name="prrt-bayes")
