"""Rendering of Reports on stdout (the serialisers are core.formats; the Rich views are cli.views), and
the progress bars on stderr. Nothing here computes a result: every number comes from the Report."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labelaudit.core.report import Report

TERMINAL_ROWS = 25  # rows a terminal table shows when --top is not given
BAR_ELEMENTS = 50_000_000  # pred_probs elements below which an in-memory run is over too soon for a bar


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def resolve_format(fmt: Any) -> str:
    if fmt is not None:
        return fmt.value if hasattr(fmt, "value") else str(fmt)
    return "table" if stdout_is_terminal() else "csv"


def show(report: Report, fmt: str, files: list, labels_path: str) -> None:
    """The report on stdout in `fmt` (table, csv, json, junit, github or markdown)."""
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
    elif fmt == "markdown":
        text = formats.to_markdown(report)
    else:
        text = formats.to_github(report, labels_path)
    sys.stdout.write(text)


def print_json(doc: dict) -> None:
    from labelaudit.core.formats import to_json

    sys.stdout.write(to_json(doc))


class PassProgress:
    """One Rich bar per pass on stderr, fitted to the terminal (rows done, rate and time only beside a bar
    of 20); a no-op when disabled. Rows come in order, from one thread (batching.reported): bars end full."""

    console: Any = None  # the Rich console drawn on (stderr unless set)
    TEXTS = ("{task.description}", "{task.percentage:>3.0f}%", "{task.completed:,}/{task.total:,} rows")

    def __init__(self, total_rows: int, enabled: bool, console: Any = None):
        self.total, self.enabled, self.console = total_rows, enabled, console or self.console
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> PassProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
            from rich.table import Column
            from rich.text import Text

            class RowsPerSecond(ProgressColumn):
                def render(self, task: Any) -> Text:
                    speed = task.finished_speed or task.speed
                    return Text(f"{speed:,.0f} rows/s" if speed else "", style="progress.data.speed")

            console = self.console or Console(stderr=True)
            widths = [21, 4, 2 * len(f"{self.total:,}") + 6, 18, 8]  # 21: "D: short-cell margins"
            widths = widths if console.width - sum(widths) - 6 >= 20 else widths[:2]  # keep a bar of 20
            fit = [Column(width=w, no_wrap=True, overflow="ellipsis") for w in widths]
            cols: list[Any] = [TextColumn(t, table_column=c) for t, c in zip(self.TEXTS, fit, strict=False)]
            if len(fit) > 2:
                time = TimeRemainingColumn(elapsed_when_finished=True, table_column=fit[4])
                cols += [RowsPerSecond(fit[3]), time]
            room = console.width - sum(widths) - len(widths) - 1
            cols.insert(1, BarColumn(bar_width=min(40, max(5, room))))
            self._bar = Progress(*cols, console=console, redirect_stdout=False)
            self._bar.__enter__()
        return self

    def __call__(self, name: str, rows: int) -> None:
        if self._bar is not None:
            if name not in self._tasks:
                self._tasks[name] = self._bar.add_task(name, total=self.total)
            self._bar.advance(self._tasks[name], rows)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def progress_enabled(quiet: bool, elements: int | None = None) -> bool:
    """Progress on stderr: on a terminal, without --quiet or NO_COLOR, and (in memory) for a large input."""
    large = elements is None or elements > BAR_ELEMENTS
    return large and not quiet and sys.stderr.isatty() and "NO_COLOR" not in os.environ
