"""labelaudit evaluate: score a detector's flagged set and scores against known true labels."""

from __future__ import annotations

from labelaudit.cli import options as o
from labelaudit.cli.app import app, command
from labelaudit.cli.common import finish
from labelaudit.errors import InputError


@app.command("evaluate")
@command
def evaluate(
    labels: o.Labels,
    true_labels: o.TrueLabels,
    issues: o.Issues = None,
    scores: o.Scores = None,
    fmt: o.TableFormat = None,
    quiet: o.Quiet = False,
) -> None:
    """Precision, recall and F1 of flagged issues, and AUROC of scores, against known true labels."""
    import numpy as np

    from labelaudit.core.metrics import evaluate as score_detector
    from labelaudit.io import InputFile, read_flagged_rows, read_npy

    if issues is None and scores is None:
        raise InputError("give --issues (a find-issues output) and/or --scores (a rank .npy output)")
    y = np.asarray(read_npy(labels, "labels"))
    t = np.asarray(read_npy(true_labels, "true labels"))
    flagged = read_flagged_rows(issues, len(y)) if issues is not None else None
    s = np.asarray(read_npy(scores, "scores")) if scores is not None else None
    try:
        report = score_detector(y, t, flagged=flagged, scores=s)
    except InputError as exc:
        raise InputError(f"{scores if 'scores' in str(exc) else true_labels}: {exc}") from None
    roles = {"labels": labels, "true_labels": true_labels, "issues": issues, "scores": scores}
    files = [InputFile(role, path) for role, path in roles.items() if path]
    finish(report, files, output=None, fmt=fmt or o.OutputFormat.table, quiet=quiet, labels_path=labels)
