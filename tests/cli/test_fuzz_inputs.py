"""A bounded fuzz of broken inputs and option values (issue 18, "Done when").

Each example starts from a small valid dataset, breaks it in a few plausible ways (values, dtypes,
shapes, NaN, byte corruption, truncation; CSV headers, cells, blank lines and quotes; Parquet column
types and metadata), writes it as .npy, CSV or Parquet, and runs it with random option values through
find-issues, rank, health and batched (and token JSON lines, whose sentences break in their own ways,
through find-issues, rank and health --task token). Whatever the input, a run must end in the error
family:

* exit 0, 1 or 2, never a traceback nor the generic fallback
  `Error: <ExceptionType>: ... (run with --debug for a traceback)`;
* on exit 2 nothing on stdout and no output or temporary file; on exit 0 or 1 (a gate) the output alone.

Bounded: derandomized (the same examples every run, no example database), a few hundred examples in all,
well under a minute. `LABELAUDIT_FUZZ_EXAMPLES=N` runs N examples per test instead (a longer hunt).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from labelaudit.cli import app

EXAMPLES = int(os.environ.get("LABELAUDIT_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=EXAMPLES or 100,
    deadline=None,
    derandomize=not EXAMPLES,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None})
FALLBACK = "(run with --debug for a traceback)"
COMMANDS = ("find-issues", "rank", "health", "batched")

# ---------------------------------------------------------------------------- a valid start


@st.composite
def datasets(draw) -> tuple[np.ndarray, np.ndarray]:
    """(labels, pred_probs) that every command accepts, before any mutation."""
    n = draw(st.integers(1, 24))
    k = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k), size=n)
    y = rng.integers(0, k, size=n)
    return y, p


# ---------------------------------------------------------------------------- array mutations

LABEL_VALUES = (-1, 5, 1e10, -1e10, 2.5, np.nan, np.inf, 2**40)
PROB_VALUES = (np.nan, np.inf, -np.inf, -0.5, 1.5, 1e300, -1e-4, 1 + 1e-4, 0.0, 1.0)


def mutate_labels(draw, y: np.ndarray) -> np.ndarray:
    kind = draw(st.sampled_from(["value", "dtype", "shape", "length", "empty", "strings", "bool", "column"]))
    y = y.copy()
    if kind == "value" and len(y):
        y = y.astype(np.float64)
        y[draw(st.integers(0, len(y) - 1))] = draw(st.sampled_from(LABEL_VALUES))
    elif kind == "dtype":
        y = y.astype(draw(st.sampled_from(["int8", "uint8", "int16", "uint64", "float16", "float32", "<U3"])))
    elif kind == "shape":
        y = y.reshape(-1, 1) if draw(st.booleans()) else np.stack([y, y], axis=1)
    elif kind == "length":
        y = (
            y[: max(0, len(y) - draw(st.integers(1, 3)))]
            if draw(st.booleans())
            else np.concatenate([y, y[:2]])
        )
    elif kind == "empty":
        y = y[:0]
    elif kind == "strings":
        y = np.array([draw(st.sampled_from(["cat", "dog", "0", "1", "²", "", " 1", "1.0"])) for _ in y])
    elif kind == "bool":
        y = (y % 2).astype(bool)
    elif kind == "column":
        y = y.reshape(1, -1)
    return y


def mutate_probs(draw, p: np.ndarray) -> np.ndarray:
    kind = draw(
        st.sampled_from(
            ["value", "row", "logits", "dtype", "shape", "k1", "empty", "fortran", "wide", "ints"]
        )
    )
    p = p.copy()
    n, k = p.shape
    if kind == "value":
        for _ in range(draw(st.integers(1, 3))):
            p[draw(st.integers(0, n - 1)), draw(st.integers(0, k - 1))] = draw(st.sampled_from(PROB_VALUES))
    elif kind == "row":
        p[draw(st.integers(0, n - 1))] *= draw(st.sampled_from([0.0, 0.5, 1.0005, 2.0, -1.0]))
    elif kind == "logits":
        p = np.log(p) * 3.0
    elif kind == "dtype":
        p = p.astype(
            draw(st.sampled_from(["float16", "float32", "int64", "bool", "complex64", "<U4", "uint8"]))
        )
    elif kind == "shape":
        p = p.ravel() if draw(st.booleans()) else p.reshape(n, k, 1)
    elif kind == "k1":
        p = np.ones((n, 1))
    elif kind == "empty":
        p = p[:0]
    elif kind == "fortran":
        p = np.asfortranarray(p)
    elif kind == "wide":
        p = np.hstack([p, np.zeros((n, draw(st.integers(1, 3))))])
    elif kind == "ints":
        p = (p > 0.5).astype(np.int64)
    return p


# ---------------------------------------------------------------------------- byte mutations


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def mutate_bytes(draw, data: bytes, header: int = 128) -> bytes:
    kind = draw(st.sampled_from(["truncate", "byte", "header-byte", "header-byte", "append", "zero"]))
    if not data:
        return data
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind in ("byte", "header-byte"):
        at = draw(st.integers(0, min(len(data), header if kind == "header-byte" else len(data)) - 1))
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    if kind == "append":
        return data + draw(st.binary(min_size=1, max_size=16))
    return b"\x00" * len(data)


# ---------------------------------------------------------------------------- tables

CELLS = (
    "",
    "nan",
    "NaN",
    "abc",
    "²",
    "1e10",
    "-1",
    "[0, 1]",
    '"1,2"',
    "0.5",
    " ",
    "inf",
    "1.0",
    "True",
    "\x00",
)
HEADERS = ("label", "id", "p0", "prob_a", "Unnamed: 0", "", "x y", "p0", "index", "1", "0.5")


def table_columns(y: np.ndarray, p: np.ndarray) -> dict[str, list]:
    """Columns of a table holding labels (when 1-D) and pred_probs (when 2-D)."""
    cols: dict[str, list] = {}
    if y.ndim == 1:
        cols["label"] = y.tolist()
    if p.ndim == 2:
        cols.update({f"p{j}": p[:, j].tolist() for j in range(p.shape[1])})
    elif p.ndim == 1:
        cols["p0"] = p.tolist()
    n = max((len(v) for v in cols.values()), default=0)
    return {name: (v + [None] * n)[:n] for name, v in cols.items()}


def csv_text(draw, cols: dict[str, list], broken: bool) -> bytes:
    names = list(cols)
    rows = [[("" if v is None else str(v)) for v in row] for row in zip(*cols.values(), strict=True)]
    for _ in range(draw(st.integers(1, 3)) if broken else 0):
        kind = draw(st.sampled_from(["cell", "header", "blank", "quote", "ragged", "no-header", "dup"]))
        if kind == "cell" and rows:
            r = draw(st.integers(0, len(rows) - 1))
            if rows[r]:
                rows[r][draw(st.integers(0, len(rows[r]) - 1))] = draw(st.sampled_from(CELLS))
        elif kind == "header" and names:
            names[draw(st.integers(0, len(names) - 1))] = draw(st.sampled_from(HEADERS))
        elif kind == "blank":
            rows.insert(draw(st.integers(0, len(rows))), [])
        elif kind == "quote" and rows and rows[0]:
            rows[0][0] = '"' + rows[0][0] + "\n" + '"'
        elif kind == "ragged" and rows:
            rows[-1] = rows[-1] + ["0.1"] if draw(st.booleans()) else rows[-1][:-1]
        elif kind == "no-header":
            names = []
        elif kind == "dup" and names:
            names.append(names[0])
            for row in rows:
                row.append("0.0")
    lines = [",".join(names)] if names else []
    lines += [",".join(row) for row in rows]
    data = ("\n".join(lines) + ("\n" if draw(st.booleans()) else "")).encode("utf-8")
    if draw(st.integers(0, 5)) == 0:
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 5)) == 0:
        data = data.replace(b"\n", b"\r\n")
    if broken and draw(st.integers(0, 5)) == 0:
        data = mutate_bytes(draw, data, header=len(data))
    return data


def _number(value) -> float | None:
    try:
        return None if value is None else float(np.real(value))
    except (TypeError, ValueError):
        return None


def parquet_bytes(draw, cols: dict[str, list], broken: bool) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    kinds = ["string", "list", "bool", "null", "dict", "int", "float32"] if broken else ["keep"]
    for name, values in cols.items():
        kind = draw(st.sampled_from(["keep", "keep", *kinds]))
        floats = [_number(v) for v in values]
        text = [None if v is None else str(v) for v in values]
        if kind == "string":
            arrays[name] = pa.array(text, pa.string())
        elif kind == "list":
            arrays[name] = pa.array([None if v is None else [v] for v in floats], pa.list_(pa.float64()))
        elif kind == "bool":
            arrays[name] = pa.array([None if v is None else bool(v) for v in floats], pa.bool_())
        elif kind == "null":
            arrays[name] = pa.nulls(len(values))
        elif kind == "dict":
            arrays[name] = pa.array(text, pa.string()).dictionary_encode()
        elif kind == "int":
            ints = [
                None if v is None or not np.isfinite(v) else int(np.clip(v, -(2**62), 2**62)) for v in floats
            ]
            arrays[name] = pa.array(ints, pa.int64())
        elif kind == "float32":
            arrays[name] = pa.array(floats, pa.float32())
        elif any(isinstance(v, str) for v in values):
            arrays[name] = pa.array(text, pa.string())
        elif name == "label" and all(v is None or float(v).is_integer() for v in floats):
            arrays[name] = pa.array([None if v is None else int(v) for v in floats], pa.int64())
        else:
            arrays[name] = pa.array(floats, pa.float64())
    table = pa.table(arrays) if arrays else pa.table({"x": pa.array([], pa.int64())})
    if broken and draw(st.integers(0, 3)) == 0:
        table = table.replace_schema_metadata({b"pandas": draw(st.binary(max_size=12))})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    data = buf.getvalue()
    return mutate_bytes(draw, data, header=64) if broken and draw(st.integers(0, 3)) == 0 else data


# ---------------------------------------------------------------------------- options

VALID = {
    "--filter-by": (
        "prune_by_class",
        "both",
        "confident_learning",
        "predicted_neq_given",
        "low_self_confidence",
    ),
    "--top": ("0", "1", "3", "99999999999999999999"),
    "--batch-size": ("1", "2", "7", "100000", "99999999999999999999"),
    "--chunk-size": ("1", "3", "99999999999999999999"),
    "--n-jobs": ("-1", "1", "2", "3"),
    "--max-issues": ("0", "1000"),
    "--memory-limit": ("1MB", "2GB", "1.5MB", "64MB"),
    "--label-column": ("label",),
    "--prob-columns": ("p*", "p0,p1", "p1,p0", "p0,p1,p2"),
    "--format": ("table", "json", "csv", "junit", "github"),
}
INVALID = {
    "--filter-by": ("nope", ""),
    "--top": ("-1", "x"),
    "--batch-size": ("0", "-5", "1e3"),
    "--chunk-size": ("0", "x"),
    "--n-jobs": ("-2", "0"),
    "--max-issues": ("-1",),
    "--memory-limit": ("0", "512KB", "abc", "-1MB", "1e3MB", "nanMB", "infGB", "1", "1e400MB"),
    "--label-column": ("p0", "missing", "", "id"),
    "--prob-columns": ("label", "nope", "", ",", "*", "p0,p0", "[", "p9"),
    "--format": ("xml",),
}
ACCEPTS = {
    "find-issues": (
        "--filter-by",
        "--top",
        "--batch-size",
        "--n-jobs",
        "--max-issues",
        "--label-column",
        "--prob-columns",
        "--format",
    ),
    "rank": ("--top", "--batch-size", "--n-jobs", "--label-column", "--prob-columns", "--format"),
    "health": ("--batch-size", "--n-jobs", "--label-column", "--prob-columns", "--format"),
    "batched": tuple(VALID),
}
OUTPUTS = ("result.csv", "result.npy", "result.json", "result.parquet", "result.jsonl")
TABLE_ONLY = ("--label-column", "--prob-columns")


@st.composite
def invocations(draw, tables: bool, broken: bool) -> tuple[str, list[str], str]:
    """(command, options, output file name); `broken`: one option value may be invalid."""
    command = draw(st.sampled_from(COMMANDS))
    extra: list[str] = []
    if command == "batched" and draw(st.booleans()):
        extra.append("--exact")
    if command == "find-issues" and draw(st.integers(0, 3)) == 0:
        extra.append("--low-memory")
    options = [o for o in ACCEPTS[command] if tables or o not in TABLE_ONLY]
    if command == "batched":
        options.remove("--chunk-size" if "--exact" in extra else "--filter-by")
    bad = draw(st.sampled_from(options)) if broken else None
    for option in options:
        if option == bad:
            extra += [option, draw(st.sampled_from(INVALID[option]))]
        elif draw(st.integers(0, 2)) == 0:
            extra += [option, draw(st.sampled_from(VALID[option]))]
    output = draw(st.sampled_from(OUTPUTS if command != "health" else ("result.json", "result.csv")))
    return command, extra, output


# The places a fault may go; each example breaks at most two of them (none: a valid run).
SITES = ("labels", "pred_probs", "labels-bytes", "pred_probs-bytes", "table", "option")
faults = st.sets(st.sampled_from(SITES), max_size=2)


# ---------------------------------------------------------------------------- the contract


def check_run(folder: Path, inv: tuple[str, list[str], str], labels: Path, probs: Path) -> None:
    command, extra, output = inv
    out = folder / "out"
    out.mkdir()
    target = out / output
    args = [command, "-l", str(labels), "-p", str(probs), *extra, "-o", str(target), "--quiet"]
    result = RUNNER.invoke(app, args)
    context = f"args: {args}\nexit {result.exit_code}\nstdout: {result.stdout[:500]}\nstderr: {result.stderr}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}\n{context}")
    assert result.exit_code in (0, 1, 2), context
    assert "Traceback" not in result.stderr + result.stdout, context
    assert FALLBACK not in result.stderr, context
    if result.exit_code == 2:
        assert result.stdout == "", context
        assert os.listdir(out) == [], context
    else:
        assert os.listdir(out) == [output], context


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def arrays(pick, data, broken: set) -> tuple[np.ndarray, np.ndarray]:
    y, p = data
    y = mutate_labels(pick.draw, y) if "labels" in broken else y
    p = mutate_probs(pick.draw, p) if "pred_probs" in broken else p
    return y, p


def npy_file(pick, folder: Path, name: str, array: np.ndarray, broken: bool) -> Path:
    data = npy_bytes(array)
    return write(folder, name, mutate_bytes(pick.draw, data) if broken else data)


# ---------------------------------------------------------------------------- the fuzz


@FUZZ
@given(data=datasets(), broken=faults, pick=st.data())
def test_fuzz_npy_inputs(data, broken, pick):
    y, p = arrays(pick, data, broken)
    inv = pick.draw(invocations(tables=False, broken="option" in broken))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        labels = npy_file(pick, folder, "labels.npy", y, "labels-bytes" in broken)
        probs = npy_file(pick, folder, "pred_probs.npy", p, "pred_probs-bytes" in broken)
        check_run(folder, inv, labels, probs)


@FUZZ
@given(data=datasets(), broken=faults, pick=st.data())
def test_fuzz_csv_inputs(data, broken, pick):
    y, p = arrays(pick, data, broken)
    inv = pick.draw(invocations(tables=True, broken="option" in broken))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if pick.draw(st.booleans()):  # one table holds both
            text = csv_text(pick.draw, table_columns(y, p), bool(broken & {"table", "labels-bytes"}))
            labels = probs = write(folder, "t.csv", text)
        else:
            text = csv_text(
                pick.draw, table_columns(y, np.zeros((0, 0))), bool(broken & {"table", "labels-bytes"})
            )
            labels = write(folder, "y.csv", text)
            probs = npy_file(pick, folder, "p.npy", p, "pred_probs-bytes" in broken)
        check_run(folder, inv, labels, probs)


@FUZZ
@given(data=datasets(), broken=faults, pick=st.data())
def test_fuzz_parquet_inputs(data, broken, pick):
    y, p = arrays(pick, data, broken)
    inv = pick.draw(invocations(tables=True, broken="option" in broken))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        table = parquet_bytes(pick.draw, table_columns(y, p), bool(broken & {"table", "pred_probs-bytes"}))
        probs = write(folder, "t.parquet", table)
        labels = (
            probs
            if pick.draw(st.booleans())
            else npy_file(pick, folder, "y.npy", y, "labels-bytes" in broken)
        )
        check_run(folder, inv, labels, probs)


# ---------------------------------------------------------------------------- token JSON lines

TAG_FAULTS = (None, 2.5, "x", True, 1e30, -1, [0], {"a": 1}, 7)
ROW_FAULTS = (0.5, None, "a", [], [0.5], [[0.5, 0.5]], ["a", "b"], [np.nan, 1.0])


@st.composite
def sentence_lines(draw, broken: bool) -> bytes:
    """A token table as JSON lines (one sentence per line: labels, pred_probs, maybe tokens)."""
    k = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    tokens = draw(st.booleans())
    lines = []
    for _ in range(draw(st.integers(1, 5))):
        n = draw(st.integers(0, 4))
        sentence: dict = {
            "labels": rng.integers(0, k, n).tolist(),
            "pred_probs": rng.dirichlet(np.ones(k), n).tolist(),
        }
        if tokens:
            sentence["tokens"] = [f"w{i}" for i in range(n)]
        lines.append(sentence)
    texts = None
    if broken:
        kind = draw(st.sampled_from(["tag", "row", "drop", "type", "length", "line"]))
        s = draw(st.integers(0, len(lines) - 1))
        field = draw(st.sampled_from(["labels", "pred_probs", "tokens"]))
        if kind == "tag" and lines[s]["labels"]:
            lines[s]["labels"][draw(st.integers(0, len(lines[s]["labels"]) - 1))] = draw(
                st.sampled_from(TAG_FAULTS)
            )
        elif kind == "row" and lines[s]["pred_probs"]:
            lines[s]["pred_probs"][draw(st.integers(0, len(lines[s]["pred_probs"]) - 1))] = draw(
                st.sampled_from(ROW_FAULTS)
            )
        elif kind == "drop":
            lines[s].pop(field, None)
        elif kind == "type":
            lines[s][field] = draw(st.sampled_from([3, "abc", None, {"a": 1}, [[1]]]))
        elif kind == "length" and lines[s].get(field):
            lines[s][field] = lines[s][field][:-1]
        elif kind == "line":
            texts = [json.dumps(x) for x in lines]
            texts[s] = draw(st.sampled_from(["[1, 2]", "{oops", "null", "3", '"a"', ""]))
    body = "\n".join(texts if texts is not None else [json.dumps(x) for x in lines]) + "\n"
    return body.encode("utf-8")


@FUZZ
@given(broken=st.booleans(), pick=st.data())
def test_fuzz_token_jsonl_inputs(broken, pick):
    command = pick.draw(st.sampled_from(("find-issues", "rank", "health")))
    extra = ["--task", "token"]
    if command != "health" and pick.draw(st.booleans()):
        extra += ["--by", pick.draw(st.sampled_from(["token", "sentence"]))]
    if pick.draw(st.booleans()):
        extra += ["--format", pick.draw(st.sampled_from(VALID["--format"]))]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write(folder, "s.jsonl", pick.draw(sentence_lines(broken)))
        output = "result.json" if command == "health" else pick.draw(st.sampled_from(OUTPUTS))
        check_run(folder, (command, extra, output), path, path)
