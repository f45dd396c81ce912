"""Reader of multi-label inputs: (N, K) 0/1 labels or a table column of class lists, and (N, K) pred_probs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from labelaudit.errors import InputError
from labelaudit.io.readers import (
    ARRAY_SUFFIXES,
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


_CLASS_ID = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: '²'.isdigit() is True, int('²') fails


def _cell(value: object) -> str:
    return repr(value) if isinstance(value, str) else repr(np.asarray(value).ravel().tolist())


def _parse_class_list(value: object, names: dict[str, int] | None, path: str, row: int, k: int) -> list[int]:
    """One multi-label cell: a list/array of class ids or names, or a string '0,3' / '[0, 3]' / 'cat,dog';
    every class must be a known name or an integer in 0..k-1 (the message names the class and the cell)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        text = value.strip().strip("[]")
        items = [v.strip().strip("'\"") for v in text.split(",") if v.strip()]
    else:
        items = list(np.asarray(value).ravel().tolist())
    out = []
    for item in items:
        if isinstance(item, str):
            if names is not None and item in names:
                out.append(names[item])
                continue
            if not _CLASS_ID.fullmatch(item):
                raise InputError(
                    f"{path}: row {row}: class {item!r} is neither an integer nor a known class name; "
                    f"the cell holds {_cell(value)}"
                )
            cls = int(item)
        elif isinstance(item, int) or (isinstance(item, float) and item.is_integer()):
            cls = int(item)
        else:
            raise InputError(
                f"{path}: row {row}: class {item!r} is not an integer class id; the cell holds {_cell(value)}"
            )
        if not 0 <= cls < k:
            raise InputError(
                f"{path}: row {row}: class {cls} is outside 0..{k - 1}; the cell holds {_cell(value)}"
            )
        out.append(cls)
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
    if suffix_of(pred_probs_path) in ARRAY_SUFFIXES:
        p = np.asarray(read_npy(pred_probs_path, "pred_probs"))
    elif suffix_of(pred_probs_path) in TABLE_SUFFIXES:
        df = read_table(pred_probs_path, "pred_probs")
        exclude = {"id", "index", label_column or "label"}
        if same:
            exclude.add(label_column_of(df, label_column, pred_probs_path))
        cols = resolve_prob_columns(df, prob_columns, exclude, pred_probs_path)
        p = df[cols].to_numpy(dtype=np.float64)
        files[1].columns = cols
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
    if suffix_of(labels_path) in ARRAY_SUFFIXES:
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
            y[row, _parse_class_list(value, names, labels_path, row, k)] = 1
    else:
        raise InputError(f"{labels_path}: unsupported labels format")
    if not y.any():
        raise InputError(f"{labels_path}: every row is empty: no example carries any class")
    full = np.flatnonzero(y.all(axis=0))
    if len(full):
        c = int(full[0])
        shown = f"class {c} ({class_names[c]!r})" if class_names else f"class {c}"
        raise InputError(
            f"{labels_path}: {shown} is present in every example (all {n}); its labels cannot be audited"
        )
    return MultilabelData(y, check_probs(p, pred_probs_path, row_sums=False), class_names, files)
