"""Progress on stderr: one bar per pass that ends at exactly 100% and fits the terminal, for the streamed
engine (any number of workers), simulate and large in-memory find-issues; none when stderr is not a
terminal, with --quiet or with NO_COLOR.

The bars are drawn by Rich on a console that records to a StringIO as a terminal would receive it;
`screen` replays that byte stream (the few control sequences a live display uses) into the lines a
terminal of that width would finally show."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console

from labelaudit.cli import app, render
from labelaudit.core import stream

CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07]*\x07|\r|\n|[^\x1b\r\n]+")


def screen(text: str) -> list[str]:
    """The non-blank lines a terminal shows after receiving `text`. Nothing wraps here, so a line that
    the program let run past the terminal's width stays as long as it was written."""
    lines, row, col = [""], 0, 0
    for m in CONTROL.finditer(text):
        token, code = m.group(0), m.group(2)
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
        elif code == "A":
            row = max(0, row - int(m.group(1) or 1))
        elif code == "K":
            lines[row] = "" if m.group(1) == "2" else lines[row][:col]
        elif code is None and not token.startswith("\x1b"):
            line = lines[row].ljust(col)
            lines[row] = line[:col] + token + line[col + len(token) :]
            col += len(token)
        while len(lines) <= row:
            lines.append("")
    return [line.rstrip() for line in lines if line.strip()]


def recording(width: int) -> Console:
    return Console(file=io.StringIO(), width=width, force_terminal=True, color_system="standard")


def blocks_of(labels, p, rows):
    def passes():
        for s in range(0, len(labels), rows):
            yield s, labels[s : s + rows], p[s : s + rows]

    return passes


def data(n=20_000, k=5, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(k, 0.5), size=n)
    labels = np.where(rng.random(n) < 0.8, p.argmax(axis=1), rng.integers(0, k, n))
    return labels, p


def check_final_lines(console: Console, names: list[str], n: int, width: int) -> list[str]:
    lines = screen(console.file.getvalue())
    assert len(lines) == len(names), lines  # one line per pass: no duplicate, stale or wrapped line
    for name, line in zip(names, lines, strict=True):
        assert line.startswith(name) and "100%" in line, lines
        assert len(line) <= width, (len(line), line)
    wide = all(f"{n:,}/{n:,} rows" in line and "rows/s" in line for line in lines)
    assert wide == (width >= 100), lines  # the count, rate and time only where they fit
    return lines


@pytest.mark.parametrize("width", [60, 120])
@pytest.mark.parametrize("n_jobs", [1, 2, 4])
def test_exact_engine_one_full_bar_per_pass(width, n_jobs):
    labels, p = data()
    n, k = p.shape
    names: list[str] = []
    console = recording(width)
    with render.PassProgress(n, enabled=True, console=console) as bar:

        def progress(name, rows):
            if name not in names:
                names.append(name)
            bar(name, rows)

        stream.exact_issue_rows(blocks_of(labels, p, 700), n, k, p.dtype, n_jobs=n_jobs, progress=progress)
    assert names[:3] == ["A: thresholds", "B: confident joint", "C: candidates"]
    check_final_lines(console, names, n, width)


@pytest.mark.parametrize("width", [60, 120])
def test_batched_engine_one_full_bar_per_pass(width):
    labels, p = data(n=30_001)
    n, k = p.shape
    console = recording(width)
    with render.PassProgress(n, enabled=True, console=console) as bar:
        stream.batched_issue_rows(
            blocks_of(labels, p, 997), n, k, adjust_pred_probs=True, n_jobs=2, progress=bar
        )
    check_final_lines(console, ["1: scores", "2: adjusted scores"], n, width)


def test_rows_are_reported_in_order_from_the_calling_thread():
    import threading

    labels, p = data(n=5000)
    seen = []
    stream.batched_issue_rows(
        blocks_of(labels, p, 300),
        *p.shape,
        n_jobs=4,
        progress=lambda name, rows: seen.append((name, rows, threading.current_thread())),
    )
    assert {t for *_, t in seen} == {threading.current_thread()}
    assert [r for _, r, _ in seen] == [0] + [300] * 16 + [200]  # 0 first: the bar shows as the pass starts


def test_disabled_progress_draws_nothing():
    console = recording(80)
    with render.PassProgress(10, enabled=False, console=console) as bar:
        bar("A: thresholds", 10)
    assert console.file.getvalue() == ""


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_enabled_only_on_a_terminal_without_quiet_or_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stderr", Tty())
    assert render.progress_enabled(quiet=False)
    assert not render.progress_enabled(quiet=True)
    # in memory a bar only for inputs large enough to take a while
    assert render.progress_enabled(False, elements=render.BAR_ELEMENTS + 1)
    assert not render.progress_enabled(False, elements=render.BAR_ELEMENTS)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not render.progress_enabled(quiet=False)
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not render.progress_enabled(quiet=False)


# ---------------------------------------------------------------------------- through the CLI


@pytest.fixture
def bars(monkeypatch):
    """Progress forced on, drawn on a 60-column recording console; the calls of progress_enabled kept."""
    console, calls = recording(60), []

    def enabled(quiet, elements=None):
        calls.append((quiet, elements))
        return not quiet

    monkeypatch.setattr(render, "progress_enabled", enabled)
    monkeypatch.setattr(render.PassProgress, "console", console)
    return console, calls


def test_simulate_shows_a_bar_over_the_rows_it_writes(runner, tmp_path, bars):
    console, _ = bars
    args = ["simulate", "-o", str(tmp_path), "--n", "5000", "--k", "4", "--batch-size", "700"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.stderr
    check_final_lines(console, ["writing pred_probs"], 5000, 60)
    runner.invoke(app, [*args, "--quiet"])
    assert len(screen(console.file.getvalue())) == 1  # --quiet: no second bar


def test_in_memory_find_issues_shows_its_passes_when_large(runner, tmp_path, bars, monkeypatch):
    from labelaudit.core import _noise_rate

    monkeypatch.setattr(_noise_rate, "DIRECT_ELEMENTS", 0)  # the candidates pass, as at large N x K
    console, calls = bars
    labels, p = data(n=40_000, k=10)
    np.save(tmp_path / "labels.npy", labels)
    np.save(tmp_path / "pred_probs.npy", p)
    args = ["find-issues", "-l", str(tmp_path / "labels.npy"), "-p", str(tmp_path / "pred_probs.npy")]
    res = runner.invoke(app, [*args, "--format", "json", "--batch-size", "3000"])
    assert res.exit_code == 0, res.stderr
    assert calls == [(False, 40_000 * 10)]  # the CLI asks with the size of the input
    check_final_lines(console, ["confident joint", "noise-rate candidates"], 40_000, 60)


NO_PTY = not hasattr(os, "openpty") or sys.platform == "win32"


def run_in_terminal(args, columns, env=()):
    """The real CLI with stderr on a pseudo-terminal `columns` wide; returns what the terminal got."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "TERM")}
    environ.update({"TERM": "xterm-256color", "COLUMNS": str(columns), **dict(env)})
    proc = subprocess.Popen(
        [sys.executable, "-m", "labelaudit", *args],
        stdout=subprocess.DEVNULL,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        env=environ,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(NO_PTY, reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [60, 120])
def test_batched_with_two_workers_in_a_real_terminal(tmp_path, columns):
    labels, p = data(n=200_000, k=10)
    np.save(tmp_path / "labels.npy", labels)
    np.save(tmp_path / "pred_probs.npy", p.astype(np.float32))
    args = ["batched", "-l", str(tmp_path / "labels.npy"), "-p", str(tmp_path / "pred_probs.npy")]
    args += ["--exact", "--n-jobs", "2", "--batch-size", "7000", "--format", "json"]
    lines = screen(run_in_terminal(args, columns))
    names = ["A: thresholds", "B: confident joint", "C: candidates", "D: short-cell margins"]
    shown = [next(name for name in names if line.startswith(name)) for line in lines]
    assert shown == names[: len(shown)] and len(shown) >= 3, lines  # each pass once, in order
    assert all("100%" in line and len(line) <= columns for line in lines), lines
    assert run_in_terminal([*args, "--quiet"], columns).strip() == ""
    assert run_in_terminal(args, columns, env={"NO_COLOR": "1"}).strip() == ""
