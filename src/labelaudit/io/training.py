"""The inputs and outputs of training from features (`cross-val`, `clean`, `predict`): labels on their
own, features (io.features), an optional test set, and the cleaned rows.

Labels are the label readers' (a .npy/.npz of ints, or a table column of ints or class names); when
`pred_probs` are given they are read and checked together with the labels as every other command reads
them. Features are read after the labels, so that a different row count names both files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelaudit.errors import InputError
from labelaudit.io import readers
from labelaudit.io.features import read_features
from labelaudit.io.readers import ARRAY_SUFFIXES, TABLE_SUFFIXES, InputFile


@dataclass
class TrainingData:
    """features (N, D) float, labels (N,) int64, class names (from text labels), pred_probs (N, K) when
    given, and the input files in the order the report lists them."""

    features: np.ndarray
    labels: np.ndarray
    class_names: list[str] | None
    files: list[InputFile]
    pred_probs: np.ndarray | None = None


def read_labels(
    path: str, *, role: str = "labels", label_column: str | None = None, class_names: list[str] | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """(N,) int64 labels and the class names when they are text (sorted, or `class_names` when given)."""
    readers.check_input_file(path, role)
    kind = readers.suffix_of(path)
    if kind in ARRAY_SUFFIXES:
        raw = np.asarray(readers.read_npy(path, role))
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw[:, 0]
    elif kind in TABLE_SUFFIXES:
        df = readers.read_table(path, role)
        raw = readers.label_values(df, readers.label_column_of(df, label_column, path), path)
    else:
        raise InputError(f"{path}: unsupported {role} format ({readers.FORMATS})")
    if raw.ndim != 1:
        raise InputError(f"{path}: {role} must be 1-D, got shape {raw.shape}")
    if len(raw) == 0:
        raise InputError(f"{path}: {role} are empty (0 rows)")
    names = class_names
    if raw.dtype.kind in "OUS":
        raw, names = readers.labels_from_values(raw, class_names, path)
    if raw.dtype.kind == "f" and not np.array_equal(raw, np.floor(raw)):
        row = int(np.argmax(raw != np.floor(raw)))
        raise InputError(f"{path}: {role} must be class ids 0..K-1; row {row} holds {raw[row].item()!r}")
    if raw.dtype.kind not in "biuf":
        raise InputError(f"{path}: {role} must be class ids 0..K-1; the array's dtype is {raw.dtype}")
    if (raw < 0).any():
        row = int(np.argmax(raw < 0))
        raise InputError(f"{path}: {role} must be class ids 0..K-1; row {row} holds {raw[row].item()!r}")
    return raw.astype(np.int64), names


def load_training(
    features: str,
    labels: str,
    *,
    label_column: str | None = None,
    pred_probs: str | None = None,
    dtype: str | None = None,
) -> TrainingData:
    """The training inputs; with `pred_probs`, labels and pred_probs are read and checked as a dataset."""
    if pred_probs is not None:
        ds = readers.load_dataset(labels, pred_probs, label_column=label_column)
        y, names, p, files = ds.labels.astype(np.int64), ds.class_names, ds.pred_probs, list(ds.files)
    else:
        (y, names), p = read_labels(labels, label_column=label_column), None
        files = [InputFile("labels", labels)]
    x = read_features(features, n=len(y), dtype=dtype)
    return TrainingData(x, y, names, [InputFile("features", features), *files], p)


def load_test(
    features: str | None,
    labels: str | None,
    train: TrainingData,
    *,
    label_column: str | None = None,
    dtype: str | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(features, labels) of the test set, or None; its files are added to `train.files`. Its labels use
    the training set's class names; its features must have as many columns as the training features."""
    if features is None and labels is None:
        return None
    if features is None or labels is None:
        raise InputError("--test-features and --test-labels go together: give both or neither")
    y, _ = read_labels(labels, role="test labels", label_column=label_column, class_names=train.class_names)
    x = read_features(features, n=len(y), dtype=dtype)
    d = train.features.shape[1]
    if x.shape[1] != d:
        raise InputError(
            f"{features}: test features have {x.shape[1]} columns but the training features "
            f"({train.files[0].path}) have {d}"
        )
    train.files += [InputFile("test_features", features), InputFile("test_labels", labels)]
    return x, y


def write_cleaned(path: str, data: TrainingData, removed: np.ndarray) -> None:
    """The rows kept (not in `removed`): columns `index`, `label`, then the features x0..x{D-1}."""
    from labelaudit.io.writers import write_rows

    keep = np.ones(len(data.labels), dtype=bool)
    keep[np.asarray(removed, dtype=np.int64)] = False
    rows = np.flatnonzero(keep)
    kept = np.asarray(data.features[rows])
    columns: dict = {"index": rows, "label": data.labels[rows]}
    columns.update({f"x{j}": kept[:, j] for j in range(kept.shape[1])})
    write_rows(path, columns)
