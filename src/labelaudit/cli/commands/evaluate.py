"""labelaudit evaluate: score a detector's flagged set and scores against known true labels."""

from __future__ import annotations

from typing import Annotated

import typer

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import app, command
from labelaudit.errors import InputError


@app.command("evaluate")
@command
def evaluate(
    labels: o.Labels,
    true_labels: Annotated[
        str, typer.Option("--true-labels", "-t", help="The correct labels (.npy), e.g. from simulate.")
    ],
    issues: Annotated[
        str | None,
        typer.Option(help="A find-issues output: .npy indices or mask, or a table with an 'index' column."),
    ] = None,
    scores: Annotated[
        str | None,
        typer.Option(help="A rank output: .npy float scores of all N examples (lower = more suspicious)."),
    ] = None,
    fmt: o.Format = None,
    quiet: o.Quiet = False,
) -> None:
    """Precision, recall and F1 of flagged issues, and AUROC of scores, against known true labels."""
    import numpy as np

    from labelaudit.core import metrics
    from labelaudit.core.rank import flagged_rows
    from labelaudit.io import read_issue_set, read_npy

    if issues is None and scores is None:
        raise InputError("give --issues (a find-issues output) and/or --scores (a rank .npy output)")
    y = np.asarray(read_npy(labels, "labels"))
    t = np.asarray(read_npy(true_labels, "true labels"))
    if y.shape != t.shape or y.ndim != 1:
        raise InputError(
            f"{true_labels}: true labels have shape {t.shape}, labels {y.shape}; they must match"
        )
    is_error = y != t
    result: dict = {"n_examples": len(y), "n_label_errors": int(is_error.sum())}
    if issues is not None:
        try:
            rows = flagged_rows(read_issue_set(issues, len(y)), len(y))
        except InputError as exc:
            raise InputError(f"{issues}: {exc}") if issues not in str(exc) else exc from None
        result["issues"] = metrics.set_metrics(rows, is_error)
    if scores is not None:
        s = np.asarray(read_npy(scores, "scores"), dtype=np.float64)
        if s.shape != y.shape:
            raise InputError(f"{scores}: scores have shape {s.shape} but there are {len(y)} labels")
        result["scores"] = {
            "auroc": metrics.auroc(s, is_error),
            **metrics.top_k_metrics(s, is_error, int(is_error.sum())),
        }
    if render.resolve_format(fmt) == "json":
        render.print_json({"command": "evaluate", **result})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Against {result['n_label_errors']} known label errors in {len(y)} examples",
        header_style="bold",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.get("issues", {}).items():
        table.add_row(f"issues: {key}", f"{value:.4f}" if isinstance(value, float) else str(value))
    for key, value in result.get("scores", {}).items():
        table.add_row(f"scores: {key}", f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)
