"""Inputs in many parts, for `labelaudit batched`: a glob or folder of `.npy` shards, a Parquet dataset
(folder or glob), a Zarr array; local paths or fsspec URLs (`s3://`, `gs://`, `file://`) with
storage options.

A reader here is small and picklable: it holds the parts' names and row offsets, never rows, so a
cluster engine ships it to the workers and each worker reads its own chunks (the client reads only
headers and metadata). Row order is the sorted part names; chunks never straddle two parts, and a
Parquet dataset's chunks are its row groups. Every error names the part (shard, file, row group).
"""

from __future__ import annotations

import functools
import glob as globlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from labelaudit.errors import InputError
from labelaudit.io import sources

GLOB_CHARS = "*?["
KINDS = ("npy", "parquet", "zarr")


def parse_storage_options(text: str | None) -> dict | None:
    """--storage-options: a JSON object (fsspec keyword arguments), or None."""
    if text is None:
        return None
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--storage-options must be a JSON object, got {text!r}: {exc}") from None
    if not isinstance(value, dict):
        raise InputError(f"--storage-options must be a JSON object, got {text!r}")
    return value


def is_url(path: str) -> bool:
    return "://" in path


def is_dataset(path: str) -> bool:
    """Whether `path` names parts rather than one file: a glob, a folder, a `.zarr` store or a URL."""
    if path == sources.STDIN:
        return False
    if any(ch in path for ch in GLOB_CHARS) or is_url(path):
        return True
    return path.rstrip("/").endswith(".zarr") or os.path.isdir(path)


def _fs(path: str, options: dict | None) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:
        raise InputError(f"{path}: URLs need fsspec; install labelaudit[dask]") from None
    try:
        return fsspec.core.url_to_fs(path, **(options or {}))
    except (ValueError, ImportError, OSError) as exc:
        raise InputError(f"{path}: cannot open this URL's file system: {exc}") from None


def _open(path: str, options: dict | None) -> Any:
    """A binary file object for a local path or a URL."""
    if is_url(path):
        fs, p = _fs(path, options)
        return fs.open(p, "rb")
    return open(path, "rb")


def list_parts(path: str, role: str, options: dict | None = None) -> tuple[str, list[str]]:
    """(kind, sorted part paths) of a dataset input; a folder holds `.npy` or `.parquet` parts (not
    both), a `.zarr` path (or a folder with zarr.json / .zarray) is one Zarr array."""
    url = is_url(path)
    fs, root = _fs(path, options) if url else (None, path)
    if root.rstrip("/").endswith(".zarr") or _has_zarr_meta(fs, root):
        return "zarr", [path]
    if any(ch in root for ch in GLOB_CHARS):
        found = sorted(fs.glob(root) if fs is not None else globlib.glob(root))
    elif (fs.isdir(root) if fs is not None else os.path.isdir(root)) or not url:
        if fs is None and not os.path.isdir(root):
            raise InputError(f"{path}: {role} folder not found")
        entries = (
            fs.ls(root, detail=False) if fs is not None else [os.path.join(root, e) for e in os.listdir(root)]
        )
        found = sorted(e for e in entries if e.lower().endswith((".npy", ".parquet", ".pq")))
    else:
        found = [root]
    if not found:
        raise InputError(f"{path}: no {role} shards match (a .npy or .parquet file, a folder or a glob)")
    kinds = {".npy" if p.lower().endswith(".npy") else ".parquet" for p in found}
    bad = [p for p in found if not p.lower().endswith((".npy", ".parquet", ".pq"))]
    if bad:
        raise InputError(f"{bad[0]}: {role} shard is neither .npy nor .parquet")
    if len(kinds) > 1:
        raise InputError(f"{path}: {role} shards mix .npy and .parquet files; use one format")
    if url:
        protocol = path.split("://", 1)[0]
        found = [p if is_url(p) else f"{protocol}://{p}" for p in found]
    return ("npy" if kinds == {".npy"} else "parquet"), found


def _has_zarr_meta(fs: Any, root: str) -> bool:
    names = ("zarr.json", ".zarray")
    if fs is not None:
        return any(fs.exists(f"{root.rstrip('/')}/{n}") for n in names)
    return os.path.isdir(root) and any(os.path.exists(os.path.join(root, n)) for n in names)


# ---------------------------------------------------------------------------- .npy shards


class NpyShard:
    """One `.npy` shard read by positional reads (seek + readinto on any file system)."""

    def __init__(self, path: str, role: str, options: dict | None) -> None:
        self.path, self.options = path, options
        if not is_url(path):
            from labelaudit.io.readers import check_input_file

            check_input_file(path, f"{role} shard")
        try:
            with _open(path, options) as f:
                shape, fortran, dtype, header = sources.parse_npy_header(f, path)
        except FileNotFoundError:
            raise InputError(f"{path}: {role} shard not found") from None
        except OSError as exc:
            raise InputError(f"{path}: {role} shard cannot be read: {exc}") from None
        if fortran and len(shape) == 2 and shape[1] > 1:
            raise InputError(f"{path}: {role} shard is in Fortran (column) order; save shards in C order")
        self.shape, self.dtype, self.offset = tuple(shape), np.dtype(dtype), header
        self.n = int(shape[0]) if shape else 0
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * self.dtype.itemsize
        size = _size(path, options)
        if size < header + self.n * self.row_bytes:
            have = (size - header) // max(1, self.row_bytes)
            raise InputError(
                f"{path}: truncated .npy shard: the header promises {self.n} rows, data ends at row {have}"
            )

    def read(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        view = out.reshape(-1).view(np.uint8).data
        try:
            with _open(self.path, self.options) as f:
                f.seek(self.offset + start * self.row_bytes)
                done = 0
                while done < len(view):
                    got = f.readinto(view[done:])
                    if not got:
                        raise InputError(
                            f"{self.path}: truncated .npy shard: data ends at row {start + done // self.row_bytes}"
                        )
                    done += got
        except FileNotFoundError:
            raise InputError(f"{self.path}: shard not found (removed while reading)") from None
        except OSError as exc:
            raise InputError(f"{self.path}: shard cannot be read: {exc}") from None
        return out


def _size(path: str, options: dict | None) -> int:
    if is_url(path):
        fs, p = _fs(path, options)
        return int(fs.size(p))
    return os.path.getsize(path)


class NpyShards:
    """Sharded `.npy` rows: (N_i, K) shards of one dtype (or 1-D for labels), concatenated in name order."""

    def __init__(self, parts: list[str], role: str, options: dict | None, ndim: int) -> None:
        self.shards = [NpyShard(p, role, options) for p in parts]
        first = self.shards[0]
        for s in self.shards:
            if len(s.shape) != ndim:
                raise InputError(f"{s.path}: {role} shard must be {ndim}-D, got shape {s.shape}")
            if s.shape[1:] != first.shape[1:] or s.dtype != first.dtype:
                raise InputError(
                    f"{s.path}: {role} shard has shape {s.shape} and dtype {s.dtype}; the first shard "
                    f"{first.path} has {first.shape} and {first.dtype} (all shards must agree but in rows)"
                )
        self.starts = np.cumsum([0] + [s.n for s in self.shards])
        self.n = int(self.starts[-1])
        self.k = int(first.shape[1]) if ndim == 2 else 0
        self.dtype = first.dtype

    def chunks(self, rows: int) -> Iterator[tuple[int, int, Any]]:
        """(first row, end row, read) per chunk of at most `rows` rows, never across two shards."""
        for shard, base in zip(self.shards, self.starts.tolist(), strict=False):
            for s in range(0, shard.n, rows):
                e = min(shard.n, s + rows)
                yield base + s, base + e, functools.partial(shard.read, s, e)

    def read_all(self) -> np.ndarray:
        return np.concatenate([s.read(0, s.n) for s in self.shards]) if self.shards else np.empty(0)


# ---------------------------------------------------------------------------- Parquet datasets


class ParquetGroup:
    """One row group of one Parquet file of a dataset, read in the worker with pyarrow."""

    def __init__(self, path: str, group: int, columns: list[str], options: dict | None) -> None:
        self.path, self.group, self.columns, self.options = path, group, columns, options

    def read(self) -> list[np.ndarray]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            with _open(self.path, self.options) as f:
                table = pq.ParquetFile(f).read_row_group(self.group, columns=self.columns)
        except FileNotFoundError:
            raise InputError(f"{self.path}: Parquet part not found (removed while reading)") from None
        except (OSError, pa.ArrowException) as exc:
            raise InputError(
                f"{self.path}: unreadable Parquet part (row group {self.group}): {exc}"
            ) from None
        return [table.column(c).to_numpy(zero_copy_only=False) for c in self.columns]


class ParquetDataset:
    """A Parquet dataset: files in name order, each file's row groups in order; chunks are row groups."""

    def __init__(self, parts: list[str], role: str, options: dict | None) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.parts, self.options = parts, options
        self.groups: list[tuple[str, int, int]] = []  # (path, row group, rows)
        self.schema = None
        for p in parts:
            try:
                with _open(p, options) as f:
                    meta = pq.ParquetFile(f).metadata
                    schema = meta.schema.to_arrow_schema()
            except FileNotFoundError:
                raise InputError(f"{p}: {role} Parquet part not found") from None
            except (OSError, pa.ArrowException) as exc:
                raise InputError(f"{p}: unreadable {role} Parquet part: {exc}") from None
            if self.schema is None:
                self.schema = schema
            elif schema.names != self.schema.names:
                raise InputError(
                    f"{p}: Parquet part has columns {schema.names}; the first part {parts[0]} has "
                    f"{self.schema.names} (all parts must have the same columns)"
                )
            self.groups += [(p, g, meta.row_group(g).num_rows) for g in range(meta.num_row_groups)]
        self.n = sum(r for *_, r in self.groups)

    def head(self, rows: int = 1000) -> Any:
        """The first rows of the first non-empty row group, as pandas (to pick the columns)."""
        path, g, _ = next(((p, g, r) for p, g, r in self.groups if r), self.groups[0])
        import pyarrow.parquet as pq

        with _open(path, self.options) as f:
            return pq.ParquetFile(f).read_row_group(g).slice(0, rows).to_pandas()

    def chunks(self, columns: list[str]) -> Iterator[tuple[int, int, ParquetGroup]]:
        start = 0
        for path, g, rows in self.groups:
            if rows:
                yield start, start + rows, ParquetGroup(path, g, columns, self.options)
            start += rows

    def column(self, name: str) -> np.ndarray:
        """One column of every row, in order (labels: small next to the probabilities)."""
        parts = [ParquetGroup(p, g, [name], self.options).read()[0] for p, g, r in self.groups if r]
        return np.concatenate(parts) if parts else np.empty(0)


# ---------------------------------------------------------------------------- Zarr


_ZARR_CACHE: dict[tuple[str, str], Any] = {}


def _zarr() -> Any:
    try:
        import zarr
    except ImportError:
        raise InputError("Zarr inputs need zarr; install labelaudit[zarr]") from None
    return zarr


class ZarrRows:
    """A 2-D (N, K) or 1-D (N,) Zarr array; chunks are whole multiples of its own row chunks."""

    def __init__(self, path: str, role: str, options: dict | None) -> None:
        self.path, self.options = path, options
        arr = self._array()
        self.shape, self.dtype = tuple(arr.shape), np.dtype(arr.dtype)
        self.n = int(self.shape[0]) if self.shape else 0
        self.k = int(self.shape[1]) if len(self.shape) == 2 else 0
        self.chunk_rows = int(arr.chunks[0]) if arr.chunks else max(1, self.n)

    def _array(self) -> Any:
        key = (self.path, repr(sorted((self.options or {}).items())))
        arr = _ZARR_CACHE.get(key)
        if arr is None:
            zarr = _zarr()
            try:
                kw = {"storage_options": self.options} if is_url(self.path) and self.options else {}
                arr = zarr.open_array(self.path, mode="r", **kw)
            except FileNotFoundError:
                raise InputError(f"{self.path}: Zarr array not found") from None
            except Exception as exc:  # zarr raises many kinds for a store that is not an array
                raise InputError(f"{self.path}: unreadable Zarr array: {type(exc).__name__}: {exc}") from None
            _ZARR_CACHE[key] = arr
        return arr

    def read(self, start: int, stop: int) -> np.ndarray:
        try:
            return np.asarray(self._array()[start:stop])
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{self.path}: unreadable Zarr chunk at rows {start}..{stop}: {exc}") from None

    def chunks(self, rows: int) -> Iterator[tuple[int, int, Any]]:
        step = self.chunk_rows * max(1, rows // self.chunk_rows)
        for s in range(0, self.n, step):
            e = min(self.n, s + step)
            yield s, e, functools.partial(self.read, s, e)


def _sha256(path: str) -> bytes:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.digest()


def describe_parts(role: str, path: str, parts: list[str], options: dict | None) -> dict:
    """A dataset input as the report describes it: total bytes and a sha256 over the parts' own sha256
    digests in order (remote parts: their sizes only, no hash)."""
    import hashlib

    if any(is_url(p) for p in parts):
        return {"role": role, "path": path, "parts": len(parts), "bytes": None, "sha256": None}
    total, h = 0, hashlib.sha256()
    for p in parts:
        for root, _, files in os.walk(p) if os.path.isdir(p) else [("", [], [p])]:
            for name in sorted(files):
                f = os.path.join(root, name) if root else name
                total += os.path.getsize(f)
                h.update(_sha256(f))
    return {"role": role, "path": path, "parts": len(parts), "bytes": total, "sha256": h.hexdigest()}


# ---------------------------------------------------------------------------- outputs at scale

PART_ROWS = 1_000_000  # flagged rows per Parquet part of a `-o DIR/` output


def is_out_dir(path: str | None) -> bool:
    """`-o DIR/` (a trailing slash): the flagged rows as Parquet parts plus summary.json in DIR."""
    return bool(path) and path != "-" and str(path).endswith("/")


def check_out_dir(path: str) -> None:
    """DIR/ must be a new or empty folder in an existing, writable one (checked before any reading)."""
    folder = path.rstrip("/") or "/"
    parent = os.path.dirname(os.path.abspath(folder))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: -o DIR/ needs an existing, writable folder {parent!r} to create it in")
    if os.path.lexists(folder) and (not os.path.isdir(folder) or os.listdir(folder)):
        raise InputError(f"{path}: -o DIR/ must name a new or empty folder; this one exists and is not empty")


def write_part(path: str, columns: dict) -> int:
    """One Parquet part of the flagged rows (run in a worker); its row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({k: list(v) if not isinstance(v, np.ndarray) else v for k, v in columns.items()})
    pq.write_table(table, path)
    return table.num_rows


def write_text(path: str, text: str) -> int:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return len(text)


def write_out_dir(path: str, columns: dict, summary: dict, call_all: Any) -> None:
    """DIR/issues-NNNNN.parquet (PART_ROWS rows each, most severe first, at least one part) and
    DIR/summary.json (the report document without its row list, with the parts), written by the
    engine's workers (`call_all`) into a temporary folder beside DIR, which is renamed to DIR once every
    part is written; on any error or interrupt the temporary folder is removed."""
    import shutil
    import tempfile

    from labelaudit.core.formats import to_json

    folder = path.rstrip("/")
    parent = os.path.dirname(os.path.abspath(folder))
    from labelaudit.io.outputs import _umask

    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(folder)}.", suffix=".labelaudit.tmp", dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # a folder as mkdir makes it (mkdtemp's is private)
        n = len(next(iter(columns.values()))) if columns else 0
        starts = list(range(0, n, PART_ROWS)) or [0]
        names = [f"issues-{i:05d}.parquet" for i in range(len(starts))]
        tasks = [
            functools.partial(
                write_part, os.path.join(tmp, name), {k: v[s : s + PART_ROWS] for k, v in columns.items()}
            )
            for name, s in zip(names, starts, strict=True)
        ]
        parts = [{"path": name, "rows": min(PART_ROWS, n - s)} for name, s in zip(names, starts, strict=True)]
        doc = {k: v for k, v in summary.items() if k != "issues"} | {"parts": parts}
        tasks.append(functools.partial(write_text, os.path.join(tmp, "summary.json"), to_json(doc)))
        call_all(tasks)
        if os.path.isdir(folder):
            os.rmdir(folder)  # empty, as checked before the run
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
