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
