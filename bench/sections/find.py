"""find: find_label_issues as a library call (bench/call.py) and `labelaudit find-issues` against
bench/cleanlab_find_issues.py; same-mask checks, and a confident-joint diagnosis when masks differ."""

from __future__ import annotations

import shlex

from harness import (
    Cell,
    Env,
    Job,
    cells_json,
    finish,
    job_masks,
    load_mask,
    mask_diff,
    prepare,
    run_jobs,
    run_measured,
)
from report import Col, text_col, versus_cols

from .base import Section, call_job, script_job


def measure(size: str, args, env: Env, notes: list[str]) -> dict:
    n, k, name, lp, pp, work, res = prepare(size, args, "find")
    cells = {key: Cell() for key in ("la_call", "cl_call", "la_proc", "cl_proc")}
    if env.cl_py is None:
        cells["cl_call"].status = cells["cl_proc"].status = "skipped"
    if "find-issues" not in env.la_cmds:
        cells["la_proc"].status = "n/a"
    cl_nj = [] if args.cleanlab_n_jobs is None else ["--n-jobs", str(args.cleanlab_n_jobs)]
    cl_py = env.cl_py or "python"
    la_cmd = [env.la_cli or "labelaudit", "find-issues", "-l", str(lp), "-p", str(pp)]
    la_cmd += ["-o", str(work / "la_proc.npy"), "--quiet", *shlex.split(args.cli_args)]
    jobs = [
        call_job("la_call", "labelaudit call", env.la_py, "labelaudit", lp, pp, work),
        call_job("cl_call", "cleanlab call", cl_py, "cleanlab", lp, pp, work, *cl_nj),
        Job("la_proc", "labelaudit find-issues", la_cmd, work / "la_proc.npy"),
        script_job(
            "cl_proc", "cleanlab script", cl_py, "cleanlab_find_issues.py", lp, pp, work / "cl_proc.npy"
        ),
    ]
    run_jobs(f"find {name}", jobs, cells, args, work, notes)
    masks = job_masks(jobs, cells, n)

    res["same_given_cj"] = None
    ma, mb = masks.get("la_call"), masks.get("cl_call")
    if ma is not None and mb is not None and (ma != mb).any():
        # Diagnose: hand cleanlab's own calibrated confident joint to labelaudit. If the masks then
        # agree, the difference comes only from how ties are rounded in calibration (cleanlab's
        # unstable argsort vs labelaudit's stable one), not from the pruning itself.
        cj = work / "cl_cj.npy"
        d_cl = call_job("diag_cl", "", env.cl_py, "cleanlab", lp, pp, work, "--save-cj", str(cj))
        d_la = call_job("diag_la", "", env.la_py, "labelaudit", lp, pp, work, "--cj", str(cj))
        p1 = run_measured(d_cl.cmd, args.timeout, work / "log-diag-cl")
        if p1.rc == 0:
            p2 = run_measured(d_la.cmd, args.timeout, work / "log-diag-la")
            a2, b2 = load_mask(d_la.out, n), load_mask(d_cl.out, n)
            if p2.rc == 0 and a2 is not None and b2 is not None:
                res["same_given_cj"] = int((a2 != b2).sum())
        if res["same_given_cj"] is None:
            notes.append(f"find {name}: the confident-joint diagnosis failed; see --keep-outputs logs")
    res["cells"] = cells_json(cells)
    res["same_call"] = mask_diff(masks.get("la_call"), masks.get("cl_call"))
    res["same_cli"] = mask_diff(masks.get("la_proc"), masks.get("cl_proc"))
    res["flagged"] = {key: int(m.sum()) for key, m in masks.items() if m is not None}
    finish(work, args, res)
    return res


def flagged(r: dict) -> str:
    """One number when every run agrees, else labelaudit / cleanlab (call, else process)."""
    fl = r["flagged"]
    if len(set(fl.values())) <= 1:
        return "/".join(f"{x:,}" for x in set(fl.values())) or "–"
    return " / ".join(
        f"{fl[a]:,}" if a in fl else (f"{fl[b]:,}" if b in fl else "?")
        for a, b in (("la_call", "la_proc"), ("cl_call", "cl_proc"))
    )


def same(r: dict) -> str:
    text = f"{r['same_call']} / {r['same_cli']}"
    if r.get("same_given_cj") is not None:
        text += f"; {r['same_given_cj']:,} rows with cleanlab's calibrated joint"
    return text


COLUMNS = [
    *versus_cols(),
    Col("flagged", flagged),
    text_col("same answer (call / CLI)", same),
]


def notes(results: list[dict], meta: dict) -> list[str]:
    cli_args = f" {meta['cli_args']}" if meta.get("cli_args") else ""
    L = [
        "- **call**: only `find_label_issues(labels, pred_probs)` with default arguments on memory-mapped inputs, "
        "timed inside the process (`bench/call.py`).",
        f"- **process**: wall time of the whole subprocess: `labelaudit find-issues -l L -p P -o OUT.npy --quiet"
        f"{cli_args}` vs `bench/cleanlab_find_issues.py` "
        "(import cleanlab, load with mmap, call, `np.save`). The CLI also ranks the flagged rows by label "
        "quality; the cleanlab script saves the plain mask.",
    ]
    printed = [(r["size"], r["cells"]["la_proc"]["extra"].get("stdout_bytes", 0)) for r in results]
    if any(b for _, b in printed):
        L.append(
            "- The CLI also printed its results table on stdout (redirected to a file, as in a pipeline): "
            + ", ".join(f"{sz}: {b / 1e6:,.1f} MB" for sz, b in printed)
            + "; that time is included."
        )
    L.append(
        "- **same answer**: the two libraries' boolean masks are identical (call), and the set of rows in the CLI's "
        "output equals cleanlab's mask (CLI)."
    )
    if any(r.get("same_given_cj") is not None for r in results):
        L.append(
            "- Where the masks differ, `bench/run.py` reruns labelaudit with `confident_joint=` set to cleanlab's "
            "own calibrated confident joint; the count after the semicolon is how many rows still differ then. 0 means "
            "every difference comes from calibrating the confident joint (tie order; see below)."
        )
    return L


def update_meta(res: dict, meta: dict) -> None:
    """Record the n_jobs cleanlab's find_label_issues ran with (for the machine block)."""
    nj = res["cells"]["cl_call"]["extra"].get("n_jobs")
    if nj is not None:
        meta["cleanlab_n_jobs"] = nj


SECTION = Section(
    name="find",
    title="find_label_issues",
    sizes_option="--sizes",
    default_sizes="1Mx10,10Mx10,1Mx100,200kx1000",
    quick_sizes="20kx10,10kx100,2kx1000",
    measure=measure,
    columns=COLUMNS,
    notes=notes,
    update_meta=update_meta,
)
