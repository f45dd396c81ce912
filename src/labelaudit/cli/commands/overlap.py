"""labelaudit overlap: pairs of classes that the labels confuse most."""

from __future__ import annotations

from typing import Any

from labelaudit.cli import options as o
from labelaudit.cli.app import app, command
from labelaudit.cli.common import DOCUMENT_OUTPUTS, check_outputs, finish


@app.command("overlap")
@command
def overlap(
    labels: o.Labels,
    pred_probs: o.PredProbs,
    asymmetric: o.Asymmetric = False,
    num_examples: o.NumExamples = None,
    fail_over: o.FailOver = None,
    top: o.Top = None,
    output: o.Output = None,
    fmt: o.Format = None,
    label_column: o.LabelColumn = None,
    prob_columns: o.ProbColumns = None,
    class_names: o.ClassNames = None,
    from_logits: o.FromLogits = False,
    batch_size: o.BatchSize = None,
    n_jobs: o.NJobs = 1,
    quiet: o.Quiet = False,
) -> None:
    """Class pairs the labels confuse most: overlapping examples and joint probability, largest first."""
    from labelaudit.core.health import overlap as class_overlap
    from labelaudit.core.topk import context
    from labelaudit.io import ReadOptions, load_task

    check_outputs(output, DOCUMENT_OUTPUTS, fmt)
    read = ReadOptions(label_column, prob_columns, class_names, None, from_logits)
    ds = load_task("multiclass", labels, o.one_model(pred_probs, "overlap"), read)
    ctx = context(ds.labels, ds.pred_probs, batch_size, n_jobs, ds.self_conf)
    gate: dict[str, Any] = dict(top=top, fail_over=fail_over, class_names=ds.class_names)
    report = class_overlap(ctx, asymmetric=asymmetric, num_examples=num_examples, **gate)
    finish(report, ds.files, output=output, fmt=fmt, quiet=quiet, labels_path=labels, json_document=True)
