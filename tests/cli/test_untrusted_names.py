"""Names and ids from the data never act on the terminal, the XML or the CI log: Rich markup in a class
name prints as itself, and any control byte in an id leaves JUnit XML well-formed and GitHub annotations
free of raw control bytes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from labelaudit.cli import app

NAMES = ["[PAD]", "[/]", "[link=https://evil.example]ok[/link]", "[bold]x"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("names")
    rng = np.random.default_rng(5)
    n = 200
    y = rng.integers(0, 4, n)
    p = rng.dirichlet(np.ones(4), n) * 0.5 + np.eye(4)[rng.integers(0, 4, n)] * 0.5
    np.save(d / "y.npy", y)
    np.save(d / "p.npy", p)
    (d / "names.txt").write_text("\n".join(NAMES) + "\n")
    # every byte 0-31 and 127 in some id (the table keeps them: ids are data)
    ids = [f"id{i}" + chr(i % 32) + (chr(127) if i % 7 == 0 else "") for i in range(n)]
    table = pd.DataFrame({"id": ids, "label": y, **{f"p{j}": p[:, j] for j in range(4)}})
    table.to_parquet(d / "t.parquet")
    return d


@pytest.mark.parametrize("command", ["find-issues", "health", "overlap", "rank"])
def test_markup_in_class_names_prints_as_itself(data, command):
    args = [
        command,
        "-l",
        str(data / "y.npy"),
        "-p",
        str(data / "p.npy"),
        "--class-names",
        str(data / "names.txt"),
    ]
    res = CliRunner().invoke(app, [*args, "--format", "table"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "[PAD]" in out or command in (
        "find-issues",
        "rank",
    )  # the class table and heatmap show every class
    assert "\x1b]8;" not in out  # no terminal hyperlink escape was produced
    if command == "health":
        assert "[link=https://evil.example]ok[/link]" in out


def test_control_bytes_in_ids_keep_junit_well_formed(data):
    t = str(data / "t.parquet")
    res = CliRunner().invoke(app, ["find-issues", "-l", t, "-p", t, "--format", "junit"])
    assert res.exit_code == 0, res.stderr
    root = ET.fromstring(res.stdout)  # parses: no raw control character in the document
    texts = [c.find("system-out").text for c in root.iter("testcase") if c.find("system-out") is not None]
    assert any("(id id" in t and "\\x" in t for t in texts)


def test_control_bytes_in_ids_stay_out_of_github_logs(data):
    t = str(data / "t.parquet")
    res = CliRunner().invoke(app, ["find-issues", "-l", t, "-p", t, "--format", "github"])
    assert res.exit_code == 0, res.stderr
    body = res.stdout.replace("\n", "")
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in body)
    assert "::warning" in res.stdout


# ---------------------------------------------------------------------------- every control byte

CONTROLS = [*range(32), 127]


@pytest.fixture(scope="module")
def controls(tmp_path_factory):
    """K = 33 classes named after every byte 0-31 and 127 (`c<byte>` + the byte: class names come from the
    probability columns' headers, since labels are those strings), and ids holding all 33 bytes; one row
    in five is mislabelled, so every listing has flagged rows. (A label ending in NUL must still match its
    class: numpy's fixed-width strings would drop the NUL.)"""
    d = tmp_path_factory.mktemp("controls")
    k, n = len(CONTROLS), 330
    names = [f"c{b}{chr(b)}" for b in CONTROLS]
    rng = np.random.default_rng(7)
    true = np.arange(n) % k
    p = rng.dirichlet(np.ones(k), n) * 0.2 + np.eye(k)[true] * 0.8
    given = np.where(np.arange(n) % 5 == 0, (true + 1) % k, true)
    every = "".join(map(chr, CONTROLS))
    table = pd.DataFrame(
        {"id": [f"id{i}{every}" for i in range(n)], "label": [names[c] for c in given]}
        | {names[j]: p[:, j] for j in range(k)}
    )
    table.to_parquet(d / "t.parquet")
    return d / "t.parquet"


def run_on(path, command: str, fmt: str) -> str:
    res = CliRunner().invoke(
        app, [command, "-l", str(path), "-p", str(path), "--format", fmt], env={"COLUMNS": "250"}
    )
    assert res.exit_code == 0, res.stderr
    return res.stdout


def raw_controls(text: str) -> set[int]:
    return {ord(ch) for ch in text if (ord(ch) < 32 and ch != "\n") or 127 <= ord(ch) <= 159}


@pytest.mark.parametrize("command", ["find-issues", "rank", "health", "overlap", "batched"])
def test_control_bytes_in_names_and_ids_never_reach_the_terminal(controls, command):
    out = run_on(controls, command, "table")
    assert raw_controls(out) == set()
    assert "\\x" in out  # the bytes are shown, not sent
    if command != "overlap":  # its pairs need not include class 27; every other table holds an ESC
        assert "\\x1b" in out


@pytest.mark.parametrize("command", ["find-issues", "rank", "health", "overlap"])
def test_control_bytes_in_names_and_ids_keep_junit_well_formed(controls, command):
    out = run_on(controls, command, "junit")
    assert raw_controls(out) == set()
    root = ET.fromstring(out)
    if command in ("find-issues", "rank"):
        texts = [
            c.find("system-out").text
            for c in root.iter("testcase")
            if c.get("classname") == "labelaudit.label_issue"
        ]
        assert texts and all("\\x00\\x01" in t and "\\x1f\\x7f" in t for t in texts)  # every byte of the id


@pytest.mark.parametrize("command", ["find-issues", "rank", "health", "overlap"])
def test_control_bytes_in_names_and_ids_stay_out_of_github_logs(controls, command):
    out = run_on(controls, command, "github")
    assert raw_controls(out) == set()
    lines = out.splitlines()
    assert lines and all(line.startswith("::") for line in lines)  # one annotation per line
    if command in ("find-issues", "rank"):
        warnings = [line for line in lines if line.startswith("::warning")]
        assert warnings and all("\\x0a" in line and "\\x1b" in line for line in warnings)


def test_emoji_codes_in_class_names_print_as_themselves(data, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text(":smile:\n:red_heart:\n:x:\n:thumbs_up:\n")
    args = ["health", "-l", str(data / "y.npy"), "-p", str(data / "p.npy"), "--class-names", str(names)]
    res = CliRunner().invoke(app, [*args, "--format", "table"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.stderr
    assert ":smile:" in res.stdout and "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in res.stdout
