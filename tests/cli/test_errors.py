"""One test per bad input (README, "Exit codes and errors": exit code 2, one message, nothing written).

Every test goes through `expect_error`, which runs the command with `-o` pointing into an empty folder
and checks: exit code 2, nothing on stdout, the expected fragments (file, rule, value) on stderr, no
traceback, and no output file or temporary file anywhere under tmp_path's output folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelaudit.cli import app

Y = np.array([0, 1, 2, 0, 1, 2])
P = np.array(
    [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]]
)


class Inputs:
    """Writes input files into tmp_path/in; outputs go to tmp_path/out (kept empty by every failure)."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path / "in"
        self.dir.mkdir()
        self.out = tmp_path / "out"
        self.out.mkdir()
        self.labels = self.npy("labels.npy", Y)
        self.probs = self.npy("pred_probs.npy", P)

    def npy(self, name: str, array) -> str:
        path = self.dir / name
        np.save(path, np.asarray(array), allow_pickle=False)
        return str(path)

    def raw(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        return str(path)

    def text(self, name: str, text: str) -> str:
        path = self.dir / name
        path.write_text(text)
        return str(path)


@pytest.fixture
def inp(tmp_path) -> Inputs:
    return Inputs(tmp_path)


def expect_error(runner, inp: Inputs, args: list, *fragments: str, output: str | None = None) -> str:
    """Run `args` plus `-o OUTPUT` (default: out/result.csv) and check the failure contract; returns stderr."""
    target = output if output is not None else str(inp.out / "result.csv")
    result = runner.invoke(app, [*map(str, args), "-o", target])
    stderr = result.stderr
    assert result.exit_code == 2, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {stderr}"
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in stderr, f"{fragment!r} not in stderr:\n{stderr}"
    assert "Traceback" not in stderr
    assert not Path(target).exists()
    assert os.listdir(inp.out) == [], "an output or temporary file was left behind"
    strays = [n for n in os.listdir(inp.dir) if n.endswith(".tmp") or n.startswith(".")]
    assert strays == []
    return stderr


def error_line(stderr: str) -> str:
    """Bad input is reported as one `Error: ...` line."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith("Error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def find(inp: Inputs, labels=None, probs=None) -> list:
    return ["find-issues", "-l", labels or inp.labels, "-p", probs or inp.probs]


# ---------------------------------------------------------------------------- files


def test_missing_labels_file(runner, inp):
    missing = str(inp.dir / "nope.npy")
    err = expect_error(runner, inp, find(inp, labels=missing), missing, "not found")
    assert "labels" in error_line(err)


def test_missing_pred_probs_file(runner, inp):
    missing = str(inp.dir / "nope.parquet")
    err = expect_error(runner, inp, find(inp, probs=missing), missing, "not found")
    assert "pred_probs" in error_line(err)


def test_unreadable_npy_garbage_bytes(runner, inp):
    bad = inp.raw("garbage.npy", b"this is not a numpy file \x00\xff" * 8)
    expect_error(runner, inp, find(inp, probs=bad), bad, "unreadable", f"({os.path.getsize(bad)} bytes)")


def test_unreadable_corrupt_parquet(runner, inp):
    good = inp.dir / "good.parquet"
    pd.DataFrame({"label": Y}).to_parquet(good)
    data = good.read_bytes()
    bad = inp.raw("corrupt.parquet", data[: len(data) // 2] + b"\x00" * 64)
    expect_error(runner, inp, find(inp, labels=bad), bad, "unreadable", ".parquet")


def test_truncated_npy(runner, inp):
    whole = Path(inp.npy("whole.npy", np.random.default_rng(0).dirichlet([1, 1, 1], size=600)))
    data = whole.read_bytes()
    cut = inp.raw("cut.npy", data[: len(data) // 2])
    labels = inp.npy("labels600.npy", np.arange(600) % 3)
    expect_error(
        runner, inp, find(inp, labels=labels, probs=cut), cut, "truncated", f"({len(data) // 2} bytes)"
    )


# ---------------------------------------------------------------------------- shapes


def test_labels_2d(runner, inp):
    bad = inp.npy("labels2d.npy", Y.reshape(3, 2))
    expect_error(runner, inp, find(inp, labels=bad), bad, "1-D", "(3, 2)")


def test_pred_probs_1d(runner, inp):
    bad = inp.npy("p1d.npy", P[:, 0])
    expect_error(runner, inp, find(inp, probs=bad), bad, "2-D", "(6,)")


def test_pred_probs_3d(runner, inp):
    bad = inp.npy("p3d.npy", P.reshape(6, 3, 1))
    expect_error(runner, inp, find(inp, probs=bad), bad, "2-D", "(6, 3, 1)")


def test_n_mismatch(runner, inp):
    short = inp.npy("labels5.npy", Y[:5])
    err = expect_error(runner, inp, find(inp, labels=short), short, inp.probs, "5 labels", "6 rows")
    assert "match" in error_line(err)


def test_empty_input(runner, inp):
    labels = inp.npy("labels0.npy", np.zeros(0, dtype=np.int64))
    probs = inp.npy("p0.npy", np.zeros((0, 3)))
    expect_error(runner, inp, find(inp, labels=labels, probs=probs), probs, "empty", "0 rows")


def test_empty_labels_table(runner, inp):
    labels = inp.text("labels.csv", "label\n")
    expect_error(runner, inp, find(inp, labels=labels), labels, "empty", "0 rows")


def test_k_below_2(runner, inp):
    probs = inp.npy("p1.npy", np.ones((6, 1)))
    labels = inp.npy("zeros.npy", np.zeros(6, dtype=np.int64))
    expect_error(runner, inp, find(inp, labels=labels, probs=probs), probs, "at least 2", "K=1")


# ---------------------------------------------------------------------------- label values


def test_labels_outside_range(runner, inp):
    bad = inp.npy("labels_big.npy", [0, 1, 2, 3, 5, 2])
    err = error_line(expect_error(runner, inp, find(inp, labels=bad), bad, "0..2"))
    assert "2 outside" in err  # how many
    assert "first at row 3: 3" in err  # the first row and its value


def test_negative_labels(runner, inp):
    bad = inp.npy("labels_neg.npy", [0, 1, -1, 0, 1, 2])
    err = error_line(expect_error(runner, inp, find(inp, labels=bad), bad, "0..2"))
    assert "1 outside" in err and "first at row 2: -1" in err


def test_float_labels_not_integers(runner, inp):
    bad = inp.npy("labels_float.npy", [0.0, 1.0, 2.5, 0.0, 1.0, 2.0])
    expect_error(runner, inp, find(inp, labels=bad), bad, "integers")


def test_missing_label_in_table(runner, inp):
    labels = inp.text("labels.csv", "id,label\n0,0\n1,1\n2,\n3,0\n4,1\n5,2\n")
    expect_error(runner, inp, find(inp, labels=labels), labels, "missing label", "row 2")


# ---------------------------------------------------------------------------- probability values


def test_nan_in_pred_probs(runner, inp):
    p = P.copy()
    p[3, 1] = np.nan
    p[5, 0] = np.nan
    bad = inp.npy("p_nan.npy", p)
    expect_error(runner, inp, find(inp, probs=bad), bad, "finite", "row 3", "nan")


def test_inf_in_pred_probs(runner, inp):
    p = P.copy()
    p[4, 2] = -np.inf
    bad = inp.npy("p_inf.npy", p)
    expect_error(runner, inp, find(inp, probs=bad), bad, "finite", "row 4", "-inf")


def test_values_below_zero(runner, inp):
    p = P.copy()
    p[2] = [-0.2, 0.6, 0.6]
    bad = inp.npy("p_neg.npy", p)
    expect_error(runner, inp, find(inp, probs=bad), bad, "[0, 1]", "row 2", "-0.2")


def test_values_above_one(runner, inp):
    p = P.copy()
    p[1] = [0.0, 1.25, 0.0]
    bad = inp.npy("p_big.npy", p)
    expect_error(runner, inp, find(inp, probs=bad), bad, "[0, 1]", "row 1", "1.25")


def test_rows_not_summing_to_one(runner, inp):
    p = P.copy()
    p[4] = [0.3, 0.3, 0.2]
    bad = inp.npy("p_sum.npy", p)
    expect_error(runner, inp, find(inp, probs=bad), bad, "sum to 1", "row 4", "0.8")


def test_logits_suggest_from_logits(runner, inp):
    logits = np.array([[2.1, -0.3, 0.4], [-1.0, 3.2, 0.0], [0.5, 0.1, 2.2]] * 2)
    bad = inp.npy("logits.npy", logits)
    expect_error(runner, inp, find(inp, probs=bad), bad, "[0, 1]", "row 0", "--from-logits")


def test_pred_probs_not_numeric(runner, inp):
    probs = inp.npy("p_int.npy", (P > 0.5).astype(np.int64))
    expect_error(runner, inp, find(inp, probs=probs), probs, "floating point", "int64")


# ---------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("command", "option", "value", "rule"),
    [
        ("find-issues", "--filter-by", "nope", "'nope' is not one of"),
        ("find-issues", "--rank-by", "nope", "'nope' is not one of"),
        ("find-issues", "--format", "xml", "'xml' is not one of"),
        ("rank", "--method", "nope", "'nope' is not one of"),
        ("rank", "--format", "xml", "'xml' is not one of"),
        # Typer's range messages state the rule but do not echo the value.
        ("find-issues", "--frac-noise", "2", "less than or equal to 1"),
        ("find-issues", "--batch-size", "0", "greater than or equal to 1"),
    ],
)
def test_unknown_option_value(runner, inp, command, option, value, rule):
    args = [command, "-l", inp.labels, "-p", inp.probs, option, value]
    expect_error(runner, inp, args, f"Invalid value for '{option}'", rule)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("1,2", "K=3"), ("a,b,c", "'a,b,c'"), ("1,-2,3", "'1,-2,3'")],
    ids=["wrong-count", "not-integers", "negative"],
)
def test_bad_num_to_remove_per_class(runner, inp, value, fragment):
    args = [*find(inp), f"--num-to-remove-per-class={value}"]
    err = error_line(expect_error(runner, inp, args, "--num-to-remove-per-class", fragment))
    assert value in err


def test_unknown_output_suffix(runner, inp):
    target = str(inp.out / "result.xyz")
    expect_error(runner, inp, find(inp), target, ".xyz", ".npy", output=target)


def test_output_without_suffix(runner, inp):
    target = str(inp.out / "result")
    expect_error(runner, inp, find(inp), target, "(none)", output=target)


def test_output_folder_missing(runner, inp):
    target = str(inp.out / "missing" / "result.csv")
    expect_error(runner, inp, find(inp), target, "does not exist", "missing", output=target)


# ---------------------------------------------------------------------------- class names and tables


def test_class_names_count_mismatch(runner, inp):
    names = inp.text("names.txt", "a\nb\n")
    err = expect_error(runner, inp, [*find(inp), "--class-names", names], names, "2 class names", "K=3")
    assert names in error_line(err)


def test_class_names_file_missing(runner, inp):
    names = str(inp.dir / "names.txt")
    expect_error(runner, inp, [*find(inp), "--class-names", names], names, "not found")


def test_class_names_not_unique(runner, inp):
    names = inp.text("names.txt", "a\nb\na\n")
    expect_error(runner, inp, [*find(inp), "--class-names", names], names, "unique")


def test_string_label_not_in_class_names(runner, inp):
    labels = inp.text("labels.csv", "label\na\nb\nc\na\nzz\nb\n")
    names = inp.text("names.txt", "a\nb\nc\n")
    err = error_line(
        expect_error(
            runner, inp, [*find(inp, labels=labels), "--class-names", names], labels, "'zz'", "row 4"
        )
    )
    assert "np.str_" not in err


def test_label_column_missing(runner, inp):
    table = inp.dir / "t.csv"
    pd.DataFrame({"target": Y, "p0": P[:, 0], "p1": P[:, 1], "p2": P[:, 2]}).to_csv(table, index=False)
    args = ["find-issues", "-l", table, "-p", table, "--label-column", "label"]
    expect_error(runner, inp, args, str(table), "--label-column", "'label'", "not found", "target")


def test_label_column_ambiguous(runner, inp):
    labels = inp.dir / "labels.csv"
    pd.DataFrame({"x": Y, "y": Y}).to_csv(labels, index=False)
    expect_error(runner, inp, find(inp, labels=str(labels)), str(labels), "--label-column")


def test_prob_columns_missing(runner, inp):
    table = inp.dir / "t.parquet"
    pd.DataFrame({"label": Y, "p0": P[:, 0], "p1": P[:, 1], "p2": P[:, 2]}).to_parquet(table)
    args = ["find-issues", "-l", table, "-p", table, "--prob-columns", "p0,p1,p9"]
    expect_error(runner, inp, args, str(table), "--prob-columns", "p9")


def test_unsupported_input_format(runner, inp):
    labels = inp.text("labels.txt", "0\n1\n2\n0\n1\n2\n")
    expect_error(runner, inp, find(inp, labels=labels), labels, "unsupported", ".npy")


# ---------------------------------------------------------------------------- rank --order-issues


def test_order_issues_file_missing(runner, inp):
    missing = str(inp.dir / "flagged.npy")
    expect_error(
        runner,
        inp,
        ["rank", "-l", inp.labels, "-p", inp.probs, "--order-issues", missing],
        missing,
        "not found",
    )


def test_order_issues_mask_wrong_length(runner, inp):
    mask = inp.npy("mask.npy", np.ones(4, dtype=bool))
    expect_error(
        runner, inp, ["rank", "-l", inp.labels, "-p", inp.probs, "--order-issues", mask], mask, "N=6", "(4,)"
    )


def test_order_issues_index_out_of_range(runner, inp):
    idx = inp.npy("idx.npy", np.array([1, 6]))
    expect_error(
        runner, inp, ["rank", "-l", inp.labels, "-p", inp.probs, "--order-issues", idx], idx, "0..5", "6"
    )


@pytest.mark.parametrize("fmt", ["junit", "github", "table"])
def test_stdout_output_takes_only_row_formats(runner, inp, fmt):
    args = [*find(inp), "-o", "-", "--format", fmt]
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 2
    assert (
        res.stderr
        == f"Error: -o - writes rows to stdout (csv, or JSON lines with --format json), not --format {fmt}\n"
    )
    assert res.stdout == ""
