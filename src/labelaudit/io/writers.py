"""Atomic writers: every output goes to a temporary file in the target folder, then is renamed, so an
interrupted or failed run never leaves a partial file behind."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from labelaudit.errors import InputError

ROW_FORMATS = (".csv", ".tsv", ".parquet", ".json", ".jsonl")


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside `path`; on success rename it over `path`, on any error remove it."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{path}: output folder {str(folder)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; an output file gets the usual permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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


def write_npy(path: str, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)


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
    with atomic_path(path) as tmp:
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
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(document, f, default=_json_default, indent=1)
        f.write("\n")


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_report(path: str, command: str | None = None) -> dict:
    """An earlier `--format json` report, checked to be one (of `command`, when given)."""
    from labelaudit.io.readers import check_input_file

    check_input_file(path, "baseline")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: baseline is not a readable JSON report: {exc}") from None
    if (
        command is not None
        and isinstance(doc, dict)
        and isinstance(doc.get("command"), str)
        and doc["command"] != command
    ):
        raise InputError(f"{path}: baseline comes from '{doc['command']}', not '{command}'")
    missing = [
        k
        for k in ("command", "params", "n_classes", "issues", "n_issues")
        if not isinstance(doc, dict) or k not in doc
    ]
    if missing:
        raise InputError(
            f"{path}: baseline is not a labelaudit --format json report (missing {', '.join(missing)})"
        )
    return doc


class NpyStreamWriter:
    """Write a .npy of known shape block by block with plain writes (no mapping, so written pages never
    count toward the resident set); atomic: the file appears only when every row was written.

    `write` appends; `write_at` writes rows at their position and may be called from several threads
    (each block once), so workers can stream their results straight to the file."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype):
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        self._row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        self._ctx = atomic_path(path)
        self._rows = 0
        self._lock = threading.Lock()

    def __enter__(self) -> NpyStreamWriter:
        self._tmp = self._ctx.__enter__()
        self._f = open(self._tmp, "wb")
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": self.shape,
        }
        np.lib.format.write_array_header_1_0(self._f, header)  # the version np.save writes
        self._f.flush()
        self._data_at = self._f.tell()
        return self

    def write(self, block: np.ndarray) -> None:
        self._f.write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())
        self._rows += len(block)

    def write_at(self, start: int, block: np.ndarray) -> None:
        data = memoryview(np.ascontiguousarray(block, dtype=self.dtype)).cast("B")
        offset, done = self._data_at + start * self._row_bytes, 0
        while done < len(data):
            done += os.pwrite(self._f.fileno(), data[done:], offset + done)
        with self._lock:
            self._rows += len(block)

    def __exit__(self, exc_type, exc, tb):
        self._f.close()
        if exc_type is None and self._rows != self.shape[0]:
            short = InputError(f"{self.path}: wrote {self._rows} of {self.shape[0]} rows")
            self._ctx.__exit__(InputError, short, None)  # removes the temporary file
            raise short
        return self._ctx.__exit__(exc_type, exc, tb)
