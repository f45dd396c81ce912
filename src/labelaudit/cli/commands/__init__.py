"""One module per command; importing them registers the commands on the app."""

from labelaudit.cli.commands import batched, doctor, find_issues, health, overlap, rank, simulate  # noqa: F401
