"""Reader of multi-annotator labels: the wide layout (one column per annotator, an empty cell where an
annotator gave no label; .csv/.tsv/.jsonl/.parquet, or a float .npy/.npz with NaN) or the long layout (one
row per label: example id, annotator, label), both returned as the (N, M) float array with NaN that
core.multiannotator takes, with the (N, K) pred_probs. String labels are class names, mapped as the
other readers map them (--class-names, else the probability column headers, else sorted unique names).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from labelaudit.errors import InputError, LabelauditWarning
from labelaudit.io.readers import (
    ARRAY_SUFFIXES,
    TABLE_SUFFIXES,
    ArrayShape,
    InputFile,
    check_class_names,
    label_values,
    labels_from_values,
    read_class_names,
    read_npy,
    read_table,
    resolve_prob_columns,
    softmax,
    suffix_of,
)

if TYPE_CHECKING:
    from labelaudit.core.multiannotator import Annotations

LONG_ID_COLUMNS = ("task", "id", "example")  # the example-id column of a long table, first one present


@dataclass
class AnnotationData(ArrayShape):
    """Validated inputs: labels (N, M) float (NaN = not labelled; a read-only memmap for a float .npy),
    pred_probs (N, K); annotators: the M annotator ids (column names, or 0..M-1 for a .npy); ids: the
    example ids (a wide table's id column, or a long table's sorted distinct example ids)."""

    labels: np.ndarray
    pred_probs: np.ndarray
    class_names: list[str] | None
    annotators: list[Any]
    files: list[InputFile] = field(default_factory=list)
    ids: np.ndarray | None = None
    annotations: Annotations | None = None  # the labels as checked, to pass on to core unchecked again


def _text(values: np.ndarray) -> np.ndarray:
    """Present cells of one column as text: integral numbers as integers ('1', not '1.0')."""
    if values.dtype.kind in "iub":
        return values.astype(np.int64).astype(str).astype(object)
    if values.dtype.kind == "f":
        out = values.astype(str).astype(object)
        whole = values == np.floor(values)
        out[whole] = values[whole].astype(np.int64).astype(str)
        return out
    return values.astype(str).astype(object)


def _codes(
    values: list[np.ndarray], class_names: list[str] | None, path: str, where: Any = None
) -> tuple[list[np.ndarray], Any]:
    """Class codes of the present cells of each column, and the class names when the labels are names
    (None for numbers, which pass through; any string makes every cell text, mapped to classes as
    labels_from_values does). `where(i)` names the i-th present cell in messages (default: row i)."""
    if all(v.dtype.kind in "iufb" for v in values):
        return [v.astype(np.float64) for v in values], None
    strings = [_text(v) for v in values]
    sizes = np.cumsum([0] + [len(s) for s in strings])
    try:
        codes, names = labels_from_values(np.concatenate(strings), class_names, path)
    except InputError as exc:
        if where is None:
            raise
        raise InputError(re.sub(r"\brow (\d+)", lambda m: where(int(m.group(1))), str(exc))) from None
    codes = np.asarray(codes, dtype=np.float64)
    return [codes[sizes[i] : sizes[i + 1]] for i in range(len(values))], names


def _dtype(codes: list[np.ndarray]) -> np.dtype:
    """float32 for the (N, M) matrix when it holds every value exactly (integers below 2**24: half the
    memory of float64 at 1M x 50), else float64, so that a value the rules refuse stays as it was."""
    exact = all(np.array_equal(v, np.floor(v)) and (len(v) == 0 or np.abs(v).max() < 2**24) for v in codes)
    return np.dtype(np.float32 if exact else np.float64)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def read_wide(
    path: str, *, class_names: list[str] | None = None, id_column: str | None = None
) -> tuple[np.ndarray, list[Any], np.ndarray | None, list[str] | None]:
    """(labels (N, M) float with NaN, annotator ids, example ids or None, class names when the labels
    are names, else None) of a wide table or .npy. Every column but the id column (`id_column`, else `id` when present) is an annotator."""
    if suffix_of(path) in ARRAY_SUFFIXES:
        x = read_npy(path, "labels")
        if x.ndim != 2:
            raise InputError(
                f"{path}: multi-annotator labels must be 2-D (N examples, M annotators), got shape {x.shape}"
            )
        if x.dtype.kind not in "fiu":
            raise InputError(
                f"{path}: multi-annotator labels must be numbers (NaN = no label), got dtype {x.dtype}"
            )
        return x, list(range(x.shape[1])), None, None
    if suffix_of(path) not in TABLE_SUFFIXES:
        raise InputError(
            f"{path}: unsupported labels format (use .npy, .npz, .csv, .tsv, .jsonl or .parquet)"
        )
    df = read_table(path, "labels")
    names = [str(c) for c in df.columns]
    if id_column is not None and id_column not in names:
        raise InputError(f"{path}: --id-column {id_column!r} not found; columns are {names}")
    idc = id_column or ("id" if "id" in names else None)
    ids = df[idc].to_numpy() if idc is not None else None
    cols = [c for c in df.columns if str(c) != idc]
    if not cols:
        raise InputError(f"{path}: no annotator columns; columns are {names}")
    missing = df[cols].isna().to_numpy()
    empty = [str(c) for c, e in zip(cols, missing.all(axis=0), strict=True) if e]
    if empty:
        raise InputError(
            f"{path}: every annotator must label at least one example; annotator column(s) {empty[:20]} "
            "are entirely empty"
        )
    present = [df[c].to_numpy()[~missing[:, j]] for j, c in enumerate(cols)]
    starts = np.cumsum([0] + [len(v) for v in present])

    def where(i: int) -> str:  # the i-th present cell, counted column after column
        j = int(np.searchsorted(starts, i, side="right")) - 1
        row = int(np.flatnonzero(~missing[:, j])[i - starts[j]])
        return f"row {row}, annotator {str(cols[j])!r},"

    codes, class_names = _codes(present, class_names, path, where)
    labels: np.ndarray = np.full((len(df), len(cols)), np.nan, dtype=_dtype(codes))
    for j, v in enumerate(codes):
        labels[~missing[:, j], j] = v
    return labels, [str(c) for c in cols], ids, class_names


def read_long(
    path: str,
    *,
    class_names: list[str] | None = None,
    id_column: str | None = None,
    annotator_column: str = "annotator",
    label_column: str = "label",
) -> tuple[np.ndarray, list[Any], np.ndarray, list[str] | None]:
    """(labels (N, M) float with NaN, annotator ids, example ids, class names when the labels are names)
    of a long table:
    one row per label. Rows are the distinct example ids sorted, columns the distinct annotators sorted
    (so pred_probs row i belongs to the i-th smallest example id). A repeated (example, annotator) pair
    is an error."""
    import pandas as pd

    if suffix_of(path) not in TABLE_SUFFIXES:
        raise InputError(f"{path}: the long layout needs a table (.csv, .tsv, .jsonl or .parquet)")
    df = read_table(path, "labels")
    names = [str(c) for c in df.columns]
    if id_column is None:
        id_column = next((c for c in LONG_ID_COLUMNS if c in names), None)
        if id_column is None:
            raise InputError(
                f"{path}: a long table needs an example-id column ({', '.join(LONG_ID_COLUMNS)} or "
                f"--id-column); columns are {names}"
            )
    for role, col in (("id", id_column), ("annotator", annotator_column), ("label", label_column)):
        if col not in names:
            raise InputError(f"{path}: {role} column {col!r} not found; columns are {names}")
    for col in (id_column, annotator_column):
        gone = df[col].isna().to_numpy()
        if gone.any():
            raise InputError(f"{path}: missing {col!r} at row {int(np.argmax(gone))}")
    example, ids = pd.factorize(df[id_column], sort=True)
    who, annotators = pd.factorize(df[annotator_column], sort=True)
    raw = label_values(df, label_column, path)
    codes, class_names = _codes([raw], class_names, path)
    labels: np.ndarray = np.full((len(ids), len(annotators)), np.nan, dtype=_dtype(codes))
    labels[example, who] = codes[0]
    # A repeated (example, annotator) pair wrote one cell twice: fewer cells hold a label than the table
    # has rows (labels are never NaN here). Only then are the pairs sorted, to name the first repeat.
    step = max(1, (1 << 22) // max(1, len(annotators)))
    filled = sum(int(np.count_nonzero(~np.isnan(labels[s : s + step]))) for s in range(0, len(ids), step))
    if filled != len(df):
        key = example.astype(np.int64) * len(annotators) + who
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        row = int(np.sort(first[counts > 1])[0])
        raise InputError(
            f"{path}: example {_plain(df[id_column].iloc[row])!r} has more than one label from annotator "
            f"{_plain(df[annotator_column].iloc[row])!r} (row {row} and later); one label per pair"
        )
    return labels, [_plain(a) for a in annotators], np.asarray(ids), class_names


def load_annotations(
    labels_path: str,
    pred_probs_path: str,
    *,
    long: bool = False,
    id_column: str | None = None,
    annotator_column: str = "annotator",
    label_column: str = "label",
    prob_columns: str | None = None,
    class_names_path: str | None = None,
    from_logits: bool = False,
) -> AnnotationData:
    """Read and validate multi-annotator labels and pred_probs; every rule broken is an InputError naming
    the file (the rules of core.multiannotator.check_annotations and the shared pred_probs policy)."""
    from labelaudit.core.checks import check_pred_probs, check_prob_shape, prefixed
    from labelaudit.core.multiannotator import check_annotations

    class_names = read_class_names(class_names_path) if class_names_path else None
    files = [InputFile("labels", labels_path), InputFile("pred_probs", pred_probs_path)]
    header_names: list[str] | None = None
    if suffix_of(pred_probs_path) in ARRAY_SUFFIXES:
        p = read_npy(pred_probs_path, "pred_probs")
    elif suffix_of(pred_probs_path) in TABLE_SUFFIXES:
        df = read_table(pred_probs_path, "pred_probs")
        cols = resolve_prob_columns(df, prob_columns, {id_column or "id", "index", "task"}, pred_probs_path)
        p = df[cols].to_numpy(dtype=np.float64)
        files[1].columns = cols
        header_names = cols
    else:
        raise InputError(f"{pred_probs_path}: unsupported pred_probs format")
    if p.ndim != 2:
        raise InputError(f"{pred_probs_path}: pred_probs must be 2-D (N, K), got shape {p.shape}")
    n, k = p.shape
    check_prob_shape(n, k, p.dtype, source=pred_probs_path)
    names_for_strings = class_names if class_names is not None else header_names
    ids: np.ndarray | None
    if long:
        labels, annotators, ids, found = read_long(
            labels_path,
            class_names=names_for_strings,
            id_column=id_column,
            annotator_column=annotator_column,
            label_column=label_column,
        )
    else:
        labels, annotators, ids, found = read_wide(
            labels_path, class_names=names_for_strings, id_column=id_column
        )
    if found is not None:  # labels were names: those of --class-names, the headers, or sorted
        class_names = found
    check_class_names(class_names, k, class_names_path or pred_probs_path)
    if labels.shape[0] != n:
        what = "distinct example ids" if long else "rows"
        raise InputError(
            f"{labels_path}: {labels.shape[0]} {what} but {pred_probs_path} has {n} rows (N must match)"
        )
    try:
        with warnings.catch_warnings():  # what the data allow is said once, by the computation
            warnings.simplefilter("ignore", LabelauditWarning)
            checked = check_annotations(labels, k, n=n)
    except InputError as exc:
        raise prefixed(labels_path, exc) from None
    if from_logits:
        p = softmax(p)
    p = check_pred_probs(p, source=pred_probs_path, from_logits=from_logits)
    return AnnotationData(labels, p, class_names, annotators, files, ids, checked)
