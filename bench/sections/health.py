"""health: HealthReport(Context(...)) against cleanlab's health_summary (bench/call.py --task health),
and `labelaudit health -o X.json` against bench/cleanlab_health.py; score equal, joint within 1e-9."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from harness import Cell, Env, Job, cells_json, finish, kept, prepare, run_jobs
from report import Col, text_col, versus_cols

from .base import Section, call_job, script_job

JOINT_RTOL = 1e-9


def _joint_rel(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Largest elementwise |a - b| / |b| (a zero in b must be matched exactly)."""
    if a is None or b is None or a.shape != b.shape:
        return None
    diff = np.abs(a - b)
    if np.any((b == 0) & (diff != 0)):
        return float("inf")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(b == 0, 0.0, diff / np.abs(b))
    return float(rel.max())


def _read_health_json(path: Path, score_key: str) -> tuple[float | None, np.ndarray | None]:
    try:
        doc = json.loads(path.read_text())
        return float(doc[score_key]), np.asarray(doc["joint"], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def measure(size: str, args, env: Env, notes: list[str]) -> dict:
    n, k, name, lp, pp, work, res = prepare(size, args, "health")
    cells = {key: Cell() for key in ("la_call", "cl_call", "la_proc", "cl_proc")}
    if env.cl_py is None:
        cells["cl_call"].status = cells["cl_proc"].status = "skipped"
    if "health" not in env.la_cmds:
        cells["la_proc"].status = "n/a"
    cl_py = env.cl_py or "python"
    task = ("--task", "health")
    la_cmd = [env.la_cli or "labelaudit", "health", "-l", str(lp), "-p", str(pp)]
    la_cmd += ["-o", str(work / "la_proc.json"), "--quiet"]
    jobs = [
        call_job("la_call", "labelaudit HealthReport", env.la_py, "labelaudit", lp, pp, work, *task),
        call_job("cl_call", "cleanlab health_summary", cl_py, "cleanlab", lp, pp, work, *task),
        Job("la_proc", "labelaudit health", la_cmd, work / "la_proc.json"),
        script_job(
            "cl_proc", "cleanlab health script", cl_py, "cleanlab_health.py", lp, pp, work / "cl_proc.json"
        ),
    ]
    run_jobs(f"health {name}", jobs, cells, args, work, notes)
    got: dict[str, tuple[float | None, np.ndarray | None]] = {}
    for key in ("la_call", "cl_call"):
        c = cells[key]
        if c.status:
            got[key] = (None, None)
            continue
        try:
            joint = np.load(kept(work / f"{key}.npy"))
        except (OSError, ValueError):
            joint = None
        got[key] = (c.extra.get("health_score"), joint)
    for key, score_key in (("la_proc", "health_score"), ("cl_proc", "overall_label_health_score")):
        got[key] = (
            (None, None) if cells[key].status else _read_health_json(kept(work / f"{key}.json"), score_key)
        )

    def check(a: str, b: str) -> dict:
        (sa, ja), (sb, jb) = got[a], got[b]
        rel = _joint_rel(ja, jb)
        if sa is None or sb is None or rel is None:
            return {"ok": None, "score_equal": None, "joint_rel": rel}
        return {"ok": sa == sb and rel <= JOINT_RTOL, "score_equal": sa == sb, "joint_rel": rel}

    res["cells"] = cells_json(cells)
    res["scores"] = {key: s for key, (s, _) in got.items() if s is not None}
    res["same_call"] = check("la_call", "cl_call")
    res["same_proc"] = check("la_proc", "cl_proc")
    finish(work, args, res)
    return res


def fmt_same(s: dict) -> str:
    if s["ok"] is None:
        return "n/a"
    rel = s["joint_rel"]
    rel_txt = "0" if rel == 0 else f"{rel:.1e}"
    word = "yes" if s["ok"] else "no"
    return f"{word} (score {'equal' if s['score_equal'] else 'differs'}, joint max rel. diff {rel_txt})"


COLUMNS = [
    *versus_cols(),
    Col("health score", lambda r: " / ".join(f"{s:.6f}" for s in sorted(set(r["scores"].values()))) or "–"),
    text_col("same answer: call", lambda r: fmt_same(r["same_call"])),
    text_col("same answer: process", lambda r: fmt_same(r["same_proc"])),
]


def notes(results: list[dict], meta: dict) -> list[str]:
    return [
        "- **call**: labelaudit: `labelaudit.core.HealthReport(labelaudit.core.Context.validated(np.load(L, mmap_mode='r'), "
        "np.load(P, mmap_mode='r')))` (validation and the self-confidence gather share one pass); "
        "cleanlab: `cleanlab.dataset.health_summary(labels, pred_probs, verbose=False)` on the same memory-mapped "
        "inputs. Loading is inside the timed region for both (`bench/call.py --task health`).",
        "- **process**: `labelaudit health -l L -p P -o OUT.json --quiet` vs `bench/cleanlab_health.py` "
        "(import cleanlab, load with mmap, `health_summary`, save score, joint and both tables as JSON).",
        f"- **same answer**: the health score (cleanlab's `overall_label_health_score`, labelaudit's "
        f"`HealthReport.health_score`) is equal, and the joint (`HealthReport.joint` vs health_summary's "
        f"`joint`) agrees within {JOINT_RTOL:g} relative, elementwise.",
    ]


SECTION = Section(
    name="health",
    title="Dataset health",
    sizes_option="--health-sizes",
    default_sizes="10Mx10",
    quick_sizes="20kx10",
    measure=measure,
    columns=COLUMNS,
    notes=notes,
)
