"""Input formats: what a path holds, and the low-level reads that every reader shares.

`kind_of` tells the format from the name (`.csv.gz`, `.tsv.gz` and `.jsonl.gz` are their plain forms,
decompressed on the fly) or, for `-`, from the first bytes of standard input, which is read once, whole.

`.npy` headers (of a file, of a `.npz` member or of standard input) are parsed here rather than by numpy's
loader: a header corrupted by one byte is one message naming the file and the field, a file that does not
start with the `.npy` magic string is never handed to numpy's pickle fallback (whose message suggests
`allow_pickle`), and an object array is refused before anything could unpickle it. `npy_layout` says where
the data lies, so `.npy` files and uncompressed `.npz` members are memory-mapped or read positionally alike.

Tables have one parser per format (pandas' C reader for CSV/TSV, pandas' JSON-lines reader, pyarrow for
Parquet) for the whole table, its first rows, its chunks and its row count, so every command counts the same
rows (trailing blank lines and quoted newlines included). `pick_prob_columns` is the one rule for which
columns are classes, in memory and streamed.
"""

from __future__ import annotations

import ast
import gzip
import io
import math
import os
import re
import sys
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np

from labelaudit.errors import InputError, LabelauditWarning

if TYPE_CHECKING:
    import pandas as pd

STDIN = "-"
NPY_MAGIC = b"\x93NUMPY"
PARQUET_KINDS = (".parquet", ".pq")
TABLE_KINDS = (".csv", ".tsv", *PARQUET_KINDS, ".jsonl")

# ---------------------------------------------------------------------------- standard input

_STDIN: list[tuple[object, bytes, bytes]] = []  # (the stream, its bytes, decompressed) once read


def _stdin() -> tuple[bytes, bytes]:
    stream = sys.stdin
    if not _STDIN or _STDIN[0][0] is not stream:  # a new stream (another run in the same process)
        try:
            buffer = getattr(stream, "buffer", None)
            raw = buffer.read() if buffer is not None else stream.read().encode()
        except (OSError, ValueError, AttributeError) as exc:
            raise InputError(f"-: standard input cannot be read: {exc}") from None
        data = raw
        if raw[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(f"-: unreadable gzip data on standard input: {exc}") from None
        _STDIN[:] = [(stream, raw, data)]
    return _STDIN[0][1], _STDIN[0][2]


def stdin_bytes() -> bytes:
    """Standard input as it came (what the report's size and sha256 describe)."""
    return _stdin()[0]


def stdin_payload() -> bytes:
    """Standard input, decompressed if it is gzip data; an empty one is an error."""
    raw, data = _stdin()
    if not raw:
        raise InputError("-: standard input is empty (0 bytes)")
    return data


def _sniff(data: bytes) -> str:
    if data.startswith(NPY_MAGIC):
        return ".npy"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ".npz"
    if data.startswith(b"PAR1"):
        return ".parquet"
    if data.lstrip()[:1] == b"{":
        return ".jsonl"
    line = data.split(b"\n", 1)[0]
    return ".tsv" if b"\t" in line and b"," not in line else ".csv"


def kind_of(path: str) -> str:
    """The format of an input: its suffix (lower case; `.csv.gz` -> `.csv`), or for `-` what standard
    input starts with (.npy, .npz, .parquet, .jsonl, .tsv or .csv)."""
    if path == STDIN:
        return _sniff(stdin_payload())
    name = path.lower()
    if name.endswith(".gz") and Path(name[:-3]).suffix in (".csv", ".tsv", ".jsonl"):
        return Path(name[:-3]).suffix
    return Path(name).suffix


def source(path: str) -> Any:
    """What pandas or pyarrow opens: the path, or standard input's bytes."""
    return io.BytesIO(stdin_payload()) if path == STDIN else path


def file_size(path: str) -> int:
    return len(stdin_bytes()) if path == STDIN else os.path.getsize(path)


def first_line(path: str, limit: int = 200) -> str:
    if path == STDIN:
        head = stdin_payload()[:limit]
    else:
        opener: Callable[..., IO[bytes]] = gzip.open if path.lower().endswith(".gz") else open  # type: ignore[assignment]
        with opener(path, "rb") as f:
            head = f.read(limit)
    return head.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")


# ---------------------------------------------------------------------------- .npy and .npz


@dataclass(frozen=True)
class NpyLayout:
    """Where an array lies: its header fields and the offset of its first data byte (in the file for a
    `.npy` or an uncompressed `.npz` member; in the decompressed member or in standard input's bytes
    otherwise, when `positional` is False)."""

    path: str
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    offset: int
    positional: bool = True
    member: str | None = None

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def order(self) -> Literal["C", "F"]:
        return "F" if self.fortran else "C"


def _unreadable(path: str, member: str | None) -> str:
    where = f"{path}: unreadable .npy file ({file_size(path)} bytes)"
    return where + (f": member {member}" if member else "")


def _truncated(path: str, member: str | None) -> str:
    where = f"{path}: truncated .npy file ({file_size(path)} bytes)"
    return where + (f": member {member}" if member else "")


def parse_npy_header(f: IO[bytes], path: str, member: str | None = None) -> tuple[tuple, bool, np.dtype, int]:
    """(shape, fortran_order, dtype, header bytes) of the .npy array `f` is positioned at; every broken
    rule is an InputError naming the file, the field and its value."""
    start = f.read(8)
    if start[:6] != NPY_MAGIC:
        raise InputError(
            f"{_unreadable(path, member)}: a .npy file starts with {NPY_MAGIC!r}; this one starts with {start[:6]!r}"
        )
    if len(start) < 8:
        raise InputError(f"{_truncated(path, member)}: the file ends inside the .npy prefix")
    major, minor = start[6], start[7]
    if (major, minor) not in ((1, 0), (2, 0), (3, 0)):
        raise InputError(
            f"{_unreadable(path, member)}: .npy format version {major}.{minor} is not 1.0, 2.0 or 3.0"
        )
    width = 2 if major == 1 else 4
    size_field = f.read(width)
    if len(size_field) < width:
        raise InputError(f"{_truncated(path, member)}: the file ends inside the .npy prefix")
    length = int.from_bytes(size_field, "little")
    header = f.read(length)
    if len(header) < length:
        raise InputError(
            f"{_truncated(path, member)}: the header needs {length} bytes, the file ends after {len(header)}"
        )
    text = header.decode("latin1" if major < 3 else "utf-8", "replace")

    def bad() -> str:  # the message prefix, with the file's size (only stat'ed when the header is bad)
        return _unreadable(path, member)

    try:
        fields = ast.literal_eval(text)
    except Exception:  # SyntaxError, ValueError, RecursionError, MemoryError: not a literal
        fields = None
    if not isinstance(fields, dict):
        raise InputError(f"{bad()}: the header must be a Python dict literal; it is {text.strip()[:120]!r}")
    keys = sorted(map(str, fields))
    if keys != ["descr", "fortran_order", "shape"]:
        raise InputError(
            f"{bad()}: the header must have the keys 'descr', 'fortran_order' and 'shape'; it has {keys}"
        )
    shape, fortran = fields["shape"], fields["fortran_order"]
    if not (isinstance(shape, tuple) and all(type(s) is int and s >= 0 for s in shape)):
        raise InputError(f"{bad()}: the header's shape must be a tuple of sizes; it is {shape!r}")
    if not isinstance(fortran, bool):
        raise InputError(f"{bad()}: the header's fortran_order must be True or False; it is {fortran!r}")
    try:
        dtype = np.lib.format.descr_to_dtype(fields["descr"])
    except Exception:  # TypeError, ValueError, KeyError: not a dtype description
        raise InputError(
            f"{bad()}: the header's descr must be a numpy dtype; it is {fields['descr']!r}"
        ) from None
    if dtype.hasobject:
        raise InputError(
            f"{bad()}: it holds Python objects (dtype {dtype}), and labelaudit never loads pickled data; "
            "save numbers, or strings with a fixed-width dtype such as '<U20'"
        )
    return shape, fortran, dtype, 8 + width + length


def _layout(f: IO[bytes], path: str, member: str | None, base: int, available: int, positional: bool):
    shape, fortran, dtype, header = parse_npy_header(f, path, member)
    layout = NpyLayout(path, shape, fortran, dtype, base + header, positional, member)
    have = available - header
    if have < layout.nbytes:
        if fortran and len(shape) > 1:
            promise = f"shape {shape} in Fortran (column) order, {layout.nbytes} data bytes,"
            raise InputError(
                f"{_truncated(path, member)}: the header promises {promise} but the file holds {have}"
            )
        rows = shape[0] if shape else 1
        row_bytes = layout.nbytes // rows if rows else 1
        raise InputError(
            f"{_truncated(path, member)}: the header promises {rows} rows but data ends at row {have // row_bytes}"
        )
    return layout


NPZ_KEYS = ("labels", "pred_probs")


def npz_member(zf: zipfile.ZipFile, path: str, role: str) -> zipfile.ZipInfo:
    """The member of a .npz that holds `role`'s array: the only one, or the one named after the role."""
    members = zf.infolist()
    names = [m.filename[:-4] if m.filename.endswith(".npy") else m.filename for m in members]
    if len(members) == 1:
        return members[0]
    key = role.replace(" ", "_")
    if key in names:
        return members[names.index(key)]
    if {"indices", "values"} <= set(names):  # top-k probabilities (io.topk)
        raise InputError(
            f"{path}: top-k probabilities (arrays 'indices' and 'values') are read by find-issues, rank, "
            "health and overlap of multi-class data, not by this command or task"
        )
    raise InputError(
        f"{path}: a .npz input holds one array, or arrays named 'labels' and 'pred_probs'; "
        f"this one holds {sorted(names)}"
    )


def _open_npz(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(stdin_payload()) if path == STDIN else path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: unreadable .npz file ({file_size(path)} bytes): {exc}") from None


def npy_layout(path: str, role: str) -> NpyLayout:
    """The array `path` holds for `role`: a .npy file, the member of a .npz, or standard input."""
    kind = kind_of(path)
    if kind == ".npz":
        with _open_npz(path) as zf:
            info = npz_member(zf, path, role)
            try:
                if path != STDIN and info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 1:
                    with open(path, "rb") as f:
                        f.seek(info.header_offset)
                        local = f.read(30)
                        if len(local) < 30 or local[:4] != b"PK\x03\x04":
                            raise InputError(
                                f"{path}: unreadable .npz file ({file_size(path)} bytes): member "
                                f"{info.filename} has no local header"
                            )
                        start = info.header_offset + 30 + int.from_bytes(local[26:28], "little")
                        start += int.from_bytes(local[28:30], "little")
                        f.seek(start)
                        return _layout(f, path, info.filename, start, info.file_size, True)
                with zf.open(info) as member:
                    return _layout(member, path, info.filename, 0, info.file_size, False)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                raise InputError(f"{path}: unreadable .npz file ({file_size(path)} bytes): {exc}") from None
    if path == STDIN:
        data = stdin_payload()
        return _layout(io.BytesIO(data), path, None, 0, len(data), False)
    with open(path, "rb") as f:
        return _layout(f, path, None, 0, os.path.getsize(path), True)


def load_npy(path: str, role: str) -> np.ndarray:
    """The whole array of `role`: memory-mapped read-only from a .npy file or an uncompressed .npz
    member, read into memory from a compressed member or standard input."""
    layout = npy_layout(path, role)
    if layout.positional:
        try:
            return np.memmap(
                path,
                dtype=layout.dtype,
                mode="r",
                offset=layout.offset,
                shape=layout.shape,
                order=layout.order,
            )
        except (ValueError, OSError) as exc:
            raise InputError(f"{_unreadable(path, layout.member)}: {exc}") from None
    return np.frombuffer(array_bytes(layout), dtype=layout.dtype).reshape(layout.shape, order=layout.order)


def array_bytes(layout: NpyLayout) -> bytes:
    """The data bytes of an array that cannot be read positionally (a compressed member, stdin)."""
    if layout.member is None:
        return stdin_payload()[layout.offset : layout.offset + layout.nbytes]
    with member_stream(layout) as f:
        data = f.read(layout.nbytes)
    if len(data) < layout.nbytes:
        raise InputError(f"{_truncated(layout.path, layout.member)}: data ends after {len(data)} bytes")
    return data


class member_stream:
    """A compressed .npz member opened at its first data byte (a context manager)."""

    def __init__(self, layout: NpyLayout):
        self.layout = layout

    def __enter__(self) -> Any:  # a zipfile.ZipExtFile
        self._zf = _open_npz(self.layout.path)
        try:
            self._f = self._zf.open(self.layout.member or "")
            self._f.read(self.layout.offset)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, KeyError) as exc:
            self._zf.close()
            raise InputError(f"{_unreadable(self.layout.path, self.layout.member)}: {exc}") from None
        return self._f

    def __exit__(self, *exc: object) -> None:
        self._f.close()
        self._zf.close()


# ---------------------------------------------------------------------------- tables


def _sep(kind: str) -> str:
    return "\t" if kind == ".tsv" else ","


def _unreadable_table(path: str, kind: str, exc: BaseException) -> InputError:
    """The message of a table its parser refused: what is wrong in the file's own terms where that is
    known (text that is not UTF-8, Parquet metadata that is not UTF-8 or JSON), else the parser's words."""
    text = str(exc).splitlines()[0] if str(exc) else repr(exc)
    text = re.sub(r"^Could not open Parquet input source '.*?': ", "", text)  # the path is named already
    if kind in PARQUET_KINDS and isinstance(exc, ValueError):  # UnicodeDecodeError, JSONDecodeError
        text = _parquet_metadata_problem(path) or text
    elif isinstance(exc, UnicodeDecodeError):
        bad = _first_bad_utf8(path)
        if bad is not None:
            text = f"it is not UTF-8 text; byte 0x{bad[1]:02x} at offset {bad[0]}"
    return InputError(f"{path}: unreadable {kind} file: {text}")


def _first_bad_utf8(path: str) -> tuple[int, int] | None:
    """(offset, byte) of the first byte of a text file (decompressed) that is not valid UTF-8."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    done = 0
    try:
        with (
            io.BytesIO(stdin_payload())
            if path == STDIN
            else gzip.open(path, "rb")
            if path.lower().endswith(".gz")
            else open(path, "rb")
        ) as f:
            while chunk := f.read(1 << 20):
                pending = len(decoder.getstate()[0])  # bytes of a character the last chunk cut
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return done - pending + exc.start, exc.object[exc.start]
                done += len(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return None


def _parquet_metadata_problem(path: str) -> str | None:
    """What is wrong with a Parquet file's key-value metadata (pyarrow decodes it as UTF-8 and pandas'
    entry as JSON), or None."""
    import json

    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(source(path)).metadata or {}
    except Exception:  # the footer itself is bad: the parser's words say more
        return None
    for key, value in metadata.items():
        name = key.decode("utf-8", "backslashreplace")
        for part, data in ((f"metadata key {name!r}", key), (f"{name!r} metadata", value)):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                return f"its {part} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        if key == b"pandas":
            try:
                json.loads(value)
            except ValueError as exc:
                return f"its 'pandas' metadata is not valid JSON ({exc})"
    return None


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_REPEATED = re.compile(r"(.+)\.\d+")  # pandas renames a repeated header name x to x.1, x.2, ...


def _looks_numeric(name: str) -> bool:
    if _NUMBER.fullmatch(name.strip()):
        return True
    m = _REPEATED.fullmatch(name.strip())
    return bool(m and _NUMBER.fullmatch(m.group(1)))


def _numbered(names: list[str]) -> bool:
    """0..K-1 (pandas' names for unnamed columns; a lone '0' is a Series written without a name) or, for
    K >= 2, any run of consecutive integers (class ids 1..K): no row of probabilities reads like that."""
    if not all(re.fullmatch(r"[0-9]+", n) for n in names):
        return False
    first = int(names[0])
    return (first == 0 or len(names) >= 2) and names == [str(first + i) for i in range(len(names))]


def check_header(columns: Any, path: str, kind: str) -> None:
    """A CSV/TSV needs a header row: one whose every name is a number is data (the first row would be
    lost), unless the names are numbered columns (`_numbered`)."""
    names = [str(c) for c in columns]
    if _numbered(names):
        return
    if names and all(_looks_numeric(n) for n in names):
        raise InputError(
            f"{path}: a {kind} table needs a header row naming its columns; its first row is data: "
            f"{first_line(path)!r}"
        )


def require_rows(df: pd.DataFrame, path: str, role: str) -> None:
    if len(df) == 0:
        raise InputError(
            f"{path}: {role} table is empty (0 rows); columns are {[str(c) for c in df.columns]}"
        )


def read_table(path: str) -> pd.DataFrame:
    """A whole table (.csv, .tsv, .jsonl, .parquet; gzip for the text formats)."""
    import pandas as pd

    kind = kind_of(path)
    try:
        if kind in PARQUET_KINDS:
            df = pd.read_parquet(source(path))
        elif kind == ".jsonl":
            df = pd.read_json(source(path), lines=True, precise_float=True)
        else:
            df = pd.read_csv(source(path), sep=_sep(kind))
    except InputError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for corrupt files
        raise _unreadable_table(path, kind, exc) from None
    if kind in (".csv", ".tsv"):
        check_header(df.columns, path, kind)
    return df


def table_head(path: str, role: str, rows: int = 1000) -> pd.DataFrame:
    """The first rows of a table (all its columns), header and emptiness checked as read_table does."""
    import pandas as pd

    kind = kind_of(path)
    try:
        if kind in PARQUET_KINDS:
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(source(path))
            batch = next(pf.iter_batches(batch_size=rows), None)
            df = batch.to_pandas() if batch is not None else pf.schema_arrow.empty_table().to_pandas()
        elif kind == ".jsonl":
            with _json_chunks(path, rows) as reader:
                df = next(iter(reader), pd.DataFrame())
        else:
            df = pd.read_csv(source(path), sep=_sep(kind), nrows=rows)
    except InputError:
        raise
    except Exception as exc:
        raise _unreadable_table(path, kind, exc) from None
    if kind in (".csv", ".tsv"):
        check_header(df.columns, path, kind)
    require_rows(df, path, role)
    return df


def _json_chunks(path: str, rows: int) -> Any:
    import pandas as pd

    return pd.read_json(source(path), lines=True, chunksize=rows, precise_float=True)


def table_columns(path: str, names: list[str]) -> pd.DataFrame:
    """Whole columns of a table (read by the same parser as its chunks)."""
    import pandas as pd

    kind = kind_of(path)
    try:
        if kind in PARQUET_KINDS:
            return pd.read_parquet(source(path), columns=names)
        if kind == ".jsonl":
            return read_table(path)[names]
        return pd.read_csv(source(path), sep=_sep(kind), usecols=names)
    except InputError:
        raise
    except Exception as exc:
        raise _unreadable_table(path, kind, exc) from None


def table_chunks(path: str, names: list[str], rows: int) -> Iterator[list[np.ndarray]]:
    """The columns `names` of a table, `rows` rows at a time, in row order."""
    kind = kind_of(path)
    try:
        if kind in PARQUET_KINDS:
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(source(path)).iter_batches(batch_size=rows, columns=names):
                yield [batch.column(c).to_numpy(zero_copy_only=False) for c in names]
        elif kind == ".jsonl":
            with _json_chunks(path, rows) as reader:
                for df in reader:
                    yield [df[c].to_numpy() for c in names]
        else:
            import pandas as pd

            with pd.read_csv(source(path), sep=_sep(kind), usecols=names, chunksize=rows) as reader:
                for df in reader:
                    yield [df[c].to_numpy() for c in names]
    except InputError:
        raise
    except Exception as exc:
        raise _unreadable_table(path, kind, exc) from None


def table_rows(path: str, column: str) -> int:
    """The number of rows of a table, as its chunks count them (one parser: blank lines and quoted
    newlines count as read_table counts them)."""
    kind = kind_of(path)
    if kind in PARQUET_KINDS:
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(source(path)).metadata.num_rows)
        except Exception as exc:
            raise _unreadable_table(path, kind, exc) from None
    return sum(len(chunk[0]) for chunk in table_chunks(path, [column], 1 << 20))


# ---------------------------------------------------------------------------- probability columns


def display(value: object) -> str:
    """A value from a table as a message shows it (np.str_('x') as 'x', arrays as lists)."""
    if isinstance(value, np.ndarray):
        return repr(value.tolist())
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, np.generic):
        return repr(value.item())
    return repr(value)


def check_numeric(values: np.ndarray, name: str, path: str, *, strict: bool = True, offset: int = 0) -> None:
    """A probability column must hold numbers. With `strict` (a column --prob-columns names, or a chunk
    of one) any other value is an error naming its row; otherwise only a column of numbers with a few
    stray words is (a text column is simply not a probability column)."""
    if values.dtype.kind in "biuf":
        return
    import pandas as pd

    if not strict:
        try:
            if pd.to_numeric(pd.Series(values[:1000], dtype=object), errors="coerce").isna().all():
                return  # a text column: its first rows hold no number at all
        except (TypeError, ValueError):  # lists or other objects: not a probability column
            return
    series = pd.Series(values, dtype=object)
    present = series.notna().to_numpy()
    try:
        parsed = pd.to_numeric(series, errors="coerce").notna().to_numpy()
    except (TypeError, ValueError):  # lists or other objects
        parsed = np.zeros(len(values), dtype=bool)
    bad = present & ~parsed
    if bad.any():
        if strict or int(bad.sum()) <= int(parsed.sum()):
            row = int(np.argmax(bad))
            raise InputError(
                f"{path}: probability column {name!r} must hold numbers; row {offset + row} holds "
                f"{display(values[row])}"
            )
    elif strict and any(isinstance(v, str) for v in values[present][:1000]):
        row = int(np.argmax([isinstance(v, str) for v in values]))
        raise InputError(
            f"{path}: probability column {name!r} must hold numbers, not strings; row {offset + row} holds "
            f"{display(values[row])}"
        )


_PANDAS_INDEX = re.compile(r"Unnamed: \d+")


def _is_index(v: np.ndarray) -> bool:
    return v.dtype.kind in "iuf" and len(v) >= 3 and bool(np.array_equal(v, np.arange(len(v))))


def _is_constant(v: np.ndarray) -> bool:
    return v.dtype.kind in "iuf" and len(v) >= 2 and bool(v[0] == v[0]) and bool((v == v[0]).all())


def pick_prob_columns(
    df: pd.DataFrame,
    spec: str | None,
    exclude: set[str],
    path: str,
    *,
    whole: Callable[[list[str]], pd.DataFrame] | None = None,
) -> list[str]:
    """The probability columns of a table: those --prob-columns names (a comma list or a glob), else every
    numeric column but `exclude`, an index (`Unnamed: N`, or the integers 0..N-1 in order) and a constant
    column (unless it is one of a numbered family such as p0..p9), skipped with a warning naming them.

    `df` is the table, or its first rows when `whole(names)` reads whole columns (streamed): a column is
    only read whole when its first rows already look like an index or a constant."""
    import fnmatch

    import pandas as pd

    names = [str(c) for c in df.columns]
    if spec:
        if any(ch in spec for ch in "*?["):
            picked = [c for c in names if fnmatch.fnmatchcase(c, spec)]
        else:
            picked = [c.strip() for c in spec.split(",") if c.strip()]
            missing = [c for c in picked if c not in names]
            if missing:
                raise InputError(
                    f"{path}: --prob-columns names missing columns {missing}; columns are {names}"
                )
        if not picked:
            raise InputError(f"{path}: --prob-columns {spec!r} matches no column; columns are {names}")
        for c in picked:
            check_numeric(df[c].to_numpy(), c, path)
        return picked
    candidates = [c for c in names if c not in exclude]
    numeric = []
    for c in candidates:
        if pd.api.types.is_numeric_dtype(df[c]):
            numeric.append(c)
        else:
            check_numeric(df[c].to_numpy(), c, path, strict=False)
    skipped = {c: "pandas index" for c in numeric if _PANDAS_INDEX.fullmatch(c)}
    suspects = [
        c
        for c in numeric
        if c not in skipped and (_is_index(df[c].to_numpy()) or _is_constant(df[c].to_numpy()))
    ]
    if suspects:
        full = whole(suspects) if whole is not None else df
        family = Counter(re.sub(r"\d+", "#", c) for c in numeric)
        for c in suspects:
            v = np.asarray(full[c].to_numpy())
            if _is_index(v):
                skipped[c] = f"index 0..{len(v) - 1}"
            elif _is_constant(v) and family[re.sub(r"\d+", "#", c)] < 3:
                skipped[c] = f"constant {display(v[0])}"
    if skipped:
        shown = ", ".join(f"{c!r} ({skipped[c]})" for c in names if c in skipped)
        warnings.warn(
            f"{path}: skipped columns that are not class probabilities: {shown}; name a column in "
            "--prob-columns to use it",
            LabelauditWarning,
            stacklevel=3,
        )
    picked = [c for c in numeric if c not in skipped]
    if not picked and {"top_classes", "top_probs"} <= set(names):  # top-k probabilities (io.topk)
        raise InputError(
            f"{path}: top-k probabilities (columns 'top_classes' and 'top_probs') are read by find-issues, "
            "rank, health and overlap of multi-class data, not by this command or task"
        )
    if not picked:
        raise InputError(f"{path}: no numeric probability columns found; columns are {names}")
    return picked
