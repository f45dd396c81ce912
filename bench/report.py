"""The Markdown report: one table renderer driven by column specs, the header, machine block and notes.

A section declares its table as a list of Col: the header, how to read a value from one row (a
size's result, or a view of it such as one mode of njobs), how to format it, and the alignment.
Rows read their measurements from row["cells"][key] (a cells_json entry).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NA_CELL = {"best": None, "best_rss_mb": None, "all": [], "rss_all": [], "status": "n/a", "extra": {}}


@dataclass(frozen=True)
class Col:
    header: str
    value: Callable[[dict], Any]  # reads the value from one row
    fmt: Callable[[Any], str] = str  # turns that value into the cell text
    align: str = "r"  # "r": numbers (--:), "l": text (---)


# --------------------------------------------------------------------------- formatting


def fmt_s(v: float | None, status: str) -> str:
    if status:
        return status
    if v is None:
        return "n/a"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def fmt_mb(v: float | None, status: str) -> str:
    return status if status else ("n/a" if v is None else f"{v:,.0f}")


def ratio_value(num: float | None, den: float | None) -> float | None:
    return None if num is None or den is None or den <= 0 else num / den


def fmt_ratio(v: float | None) -> str:
    """cleanlab / labelaudit in the versus tables: one decimal, none from 100× up."""
    if v is None:
        return "–"
    return f"{v:.1f}×" if v < 100 else f"{v:.0f}×"


def fmt_ratio2(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}×"


def paired_ratios(a: dict, b: dict) -> list[float]:
    """a / b for the runs of the same repeat (jobs of one repeat run back to back): less exposed to the
    machine's slow minutes than the ratio of the two minima."""
    if a.get("status") or b.get("status"):
        return []
    return [x / y for x, y in zip(a.get("all") or [], b.get("all") or [], strict=False) if y > 0]


def fmt_paired(ratios: list[float]) -> str:
    return "–" if not ratios else f"{np.median(ratios):.2f}× ({min(ratios):.2f}-{max(ratios):.2f}×)"


# --------------------------------------------------------------------------- column specs


def cell(row: dict, key: str) -> dict:
    return row["cells"].get(key, NA_CELL)


def size_col() -> Col:
    return Col("N × K", lambda r: f"{r['n']:,} × {r['k']:,}", align="l")


def input_col() -> Col:
    return Col("input MB", lambda r: r["input_mb"], lambda v: f"{v:,.0f}")


def time_col(header: str, key: str) -> Col:
    """The best (min) time of a cell, or its status."""
    return Col(header, lambda r: cell(r, key), lambda c: fmt_s(c["best"], c["status"]))


def rss_col(header: str, key: str) -> Col:
    """The peak RSS (max over the repeats) of a cell in MiB, or its status."""
    return Col(header, lambda r: cell(r, key), lambda c: fmt_mb(c["best_rss_mb"], c["status"]))


def ratio_col(header: str, num: str, den: str, rss: bool = False, fmt=fmt_ratio) -> Col:
    """num / den of two cells' best times (or peak RSS); – when either is missing."""
    field = "best_rss_mb" if rss else "best"
    return Col(header, lambda r: ratio_value(cell(r, num)[field], cell(r, den)[field]), fmt)


def text_col(header: str, value: Callable[[dict], Any], align: str = "l") -> Col:
    return Col(header, value, align=align)


def versus_cols() -> list[Col]:
    """Size, input MB, then call and process times and process peak RSS of both libraries with ratios
    (cells la_call, cl_call, la_proc, cl_proc): the first eleven columns of find and health."""
    return [
        size_col(),
        input_col(),
        time_col("call: labelaudit", "la_call"),
        time_col("call: cleanlab", "cl_call"),
        ratio_col("ratio", "cl_call", "la_call"),
        time_col("process: labelaudit", "la_proc"),
        time_col("process: cleanlab", "cl_proc"),
        ratio_col("ratio", "cl_proc", "la_proc"),
        rss_col("peak RSS MiB: labelaudit", "la_proc"),
        rss_col("peak RSS MiB: cleanlab", "cl_proc"),
        ratio_col("ratio", "cl_proc", "la_proc", rss=True),
    ]


# --------------------------------------------------------------------------- rendering


def md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table(cols: Sequence[Col], rows: Sequence[dict]) -> list[str]:
    """The one table renderer: header, alignment line, one line per row."""
    lines = [
        md_row([c.header for c in cols]),
        "|" + "|".join("--:" if c.align == "r" else "---" for c in cols) + "|",
    ]
    lines.extend(md_row([c.fmt(c.value(r)) for c in cols]) for r in rows)
    return lines


def render_section(sec, results: list[dict], meta: dict) -> list[str]:
    rows = [view for r in results for view in sec.rows(r)]
    return [f"## {sec.title}", "", *table(sec.columns, rows), "", *sec.notes(results, meta), ""]


def header(meta: dict) -> list[str]:
    """Title, command, the machine block and the paragraph on how numbers are taken."""
    L = ["# labelaudit vs cleanlab", "", f"Run {meta['date']} with `{meta['command']}`.", ""]
    mc = meta["machine"]
    L += ["| machine | |", "|---|---|", f"| CPU | {mc['cpu']}, {mc['cores']} |"]
    L += [f"| RAM | {mc['ram']} |", f"| OS | {mc['os']} |"]
    if meta.get("loadavg"):
        L.append(f"| load average (1 min) at start / end | {meta['loadavg']} |")
    iw = meta.get("idle_wait")
    if iw and iw.get("max_wait_s", 0) > 0:
        L.append(
            f"| other load | each timed run waited for < 0.3 busy cores elsewhere (up to {iw['max_wait_s']:.0f} s): "
            f"{iw['runs']} runs, {iw['waited_s']:.0f} s waited in all, {iw['started_busy']} started busy anyway |"
        )
    la, cl = meta["labelaudit"], meta["cleanlab"]
    L.append(
        f"| labelaudit | {la.get('version', '?')} (Python {la.get('python', '?')}, numpy {la.get('numpy', '?')}) |"
    )
    if cl:
        L.append(
            f"| cleanlab | {cl.get('version', '?')} (Python {cl.get('python', '?')}, numpy {cl.get('numpy', '?')})"
            + (f"; find_label_issues n_jobs {meta['cleanlab_n_jobs']}" if meta.get("cleanlab_n_jobs") else "")
            + " |"
        )
    else:
        L.append(f"| cleanlab | not run: {meta['cleanlab_missing']} |")
    L.append("")
    L.append(
        f"Inputs: float32 `pred_probs.npy` and int64 `labels.npy` from `bench/gen.py` (seed {meta['seed']}), opened "
        f"memory-mapped. Times in seconds, min of {meta['repeat']} run(s), each in a fresh process (peak RSS: the "
        "max of those runs); "
        "ratio = cleanlab / labelaudit (higher means labelaudit is faster or smaller). Peak RSS is `ru_maxrss` "
        "of the whole process from `os.wait4`, in MiB (largest single process of the tree; pages of "
        "memory-mapped inputs that a process touches count toward its RSS)."
    )
    L.append("")
    return L


TARGET_COLS = [
    text_col("section", lambda x: x["section"]),
    text_col("size", lambda x: x["size"]),
    text_col("target", lambda x: x["goal"]),
    text_col("measured", lambda x: x["measured"]),
    Col("met", lambda x: x["met"], lambda m: "–" if m is None else ("met" if m else "**not met**"), "l"),
]


def render(results: dict, meta: dict, notes: list[str], sections: dict, target_rows: list[dict]) -> str:
    """The whole report: header, the targets of the sections run, one table per section, notes."""
    L = header(meta)
    measured = [x for x in target_rows if x["section"] in results]
    if measured:
        L += ["## Targets", "", *table(TARGET_COLS, measured), ""]
    for name, sec in sections.items():
        if results.get(name):
            L.extend(render_section(sec, results[name], meta))
    if notes:
        L += ["Notes:", ""]
        L.extend(f"- {' '.join(note.split())}" for note in notes)
        L.append("")
    return "\n".join(L)
