"""Features: the (N, D) numeric matrix a model learns from, read from one file.

One reader for every command that takes `--features`:

- `.npy` (and a `.npz` member, or standard input): memory-mapped read-only and never copied when it is
  already float32 or float64 and no other `dtype` is asked for.
- `.parquet`: every column numeric (one feature each), or one list / large-list / fixed-size-list column
  whose rows all have the same length (one feature per element).
- `.csv` / `.tsv` / `.jsonl` (plain or gzip): every column numeric, with a header row naming them
  (a first row of numbers would be lost as a header, so it is refused as the label readers refuse it).
  pandas' written index (a column `Unnamed: N` holding 0..N-1) is skipped with a warning.

float32 and float64 are kept, integers and booleans become float64; `dtype` converts to float32 or float64.
Every broken rule is an InputError naming the file, the rule and the value (with its row and column):
a non-numeric column, a ragged or null list, NaN or inf, no rows or no columns, and a row count that
differs from `n` (the labels').

The finiteness check reads the matrix once, in blocks of rows, so a memory-mapped file is checked without
a full-size boolean temporary.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from labelaudit.errors import InputError, LabelauditWarning
from labelaudit.io import sources
from labelaudit.io.readers import check_input_file
from labelaudit.io.sources import PARQUET_KINDS, display

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

ROLE = "features"
DTYPES = ("float32", "float64")
ARRAY_KINDS = (".npy", ".npz")
TEXT_KINDS = (".csv", ".tsv", ".jsonl")
_BLOCK_BYTES = 1 << 25  # rows checked for NaN/inf per block: about 32 MiB of features
_PANDAS_INDEX = re.compile(r"Unnamed: \d+")


def read_features(path: str, *, n: int | None = None, dtype: str | np.dtype | None = None) -> np.ndarray:
    """The features in `path` as a 2-D (N, D) float32 or float64 array.

    n: the number of rows the features must have (the labels' N), or None. dtype: 'float32' or 'float64'
    to convert to, or None to keep float32/float64 (integers and booleans become float64). A `.npy` is
    returned as its read-only memory map when no conversion is needed."""
    target = _target_dtype(dtype)
    check_input_file(path, ROLE)
    kind = sources.kind_of(path)
    if kind in ARRAY_KINDS:
        x, columns = _from_npy(path), None
    elif kind in PARQUET_KINDS:
        x, columns = _from_parquet(path)
    elif kind in TEXT_KINDS:
        x, columns = _from_text(path, kind)
    else:
        raise InputError(
            f"{path}: unsupported features format {kind or '(no suffix)'!r}; use .npy, .npz, .parquet, "
            ".csv, .tsv or .jsonl"
        )
    if x.shape[0] == 0:
        raise InputError(f"{path}: features are empty (0 rows)")
    if x.shape[1] == 0:
        raise InputError(f"{path}: features have no columns (shape {x.shape})")
    if n is not None and x.shape[0] != n:
        raise InputError(f"{path}: features have {x.shape[0]} rows but the labels have {n}")
    out = x.astype(target or _kept_dtype(x.dtype), copy=False)
    _check_finite(out, path, columns)
    return out


def _target_dtype(dtype: str | np.dtype | None) -> np.dtype | None:
    if dtype is None:
        return None
    try:
        d = np.dtype(dtype)
    except TypeError:
        d = None
    if d is None or d.name not in DTYPES:
        raise InputError(f"features dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return d


def _kept_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _from_npy(path: str) -> np.ndarray:
    x = sources.load_npy(path, ROLE)
    if x.ndim != 2:
        hint = "; flatten each example, e.g. x.reshape(len(x), -1)" if x.ndim > 2 else ""
        hint = "; save one feature as a column, x.reshape(-1, 1)" if x.ndim == 1 else hint
        raise InputError(f"{path}: features must be a 2-D (N, D) array; its shape is {x.shape}{hint}")
    if x.dtype.kind not in "biuf":
        raise InputError(f"{path}: features must be numbers; the array's dtype is {x.dtype}")
    return x


# ---------------------------------------------------------------------------------------------- tables


def _numeric_kind(values: np.ndarray) -> bool:
    return values.dtype.kind in "biuf"


def _first_non_numeric(values: np.ndarray) -> int:
    """Row of the first value of an object/string column that is not a number."""
    import pandas as pd

    series = pd.Series(values, dtype=object)
    try:
        parsed = pd.to_numeric(series, errors="coerce").notna().to_numpy()
    except (TypeError, ValueError):  # lists or other objects
        parsed = np.zeros(len(values), dtype=bool)
    bad = ~parsed & series.notna().to_numpy()
    return int(np.argmax(bad)) if bad.any() else 0


def _non_numeric(path: str, name: str, values: np.ndarray) -> InputError:
    row = _first_non_numeric(values)
    return InputError(
        f"{path}: feature column {name!r} must hold numbers; row {row} holds {display(values[row])}"
    )


def _stack(columns: list[np.ndarray]) -> np.ndarray:
    dtype = np.result_type(*[_kept_dtype(c.dtype) for c in columns]) if columns else np.float64
    x = np.empty((len(columns[0]) if columns else 0, len(columns)), dtype=dtype)
    for j, c in enumerate(columns):
        x[:, j] = c
    return x


def _skip_index(path: str, df: pd.DataFrame) -> pd.DataFrame:
    """Drop pandas' written index (`Unnamed: N` holding 0..N-1), with a warning naming it."""
    skipped = [
        str(c)
        for c in df.columns
        if _PANDAS_INDEX.fullmatch(str(c))
        and df[c].dtype.kind in "iu"
        and np.array_equal(df[c].to_numpy(), np.arange(len(df)))
    ]
    if skipped:
        warnings.warn(
            f"{path}: skipped columns that are pandas' row index, not features: {skipped}",
            LabelauditWarning,
            stacklevel=4,
        )
        df = df.drop(columns=skipped)
    return df


def _from_text(path: str, kind: str) -> tuple[np.ndarray, list[str]]:
    df = _skip_index(path, sources.read_table(path))
    names = [str(c) for c in df.columns]
    columns = []
    for name, c in zip(names, df.columns, strict=True):
        values = df[c].to_numpy()
        if not _numeric_kind(values):
            raise _non_numeric(path, name, values)
        columns.append(values)
    return _stack(columns), names


def _from_parquet(path: str) -> tuple[np.ndarray, list[str] | None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(sources.source(path))
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise sources._unreadable_table(path, ".parquet", exc) from None
    lists = [f.name for f in table.schema if _is_list(f.type)]
    if lists:
        if table.num_columns != 1:
            raise InputError(
                f"{path}: features are one list column or numeric columns, not both; list column(s) "
                f"{lists} beside {[n for n in table.column_names if n not in lists]}"
            )
        return _from_list_column(path, lists[0], table.column(0)), None
    names = [str(n) for n in table.column_names]
    columns = []
    for name, col in zip(names, table.columns, strict=True):
        if not (
            pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type)
        ):
            raise _non_numeric(path, name, col.to_numpy(zero_copy_only=False))
        _refuse_nulls(path, f"feature column {name!r}", col)
        columns.append(col.to_numpy())
    return _stack(columns), names


def _is_list(t: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t))


def _refuse_nulls(path: str, what: str, col: Any) -> None:
    if col.null_count:
        import pyarrow.compute as pc

        row = int(np.argmax(pc.is_null(col).to_numpy(zero_copy_only=False)))
        raise InputError(f"{path}: {what} must hold numbers; row {row} is missing (null)")


def _from_list_column(path: str, name: str, col: Any) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    what = f"feature list column {name!r}"
    value_type = col.type.value_type
    if not (
        pa.types.is_integer(value_type) or pa.types.is_floating(value_type) or pa.types.is_boolean(value_type)
    ):
        raise InputError(f"{path}: {what} must hold lists of numbers; its elements are {value_type}")
    _refuse_nulls(path, what, col)
    lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False).astype(np.int64)
    if len(lengths) and (lengths != lengths[0]).any():
        row = int(np.argmax(lengths != lengths[0]))
        raise InputError(
            f"{path}: {what} must hold lists of one length (ragged); row 0 has {int(lengths[0])} values, "
            f"row {row} has {int(lengths[row])}"
        )
    values = pc.list_flatten(col)
    if values.null_count:
        flat = int(np.argmax(pc.is_null(values).to_numpy(zero_copy_only=False)))
        d = int(lengths[0])
        raise InputError(
            f"{path}: {what} must hold numbers; row {flat // d}, element {flat % d} is missing (null)"
        )
    flat_values = values.to_numpy()
    d = int(lengths[0]) if len(lengths) else 0
    return flat_values.reshape(len(lengths), d)


# ---------------------------------------------------------------------------------------------- finite


def _check_finite(x: np.ndarray, path: str, columns: list[str] | None) -> None:
    rows = max(1, _BLOCK_BYTES // max(1, x.shape[1] * x.dtype.itemsize))
    for start in range(0, x.shape[0], rows):
        block = np.asarray(x[start : start + rows])
        finite = np.isfinite(block)
        if not finite.all():
            r, c = np.unravel_index(int(np.argmin(finite.ravel())), finite.shape)
            column = repr(columns[c]) if columns is not None else str(int(c))
            raise InputError(
                f"{path}: features must be finite numbers; row {start + int(r)}, column {column} holds "
                f"{float(block[r, c])!r}"
            )
