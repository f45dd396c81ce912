"""Reader of token-classification inputs: flat per-token arrays with sentence lengths, or one row per sentence."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from labelaudit.errors import InputError
from labelaudit.io import sources
from labelaudit.io.readers import (
    ArrayShape,
    InputFile,
    check_input_file,
    read_class_names,
    read_npy,
    suffix_of,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class TokenData(ArrayShape):
    labels: np.ndarray  # (T,) int, flat in reading order
    pred_probs: np.ndarray  # (T, K)
    lengths: np.ndarray  # (S,) tokens per sentence
    class_names: list[str] | None
    tokens: list[str] | None = None  # (T,) token strings, when known
    files: list[InputFile] = field(default_factory=list)
    ids: np.ndarray | None = None


from labelaudit.io.multilabel import check_probs  # noqa: E402


def load_tokens(
    labels_path: str,
    pred_probs_path: str,
    *,
    sentence_lengths: str | None = None,
    label_column: str | None = None,
    prob_column: str | None = None,
    tokens_column: str | None = None,
    class_names_path: str | None = None,
    from_logits: bool = False,
) -> TokenData:
    """Flat per-token labels (.npy) and pred_probs (.npy) with --sentence-lengths, or a .parquet/.jsonl table
    with one row per sentence and list columns (labels, per-token probabilities, tokens)."""
    from labelaudit.core import check_labels
    from labelaudit.core.token import check_lengths

    class_names = read_class_names(class_names_path) if class_names_path else None
    files = [InputFile("labels", labels_path), InputFile("pred_probs", pred_probs_path)]
    tokens = None
    if suffix_of(pred_probs_path) in (".npy", ".npz"):
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
        rows = _sentence_rows(sent_labels, sent_probs, lab_col, prob_col, pred_probs_path)
        lengths = np.array([len(v) for v in sent_labels], dtype=np.int64)
        flat_labels = _flat_tags(sent_labels, lab_col, pred_probs_path)
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
            tokens = _flat_tokens(df[tok_col].tolist(), lengths, tok_col, pred_probs_path)
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
    if from_logits:
        from labelaudit.io.readers import softmax

        p = softmax(p)
    return TokenData(
        labels, check_probs(p, pred_probs_path, row_sums=True), lengths, class_names, tokens, files
    )


def _short(value: object) -> str:
    text = repr(np.asarray(value).tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_list(value: object) -> bool:
    """A flat list (a JSON array, a Parquet list cell) of scalars."""
    if isinstance(value, np.ndarray):
        return value.ndim == 1 and value.dtype != object
    return isinstance(value, (list, tuple)) and not any(isinstance(v, (list, tuple, dict)) for v in value)


def _flat_tags(labels: list, lab_col: str, path: str) -> list:
    """Every sentence's tags in one list: all class ids (integers; an integral float such as 1.0 counts)
    or all tag names (strings), like the first; anything else is an InputError naming sentence and token."""
    flat = [v for lab in labels for v in list(lab)]
    if not flat:
        return flat
    names = isinstance(flat[0], str)
    for s, lab in enumerate(labels):
        for t, v in enumerate(list(lab)):
            if names:
                ok = isinstance(v, str)
            elif isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                ok = False
            else:
                ok = float(v).is_integer() and abs(float(v)) < 2**62
            if not ok:
                want = "tag names (strings)" if names else "integer class ids"
                raise InputError(
                    f"{path}: sentence {s}, token {t}: {lab_col!r} must hold {want}, like its first tag; "
                    f"got {_short(v)}"
                )
    return flat if names else [int(v) for v in flat]


def _flat_tokens(cells: list, lengths: np.ndarray, tok_col: str, path: str) -> list[str]:
    """The token strings of every sentence, one per tag (a sentence's cell must be a list that long)."""
    tokens: list[str] = []
    for s, cell in enumerate(cells):
        if not _is_list(cell) or len(cell) != lengths[s]:
            raise InputError(
                f"{path}: sentence {s}: {tok_col!r} must be a list of {lengths[s]} token strings (one per tag); "
                f"got {_short(cell)}"
            )
        tokens.extend(str(t) for t in cell)
    return tokens


def _sentence_rows(labels: list, probs: list, lab_col: str, prob_col: str, path: str) -> list[np.ndarray]:
    """The per-token probability rows of every sentence (float64, all of one length K); a sentence of the
    wrong shape is an InputError naming the sentence, the token and the value."""
    rows: list[np.ndarray] = []
    for s, (lab, pr) in enumerate(zip(labels, probs, strict=True)):
        if not _is_list(lab):
            raise InputError(
                f"{path}: sentence {s}: {lab_col!r} must be a list (one tag per token); got {_short(lab)}"
            )
        if not isinstance(pr, (list, tuple, np.ndarray)):
            raise InputError(
                f"{path}: sentence {s}: {prob_col!r} must be a list of per-token probability lists; got {_short(pr)}"
            )
        if len(pr) != len(lab):
            raise InputError(
                f"{path}: sentence {s} has {len(lab)} labels but {len(pr)} rows of probabilities"
            )
        for t, row in enumerate(pr):
            try:
                values = np.asarray(list(row), dtype=np.float64) if _is_list(row) else None
            except (TypeError, ValueError):
                values = None
            if values is None:
                raise InputError(
                    f"{path}: sentence {s}: {prob_col!r} must be a list of per-token probability lists; "
                    f"token {t} has {_short(row)}"
                )
            if rows and len(values) != len(rows[0]):
                raise InputError(
                    f"{path}: sentence {s}, token {t}: {len(values)} probabilities, but the first token has "
                    f"{len(rows[0])}"
                )
            rows.append(values)
    return rows


_JSON_TYPES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false"}


def _json_lines(path: str) -> list[dict]:
    """One object per non-blank line of a JSON-lines file (or standard input), each line checked."""
    import gzip

    try:
        if path == sources.STDIN:
            data = sources.stdin_payload()
        else:
            with (gzip.open if path.lower().endswith(".gz") else open)(path, "rb") as f:
                data = f.read()
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: JSON lines must be UTF-8 text; byte 0x{data[exc.start]:02x} at offset {exc.start} is not "
            "valid UTF-8"
        ) from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: unreadable sentence table: {exc}") from None
    out = []
    for i, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {i}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            kind = "null" if obj is None else _JSON_TYPES.get(type(obj), type(obj).__name__)
            raise InputError(f"{path}: line {i}: each line must be a JSON object (one sentence); got {kind}")
        out.append(obj)
    return out


def _read_sentences(path: str) -> pd.DataFrame:
    import pandas as pd

    check_input_file(path, "pred_probs")
    kind = suffix_of(path)
    if kind in (".parquet", ".pq"):
        try:
            return pd.read_parquet(sources.source(path))
        except Exception as exc:  # pyarrow raises many types for corrupt files
            raise InputError(f"{path}: unreadable sentence table: {str(exc).splitlines()[0]}") from None
    if kind in (".jsonl", ".json"):
        return pd.DataFrame(_json_lines(path))
    raise InputError(f"{path}: token tables must be .parquet or .jsonl (one row per sentence)")
