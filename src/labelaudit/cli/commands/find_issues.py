"""labelaudit find-issues: flag likely label errors, most severe first."""

from __future__ import annotations

from typing import Annotated

import typer

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import app, command, err
from labelaudit.cli.commands._shared import (
    FIND_OUTPUTS,
    add_member_columns,
    apply_baseline,
    emit,
    emit_ci,
    ensemble_scores,
    int_list,
    issue_gates,
    load_models,
    raise_failed_gate,
    stdout_listing,
    write_listing,
)
from labelaudit.errors import InputError

DETECT = "Detection"
GATES = "Gates (exit 1 when one fails)"


@app.command("find-issues")
@command
def find_issues(
    labels: o.Labels,
    pred_probs: o.PredProbsMany,
    filter_by: Annotated[
        o.FilterBy, typer.Option(help="How to flag issues.", rich_help_panel=DETECT)
    ] = o.FilterBy.prune_by_noise_rate,
    rank_by: Annotated[
        o.ScoreMethod,
        typer.Option(help="Score that orders issues (lowest = most severe).", rich_help_panel=DETECT),
    ] = o.ScoreMethod.self_confidence,
    adjust_pred_probs: Annotated[
        bool,
        typer.Option(
            help="Subtract class thresholds before scoring for the ranking.", rich_help_panel=DETECT
        ),
    ] = False,
    frac_noise: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Flag only this fraction of the estimated issues (prune filters).",
            rich_help_panel=DETECT,
        ),
    ] = 1.0,
    num_to_remove_per_class: Annotated[
        str | None,
        typer.Option(
            help="Comma list of K counts to flag per class (prune filters).", rich_help_panel=DETECT
        ),
    ] = None,
    min_examples_per_class: Annotated[
        int,
        typer.Option(min=0, help="Leave at least this many examples in each class.", rich_help_panel=DETECT),
    ] = 1,
    max_issues: Annotated[
        int | None, typer.Option(min=0, help="Fail when more than N issues are found.", rich_help_panel=GATES)
    ] = None,
    max_issue_rate: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="Fail when the issue rate exceeds FRACTION.", rich_help_panel=GATES
        ),
    ] = None,
    baseline: o.Baseline = None,
    output: o.Output = None,
    mask: Annotated[
        bool,
        typer.Option(
            "--mask",
            help="A .npy output holds a bool mask of length N instead of ranked indices.",
            rich_help_panel=o.OUTPUT,
        ),
    ] = False,
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
    by: Annotated[
        str, typer.Option(help="token: list issues per 'token' or per 'sentence'.", rich_help_panel=o.TASKS)
    ] = "token",
    low_memory: Annotated[
        bool,
        typer.Option(
            "--low-memory",
            help="Stream pred_probs in bounded memory (same result; see `batched --exact`).",
            rich_help_panel="Performance",
        ),
    ] = False,
    weight_by: o.WeightByOpt = o.WeightBy.accuracy,
    weights: o.Weights = None,
    batch_size: o.BatchSize = None,
    n_jobs: o.NJobs = 1,
    quiet: o.Quiet = False,
) -> None:
    """Flag likely label errors (confident learning), ranked most severe first."""
    import numpy as np

    from labelaudit.core import issue_rows, order_rows
    from labelaudit.core.summary import example_rows
    from labelaudit.io import check_output_path

    fmt_name = render.resolve_format(fmt)
    if output:
        check_output_path(output, FIND_OUTPUTS)
    if task != o.Task.multiclass:
        from labelaudit.cli.commands import tasks

        if low_memory or baseline is not None:
            raise InputError(f"--low-memory and --baseline are for --task multiclass, not {task.value}")
        if by not in ("token", "sentence"):
            raise InputError(f"--by must be 'token' or 'sentence', got {by!r}")
        params = {
            "filter_by": filter_by.value,
            "rank_by": rank_by.value,
            "adjust_pred_probs": adjust_pred_probs,
            "frac_noise": frac_noise,
            "min_examples_per_class": min_examples_per_class,
            "top": top,
        }
        common = {
            "output": output,
            "fmt": fmt,
            "fmt_name": fmt_name,
            "top": top,
            "max_issues": max_issues,
            "max_issue_rate": max_issue_rate,
            "quiet": quiet,
        }
        if task == o.Task.multilabel:
            ds = tasks.load_ml(labels, pred_probs, label_column, prob_columns, class_names)
            params["num_to_remove_per_class"] = int_list(
                num_to_remove_per_class, ds.k, "--num-to-remove-per-class"
            )
            tasks.ml_find(ds, params, per_class=per_class, **common)
        else:
            ds = tasks.load_tok(labels, pred_probs, sentence_lengths, label_column, tokens, class_names)
            params["num_to_remove_per_class"] = int_list(
                num_to_remove_per_class, ds.k, "--num-to-remove-per-class"
            )
            tasks.tok_find(ds, params, by=by, **common)
        return
    if low_memory:
        if baseline is not None:
            raise InputError("--baseline is not available with --low-memory yet")
        from labelaudit.cli.commands.batched import finish, stream_issues
        from labelaudit.io.stream import BlockSource

        if len(pred_probs) > 1:
            raise InputError("--low-memory takes one --pred-probs model")
        src = BlockSource(
            labels,
            pred_probs[0],
            label_column=label_column,
            prob_columns=prob_columns,
            class_names_path=class_names,
            id_column=id_column,
            from_logits=from_logits,
            rows=batch_size,
        )
        params = {
            "mode": "exact",
            "filter_by": filter_by.value,
            "rank_by": rank_by.value,
            "adjust_pred_probs": adjust_pred_probs,
            "frac_noise": frac_noise,
            "num_to_remove_per_class": int_list(num_to_remove_per_class, src.k, "--num-to-remove-per-class"),
            "min_examples_per_class": min_examples_per_class,
            "top": top,
        }
        ranked, info = stream_issues(src, params, n_jobs, quiet)
        finish(
            "find-issues",
            src,
            params,
            ranked,
            info,
            output=output,
            mask=mask,
            fmt=fmt,
            fmt_name=fmt_name,
            top=top,
            max_issues=max_issues,
            max_issue_rate=max_issue_rate,
            quiet=quiet,
            labels_path=labels,
        )
        return
    ds, ctx, ens = load_models(
        labels,
        pred_probs,
        label_column,
        prob_columns,
        class_names,
        id_column,
        from_logits,
        batch_size,
        n_jobs,
        weight_by.value,
        weights,
    )
    params = {
        "filter_by": filter_by.value,
        "rank_by": rank_by.value,
        "adjust_pred_probs": adjust_pred_probs,
        "frac_noise": frac_noise,
        "num_to_remove_per_class": int_list(num_to_remove_per_class, ds.k, "--num-to-remove-per-class"),
        "min_examples_per_class": min_examples_per_class,
        "top": top,
    }
    flagged = issue_rows(
        ctx,
        filter_by=filter_by.value,
        frac_noise=frac_noise,
        num_to_remove_per_class=params["num_to_remove_per_class"],
        min_examples_per_class=min_examples_per_class,
    )
    details = None
    if ens is not None:  # rank by the ensemble's score; detection ran on the weighted average model
        details = ensemble_scores(ds, ens, rank_by.value, adjust_pred_probs)
        ctx.stored_scores[(rank_by.value, adjust_pred_probs)] = details.scores
        params["models"] = {
            "paths": ens["paths"],
            "weight_by": ens["weight_by"],
            "weights": list(details.weights),
        }
    ranked = order_rows(ctx, flagged, rank_by.value, adjust_pred_probs)
    listed = ranked[:top] if top is not None else ranked
    # Per-example rows cost a pass over the flagged rows: skip them when only a .npy is written.
    npy_only = bool(output) and output.lower().endswith(".npy") and not stdout_listing(output, fmt)
    cols = {}
    if not npy_only or baseline is not None:
        cols = example_rows(ctx, listed, method=rank_by.value, adjust_pred_probs=adjust_pred_probs)
        cols["is_label_issue"] = np.ones(len(listed), dtype=bool)
        if details is not None:
            add_member_columns(cols, details, listed)
    n_issues = len(ranked)
    rate = n_issues / ds.n
    summary = f"{n_issues} label issues in {ds.n} examples ({rate:.2%})"
    counted, base = n_issues, None
    if baseline is not None:
        if top is not None:
            cols = example_rows(ctx, ranked, method=rank_by.value, adjust_pred_probs=adjust_pred_probs)
            cols["is_label_issue"] = np.ones(n_issues, dtype=bool)
        diff, base = apply_baseline(baseline, "find-issues", ds, params, cols, id_column)
        counted = diff.n_new
        summary += (
            f"; versus baseline: {diff.n_new} new, {len(diff.fixed)} fixed, {diff.n_persisting} persisting"
        )
        if top is not None:
            cols = {k: v[:top] for k, v in cols.items()}
    what = "new issues" if baseline is not None else "issues"
    gates = issue_gates(counted, ds.n, max_issues, max_issue_rate, what)

    if output:
        if mask:
            npy = np.zeros(ds.n, dtype=bool)
            npy[listed] = True
        else:
            npy = listed.astype(np.int64)
        write_listing(output, ds, cols, npy, fmt_name)
    if stdout_listing(output, fmt):
        rows = render.records(render.named_columns(cols, ds.class_names, ds.ids))
        # Against a baseline, CI annotations carry only the new issues: persisting ones were accepted.
        ci_rows = [r for r in rows if r.get("status", "new") == "new"]
        if not emit_ci(fmt_name, "find-issues", gates, ci_rows, labels, summary):
            doc = None
            if fmt_name == "json":
                extra = {"baseline": base} if base is not None else {}
                doc = render.report(
                    "find-issues",
                    params,
                    ds,
                    n_issues=n_issues,
                    issue_rate=rate,
                    gates=gates,
                    issues=rows,
                    **extra,
                )
            emit(ds, cols, fmt_name, n_issues, doc, summary, top)
    elif output != "-" and not quiet:
        err(f"{summary}; wrote {output}")
    if base is not None and not quiet and fmt_name == "csv":
        err(summary)
    raise_failed_gate(gates)
