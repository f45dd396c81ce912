"""Command line: Typer + Rich only; parsing and rendering, with all work in io and core."""

from labelaudit.cli.app import app, main
from labelaudit.cli.commands import batched, doctor, find_issues, health, overlap, rank, simulate  # noqa: F401  (registers the commands)

__all__ = ["app", "main"]
