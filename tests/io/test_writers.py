"""labelaudit.io writers: every format, and atomicity (a failure leaves no file and no temp file)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from labelaudit.errors import InputError
from labelaudit.io import atomic_path, check_output_path, outputs, write_json, write_npy, write_rows

COLS = {
    "index": np.array([7, 2, 5], dtype=np.int64),
    "given_label": np.array([0, 1, 1], dtype=np.int64),
    "predicted_label": np.array([1, 0, 2], dtype=np.int64),
    "label_quality": np.array([0.1, 1 / 3, 0.5]),
    "is_label_issue": np.array([True, True, False]),
}


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".json", ".jsonl"])
def test_write_rows_round_trip(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    write_rows(str(path), COLS)
    if suffix == ".parquet":
        df = pd.read_parquet(path)
    elif suffix == ".json":
        df = pd.DataFrame(json.loads(path.read_text()))
    elif suffix == ".jsonl":
        df = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    else:
        df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    assert list(df.columns) == list(COLS)
    for k, v in COLS.items():
        np.testing.assert_array_equal(df[k].to_numpy(), v, err_msg=k)  # floats round-trip exactly
    assert listing(tmp_path) == [f"out{suffix}"]


def test_write_npy_and_json(tmp_path):
    write_npy(str(tmp_path / "a.npy"), np.array([3, 1], dtype=np.int64))
    got = np.load(tmp_path / "a.npy")
    assert got.dtype == np.int64 and got.tolist() == [3, 1]
    write_json(str(tmp_path / "r.json"), {"n": np.int64(3), "v": np.array([0.5]), "s": "x"})
    assert json.loads((tmp_path / "r.json").read_text()) == {"n": 3, "v": [0.5], "s": "x"}
    assert listing(tmp_path) == ["a.npy", "r.json"]


def test_atomic_path_success_replaces_existing(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(str(target)) as tmp:
        # in the output's folder (an unnamed file through /proc/self/fd, or a named one beside it): the
        # rename that publishes it stays on one filesystem, so it is atomic
        assert os.stat(tmp).st_dev == os.stat(tmp_path).st_dev
        with open(tmp, "w") as f:
            f.write("new")
        assert target.read_text() == "old"  # nothing visible before the rename
    assert target.read_text() == "new"
    assert listing(tmp_path) == ["out.txt"]


def test_atomic_path_failure_mid_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError, match="boom"), atomic_path(str(target)) as tmp:
        with open(tmp, "w") as f:
            f.write("partial")
        raise RuntimeError("boom")
    assert listing(tmp_path) == []


def test_atomic_path_failure_keeps_previous_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("previous")
    with pytest.raises(KeyboardInterrupt), atomic_path(str(target)) as tmp:
        with open(tmp, "w") as f:
            f.write("partial")
        raise KeyboardInterrupt
    assert target.read_text() == "previous"
    assert listing(tmp_path) == ["out.csv"]


def test_json_outputs_are_strict_json(tmp_path):
    # NaN is null, never the bare NaN token that strict parsers (jq, browsers, Go, Rust) refuse.
    write_json(str(tmp_path / "r.json"), {"q": float("nan"), "v": np.array([np.nan, 0.5])})
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and json.loads(text) == {"q": None, "v": [None, 0.5]}
    write_rows(str(tmp_path / "r.jsonl"), {"index": np.array([0, 1]), "s": np.array([np.nan, np.inf])})
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"index": 0, "s": None}, {"index": 1, "s": None}]


def test_write_json_failing_mid_document_leaves_nothing(tmp_path):
    # A value JSON cannot hold (a set) fails the document before any byte reaches the file.
    with pytest.raises(TypeError):
        write_json(str(tmp_path / "r.json"), {"a": list(range(1000)), "b": {1, 2}})
    assert listing(tmp_path) == []


def test_write_rows_parquet_failure_leaves_nothing(tmp_path):
    bad = dict(COLS)
    bad["label_quality"] = np.array([0.5, "x", object()], dtype=object)  # pyarrow cannot convert this
    with pytest.raises(Exception):  # noqa: B017  (pyarrow's error type is not ours to pin)
        write_rows(str(tmp_path / "out.parquet"), bad)
    assert listing(tmp_path) == []


def test_write_rows_unknown_suffix_leaves_nothing(tmp_path):
    with pytest.raises(InputError, match=r"\.xyz"):
        write_rows(str(tmp_path / "out.xyz"), COLS)
    assert listing(tmp_path) == []


def test_writers_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_npy(str(tmp_path / "nope" / "a.npy"), np.arange(3))
    assert listing(tmp_path) == []


def test_check_output_path(tmp_path):
    check_output_path("-", (".npy",))
    check_output_path(str(tmp_path / "a.npy"), (".npy", ".csv"))
    check_output_path(str(tmp_path / "A.CSV"), (".npy", ".csv"))  # suffixes are case-insensitive
    with pytest.raises(InputError, match=r"'\.txt'"):
        check_output_path(str(tmp_path / "a.txt"), (".npy", ".csv"))
    with pytest.raises(InputError, match=r"'\(none\)'"):
        check_output_path(str(tmp_path / "a"), (".npy",))
    with pytest.raises(InputError, match="output folder .* does not exist"):
        check_output_path(str(tmp_path / "missing" / "a.npy"), (".npy",))


# ---------------------------------------------------------------------------- one run, one publication


def test_publish_together_defers_every_rename_to_the_end(tmp_path):
    from labelaudit.io import outputs

    (tmp_path / "a.json").write_text("old")
    with outputs.publish_together() as run:
        write_json(str(tmp_path / "a.json"), {"x": 1})
        write_npy(str(tmp_path / "b.npy"), np.arange(3))
        assert (tmp_path / "a.json").read_text() == "old"  # nothing visible before the run ends
        assert not (tmp_path / "b.npy").exists()
        assert sorted(os.path.basename(p) for p in run.pending) == ["a.json", "b.npy"]
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert np.load(tmp_path / "b.npy").tolist() == [0, 1, 2]
    assert listing(tmp_path) == ["a.json", "b.npy"]


def test_publish_together_failure_publishes_nothing(tmp_path):
    from labelaudit.io import outputs
    from labelaudit.io.writers import NpyStreamWriter

    (tmp_path / "a.json").write_text("old")
    with pytest.raises(RuntimeError, match="late"), outputs.publish_together():
        write_json(str(tmp_path / "a.json"), {"x": 1})
        with NpyStreamWriter(str(tmp_path / "s.npy"), (2,), np.float64) as w:
            w.write(np.array([0.5, 0.25]))
        raise RuntimeError("late")
    assert (tmp_path / "a.json").read_text() == "old"
    assert listing(tmp_path) == ["a.json"]


def test_publish_together_commit_then_exception_keeps_the_outputs(tmp_path):
    """What the CLI does for a failed gate: commit, then let the exception rise."""
    from labelaudit.io import outputs

    with pytest.raises(RuntimeError), outputs.publish_together() as run:
        write_npy(str(tmp_path / "a.npy"), np.arange(2))
        run.commit()
        raise RuntimeError("gate")
    assert listing(tmp_path) == ["a.npy"]


def test_publish_together_nested_joins_the_outer_run(tmp_path):
    from labelaudit.io import outputs

    with outputs.publish_together() as outer:
        with outputs.publish_together() as inner:
            write_npy(str(tmp_path / "a.npy"), np.arange(2))
        assert inner is outer and not (tmp_path / "a.npy").exists()
    assert listing(tmp_path) == ["a.npy"]


def test_output_that_became_a_directory_fails_the_whole_commit(tmp_path):
    from labelaudit.io import outputs

    with pytest.raises(InputError, match="b.csv: output path is a directory"), outputs.publish_together():
        write_npy(str(tmp_path / "a.npy"), np.arange(2))
        write_rows(str(tmp_path / "b.csv"), COLS)
        (tmp_path / "b.csv").mkdir()
    assert listing(tmp_path) == ["b.csv"]  # no a.npy, no temporary


def test_replaced_file_keeps_its_mode_new_file_gets_the_umask(tmp_path):
    import stat

    target = tmp_path / "a.npy"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    write_npy(str(target), np.arange(2))
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    old = os.umask(0o077)
    try:
        write_npy(str(tmp_path / "new.npy"), np.arange(2))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.npy").st_mode) == 0o600
    os.umask(0o022)
    try:
        write_json(str(tmp_path / "r.json"), {})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode) == 0o644


def test_disk_full_names_the_output(tmp_path, monkeypatch):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array_header_1_0", full)  # what write_npy writes first
    target = str(tmp_path / "a.npy")
    with pytest.raises(InputError) as info:
        write_npy(target, np.arange(2))
    assert str(info.value) == f"{target}: cannot write the output: No space left on device"
    assert listing(tmp_path) == []


def test_output_folder_not_writable_names_the_output(tmp_path, monkeypatch):
    import errno
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    monkeypatch.setattr(outputs, "_unnamed_temp", lambda folder: None)  # the named-temporary route
    target = str(tmp_path / "a.npy")
    with pytest.raises(InputError) as info:
        write_npy(target, np.arange(2))
    assert (
        str(info.value) == f"{target}: cannot write to the output folder {str(tmp_path)!r}: Permission denied"
    )


def test_temporary_names_and_stale_temporaries(tmp_path):
    import subprocess
    import sys

    from labelaudit.io import outputs

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    prefix = outputs.temp_prefix("s.npy")
    stale = tmp_path / f"{prefix}{outputs.HOST}-{dead_pid}-abc123.tmp"
    live = tmp_path / f"{prefix}{outputs.HOST}-{os.getppid()}-abc123.tmp"  # a running process's
    other = tmp_path / f"{outputs.temp_prefix('other.npy')}{outputs.HOST}-{dead_pid}-abc123.tmp"
    foreign = tmp_path / f"{prefix}00000000-{dead_pid}-abc123.tmp"  # another host's, fresh
    for p in (stale, live, other, foreign):
        p.write_bytes(b"partial")
    write_npy(str(tmp_path / "s.npy"), np.arange(2))
    assert not stale.exists()
    assert live.exists() and other.exists() and foreign.exists()
    old = os.stat(foreign).st_mtime - outputs.FOREIGN_STALE_S - 60
    os.utime(foreign, (old, old))
    write_npy(str(tmp_path / "s.npy"), np.arange(2))
    assert not foreign.exists()


def test_temporary_name_of_a_long_output_name_fits(tmp_path):
    name = "x" * 250 + ".npy"  # 254 bytes: the temporary's name must stay within 255 too
    write_npy(str(tmp_path / name), np.arange(2))
    assert listing(tmp_path) == [name]


def test_npy_stream_writer_late_write_at_writes_nothing(tmp_path):
    from labelaudit.io.writers import NpyStreamWriter

    w = NpyStreamWriter(str(tmp_path / "s.npy"), (4,), np.float64)
    with pytest.raises(RuntimeError), w:
        w.write_at(0, np.array([1.0, 2.0]))
        raise RuntimeError("interrupted")
    w.write_at(2, np.array([3.0, 4.0]))  # a worker still running after the writer closed: ignored
    assert listing(tmp_path) == []
