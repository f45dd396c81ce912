"""Readers for multi-label and token-classification inputs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labelaudit.errors import InputError
from labelaudit.io.readers import (
    TABLE_SUFFIXES,
    InputFile,
    _check_exists,
    _check_values,
    _label_column,
    _resolve_columns,
    read_class_names,
    read_npy,
    read_table,
)


class _Shape:
    @property
    def n(self) -> int:
        return int(self.pred_probs.shape[0])

    @property
    def k(self) -> int:
        return int(self.pred_probs.shape[1])


@dataclass
class MultilabelData(_Shape):
    labels: np.ndarray  # (N, K) int 0/1
    pred_probs: np.ndarray  # (N, K) float
    class_names: list[str] | None
    files: list[InputFile] = field(default_factory=list)
    ids: np.ndarray | None = None


@dataclass
class TokenData(_Shape):
    labels: np.ndarray  # (T,) int, flat in reading order
    pred_probs: np.ndarray  # (T, K)
    lengths: np.ndarray  # (S,) tokens per sentence
    class_names: list[str] | None
    tokens: list[str] | None = None  # (T,) token strings, when known
    files: list[InputFile] = field(default_factory=list)
    ids: np.ndarray | None = None


def _suffix(path: str) -> str:
    return Path(path).suffix.lower()


def _parse_class_list(value, names: dict[str, int] | None, path: str, row: int) -> list[int]:
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


def _check_probs(p: np.ndarray, path: str) -> np.ndarray:
    """Finite, within [0, 1] (drift within 1e-3 clipped); rows need not sum to 1."""
    if not np.issubdtype(p.dtype, np.floating):
        raise InputError(f"{path}: pred_probs must be floating point, got dtype {p.dtype}")
    return _check_values(p, path, from_logits=True, row_sums=False)


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
    if _suffix(pred_probs_path) == ".npy":
        p = np.asarray(read_npy(pred_probs_path, "pred_probs"))
    elif _suffix(pred_probs_path) in TABLE_SUFFIXES:
        df = read_table(pred_probs_path, "pred_probs")
        exclude = {"id", "index"} | ({_label_column(df, label_column, pred_probs_path)} if same else set())
        cols = _resolve_columns(df, prob_columns, exclude, pred_probs_path)
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
    if _suffix(labels_path) == ".npy":
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
    elif _suffix(labels_path) in TABLE_SUFFIXES:
        df = read_table(labels_path, "labels")
        col = _label_column(df, label_column, labels_path)
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
    return MultilabelData(y, _check_probs(p, pred_probs_path), class_names, files)


def load_tokens(
    labels_path: str,
    pred_probs_path: str,
    *,
    sentence_lengths: str | None = None,
    label_column: str | None = None,
    prob_column: str | None = None,
    tokens_column: str | None = None,
    class_names_path: str | None = None,
) -> TokenData:
    """Flat per-token labels (.npy) and pred_probs (.npy) with --sentence-lengths, or a .parquet/.jsonl table
    with one row per sentence and list columns (labels, per-token probabilities, tokens)."""
    from labelaudit.core import check_labels
    from labelaudit.core.token import check_lengths

    class_names = read_class_names(class_names_path) if class_names_path else None
    files = [InputFile("labels", labels_path), InputFile("pred_probs", pred_probs_path)]
    tokens = None
    if _suffix(pred_probs_path) == ".npy":
        if sentence_lengths is None:
            raise InputError(f"{pred_probs_path}: flat per-token pred_probs need --sentence-lengths")
        p = np.asarray(read_npy(pred_probs_path, "pred_probs"))
        raw = np.asarray(read_npy(labels_path, "labels"))
        lengths = np.asarray(read_npy(sentence_lengths, "sentence lengths"))
        files.append(InputFile("sentence_lengths", sentence_lengths))
        if raw.ndim != 1:
            raise InputError(f"{labels_path}: flat token labels must be 1-D, got shape {raw.shape}")
    else:
        df = _read_sentences(pred_probs_path)
        lab_col = label_column or ("labels" if "labels" in df.columns else "label")
        prob_col = prob_column or ("pred_probs" if "pred_probs" in df.columns else "probs")
        for c in (lab_col, prob_col):
            if c not in df.columns:
                raise InputError(f"{pred_probs_path}: no column {c!r}; columns are {list(df.columns)}")
        sent_labels = df[lab_col].tolist()
        sent_probs = df[prob_col].tolist()
        lengths = np.array([len(v) for v in sent_labels], dtype=np.int64)
        for s, (lab, pr) in enumerate(zip(sent_labels, sent_probs, strict=True)):
            if len(pr) != len(lab):
                raise InputError(
                    f"{pred_probs_path}: sentence {s} has {len(lab)} labels but {len(pr)} rows of probabilities"
                )
        flat_labels = [v for lab in sent_labels for v in list(lab)]
        rows = [np.asarray(list(r), dtype=np.float64) for pr in sent_probs for r in list(pr)]
        p = np.vstack(rows) if rows else np.zeros((0, 0))
        if flat_labels and isinstance(flat_labels[0], str):
            if class_names is None:
                raise InputError(
                    f"{pred_probs_path}: string tags need --class-names (one tag per line, in column order)"
                )
            lookup = {c: i for i, c in enumerate(class_names)}
            unknown = [t for t in flat_labels if t not in lookup]
            if unknown:
                raise InputError(f"{pred_probs_path}: tag {unknown[0]!r} is not in the class names")
            flat_labels = [lookup[t] for t in flat_labels]
        raw = np.asarray(flat_labels, dtype=np.int64)
        tok_col = tokens_column or ("tokens" if "tokens" in df.columns else None)
        if tok_col is not None:
            if tok_col not in df.columns:
                raise InputError(f"{pred_probs_path}: no tokens column {tok_col!r}")
            tokens = [str(t) for sent in df[tok_col].tolist() for t in list(sent)]
            if len(tokens) != len(raw):
                raise InputError(f"{pred_probs_path}: {len(tokens)} tokens but {len(raw)} labels")
    if p.ndim != 2 or p.shape[1] < 2:
        raise InputError(
            f"{pred_probs_path}: token pred_probs must be (T, K) with K >= 2, got shape {p.shape}"
        )
    if len(raw) != len(p):
        raise InputError(
            f"{labels_path}: {len(raw)} token labels but {pred_probs_path} has {len(p)} token rows"
        )
    if len(raw) == 0:
        raise InputError(f"{labels_path}: no tokens")
    try:
        lengths = check_lengths(lengths, len(raw))
        labels = check_labels(raw, n_classes=p.shape[1])
    except InputError as exc:
        raise InputError(f"{sentence_lengths or labels_path}: {exc}") from None
    if class_names is not None and len(class_names) != p.shape[1]:
        raise InputError(f"{class_names_path}: {len(class_names)} class names for K={p.shape[1]} columns")
    return TokenData(labels, _check_probs(p, pred_probs_path), lengths, class_names, tokens, files)


def _read_sentences(path: str):
    import pandas as pd

    _check_exists(path, "pred_probs")
    try:
        if _suffix(path) in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if _suffix(path) in (".jsonl", ".json"):
            with open(path, encoding="utf-8") as f:
                return pd.DataFrame([json.loads(line) for line in f if line.strip()])
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable sentence table: {exc}") from None
    raise InputError(f"{path}: token tables must be .parquet or .jsonl (one row per sentence)")
