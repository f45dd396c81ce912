"""Top-k probabilities as pred_probs: a `.npz` with arrays `indices` and `values` (N, k), or a Parquet
table with list columns `top_classes` and `top_probs` (k entries per row).

How the file says what the rows do not (core.topk holds the definition of the implicit matrix):
* K, the number of classes: a `num_classes` array (one integer) in the `.npz`, or the key `num_classes`
  in the Parquet file's key-value metadata; else the number of `--class-names`; else the largest class id
  among the top-k ids and the labels, plus 1 (with a warning: it decides how thin the leftover is spread).
* the mass not listed: a `residual` array (N,) or float column, the total probability of the K - k
  unlisted classes; else 1 - (sum of the row's top-k probabilities), at least 0.
Labels come from --labels as usual; a Parquet table may hold them too (its label column).
"""

from __future__ import annotations

import os
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelaudit.core.topk import TopK, check_topk
from labelaudit.errors import InputError, LabelauditWarning
from labelaudit.io import sources
from labelaudit.io.readers import (
    InputFile,
    ReadOptions,
    check_input_file,
    checked_labels,
    labels_from_values,
    read_class_names,
    read_labels,
)

NPZ_ARRAYS = ("indices", "values")
PARQUET_COLUMNS = ("top_classes", "top_probs")
METADATA_KEY = b"num_classes"


@dataclass
class TopKData:
    """Validated inputs with top-k pred_probs: labels int32 (N,), `topk` a core.topk.TopK."""

    labels: np.ndarray
    topk: TopK
    class_names: list[str] | None
    files: list[InputFile] = field(default_factory=list)
    ids: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.topk)

    @property
    def k(self) -> int:
        return self.topk.num_classes

    @property
    def pred_probs(self) -> Any:  # the TopK; Any so that a TaskData's pred_probs stays an array type
        return self.topk

    @property
    def self_conf(self) -> None:
        return None


def is_topk(path: str) -> bool:
    """Whether pred_probs at `path` are top-k probabilities (a missing or unreadable file is not: its
    reader reports it)."""
    if path == sources.STDIN or not os.path.isfile(path):
        return False
    kind = sources.kind_of(path)
    try:
        if kind == ".npz":
            with zipfile.ZipFile(path) as zf:
                names = {n[:-4] if n.endswith(".npy") else n for n in zf.namelist()}
            return set(NPZ_ARRAYS) <= names
        if kind in sources.PARQUET_KINDS:
            import pyarrow.parquet as pq

            return set(PARQUET_COLUMNS) <= set(pq.read_schema(path).names)
    except Exception:  # the ordinary reader names what is wrong with the file
        return False
    return False


def _member(path: str, name: str) -> np.ndarray:
    return sources.load_npy(path, name)


def _npz(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int | None]:
    with zipfile.ZipFile(path) as zf:
        names = {n[:-4] if n.endswith(".npy") else n for n in zf.namelist()}
    classes, probs = _member(path, "indices"), _member(path, "values")
    residual = _member(path, "residual") if "residual" in names else None
    k = None
    if "num_classes" in names:
        a = np.asarray(_member(path, "num_classes"))
        if a.size != 1 or a.dtype.kind not in "iu":
            raise InputError(f"{path}: num_classes must be one integer, got {a.dtype} {a.shape}")
        k = int(a.ravel()[0])
    return classes, probs, residual, k


def _list_column(table: Any, name: str, path: str, k: int | None) -> np.ndarray:
    """A list column with the same number of entries in every row, as an (N, k) array."""
    import pyarrow as pa

    col = table.column(name).combine_chunks()
    if not pa.types.is_list(col.type) and not pa.types.is_large_list(col.type):
        raise InputError(f"{path}: column {name!r} must hold lists (one per row), got {col.type}")
    if col.null_count:
        row = int(np.argmax(col.is_null().to_numpy(zero_copy_only=False)))
        raise InputError(f"{path}: column {name!r} has a missing list at row {row}")
    offsets = np.asarray(col.offsets)
    lengths = np.diff(offsets)
    width = int(lengths[0]) if k is None else k
    if (lengths != width).any():
        row = int(np.argmax(lengths != width))
        raise InputError(
            f"{path}: every row must list the same number of classes; row {row} of {name!r} has "
            f"{int(lengths[row])}, row 0 has {width}"
        )
    values = col.flatten()
    if values.null_count:
        row = int(np.argmax(values.is_null().to_numpy(zero_copy_only=False))) // max(width, 1)
        raise InputError(f"{path}: column {name!r} has a missing value at row {row}")
    return values.to_numpy(zero_copy_only=False).reshape(len(col), width)


def _parquet(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int | None]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        table = pf.read(columns=[c for c in (*PARQUET_COLUMNS, "residual") if c in pf.schema_arrow.names])
    except Exception as exc:
        raise InputError(f"{path}: unreadable Parquet file: {exc}") from None
    classes = _list_column(table, "top_classes", path, None)
    probs = _list_column(table, "top_probs", path, classes.shape[1])
    residual = None
    if "residual" in table.column_names:
        residual = table.column("residual").to_numpy(zero_copy_only=False)
    meta = pf.schema_arrow.metadata or {}
    k = None
    if METADATA_KEY in meta:
        try:
            k = int(meta[METADATA_KEY])
        except ValueError:
            raise InputError(
                f"{path}: metadata num_classes must be an integer, got {meta[METADATA_KEY]!r}"
            ) from None
    return classes, probs, residual, k


def _labels(
    labels_path: str, pred_probs_path: str, opts: ReadOptions
) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels (and ids) as read; from the top-k Parquet table itself, only its label (and id) column."""
    same = os.path.abspath(labels_path) == os.path.abspath(pred_probs_path)
    if not (same and sources.kind_of(labels_path) in sources.PARQUET_KINDS):
        return read_labels(labels_path, opts.label_column, opts.id_column)
    import pyarrow.parquet as pq

    names = pq.read_schema(labels_path).names
    col = opts.label_column or "label"
    if col not in names:
        raise InputError(f"{labels_path}: label column {col!r} not found; columns are {names}")
    idc = opts.id_column or ("id" if "id" in names else None)
    if idc is not None and idc not in names:
        raise InputError(f"{labels_path}: --id-column {idc!r} not found; columns are {names}")
    df = sources.table_columns(labels_path, [col] + ([idc] if idc else []))
    missing = df[col].isna().to_numpy()
    if missing.any():
        raise InputError(f"{labels_path}: missing label at row {int(np.argmax(missing))}")
    return df[col].to_numpy(), (df[idc].to_numpy() if idc else None)


def load_topk(labels_path: str, pred_probs_path: str, opts: ReadOptions = ReadOptions()) -> TopKData:
    """Read and validate labels and top-k pred_probs; every rule broken is an InputError naming the file."""
    from labelaudit.io.readers import _TABLE_CACHE

    try:
        return _load(labels_path, pred_probs_path, opts)
    finally:
        _TABLE_CACHE.clear()


def _load(labels_path: str, pred_probs_path: str, opts: ReadOptions) -> TopKData:
    from labelaudit.core.confident import class_counts

    if opts.from_logits:
        raise InputError(
            f"{pred_probs_path}: --from-logits needs every class's logit; top-k input holds probabilities"
        )
    if opts.prob_columns is not None:
        raise InputError(
            f"{pred_probs_path}: --prob-columns does not apply to top-k input (top_classes/top_probs)"
        )
    check_input_file(pred_probs_path, "pred_probs")
    read = _npz if sources.kind_of(pred_probs_path) == ".npz" else _parquet
    classes, probs, residual, k = read(pred_probs_path)
    class_names = read_class_names(opts.class_names) if opts.class_names else None
    raw, ids = _labels(labels_path, pred_probs_path, opts)
    if raw.dtype.kind in "OUS" and len(raw):
        if class_names is None:
            raise InputError(
                f"{labels_path}: string labels with top-k input need --class-names (class id order)"
            )
        raw, class_names = labels_from_values(raw, class_names, labels_path)
    if k is None and class_names is not None:
        k = len(class_names)
    if k is None:
        top = int(np.max(classes)) if classes.size and classes.dtype.kind in "iu" else 0
        k = max(top, int(np.max(raw)) if len(raw) and raw.dtype.kind in "iuf" else 0) + 1
        warnings.warn(
            f"{pred_probs_path}: the number of classes is not given; taken as the largest class id + 1 "
            f"(K={k}); give num_classes in the file or --class-names",
            LabelauditWarning,
            stacklevel=2,
        )
    if class_names is not None and len(class_names) != k:
        raise InputError(f"{opts.class_names}: {len(class_names)} class names but the top-k input has K={k}")
    topk = TopK(classes, probs, k, residual)
    try:
        topk = check_topk(topk)
    except InputError as exc:
        raise InputError(f"{pred_probs_path}: {exc}") from None
    labels = checked_labels(raw, labels_path, pred_probs_path, len(topk), k)
    absent = np.flatnonzero(class_counts(labels, k) == 0)
    if len(absent):
        shown = [class_names[i] for i in absent[:20]] if class_names else absent[:20].tolist()
        warnings.warn(
            f"{len(absent)} class(es) have no examples in {labels_path}: {shown}",
            LabelauditWarning,
            stacklevel=2,
        )
    files = [InputFile("labels", labels_path), InputFile("pred_probs", pred_probs_path)]
    return TopKData(labels, topk, class_names, files, ids)
