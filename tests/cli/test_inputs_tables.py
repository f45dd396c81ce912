"""Tables as inputs (issue 12): which columns are classes, string probability columns, and one CSV parser.

* An index-like column (`Unnamed: N` as `df.to_csv(path)` writes it, or the integers 0..N-1 in order) or a
  constant numeric column is never a class unless --prob-columns names it; a warning names what was
  skipped, and the JSON report lists the probability columns used (`inputs[pred_probs].columns`).
* A string column named in --prob-columns is refused (exit 2, naming the column), in memory and streamed.
* CSV: the same parser counts the rows everywhere (trailing blank lines, quoted newlines), and a CSV
  whose first row is data is refused instead of silently losing that row.

`fails` is the failure contract of these tests (shared by the other test_inputs_* files): exit 2, the
exact one-line message on stderr, nothing on stdout, nothing written.
"""

from __future__ import annotations

import json
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
STREAMED = (["batched"], ["batched", "--exact"], ["find-issues", "--low-memory"])
EVERY_READER = (["find-issues"], *STREAMED)


def fails(runner, args: list, message: str, tmp_path: Path, *, stdin: bytes | None = None) -> None:
    """`args` plus `-o` into an empty folder: exit 2, stderr exactly `Error: message`, nothing written."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    target = out / "result.csv"
    result = runner.invoke(app, [*map(str, args), "-o", str(target)], input=stdin)
    assert result.exit_code == 2, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.stderr == f"Error: {message}\n"
    assert result.stdout == ""
    assert os.listdir(out) == []


def ok(runner, args: list, *, stdin: bytes | None = None, warnings: str | None = ""):
    """Run `args`: exit 0 and exactly `warnings` on stderr (None: any warnings but no skipped columns);
    returns the JSON report with --format json, else stdout."""
    result = runner.invoke(app, [*map(str, args)], input=stdin)
    assert result.exit_code == 0, result.stderr
    if warnings is None:
        assert "skipped columns" not in result.stderr and "Error" not in result.stderr
    else:
        assert result.stderr == warnings
    return json.loads(result.stdout) if "json" in args else result.stdout


def issues_of(doc: dict) -> list:
    return [(r["index"], r["given_label"], r["predicted_label"], r["label_quality"]) for r in doc["issues"]]


@pytest.fixture
def npy(tmp_path):
    """The same data as .npy files: the answer every table must give."""
    np.save(tmp_path / "y.npy", Y)
    np.save(tmp_path / "p.npy", P)
    return str(tmp_path / "y.npy"), str(tmp_path / "p.npy")


def frame(**extra) -> pd.DataFrame:
    return pd.DataFrame({**extra, "label": Y, "p0": P[:, 0], "p1": P[:, 1], "p2": P[:, 2]})


def prob_columns(doc: dict) -> list | None:
    return next(f for f in doc["inputs"] if f["role"] == "pred_probs").get("columns")


# ---------------------------------------------------------------------------- which columns are classes


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_pandas_index_column_is_not_a_class(runner, tmp_path, npy, command):
    path = tmp_path / "t.csv"
    frame().to_csv(path)  # the index is written as a first column with an empty header: 'Unnamed: 0'
    want = ok(runner, [*command, "-l", npy[0], "-p", npy[1], "--format", "json"])
    doc = ok(
        runner,
        [*command, "-l", path, "-p", path, "--format", "json"],
        warnings=f"Warning: {path}: skipped columns that are not class probabilities: 'Unnamed: 0' "
        "(pandas index); name a column in --prob-columns to use it\n",
    )
    assert doc["n_classes"] == 3
    assert prob_columns(doc) == ["p0", "p1", "p2"]
    assert issues_of(doc) == issues_of(want)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_index_and_constant_columns_are_not_classes(runner, tmp_path, npy, command, suffix):
    path = tmp_path / f"t{suffix}"
    df = frame(row=np.arange(6), fold=np.full(6, 3))
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    want = ok(runner, [*command, "-l", npy[0], "-p", npy[1], "--format", "json"])
    doc = ok(
        runner,
        [*command, "-l", path, "-p", path, "--format", "json"],
        warnings=f"Warning: {path}: skipped columns that are not class probabilities: 'row' (index 0..5), "
        "'fold' (constant 3); name a column in --prob-columns to use it\n",
    )
    assert prob_columns(doc) == ["p0", "p1", "p2"]
    assert issues_of(doc) == issues_of(want)


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_prob_columns_can_name_a_constant_column(runner, tmp_path, command):
    path = tmp_path / "t.parquet"
    frame(w=np.zeros(6)).to_parquet(path)
    args = [*command, "-l", path, "-p", path, "--prob-columns", "p0,p1,p2,w", "--format", "json"]
    doc = ok(runner, args, warnings=None)  # class 3 has no examples: warned
    assert doc["n_classes"] == 4 and prob_columns(doc) == ["p0", "p1", "p2", "w"]


def test_a_constant_class_among_numbered_columns_stays_a_class(runner, tmp_path):
    """p0..p3 with p3 always 0 (a class the model never predicts) is a class, not a stray column."""
    path = tmp_path / "t.csv"
    df = frame()
    df["p3"] = 0.0
    df.to_csv(path, index=False)
    doc = ok(runner, ["find-issues", "-l", path, "-p", path, "--format", "json"], warnings=None)
    assert doc["n_classes"] == 4 and prob_columns(doc) == ["p0", "p1", "p2", "p3"]


def test_npy_report_lists_no_columns(runner, npy):
    doc = ok(runner, ["find-issues", "-l", npy[0], "-p", npy[1], "--format", "json"])
    assert prob_columns(doc) is None


# ---------------------------------------------------------------------------- string probability columns


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_string_column_named_in_prob_columns_is_refused(runner, tmp_path, command):
    path = tmp_path / "t.parquet"
    df = frame()
    df["p1"] = df["p1"].astype(str)
    df.to_parquet(path)
    args = [*command, "-l", path, "-p", path, "--prob-columns", "p0,p1,p2"]
    fails(
        runner,
        args,
        f"{path}: probability column 'p1' must hold numbers, not strings; row 0 holds '0.2'",
        tmp_path,
    )


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_a_word_in_a_csv_probability_column_is_named(runner, tmp_path, command):
    path = tmp_path / "t.csv"
    df = frame().astype({"p1": object})
    df.loc[4, "p1"] = "n/a?"
    df.to_csv(path, index=False)
    for spec in ([], ["--prob-columns", "p*"]):
        args = [*command, "-l", path, "-p", path, *spec]
        fails(
            runner, args, f"{path}: probability column 'p1' must hold numbers; row 4 holds 'n/a?'", tmp_path
        )


@pytest.mark.parametrize("command", STREAMED, ids=" ".join)
def test_a_word_past_the_first_chunk_is_named_with_its_row(runner, tmp_path, command):
    rng = np.random.default_rng(0)
    p = rng.dirichlet([1, 1, 1], size=3000)
    df = pd.DataFrame({"label": rng.integers(0, 3, 3000), "p0": p[:, 0], "p1": p[:, 1], "p2": p[:, 2]})
    df = df.astype({"p2": object})
    df.loc[2500, "p2"] = "oops"
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    args = [*command, "-l", path, "-p", path, "--batch-size", "500"]
    fails(runner, args, f"{path}: probability column 'p2' must hold numbers; row 2500 holds 'oops'", tmp_path)


# ---------------------------------------------------------------------------- one CSV parser


@pytest.mark.parametrize("command", STREAMED, ids=" ".join)
def test_blank_lines_and_quoted_newlines_count_the_same_rows(runner, tmp_path, npy, command):
    path = tmp_path / "t.csv"
    df = frame(note=["a", "two\nlines", "c", '"quoted"\n', "e", "f"])
    path.write_text(df.to_csv(index=False) + "\n\n\n")
    assert path.read_text().count("\n") > 6 + 1 + 3
    want = ok(runner, ["find-issues", "-l", path, "-p", path, "--format", "json"])
    doc = ok(runner, [*command, "-l", path, "-p", path, "--format", "json"])
    assert doc["n_examples"] == want["n_examples"] == 6
    assert issues_of(doc) == issues_of(want)
    # pred_probs alone in the table, labels elsewhere: its rows are counted by the same parser
    doc = ok(runner, [*command, "-l", npy[0], "-p", path, "--format", "json"])
    assert doc["n_examples"] == 6


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_headerless_pred_probs_csv_is_refused(runner, tmp_path, npy, command):
    path = tmp_path / "p.csv"
    np.savetxt(path, P, delimiter=",", fmt="%g")
    fails(
        runner,
        [*command, "-l", npy[0], "-p", path],
        f"{path}: a .csv table needs a header row naming its columns; its first row is data: '0.7,0.2,0.1'",
        tmp_path,
    )


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_headerless_labels_csv_is_refused(runner, tmp_path, npy, command):
    path = tmp_path / "y.csv"
    path.write_text("2\n1\n2\n0\n1\n2\n")
    fails(
        runner,
        [*command, "-l", path, "-p", npy[1]],
        f"{path}: a .csv table needs a header row naming its columns; its first row is data: '2'",
        tmp_path,
    )


def test_headerless_tsv_with_repeated_values_is_refused(runner, tmp_path, npy):
    path = tmp_path / "p.tsv"
    path.write_text("0.5\t0.25\t0.25\n" + "".join("\t".join(map(str, r)) + "\n" for r in P[1:]))
    fails(
        runner,
        ["find-issues", "-l", npy[0], "-p", path],
        f"{path}: a .tsv table needs a header row naming its columns; its first row is data: '0.5\\t0.25\\t0.25'",
        tmp_path,
    )


def test_pandas_default_column_names_are_a_header(runner, tmp_path, npy):
    """pd.DataFrame(p).to_csv(index=False) names the columns 0, 1, 2: that is a header, not data."""
    path = tmp_path / "p.csv"
    pd.DataFrame(P).to_csv(path, index=False)
    want = ok(runner, ["find-issues", "-l", npy[0], "-p", npy[1], "--format", "json"])
    doc = ok(runner, ["find-issues", "-l", npy[0], "-p", path, "--format", "json"])
    assert issues_of(doc) == issues_of(want) and prob_columns(doc) == ["0", "1", "2"]
