"""The targets of bench/targets.toml, each checked against a run's results by one generic function.

    rows = evaluate(load(), results)   # one row per target (per size for size = "*")

A row: section, size, goal (the description), value (the number judged, None when missing),
measured (the text shown) and met (None when nothing was measured).
"""

from __future__ import annotations

import operator
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from report import paired_ratios, ratio_value

TARGETS_FILE = Path(__file__).resolve().parent / "targets.toml"
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
METRICS = ("time_ratio", "peak_rss")


@dataclass(frozen=True)
class Target:
    section: str
    size: str  # "*": every size the section measured
    description: str
    metric: str  # "time_ratio" or "peak_rss"
    op: str
    threshold: float | None = None  # time_ratio
    num: str = ""  # time_ratio: cell keys, num / den
    den: str = ""
    label: str = ""
    also_num: str = ""
    also_den: str = ""
    also_label: str = ""
    paired: bool = False
    cell: str = ""  # peak_rss
    threshold_mib: float | None = None
    pred_probs_factor: float | None = None
    plus_bytes: float = 0.0


def load(path: Path = TARGETS_FILE) -> list[Target]:
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    targets = [Target(**t) for t in doc.get("target", [])]
    for t in targets:
        if t.metric not in METRICS or t.op not in OPS:
            raise ValueError(f"{path}: bad metric {t.metric!r} or op {t.op!r} in {t.description!r}")
        bounds = (t.threshold, t.threshold_mib, t.pred_probs_factor)
        if sum(b is not None for b in bounds) != 1:
            raise ValueError(
                f"{path}: {t.description!r} needs exactly one of threshold, threshold_mib, pred_probs_factor"
            )
    return targets


def _cell(r: dict, key: str) -> dict:
    return r["cells"].get(key, {})


def _ratio(r: dict, num: str, den: str) -> float | None:
    return ratio_value(_cell(r, num).get("best"), _cell(r, den).get("best"))


def check(t: Target, r: dict | None) -> dict:
    """One target against one size's result (None: that size was not measured)."""
    row = {"section": t.section, "size": t.size if r is None else r["size"], "goal": t.description}
    ok = OPS[t.op]
    if t.metric == "time_ratio":
        v = None if r is None else _ratio(r, t.num, t.den)
        text = "not measured" if r is None else ("n/a" if v is None else f"{v:.2f}× ({t.label})")
        met = v is not None and ok(v, t.threshold)
        if r is not None and t.also_num:
            va = _ratio(r, t.also_num, t.also_den)
            if va is not None:
                text += f"; {va:.2f}× {t.also_label}"
        paired = [] if r is None or not t.paired else paired_ratios(_cell(r, t.num), _cell(r, t.den))
        if paired:
            text += f"; paired runs: median {np.median(paired):.2f}×, {min(paired):.2f}-{max(paired):.2f}×"
            met = met and ok(np.median(paired), t.threshold)
    else:
        v = None if r is None else _cell(r, t.cell).get("best_rss_mb")
        if t.threshold_mib is not None:
            limit, shown_limit = t.threshold_mib, ""
        else:
            pbytes = 0 if r is None else r.get("pred_probs_bytes") or r["n"] * r["k"] * 4 + 128  # older JSON
            limit = (t.pred_probs_factor * pbytes + t.plus_bytes) / 2**20
            shown_limit = f" (limit {limit:,.0f} MiB)"
        text = "not measured" if r is None else ("n/a" if v is None else f"{v:,.0f} MiB{shown_limit}")
        met = v is not None and ok(v, limit)
    return {**row, "value": v, "measured": text, "met": None if v is None else bool(met)}


def evaluate(targets: list[Target], results: dict) -> list[dict]:
    """Every target against a run's results ({section: [result per size]}), in the file's order."""
    rows = []
    for t in targets:
        measured = results.get(t.section, [])
        if t.size == "*":
            rows.extend(check(t, r) for r in measured)
        else:
            rows.append(check(t, {r["size"]: r for r in measured}.get(t.size)))
    return rows
