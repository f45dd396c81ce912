"""Readers: labels and pred_probs from .npy/.npz (memory-mapped), .csv/.tsv/.jsonl (plain or gzip) and
.parquet tables, or standard input (`-`).

This package is the only code that opens files; `sources` holds the format-level reads (headers, table
parsers, which columns are classes). pandas and pyarrow are imported lazily so that `.npy`-only runs never
load them.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias, overload

import numpy as np

from labelaudit.errors import InputError, LabelauditWarning
from labelaudit.io import sources
from labelaudit.io.sources import STDIN, pick_prob_columns

if TYPE_CHECKING:
    from labelaudit.io.multilabel import MultilabelData
    from labelaudit.io.token import TokenData
    from labelaudit.io.topk import TopKData

TABLE_SUFFIXES = sources.TABLE_KINDS
ARRAY_SUFFIXES = (".npy", ".npz")


@dataclass
class InputFile:
    """An input of a run as the report describes it; `columns`: the probability columns taken from a table."""

    role: str
    path: str
    columns: list[str] | None = None

    @property
    def bytes(self) -> int:
        return sources.file_size(self.path)

    def sha256(self) -> str:
        if self.path == STDIN:
            return hashlib.sha256(sources.stdin_bytes()).hexdigest()
        h = hashlib.sha256()
        with open(self.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        return h.hexdigest()

    def describe(self) -> dict:
        out = {"role": self.role, "path": self.path, "bytes": self.bytes, "sha256": self.sha256()}
        if self.columns is not None:
            out["columns"] = list(self.columns)
        return out


class ArrayShape:
    """n and k of an input whose pred_probs is (N, K) (a mixin of the dataclasses that hold one)."""

    pred_probs: np.ndarray  # declared only: each dataclass below defines the field

    @property
    def n(self) -> int:
        return int(self.pred_probs.shape[0])

    @property
    def k(self) -> int:
        return int(self.pred_probs.shape[1])


@dataclass
class Dataset(ArrayShape):
    """Validated inputs: labels int32 (N,), pred_probs float (N, K) (a read-only memmap for .npy)."""

    labels: np.ndarray
    pred_probs: np.ndarray
    class_names: list[str] | None
    files: list[InputFile] = field(default_factory=list)
    ids: np.ndarray | None = None
    self_conf: np.ndarray | None = None  # P[i, y_i], gathered during validation


@dataclass
class RawInputs:
    """What the files hold, before any rule is applied: labels as read (string labels mapped to codes)."""

    labels: np.ndarray
    pred_probs: np.ndarray
    class_names: list[str] | None
    files: list[InputFile]
    ids: np.ndarray | None
    labels_path: str
    pred_probs_path: str
    class_names_path: str | None


def suffix_of(path: str) -> str:
    """The format of an input (`.csv.gz` is `.csv`; `-` is what standard input starts with)."""
    return sources.kind_of(path)


def check_input_file(path: str, role: str) -> None:
    """Refuse a missing or non-regular input before anything opens it: a FIFO, device or socket would
    block or never end, so it is never opened (os.stat opens nothing)."""
    import stat as st_

    if path == STDIN:
        return
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{path}: {role} file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{path}: {role} file cannot be read: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    if st_.S_ISDIR(mode):
        raise InputError(f"{path}: {role} path is a directory, not a file")
    if not st_.S_ISREG(mode):
        kind = next(
            (
                name
                for test, name in (
                    (st_.S_ISFIFO, "FIFO (named pipe)"),
                    (st_.S_ISCHR, "character device"),
                    (st_.S_ISBLK, "block device"),
                    (st_.S_ISSOCK, "socket"),
                )
                if test(mode)
            ),
            "special file",
        )
        raise InputError(f"{path}: {role} path is a {kind}, not a regular file")


def read_npy(path: str, role: str) -> np.ndarray:
    """The array of a .npy file, memory-mapped read-only (so is an uncompressed .npz member: the one
    array of the .npz, or the one named after `role`); a compressed member or standard input is read
    whole. A corrupt header, a truncated file or anything that is not a .npy is an InputError naming it."""
    check_input_file(path, role)
    return sources.load_npy(path, role)


_TABLE_CACHE: dict[tuple, object] = {}


def read_table(path: str, role: str, columns: list[str] | None = None):
    """A pandas DataFrame from .csv/.tsv/.parquet (read once per path and file version)."""
    check_input_file(path, role)
    if path == STDIN:  # keyed by the bytes read: another run in this process reads another stdin
        key: tuple = (STDIN, sources.stdin_bytes(), role in ("labels", "pred_probs"))
    else:
        st = os.stat(path)
        # Keyed by version too: a table rewritten between two loads in one process is read again.
        key = (os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino, role in ("labels", "pred_probs"))
    if key in _TABLE_CACHE:
        return _TABLE_CACHE[key]
    df = sources.read_table(path)
    if role in ("labels", "pred_probs"):
        sources.require_rows(df, path, role)
    _TABLE_CACHE[key] = df
    return df


def resolve_prob_columns(df, spec: str | None, exclude: set[str], path: str) -> list[str]:
    """The probability columns of a whole table (sources.pick_prob_columns)."""
    return pick_prob_columns(df, spec, exclude, path)


def label_column_of(df, name: str | None, path: str) -> str:
    cols = [str(c) for c in df.columns]
    if name is not None:
        if name not in cols:
            raise InputError(f"{path}: --label-column {name!r} not found; columns are {cols}")
        return name
    if "label" in cols:
        return "label"
    if len(cols) == 1:
        return cols[0]
    raise InputError(
        f"{path}: cannot tell which column holds the labels; pass --label-column (columns: {cols})"
    )


def read_class_names(path: str) -> list[str]:
    check_input_file(path, "class names")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InputError(f"{path}: class names file cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: class names must be UTF-8 text; byte 0x{data[exc.start]:02x} at offset {exc.start} "
            "is not valid UTF-8"
        ) from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    names = [line.strip() for line in lines if line.strip()]
    if len(set(names)) != len(names):
        raise InputError(f"{path}: class names must be unique")
    if not names:
        raise InputError(f"{path}: class names file is empty")
    return names


_INTEGER = re.compile(r"[+-]?[0-9]+")


def integer_text_labels(strings: np.ndarray, class_names: list[str] | None, path: str) -> np.ndarray | None:
    """Labels written as text that are integers (JSON "1", a column of numbers with a stray word): int64
    labels, or None when the first label is a class name. Integers mixed with anything else are an error
    naming the first row that is not an integer."""
    first = str(strings[0])
    if not _INTEGER.fullmatch(first) or (class_names is not None and first in class_names):
        return None
    is_int = np.fromiter((bool(_INTEGER.fullmatch(s)) for s in strings), dtype=bool, count=len(strings))
    if not is_int.all():
        row = int(np.argmin(is_int))
        raise InputError(
            f"{path}: labels must be all integers or all class names; row {row} holds {str(strings[row])!r} "
            f"but row 0 holds {int(first)}"
        )
    try:
        return strings.astype(np.int64)
    except (OverflowError, ValueError):
        row = next(i for i, s in enumerate(strings) if not -(2**63) <= int(s) < 2**63)
        raise InputError(f"{path}: labels must be class ids; row {row} holds {str(strings[row])}") from None


def label_values(df, col: str, path: str) -> np.ndarray:
    """The values of a table's label column: one class per row, none missing."""
    values = df[col].to_numpy()
    if values.dtype == object:
        lists = [i for i, v in enumerate(values[:1000]) if isinstance(v, (list, tuple, np.ndarray))]
        if lists:
            row = lists[0]
            raise InputError(
                f"{path}: labels must hold one class per row; column {col!r} holds lists "
                f"(row {row}: {sources.display(np.asarray(values[row]))}); class lists are multi-label data "
                "(--task multilabel)"
            )
    missing = df[col].isna().to_numpy()
    if missing.any():
        raise InputError(f"{path}: missing label at row {int(np.argmax(missing))}")
    return values


def label_strings(values: np.ndarray) -> np.ndarray:
    """Labels as strings; an object column as an object array of str (numpy's fixed-width str drops
    trailing NULs, so the label 'a\\x00' would no longer match the class name 'a\\x00')."""
    if values.dtype.kind == "O":
        out = np.empty(len(values), dtype=object)
        out[:] = [str(v) for v in values.tolist()]
        return out
    return values.astype(str)


def labels_from_values(values: np.ndarray, class_names: list[str] | None, path: str):
    """Integer labels from an array that may hold strings; returns (labels, class_names or None)."""
    if values.dtype.kind in "OUS":
        strings = label_strings(values)
        integers = integer_text_labels(strings, class_names, path)
        if integers is not None:
            return integers, class_names
        if class_names is None:
            class_names = sorted(set(strings.tolist()))
        lookup = {name: i for i, name in enumerate(class_names)}
        codes = np.fromiter((lookup.get(s, -1) for s in strings), dtype=np.intp, count=len(strings))
        if (codes < 0).any():
            row = int(np.argmax(codes < 0))
            raise InputError(
                f"{path}: label {str(strings[row])!r} at row {row} is not a known class name "
                f"({int((codes < 0).sum())} such rows); classes are {class_names[:20]}"
            )
        return codes, class_names
    return values, class_names


def softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    out = np.empty(x.shape, dtype=np.float64)
    step = max(1, (1 << 21) // max(1, x.shape[1]))
    for s in range(0, len(x), step):
        b = x[s : s + step]
        e = np.exp(b - b.max(axis=1, keepdims=True))
        out[s : s + step] = e / e.sum(axis=1, keepdims=True)
    return out


def check_class_names(class_names: list[str] | None, k: int, source: str) -> None:
    if class_names is not None and len(class_names) != k:
        raise InputError(f"{source}: {len(class_names)} class names but pred_probs has K={k} columns")


def load_dataset(
    labels_path: str,
    pred_probs_path: str,
    *,
    label_column: str | None = None,
    prob_columns: str | None = None,
    class_names_path: str | None = None,
    id_column: str | None = None,
    from_logits: bool = False,
) -> Dataset:
    """Read and validate labels and pred_probs; every rule broken is an InputError naming the file."""
    try:
        raw = read_inputs(
            labels_path,
            pred_probs_path,
            label_column=label_column,
            prob_columns=prob_columns,
            class_names_path=class_names_path,
            id_column=id_column,
        )
        return validate_inputs(raw, from_logits=from_logits)
    finally:
        _TABLE_CACHE.clear()  # the cache only spares a second read of one table within one load


def read_inputs(
    labels_path: str,
    pred_probs_path: str,
    *,
    label_column: str | None = None,
    prob_columns: str | None = None,
    class_names_path: str | None = None,
    id_column: str | None = None,
) -> RawInputs:
    """Read labels and pred_probs without judging their values (doctor inspects what this returns)."""
    class_names = read_class_names(class_names_path) if class_names_path else None
    files = [InputFile("labels", labels_path), InputFile("pred_probs", pred_probs_path)]

    # pred_probs first: K comes from its columns, and table headers may name the classes.
    if suffix_of(pred_probs_path) in ARRAY_SUFFIXES:
        p = read_npy(pred_probs_path, "pred_probs")
    elif suffix_of(pred_probs_path) in TABLE_SUFFIXES:
        df = read_table(pred_probs_path, "pred_probs")
        exclude = {id_column or "id", "index", label_column or "label"}  # a label column is no class
        if suffix_of(labels_path) in TABLE_SUFFIXES and os.path.abspath(labels_path) == os.path.abspath(
            pred_probs_path
        ):
            exclude.add(label_column_of(df, label_column, pred_probs_path))
        cols = resolve_prob_columns(df, prob_columns, exclude, pred_probs_path)
        p = df[cols].to_numpy(dtype=np.float64)
        files[1].columns = cols
        if class_names is None and _labels_are_strings(labels_path, label_column):
            class_names = cols
    else:
        raise InputError(f"{pred_probs_path}: unsupported pred_probs format ({FORMATS})")

    raw, ids = read_labels(labels_path, label_column, id_column)
    if raw.dtype.kind in "OUS" and len(raw):  # no names to derive from 0 labels: reported as empty later
        raw, class_names = labels_from_values(raw, class_names, labels_path)
    return RawInputs(raw, p, class_names, files, ids, labels_path, pred_probs_path, class_names_path)


def read_labels(
    labels_path: str, label_column: str | None, id_column: str | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(labels as read, ids or None) from an array file or a table's label (and id) column."""
    ids = None
    if suffix_of(labels_path) in ARRAY_SUFFIXES:
        raw = read_npy(labels_path, "labels")
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw[:, 0]
    elif suffix_of(labels_path) in TABLE_SUFFIXES:
        df = read_table(labels_path, "labels")
        col = label_column_of(df, label_column, labels_path)
        raw = label_values(df, col, labels_path)
        if id_column is not None and id_column not in df.columns:
            raise InputError(
                f"{labels_path}: --id-column {id_column!r} not found; columns are {list(df.columns)}"
            )
        idc = id_column or ("id" if "id" in df.columns else None)
        if idc is not None:
            ids = df[idc].to_numpy()
    else:
        raise InputError(f"{labels_path}: unsupported labels format ({FORMATS})")
    return raw, ids


FORMATS = "use .npy, .npz, .csv, .tsv, .jsonl or .parquet"


def checked_labels(raw: np.ndarray, labels_path: str, pred_probs_path: str, n: int, k: int) -> np.ndarray:
    """The labels read from `labels_path` beside `n` rows of `k` classes from `pred_probs_path`: 1-D, not
    empty, N matching, integers in [0, K) (core.checks), each broken rule naming the file."""
    if raw.ndim != 1:
        raise InputError(f"{labels_path}: labels must be 1-D, got shape {raw.shape}")
    if len(raw) == 0:
        raise InputError(f"{labels_path}: labels are empty (0 rows)")
    if len(raw) != n:
        raise InputError(
            f"{labels_path}: {len(raw)} labels but {pred_probs_path} has {n} rows (N must match)"
        )
    from labelaudit.core.checks import check_labels

    try:
        return check_labels(raw, n_classes=k)
    except InputError as exc:
        raise InputError(f"{labels_path}: {exc}") from None


def validate_inputs(raw_inputs: RawInputs, *, from_logits: bool = False) -> Dataset:
    """Apply every input rule to what read_inputs returned; repair small drift with a warning."""
    from labelaudit.core.checks import check_pred_probs, check_prob_shape
    from labelaudit.core.confident import class_counts

    raw, p, class_names = raw_inputs.labels, raw_inputs.pred_probs, raw_inputs.class_names
    labels_path, pred_probs_path = raw_inputs.labels_path, raw_inputs.pred_probs_path
    class_names_path = raw_inputs.class_names_path
    if p.ndim != 2:
        raise InputError(f"{pred_probs_path}: pred_probs must be 2-D (N, K), got shape {p.shape}")
    n, k = p.shape
    check_prob_shape(n, k, p.dtype, source=pred_probs_path)
    check_class_names(class_names, k, class_names_path or pred_probs_path)

    labels = checked_labels(raw, labels_path, pred_probs_path, n, k)

    if from_logits:
        p = softmax(p)
    self_conf = np.empty(len(labels), dtype=p.dtype)
    p = check_pred_probs(
        p, source=pred_probs_path, from_logits=from_logits, labels=labels, self_conf_out=self_conf
    )
    counts = class_counts(labels, k)
    absent = np.flatnonzero(counts == 0)
    if len(absent):
        shown = [class_names[i] for i in absent[:20]] if class_names else absent[:20].tolist()
        warnings.warn(
            f"{len(absent)} class(es) have no examples in {labels_path}: {shown}",
            LabelauditWarning,
            stacklevel=2,
        )
    return Dataset(labels, p, class_names, raw_inputs.files, raw_inputs.ids, self_conf)


def _labels_are_strings(labels_path: str, label_column: str | None) -> bool:
    if suffix_of(labels_path) not in TABLE_SUFFIXES:
        return False
    df = read_table(labels_path, "labels")
    col = label_column_of(df, label_column, labels_path)
    return df[col].dtype.kind in "OUS" or str(df[col].dtype).startswith(("string", "str"))


def read_issue_set(path: str, n: int) -> np.ndarray:
    """A flagged set from .npy (bool mask of length N or int indices) or a table with an `index` column."""
    if suffix_of(path) in ARRAY_SUFFIXES:
        a = np.asarray(read_npy(path, "issues"))
    elif suffix_of(path) in TABLE_SUFFIXES:
        try:
            df = read_table(path, "issues")
        finally:
            _TABLE_CACHE.clear()
        if "index" not in df.columns:
            raise InputError(f"{path}: an issues table needs an 'index' column")
        a = df["index"].to_numpy()
    else:
        raise InputError(f"{path}: unsupported issues format (use .npy, .csv or .parquet)")
    if a.dtype == bool and a.shape != (n,):
        raise InputError(f"{path}: an issue mask must have length N={n}, got {a.shape}")
    return a


def read_flagged_rows(path: str, n: int) -> np.ndarray:
    """Increasing int64 indices of a flagged set file (read_issue_set), every error naming the file."""
    from labelaudit.core.rank import flagged_rows

    try:
        return flagged_rows(read_issue_set(path, n), n)
    except InputError as exc:
        raise exc if str(exc).startswith(path) else InputError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class ReadOptions:
    """How to read labels and pred_probs of any task: table columns, class names, ids, logits, and for
    token data the sentence lengths and the token-string column."""

    label_column: str | None = None
    prob_columns: str | None = None
    class_names: str | None = None
    id_column: str | None = None
    from_logits: bool = False
    sentence_lengths: str | None = None
    tokens: str | None = None


# what load_task returns, by task (TopKData: what the multi-class commands read from top-k pred_probs)
TaskData: TypeAlias = "Dataset | MultilabelData | TokenData | TopKData"


@overload
def load_task(
    task: Literal["multilabel"], labels_path: str, pred_probs_path: str, opts: ReadOptions = ...
) -> MultilabelData: ...


@overload
def load_task(
    task: Literal["token"], labels_path: str, pred_probs_path: str, opts: ReadOptions = ...
) -> TokenData: ...


@overload
def load_task(
    task: Literal["multiclass"], labels_path: str, pred_probs_path: str, opts: ReadOptions = ...
) -> Dataset | TopKData: ...


@overload
def load_task(task: str, labels_path: str, pred_probs_path: str, opts: ReadOptions = ...) -> TaskData: ...


def load_task(
    task: str, labels_path: str, pred_probs_path: str, opts: ReadOptions = ReadOptions()
) -> TaskData:
    """Read and validate the inputs of `task`: a Dataset (multiclass; TopKData for top-k pred_probs,
    io.topk), MultilabelData or TokenData. The command line has already refused the options a task does
    not use."""
    if task == "multilabel":
        from labelaudit.io.multilabel import load_multilabel

        return load_multilabel(
            labels_path,
            pred_probs_path,
            label_column=opts.label_column,
            prob_columns=opts.prob_columns,
            class_names_path=opts.class_names,
        )
    if task == "token":
        from labelaudit.io.token import load_tokens

        return load_tokens(
            labels_path,
            pred_probs_path,
            sentence_lengths=opts.sentence_lengths,
            label_column=opts.label_column,
            tokens_column=opts.tokens,
            class_names_path=opts.class_names,
            from_logits=opts.from_logits,
        )
    from labelaudit.io.topk import is_topk, load_topk

    if is_topk(pred_probs_path):
        return load_topk(labels_path, pred_probs_path, opts)
    return load_dataset(
        labels_path,
        pred_probs_path,
        label_column=opts.label_column,
        prob_columns=opts.prob_columns,
        class_names_path=opts.class_names,
        id_column=opts.id_column,
        from_logits=opts.from_logits,
    )


def expand_models(paths: list[str]) -> list[str]:
    """--pred-probs values, with globs expanded (sorted); a glob that matches nothing is an error."""
    import glob

    out: list[str] = []
    for p in paths:
        if any(ch in p for ch in "*?["):
            hits = sorted(glob.glob(p))
            if not hits:
                raise InputError(f"{p}: --pred-probs glob matches no file")
            out.extend(hits)
        else:
            out.append(p)
    return out


def load_models(
    labels_path: str, pred_probs_paths: list[str], opts: ReadOptions = ReadOptions()
) -> tuple[list[Dataset], list[str]]:
    """(datasets, paths): one validated Dataset per model (globs expanded), all of the same (N, K); the
    first lists every model's pred_probs file among its inputs."""
    paths = expand_models(pred_probs_paths)
    dsets: list[Dataset] = []
    for i, path in enumerate(paths):
        try:
            ds = load_task("multiclass", labels_path, path, opts)
            if not isinstance(ds, Dataset):
                raise InputError(
                    f"{path}: top-k probabilities are read as one model, not averaged with others"
                )
            dsets.append(ds)
        except InputError as exc:
            if i == 0:
                raise
            raise InputError(f"{path} (model {i + 1} of {len(paths)}): {exc}") from None
    ds = dsets[0]
    for path, other in zip(paths[1:], dsets[1:], strict=True):
        if (other.n, other.k) != (ds.n, ds.k):
            raise InputError(
                f"{path}: model has N={other.n}, K={other.k} but {paths[0]} has N={ds.n}, K={ds.k}"
            )
    ds.files = ds.files + [f for other in dsets[1:] for f in other.files if f.role == "pred_probs"]
    return dsets, paths
