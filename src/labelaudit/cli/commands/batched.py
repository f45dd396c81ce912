"""labelaudit batched: label issues over inputs larger than memory, streamed in bounded memory."""

from __future__ import annotations

from typing import Annotated

import typer

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import app, command, err
from labelaudit.cli.commands._shared import (
    FIND_OUTPUTS,
    emit,
    emit_ci,
    int_list,
    issue_gates,
    raise_failed_gate,
    stdout_listing,
    write_listing,
)

DETECT = "Detection"
GATES = "Gates (exit 1 when one fails)"


@app.command("batched")
@command
def batched(
    labels: o.Labels,
    pred_probs: o.PredProbs,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="The identical result as find-issues with the same options (any --filter-by), streamed.",
            rich_help_panel=DETECT,
        ),
    ] = False,
    filter_by: Annotated[
        o.FilterBy, typer.Option(help="With --exact: how to flag issues.", rich_help_panel=DETECT)
    ] = o.FilterBy.prune_by_noise_rate,
    rank_by: Annotated[
        o.ScoreMethod,
        typer.Option(help="Score used to pick (default mode) and order issues.", rich_help_panel=DETECT),
    ] = o.ScoreMethod.self_confidence,
    adjust_pred_probs: Annotated[
        bool, typer.Option(help="Subtract class thresholds before scoring.", rich_help_panel=DETECT)
    ] = False,
    estimation_method: Annotated[
        o.EstimationMethod,
        typer.Option(help="Default mode: how the number of issues is estimated.", rich_help_panel=DETECT),
    ] = o.EstimationMethod.off_diagonal,
    chunk_size: Annotated[
        int,
        typer.Option(
            min=1,
            help="Default mode: rows per step of the running threshold mean (the reference's batch_size); independent of --batch-size.",
            rich_help_panel=DETECT,
        ),
    ] = 10000,
    frac_noise: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="With --exact: as in find-issues.", rich_help_panel=DETECT)
    ] = 1.0,
    num_to_remove_per_class: Annotated[
        str | None, typer.Option(help="With --exact: as in find-issues.", rich_help_panel=DETECT)
    ] = None,
    min_examples_per_class: Annotated[
        int, typer.Option(min=0, help="With --exact: as in find-issues.", rich_help_panel=DETECT)
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
    memory_limit: Annotated[
        str,
        typer.Option(
            help="Memory for each block of rows (e.g. 512MB, 2GB); sets the block size unless --batch-size is given.",
            rich_help_panel="Performance",
        ),
    ] = "512MB",
    scores_out: Annotated[
        str | None,
        typer.Option(
            help="Also write the float64 score of every example (input order) to this .npy.",
            rich_help_panel=o.OUTPUT,
        ),
    ] = None,
    output: o.Output = None,
    mask: Annotated[
        bool,
        typer.Option("--mask", help="A .npy output holds a bool mask of length N.", rich_help_panel=o.OUTPUT),
    ] = False,
    fmt: o.Format = None,
    top: o.Top = None,
    label_column: o.LabelColumn = None,
    prob_columns: o.ProbColumns = None,
    class_names: o.ClassNames = None,
    id_column: o.IdColumn = None,
    from_logits: o.FromLogits = False,
    batch_size: o.BatchSize = None,
    n_jobs: o.NJobs = 1,
    quiet: o.Quiet = False,
) -> None:
    """Find label issues in inputs larger than memory: pred_probs is streamed in blocks, never held whole.

    Default mode follows the reference library's find_label_issues_batched (low-score selection of an
    estimated number of issues) but returns issues most severe first. --exact gives exactly the result of
    find-issues with the same options.
    """
    from labelaudit.io import check_output_path
    from labelaudit.io.stream import BlockSource, parse_memory

    fmt_name = render.resolve_format(fmt)
    for path in (output, scores_out):
        if path and path != "-":
            check_output_path(path, FIND_OUTPUTS if path == output else (".npy",))
    src = BlockSource(
        labels,
        pred_probs,
        label_column=label_column,
        prob_columns=prob_columns,
        class_names_path=class_names,
        id_column=id_column,
        from_logits=from_logits,
        rows=batch_size,
        memory_limit=parse_memory(memory_limit),
    )
    params = {
        "mode": "exact" if exact else "batched",
        "filter_by": filter_by.value if exact else None,
        "rank_by": rank_by.value,
        "adjust_pred_probs": adjust_pred_probs,
        "estimation_method": None if exact else estimation_method.value,
        "chunk_size": None if exact else chunk_size,
        "frac_noise": frac_noise,
        "num_to_remove_per_class": int_list(num_to_remove_per_class, src.k, "--num-to-remove-per-class"),
        "min_examples_per_class": min_examples_per_class,
        "top": top,
    }
    ranked, info = stream_issues(src, params, n_jobs, quiet, scores_out=scores_out)
    finish(
        "batched",
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


def stream_issues(src, params: dict, n_jobs: int, quiet: bool, scores_out: str | None = None):
    """Run the streaming engine; returns (ranked indices, info) where info has labels, predicted, scores.
    With `scores_out`, the workers write each block's float64 scores there as they compute them (the
    file appears, atomically, only once the run has written every row)."""
    import contextlib

    import numpy as np

    from labelaudit.core import stream
    from labelaudit.io.writers import NpyStreamWriter

    with contextlib.ExitStack() as stack:
        sink = None
        if scores_out:
            sink = stack.enter_context(NpyStreamWriter(scores_out, (src.n,), np.float64)).write_at
        ranked, info = _run_engine(stream, src, params, n_jobs, quiet, sink)
    src.warn_after_pass(info["counts"])
    return ranked, info


def _run_engine(stream, src, params: dict, n_jobs: int, quiet: bool, sink):
    with render.PassProgress(src.n, render.progress_enabled(quiet)) as progress:
        if params["mode"] == "exact":
            ranked, ctx = stream.exact_issue_rows(
                src.passes,
                src.n,
                src.k,
                src.dtype,
                filter_by=params["filter_by"],
                rank_by=params["rank_by"],
                adjust_pred_probs=params["adjust_pred_probs"],
                frac_noise=params["frac_noise"],
                num_to_remove_per_class=params["num_to_remove_per_class"],
                min_examples_per_class=params["min_examples_per_class"],
                n_jobs=n_jobs,
                progress=progress,
                scores_sink=sink,
            )
            scores = ctx.stored_scores[(params["rank_by"], params["adjust_pred_probs"])]
            return ranked, {
                "labels": ctx.labels,
                "predicted": ctx.predicted(),
                "scores": scores,
                "counts": ctx.counts,
            }
        res = stream.batched_issue_rows(
            src.passes,
            src.n,
            src.k,
            method=params["rank_by"],
            adjust_pred_probs=params["adjust_pred_probs"],
            estimation_method=params["estimation_method"],
            chunk=params["chunk_size"],
            dtype=src.dtype,
            n_jobs=n_jobs,
            progress=progress,
            scores_sink=sink,
        )
        return res.ranked, {
            "labels": res.labels,
            "predicted": res.predicted,
            "scores": res.scores,
            "estimated_issues": res.num_issues,
            "counts": res.counts,
        }


def finish(
    command_name,
    src,
    params,
    ranked,
    info,
    *,
    output,
    mask,
    fmt,
    fmt_name,
    top,
    max_issues,
    max_issue_rate,
    quiet,
    labels_path,
) -> None:
    """Write, render and gate a streamed result (shared by batched and find-issues --low-memory)."""
    import numpy as np

    listed = ranked[:top] if top is not None else ranked
    cols = {
        "index": listed,
        "given_label": info["labels"][listed].astype(np.int64),
        "predicted_label": info["predicted"][listed].astype(np.int64),
        "label_quality": np.asarray(info["scores"][listed], dtype=np.float64),
        "is_label_issue": np.ones(len(listed), dtype=bool),
    }
    n_issues, n = len(ranked), src.n
    rate = n_issues / n
    summary = f"{n_issues} label issues in {n} examples ({rate:.2%})"
    gates = issue_gates(n_issues, n, max_issues, max_issue_rate)
    if output:
        if mask:
            npy = np.zeros(n, dtype=bool)
            npy[listed] = True
        else:
            npy = listed.astype(np.int64)
        write_listing(output, src, cols, npy, fmt_name)
    if stdout_listing(output, fmt):
        rows = render.records(render.named_columns(cols, src.class_names, None))
        if not emit_ci(fmt_name, command_name, gates, rows, labels_path, summary):
            doc = None
            if fmt_name == "json":
                extra = {"estimated_issues": info["estimated_issues"]} if "estimated_issues" in info else {}
                doc = render.report(
                    command_name,
                    params,
                    src,
                    n_issues=n_issues,
                    issue_rate=rate,
                    gates=gates,
                    issues=rows,
                    **extra,
                )
            emit(src, cols, fmt_name, n_issues, doc, summary, top)
    elif output != "-" and not quiet:
        err(f"{summary}; wrote {output}")
    raise_failed_gate(gates)
