"""Plain helpers shared by several test modules (import them as ``from helpers import ...``; conftest.py
puts tests/ on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelaudit.cli import app

TESTS = Path(__file__).resolve().parent

# ------------------------------------- examples M and T (docs/algorithms.md, token/multi-label §3.7, §2.1)

Y_M = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 0, 0]])
P_M = np.array(
    [[0.9, 0.2, 0.1], [0.8, 0.1, 0.2], [0.3, 0.7, 0.6], [0.1, 0.2, 0.9], [0.7, 0.3, 0.2], [0.2, 0.1, 0.8]]
)
Y_T = np.array([0, 1, 2, 1, 1, 0, 2, 0])
P_T = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.2, 0.7, 0.1],
        [0.6, 0.1, 0.3],
        [0.1, 0.85, 0.05],
        [0.25, 0.15, 0.6],
        [0.7, 0.2, 0.1],
        [0.1, 0.1, 0.8],
        [0.35, 0.55, 0.1],
    ]
)
L_T = np.array([3, 2, 3])

# ---------------------------------------------------------------------------- health / overlap on cifar10

GOLDEN = TESTS / "golden" / "inputs"
CIFAR = GOLDEN / "cifar10"
L, P = str(CIFAR / "labels.npy"), str(CIFAR / "pred_probs.npy")
NAMES_FILE = TESTS.parent / "sample_data" / "cifar10" / "class_names.txt"
NAMES = NAMES_FILE.read_text().split()


def run(runner, *args, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (
        f"exit {result.exit_code}\nstdout: {result.stdout[:2000]}\nstderr: {result.stderr}"
    )
    return result


def writing_into(pid: int, folder) -> bool:
    """Does process `pid` hold a temporary of `folder` open: an unnamed one (O_TMPFILE, shown in /proc as
    `folder/#inode (deleted)`) or a named one (`.NAME.labelaudit-...tmp`)?"""
    import contextlib
    import glob
    import os

    if glob.glob(f"{folder}/.*.labelaudit-*.tmp"):
        return True
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            # an unnamed temporary only: once published, the same descriptor shows the output's own
            # name, and a signal then would race the run's normal exit (seen once: exit 0, no message)
            if link.startswith(f"{folder}/#") and link.endswith(" (deleted)"):
                return True
    return False


def random_npy_set(folder, n: int, k: int = 10):
    """`folder` with labels.npy and float32 pred_probs.npy of n random rows (seed 0): inputs large enough
    that a run takes about a second, long enough to signal it mid-write. Returns the folder."""
    rng = np.random.default_rng(0)
    p = rng.random((n, k), dtype=np.float32)
    p /= p.sum(axis=1, keepdims=True)
    np.save(folder / "pred_probs.npy", p, allow_pickle=False)
    np.save(folder / "labels.npy", rng.integers(0, k, len(p)), allow_pickle=False)
    return folder


def default_signals() -> None:
    """preexec_fn of a child a test interrupts: SIGINT, SIGTERM and SIGHUP at their defaults, whatever the
    test runner inherited (a background job has SIGINT ignored, nohup SIGHUP; labelaudit keeps an ignored
    signal ignored, as a program started under nohup should)."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def signal_while_writing(args: list, folder, sig: int, env: dict, timeout: float = 30):
    """Run `python -m labelaudit ARGS`, wait until it writes a temporary into `folder` (writing_into),
    send `sig`, and return the CompletedProcess (stderr text) once it has exited."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "labelaudit", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_signals,
    )
    deadline = time.monotonic() + timeout
    try:
        while not writing_into(proc.pid, folder):
            assert proc.poll() is None, f"finished before its temporary appeared: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.002)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
