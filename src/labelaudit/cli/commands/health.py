"""labelaudit health: dataset-level label health, per-class quality and the noise matrices."""

from __future__ import annotations

from typing import Any

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import app, command
from labelaudit.cli.common import DOCUMENT_OUTPUTS, check_outputs, finish
from labelaudit.errors import InputError


@app.command("health")
@command
def health(
    labels: o.Labels,
    pred_probs: o.PredProbs,
    num_examples: o.NumExamples = None,
    fail_under: o.FailUnder = None,
    plot: o.Plot = None,
    task: o.TaskOpt = o.Task.multiclass,
    sentence_lengths: o.SentenceLengths = None,
    tokens: o.TokensColumn = None,
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
    """Overall label health score, per-class label quality, and the joint and noise matrices.

    The health score is 1 - (number of label issues) / N; the class table is sorted most problematic
    class first. A .json output holds the full report; .csv/.parquet outputs hold the class table.
    """
    from labelaudit.core.context import Context
    from labelaudit.core.topk import context
    from labelaudit.io import MultilabelData, ReadOptions, TokenData, load_task

    o.refuse_unsupported("health", task)
    check_outputs(output, DOCUMENT_OUTPUTS, fmt)
    if plot:
        _check_plot(plot)
    read = ReadOptions(label_column, prob_columns, class_names, None, from_logits, sentence_lengths, tokens)
    ds = load_task(task.value, labels, o.one_model(pred_probs, "health"), read)  # its type follows the task
    gate: dict[str, Any] = dict(fail_under=fail_under, class_names=ds.class_names)
    if isinstance(ds, MultilabelData):
        from labelaudit.core.multilabel import health_report

        report = health_report(ds.labels, ds.pred_probs, **gate)
    elif isinstance(ds, TokenData):
        from labelaudit.core.token import health_report as token_health

        ctx = Context(ds.labels, ds.pred_probs, batch_size, n_jobs)
        report = token_health(ctx, ds.lengths, tokens=ds.tokens, num_examples=num_examples, **gate)
    else:
        from labelaudit.core.health import health as multiclass_health

        mctx = context(ds.labels, ds.pred_probs, batch_size, n_jobs, ds.self_conf)
        with render.PassProgress(ds.n, render.progress_enabled(quiet, ds.n * ds.k)) as mctx.progress:
            report = multiclass_health(mctx, num_examples=num_examples, **gate)
        if plot:
            from labelaudit.core.rank import scores_for_rows
            from labelaudit.io.plots import write_health_plot

            scores = scores_for_rows(mctx, None, "self_confidence")
            write_health_plot(plot, report.results["noise_matrix"], scores, ds.class_names)
    finish(report, ds.files, output=output, fmt=fmt, quiet=quiet, labels_path=labels, json_document=True)


def _check_plot(path: str) -> None:
    if not path.lower().endswith((".png", ".svg")):
        raise InputError(f"{path}: --plot needs a .png or .svg file name")
    if path.lower().endswith(".svg"):
        return  # our own SVG up to 60 classes (io.plots says when a larger one needs matplotlib)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'labelaudit[plot]'") from None
