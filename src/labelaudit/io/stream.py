"""Streamed inputs for `labelaudit batched` and `find-issues --low-memory`.

A BlockSource yields, once per pass and in row order, callables that each read and check one
(start, labels_b, pred_probs_b) block: the engine runs them in its workers.
pred_probs in `.npy` are read with positional reads into a reused buffer per worker (nothing stays
mapped, so file pages do not pile up in the resident set, and no block pays fresh page faults);
`.parquet` is read by record batches and `.csv`/`.tsv` by chunks.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from labelaudit.core.checks import Verdict, check_prob_shape
from labelaudit.errors import InputError, LabelauditWarning
from labelaudit.io.readers import (
    TABLE_SUFFIXES,
    InputFile,
    check_class_names,
    check_input_file,
    label_column_of,
    labels_from_values,
    read_class_names,
    read_npy,
    resolve_prob_columns,
    softmax,
)

if TYPE_CHECKING:
    import pandas as pd

    from labelaudit.core.stream import Block

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


def parse_memory(text: str) -> int:
    """'512MB', '2G', '1048576' -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B?)\s*", text.upper())
    if not m:
        raise InputError(f"--memory-limit must look like 512MB or 2GB, got {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def block_rows(n_classes: int, itemsize: int, memory_limit: int | None, batch_size: int | None) -> int:
    """Rows per block: --batch-size if given, else what fits the memory limit with room for the kernels'
    temporaries (about eight copies of a block), capped where larger blocks stop paying off."""
    if batch_size is not None:
        return max(1, int(batch_size))
    budget = memory_limit if memory_limit is not None else 512 << 20
    return int(max(1, min(budget // (8 * n_classes * max(itemsize, 4)), (1 << 21) // n_classes)))


class NpyRows:
    """Row blocks of a 2-D C-order .npy file, read positionally into reused buffers: no mapping, no page
    pile-up."""

    def __init__(self, path: str, role: str = "pred_probs"):
        check_input_file(path, role)
        self.path = path
        self._local = threading.local()
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                self.offset = f.tell()
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path}: unreadable .npy file: {exc}") from None
        if len(shape) != 2:
            raise InputError(f"{path}: {role} must be 2-D (N, K), got shape {shape}")
        if fortran:
            raise InputError(f"{path}: Fortran-ordered .npy cannot be streamed by rows; save it in C order")
        self.n, self.k = int(shape[0]), int(shape[1])
        self.dtype = np.dtype(dtype)
        self.row_bytes = self.k * self.dtype.itemsize
        available = (os.path.getsize(path) - self.offset) // max(1, self.row_bytes)
        if available < self.n:
            raise InputError(
                f"{path}: truncated .npy file: the header promises {self.n} rows but data ends at row {available}"
            )

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) in this thread's reused buffer: valid until the thread's next read, so a
        block is consumed (its results copied out) before the same worker reads the next. Reusing the
        buffer spares the page faults of a fresh allocation per block, about half the cost of a read."""
        rows = stop - start
        buf = getattr(self._local, "buf", None)
        if buf is None or len(buf) < rows:
            buf = self._local.buf = np.empty((rows, self.k), dtype=self.dtype)
        out = buf[:rows]
        view = out.reshape(-1).view(np.uint8).data  # a memoryview of the block's bytes
        offset, done = self.offset + start * self.row_bytes, 0
        with open(self.path, "rb", buffering=0) as f:
            if not _PREADV:
                f.seek(offset)
            while done < len(view):
                rest = view[done:]
                got = os.preadv(f.fileno(), [rest], offset + done) if _PREADV else f.readinto(rest)
                if not got:
                    row = start + done // self.row_bytes
                    raise InputError(
                        f"{self.path}: truncated while reading: data ends at row {row} of {self.n}"
                    )
                done += got
        return out


class BlockSource:
    """Validated row blocks of (labels, pred_probs), one iterator per pass."""

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
        memory_limit: int | None = None,
    ):
        self.labels_path, self.pred_probs_path = labels_path, pred_probs_path
        self.from_logits = from_logits
        self.files = [InputFile("labels", labels_path), InputFile("pred_probs", pred_probs_path)]
        self.class_names = read_class_names(class_names_path) if class_names_path else None
        self.ids = None
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        suffix = Path(pred_probs_path).suffix.lower()
        self._npy: NpyRows | None
        self._table: str | None
        if suffix == ".npy":
            self._npy = NpyRows(pred_probs_path)
            self.n, self.k, self.dtype = self._npy.n, self._npy.k, self._npy.dtype
            self._table = None
        elif suffix in TABLE_SUFFIXES:
            self._npy = None
            self._open_table(pred_probs_path, labels_path, label_column, prob_columns, id_column)
        else:
            raise InputError(
                f"{pred_probs_path}: unsupported pred_probs format (use .npy, .csv, .tsv or .parquet)"
            )
        check_prob_shape(self.n, self.k, self.dtype, source=pred_probs_path)
        check_class_names(self.class_names, self.k, class_names_path or pred_probs_path)
        if from_logits:
            self.dtype = np.dtype(np.float64)
        # a .npy of labels: read and checked block by block, in the workers
        self._raw_labels: np.ndarray | None = None
        self.labels = self._read_labels(labels_path, label_column)
        self.rows = block_rows(self.k, self.dtype.itemsize, memory_limit, rows)

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
        head = self._table_head(path)
        exclude = {id_column or "id", "index"}
        if same:
            exclude.add(label_column_of(head, label_column, path))
        self._cols = resolve_prob_columns(head, prob_columns, exclude, path)
        if self.class_names is None and same:
            col = label_column_of(head, label_column, path)
            if not pd.api.types.is_numeric_dtype(head[col]):
                self.class_names = list(self._cols)
        self._table = path
        self.k = len(self._cols)
        self.dtype = np.dtype(np.float64)
        self.n = self._count_rows(path)

    @staticmethod
    def _table_head(path: str) -> pd.DataFrame:
        import pandas as pd

        check_input_file(path, "pred_probs")
        try:
            if Path(path).suffix.lower() in (".parquet", ".pq"):
                import pyarrow.parquet as pq

                pf = pq.ParquetFile(path)
                return next(pf.iter_batches(batch_size=1000)).to_pandas()
            return pd.read_csv(path, sep="\t" if path.lower().endswith(".tsv") else ",", nrows=1000)
        except (OSError, ValueError, StopIteration) as exc:
            raise InputError(f"{path}: unreadable table: {exc}") from None

    @staticmethod
    def _count_rows(path: str) -> int:
        if Path(path).suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        with open(path, "rb") as f:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))
            f.seek(-1, os.SEEK_END)
            last_newline = f.read(1) == b"\n"
        return lines - 1 + (0 if last_newline else 1)

    def _read_labels(self, path: str, label_column: str | None) -> np.ndarray | None:
        from labelaudit.core import check_labels

        suffix = Path(path).suffix.lower()
        if suffix == ".npy":
            raw = read_npy(path, "labels")  # mapped: each block's slice is checked and copied by its worker
            if raw.ndim == 2 and raw.shape[1] == 1:
                raw = raw[:, 0]
            if raw.ndim == 1 and len(raw) == self.n and len(raw) and raw.dtype.kind in "iubf":
                self._raw_labels = raw
                return None
        elif suffix in TABLE_SUFFIXES:
            import pandas as pd

            check_input_file(path, "labels")
            if suffix in (".parquet", ".pq"):
                head = self._table_head(path)
                col = label_column_of(head, label_column, path)
                df = pd.read_parquet(path, columns=[col])
            else:
                head = self._table_head(path)
                col = label_column_of(head, label_column, path)
                df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", usecols=[col])
            if df[col].isna().any():
                raise InputError(f"{path}: missing label at row {int(np.argmax(df[col].isna().to_numpy()))}")
            raw = df[col].to_numpy()
            if raw.dtype.kind in "OUS":
                if self.class_names is None:
                    raise InputError(
                        f"{path}: string labels need --class-names (or probability columns named by class) "
                        "when streaming"
                    )
                raw, _ = labels_from_values(raw, self.class_names, path)
        else:
            raise InputError(f"{path}: unsupported labels format (use .npy, .csv, .tsv or .parquet)")
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
    def _raw_blocks(self) -> Iterator[tuple[int, Callable[[], np.ndarray]]]:
        """(start, read) per block; `read` runs in a worker. .npy blocks are read there too (pread is
        positional, so workers read side by side); table chunks are parsed here, in order."""
        if self._npy is not None:
            for start in range(0, self.n, self.rows):
                yield start, functools.partial(self._npy.read, start, min(self.n, start + self.rows))
            return
        start = 0
        for chunk in self._table_chunks():
            yield start, functools.partial(self._table_block, chunk)
            start += len(chunk[0])
        if start != self.n:
            raise InputError(f"{self._table}: table ended at row {start}, expected {self.n} rows")

    def _table_chunks(self) -> Iterator[list[np.ndarray]]:
        path = self._table
        if path is None:
            raise AssertionError("table chunks of a .npy source")
        try:
            if Path(path).suffix.lower() in (".parquet", ".pq"):
                import pyarrow.parquet as pq

                for batch in pq.ParquetFile(path).iter_batches(batch_size=self.rows, columns=self._cols):
                    yield [batch.column(c).to_numpy(zero_copy_only=False) for c in self._cols]
            else:
                import pandas as pd

                sep = "\t" if path.lower().endswith(".tsv") else ","
                for df in pd.read_csv(path, sep=sep, usecols=self._cols, chunksize=self.rows):
                    yield [df[c].to_numpy() for c in self._cols]
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: unreadable table: {exc}") from None

    def _table_block(self, columns: list[np.ndarray]) -> np.ndarray:
        try:
            return np.column_stack(columns).astype(np.float64, copy=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{self._table}: unreadable table: {exc}") from None

    def passes(self) -> Iterator[Callable[[], tuple[int, np.ndarray, np.ndarray]]]:
        """One pass: callables that each make one validated (start, labels_b, pred_probs_b) block, in row
        order (the engine runs them in its workers). The first complete pass checks every rule; later
        passes only repeat the clipping repair, if the first one needed it."""
        checked = self._checked
        for start, read in self._raw_blocks():
            yield functools.partial(self._block, start, read, checked)
        self._checked = True

    def _block(self, start: int, read: Callable[[], np.ndarray], checked: bool) -> Block:
        block = read()
        if self.from_logits:
            block = softmax(block)
        if not checked:
            block = self._check(block, start)
        elif self._clip:
            block = np.clip(block, 0, 1)
        return start, self._labels_of(start, start + len(block)), block

    def _labels_of(self, start: int, stop: int) -> np.ndarray:
        raw = self._raw_labels
        if raw is None:
            if self.labels is None:
                raise AssertionError("labels neither read whole nor mapped")
            return self.labels[start:stop]
        from labelaudit.core import check_labels

        try:
            return check_labels(raw[start:stop], n_classes=self.k)
        except InputError:
            try:  # report as for the whole file (how many labels are wrong, the first row)
                check_labels(raw, n_classes=self.k)
            except InputError as exc:
                raise InputError(f"{self.labels_path}: {exc}") from None
            raise

    _checked = False
    _clip = False
    _verdict = Verdict()

    def _check(self, block: np.ndarray, start: int) -> np.ndarray:
        """The shared value policy on one block (rows numbered in the whole file)."""
        from labelaudit.core.checks import block_stats, judge_values, prefixed

        try:
            verdict = judge_values(block, block_stats(block), from_logits=self.from_logits, offset=start)
        except InputError as exc:
            raise prefixed(self.pred_probs_path, exc) from None
        with self._lock:  # blocks are checked in worker threads
            self._verdict = self._verdict.merge(verdict)
        if verdict.clip:
            self._clip = True
            block = np.clip(block, 0, 1)
        return block


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
):
    """Open the streamed source and run the engine (shared by batched and find-issues --low-memory):
    --exact unless `batched_mode` gives (estimation method, chunk size). With `scores_out`, the workers
    write each block's float64 scores there as they compute them (the file appears, atomically, only
    once every row is written). `progress(n)` makes the context manager that reports rows done."""
    import contextlib

    import numpy as np

    from labelaudit.core.issues import streamed_issues as report_of
    from labelaudit.core.stream import run_engine
    from labelaudit.io.writers import NpyStreamWriter

    limit = parse_memory(memory_limit) if memory_limit is not None else None
    src = BlockSource(
        labels,
        pred_probs,
        label_column=read.label_column,
        prob_columns=read.prob_columns,
        class_names_path=read.class_names,
        id_column=read.id_column,
        from_logits=read.from_logits,
        rows=batch_size,
        memory_limit=limit,
    )
    params = {"mode": "batched" if batched_mode else "exact", **detection(src.k).params(), "top": listing.top}
    params["estimation_method"], params["chunk_size"] = batched_mode or (None, None)
    if batched_mode:
        params["filter_by"] = None
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(progress(src.n)) if progress is not None else None
        sink = (
            stack.enter_context(NpyStreamWriter(scores_out, (src.n,), np.float64)).write_at
            if scores_out
            else None
        )
        ranked, info = run_engine(
            src.passes, src.n, src.k, src.dtype, params, n_jobs=n_jobs, progress=bar, scores_sink=sink
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
    )
    return src, report
