"""Messages that name the file, the rule and the value (issue 18), one line each, exit 2, nothing written.

Class-names files that are not UTF-8 or cannot be read, multi-label cells that are not class lists, a
Parquet list column given as one-label-per-row data, tables with a header and no rows (CSV and an empty
Parquet, in memory and streamed), token JSON lines of the wrong shape, labels that mix integers and names,
and a --memory-limit too small for one block.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.cli.test_inputs_tables import EVERY_READER, P, Y, fails, frame, ok


@pytest.fixture
def npy(tmp_path):
    np.save(tmp_path / "y.npy", Y)
    np.save(tmp_path / "p.npy", P)
    return tmp_path / "y.npy", tmp_path / "p.npy"


# ---------------------------------------------------------------------------- class names


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_class_names_not_utf8(runner, tmp_path, npy, command):
    names = tmp_path / "names.txt"
    names.write_bytes(b"cat\n\xffdog\nbird\n")
    fails(
        runner,
        [*command, "-l", npy[0], "-p", npy[1], "--class-names", names],
        f"{names}: class names must be UTF-8 text; byte 0xff at offset 4 is not valid UTF-8",
        tmp_path,
    )


def test_class_names_unreadable(runner, tmp_path, npy, monkeypatch):
    import builtins

    from labelaudit.io import readers

    names = tmp_path / "names.txt"
    names.write_text("cat\ndog\nbird\n")

    def refused(path, *args, **kwargs):
        if str(path) == str(names):
            raise PermissionError(13, "Permission denied", str(path))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(readers, "open", refused, raising=False)
    fails(
        runner,
        ["find-issues", "-l", npy[0], "-p", npy[1], "--class-names", names],
        f"{names}: class names file cannot be read: Permission denied",
        tmp_path,
    )


# ---------------------------------------------------------------------------- multi-label cells


def multilabel_table(tmp_path, cells: list) -> str:
    path = tmp_path / "ml.csv"
    pd.DataFrame({"label": cells, "a": [0.9, 0.2, 0.7], "b": [0.1, 0.8, 0.6], "c": [0.3, 0.4, 0.2]}).to_csv(
        path, index=False
    )
    return str(path)


@pytest.mark.parametrize(
    ("cell", "rule"),
    [
        ("²", "class '²' is neither an integer nor a known class name; the cell holds '²'"),
        ("[-1, 2]", "class -1 is outside 0..2; the cell holds '[-1, 2]'"),
        ("0,3", "class 3 is outside 0..2; the cell holds '0,3'"),
        ("1.5", "class '1.5' is neither an integer nor a known class name; the cell holds '1.5'"),
    ],
    ids=["superscript", "negative", "too-big", "float"],
)
def test_multilabel_cell_names_the_bad_class(runner, tmp_path, cell, rule):
    path = multilabel_table(tmp_path, ["a", cell, "b,c"])
    args = ["find-issues", "--task", "multilabel", "-l", path, "-p", path]
    fails(runner, args, f"{path}: row 1: {rule}", tmp_path)


def test_multilabel_parquet_list_of_floats(runner, tmp_path):
    path = tmp_path / "ml.parquet"
    df = pd.DataFrame(
        {"label": [[0.0], [1.5], [2.0]], "a": [0.9, 0.2, 0.7], "b": [0.1, 0.8, 0.6], "c": [0.3, 0.4, 0.2]}
    )
    df.to_parquet(path)
    args = ["find-issues", "--task", "multilabel", "-l", path, "-p", path]
    fails(
        runner, args, f"{path}: row 1: class 1.5 is not an integer class id; the cell holds [1.5]", tmp_path
    )


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_parquet_list_column_as_multiclass_labels(runner, tmp_path, command):
    path = tmp_path / "t.parquet"
    df = frame()
    df["label"] = [[0], [1, 2], [2], [0], [1], [2]]
    df.to_parquet(path)
    fails(
        runner,
        [*command, "-l", path, "-p", path],
        f"{path}: labels must hold one class per row; column 'label' holds lists (row 0: [0]); "
        "class lists are multi-label data (--task multilabel)",
        tmp_path,
    )


# ---------------------------------------------------------------------------- empty tables


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_header_only_csv(runner, tmp_path, npy, command):
    path = tmp_path / "p.csv"
    path.write_text("p0,p1,p2\n")
    fails(
        runner,
        [*command, "-l", npy[0], "-p", path],
        f"{path}: pred_probs table is empty (0 rows); columns are ['p0', 'p1', 'p2']",
        tmp_path,
    )


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_empty_parquet(runner, tmp_path, command):
    path = tmp_path / "t.parquet"
    frame().iloc[:0].to_parquet(path)
    fails(
        runner,
        [*command, "-l", path, "-p", path],
        f"{path}: pred_probs table is empty (0 rows); columns are ['label', 'p0', 'p1', 'p2']",
        tmp_path,
    )


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_header_only_labels_csv(runner, tmp_path, npy, command):
    path = tmp_path / "y.csv"
    path.write_text("label\n")
    fails(
        runner,
        [*command, "-l", path, "-p", npy[1]],
        f"{path}: labels table is empty (0 rows); columns are ['label']",
        tmp_path,
    )


# ---------------------------------------------------------------------------- token JSON lines


@pytest.mark.parametrize(
    ("lines", "rule"),
    [
        (["[1, 2]"], "line 1: each line must be a JSON object (one sentence); got a list"),
        (
            ['{"labels": [0], "pred_probs": [[0.9, 0.1]]}', "{oops"],
            "line 2: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        ),
        (
            ['{"labels": 3, "pred_probs": [[0.9, 0.1]]}'],
            "sentence 0: 'labels' must be a list (one tag per token); got 3",
        ),
        (
            ['{"labels": [0, 1], "pred_probs": [0.9, 0.1]}'],
            "sentence 0: 'pred_probs' must be a list of per-token probability lists; token 0 has 0.9",
        ),
        (
            ['{"labels": [0], "pred_probs": [["a", "b"]]}'],
            "sentence 0: 'pred_probs' must be a list of per-token probability lists; token 0 has ['a', 'b']",
        ),
        (
            [
                '{"labels": [0], "pred_probs": [[0.9, 0.1]]}',
                '{"labels": [1], "pred_probs": [[0.2, 0.3, 0.5]]}',
            ],
            "sentence 1, token 0: 3 probabilities, but the first token has 2",
        ),
    ],
    ids=["list-line", "bad-json", "labels-not-list", "flat-probs", "string-probs", "ragged"],
)
def test_token_jsonl_of_the_wrong_shape(runner, tmp_path, lines, rule):
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines) + "\n")
    args = ["find-issues", "--task", "token", "-l", path, "-p", path]
    fails(runner, args, f"{path}: {rule}", tmp_path)


def test_token_jsonl_still_reads(runner, tok_files):
    doc = ok(
        runner,
        [
            "find-issues",
            "--task",
            "token",
            "-l",
            tok_files / "s.jsonl",
            "-p",
            tok_files / "s.jsonl",
            "--class-names",
            tok_files / "tags.txt",
            "--format",
            "json",
        ],
    )
    assert doc["n_examples"] == 8 or doc["n_examples"] == 3
    json.dumps(doc)


# ---------------------------------------------------------------------------- mixed labels


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_mixed_labels_report_the_first_bad_row(runner, tmp_path, command):
    path = tmp_path / "t.csv"
    df = frame().astype({"label": object})
    df.loc[2, "label"] = "cat"
    df.to_csv(path, index=False)
    fails(
        runner,
        [*command, "-l", path, "-p", path],
        f"{path}: labels must be all integers or all class names; row 2 holds 'cat' but row 0 holds 0",
        tmp_path,
    )


def test_mixed_labels_with_a_separate_pred_probs(runner, tmp_path, npy):
    path = tmp_path / "y.csv"
    path.write_text("label\n0\n1\n2\n0\nbird\n2\n")
    fails(
        runner,
        ["find-issues", "-l", path, "-p", npy[1]],
        f"{path}: labels must be all integers or all class names; row 4 holds 'bird' but row 0 holds 0",
        tmp_path,
    )


# ---------------------------------------------------------------------------- --memory-limit


@pytest.mark.parametrize("value", ["0", "0MB", "512KB", "1000000", "0.5MB"])
def test_memory_limit_below_one_block(runner, tmp_path, npy, value):
    fails(
        runner,
        ["batched", "-l", npy[0], "-p", npy[1], "--memory-limit", value],
        f"--memory-limit must be at least 1MB (room for one block of rows); got {value!r}",
        tmp_path,
    )


def test_memory_limit_of_one_megabyte_runs(runner, npy):
    ok(runner, ["batched", "-l", npy[0], "-p", npy[1], "--memory-limit", "1MB", "--format", "csv"])


def test_memory_limit_too_small_for_one_row(runner, tmp_path):
    k = 40000
    p = np.full((3, k), 1.0 / k)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "y.npy", np.array([0, 1, 2]))
    fails(
        runner,
        ["batched", "-l", tmp_path / "y.npy", "-p", tmp_path / "p.npy", "--memory-limit", "2MB"],
        "--memory-limit '2MB' is too small for one row of 40000 columns: a block needs 2.4MB per row "
        "(the row and its kernels' temporaries)",
        tmp_path,
    )
