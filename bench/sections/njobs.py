"""njobs: `labelaudit batched` with --n-jobs 1 against --n-jobs 2 (default mode and --exact);
labelaudit only. Two table rows per size, one per mode."""

from __future__ import annotations

from harness import (
    Env,
    batched_cells,
    batched_mask_job,
    cells_json,
    finish,
    job_masks,
    mask_diff,
    prepare,
    run_jobs,
)
from report import fmt_paired, fmt_ratio2, paired_ratios, ratio_col, rss_col, size_col, text_col, time_col

from .base import Section

KEYS = ("def_1", "def_2", "exact_1", "exact_2")
MODES = (("def", "default"), ("exact", "--exact"))


def measure(size: str, args, env: Env, notes: list[str]) -> dict:
    n, k, name, lp, pp, work, res = prepare(size, args, "njobs")
    cells = batched_cells(KEYS, env)
    jobs = []
    for key in KEYS:
        mode, nj = key.split("_")
        extra = ["--exact"] if mode == "exact" else []
        label = f"labelaudit batched {'--exact ' if extra else ''}--n-jobs {nj}"
        jobs.append(batched_mask_job(key, label, env, lp, pp, work, "--n-jobs", nj, *extra))
    run_jobs(f"njobs {name}", jobs, cells, args, work, notes)
    masks = job_masks(jobs, cells, n)
    res["cells"] = cells_json(cells)
    res["flagged"] = {key: int(m.sum()) for key, m in masks.items() if m is not None}
    res["same_def"] = mask_diff(masks.get("def_1"), masks.get("def_2"))
    res["same_exact"] = mask_diff(masks.get("exact_1"), masks.get("exact_2"))
    finish(work, args, res)
    return res


def rows(r: dict) -> list[dict]:
    """One row per mode; its cells "1" and "2" are the runs with --n-jobs 1 and 2."""
    return [
        {
            **r,
            "mode": label,
            "cells": {"1": r["cells"][f"{mode}_1"], "2": r["cells"][f"{mode}_2"]},
            "same": r[f"same_{mode}"],
        }
        for mode, label in MODES
    ]


COLUMNS = [
    size_col(),
    text_col("mode", lambda v: v["mode"]),
    time_col("--n-jobs 1", "1"),
    time_col("--n-jobs 2", "2"),
    ratio_col("speed-up (1 / 2)", "1", "2", fmt=fmt_ratio2),
    text_col(
        "paired runs: median (range)",
        lambda v: fmt_paired(paired_ratios(v["cells"]["1"], v["cells"]["2"])),
        "r",
    ),
    rss_col("peak RSS MiB: 1", "1"),
    rss_col("peak RSS MiB: 2", "2"),
    text_col("same answer", lambda v: v["same"]),
]


def notes(results: list[dict], meta: dict) -> list[str]:
    return [
        f"- Whole-process wall time of `labelaudit batched -l L -p P -o OUT.npy --mask --quiet --n-jobs J "
        f"[--exact]`. The machine has {meta['machine']['cores']} cores. speed-up: the ratio of the two minima; "
        "paired runs: the ratios of the two runs of each repeat (run back to back). same answer: the masks with "
        "1 and 2 jobs are identical."
    ]


SECTION = Section(
    name="njobs",
    title="Worker threads (`--n-jobs`)",
    sizes_option="--njobs-sizes",
    default_sizes="10Mx100",
    quick_sizes="10kx100",
    measure=measure,
    columns=COLUMNS,
    notes=notes,
    rows=rows,
)
