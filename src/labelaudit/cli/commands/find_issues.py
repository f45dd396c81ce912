"""labelaudit find-issues: flag likely label errors, most severe first."""

from __future__ import annotations

from labelaudit.cli import options as o
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
    from labelaudit.core.issues import Detection, Listing

    o.refuse_unsupported("find-issues", task)
    check_outputs(output)
    detect = dict(
        filter_by=filter_by.value,
        rank_by=rank_by.value,
        adjust_pred_probs=adjust_pred_probs,
        frac_noise=frac_noise,
        min_examples_per_class=min_examples_per_class,
    )
    gates = dict(top=top, mask=mask, max_issues=max_issues, max_issue_rate=max_issue_rate)
    read = dict(label_column=label_column, class_names_path=class_names)
    if task == o.Task.multilabel:
        from labelaudit.core.multilabel import find_report
        from labelaudit.io.multilabel import load_multilabel

        ds = load_multilabel(
            labels, o.one_model(pred_probs, "--task multilabel"), prob_columns=prob_columns, **read
        )
        report = find_report(
            ds.labels,
            ds.pred_probs,
            per_class=per_class,
            class_names=ds.class_names,
            num_to_remove_per_class=per_class_counts(num_to_remove_per_class, ds.k),
            **detect,
            **gates,
        )
    elif task == o.Task.token:
        from labelaudit.core.context import Context
        from labelaudit.core.token import find_report
        from labelaudit.io.token import load_tokens

        ds = load_tokens(
            labels,
            o.one_model(pred_probs, "--task token"),
            sentence_lengths=sentence_lengths,
            tokens_column=tokens,
            from_logits=from_logits,
            **read,
        )
        ctx = Context(ds.labels, ds.pred_probs, batch_size, n_jobs)
        report = find_report(
            ctx,
            ds.lengths,
            tokens=ds.tokens,
            by=by,
            class_names=ds.class_names,
            num_to_remove_per_class=per_class_counts(num_to_remove_per_class, ds.k),
            **detect,
            **gates,
        )
    elif low_memory:
        from labelaudit.cli.commands.batched import run_stream

        if baseline is not None:
            raise InputError("--baseline is not available with --low-memory yet")
        ds, report = run_stream(
            "find-issues",
            labels,
            o.one_model(pred_probs, "--low-memory"),
            exact=True,
            detect=detect,
            listing=Listing(**gates),
            counts=num_to_remove_per_class,
            quiet=quiet,
            n_jobs=n_jobs,
            batch_size=batch_size,
            prob_columns=prob_columns,
            id_column=id_column,
            from_logits=from_logits,
            **read,
        )
    else:
        from labelaudit.core.issues import find_issues as find

        ds, ctx, ensemble = load_models(
            labels,
            pred_probs,
            weight_by=weight_by.value,
            weights=weights,
            n_jobs=n_jobs,
            batch_size=batch_size,
            prob_columns=prob_columns,
            id_column=id_column,
            from_logits=from_logits,
            **read,
        )
        base = load_baseline(baseline, "find-issues", ds.k, ds.class_names, id_column)
        # Per-example rows cost a pass over the flagged rows: skipped when only a .npy is written.
        rows = not (output or "").lower().endswith(".npy") or wants_stdout(output, fmt)
        detection = Detection(
            num_to_remove_per_class=per_class_counts(num_to_remove_per_class, ds.k), **detect
        )
        report = find(
            ctx,
            detection,
            Listing(rows=rows, **gates),
            baseline=base,
            class_names=ds.class_names,
            ids=ds.ids,
            ensemble=ensemble,
        )
    finish(report, ds.files, output=output, fmt=fmt, quiet=quiet, labels_path=labels)
