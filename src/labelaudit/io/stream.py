"""Streamed inputs for `labelaudit batched` and `find-issues --low-memory`.

A BlockSource yields, once per pass and in row order, callables that each read and check one
(start, labels_b, pred_probs_b) block: the engine runs them in its workers.
pred_probs in `.npy` (and uncompressed `.npz` members) are read with positional reads into a reused buffer
per worker (nothing stays mapped, so file pages do not pile up in the resident set, and no block pays fresh
page faults); a Fortran-ordered array is read as K runs per block, one per column, into a C-ordered buffer,
so its blocks and results are those of a C-ordered copy. A compressed `.npz` member is read in sequence,
`.parquet` by record batches and `.csv`/`.tsv`/`.jsonl` by chunks of the parser that counts their rows
(io.sources), so a streamed table has the same N as the table read whole.
Labels in a `.npy` are read and checked block by block in the workers as well (an error reports on the
whole file: how many labels are wrong and the first row); labels in a table are read whole. The first
pass checks every rule and reports the first bad row; later passes only repeat the clipping repair.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelaudit.core.checks import Verdict, check_prob_shape
from labelaudit.core.stream import Block, Noted
from labelaudit.errors import InputError, LabelauditWarning
from labelaudit.io import sources
from labelaudit.io.readers import (
    ARRAY_SUFFIXES,
    FORMATS,
    TABLE_SUFFIXES,
    InputFile,
    check_class_names,
    check_input_file,
    integer_text_labels,
    label_column_of,
    label_strings,
    label_values,
    labels_from_values,
    read_class_names,
    read_npy,
    softmax,
    suffix_of,
)

_PREADV = hasattr(os, "preadv")  # positional reads into a buffer; elsewhere each read opens its own file

_UNITS = {
    "": 1,
    "B": 1,
    "K": 1 << 10,
    "KB": 1 << 10,
    "M": 1 << 20,
    "MB": 1 << 20,
    "G": 1 << 30,
    "GB": 1 << 30,
}


MIN_MEMORY = 1 << 20  # below this a block would be a handful of rows: refused rather than crawling


def parse_memory(text: str) -> int:
    """'512MB', '2G', '1048576' -> bytes (at least MIN_MEMORY)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B?)\s*", text.upper())
    if not m:
        raise InputError(f"--memory-limit must look like 512MB or 2GB, got {text!r}")
    limit = int(float(m.group(1)) * _UNITS[m.group(2)])
    if limit < MIN_MEMORY:
        raise InputError(f"--memory-limit must be at least 1MB (room for one block of rows); got {text!r}")
    return limit


def row_bytes_budget(n_classes: int, itemsize: int) -> int:
    """Memory one row of a block takes with the kernels' temporaries (about eight copies of it)."""
    return 8 * n_classes * max(itemsize, 4)


def block_rows(n_classes: int, itemsize: int, memory_limit: int | None, batch_size: int | None) -> int:
    """Rows per block: --batch-size if given, else what fits the memory limit with room for the kernels'
    temporaries (about eight copies of a block), capped where larger blocks stop paying off."""
    if batch_size is not None:
        return max(1, int(batch_size))
    budget = memory_limit if memory_limit is not None else 512 << 20
    return int(max(1, min(budget // row_bytes_budget(n_classes, itemsize), (1 << 21) // n_classes)))


def _given(block: Any) -> Any:
    return block


_BUFFERS: dict[tuple, threading.local] = {}
_BUFFERS_LOCK = threading.Lock()
BUFFERS_KEPT = 8  # inputs whose buffers a worker process keeps (the oldest are dropped)


def worker_buffers(key: tuple) -> threading.local:
    """The thread-local read buffers this process keeps for one input (NpyRows.__setstate__)."""
    with _BUFFERS_LOCK:
        local = _BUFFERS.get(key)
        if local is None:
            while len(_BUFFERS) >= BUFFERS_KEPT:
                del _BUFFERS[next(iter(_BUFFERS))]
            local = _BUFFERS[key] = threading.local()
        return local


class NpyRows:
    """Row blocks of a 2-D .npy array, read into reused buffers. A file (a .npy or an uncompressed .npz
    member) is read positionally, nothing mapped, no page pile-up: a C-ordered block is one run of bytes,
    a Fortran-ordered one K runs (one per column) gathered into a C-ordered buffer. Standard input is
    already in memory; a compressed .npz member can only be read in sequence (`sequential`, `blocks`)."""

    def __init__(self, path: str, role: str = "pred_probs"):
        check_input_file(path, role)
        self.path = path
        self._local = threading.local()
        layout = sources.npy_layout(path, role)
        if len(layout.shape) != 2:
            raise InputError(f"{path}: {role} must be 2-D (N, K), got shape {layout.shape}")
        self.layout, self.offset, self.fortran = layout, layout.offset, layout.fortran
        self.n, self.k = int(layout.shape[0]), int(layout.shape[1])
        self.dtype = layout.dtype
        self.row_bytes = self.k * self.dtype.itemsize
        self.sequential = not layout.positional and layout.member is not None
        self._memory: np.ndarray | None = None
        if not layout.positional and layout.member is None:  # standard input, read whole
            self._memory = sources.load_npy(path, role)
        elif self.sequential and self.fortran:
            raise InputError(
                f"{path}: member {layout.member} is a Fortran-ordered array in a compressed .npz, which "
                "cannot be read by rows; save it with np.savez (uncompressed) or in C order"
            )

    def __getstate__(self) -> dict:
        """Picklable for a cluster engine: the thread-local buffers stay behind (each process makes its
        own); a .npy is re-opened by path in the worker."""
        state = dict(self.__dict__)
        del state["_local"]
        return state

    def __setstate__(self, state: dict) -> None:
        """In a worker, every task unpickles its own copy of the reader: the copies of one input share
        the process's thread-local buffers (worker_buffers), so a worker reads every block of a pass
        into the same memory. A fresh buffer per task would be fresh pages for the kernel to fault in
        whenever the worker keeps results between tasks (the default mode's parts, engines.dask)."""
        self.__dict__.update(state)
        self._local = worker_buffers((self.path, self.offset, self.k, self.dtype.str, self.fortran))

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) in this thread's reused buffer: valid until the thread's next read, so a
        block is consumed (its results copied out) before the same worker reads the next. Reusing the
        buffer spares the page faults of a fresh allocation per block, about half the cost of a read."""
        rows = stop - start
        buf = getattr(self._local, "buf", None)
        if buf is None or len(buf) < rows:
            buf = self._local.buf = np.empty((rows, self.k), dtype=self.dtype)
        out = buf[:rows]
        if self._memory is not None:
            np.copyto(out, self._memory[start:stop])
            return out
        if self.fortran:
            return self._read_columns(start, stop, out)
        view = out.reshape(-1).view(np.uint8).data  # a memoryview of the block's bytes
        with open(self.path, "rb", buffering=0) as f:
            done = self._fill(f, view, self.offset + start * self.row_bytes)
        if done < len(view):
            row = start + done // self.row_bytes
            raise InputError(f"{self.path}: truncated while reading: data ends at row {row} of {self.n}")
        return out

    def _read_columns(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """A block of a Fortran-ordered array: the block's run of each column, then one transposing copy
        into the C-ordered `out` (the same values, laid out as a C-ordered block would be)."""
        rows, item = stop - start, self.dtype.itemsize
        cols = getattr(self._local, "cols", None)
        if cols is None or cols.shape[1] < rows:
            cols = self._local.cols = np.empty((self.k, rows), dtype=self.dtype)
        with open(self.path, "rb", buffering=0) as f:
            for j in range(self.k):
                view = cols[j, :rows].view(np.uint8).data
                done = self._fill(f, view, self.offset + (j * self.n + start) * item)
                if done < len(view):
                    raise InputError(
                        f"{self.path}: truncated while reading: data ends at row {start + done // item} "
                        f"of column {j}"
                    )
        np.copyto(out, cols[:, :rows].T)
        return out

    @staticmethod
    def _fill(f: Any, view: memoryview, offset: int) -> int:
        """Read len(view) bytes at `offset` into `view`; how many there were (fewer: the file ended)."""
        done = 0
        if not _PREADV:
            f.seek(offset)
        while done < len(view):
            rest = view[done:]
            got = os.preadv(f.fileno(), [rest], offset + done) if _PREADV else f.readinto(rest)
            if not got:
                break
            done += got
        return done

    def blocks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """(start, block) of a compressed member, decompressed in sequence (fresh arrays: each block
        is handed to a worker while the next one is read)."""
        import zipfile
        import zlib

        with sources.member_stream(self.layout) as f:
            for start in range(0, self.n, rows):
                count = min(rows, self.n - start)
                data = bytearray(count * self.row_bytes)
                view, done = memoryview(data), 0
                try:
                    while done < len(data):
                        got = f.readinto(view[done:])
                        if not got:
                            raise InputError(
                                f"{self.path}: truncated while reading member {self.layout.member}: data "
                                f"ends at row {start + done // self.row_bytes} of {self.n}"
                            )
                        done += got
                except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                    raise InputError(
                        f"{self.path}: unreadable .npz member {self.layout.member}: {exc}"
                    ) from None
                yield start, np.frombuffer(data, dtype=self.dtype).reshape(count, self.k)


@dataclass(frozen=True)
class Policy:
    """What a block's worker applies after reading it: the softmax, the value rules (first pass) or
    the clipping repair the first pass found needed (later passes), and the label rule."""

    pred_probs_path: str
    labels_path: str
    k: int
    from_logits: bool
    check: bool
    clip: bool


_MAPPED: dict[tuple, np.ndarray] = {}  # per process: a labels .npy mapped once per file version


class LabelRows:
    """Labels of a .npy read (mapped) and checked block by block in the worker, by path."""

    def __init__(self, path: str, n: int) -> None:
        self.path, self.n = path, n

    def raw(self) -> np.ndarray:
        st = os.stat(self.path)
        key = (os.path.abspath(self.path), st.st_size, st.st_mtime_ns, st.st_ino)
        raw = _MAPPED.get(key)
        if raw is None:
            raw = read_npy(self.path, "labels")
            if raw.ndim == 2 and raw.shape[1] == 1:
                raw = raw[:, 0]
            _MAPPED.clear()
            _MAPPED[key] = raw
        return raw

    def rows(self, start: int, stop: int, k: int) -> np.ndarray:
        from labelaudit.core import check_labels

        raw = self.raw()
        try:
            return check_labels(raw[start:stop], n_classes=k)
        except InputError:
            try:  # report as for the whole file (how many labels are wrong, the first row)
                check_labels(raw, n_classes=k)
            except InputError as exc:
                raise InputError(f"{self.path}: {exc}") from None
            raise


@dataclass(frozen=True)
class BlockTask:
    """One block to read and check in a worker, picklable (a cluster engine ships it): `read` makes
    the (B, K) block, or its columns (a table chunk or a Parquet row group, `columns` naming them);
    `labels` is the block's labels, or the LabelRows that reads them."""

    start: int
    stop: int
    read: Callable[[], Any]
    labels: Any
    policy: Policy
    columns: tuple[str, ...] | None = None

    def __call__(self) -> Block | Noted:
        pol = self.policy
        block = self.read()
        if self.columns is not None:
            block = columns_block(block, self.columns, pol.pred_probs_path, self.start)
        if pol.from_logits:
            block = softmax(block)
        verdict = None
        if pol.check:
            block, verdict = check_block(block, self.start, pol)
        elif pol.clip:
            block = np.clip(block, 0, 1)
        if len(block) != self.stop - self.start:
            raise InputError(
                f"{pol.pred_probs_path}: a block from row {self.start} has {len(block)} rows, expected "
                f"{self.stop - self.start} (the input changed while reading?)"
            )
        labels = self.labels
        if isinstance(labels, LabelRows):
            labels = labels.rows(self.start, self.stop, pol.k)
        got: Block = (self.start, labels, block)
        return got if verdict is None else Noted(got, verdict)


def columns_block(columns: list[np.ndarray], names: tuple[str, ...], path: str, start: int) -> np.ndarray:
    for name, values in zip(names, columns, strict=True):
        sources.check_numeric(values, name, path, offset=start)
    return np.column_stack(columns).astype(np.float64, copy=False)


def check_block(block: np.ndarray, start: int, pol: Policy) -> tuple[np.ndarray, Verdict]:
    """The shared value policy on one block (rows numbered in the whole input)."""
    from labelaudit.core.checks import block_stats, judge_values, prefixed

    try:
        verdict = judge_values(block, block_stats(block), from_logits=pol.from_logits, offset=start)
    except InputError as exc:
        raise prefixed(pol.pred_probs_path, exc) from None
    return (np.clip(block, 0, 1) if verdict.clip else block), verdict


class PartsFile:
    """A dataset input (shards, a Parquet dataset, a Zarr array) as the report describes it."""

    def __init__(self, role: str, path: str, parts: list[str], options: dict | None) -> None:
        self.role, self.path, self.parts, self.options = role, path, parts, options
        self.columns: list[str] | None = None

    def describe(self) -> dict:
        from labelaudit.io.shards import describe_parts

        out = describe_parts(self.role, self.path, self.parts, self.options)
        if self.columns is not None:
            out["columns"] = list(self.columns)
        return out


class _Passes:
    """BlockSource.passes: call it for one pass's tasks; `note` takes back each first-pass verdict."""

    def __init__(self, src: BlockSource) -> None:
        self._src = src

    def __call__(self) -> Iterator[BlockTask]:
        return self._src.tasks()

    def note(self, verdict: Verdict) -> None:
        self._src.note(verdict)


class BlockSource:
    """Validated row blocks of (labels, pred_probs), one iterator of picklable tasks per pass."""

    def __init__(
        self,
        labels_path: str,
        pred_probs_path: str,
        *,
        label_column: str | None = None,
        prob_columns: str | None = None,
        class_names_path: str | None = None,
        id_column: str | None = None,
        from_logits: bool = False,
        rows: int | None = None,
        memory_limit: int | str | None = None,
        storage_options: dict | None = None,
    ):
        from labelaudit.io import shards

        self.labels_path, self.pred_probs_path = labels_path, pred_probs_path
        self.from_logits = from_logits
        self.options = storage_options
        self.files: list[Any] = [InputFile("labels", labels_path), InputFile("pred_probs", pred_probs_path)]
        self.class_names = read_class_names(class_names_path) if class_names_path else None
        self._id_column = id_column
        self._id_source: tuple[str, str] | None = None  # (table, column) the ids are read from
        self.passes = _Passes(self)
        self._label_table: Any = None  # the label column, when read with the pred_probs table's rows
        self._head: Any = None
        limit = parse_memory(memory_limit) if isinstance(memory_limit, str) else memory_limit
        suffix = suffix_of(pred_probs_path)
        self._npy: NpyRows | None = None
        self._table: str | None = None
        self._parts: Any = None  # a dataset reader (io.shards)
        self._dataset: Any = None  # a Parquet dataset reader
        if shards.is_dataset(pred_probs_path):
            self._open_dataset(pred_probs_path, labels_path, label_column, prob_columns, id_column)
        elif suffix in ARRAY_SUFFIXES:
            self._npy = NpyRows(pred_probs_path)
            self.n, self.k, self.dtype = self._npy.n, self._npy.k, self._npy.dtype
        elif suffix in TABLE_SUFFIXES:
            self._open_table(pred_probs_path, labels_path, label_column, prob_columns, id_column)
        else:
            raise InputError(f"{pred_probs_path}: unsupported pred_probs format ({FORMATS})")
        check_prob_shape(self.n, self.k, self.dtype, source=pred_probs_path)
        check_class_names(self.class_names, self.k, class_names_path or pred_probs_path)
        if from_logits:
            self.dtype = np.dtype(np.float64)
        if rows is None and limit is not None and limit < row_bytes_budget(self.k, self.dtype.itemsize):
            per_row = row_bytes_budget(self.k, self.dtype.itemsize) / (1 << 20)
            raise InputError(
                f"--memory-limit {memory_limit!r} is too small for one row of {self.k} columns: a block "
                f"needs {per_row:.1f}MB per row (the row and its kernels' temporaries)"
            )
        # a .npy of labels: read and checked block by block, in the workers
        self._label_rows: LabelRows | None = None
        self.labels = self._read_labels(labels_path, label_column)
        self.rows = block_rows(self.k, self.dtype.itemsize, limit, rows)

    def _find_ids(self, head: Any, path: str) -> None:
        """The labels table's id column: --id-column (refused when missing), else a column named id."""
        if self._id_column is not None and self._id_column not in head.columns:
            raise InputError(
                f"{path}: --id-column {self._id_column!r} not found; columns are {list(head.columns)}"
            )
        column = self._id_column or ("id" if "id" in head.columns else None)
        if column is not None:
            self._id_source = (path, column)

    @property
    def ids_of(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """The ids of given rows from the labels table's id column, read after the passes (a Parquet
        column as Arrow, taken at those rows only); None when the labels have no id column."""
        if self._id_source is None:
            return None
        path, column = self._id_source

        def ids_of(rows: np.ndarray) -> np.ndarray:
            if sources.kind_of(path) in sources.PARQUET_KINDS:
                import pyarrow.parquet as pq

                col = pq.read_table(sources.source(path), columns=[column]).column(column)
                return np.asarray(col.take(rows).to_pylist(), dtype=object)
            return sources.table_columns(path, [column])[column].to_numpy()[rows]

        return ids_of

    def note(self, verdict: Verdict) -> None:
        """A first-pass block's verdict, merged in the driver: later passes repeat its repair."""
        self._verdict = self._verdict.merge(verdict)

    def warn_after_pass(self, counts: np.ndarray) -> None:
        """After a pass: the repairs the value policy made (as the in-memory reader words them, for
        the whole file) and the classes with no example, given the class counts of the labels."""
        for message in self._verdict.warnings():
            warnings.warn(f"{self.pred_probs_path}: {message}", LabelauditWarning, stacklevel=2)
        absent = np.flatnonzero(np.asarray(counts) == 0)
        if len(absent):
            shown = [self.class_names[i] for i in absent[:20]] if self.class_names else absent[:20].tolist()
            warnings.warn(
                f"{len(absent)} class(es) have no examples in {self.labels_path}: {shown}",
                LabelauditWarning,
                stacklevel=2,
            )

    # ------------------------------------------------------------------ inputs
    def _open_dataset(
        self,
        path: str,
        labels_path: str,
        label_column: str | None,
        prob_columns: str | None,
        id_column: str | None,
    ) -> None:
        from labelaudit.io import shards

        kind, parts = shards.list_parts(path, "pred_probs", self.options)
        self.files[1] = PartsFile("pred_probs", path, parts, self.options)
        if kind == "npy":
            self._parts = shards.NpyShards(parts, "pred_probs", self.options, ndim=2)
        elif kind == "zarr":
            self._parts = shards.ZarrRows(parts[0], "pred_probs", self.options)
            if len(self._parts.shape) != 2:
                raise InputError(f"{path}: pred_probs must be 2-D (N, K), got shape {self._parts.shape}")
        else:
            ds = self._dataset = shards.ParquetDataset(parts, "pred_probs", self.options)
            head = self._head = ds.head()
            exclude = {id_column or "id", "index", label_column or "label"}
            if labels_path == path:
                exclude.add(label_column_of(head, label_column, path))
            self._cols = sources.pick_prob_columns(head, prob_columns, exclude, path)
            self.files[1].columns = list(self._cols)
            self.n, self.k, self.dtype = ds.n, len(self._cols), np.dtype(np.float64)
            return
        self.n, self.k, self.dtype = self._parts.n, self._parts.k, self._parts.dtype

    def _open_table(
        self,
        path: str,
        labels_path: str,
        label_column: str | None,
        prob_columns: str | None,
        id_column: str | None,
    ) -> None:
        import pandas as pd

        same = os.path.abspath(labels_path) == os.path.abspath(path)
        check_input_file(path, "pred_probs")
        head = self._head = sources.table_head(path, "pred_probs")
        exclude = {id_column or "id", "index", label_column or "label"}  # a label column is no class
        label_col = label_column_of(head, label_column, path) if same else None
        if label_col is not None:
            exclude.add(label_col)
        whole = functools.partial(sources.table_columns, path)
        self._cols = sources.pick_prob_columns(head, prob_columns, exclude, path, whole=whole)
        self.files[1].columns = list(self._cols)
        if self.class_names is None and label_col is not None:
            if not pd.api.types.is_numeric_dtype(head[label_col]):
                self.class_names = list(self._cols)
        self._table = path
        self.k = len(self._cols)
        self.dtype = np.dtype(np.float64)
        if label_col is not None and suffix_of(path) not in sources.PARQUET_KINDS:
            # one parse gives both the labels and N (a Parquet file's metadata holds N)
            self._label_table = sources.table_columns(path, [label_col])
            self.n = len(self._label_table)
        else:
            self.n = sources.table_rows(path, self._cols[0])

    def _dataset_labels(self, path: str, label_column: str | None) -> np.ndarray:
        """Labels from a dataset input (read whole: N integers, small next to pred_probs)."""
        from labelaudit.io import shards

        if self._dataset is not None and path == self.pred_probs_path:
            self.files[0] = PartsFile("labels", path, self._dataset.parts, self.options)
            return self._dataset.column(label_column_of(self._head, label_column, path))
        kind, parts = shards.list_parts(path, "labels", self.options)
        self.files[0] = PartsFile("labels", path, parts, self.options)
        if kind == "npy":
            return shards.NpyShards(parts, "labels", self.options, ndim=1).read_all()
        if kind == "zarr":
            z = shards.ZarrRows(parts[0], "labels", self.options)
            return z.read(0, z.n)
        ds = shards.ParquetDataset(parts, "labels", self.options)
        return ds.column(label_column_of(ds.head(), label_column, path))

    def _read_labels(self, path: str, label_column: str | None) -> np.ndarray | None:
        from labelaudit.core import check_labels
        from labelaudit.io import shards

        suffix = suffix_of(path)
        if shards.is_dataset(path):
            raw = self._dataset_labels(path, label_column)
        elif suffix in ARRAY_SUFFIXES:
            raw = read_npy(path, "labels")  # mapped: each block's slice is checked and copied by its worker
            if raw.ndim == 2 and raw.shape[1] == 1:
                raw = raw[:, 0]
            if raw.ndim == 1 and len(raw) == self.n and len(raw) and raw.dtype.kind in "iubf":
                if isinstance(raw, np.memmap) and path != sources.STDIN:
                    self._label_rows = LabelRows(path, self.n)
                    return None
        elif suffix in TABLE_SUFFIXES:
            check_input_file(path, "labels")
            same = self._table is not None and os.path.abspath(path) == os.path.abspath(self._table)
            head = self._head if same else sources.table_head(path, "labels")
            col = label_column_of(head, label_column, path)
            df = self._label_table if self._label_table is not None else sources.table_columns(path, [col])
            raw = label_values(df, col, path)
            self._find_ids(head, path)
        else:
            raise InputError(f"{path}: unsupported labels format ({FORMATS})")
        if raw.dtype.kind in "OUS":
            integers = integer_text_labels(label_strings(raw), self.class_names, path)
            if integers is not None:
                raw = integers
            elif self.class_names is None:
                raise InputError(
                    f"{path}: string labels need --class-names (or probability columns named by class) "
                    "when streaming"
                )
            else:
                raw, _ = labels_from_values(raw, self.class_names, path)
        if raw.ndim != 1:
            raise InputError(f"{path}: labels must be 1-D, got shape {raw.shape}")
        if len(raw) != self.n:
            raise InputError(
                f"{path}: {len(raw)} labels but {self.pred_probs_path} has {self.n} rows (N must match)"
            )
        try:
            return check_labels(raw, n_classes=self.k)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None

    # ------------------------------------------------------------------ passes
    def _raw_blocks(self) -> Iterator[tuple[int, int, Callable[[], Any], tuple[str, ...] | None]]:
        """(start, stop, read, column names or None) per block; `read` runs in a worker. .npy blocks, shards,
        Parquet row groups and Zarr chunks are read there too; CSV-like table chunks are parsed here,
        in order."""
        if self._npy is not None:
            if self._npy.sequential:  # a compressed member: decompressed here, in order
                for start, block in self._npy.blocks(self.rows):
                    yield start, start + len(block), functools.partial(_given, block), None
                return
            for start in range(0, self.n, self.rows):
                stop = min(self.n, start + self.rows)
                yield start, stop, functools.partial(self._npy.read, start, stop), None
            return
        if self._parts is not None:
            for start, stop, read in self._parts.chunks(self.rows):
                yield start, stop, read, None
            return
        cols = tuple(self._cols)
        if self._dataset is not None:
            for start, stop, group in self._dataset.chunks(list(cols)):
                yield start, stop, group.read, cols
            return
        if self._table is None:
            raise AssertionError("neither a .npy, a dataset nor a table")
        start = 0
        for chunk in sources.table_chunks(self._table, self._cols, self.rows):
            yield start, start + len(chunk[0]), functools.partial(_given, chunk), cols
            start += len(chunk[0])
        if start != self.n:
            raise InputError(f"{self._table}: table ended at row {start}, expected {self.n} rows")

    def tasks(self) -> Iterator[BlockTask]:
        """One pass: picklable tasks that each make one validated (start, labels_b, pred_probs_b) block,
        in row order (the engine runs them in its workers). The first complete pass checks every rule
        (each block's verdict comes back through `note`); later passes only repeat the clipping repair,
        if the first one needed it."""
        table_path = self._table or self.pred_probs_path
        policy = Policy(
            table_path, self.labels_path, self.k, self.from_logits, not self._checked, self._verdict.clip
        )
        for start, stop, read, cols in self._raw_blocks():
            yield BlockTask(start, stop, read, self._labels_for(start, stop), policy, cols)
        self._checked = True

    def _labels_for(self, start: int, stop: int) -> Any:
        """The block's labels (a view, pickled as just those rows), or the LabelRows reading them."""
        if self._label_rows is not None:
            return self._label_rows
        if self.labels is None:
            raise AssertionError("labels neither read whole nor mapped")
        return self.labels[start:stop]

    _checked = False
    _verdict = Verdict()


def driver_jobs(n_jobs: int | None, engine: Any) -> int:
    """Threads for the driver's own work on the kept per-row scalars (chunk statistics, the selection):
    --n-jobs, or as many as a local Dask cluster has worker threads, when more (those workers share this
    machine's cores and sit idle meanwhile). Never changes results, as --n-jobs never does."""
    from labelaudit.core.batching import resolve_n_jobs

    jobs = resolve_n_jobs(n_jobs)
    return max(jobs, getattr(engine, "local_threads", 0) or 0)


def stream_issues(
    command_name: str,
    labels: str,
    pred_probs: str,
    read: Any,
    detection: Any,
    listing: Any,
    *,
    progress: Callable[[int], Any] | None = None,
    n_jobs: int,
    batch_size: int | None,
    memory_limit: str | None = None,
    scores_out: str | None = None,
    batched_mode: tuple[str, int] | None = None,
    engine: Any = None,
    storage_options: str | None = None,
    out_dir: str | None = None,
):
    """Open the streamed source and run the engine (shared by batched and find-issues --low-memory):
    --exact unless `batched_mode` gives (estimation method, chunk size). With `scores_out`, the workers
    write each block's float64 scores there as they compute them (the file appears, atomically, only
    once every row is written). `progress(n)` makes the context manager that reports rows done.
    `engine` (engines.EngineSpec, local threads by default) says where the passes run; `storage_options`
    is the JSON text of fsspec options for URL inputs. `out_dir` (`-o DIR/`): the flagged rows as
    Parquet parts and summary.json, written by the engine's workers (io.shards.write_out_dir)."""
    import contextlib

    import numpy as np

    from labelaudit.core.issues import streamed_issues as report_of
    from labelaudit.core.stream import run_engine
    from labelaudit.engines import EngineSpec
    from labelaudit.io.shards import parse_storage_options
    from labelaudit.io.writers import NpyStreamWriter

    spec = engine if engine is not None else EngineSpec()
    spec.check()
    spec.prepare()
    if out_dir is not None:
        from labelaudit.io.shards import check_out_dir

        check_out_dir(out_dir)

    src = BlockSource(
        labels,
        pred_probs,
        label_column=read.label_column,
        prob_columns=read.prob_columns,
        class_names_path=read.class_names,
        id_column=read.id_column,
        from_logits=read.from_logits,
        rows=batch_size,
        memory_limit=memory_limit,
        storage_options=parse_storage_options(storage_options),
    )
    params = {"mode": "batched" if batched_mode else "exact", **detection(src.k).params(), "top": listing.top}
    params["estimation_method"], params["chunk_size"] = batched_mode or (None, None)
    if batched_mode:
        params["filter_by"] = None
    with spec.open(n_jobs) as runner:
        with contextlib.ExitStack() as stack:
            bar = stack.enter_context(progress(src.n)) if progress is not None else None
            sink = (
                stack.enter_context(NpyStreamWriter(scores_out, (src.n,), np.float64)).write_at
                if scores_out
                else None
            )
            ranked, info = run_engine(
                src.passes,
                src.n,
                src.k,
                src.dtype,
                params,
                n_jobs=driver_jobs(n_jobs, runner),
                progress=bar,
                scores_sink=sink,
                engine=runner,
            )
        src.warn_after_pass(info["counts"])
        report = report_of(
            command_name,
            ranked,
            info,
            params=params,
            n=src.n,
            k=src.k,
            listing=listing,
            class_names=src.class_names,
            ids_of=src.ids_of,
        )
        if out_dir is not None:
            from labelaudit.core.formats import document
            from labelaudit.io.shards import write_out_dir

            rows = report.file_table if report.file_table is not None else report.listing
            summary = document(report, [f.describe() for f in src.files])
            write_out_dir(out_dir, dict(rows), summary, runner.call_all)
    return src, report
