"""Atomic writers: every output goes to a temporary file in the target folder, then is renamed, so an
interrupted or failed run never leaves a partial file behind.

Inside a run (`outputs.publish_together`, which the CLI enters around every command) the renames wait
until the run has written all its outputs: they are published together, or none is. A replaced file keeps
its permission bits; a write that fails (disk full, file too large) is an InputError naming the output."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from labelaudit.errors import InputError
from labelaudit.io import outputs

if TYPE_CHECKING:
    from labelaudit.core.batching import Progress
    from labelaudit.core.simulate import Simulation

ROW_FORMATS = (".csv", ".tsv", ".parquet", ".json", ".jsonl")
# Errors that only a write can cause: named as the output's, whoever raised them.
WRITE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _write_error(path: str, exc: OSError) -> InputError:
    return InputError(f"{path}: cannot write the output: {exc.strerror or exc}")


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside `path`; on success rename it over `path` (inside a run: when the
    whole run has succeeded), on any error remove it."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise InputError(f"{path}: output folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise InputError(f"{path}: output path is a directory, not a file")
    try:
        tmp = outputs.make_temp(path)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot write to the output folder {folder!r}: {exc.strerror or exc}"
        ) from None
    try:
        yield tmp
    except OSError as exc:
        outputs.remove_temp(tmp)
        if exc.errno in WRITE_ERRNOS:
            raise _write_error(path, exc) from None
        raise
    except BaseException:
        outputs.remove_temp(tmp)
        raise
    run = outputs.current()
    if run is not None:
        run.add(tmp, path)
    else:
        outputs.publish(tmp, path)


@contextlib.contextmanager
def _writing(path: str) -> Iterator[None]:
    """Inside, an OSError is a failed write of output `path` (the body only writes)."""
    try:
        yield
    except OSError as exc:
        raise _write_error(path, exc) from None


def check_output_path(path: str, allowed: tuple[str, ...]) -> None:
    """Fail before any work when the output suffix or folder is wrong."""
    if path == "-":
        return
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise InputError(
            f"{path}: unsupported output format {suffix or '(none)'!r}; use one of {', '.join(allowed)}"
        )
    folder = Path(path).parent
    if str(folder) and not folder.is_dir():
        raise InputError(f"{path}: output folder {str(folder)!r} does not exist")


NPY_CHUNK = 1 << 24  # bytes per write call of a .npy output's data


def write_npy(path: str, array: np.ndarray) -> None:
    """np.save's bytes (the version 1.0 header), written by plain write calls in slices of the array's own
    buffer: np.save would either hand a real file to C stdio, whose failed write loses its errno ("1200
    requested and 496 written", so a full disk would not say so), or copy the whole array into one bytes
    object for any other file."""
    a = np.ascontiguousarray(array)  # our outputs are C-ordered already: no copy
    fmt = np.lib.format
    with atomic_path(path) as tmp, _writing(path), open(tmp, "wb") as f:
        fmt.write_array_header_1_0(f, fmt.header_data_from_array_1_0(a))
        data = a.data.cast("B") if a.size else memoryview(b"")
        for start in range(0, len(data), NPY_CHUNK):
            f.write(data[start : start + NPY_CHUNK])


def _frame(columns: dict):
    import pandas as pd

    return pd.DataFrame(columns)


def write_rows(path: str, columns: dict, fmt: str | None = None) -> None:
    """Write per-example rows (a dict of equal-length columns) as csv/tsv/parquet/json/jsonl, or to
    stdout when path is '-' (csv, or JSON lines when fmt == 'json')."""
    if path == "-":
        df = _frame(columns)
        if fmt == "json":
            _json_lines(sys.stdout, df)
        else:
            df.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
        return
    suffix = Path(path).suffix.lower()
    df = _frame(columns)
    with atomic_path(path) as tmp, _writing(path):
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif suffix == ".tsv":
            df.to_csv(tmp, index=False, sep="\t")
        elif suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        elif suffix == ".json":
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(df.to_dict(orient="records"), f, default=_json_default)
                f.write("\n")
        elif suffix == ".jsonl":
            with open(tmp, "w", encoding="utf-8") as f:
                _json_lines(f, df)
        else:
            raise InputError(f"{path}: unsupported output format {suffix!r}")


def _json_lines(f, df) -> None:
    # json writes floats in their shortest exact form; pandas' to_json keeps only 10 digits.
    for record in df.to_dict(orient="records"):
        f.write(json.dumps(record, default=_json_default) + "\n")


def write_json(path: str, document: dict) -> None:
    with atomic_path(path) as tmp, _writing(path), open(tmp, "w", encoding="utf-8") as f:
        json.dump(document, f, default=_json_default, indent=1)
        f.write("\n")


def write_text(path: str, text: str) -> None:
    """A text output (an HTML report) in UTF-8, atomically."""
    with atomic_path(path) as tmp, _writing(path), open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_report(path: str, command: str | None = None) -> dict:
    """An earlier `--format json` report, checked to be one (of `command`, when given): every rule it
    breaks is an InputError naming the file, the rule and the value."""
    from labelaudit.core.baseline import report_problem
    from labelaudit.io.readers import check_input_file

    check_input_file(path, "baseline")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InputError(f"{path}: baseline file cannot be read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: baseline is not UTF-8 text; byte 0x{data[exc.start]:02x} at offset {exc.start} is not "
            "valid UTF-8"
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: baseline is not valid JSON; {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:  # a number too long to convert, nesting too deep
        raise InputError(f"{path}: baseline is not valid JSON; {exc}") from None
    problem = report_problem(doc, command)
    if problem is not None:
        raise InputError(f"{path}: {problem}")
    return doc


class NpyStreamWriter:
    """Write a .npy of known shape block by block with plain writes (no mapping, so written pages never
    count toward the resident set); atomic: the file appears only when every row was written (inside a
    run: with the run's other outputs).

    `write` appends; `write_at` writes rows at their position and may be called from several threads
    (each block once), so workers can stream their results straight to the file. The file is closed only
    once no `write_at` is in progress, and a late one (a worker still running while an interrupt unwinds
    the run) writes nothing, so a closed descriptor's number is never written through."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype):
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        self._row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        self._ctx = atomic_path(path)
        self._rows = 0
        self._cond = threading.Condition()
        self._writers = 0
        self._closed = False

    def __enter__(self) -> NpyStreamWriter:
        self._tmp = self._ctx.__enter__()
        try:
            with _writing(self.path):
                self._f = open(self._tmp, "wb")
                header = {
                    "descr": np.lib.format.dtype_to_descr(self.dtype),
                    "fortran_order": False,
                    "shape": self.shape,
                }
                np.lib.format.write_array_header_1_0(self._f, header)  # the version np.save writes
                self._f.flush()
                self._data_at = self._f.tell()
        except BaseException as exc:
            if hasattr(self, "_f"):
                self._f.close()
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def write(self, block: np.ndarray) -> None:
        with _writing(self.path):
            self._f.write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())
        self._rows += len(block)

    def write_at(self, start: int, block: np.ndarray) -> None:
        data = np.ascontiguousarray(block, dtype=self.dtype).data.cast("B")
        offset, done = self._data_at + start * self._row_bytes, 0
        with self._cond:
            if self._closed:
                return
            self._writers += 1
        try:
            with _writing(self.path):
                while done < len(data):
                    done += os.pwrite(self._f.fileno(), data[done:], offset + done)
        finally:
            with self._cond:
                self._writers -= 1
                self._cond.notify_all()
        with self._cond:
            self._rows += len(block)

    def __exit__(self, exc_type, exc, tb):
        with self._cond:
            self._closed = True
            while self._writers:
                self._cond.wait()
        try:
            with _writing(self.path):
                self._f.close()
        except InputError as close_error:
            if exc_type is None:
                self._ctx.__exit__(InputError, close_error, None)
                raise
        if exc_type is None and self._rows != self.shape[0]:
            short = InputError(f"{self.path}: wrote {self._rows} of {self.shape[0]} rows")
            self._ctx.__exit__(InputError, short, None)  # removes the temporary file
            raise short
        return self._ctx.__exit__(exc_type, exc, tb)


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if nbytes < 1024 or unit == "PB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return ""  # not reached


def check_simulation_room(out_dir: str, n: int, k: int, dtype: str) -> None:
    """Refuse, before anything is drawn, a simulation whose files would not fit in `out_dir`'s free space
    (pred_probs N x K, three label and prior/noise-matrix files)."""
    import shutil

    need = n * k * np.dtype(dtype).itemsize + 16 * n + 8 * (k * k + k)
    try:
        free = shutil.disk_usage(out_dir).free
    except OSError:
        return
    if need > free:
        raise InputError(
            f"{out_dir}: simulate would write {_size(need)} (--n {n} x --k {k}, {dtype}); the folder has "
            f"{_size(free)} free"
        )


def write_simulation(
    out_dir: str, sim: Simulation, sharpness: float, dtype: str, rows: int, progress: Progress | None = None
) -> None:
    """simulate's files in `out_dir`: pred_probs.npy drawn and written in blocks of `rows` rows (each
    block's rows reported to `progress` once written), then the labels, true labels, noise matrix and
    prior."""
    path = functools.partial(os.path.join, out_dir)
    with NpyStreamWriter(path("pred_probs.npy"), (len(sim.labels), len(sim.prior)), dtype) as w:
        for block in sim.pred_probs_blocks(sharpness, dtype, rows):
            w.write(block)
            if progress is not None:
                progress("writing pred_probs", len(block))
    write_npy(path("labels.npy"), sim.labels.astype(np.int64))
    write_npy(path("true_labels.npy"), sim.true_labels.astype(np.int64))
    write_npy(path("noise_matrix.npy"), sim.noise_matrix)
    write_npy(path("prior.npy"), sim.prior)
