"""Access to the committed golden fixtures (tests/golden): inputs and cleanlab 2.9.0 reference outputs."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).parent / "golden"
REAL_SETS = ("mnist", "cifar10", "imdb", "20news")
GEN_SETS = ("gen_k5", "gen_absent", "gen_singleton", "gen_k2", "gen_f32", "gen_k50")
ALL_SETS = REAL_SETS + GEN_SETS


@cache
def inputs(name: str) -> tuple[np.ndarray, np.ndarray]:
    d = GOLDEN / "inputs" / name
    return np.load(d / "labels.npy"), np.load(d / "pred_probs.npy")


def memmapped(name: str) -> tuple[np.ndarray, np.ndarray]:
    d = GOLDEN / "inputs" / name
    return np.load(d / "labels.npy", mmap_mode="r"), np.load(d / "pred_probs.npy", mmap_mode="r")


@cache
def manifest(name: str) -> list[dict]:
    return json.loads((GOLDEN / "expected" / f"{name}.json").read_text())


@cache
def expected(name: str) -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "expected" / f"{name}.npz") as z:
        return {k: z[k] for k in z.files}


def entries(funcs: set[str]) -> list[tuple[str, dict]]:
    """(set name, manifest entry) for every stored result of the given reference functions."""
    out = []
    for name in ALL_SETS:
        for e in manifest(name):
            if e["func"] in funcs and e.get("key"):
                out.append((name, e))
    return out


def entry_id(item: tuple[str, dict]) -> str:
    name, e = item
    kw = ",".join(f"{k}={v}" for k, v in e["kwargs"].items() if k not in ("n_jobs", "verbose"))
    suffix = f"[{e['item_name']}]" if "item_name" in e else ""
    return f"{name}:{e['func']}({kw}){suffix}"
