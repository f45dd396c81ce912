"""The audit fixtures (tests/golden/generate_golden_audit.py made them with the reference): inputs and
expected results of each run."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
INPUTS, EXPECTED = GOLDEN / "inputs_audit", GOLDEN / "expected_audit"
RUNS = tuple(sorted(p.name for p in EXPECTED.iterdir() if p.is_dir()))


@cache
def expected(run: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(issues table, summary table, info document) of a run."""
    d = EXPECTED / run
    summary = pd.read_csv(d / "summary.csv", keep_default_na=False)
    return pd.read_parquet(d / "issues.parquet"), summary, json.loads((d / "info.json").read_text())


def inputs(run: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(labels, pred_probs, features or None) of a run, features in the dtype the reference was given."""
    info = expected(run)[2]
    d = INPUTS / info["set"]
    labels, pred_probs = np.load(d / "labels.npy"), np.load(d / "pred_probs.npy")
    features = None if info["features"] is None else np.load(d / "features.npy").astype(info["features"])
    return labels, pred_probs, features
