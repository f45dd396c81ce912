"""labelaudit rank: label quality score of every example, or the order of a given flagged set."""

from __future__ import annotations

from typing import Any

from labelaudit.cli import options as o
from labelaudit.cli.app import app, command
from labelaudit.cli.common import check_outputs, finish, load_models, wants_stdout
from labelaudit.errors import InputError


@app.command("rank")
@command
def rank(
    labels: o.Labels,
    pred_probs: o.PredProbsMany,
    method: o.Method = o.ScoreMethod.self_confidence,
    adjust_pred_probs: o.Adjust = False,
    order_issues: o.OrderIssues = None,
    task: o.TaskOpt = o.Task.multiclass,
    per_class: o.PerClass = False,
    aggregator: o.Aggregator = "exponential_moving_average",
    alpha: o.Alpha = 0.8,
    temperature: o.Temperature = None,
    sentence_method: o.SentenceMethod = "min",
    sentence_lengths: o.SentenceLengths = None,
    tokens: o.TokensColumn = None,
    output: o.Output = None,
    fmt: o.Format = None,
    top: o.Top = None,
    label_column: o.LabelColumn = None,
    prob_columns: o.ProbColumns = None,
    class_names: o.ClassNames = None,
    id_column: o.IdColumn = None,
    from_logits: o.FromLogits = False,
    weight_by: o.WeightByOpt = o.WeightBy.accuracy,
    weights: o.Weights = None,
    batch_size: o.BatchSize = None,
    n_jobs: o.NJobs = 1,
    quiet: o.Quiet = False,
) -> None:
    """Score every example's label quality; list the flagged examples by that score.

    Without --order-issues the listed examples are those find-issues flags with its defaults; a .npy
    output then holds the float64 scores of all N examples in input order. With --order-issues the
    listing is that set, most severe first, and a .npy output holds its int64 indices in that order.
    """
    from labelaudit.core.context import Context
    from labelaudit.io import ReadOptions, TaskData, load_task

    o.refuse_unsupported("rank", task)
    ema, soft = aggregator == "exponential_moving_average", "softmin" in (aggregator, sentence_method)
    unused = [f for f, bad in (("--alpha", not ema), ("--temperature", not soft)) if bad and o.given(f[2:])]
    if unused:
        raise InputError(
            f"{unused[0]} does not apply: --alpha goes with the moving average, --temperature with softmin"
        )
    check_outputs(output, fmt=fmt)
    read = ReadOptions(
        label_column, prob_columns, class_names, id_column, from_logits, sentence_lengths, tokens
    )
    common: dict[str, Any] = dict(method=method.value, adjust_pred_probs=adjust_pred_probs, top=top)
    if task == o.Task.multilabel:
        from labelaudit.core.multilabel import rank_report

        ds: TaskData = load_task("multilabel", labels, o.one_model(pred_probs, "--task multilabel"), read)
        common.update(temperature=0.1 if temperature is None else temperature, class_names=ds.class_names)
        report = rank_report(
            ds.labels, ds.pred_probs, per_class=per_class, aggregator=aggregator, alpha=alpha, **common
        )
    elif task == o.Task.token:
        from labelaudit.core.token import rank_report as token_rank

        ds = load_task("token", labels, o.one_model(pred_probs, "--task token"), read)
        common.update(temperature=0.05 if temperature is None else temperature, class_names=ds.class_names)
        ctx = Context(ds.labels, ds.pred_probs, batch_size, n_jobs)
        report = token_rank(ctx, ds.lengths, sentence_method=sentence_method, **common)
    else:
        from labelaudit.core import issues
        from labelaudit.io import read_flagged_rows

        perf = dict(n_jobs=n_jobs, batch_size=batch_size)
        ds, model_ctx, ensemble = load_models(
            labels, pred_probs, read, weight_by=weight_by.value, weights=weights, **perf
        )
        given = read_flagged_rows(order_issues, ds.n) if order_issues is not None else None
        json_out = wants_stdout(output, fmt) and fmt == o.OutputFormat.json
        table_file = bool(output) and not str(output).lower().endswith(".npy")
        report = issues.rank(
            model_ctx,
            given=given,
            order_issues=order_issues,
            class_names=ds.class_names,
            ids=ds.ids,
            ensemble=ensemble,
            all_scores=json_out or bool(output),
            all_rows=table_file,
            **common,
        )
    finish(report, ds.files, output=output, fmt=fmt, quiet=quiet, labels_path=labels)
