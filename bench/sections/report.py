"""report: `labelaudit report` on a generated input (whole process) and the page it writes: its size
and its render time in headless Chromium (bench/report_render.py, Chromium started outside the timed
region). labelaudit only (the reference has no such page); the CIFAR-10 sample's page is measured once
per run beside the sizes. Limits from issue 16: CIFAR-10 page < 1 MB; a 1M-row input's page < 5 MB,
rendered in < 3 s."""

from __future__ import annotations

import os
import shutil
import subprocess

from harness import BENCH, REPO, Cell, Env, Job, cells_json, finish, kept, prepare, run_jobs
from report import Col, input_col, size_col, text_col, time_col

from .base import Section

PAGE_LIMIT = {1_000_000: 5_000_000}  # rows -> the page-size limit (bytes)
RENDER_LIMIT_S = 3.0
CIFAR = REPO / "sample_data" / "cifar10"


def _cifar_page(env: Env, work) -> dict:
    """The CIFAR-10 sample's page: its size (the same every run: the page is deterministic)."""
    out = work / "cifar10.html"
    cmd = [
        env.la_cli or "labelaudit",
        "report",
        "-l",
        str(CIFAR / "labels.npy"),
        "-p",
        str(CIFAR / "pred_probs.npy"),
    ]
    cmd += ["--class-names", str(CIFAR / "class_names.txt"), "-o", str(out), "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    return {"bytes": out.stat().st_size} if r.returncode == 0 else {"error": r.stderr[-300:]}


def measure(size: str, args, env: Env, notes: list[str]) -> dict:
    n, k, name, lp, pp, work, res = prepare(size, args, "report")
    cells = {key: Cell() for key in ("la_proc", "render")}
    page = work / "report.html"
    la_cmd = [env.la_cli or "labelaudit", "report", "-l", str(lp), "-p", str(pp), "-o", str(page), "--quiet"]
    render_cmd = [env.la_py, str(BENCH / "report_render.py"), str(kept(page)), str(work / "render.json")]
    if env.la_cli is None:
        cells["la_proc"].status = cells["render"].status = "n/a"
    if shutil.which("chromium") is None and not os.path.exists("/usr/bin/chromium"):
        cells["render"].status = "skipped"
        notes.append("report: no chromium on PATH (apt-get install chromium); render times skipped.")
    jobs = [
        Job("la_proc", "labelaudit report", la_cmd, page),
        Job("render", "report page in Chromium", render_cmd, work / "render.unused", work / "render.json"),
    ]
    run_jobs(f"report {name}", jobs, cells, args, work, notes)
    res["page_bytes"] = kept(page).stat().st_size if kept(page).exists() else None
    res["cells"] = cells_json(cells)
    res["cifar10"] = _cifar_page(env, work)
    finish(work, args, res)
    return res


def _size(b: int | None) -> str:
    return "–" if b is None else f"{b / 1e6:.2f} MB" if b >= 1e5 else f"{b / 1e3:.1f} kB"


def _within(r: dict) -> str:
    limit = PAGE_LIMIT.get(r["n"])
    render = r["cells"]["render"]["best"]
    if r["page_bytes"] is None or limit is None:
        return "–"
    ok = r["page_bytes"] < limit and (render is None or render < RENDER_LIMIT_S)
    return f"{'yes' if ok else 'no'} (< {limit / 1e6:g} MB, < {RENDER_LIMIT_S:g} s)"


COLUMNS = [
    size_col(),
    input_col(),
    time_col("labelaudit report (process)", "la_proc"),
    Col("page size", lambda r: r["page_bytes"], _size),
    time_col("render in Chromium", "render"),
    Col(
        "DOMContentLoaded",
        lambda r: r["cells"]["render"]["extra"].get("dom_content_loaded_ms"),
        lambda v: "–" if v is None else f"{v:.0f} ms",
    ),
    text_col("within the issue's limits", _within),
]


def notes(results: list[dict], meta: dict) -> list[str]:
    cifar = next((r["cifar10"] for r in results if "bytes" in r.get("cifar10", {})), None)
    lines = [
        "- **process**: `labelaudit report -l L -p P -o report.html --quiet` (validation, health, overlap, "
        "find-issues, the histogram, the page, the sha256 of both inputs), min over the repeats.",
        "- **render**: `bench/report_render.py`: Debian's headless Chromium via playwright, started once outside "
        "the timed region; a fresh 1400-px page per load, timed from `goto` until the page's script has drawn "
        "the issue table; min of 3 loads per repeat. DOMContentLoaded: the navigation timing of that load.",
        "- **page**: the first 10,000 ranked issues embedded (`--rows`), 200 drawn at a time, plus the total.",
    ]
    if cifar is not None:
        lines.append(
            f"- **CIFAR-10 sample** (`sample_data/cifar10`, 10,000 × 10): page {_size(cifar['bytes'])} (limit 1 MB)."
        )
    return lines


SECTION = Section(
    name="report",
    title="HTML report",
    sizes_option="--report-sizes",
    default_sizes="1Mx10",
    quick_sizes="20kx10",
    measure=measure,
    columns=COLUMNS,
    notes=notes,
)
