"""Faults and messages (issue 18, "Messages that must name the file, the rule and the value"; issue 12's
option values): one test per case. Each run fails with exit 2, stderr is exactly one `Error: ...` line
naming the file (the option, where no file is at fault), the rule and the value, stdout is empty, and
nothing is written: no output, no temporary, the inputs unchanged. Signals during a write close the file.

The tests run in tmp_path, so that paths read as a user types them (`d/labels.npy`)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import random_npy_set, signal_while_writing

from labelaudit.cli import app

Y = np.array([0, 1, 2, 0, 1, 2])
P = np.array(
    [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]]
)
FIND = ["find-issues", "-l", "d/labels.npy", "-p", "d/pred_probs.npy"]
BATCHED = ["batched", "-l", "d/labels.npy", "-p", "d/pred_probs.npy"]
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
ENV.pop("FORCE_COLOR", None)


@pytest.fixture
def d(tmp_path, monkeypatch) -> Path:
    """tmp_path/d with labels.npy and pred_probs.npy (6 x 3), and an empty d/out for outputs."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "d"
    (folder / "out").mkdir(parents=True)
    np.save(folder / "labels.npy", Y, allow_pickle=False)
    np.save(folder / "pred_probs.npy", P, allow_pickle=False)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fails(runner, args: list, line: str, *, out: str | None = "d/out/result.csv") -> None:
    """`args` (plus `-o out`) exits 2 with stderr exactly `line`, and nothing under d/ changes."""
    before = snapshot(Path("d"))
    argv = [*map(str, args), *(["-o", out] if out else [])]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.stderr == line + "\n"
    assert result.stdout == ""
    assert snapshot(Path("d")) == before, "a file was written or changed"
    strays = [str(p) for p in Path("d").rglob(".*")]
    assert strays == [], f"temporaries left: {strays}"


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def efbig(*args, **kwargs):
    raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))


# ---------------------------------------------------------------------------- writing the outputs


@pytest.mark.parametrize(("fault", "words"), [(enospc, "No space left on device"), (efbig, "File too large")])
def test_full_disk_or_too_large_file_names_the_npy_output(runner, d, monkeypatch, fault, words):
    monkeypatch.setattr(np.lib.format, "write_array_header_1_0", fault)  # what write_npy writes first
    out = "d/out/flagged.npy"
    fails(runner, FIND, f"Error: {out}: cannot write the output: {words}", out=out)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".json", ".jsonl"])
@pytest.mark.parametrize(("fault", "words"), [(enospc, "No space left on device"), (efbig, "File too large")])
def test_full_disk_or_too_large_file_names_the_table_output(runner, d, monkeypatch, suffix, fault, words):
    import json as json_module

    monkeypatch.setattr(pd.DataFrame, "to_csv", fault)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", fault)
    monkeypatch.setattr(json_module, "dump", fault)
    monkeypatch.setattr(json_module, "dumps", fault)
    out = f"d/out/rows{suffix}"  # rank writes a row per example
    rank = ["rank", "-l", "d/labels.npy", "-p", "d/pred_probs.npy"]
    fails(runner, rank, f"Error: {out}: cannot write the output: {words}", out=out)


@pytest.mark.parametrize(("fault", "words"), [(enospc, "No space left on device"), (efbig, "File too large")])
def test_full_disk_or_too_large_file_names_the_streamed_scores(runner, d, monkeypatch, fault, words):
    monkeypatch.setattr(os, "pwrite", fault)
    fails(
        runner,
        [*BATCHED, "--scores-out", "d/out/s.npy"],
        f"Error: d/out/s.npy: cannot write the output: {words}",
        out="d/out/x.csv",
    )


def test_file_size_limit_names_the_output(d):
    """A real EFBIG: the process may write files of at most 4 KB (`ulimit -f`), the scores need 8 KB."""
    resource = pytest.importorskip("resource")
    np.save("d/big.npy", np.tile(P, (200, 1)), allow_pickle=False)
    np.save("d/big_labels.npy", np.tile(Y, 200), allow_pickle=False)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death by SIGXFSZ
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    args = ["rank", "-l", "d/big_labels.npy", "-p", "d/big.npy", "-o", "d/out/scores.npy"]
    r = subprocess.run(
        [sys.executable, "-m", "labelaudit", *args],
        capture_output=True,
        text=True,
        env=ENV,
        preexec_fn=limit,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr == "Error: d/out/scores.npy: cannot write the output: File too large\n"
    assert os.listdir("d/out") == []


def test_read_only_output_folder_names_the_output(runner, d, monkeypatch):
    """Checked before the run (as root, whom a 0555 folder does not stop, by a refusing os.access)."""
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if str(p) == "d/out" else real(p, mode, **kw)
    )
    fails(runner, FIND, "Error: d/out/x.csv: --output folder 'd/out' is not writable", out="d/out/x.csv")


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
        (OSError(errno.EROFS, "Read-only file system"), "Read-only file system"),
    ],
    ids=["EACCES", "EROFS"],
)
def test_refused_temporary_names_the_output_not_the_temporary(runner, d, monkeypatch, exc, words):
    """The folder looked writable, but creating the temporary fails: the message names the output."""
    from labelaudit.io import outputs

    def refuse(path):
        exc.filename = os.path.join(os.path.dirname(path), ".x.csv.labelaudit-0-0-abc.tmp")
        raise exc

    monkeypatch.setattr(outputs, "make_temp", refuse)
    fails(
        runner,
        FIND,
        f"Error: d/out/x.csv: cannot write to the output folder 'd/out': {words}",
        out="d/out/x.csv",
    )


def test_output_path_that_is_a_folder(runner, d):
    (d / "out" / "x.csv").mkdir()
    fails(runner, FIND, "Error: d/out/x.csv: --output is a directory, not a file", out="d/out/x.csv")


def test_output_name_too_long(runner, d):
    out = "d/out/" + "x" * 300 + ".csv"
    fails(
        runner, FIND, f"Error: {out}: --output file name is too long (304 bytes; the limit is 255)", out=out
    )


def test_output_and_scores_out_that_are_one_file(runner, d):
    fails(
        runner,
        [*BATCHED, "--scores-out", "d/out/s.npy"],
        "Error: d/out/s.npy: --output and --scores-out name the same file; give each output its own path",
        out="d/out/s.npy",
    )


# ---------------------------------------------------------------------------- --class-names


def test_class_names_not_utf8(runner, d):
    (d / "names.txt").write_bytes(b"cat\n\xffdog\nbird\n")
    fails(
        runner,
        [*FIND, "--class-names", "d/names.txt"],
        "Error: d/names.txt: class names must be UTF-8 text; byte 0xff at offset 4 is not valid UTF-8",
    )


def test_class_names_not_readable(runner, d, monkeypatch):
    import builtins

    from labelaudit.io import readers

    (d / "names.txt").write_text("cat\ndog\nbird\n")

    def refused(path, *args, **kwargs):
        if str(path) == "d/names.txt":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(readers, "open", refused, raising=False)
    fails(
        runner,
        [*FIND, "--class-names", "d/names.txt"],
        "Error: d/names.txt: class names file cannot be read: Permission denied",
    )


# ---------------------------------------------------------------------------- --baseline


BASELINES = [
    (
        b"{oops",
        "baseline is not valid JSON; Expecting property name enclosed in double quotes at line 1, column 2",
    ),
    (b"\xff\xfe", "baseline is not UTF-8 text; byte 0xff at offset 0 is not valid UTF-8"),
    (b"[1, 2]", "baseline is not a labelaudit --format json report; it must be a JSON object, got a list"),
    (
        b'{"command": "find-issues"}',
        "baseline is not a labelaudit --format json report; it lacks params, n_classes, issues, n_issues",
    ),
    (b'{"command": "rank", "issues": []}', "baseline comes from 'rank', not 'find-issues'"),
    (
        b'{"command": "find-issues", "params": {}, "n_classes": 3, "n_issues": 0, "issues": 3}',
        "baseline 'issues' must be a list of issue objects; got 3",
    ),
    (
        b'{"command": "find-issues", "params": {}, "n_classes": 3, "n_issues": 1, "issues": [3]}',
        "baseline issue 0 must be an object with an integer 'index'; got 3",
    ),
    (
        b'{"command": "find-issues", "params": {}, "n_classes": 3, "n_issues": 1, "issues": [{"index": "x"}]}',
        "baseline issue 0 must be an object with an integer 'index'; got {'index': 'x'}",
    ),
    (
        b'{"command": "find-issues", "params": {}, "n_classes": 3, "n_issues": 1, '
        b'"issues": [{"index": 1, "given_label": 0.5}]}',
        "baseline issue 0: 'given_label' must be an integer; got 0.5",
    ),
    (
        b'{"command": "find-issues", "params": {}, "n_classes": 3, "n_issues": 1, '
        b'"issues": [{"index": 1, "id": [1]}]}',
        "baseline issue 0: 'id' must be a string or a number; got [1]",
    ),
    (
        b'{"command": "find-issues", "params": [], "n_classes": 3, "n_issues": 0, "issues": []}',
        "baseline 'params' must be an object; got []",
    ),
    (
        b'{"command": "find-issues", "params": {}, "n_classes": "3", "n_issues": 0, "issues": []}',
        "baseline 'n_classes' must be an integer; got '3'",
    ),
    (
        b'{"command": "find-issues", "params": {}, "n_classes": 3, "n_issues": -1, "issues": []}',
        "baseline 'n_issues' must be an integer >= 0; got -1",
    ),
    (
        b'{"command": "find-issues", "params": {}, "n_classes": 3, "n_issues": 0, "issues": [], '
        b'"class_names": "abc"}',
        "baseline 'class_names' must be a list of strings; got 'abc'",
    ),
    (
        b'{"command": "find-issues", "params": {}, "n_classes": 3, "n_issues": 0, "issues": [], '
        b'"n_examples": 6.5}',
        "baseline 'n_examples' must be an integer; got 6.5",
    ),
]


@pytest.mark.parametrize(("data", "rule"), BASELINES, ids=range(len(BASELINES)))
def test_structurally_bad_baseline(runner, d, data, rule):
    (d / "base.json").write_bytes(data)
    fails(runner, [*FIND, "--baseline", "d/base.json"], f"Error: d/base.json: {rule}")


def test_a_good_baseline_still_reads(runner, d):
    report = runner.invoke(app, [*FIND, "--format", "json"])
    assert report.exit_code == 0, report.stderr
    (d / "base.json").write_text(report.stdout)
    again = runner.invoke(app, [*FIND, "--baseline", "d/base.json", "--format", "json"])
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["baseline"]["n_new"] == 0


# ---------------------------------------------------------------------------- token, multi-label, tables


@pytest.mark.parametrize(
    ("lines", "rule"),
    [
        (["[1, 2]"], "line 1: each line must be a JSON object (one sentence); got a list"),
        (
            ['{"labels": 3, "pred_probs": [[0.9, 0.1]]}'],
            "sentence 0: 'labels' must be a list (one tag per token); got 3",
        ),
        (
            ['{"labels": [0, 1], "pred_probs": [0.9, 0.1]}'],
            "sentence 0: 'pred_probs' must be a list of per-token probability lists; token 0 has 0.9",
        ),
        (
            ['{"labels": [0, null], "pred_probs": [[0.9, 0.1], [0.2, 0.8]]}'],
            "sentence 0, token 1: 'labels' must hold integer class ids, like its first tag; got None",
        ),
        (
            ['{"labels": [0, 2.5], "pred_probs": [[0.9, 0.1], [0.2, 0.8]]}'],
            "sentence 0, token 1: 'labels' must hold integer class ids, like its first tag; got 2.5",
        ),
        (
            ['{"labels": [0, "x"], "pred_probs": [[0.9, 0.1], [0.2, 0.8]]}'],
            "sentence 0, token 1: 'labels' must hold integer class ids, like its first tag; got 'x'",
        ),
        (
            ['{"labels": [0, 1e30], "pred_probs": [[0.9, 0.1], [0.2, 0.8]]}'],
            "sentence 0, token 1: 'labels' must hold integer class ids, like its first tag; got 1e+30",
        ),
        (
            [
                '{"labels": [0, 1], "pred_probs": [[0.9, 0.1], [0.2, 0.8]], "tokens": ["a", "b"]}',
                '{"labels": [1], "pred_probs": [[0.3, 0.7]]}',
            ],
            "sentence 1: 'tokens' must be a list of 1 token strings (one per tag); got nan",
        ),
    ],
    ids=[
        "list-line",
        "labels-not-list",
        "flat-probs",
        "null-tag",
        "float-tag",
        "mixed-tags",
        "huge-tag",
        "no-tokens",
    ],
)
def test_token_jsonl_of_the_wrong_shape(runner, d, lines, rule):
    (d / "s.jsonl").write_text("\n".join(lines) + "\n")
    args = ["find-issues", "--task", "token", "-l", "d/s.jsonl", "-p", "d/s.jsonl"]
    fails(runner, args, f"Error: d/s.jsonl: {rule}")


@pytest.mark.parametrize(
    ("cell", "rule"),
    [
        ("²", "class '²' is neither an integer nor a known class name; the cell holds '²'"),
        ("[-1, 2]", "class -1 is outside 0..2; the cell holds '[-1, 2]'"),
    ],
    ids=["superscript", "negative"],
)
def test_multilabel_cell(runner, d, cell, rule):
    pd.DataFrame(
        {"label": ["a", cell, "b,c"], "a": [0.9, 0.2, 0.7], "b": [0.1, 0.8, 0.6], "c": [0.3, 0.4, 0.2]}
    ).to_csv(d / "ml.csv", index=False)
    args = ["find-issues", "--task", "multilabel", "-l", "d/ml.csv", "-p", "d/ml.csv"]
    fails(runner, args, f"Error: d/ml.csv: row 1: {rule}")


@pytest.mark.parametrize("command", ["find-issues", "rank", "health"])
def test_multilabel_class_present_in_every_example_names_the_labels(runner, d, command):
    y = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 0, 0], [1, 1, 1], [1, 0, 0]])
    np.save(d / "ml_labels.npy", y)
    np.save(d / "ml_probs.npy", np.full((6, 3), 0.5))
    out = "d/out/r.json" if command == "health" else "d/out/r.csv"
    fails(
        runner,
        [command, "--task", "multilabel", "-l", "d/ml_labels.npy", "-p", "d/ml_probs.npy"],
        "Error: d/ml_labels.npy: class 0 is present in every example (all 6); its labels cannot be audited",
        out=out,
    )


@pytest.mark.parametrize("command", [["find-issues"], ["batched"]], ids=" ".join)
def test_parquet_list_column_given_as_labels(runner, d, command):
    df = pd.DataFrame({"label": [[0], [1, 2], [2], [0], [1], [2]], **{f"p{j}": P[:, j] for j in range(3)}})
    df.to_parquet(d / "t.parquet")
    fails(
        runner,
        [*command, "-l", "d/t.parquet", "-p", "d/t.parquet"],
        "Error: d/t.parquet: labels must hold one class per row; column 'label' holds lists (row 0: [0]); "
        "class lists are multi-label data (--task multilabel)",
    )


@pytest.mark.parametrize("command", [["find-issues"], ["batched"]], ids=" ".join)
def test_header_only_csv(runner, d, command):
    (d / "p.csv").write_text("p0,p1,p2\n")
    fails(
        runner,
        [*command, "-l", "d/labels.npy", "-p", "d/p.csv"],
        "Error: d/p.csv: pred_probs table is empty (0 rows); columns are ['p0', 'p1', 'p2']",
    )


def test_empty_parquet_in_batched(runner, d):
    pd.DataFrame({"label": Y, **{f"p{j}": P[:, j] for j in range(3)}}).iloc[:0].to_parquet(d / "t.parquet")
    fails(
        runner,
        ["batched", "-l", "d/t.parquet", "-p", "d/t.parquet"],
        "Error: d/t.parquet: pred_probs table is empty (0 rows); columns are ['label', 'p0', 'p1', 'p2']",
    )


@pytest.mark.parametrize("command", [["find-issues"], ["batched"]], ids=" ".join)
def test_bad_utf8_in_parquet_metadata(runner, d, command):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"label": Y, **{f"p{j}": P[:, j] for j in range(3)}})
    pq.write_table(table.replace_schema_metadata({b"pandas": b"\xff\xfe{"}), d / "t.parquet")
    fails(
        runner,
        [*command, "-l", "d/t.parquet", "-p", "d/t.parquet"],
        "Error: d/t.parquet: unreadable .parquet file: its 'pandas' metadata is not UTF-8 text "
        "(byte 0xff at offset 0)",
    )


def test_bad_json_in_parquet_metadata(runner, d):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"label": Y, **{f"p{j}": P[:, j] for j in range(3)}})
    pq.write_table(table.replace_schema_metadata({b"pandas": b"{oops"}), d / "t.parquet")
    fails(
        runner,
        ["find-issues", "-l", "d/t.parquet", "-p", "d/t.parquet"],
        "Error: d/t.parquet: unreadable .parquet file: its 'pandas' metadata is not valid JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
    )


@pytest.mark.parametrize("command", [["find-issues"], ["batched"]], ids=" ".join)
def test_csv_that_is_not_utf8(runner, d, command):
    (d / "t.csv").write_bytes(b"label,p0,p1\n0,0.5,0.5\n1,0.\xb05,0.5\n")
    fails(
        runner,
        [*command, "-l", "d/t.csv", "-p", "d/t.csv"],
        "Error: d/t.csv: unreadable .csv file: it is not UTF-8 text; byte 0xb0 at offset 26",
    )


# ---------------------------------------------------------------------------- labels


@pytest.mark.parametrize("command", [["find-issues"], ["batched"]], ids=" ".join)
def test_float_label_1e10(runner, d, command):
    np.save(d / "y.npy", np.array([0, 1e10, 2, 0, 1, 2]))
    fails(
        runner,
        [*command, "-l", "d/y.npy", "-p", "d/pred_probs.npy"],
        "Error: d/y.npy: labels must be in 0..2: 1 outside (first at row 1: 10000000000)",
    )


@pytest.mark.parametrize("command", [["find-issues"], ["batched"]], ids=" ".join)
def test_non_integer_label_gives_row_and_value(runner, d, command):
    np.save(d / "y.npy", np.array([0, 1, 2.5, 0, 1, 2]))
    fails(
        runner,
        [*command, "-l", "d/y.npy", "-p", "d/pred_probs.npy"],
        "Error: d/y.npy: labels must be integers; row 2 holds 2.5 (1 such rows)",
    )


@pytest.mark.parametrize("command", [["find-issues"], ["batched"]], ids=" ".join)
def test_mixed_type_labels_report_the_first_bad_row(runner, d, command):
    (d / "y.csv").write_text("label\n0\n1\n2\n0\nbird\n2\n")
    fails(
        runner,
        [*command, "-l", "d/y.csv", "-p", "d/pred_probs.npy"],
        "Error: d/y.csv: labels must be all integers or all class names; row 4 holds 'bird' but row 0 holds 0",
    )


# ---------------------------------------------------------------------------- .npy files


@pytest.mark.parametrize("command", [["find-issues"], ["batched"]], ids=" ".join)
def test_npy_header_corrupted_by_one_byte(runner, d, command):
    """Every byte of the header dict replaced by '(' (numpy's parser raised TokenError for some): each is
    an unreadable-file message naming the file, and none suggests allow_pickle."""
    data = (d / "pred_probs.npy").read_bytes()
    start, end = 10, data.index(b"}") + 1
    seen = set()
    for at in range(start, end):
        corrupt = bytearray(data)
        if corrupt[at] == ord("("):
            continue
        corrupt[at] = ord("(")
        (d / "bad.npy").write_bytes(bytes(corrupt))
        result = runner.invoke(app, [*command, "-l", "d/labels.npy", "-p", "d/bad.npy", "-o", "d/out/r.csv"])
        assert result.exit_code == 2, (at, result.stderr)
        assert result.stderr.startswith(
            f"Error: d/bad.npy: unreadable .npy file ({len(data)} bytes): the header"
        )
        assert result.stderr.count("\n") == 1 and "pickle" not in result.stderr
        assert os.listdir(d / "out") == []
        seen.add(result.stderr.split("): ", 1)[1].split(";")[0])
    assert len(seen) >= 2  # both the dict-literal and the key/value rules were hit


@pytest.mark.parametrize("command", [["find-issues"], ["batched"]], ids=" ".join)
def test_npy_bad_magic_never_suggests_unpickling(runner, d, command):
    data = (d / "pred_probs.npy").read_bytes()
    (d / "bad.npy").write_bytes(b"\x93NUMPZ" + data[6:])
    fails(
        runner,
        [*command, "-l", "d/labels.npy", "-p", "d/bad.npy"],
        f"Error: d/bad.npy: unreadable .npy file ({len(data)} bytes): a .npy file starts with "
        "b'\\x93NUMPY'; this one starts with b'\\x93NUMPZ'",
    )


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("command", [["find-issues"], ["batched"]], ids=" ".join)
def test_npy_symlink_to_dev_zero(runner, d, command):
    os.symlink("/dev/zero", d / "zero.npy")
    fails(
        runner,
        [*command, "-l", "d/labels.npy", "-p", "d/zero.npy"],
        "Error: d/zero.npy: pred_probs path is a character device, not a regular file",
    )


# ---------------------------------------------------------------------------- option values


def test_weights_that_are_not_numbers(runner, d):
    np.save(d / "p2.npy", P)
    args = [*FIND, "-p", "d/p2.npy", "--weights", "a,b"]
    fails(runner, args, "Error: --weights must be a comma list of numbers, got 'a,b'")


@pytest.mark.parametrize("value", ["nan,1", "-1,1", "0,0", "inf,1"])
def test_weights_that_are_not_usable(runner, d, value):
    np.save(d / "p2.npy", P)
    args = [*FIND, "-p", "d/p2.npy", "--weights", value]
    fails(runner, args, f"Error: --weights must be finite numbers >= 0, not all 0; got {value!r}")


@pytest.mark.parametrize("command", ["find-issues", "rank", "health", "batched"])
def test_n_jobs_zero_names_the_option(runner, d, command):
    out = "d/out/r.json" if command == "health" else "d/out/r.csv"
    fails(
        runner,
        [command, "-l", "d/labels.npy", "-p", "d/pred_probs.npy", "--n-jobs", "0"],
        "Error: --n-jobs must be -1 (one per core) or at least 1; got 0",
        out=out,
    )


@pytest.mark.parametrize("value", ["0", "0MB"])
def test_memory_limit_zero(runner, d, value):
    fails(
        runner,
        [*BATCHED, "--memory-limit", value],
        f"Error: --memory-limit must be at least 1MB (room for one block of rows); got {value!r}",
    )


@pytest.mark.parametrize(
    ("prior", "shown"),
    [("nan,1,1", "nan, 1.0, 1.0"), ("inf,1,1", "inf, 1.0, 1.0"), ("-1,1,1", "-1.0, 1.0, 1.0")],
)
def test_simulate_prior_that_is_not_positive(runner, d, prior, shown):
    fails(
        runner,
        ["simulate", "-o", "d/out", "--k", "3", "--n", "20", "--prior", prior],
        f"Error: --prior needs K=3 positive numbers, got [{shown}]",
        out=None,
    )


@pytest.mark.parametrize("trace", ["nan", "0.5", "4"])
def test_simulate_trace_out_of_range(runner, d, trace):
    fails(
        runner,
        ["simulate", "-o", "d/out", "--k", "3", "--n", "20", "--trace", trace],
        f"Error: --trace must be above 1 and at most K=3 (the noise matrix's trace); got {float(trace)}",
        out=None,
    )


def test_evaluate_scores_with_nan(runner, d):
    np.save(d / "scores.npy", np.array([0.1, np.nan, 0.3, 0.4, 0.5, 0.6]))
    fails(
        runner,
        ["evaluate", "-t", "d/labels.npy", "-l", "d/labels.npy", "--scores", "d/scores.npy"],
        "Error: d/scores.npy: scores must be finite; row 1 holds nan",
        out=None,
    )


def test_simulate_that_would_not_fit_on_the_disk(runner, d, monkeypatch):
    import shutil

    monkeypatch.setattr(
        shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 << 30, 10 << 30, 1 << 20)
    )
    fails(
        runner,
        ["simulate", "-o", "d/out", "--n", "100000000000000000000"],
        "Error: d/out: simulate would write 4.97e+06 PB (--n 100000000000000000000 x --k 10, float32); "
        "the folder has 1 MB free",
        out=None,
    )


def test_simulate_seed_must_not_be_negative(runner, d):
    result = runner.invoke(app, ["simulate", "-o", "d/out", "--n", "20", "--seed", "-1"])
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: Invalid value for '--seed': Input should be greater than or equal to 0\n"
    )
    assert os.listdir("d/out") == []


def test_chunk_size_beyond_n_is_one_chunk(runner, d):
    """A --chunk-size too large for a C long (once an OverflowError) means one chunk of all N rows."""
    docs = []
    for chunk in ("6", "99999999999999999999"):
        result = runner.invoke(app, [*BATCHED, "--chunk-size", chunk, "--format", "json"])
        assert result.exit_code == 0, result.stderr
        docs.append(json.loads(result.stdout)["issues"])
    assert docs[0] == docs[1]


# ---------------------------------------------------------------------------- signals (issue 18's reproduction)


@pytest.fixture(scope="module")
def million(tmp_path_factory) -> Path:
    """1,000,000 x 10 float32 pred_probs: `rank -o scores.csv` spends about a second writing the CSV."""
    return random_npy_set(tmp_path_factory.mktemp("million"), 1_000_000)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [(signal.SIGTERM, 143, "Interrupted (SIGTERM)"), (signal.SIGHUP, 129, "Interrupted (SIGHUP)")],
    ids=["SIGTERM", "SIGHUP"],
)
def test_signal_while_rank_writes_a_csv(million, tmp_path, sig, code, line):
    """`rank ... -o scores.csv & kill -TERM` once left a 21 MB `.scores.csv.*.tmp`: now the temporary goes,
    the old scores.csv stays as it was, one line on stderr, exit 128 + the signal."""
    old = tmp_path / "scores.csv"
    old.write_text("index,label_quality\n0,0.5\n")
    args = ["rank", "-l", million / "labels.npy", "-p", million / "pred_probs.npy", "-o", old, "--quiet"]
    r = signal_while_writing(args, tmp_path, sig, ENV, timeout=60)
    assert r.returncode == code, r.stderr
    assert r.stderr == line + "\n"
    assert old.read_text() == "index,label_quality\n0,0.5\n"
    assert sorted(os.listdir(tmp_path)) == ["scores.csv"]
