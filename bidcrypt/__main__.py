"""``python -m bidcrypt`` runs the command line."""

from bidcrypt.cli import run

run()
