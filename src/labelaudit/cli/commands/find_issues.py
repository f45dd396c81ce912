"""labelaudit find-issues: flag likely label errors, most severe first."""

from __future__ import annotations

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import app, command
from labelaudit.cli.common import (
    check_outputs,
    finish,
    load_baseline,
    load_models,
    per_class_counts,
    wants_stdout,
)
from labelaudit.errors import InputError


@app.command("find-issues")
@command
def find_issues(
    labels: o.Labels,
    pred_probs: o.PredProbsMany,
    filter_by: o.FilterByOpt = o.FilterBy.prune_by_noise_rate,
    rank_by: o.RankBy = o.ScoreMethod.self_confidence,
    adjust_pred_probs: o.Adjust = False,
    frac_noise: o.FracNoise = 1.0,
    num_to_remove_per_class: o.PerClassCounts = None,
    min_examples_per_class: o.MinPerClass = 1,
    max_issues: o.MaxIssues = None,
    max_issue_rate: o.MaxIssueRate = None,
    baseline: o.Baseline = None,
    baseline_any_data: o.BaselineAnyData = False,
    output: o.Output = None,
    mask: o.Mask = False,
    fmt: o.Format = None,
    top: o.Top = None,
    label_column: o.LabelColumn = None,
    prob_columns: o.ProbColumns = None,
    class_names: o.ClassNames = None,
    id_column: o.IdColumn = None,
    from_logits: o.FromLogits = False,
    task: o.TaskOpt = o.Task.multiclass,
    per_class: o.PerClass = False,
    sentence_lengths: o.SentenceLengths = None,
    tokens: o.TokensColumn = None,
    by: o.By = "token",
    low_memory: o.LowMemory = False,
    weight_by: o.WeightByOpt = o.WeightBy.accuracy,
    weights: o.Weights = None,
    batch_size: o.BatchSize = None,
    n_jobs: o.NJobs = 1,
    quiet: o.Quiet = False,
) -> None:
    """Flag likely label errors (confident learning), ranked most severe first."""
    from labelaudit.core.report import Detection, Listing
    from labelaudit.io import ReadOptions, TaskData, load_task

    o.refuse_unsupported("find-issues", task)
    check_outputs(output, fmt=fmt)
    read = ReadOptions(
        label_column, prob_columns, class_names, id_column, from_logits, sentence_lengths, tokens
    )
    perf = dict(n_jobs=n_jobs, batch_size=batch_size)
    # Per-example rows cost a pass over the flagged rows: skipped when only a .npy is written.
    rows = not (output or "").lower().endswith(".npy") or wants_stdout(output, fmt)
    listing = Listing(top=top, mask=mask, max_issues=max_issues, max_issue_rate=max_issue_rate, rows=rows)

    def detection(k: int) -> Detection:
        counts = per_class_counts(num_to_remove_per_class, k)
        return Detection(
            filter_by.value, rank_by.value, adjust_pred_probs, frac_noise, counts, min_examples_per_class
        )

    if task == o.Task.multilabel:
        from labelaudit.core.multilabel import find_report

        ds: TaskData = load_task("multilabel", labels, o.one_model(pred_probs, "--task multilabel"), read)
        names = ds.class_names
        report = find_report(
            ds.labels, ds.pred_probs, detection(ds.k), listing, per_class=per_class, class_names=names
        )
    elif task == o.Task.token:
        from labelaudit.core.context import Context
        from labelaudit.core.token import find_report as token_report

        ds = load_task("token", labels, o.one_model(pred_probs, "--task token"), read)
        ctx, names = Context(ds.labels, ds.pred_probs, batch_size, n_jobs), ds.class_names
        report = token_report(
            ctx, ds.lengths, detection(ds.k), listing, tokens=ds.tokens, by=by, class_names=names
        )
    elif low_memory:
        from labelaudit.cli.commands.batched import run_stream

        if baseline is not None or baseline_any_data:
            raise InputError("--baseline is not available with --low-memory yet")
        path = o.one_model(pred_probs, "--low-memory")
        ds, report = run_stream("find-issues", labels, path, read, detection, listing, quiet=quiet, **perf)
    else:
        from labelaudit.core.issues import find_issues as find

        ds, model_ctx, ensemble = load_models(
            labels, pred_probs, read, weight_by=weight_by.value, weights=weights, **perf
        )
        base, names = load_baseline(baseline, ds, id_column, baseline_any_data), ds.class_names
        with render.PassProgress(ds.n, render.progress_enabled(quiet, ds.n * ds.k)) as model_ctx.progress:
            report = find(
                model_ctx,
                detection(ds.k),
                listing,
                baseline=base,
                class_names=names,
                ids=ds.ids,
                ensemble=ensemble,
            )
    finish(report, ds.files, output=output, fmt=fmt, quiet=quiet, labels_path=labels)
