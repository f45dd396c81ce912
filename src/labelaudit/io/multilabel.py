"""Reader of multi-label inputs: (N, K) 0/1 labels or a table column of class lists, and (N, K) pred_probs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from labelaudit.errors import InputError
from labelaudit.io.readers import (
    TABLE_SUFFIXES,
    ArrayShape,
    InputFile,
    label_column_of,
    read_class_names,
    read_npy,
    read_table,
    resolve_prob_columns,
    suffix_of,
)


@dataclass
class MultilabelData(ArrayShape):
    labels: np.ndarray  # (N, K) int 0/1
    pred_probs: np.ndarray  # (N, K) float
    class_names: list[str] | None
    files: list[InputFile] = field(default_factory=list)
    ids: np.ndarray | None = None


def _parse_class_list(value: object, names: dict[str, int] | None, path: str, row: int) -> list[int]:
    """One multi-label cell: a list/array of ints or names, or a string '0,3' / '[0, 3]' / 'cat,dog'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        text = value.strip().strip("[]")
        items = [v.strip().strip("'\"") for v in text.split(",") if v.strip()]
    else:
        items = list(np.asarray(value).ravel().tolist())
    out = []
    for item in items:
        if isinstance(item, str) and not item.lstrip("-").isdigit():
            if names is None or item not in names:
                raise InputError(f"{path}: row {row}: class {item!r} is not a known class name")
            out.append(names[item])
        else:
            out.append(int(item))
    return out


def check_probs(p: np.ndarray, path: str, *, row_sums: bool) -> np.ndarray:
    """The shared value policy (finite, [0, 1] with small drift clipped); multi-label rows need not
    sum to 1, token rows (one distribution per token) must."""
    from labelaudit.core.checks import check_pred_probs

    if not np.issubdtype(p.dtype, np.floating):
        raise InputError(f"{path}: pred_probs must be floating point, got dtype {p.dtype}")
    return check_pred_probs(p, source=path, row_sums=row_sums)


def load_multilabel(
    labels_path: str,
    pred_probs_path: str,
    *,
    label_column: str | None = None,
    prob_columns: str | None = None,
    class_names_path: str | None = None,
) -> MultilabelData:
    """labels: an (N, K) 0/1 .npy, or a table column of class lists; pred_probs (N, K) independent
    per-class probabilities (.npy or table columns)."""
    class_names = read_class_names(class_names_path) if class_names_path else None
    files = [InputFile("labels", labels_path), InputFile("pred_probs", pred_probs_path)]
    same = os.path.abspath(labels_path) == os.path.abspath(pred_probs_path)
    if suffix_of(pred_probs_path) == ".npy":
        p = np.asarray(read_npy(pred_probs_path, "pred_probs"))
    elif suffix_of(pred_probs_path) in TABLE_SUFFIXES:
        df = read_table(pred_probs_path, "pred_probs")
        exclude = {"id", "index"} | ({label_column_of(df, label_column, pred_probs_path)} if same else set())
        cols = resolve_prob_columns(df, prob_columns, exclude, pred_probs_path)
        p = df[cols].to_numpy(dtype=np.float64)
        class_names = class_names or cols
    else:
        raise InputError(f"{pred_probs_path}: unsupported pred_probs format")
    if p.ndim != 2 or p.shape[0] == 0:
        raise InputError(
            f"{pred_probs_path}: multi-label pred_probs must be (N, K) with N >= 1, got shape {p.shape}"
        )
    n, k = p.shape
    if k < 2:
        raise InputError(f"{pred_probs_path}: multi-label data needs K >= 2 classes, got K={k}")
    if class_names is not None and len(class_names) != k:
        raise InputError(
            f"{class_names_path or pred_probs_path}: {len(class_names)} class names for K={k} columns"
        )
    if suffix_of(labels_path) == ".npy":
        y = np.asarray(read_npy(labels_path, "labels"))
        if y.ndim != 2:
            raise InputError(
                f"{labels_path}: multi-label .npy labels must be an (N, K) 0/1 matrix, got shape {y.shape} "
                "(class lists go in a table column)"
            )
        if y.shape != (n, k):
            raise InputError(f"{labels_path}: labels have shape {y.shape} but pred_probs has {(n, k)}")
        if not np.isin(y, (0, 1)).all():
            bad = ~np.isin(y, (0, 1))
            row = int(np.argmax(bad.any(axis=1)))
            raise InputError(
                f"{labels_path}: multi-label labels must be 0/1; row {row} holds {y[row][bad[row]][0]!r}"
            )
        y = y.astype(np.int8)
    elif suffix_of(labels_path) in TABLE_SUFFIXES:
        df = read_table(labels_path, "labels")
        col = label_column_of(df, label_column, labels_path)
        if len(df) != n:
            raise InputError(f"{labels_path}: {len(df)} label rows but pred_probs has {n} rows")
        names = {c: i for i, c in enumerate(class_names)} if class_names else None
        y = np.zeros((n, k), dtype=np.int8)
        for row, value in enumerate(df[col].tolist()):
            classes = _parse_class_list(value, names, labels_path, row)
            if classes and (min(classes) < 0 or max(classes) >= k):
                raise InputError(f"{labels_path}: row {row}: class {max(classes)} is outside 0..{k - 1}")
            y[row, classes] = 1
    else:
        raise InputError(f"{labels_path}: unsupported labels format")
    if not y.any():
        raise InputError(f"{labels_path}: every row is empty: no example carries any class")
    return MultilabelData(y, check_probs(p, pred_probs_path, row_sums=False), class_names, files)
