"""batched: `labelaudit batched --mask` (default mode and --exact) against cleanlab's
find_label_issues_batched (n_jobs=1; library call and bench/cleanlab_batched.py); default mask =
cleanlab's mask, --exact set = the set of one untimed `labelaudit find-issues` run."""

from __future__ import annotations

from harness import (
    Cell,
    Env,
    Job,
    cells_json,
    fail_status,
    finish,
    job_masks,
    load_mask,
    mask_diff,
    prepare,
    run_jobs,
    run_measured,
)
from report import Col, input_col, ratio_col, rss_col, size_col, text_col, time_col

from .base import Section, call_job, script_job


def measure(size: str, args, env: Env, notes: list[str]) -> dict:
    n, k, name, lp, pp, work, res = prepare(size, args, "batched")
    cells = {key: Cell() for key in ("la_def", "la_call", "la_exact", "cl_call", "cl_proc")}
    if env.cl_py is None:
        cells["cl_call"].status = cells["cl_proc"].status = "skipped"
    if "batched" not in env.la_cmds:
        cells["la_def"].status = cells["la_exact"].status = "n/a"
    la = [env.la_cli or "labelaudit", "batched", "-l", str(lp), "-p", str(pp)]
    cl_py = env.cl_py or "python"
    task = ("--task", "batched")
    jobs = [
        Job(
            "la_def",
            "labelaudit batched",
            [*la, "-o", str(work / "la_def.npy"), "--mask", "--quiet"],
            work / "la_def.npy",
        ),
        call_job("la_call", "labelaudit batched call", env.la_py, "labelaudit", lp, pp, work, *task),
        call_job("cl_call", "cleanlab batched call", cl_py, "cleanlab", lp, pp, work, *task),
        Job(
            "la_exact",
            "labelaudit batched --exact",
            [*la, "-o", str(work / "la_exact.npy"), "--mask", "--quiet", "--exact"],
            work / "la_exact.npy",
        ),
        script_job(
            "cl_proc", "cleanlab batched script", cl_py, "cleanlab_batched.py", lp, pp, work / "cl_proc.npy"
        ),
    ]
    run_jobs(f"batched {name}", jobs, cells, args, work, notes)
    masks = job_masks(jobs, cells, n)
    # Reference for --exact: the flagged indices of `labelaudit find-issues` (one untimed run).
    ref = None
    if "find-issues" in env.la_cmds and masks.get("la_exact") is not None:
        p = run_measured(
            [env.la_cli, "find-issues", "-l", str(lp), "-p", str(pp), "-o", str(work / "ref.npy"), "--quiet"],
            args.timeout,
            work / "log-ref",
        )
        if p.rc == 0:
            ref = load_mask(work / "ref.npy", n)
            res["ref_rss_mb"] = p.maxrss_mb
        else:
            notes.append(f"batched {name}: reference find-issues run failed ({fail_status(p)}, rc={p.rc})")
    masks["ref"] = ref
    res["cells"] = cells_json(cells)
    res["flagged"] = {key: int(m.sum()) for key, m in masks.items() if m is not None}
    res["same_default_call"] = mask_diff(masks.get("la_def"), masks.get("cl_call"))
    res["same_default_proc"] = mask_diff(masks.get("la_def"), masks.get("cl_proc"))
    res["same_exact"] = mask_diff(masks.get("la_exact"), ref)
    finish(work, args, res)
    return res


def flagged(r: dict) -> str:
    fl = r["flagged"]
    cl_fl = fl.get("cl_call", fl.get("cl_proc"))
    return " / ".join("–" if v is None else f"{v:,}" for v in (fl.get("la_def"), cl_fl, fl.get("la_exact")))


COLUMNS = [
    size_col(),
    input_col(),
    time_col("labelaudit: call", "la_call"),
    time_col("labelaudit default", "la_def"),
    time_col("labelaudit --exact", "la_exact"),
    time_col("cleanlab: call", "cl_call"),
    time_col("cleanlab: process", "cl_proc"),
    ratio_col("ratio call / call", "cl_call", "la_call"),
    ratio_col("ratio process / process", "cl_proc", "la_def"),
    rss_col("peak RSS MiB: labelaudit default", "la_def"),
    rss_col("peak RSS MiB: labelaudit --exact", "la_exact"),
    rss_col("peak RSS MiB: cleanlab", "cl_proc"),
    Col("flagged: default / cleanlab / --exact", flagged),
    text_col(
        "default = cleanlab (call / process)",
        lambda r: f"{r['same_default_call']} / {r['same_default_proc']}",
    ),
    text_col("--exact = find-issues", lambda r: r["same_exact"]),
]


def notes(results: list[dict], meta: dict) -> list[str]:
    return [
        "- **labelaudit default / --exact**: wall time of the whole process `labelaudit batched -l L -p P -o OUT.npy "
        "--mask --quiet` (default mode), and the same with `--exact`; `--n-jobs` is left at its default, 1.",
        "- **cleanlab call**: only `cleanlab.experimental.label_issues_batched.find_label_issues_batched("
        "labels_file=L, pred_probs_file=P, batch_size=10000, n_jobs=1, verbose=False, return_mask=True)`, timed "
        "inside the process (`bench/call.py --task batched`); **cleanlab process**: the whole process of "
        "`bench/cleanlab_batched.py` (that call, then `np.save` of the mask). **labelaudit call**: "
        "`core.stream.batched_issue_rows` over `io.stream.BlockSource(L, P)`, opening the files inside the "
        "timed region (`bench/call.py labelaudit --task batched`). The call ratio compares the two calls, the "
        "process ratio the two whole processes.",
        "- **same answer**: labelaudit's default-mode mask equals cleanlab's mask (from the call / from the script); "
        "the `--exact` mask equals the set of rows written by `labelaudit find-issues -o` (one untimed run).",
    ]


SECTION = Section(
    name="batched",
    title="Batched (larger than memory)",
    sizes_option="--batched-sizes",
    default_sizes="10Mx10,10Mx100",
    quick_sizes="20kx10,10kx100",
    measure=measure,
    columns=COLUMNS,
    notes=notes,
)
