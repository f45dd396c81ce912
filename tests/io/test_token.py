"""--task token inputs: sentence lengths and per-sentence rows that do not match, through the CLI."""

from __future__ import annotations

import json

import numpy as np
from helpers import P_T

from labelaudit.cli import app


def test_cli_token_length_mismatch(runner, tok_files):
    np.save(tok_files / "badlen.npy", np.array([3, 2, 2]))
    out = tok_files / "o.npy"
    r = runner.invoke(
        app,
        [
            "find-issues",
            "--task",
            "token",
            "-l",
            str(tok_files / "y.npy"),
            "-p",
            str(tok_files / "p.npy"),
            "--sentence-lengths",
            str(tok_files / "badlen.npy"),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 2 and "badlen.npy" in r.stderr and "sum to 7" in r.stderr and not out.exists()
    rows = [{"labels": [0, 1], "pred_probs": P_T[:3].tolist()}]
    with open(tok_files / "bad.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    r = runner.invoke(
        app,
        [
            "find-issues",
            "--task",
            "token",
            "-l",
            str(tok_files / "bad.jsonl"),
            "-p",
            str(tok_files / "bad.jsonl"),
        ],
    )
    assert r.exit_code == 2 and "sentence 0 has 2 labels but 3 rows" in r.stderr
