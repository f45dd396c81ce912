"""dask: `labelaudit batched --engine dask --workers W` (W = 1, 2) against `--engine local --n-jobs J`
(J = 1, 2), default mode; labelaudit only. Peak RSS per worker from one untimed run of
bench/dask_workers.py per worker count."""

from __future__ import annotations

import json
import sys

from harness import (
    BENCH,
    Env,
    batched_cells,
    batched_mask_job,
    cells_json,
    finish,
    job_masks,
    mask_diff,
    prepare,
    run_jobs,
    run_measured,
)
from report import fmt_paired, fmt_ratio2, paired_ratios, ratio_col, rss_col, size_col, text_col, time_col

from .base import Section

KEYS = ("local_1", "local_2", "dask_1", "dask_2")


def measure(size: str, args, env: Env, notes: list[str]) -> dict:
    n, k, name, lp, pp, work, res = prepare(size, args, "dask")
    cells = batched_cells(KEYS, env)
    jobs = []
    for key in KEYS:
        engine, w = key.split("_")
        count = "--n-jobs" if engine == "local" else "--workers"
        label = f"batched --engine {engine} {count} {w}"
        jobs.append(batched_mask_job(key, label, env, lp, pp, work, "--engine", engine, count, w))
    run_jobs(f"dask {name}", jobs, cells, args, work, notes)
    masks = job_masks(jobs, cells, n)
    res["cells"] = cells_json(cells)
    res["same"] = mask_diff(masks.get("local_1"), masks.get("dask_2"))
    res["same_1"] = mask_diff(masks.get("local_1"), masks.get("dask_1"))
    res["workers_rss"] = {}
    for w in (1, 2):
        out = work / f"workers-{w}.json"
        cmd = [env.la_py or sys.executable, str(BENCH / "dask_workers.py"), str(lp), str(pp), str(out)]
        p = run_measured([*cmd, "--workers", str(w)], args.timeout, work / f"log-workers-{w}")
        if p.rc == 0 and out.exists():
            res["workers_rss"][str(w)] = json.loads(out.read_text())
        else:
            notes.append(
                f"dask {name} dask_workers.py --workers {w}: rc={p.rc} {p.stderr_tail.strip()[-300:]}"
            )
    finish(work, args, res)
    return res


def _workers_rss(r: dict, w: str) -> str:
    got = r.get("workers_rss", {}).get(w)
    if not got:
        return "–"
    return " / ".join(f"{v:,.0f}" for v in got["worker_rss_mb"]) + f" (client {got['client_rss_mb']:,.0f})"


COLUMNS = [
    size_col(),
    time_col("local --n-jobs 1", "local_1"),
    time_col("local --n-jobs 2", "local_2"),
    time_col("dask --workers 1", "dask_1"),
    time_col("dask --workers 2", "dask_2"),
    ratio_col("dask 1 / dask 2", "dask_1", "dask_2", fmt=fmt_ratio2),
    text_col(
        "paired dask 1 / 2: median (range)",
        lambda v: fmt_paired(paired_ratios(v["cells"]["dask_1"], v["cells"]["dask_2"])),
        "r",
    ),
    ratio_col("local 1 / dask 2", "local_1", "dask_2", fmt=fmt_ratio2),
    rss_col("process peak RSS MiB: dask 2", "dask_2"),
    text_col("peak RSS MiB per worker, 2 workers", lambda v: _workers_rss(v, "2"), "r"),
    text_col("same answer", lambda v: v["same"]),
]


def notes(results: list[dict], meta: dict) -> list[str]:
    return [
        "- Whole-process wall time of `labelaudit batched -l L -p P -o OUT.npy --mask --quiet --engine local "
        "--n-jobs J` and `--engine dask --workers W` (a LocalCluster of W one-thread worker processes on "
        "127.0.0.1, forked from a fork server that preloads numpy and Dask, started and closed inside the "
        "run: about 0.4 s of each dask time). process peak RSS: "
        "the largest single process of the run (wait4). Per worker: each worker's own peak RSS (getrusage) "
        f"in one untimed run of bench/dask_workers.py, with the client's. The machine has "
        f"{meta['machine']['cores']} cores, shared with other engineers' work while measured. same answer: "
        "the masks of local --n-jobs 1 and dask --workers 2 are identical."
    ]


SECTION = Section(
    name="dask",
    title="Dask engine (`--engine dask`)",
    sizes_option="--dask-sizes",
    default_sizes="10Mx100",
    quick_sizes="10kx100",
    measure=measure,
    columns=COLUMNS,
    notes=notes,
)
