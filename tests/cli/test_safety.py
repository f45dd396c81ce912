"""Safety (README, "Exit codes and errors"; issues 12 and 18): outputs never overwrite inputs, non-regular
inputs are refused without being opened, one run's outputs are published together, signals clean up,
replaced outputs keep their permission bits, and a closed stdout pipe ends a run quietly.

Each failure is checked the way tests/cli/test_errors.py checks bad input: exit code, the exact
`Error: ...` line on stderr, no traceback, the inputs unchanged and no output or temporary file left."""

from __future__ import annotations

import errno
import os
import shlex
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import random_npy_set, signal_while_writing

from labelaudit.cli import app
from labelaudit.io import outputs

Y = np.array([0, 1, 2, 0, 1, 2])
P = np.array(
    [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]]
)
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
ENV.pop("FORCE_COLOR", None)


@pytest.fixture
def d(tmp_path, monkeypatch) -> Path:
    """tmp_path/d with labels.npy, pred_probs.npy, a table t.csv holding both, and an empty d/sub; the
    tests run in tmp_path so that paths read as in the issue (d/labels.npy)."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "d"
    (folder / "sub").mkdir(parents=True)
    np.save(folder / "labels.npy", Y, allow_pickle=False)
    np.save(folder / "pred_probs.npy", P, allow_pickle=False)
    table = pd.DataFrame({"label": Y, **{f"prob_{j}": P[:, j] for j in range(3)}})
    table.to_csv(folder / "t.csv", index=False)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def temporaries(*folders) -> list[str]:
    return [n for f in folders for n in os.listdir(f) if n.startswith(".") or n.endswith(".tmp")]


def expect_refused(runner, args: list, line: str, *, code: int = 2, folders=(Path("d"),)) -> None:
    """The run fails with `code`, stderr is exactly `line`, nothing under `folders` changed."""
    before = {str(f): snapshot(Path(f)) for f in folders}
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (
        f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    assert result.stderr == line + "\n", result.stderr
    assert result.stdout == ""
    for f in folders:
        assert snapshot(Path(f)) == before[str(f)], f"{f} changed"
        assert temporaries(f) == []


def cli(*args, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    """`python -m labelaudit ARGS` in a subprocess (a run that would hang is killed, failing the test)."""
    return subprocess.run(
        [sys.executable, "-m", "labelaudit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        **kw,
    )


FIND = ["find-issues", "-l", "d/labels.npy", "-p", "d/pred_probs.npy"]


# ---------------------------------------------------------------------------- outputs that are inputs


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            [*FIND, "-o", "d/labels.npy"],
            "Error: d/labels.npy: --output would overwrite the input d/labels.npy (--labels)",
        ),
        (
            [*FIND, "-o", "d/sub/../pred_probs.npy"],
            "Error: d/sub/../pred_probs.npy: --output would overwrite the input d/pred_probs.npy (--pred-probs)",
        ),
        (
            ["find-issues", "-l", "d/t.csv", "-p", "d/t.csv", "-o", "d/t.csv"],
            "Error: d/t.csv: --output would overwrite the input d/t.csv (--labels)",
        ),
        (
            ["rank", "-l", "d/labels.npy", "-p", "d/pred_probs.npy", "-o", "d/pred_probs.npy"],
            "Error: d/pred_probs.npy: --output would overwrite the input d/pred_probs.npy (--pred-probs)",
        ),
        (
            ["batched", "-l", "d/labels.npy", "-p", "d/pred_probs.npy", "--scores-out", "d/pred_probs.npy"],
            "Error: d/pred_probs.npy: --scores-out would overwrite the input d/pred_probs.npy (--pred-probs)",
        ),
        (
            ["health", "-l", "d/labels.npy", "-p", "d/pred_probs.npy", "--plot", "d/sub/../labels.npy"],
            "Error: d/sub/../labels.npy: --plot would overwrite the input d/labels.npy (--labels)",
        ),
    ],
    ids=["same-path", "dotdot", "table-both-inputs", "rank", "batched-scores-out", "health-plot"],
)
def test_output_that_is_an_input_is_refused(runner, d, args, line):
    expect_refused(runner, args, line)


def test_output_hard_link_to_an_input_is_refused(runner, d):
    os.link(d / "labels.npy", d / "hard.npy")
    expect_refused(
        runner,
        [*FIND, "-o", "d/hard.npy"],
        "Error: d/hard.npy: --output would overwrite the input d/labels.npy (--labels)",
    )


def test_output_symlink_to_an_input_is_refused(runner, d):
    (d / "link.npy").symlink_to("pred_probs.npy")
    expect_refused(
        runner,
        [*FIND, "-o", "d/link.npy"],
        "Error: d/link.npy: --output would overwrite the input d/pred_probs.npy (--pred-probs)",
    )


def test_output_that_is_another_input_option_is_refused(runner, d):
    (d / "names.csv").write_text("a\nb\nc\n")
    expect_refused(
        runner,
        [*FIND, "--class-names", "d/names.csv", "-o", "d/names.csv"],
        "Error: d/names.csv: --output would overwrite the input d/names.csv (--class-names)",
    )


def test_collision_is_refused_before_anything_is_read(runner, d):
    # pred_probs is garbage: had it been read, the error would be about it.
    (d / "bad.npy").write_bytes(b"not a numpy file")
    expect_refused(
        runner,
        ["find-issues", "-l", "d/labels.npy", "-p", "d/bad.npy", "-o", "d/labels.npy"],
        "Error: d/labels.npy: --output would overwrite the input d/labels.npy (--labels)",
    )


def test_two_outputs_that_are_one_file_are_refused(runner, d):
    expect_refused(
        runner,
        [
            "batched",
            "-l",
            "d/labels.npy",
            "-p",
            "d/pred_probs.npy",
            "-o",
            "d/s.npy",
            "--scores-out",
            "d/s.npy",
        ],
        "Error: d/s.npy: --output and --scores-out name the same file; give each output its own path",
    )
    expect_refused(
        runner,
        [
            "batched",
            *["-l", "d/labels.npy", "-p", "d/pred_probs.npy"],
            *["-o", "d/s.npy", "--scores-out", "d/sub/../s.npy"],
        ],
        "Error: d/s.npy: --output and --scores-out (d/sub/../s.npy) name the same file; give each output its own path",
    )


def test_stdout_is_never_a_file(runner, d):
    result = runner.invoke(app, [*FIND, "-o", "-"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("index,")


# ---------------------------------------------------------------------------- non-regular inputs


@pytest.mark.parametrize("command", ["find-issues", "batched"])
@pytest.mark.parametrize("role", ["-l", "-p"])
@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_fifo_input_is_refused_not_waited_on(d, command, role, suffix):
    fifo = f"d/fifo{suffix}"
    os.mkfifo(fifo)
    labels, probs = (fifo, "d/pred_probs.npy") if role == "-l" else ("d/labels.npy", fifo)
    r = cli(command, "-l", labels, "-p", probs, "-o", "d/out.csv", timeout=30)
    name = "labels" if role == "-l" else "pred_probs"
    assert r.returncode == 2, r.stderr
    assert r.stderr == f"Error: {fifo}: {name} path is a FIFO (named pipe), not a regular file\n"
    assert r.stdout == ""
    assert not os.path.exists("d/out.csv") and temporaries("d") == []


def test_character_device_input_is_refused(d):
    (d / "zero.npy").symlink_to("/dev/zero")
    r = cli(*FIND[:3], "-p", "d/zero.npy")
    assert r.returncode == 2
    assert r.stderr == "Error: d/zero.npy: pred_probs path is a character device, not a regular file\n"


def test_directory_input_is_refused(runner, d):
    expect_refused(
        runner,
        ["find-issues", "-l", "d/sub", "-p", "d/pred_probs.npy"],
        "Error: d/sub: labels path is a directory, not a file",
    )


# ---------------------------------------------------------------------------- outputs checked up front


def test_output_checks_before_the_work(runner, d):
    health = ["health", "-l", "d/labels.npy", "-p", "d/pred_probs.npy"]
    expect_refused(
        runner,
        [*health, "-o", "d/h.json", "--plot", "nodir/p.png"],
        "Error: nodir/p.png: --plot folder 'nodir' does not exist",
    )
    (d / "x.csv").mkdir()
    batched = ["batched", "-l", "d/labels.npy", "-p", "d/pred_probs.npy"]
    expect_refused(
        runner,
        [*batched, "--scores-out", "d/s.npy", "-o", "d/x.csv"],
        "Error: d/x.csv: --output is a directory, not a file",
    )
    long = "d/" + "x" * 300 + ".csv"
    expect_refused(
        runner,
        [*FIND, "-o", long],
        f"Error: {long}: --output file name is too long (304 bytes; the limit is 255)",
    )
    os.mkfifo(d / "out.csv")
    expect_refused(
        runner,
        [*FIND, "-o", "d/out.csv"],
        "Error: d/out.csv: --output is a FIFO (named pipe), not a regular file",
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_read_only_output_folder(runner, d):
    (d / "ro").mkdir()
    os.chmod(d / "ro", 0o555)
    try:
        expect_refused(
            runner, [*FIND, "-o", "d/ro/x.csv"], "Error: d/ro/x.csv: --output folder 'd/ro' is not writable"
        )
    finally:
        os.chmod(d / "ro", 0o755)


# ---------------------------------------------------------------------------- published together


def test_late_failure_publishes_nothing(runner, d, monkeypatch):
    """health writes h.json, then the plot fails (disk full): h.json must not appear."""
    pytest.importorskip("matplotlib")
    import matplotlib.figure

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    expect_refused(
        runner,
        ["health", "-l", "d/labels.npy", "-p", "d/pred_probs.npy", "-o", "d/h.json", "--plot", "d/p.png"],
        "Error: d/p.png: cannot write the output: No space left on device",
    )


def test_simulate_on_a_full_disk_publishes_nothing(runner, d, monkeypatch):
    """pred_probs.npy and labels.npy are written, then true_labels.npy fails: none of them appears."""
    real_header, calls = np.lib.format.write_array_header_1_0, []

    def header(*args, **kwargs):  # every .npy output starts with its header
        calls.append(1)
        if len(calls) == 3:  # pred_probs.npy, labels.npy, then true_labels.npy
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_header(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array_header_1_0", header)
    out = d / "sim"
    out.mkdir()
    expect_refused(
        runner,
        ["simulate", "-o", out, "--n", 50, "--k", 3, "--quiet"],
        f"Error: {out}/true_labels.npy: cannot write the output: No space left on device",
        folders=(out,),
    )
    assert os.listdir(out) == []


def test_failed_gate_still_publishes(runner, many, tmp_path):
    """CI wants the outputs of a run whose gate failed: exit 1, and the outputs are there."""
    out = tmp_path / "out.npy"
    result = runner.invoke(
        app, ["find-issues", "-l", many[0], "-p", many[1], "-o", str(out), "--max-issues", "0", "-q"]
    )
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("Gate failed: max_issues: ") and result.stderr.count("\n") == 1
    assert len(np.load(out)) > 0 and temporaries(tmp_path) == []


def test_all_outputs_of_a_run_appear(runner, d):
    result = runner.invoke(
        app,
        [
            "batched",
            "-l",
            "d/labels.npy",
            "-p",
            "d/pred_probs.npy",
            "-o",
            "d/x.csv",
            "--scores-out",
            "d/s.npy",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert (d / "x.csv").is_file() and np.load(d / "s.npy").shape == (6,)
    assert temporaries(d) == []


# ---------------------------------------------------------------------------- permissions


def test_replaced_output_keeps_its_mode_new_output_gets_umask(runner, d):
    target = d / "scores.npy"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    args = ["rank", "-l", "d/labels.npy", "-p", "d/pred_probs.npy", "--quiet"]
    result = runner.invoke(app, [*args, "-o", str(target)])
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert np.load(target).shape == (6,)
    old = os.umask(0o027)
    try:
        result = runner.invoke(app, [*args, "-o", "d/new.npy"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(os.stat(d / "new.npy").st_mode) == 0o640


# ---------------------------------------------------------------------------- signals


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """3,000,000 x 10 float32 pred_probs: `batched` takes about a second on it, long enough to signal."""
    return random_npy_set(tmp_path_factory.mktemp("big"), 3_000_000)


def start_and_signal(big: Path, out: Path, sig: int) -> subprocess.CompletedProcess:
    """Start `batched --scores-out out/s.npy`, wait for its temporary file, send `sig`."""
    args = ["batched", "-l", big / "labels.npy", "-p", big / "pred_probs.npy", "--scores-out", out / "s.npy"]
    return signal_while_writing([*args, "--quiet"], out, sig, ENV)


@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [
        (signal.SIGTERM, 143, "Interrupted (SIGTERM)"),
        (signal.SIGHUP, 129, "Interrupted (SIGHUP)"),
        (signal.SIGINT, 130, "Interrupted"),
    ],
    ids=["SIGTERM", "SIGHUP", "SIGINT"],
)
def test_signal_mid_write_removes_the_temporary(big, tmp_path, sig, code, line):
    old = tmp_path / "s.npy"
    np.save(old, np.arange(5.0))
    before = old.read_bytes()
    r = start_and_signal(big, tmp_path, sig)
    assert r.returncode == code, r.stderr
    assert r.stderr == line + "\n"
    assert old.read_bytes() == before
    assert temporaries(tmp_path) == []


def test_sigkill_keeps_the_old_output_and_leaves_no_temporary(big, tmp_path, d):
    """SIGKILL cannot be handled, yet nothing is left: the temporary is an unnamed file (O_TMPFILE) that
    disappears with the process. The old output is intact, and the next run writes it as usual."""
    old = tmp_path / "s.npy"
    np.save(old, np.arange(5.0))
    before = old.read_bytes()
    r = start_and_signal(big, tmp_path, signal.SIGKILL)
    assert r.returncode == -signal.SIGKILL
    assert old.read_bytes() == before
    assert temporaries(tmp_path) == []
    r = cli("batched", "-l", d / "labels.npy", "-p", d / "pred_probs.npy", "--scores-out", old, "--quiet")
    assert r.returncode == 0, r.stderr
    assert temporaries(tmp_path) == []
    assert np.load(old).shape == (6,)


def test_named_temporaries_of_a_killed_run_are_removed_by_the_next(tmp_path, d):
    """Where the filesystem has no unnamed files the temporary is named: a dead run's one (its pid is gone)
    is removed by the next run that writes the same output."""
    old = tmp_path / "s.npy"
    np.save(old, np.arange(5.0))
    dead = tmp_path / f".s.npy.labelaudit-{outputs.HOST}-999999999-abcd1234.tmp"
    dead.write_bytes(b"partial")
    r = cli("batched", "-l", d / "labels.npy", "-p", d / "pred_probs.npy", "--scores-out", old, "--quiet")
    assert r.returncode == 0, r.stderr
    assert temporaries(tmp_path) == []


# ---------------------------------------------------------------------------- closed stdout pipe


@pytest.fixture
def many(tmp_path) -> tuple[str, str]:
    """20,000 examples with random predictions: a listing of about 1 MB, far more than a pipe buffers."""
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(4), size=20_000)
    np.save(tmp_path / "l.npy", rng.integers(0, 4, len(p)))
    np.save(tmp_path / "p.npy", p)
    return str(tmp_path / "l.npy"), str(tmp_path / "p.npy")


def pipe_to_head(args: list, head: str = "-1") -> subprocess.CompletedProcess:
    cmd = shlex.join([sys.executable, "-m", "labelaudit", *map(str, args)])
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {cmd} | head {head} >/dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )


@pytest.mark.parametrize(
    "extra", [["--format", "csv"], ["--format", "json"], ["-o", "-"]], ids=["csv", "json", "output-dash"]
)
def test_closed_stdout_pipe_ends_quietly(many, extra):
    r = pipe_to_head(["find-issues", "-l", many[0], "-p", many[1], *extra])
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""


def test_closed_stdout_pipe_keeps_the_gate_verdict_and_outputs(many, tmp_path):
    out = tmp_path / "scores.npy"
    r = pipe_to_head(["rank", "-l", many[0], "-p", many[1], "--format", "csv", "-o", out])
    assert (r.returncode, r.stderr) == (0, "")
    assert np.load(out).shape == (20_000,)
    r = pipe_to_head(["find-issues", "-l", many[0], "-p", many[1], "--format", "csv", "--max-issues", "0"])
    assert r.returncode == 1
    assert r.stderr.startswith("Gate failed: max_issues: ") and r.stderr.count("\n") == 1


def test_closed_stdout_pipe_on_help(many):
    r = pipe_to_head(["find-issues", "--help"])
    assert (r.returncode, r.stderr) == (0, "")
