"""labelaudit rank: label quality score of every example, or the order of a given flagged set."""

from __future__ import annotations

from typing import Annotated

import typer

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import app, command, err
from labelaudit.cli.commands._shared import (
    FIND_OUTPUTS,
    add_member_columns,
    emit,
    ensemble_scores,
    load_models,
    stdout_listing,
    write_listing,
)
from labelaudit.errors import InputError


@app.command("rank")
@command
def rank(
    labels: o.Labels,
    pred_probs: o.PredProbsMany,
    method: Annotated[
        o.ScoreMethod, typer.Option(help="Label quality score (lower = more likely mislabelled).")
    ] = o.ScoreMethod.self_confidence,
    adjust_pred_probs: Annotated[
        bool, typer.Option(help="Subtract class thresholds before scoring.")
    ] = False,
    order_issues: Annotated[
        str | None,
        typer.Option(
            help="Order this flagged set instead (.npy bool mask or int indices, or a table with an 'index' column)."
        ),
    ] = None,
    task: o.TaskOpt = o.Task.multiclass,
    per_class: o.PerClass = False,
    aggregator: Annotated[
        str,
        typer.Option(
            help="multilabel: exponential_moving_average, softmin, mean or min.", rich_help_panel=o.TASKS
        ),
    ] = "exponential_moving_average",
    alpha: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="multilabel: weight of the worst class in the moving average.",
            rich_help_panel=o.TASKS,
        ),
    ] = 0.8,
    temperature: Annotated[
        float | None,
        typer.Option(
            min=0.0, help="softmin temperature (multilabel default 0.1, token 0.05).", rich_help_panel=o.TASKS
        ),
    ] = None,
    sentence_method: Annotated[
        str, typer.Option(help="token: sentence score 'min' or 'softmin'.", rich_help_panel=o.TASKS)
    ] = "min",
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
    import numpy as np

    from labelaudit.core import issue_rows, order_rows, scores_for_rows
    from labelaudit.core.rank import check_method, flagged_rows
    from labelaudit.core.summary import example_rows
    from labelaudit.io import check_output_path, read_issue_set

    check_method(method.value, adjust_pred_probs)
    fmt_name = render.resolve_format(fmt)
    if output:
        check_output_path(output, FIND_OUTPUTS)
    if task != o.Task.multiclass:
        from labelaudit.cli.commands import tasks

        if order_issues is not None:
            raise InputError("--order-issues is for --task multiclass")
        params = {"method": method.value, "adjust_pred_probs": adjust_pred_probs, "top": top}
        common = {"output": output, "fmt": fmt, "fmt_name": fmt_name, "top": top, "quiet": quiet}
        if task == o.Task.multilabel:
            ds = tasks.load_ml(labels, pred_probs, label_column, prob_columns, class_names)
            tasks.ml_rank(
                ds,
                params,
                per_class=per_class,
                aggregator=aggregator,
                alpha=alpha,
                temperature=0.1 if temperature is None else temperature,
                **common,
            )
        else:
            ds = tasks.load_tok(labels, pred_probs, sentence_lengths, label_column, tokens, class_names)
            tasks.tok_rank(
                ds,
                params,
                sentence_method=sentence_method,
                temperature=0.05 if temperature is None else temperature,
                **common,
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
    if order_issues is not None:
        try:
            given = flagged_rows(read_issue_set(order_issues, ds.n), ds.n)
        except Exception as exc:
            if order_issues in str(exc):
                raise
            raise type(exc)(f"{order_issues}: {exc}") from None
    else:
        given = issue_rows(ctx)
    params = {
        "method": method.value,
        "adjust_pred_probs": adjust_pred_probs,
        "order_issues": order_issues,
        "top": top,
    }
    details = None
    if ens is not None:  # the ensemble's score replaces the single-model score everywhere below
        details = ensemble_scores(ds, ens, method.value, adjust_pred_probs)
        ctx.stored_scores[(method.value, adjust_pred_probs)] = details.scores
        params["models"] = {
            "paths": ens["paths"],
            "weight_by": ens["weight_by"],
            "weights": list(details.weights),
        }
    ranked = order_rows(ctx, given, method.value, adjust_pred_probs)
    listed = ranked[:top] if top is not None else ranked
    cols = example_rows(ctx, listed, method=method.value, adjust_pred_probs=adjust_pred_probs)
    cols["is_label_issue"] = np.ones(len(listed), dtype=bool)
    if details is not None:
        add_member_columns(cols, details, listed)
    scores = None
    if order_issues is None and (fmt_name == "json" or output):
        scores = np.asarray(scores_for_rows(ctx, None, method.value, adjust_pred_probs), dtype=np.float64)

    if output:
        if order_issues is not None:
            write_listing(output, ds, cols, listed.astype(np.int64), fmt_name)
        else:
            all_cols = example_rows(
                ctx, np.arange(ds.n), method=method.value, adjust_pred_probs=adjust_pred_probs
            )
            issue_mask = np.zeros(ds.n, dtype=bool)
            issue_mask[given] = True
            all_cols["is_label_issue"] = issue_mask
            if details is not None:
                add_member_columns(all_cols, details, np.arange(ds.n))
            write_listing(output, ds, all_cols, scores, fmt_name)
    if stdout_listing(output, fmt):
        doc = None
        if fmt_name == "json":
            extra = {} if scores is None else {"scores": scores.tolist()}
            if details is not None and scores is not None:
                extra["model_scores"] = [m.astype(float).tolist() for m in details.member_scores]
            doc = render.report(
                "rank",
                params,
                ds,
                n_issues=len(ranked),
                issue_rate=len(ranked) / ds.n,
                issues=render.records(render.named_columns(cols, ds.class_names, ds.ids)),
                **extra,
            )
        title = f"{len(ranked)} flagged examples ordered by {method.value}"
        emit(ds, cols, fmt_name, len(ranked), doc, title, top)
    elif output != "-" and not quiet:
        err(f"scored {ds.n} examples ({len(ranked)} flagged); wrote {output}")
