"""labelaudit batched: label issues over inputs larger than memory, streamed in bounded memory."""

from __future__ import annotations

from typing import Any

from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import app, command
from labelaudit.cli.common import check_outputs, finish, per_class_counts
from labelaudit.errors import InputError


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
    engine: o.EngineOpt = o.EngineName.local,
    scheduler: o.Scheduler = None,
    scheduler_file: o.SchedulerFile = None,
    workers: o.Workers = None,
    connect_timeout: o.ConnectTimeout = 10.0,
    storage_options: o.StorageOptions = None,
    quiet: o.Quiet = False,
) -> None:
    """Find label issues in inputs larger than memory: pred_probs is streamed in blocks, never held whole.

    Default mode follows the reference library's find_label_issues_batched (low-score selection of an
    estimated number of issues) but returns issues most severe first. --exact gives exactly the result of
    find-issues with the same options; --filter-by, --frac-noise, --num-to-remove-per-class and
    --min-examples-per-class need --exact. --engine dask runs the passes on a Dask cluster, same result.
    pred_probs may be .npy shards, a Parquet dataset, a Zarr array or fsspec URLs; -o DIR/ writes Parquet parts.
    """
    from labelaudit.core.report import Detection, Listing
    from labelaudit.engines import EngineSpec
    from labelaudit.io import ReadOptions
    from labelaudit.io.shards import is_out_dir

    spec = EngineSpec(engine.value, scheduler, scheduler_file, workers, connect_timeout)
    check_outputs(None if is_out_dir(output) else output, fmt=fmt)
    check_outputs(scores_out if scores_out != "-" else None, (".npy",))
    mode_only = ("estimation_method", "chunk_size") if exact else EXACT_ONLY
    if any(o.given(name) for name in mode_only):
        flags = ", ".join("--" + n.replace("_", "-") for n in mode_only)
        raise InputError(f"{flags}: for {'the default mode, not --exact' if exact else '--exact only'}")
    read = ReadOptions(label_column, prob_columns, class_names, id_column, from_logits)

    def detection(k: int) -> Detection:
        counts, m_min = per_class_counts(num_to_remove_per_class, k), min_examples_per_class
        return Detection(filter_by.value, rank_by.value, adjust_pred_probs, frac_noise, counts, m_min)

    listing = Listing(top=top, mask=mask, max_issues=max_issues, max_issue_rate=max_issue_rate)
    batched_mode = None if exact else (estimation_method.value, chunk_size)
    src, report = run_stream(
        "batched",
        labels,
        o.one_model(pred_probs, "batched"),
        read,
        detection,
        listing,
        quiet=quiet,
        n_jobs=n_jobs,
        batch_size=batch_size,
        memory_limit=memory_limit,
        scores_out=scores_out,
        batched_mode=batched_mode,
        engine=spec,
        storage_options=storage_options,
        out_dir=output if is_out_dir(output) else None,
    )
    finish(report, src.files, output=output, fmt=fmt, quiet=quiet, labels_path=labels)


EXACT_ONLY = ("filter_by", "frac_noise", "num_to_remove_per_class", "min_examples_per_class")


def run_stream(
    command_name: str,
    labels: str,
    pred_probs: str,
    read: Any,
    detection: Any,
    listing: Any,
    *,
    quiet: bool,
    **engine: Any,
):
    """The streamed run with a progress bar (shared by batched and find-issues --low-memory)."""
    import functools

    from labelaudit.io.stream import stream_issues

    bar = functools.partial(render.PassProgress, enabled=render.progress_enabled(quiet))
    return stream_issues(command_name, labels, pred_probs, read, detection, listing, progress=bar, **engine)
