"""labelaudit.io writers: every format, and atomicity (a failure leaves no file and no temp file)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from labelaudit.errors import InputError
from labelaudit.io import atomic_path, check_output_path, write_json, write_npy, write_rows

COLS = {
    "index": np.array([7, 2, 5], dtype=np.int64),
    "given_label": np.array([0, 1, 1], dtype=np.int64),
    "predicted_label": np.array([1, 0, 2], dtype=np.int64),
    "label_quality": np.array([0.1, 1 / 3, 0.5]),
    "is_label_issue": np.array([True, True, False]),
}


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".json", ".jsonl"])
def test_write_rows_round_trip(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    write_rows(str(path), COLS)
    if suffix == ".parquet":
        df = pd.read_parquet(path)
    elif suffix == ".json":
        df = pd.DataFrame(json.loads(path.read_text()))
    elif suffix == ".jsonl":
        df = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    else:
        df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    assert list(df.columns) == list(COLS)
    for k, v in COLS.items():
        np.testing.assert_array_equal(df[k].to_numpy(), v, err_msg=k)  # floats round-trip exactly
    assert listing(tmp_path) == [f"out{suffix}"]


def test_write_npy_and_json(tmp_path):
    write_npy(str(tmp_path / "a.npy"), np.array([3, 1], dtype=np.int64))
    got = np.load(tmp_path / "a.npy")
    assert got.dtype == np.int64 and got.tolist() == [3, 1]
    write_json(str(tmp_path / "r.json"), {"n": np.int64(3), "v": np.array([0.5]), "s": "x"})
    assert json.loads((tmp_path / "r.json").read_text()) == {"n": 3, "v": [0.5], "s": "x"}
    assert listing(tmp_path) == ["a.npy", "r.json"]


def test_atomic_path_success_replaces_existing(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(str(target)) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)  # same folder: the rename is atomic
        with open(tmp, "w") as f:
            f.write("new")
        assert target.read_text() == "old"  # nothing visible before the rename
    assert target.read_text() == "new"
    assert listing(tmp_path) == ["out.txt"]


def test_atomic_path_failure_mid_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError, match="boom"), atomic_path(str(target)) as tmp:
        with open(tmp, "w") as f:
            f.write("partial")
        raise RuntimeError("boom")
    assert listing(tmp_path) == []


def test_atomic_path_failure_keeps_previous_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("previous")
    with pytest.raises(KeyboardInterrupt), atomic_path(str(target)) as tmp:
        with open(tmp, "w") as f:
            f.write("partial")
        raise KeyboardInterrupt
    assert target.read_text() == "previous"
    assert listing(tmp_path) == ["out.csv"]


def test_write_json_failing_mid_document_leaves_nothing(tmp_path):
    # json.dump streams: the first keys are already written when the set fails to serialise.
    with pytest.raises(TypeError):
        write_json(str(tmp_path / "r.json"), {"a": list(range(1000)), "b": {1, 2}})
    assert listing(tmp_path) == []


def test_write_rows_parquet_failure_leaves_nothing(tmp_path):
    bad = dict(COLS)
    bad["label_quality"] = np.array([0.5, "x", object()], dtype=object)  # pyarrow cannot convert this
    with pytest.raises(Exception):  # noqa: B017  (pyarrow's error type is not ours to pin)
        write_rows(str(tmp_path / "out.parquet"), bad)
    assert listing(tmp_path) == []


def test_write_rows_unknown_suffix_leaves_nothing(tmp_path):
    with pytest.raises(InputError, match=r"\.xyz"):
        write_rows(str(tmp_path / "out.xyz"), COLS)
    assert listing(tmp_path) == []


def test_writers_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_npy(str(tmp_path / "nope" / "a.npy"), np.arange(3))
    assert listing(tmp_path) == []


def test_check_output_path(tmp_path):
    check_output_path("-", (".npy",))
    check_output_path(str(tmp_path / "a.npy"), (".npy", ".csv"))
    check_output_path(str(tmp_path / "A.CSV"), (".npy", ".csv"))  # suffixes are case-insensitive
    with pytest.raises(InputError, match=r"'\.txt'"):
        check_output_path(str(tmp_path / "a.txt"), (".npy", ".csv"))
    with pytest.raises(InputError, match=r"'\(none\)'"):
        check_output_path(str(tmp_path / "a"), (".npy",))
    with pytest.raises(InputError, match="output folder .* does not exist"):
        check_output_path(str(tmp_path / "missing" / "a.npy"), (".npy",))
