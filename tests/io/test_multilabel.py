"""--task multilabel inputs: label lists in tables and input validation, through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import P_M, Y_M

from labelaudit.cli import app


def test_cli_multilabel_table_lists(runner, tmp_path):
    df = pd.DataFrame(
        {"label": ["a", "a,b", "b", "c", "[a, c]", ""], "a": P_M[:, 0], "b": P_M[:, 1], "c": P_M[:, 2]}
    )
    df.to_csv(tmp_path / "t.csv", index=False)
    r = runner.invoke(
        app,
        [
            "find-issues",
            "--task",
            "multilabel",
            "-l",
            str(tmp_path / "t.csv"),
            "-p",
            str(tmp_path / "t.csv"),
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [row["index"] for row in doc["issues"]] == [1, 4, 5, 2] and doc["issues"][0]["given_labels"] == [
        "a",
        "b",
    ]


@pytest.mark.parametrize(
    "labels, probs, message",
    [
        (np.array([0, 1, 2, 0, 1, 2]), P_M, "(N, K) 0/1 matrix"),  # class ids are never read as a matrix
        (Y_M * 2, P_M, "0/1"),
        (np.zeros((6, 3), dtype=int), P_M, "every row is empty"),
        (Y_M[:, :1], P_M[:, :1], "K >= 2"),
        (Y_M, P_M * 3, "[0, 1]"),
    ],
)
def test_cli_multilabel_bad_inputs(runner, tmp_path, labels, probs, message):
    np.save(tmp_path / "y.npy", labels)
    np.save(tmp_path / "p.npy", probs)
    out = tmp_path / "o.npy"
    r = runner.invoke(
        app,
        [
            "find-issues",
            "--task",
            "multilabel",
            "-l",
            str(tmp_path / "y.npy"),
            "-p",
            str(tmp_path / "p.npy"),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 2 and message in r.stderr and not out.exists()


def test_cli_multilabel_class_beyond_k(runner, tmp_path):
    pd.DataFrame({"label": ["0", "0,5"], "a": [0.9, 0.8], "b": [0.1, 0.3]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    r = runner.invoke(
        app,
        ["find-issues", "--task", "multilabel", "-l", str(tmp_path / "t.csv"), "-p", str(tmp_path / "t.csv")],
    )
    assert r.exit_code == 2 and "row 1" in r.stderr and "outside 0..1" in r.stderr
