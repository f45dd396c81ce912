"""More input formats (issue 12): `.npz`, `.csv.gz`/`.tsv.gz`, JSON lines and `-` for standard input.

Each is read like its plain form and gives the same report as the `.npy` inputs, in memory and streamed.
A `.npz` holds one array, or arrays named `labels` and `pred_probs`; an uncompressed one is memory-mapped
(and streamed by positional reads) like a `.npy`. Standard input (`-`) is read once, whole: CSV, TSV,
JSON lines, `.npy`, `.npz` or Parquet, told apart by their first bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from golden_data import inputs

from tests.cli.test_inputs_tables import EVERY_READER, fails, issues_of, ok


@pytest.fixture
def data(tmp_path):
    labels, p = inputs("gen_k5")
    np.save(tmp_path / "y.npy", labels)
    np.save(tmp_path / "p.npy", p)
    cols = {f"p{j}": p[:, j] for j in range(p.shape[1])}
    df = pd.DataFrame({"label": labels, **cols})
    return tmp_path, labels, p, df


def want(runner, tmp_path, command):
    return ok(runner, [*command, "-l", tmp_path / "y.npy", "-p", tmp_path / "p.npy", "--format", "json"])


def same_report(doc, reference):
    assert doc["n_examples"] == reference["n_examples"] and doc["n_issues"] == reference["n_issues"] > 0
    assert issues_of(doc) == issues_of(reference)


# ---------------------------------------------------------------------------- .npz


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["stored", "compressed"])
@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_npz_inputs(runner, data, command, save):
    tmp_path, labels, p, _ = data
    reference = want(runner, tmp_path, command)
    save(tmp_path / "y1.npz", labels)
    save(tmp_path / "p1.npz", p)
    save(tmp_path / "both.npz", labels=labels, pred_probs=p)
    for y, pp in (("y1.npz", "p1.npz"), ("both.npz", "both.npz"), ("y.npy", "both.npz")):
        args = [*command, "-l", tmp_path / y, "-p", tmp_path / pp, "--format", "json", "--batch-size", "700"]
        same_report(ok(runner, args), reference)


def test_npz_fortran_member_streams(runner, data):
    tmp_path, labels, p, _ = data
    reference = want(runner, tmp_path, ["batched", "--exact"])
    np.savez(tmp_path / "f.npz", pred_probs=np.asfortranarray(p), labels=labels)
    args = ["batched", "--exact", "-l", tmp_path / "f.npz", "-p", tmp_path / "f.npz", "--batch-size", "999"]
    same_report(ok(runner, [*args, "--format", "json"]), reference)


def test_stored_npz_is_memory_mapped(data):
    from labelaudit.io import load_dataset

    tmp_path, labels, p, _ = data
    np.savez(tmp_path / "both.npz", labels=labels, pred_probs=p)
    ds = load_dataset(str(tmp_path / "both.npz"), str(tmp_path / "both.npz"))
    assert isinstance(ds.pred_probs, np.memmap) and not ds.pred_probs.flags.writeable
    np.testing.assert_array_equal(ds.pred_probs, p)


def test_npz_with_other_arrays_is_refused(runner, data):
    tmp_path, labels, p, _ = data
    np.savez(tmp_path / "x.npz", a=labels, b=p)
    path = tmp_path / "x.npz"
    for command in EVERY_READER:
        fails(
            runner,
            [*command, "-l", tmp_path / "y.npy", "-p", path],
            f"{path}: a .npz input holds one array, or arrays named 'labels' and 'pred_probs'; "
            "this one holds ['a', 'b']",
            tmp_path,
        )


def test_npz_that_is_not_a_zip(runner, data):
    tmp_path, *_ = data
    path = tmp_path / "x.npz"
    path.write_bytes(b"not a zip file at all")
    fails(
        runner,
        ["find-issues", "-l", tmp_path / "y.npy", "-p", path],
        f"{path}: unreadable .npz file (21 bytes): File is not a zip file",
        tmp_path,
    )


def test_npz_member_with_a_corrupt_header(runner, data):
    tmp_path, labels, p, _ = data
    path = tmp_path / "x.npz"
    buf = io.BytesIO()
    np.save(buf, p)
    member = bytearray(buf.getvalue())
    member[member.index(b"}")] = ord("(")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pred_probs.npy", bytes(member))
    size = path.stat().st_size
    for command in EVERY_READER:
        fails(
            runner,
            [*command, "-l", tmp_path / "y.npy", "-p", path],
            f"{path}: unreadable .npy file ({size} bytes): member pred_probs.npy: the header must be a Python "
            "dict literal; it is \"{'descr': '<f8', 'fortran_order': False, 'shape': (3000, 5), (\"",
            tmp_path,
        )


# ---------------------------------------------------------------------------- compressed tables


@pytest.mark.parametrize("sep", [",", "\t"], ids=["csv", "tsv"])
@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_gzipped_tables(runner, data, command, sep):
    tmp_path, _, _, df = data
    reference = want(runner, tmp_path, command)
    path = tmp_path / ("t.csv.gz" if sep == "," else "t.tsv.gz")
    df.to_csv(path, sep=sep, index=False)  # compression from the suffix
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    same_report(
        ok(runner, [*command, "-l", path, "-p", path, "--format", "json", "--batch-size", "700"]), reference
    )
    same_report(ok(runner, [*command, "-l", tmp_path / "y.npy", "-p", path, "--format", "json"]), reference)


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_jsonl_tables(runner, data, command):
    tmp_path, _, _, df = data
    reference = want(runner, tmp_path, command)
    path = tmp_path / "t.jsonl"
    path.write_bytes(jsonl_bytes(df))
    same_report(
        ok(runner, [*command, "-l", path, "-p", path, "--format", "json", "--batch-size", "700"]), reference
    )


# ---------------------------------------------------------------------------- standard input


def jsonl_bytes(df) -> bytes:
    """JSON lines with every float written exactly (pandas' to_json keeps 10 digits)."""
    return "".join(json.dumps(row) + "\n" for row in df.to_dict("records")).encode()


def csv_bytes(df, sep=","):
    return df.to_csv(index=False, sep=sep).encode()


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_stdin_table_for_labels_and_pred_probs(runner, data, command):
    tmp_path, _, _, df = data
    reference = want(runner, tmp_path, command)
    for stdin in (
        csv_bytes(df),
        csv_bytes(df, "\t"),
        gzip.compress(csv_bytes(df)),
        jsonl_bytes(df),
    ):
        doc = ok(runner, [*command, "-l", "-", "-p", "-", "--format", "json"], stdin=stdin)
        same_report(doc, reference)
        entry = {f["role"]: f for f in doc["inputs"]}["pred_probs"]
        assert entry["path"] == "-" and entry["bytes"] == len(stdin)
        assert entry["sha256"] == hashlib.sha256(stdin).hexdigest()


@pytest.mark.parametrize("command", EVERY_READER, ids=" ".join)
def test_stdin_npy_and_parquet_pred_probs(runner, data, command):
    tmp_path, labels, p, df = data
    reference = want(runner, tmp_path, command)
    for name, stdin in (("npy", tmp_path / "p.npy"), ("fortran", None), ("parquet", None)):
        if name == "fortran":
            buf = io.BytesIO()
            np.save(buf, np.asfortranarray(p))
            raw = buf.getvalue()
        elif name == "parquet":
            buf = io.BytesIO()
            df.drop(columns="label").to_parquet(buf)
            raw = buf.getvalue()
        else:
            raw = stdin.read_bytes()
        doc = ok(runner, [*command, "-l", tmp_path / "y.npy", "-p", "-", "--format", "json"], stdin=raw)
        same_report(doc, reference)


def test_stdin_labels_with_npy_pred_probs(runner, data):
    tmp_path, labels, _, _ = data
    reference = want(runner, tmp_path, ["find-issues"])
    stdin = ("label\n" + "\n".join(map(str, labels)) + "\n").encode()
    doc = ok(runner, ["find-issues", "-l", "-", "-p", tmp_path / "p.npy", "--format", "json"], stdin=stdin)
    same_report(doc, reference)


def test_empty_stdin(runner, data):
    tmp_path, *_ = data
    fails(
        runner,
        ["find-issues", "-l", tmp_path / "y.npy", "-p", "-"],
        "-: standard input is empty (0 bytes)",
        tmp_path,
        stdin=b"",
    )
