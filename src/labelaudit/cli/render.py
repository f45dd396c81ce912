"""Rendering of Reports on stdout (the serialisers are core.formats; the Rich views are cli.views), and
the progress bars on stderr. Nothing here computes a result: every number comes from the Report."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labelaudit.core.report import Report

TERMINAL_ROWS = 25  # rows a terminal table shows when --top is not given


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def resolve_format(fmt: Any) -> str:
    if fmt is not None:
        return fmt.value if hasattr(fmt, "value") else str(fmt)
    return "table" if stdout_is_terminal() else "csv"


def show(report: Report, fmt: str, files: list, labels_path: str) -> None:
    """The report on stdout in `fmt` (table, csv, json, junit or github)."""
    from labelaudit.core import formats

    if fmt == "table":
        from labelaudit.cli import views

        views.show(report)
        return
    if fmt == "json":
        text = formats.to_json(formats.document(report, [f.describe() for f in files]))
    elif fmt == "csv":
        text = formats.to_csv(report.listing)
    elif fmt == "junit":
        text = formats.to_junit(report)
    else:
        text = formats.to_github(report, labels_path)
    sys.stdout.write(text)


def print_json(doc: dict) -> None:
    from labelaudit.core.formats import to_json

    sys.stdout.write(to_json(doc))


class PassProgress:
    """A Rich progress bar per pass on stderr (rows/s, ETA); a no-op when disabled."""

    def __init__(self, total_rows: int, enabled: bool):
        self.total = total_rows
        self.enabled = enabled
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> PassProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
            from rich.text import Text

            class RowsPerSecond(ProgressColumn):
                def render(self, task: Any) -> Text:
                    return Text(
                        f"{task.speed:,.0f} rows/s" if task.speed else "", style="progress.data.speed"
                    )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} rows"),
                RowsPerSecond(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.__enter__()
        return self

    def __call__(self, name: str, rows: int) -> None:
        if self._bar is None:
            return
        if name not in self._tasks:
            self._tasks[name] = self._bar.add_task(name, total=self.total)
        self._bar.advance(self._tasks[name], rows)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def progress_enabled(quiet: bool) -> bool:
    import os

    return not quiet and sys.stderr.isatty() and "NO_COLOR" not in os.environ
