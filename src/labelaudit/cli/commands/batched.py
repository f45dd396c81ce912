"""labelaudit batched: label issues over inputs larger than memory, streamed in bounded memory."""

from __future__ import annotations

from typing import Any

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import app, command
from labelaudit.cli.common import check_outputs, finish, per_class_counts


@app.command("batched")
@command
def batched(
    labels: o.Labels,
    pred_probs: o.PredProbs,
    exact: o.Exact = False,
    filter_by: o.FilterByOpt = o.FilterBy.prune_by_noise_rate,
    rank_by: o.RankBy = o.ScoreMethod.self_confidence,
    adjust_pred_probs: o.Adjust = False,
    estimation_method: o.Estimation = o.EstimationMethod.off_diagonal,
    chunk_size: o.ChunkSize = 10000,
    frac_noise: o.FracNoise = 1.0,
    num_to_remove_per_class: o.PerClassCounts = None,
    min_examples_per_class: o.MinPerClass = 1,
    max_issues: o.MaxIssues = None,
    max_issue_rate: o.MaxIssueRate = None,
    memory_limit: o.MemoryLimit = "512MB",
    scores_out: o.ScoresOut = None,
    output: o.Output = None,
    mask: o.Mask = False,
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
    find-issues with the same options; --filter-by, --frac-noise, --num-to-remove-per-class and
    --min-examples-per-class need --exact.
    """
    from labelaudit.core.issues import Listing
    from labelaudit.errors import InputError

    check_outputs(output)
    check_outputs(scores_out if scores_out != "-" else None, (".npy",))
    if not exact:
        for name in ("filter_by", "frac_noise", "num_to_remove_per_class", "min_examples_per_class"):
            if o.given(name):
                raise InputError(
                    f"--{name.replace('_', '-')} needs --exact (the default mode has its own selection)"
                )
    elif o.given("estimation_method") or o.given("chunk_size"):
        raise InputError("--estimation-method and --chunk-size are for the default mode, not --exact")
    detect = dict(
        filter_by=filter_by.value,
        rank_by=rank_by.value,
        adjust_pred_probs=adjust_pred_probs,
        frac_noise=frac_noise,
        min_examples_per_class=min_examples_per_class,
        estimation_method=estimation_method.value,
        chunk_size=chunk_size,
    )
    listing = Listing(top=top, mask=mask, max_issues=max_issues, max_issue_rate=max_issue_rate)
    src, report = run_stream(
        "batched",
        labels,
        o.one_model(pred_probs, "batched"),
        exact=exact,
        detect=detect,
        listing=listing,
        counts=num_to_remove_per_class,
        quiet=quiet,
        n_jobs=n_jobs,
        batch_size=batch_size,
        memory_limit=memory_limit,
        scores_out=scores_out,
        label_column=label_column,
        prob_columns=prob_columns,
        class_names_path=class_names,
        id_column=id_column,
        from_logits=from_logits,
    )
    finish(report, src.files, output=output, fmt=fmt, quiet=quiet, labels_path=labels)


def run_stream(
    command_name: str,
    labels: str,
    pred_probs: str,
    *,
    exact: bool,
    detect: dict,
    listing: Any,
    counts: str | None,
    quiet: bool,
    n_jobs: int,
    batch_size: int | None,
    memory_limit: str | None = None,
    scores_out: str | None = None,
    **read: Any,
):
    """Open the streamed source and run the engine (shared by batched and find-issues --low-memory).
    With `scores_out`, the workers write each block's float64 scores there as they compute them (the file
    appears, atomically, only once every row is written)."""
    import contextlib

    import numpy as np

    from labelaudit.core.issues import streamed_issues
    from labelaudit.core.stream import run_engine
    from labelaudit.io.stream import BlockSource, parse_memory
    from labelaudit.io.writers import NpyStreamWriter

    limit = parse_memory(memory_limit) if memory_limit is not None else None
    src = BlockSource(labels, pred_probs, rows=batch_size, memory_limit=limit, **read)
    params = {
        "mode": "exact" if exact else "batched",
        **detect,
        "num_to_remove_per_class": per_class_counts(counts, src.k),
        "top": listing.top,
    }
    if exact:
        params["estimation_method"] = params["chunk_size"] = None
    else:
        params["filter_by"] = None
    with (
        contextlib.ExitStack() as stack,
        render.PassProgress(src.n, render.progress_enabled(quiet)) as progress,
    ):
        sink = (
            stack.enter_context(NpyStreamWriter(scores_out, (src.n,), np.float64)).write_at
            if scores_out
            else None
        )
        ranked, info = run_engine(
            src.passes, src.n, src.k, src.dtype, params, n_jobs=n_jobs, progress=progress, scores_sink=sink
        )
    src.warn_after_pass(info["counts"])
    report = streamed_issues(
        command_name,
        ranked,
        info,
        params=params,
        n=src.n,
        k=src.k,
        listing=listing,
        class_names=src.class_names,
    )
    return src, report
