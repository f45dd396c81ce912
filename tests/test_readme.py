"""The README's console sessions are real: each `$ ` command runs in a terminal (a pseudo-terminal of 100
columns, NO_COLOR) in a scratch folder holding `sample_data/`, one after the other, and prints exactly what
the README shows under it (trailing spaces and the blank lines between commands aside)."""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SESSIONS = ("## A session on sample_data/", "### Is it working on my data?")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # NO_COLOR drops colours; bold and dim may stay


def session(heading: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs of the first console block after `heading`."""
    text = README.split(heading + "\n", 1)[1]
    block = text.split("```console\n", 1)[1].split("\n```", 1)[0]
    pairs: list[tuple[str, list[str]]] = []
    lines = iter(block.splitlines())
    for line in lines:
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1] + next(lines).strip()
            pairs.append((command, []))
        else:
            pairs[-1][1].append(line)
    return [(command, tidy("\n".join(out))) for command, out in pairs]


def tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def in_terminal(command: str, cwd: Path, env: dict, columns: int = 100) -> str:
    """stdout and stderr of `command` (bash) as a 100-column terminal shows them."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(
        ["bash", "-c", command], cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 1 << 16)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(leader)
    return ANSI.sub("", b"".join(chunks).decode().replace("\r\n", "\n"))


@pytest.fixture(scope="module")
def terminal(tmp_path_factory):
    """A scratch folder with sample_data/ and a `labelaudit` on PATH that runs this checkout."""
    work = tmp_path_factory.mktemp("readme")
    (work / "sample_data").symlink_to(ROOT / "sample_data")
    bin_dir = work / ".bin"
    bin_dir.mkdir()
    script = bin_dir / "labelaudit"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m labelaudit "$@"\n')
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS", "TERMINAL_WIDTH")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", COLUMNS="100", LINES="50", NO_COLOR="1")
    env.update(TERM="xterm", PYTHONPATH=os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]))
    return work, env


def test_sessions_are_parsed():
    first, second = (session(h) for h in SESSIONS)
    assert len(first) >= 6 and first[0][0].startswith("labelaudit find-issues -l sample_data/")
    simulate = "labelaudit simulate -o sim/ --n 20000 --k 10 --noise-rate 0.15 --seed 1"
    assert [c for c, _ in second][:2] == ["mkdir -p sim", simulate]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
@pytest.mark.parametrize("heading", SESSIONS)
def test_console_session_output_is_verbatim(terminal, heading):
    work, env = terminal
    code = 0
    for command, expected in session(heading):
        # `(exit N)` hands the previous command's exit code to `echo $?`, as in one shell session.
        out = in_terminal(f'(exit {code}); {command}; echo "[exit $?]"', work, env)
        out, _, status = out.rstrip("\n").rpartition("[exit ")
        code = int(status.rstrip("]"))
        assert tidy(out) == expected, f"$ {command}"
