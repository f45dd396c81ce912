"""labelaudit.io.features.read_features: .npy (memory-mapped), Parquet (numeric or one list column),
CSV; dtypes kept or converted; every broken rule an InputError naming the file, the rule and the value."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelaudit.errors import InputError, LabelauditWarning
from labelaudit.io.features import read_features

X = np.array([[0.5, 1.0, -2.0], [1.5, 0.0, 3.25], [2.0, -1.0, 0.125], [0.0, 4.0, 1.0]])


def read(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return read_features(*args, **kwargs)


def fails(pattern: str, *args, **kwargs) -> None:
    with pytest.raises(InputError, match=pattern):
        read(*args, **kwargs)


def write_parquet(path, table: pa.Table) -> str:
    pq.write_table(table, path)
    return str(path)


# ---------------------------------------------------------------------------- .npy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_npy_float_is_memory_mapped_not_copied(save_npy, dtype):
    x = read(save_npy("x.npy", X.astype(dtype)), n=4)
    assert isinstance(x, np.memmap) and x.dtype == dtype and not x.flags.writeable
    np.testing.assert_array_equal(x, X.astype(dtype))


def test_npy_fortran_order_kept_as_a_map(save_npy):
    x = read(save_npy("x.npy", np.asfortranarray(X)))
    assert isinstance(x, np.memmap) and x.flags.f_contiguous
    np.testing.assert_array_equal(x, X)


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16, np.bool_])
def test_npy_integers_and_booleans_become_float64(save_npy, dtype):
    src = (X > 0.7).astype(dtype) if dtype is np.bool_ else (X * 4).astype(dtype)
    x = read(save_npy("x.npy", src))
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, src.astype(np.float64))


@pytest.mark.parametrize(
    ("src", "asked"), [(np.float64, "float32"), (np.float32, "float64"), (np.int32, "float32")]
)
def test_dtype_converts(save_npy, src, asked):
    x = read(save_npy("x.npy", X.astype(src)), dtype=asked)
    assert x.dtype == np.dtype(asked)
    np.testing.assert_array_equal(x, X.astype(src).astype(asked))


def test_dtype_same_as_file_keeps_the_map(save_npy):
    assert isinstance(read(save_npy("x.npy", X.astype(np.float32)), dtype="float32"), np.memmap)


def test_unknown_dtype_refused(save_npy):
    fails(r"features dtype must be one of float32, float64, got 'int8'", save_npy("x.npy", X), dtype="int8")


def test_npz_member(tmp_path):
    path = tmp_path / "x.npz"
    np.savez_compressed(path, features=X)
    np.testing.assert_array_equal(read(str(path)), X)


@pytest.mark.parametrize(
    ("array", "pattern"),
    [
        (X[:, 0], r"x\.npy: features must be a 2-D \(N, D\) array; its shape is \(4,\); save one feature"),
        (X.reshape(4, 3, 1), r"its shape is \(4, 3, 1\); flatten each example"),
        (np.array([["a", "b"], ["c", "d"]]), r"x\.npy: features must be numbers; the array's dtype is <U1"),
        (X.astype(np.complex128), r"dtype is complex128"),
        (np.empty((0, 3)), r"x\.npy: features are empty \(0 rows\)"),
        (np.empty((4, 0)), r"x\.npy: features have no columns \(shape \(4, 0\)\)"),
    ],
)
def test_npy_bad_arrays(save_npy, array, pattern):
    fails(pattern, save_npy("x.npy", array))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_names_row_and_column(save_npy, value):
    bad = X.copy()
    bad[2, 1] = value
    fails(
        rf"x\.npy: features must be finite numbers; row 2, column 1 holds {re.escape(repr(float(value)))}",
        save_npy("x.npy", bad),
    )


def test_non_finite_found_past_the_first_block(save_npy, monkeypatch):
    import labelaudit.io.features as features

    monkeypatch.setattr(features, "_BLOCK_BYTES", 48)  # two rows of three float64 per block
    bad = np.tile(X, (5, 1))
    bad[17, 2] = np.nan
    fails(r"row 17, column 2 holds nan", save_npy("x.npy", bad))


def test_row_count_must_match_labels(save_npy):
    fails(r"x\.npy: features have 4 rows but the labels have 5", save_npy("x.npy", X), n=5)


def test_missing_file_and_unknown_suffix(tmp_path):
    fails(r"nope\.npy: features file not found", str(tmp_path / "nope.npy"))
    (tmp_path / "x.txt").write_text("1 2\n")
    fails(r"x\.txt: unsupported features format '\.txt'", str(tmp_path / "x.txt"))


# ---------------------------------------------------------------------------- Parquet


def test_parquet_numeric_columns(tmp_path):
    table = pa.table({"a": X[:, 0], "b": X[:, 1].astype(np.float32), "c": (X[:, 2] * 8).astype(np.int64)})
    x = read(write_parquet(tmp_path / "x.parquet", table), n=4)
    assert x.dtype == np.float64 and x.flags.c_contiguous
    np.testing.assert_array_equal(x, np.column_stack([X[:, 0], X[:, 1].astype(np.float32), X[:, 2] * 8]))


def test_parquet_float32_columns_stay_float32(tmp_path):
    x = read(write_parquet(tmp_path / "x.parquet", pa.table({"a": X[:, 0].astype(np.float32)})))
    assert x.dtype == np.float32 and x.shape == (4, 1)


@pytest.mark.parametrize("kind", ["list", "large_list", "fixed_size_list"])
def test_parquet_one_list_column(tmp_path, kind):
    values = pa.array(X.ravel())
    if kind == "fixed_size_list":
        col = pa.FixedSizeListArray.from_arrays(values, 3)
    else:
        offsets = pa.array(np.arange(0, 13, 3), type=pa.int32() if kind == "list" else pa.int64())
        col = (pa.ListArray if kind == "list" else pa.LargeListArray).from_arrays(offsets, values)
    x = read(write_parquet(tmp_path / "x.parquet", pa.table({"emb": col})))
    np.testing.assert_array_equal(x, X)


def test_parquet_ragged_list_refused(tmp_path):
    col = pa.array([[1.0, 2.0], [3.0, 4.0], [5.0], [6.0, 7.0]])
    fails(
        r"x\.parquet: feature list column 'emb' must hold lists of one length \(ragged\); row 0 has 2 "
        r"values, row 2 has 1",
        write_parquet(tmp_path / "x.parquet", pa.table({"emb": col})),
    )


def test_parquet_null_list_and_null_element_refused(tmp_path):
    table = pa.table({"emb": pa.array([[1.0, 2.0], None, [5.0, 6.0]])})
    fails(
        r"feature list column 'emb' must hold numbers; row 1 is missing \(null\)",
        write_parquet(tmp_path / "a.parquet", table),
    )
    table = pa.table({"emb": pa.array([[1.0, 2.0], [3.0, 4.0], [5.0, None]])})
    fails(r"row 2, element 1 is missing \(null\)", write_parquet(tmp_path / "b.parquet", table))


def test_parquet_list_of_strings_refused(tmp_path):
    table = pa.table({"emb": pa.array([["a"], ["b"]])})
    fails(
        r"'emb' must hold lists of numbers; its elements are string",
        write_parquet(tmp_path / "x.parquet", table),
    )


def test_parquet_list_beside_other_columns_refused(tmp_path):
    table = pa.table({"emb": pa.array([[1.0], [2.0]]), "y": [0, 1]})
    fails(
        r"one list column or numeric columns, not both; list column\(s\) \['emb'\] beside \['y'\]",
        write_parquet(tmp_path / "x.parquet", table),
    )


def test_parquet_text_column_and_null_refused(tmp_path):
    table = pa.table({"a": [1.0, 2.0, 3.0], "name": ["x", "y", "z"]})
    fails(
        r"x\.parquet: feature column 'name' must hold numbers; row 0 holds 'x'",
        write_parquet(tmp_path / "x.parquet", table),
    )
    table = pa.table({"a": pa.array([1, None, 3], type=pa.int64())})
    fails(
        r"feature column 'a' must hold numbers; row 1 is missing \(null\)",
        write_parquet(tmp_path / "n.parquet", table),
    )


def test_parquet_nan_names_the_column(tmp_path):
    table = pa.table({"a": [1.0, 2.0, 3.0], "b": [0.0, float("inf"), 1.0]})
    fails(r"row 1, column 'b' holds inf", write_parquet(tmp_path / "x.parquet", table))


def test_parquet_row_count(tmp_path):
    fails(
        r"features have 3 rows but the labels have 2",
        write_parquet(tmp_path / "x.parquet", pa.table({"a": [1.0, 2.0, 3.0]})),
        n=2,
    )


# ---------------------------------------------------------------------------- CSV


def test_csv_numeric_columns(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(path, index=False)
    x = read(str(path), n=4)
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, X)


def test_csv_gz_and_tsv(tmp_path):
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(tmp_path / "x.csv.gz", index=False)
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(tmp_path / "x.tsv", index=False, sep="\t")
    np.testing.assert_array_equal(read(str(tmp_path / "x.csv.gz")), X)
    np.testing.assert_array_equal(read(str(tmp_path / "x.tsv")), X)


def test_csv_pandas_index_skipped_with_a_warning(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame(X).to_csv(path)  # index column "" -> "Unnamed: 0", columns named 0, 1, 2
    with pytest.warns(
        LabelauditWarning, match=r"skipped columns that are pandas' row index.*\['Unnamed: 0'\]"
    ):
        x = read_features(str(path))
    np.testing.assert_array_equal(x, X)


def test_csv_text_column_names_row(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n3,oops\n5,6\n")
    fails(r"x\.csv: feature column 'b' must hold numbers; row 1 holds 'oops'", str(path))


def test_csv_missing_value_is_not_finite(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n3,\n5,6\n")
    fails(r"x\.csv: features must be finite numbers; row 1, column 'b' holds nan", str(path))


def test_csv_without_header_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1.5,2.5\n3,4\n")
    fails(r"x\.csv: a \.csv table needs a header row", str(path))


def test_csv_row_count(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n2\n")
    fails(r"x\.csv: features have 2 rows but the labels have 3", str(path), n=3)
