"""`--help` of every command at 60 and 120 columns: no type shown beside a flag, every line within the
width, words (choice values, option names) never broken, the choices and defaults shown, text in brackets
kept; `--version`/`-V`; shell completion; and `labelaudit --help` without numpy."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import typer.main

from labelaudit import __version__
from labelaudit.cli import app

GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)
WIDTHS = (60, 120)


def help_text(runner, args: list[str], columns: int) -> str:
    # CliRunner pins click's help width to 80; a terminal of `columns` gives click `columns - 2`.
    res = runner.invoke(app, [*args, "--help"], env={"COLUMNS": str(columns)}, terminal_width=columns - 2)
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    return res.stdout


def choices(param) -> list[str]:
    """The values a choice option takes (typer keeps them on its type descriptor, click on its type)."""
    found = getattr(getattr(param, "type_descriptor", None), "choices", None)
    found = found or getattr(getattr(param, "type", None), "choices", None) or ()
    return [str(getattr(c, "value", c)) for c in found]


def words(text: str) -> set[str]:
    return {w.strip(".,;:()[]<>'`") for w in text.replace("|", " ").split()}


@pytest.mark.parametrize("columns", WIDTHS)
@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_fits_and_keeps_words_whole(runner, command, columns):
    text = help_text(runner, [command] if command else [], columns)
    assert "<bool>" not in text and "…" not in text
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= columns, [line for line in lines if len(line) > columns]
    assert not [line for line in lines if line != line.rstrip()]
    # Never split at a hyphen: no line ends inside a hyphenated word or option name.
    assert not [line for line in lines if re.search(r"\w-$", line)]
    if not command:
        return
    seen = words(text)
    if command == "find-issues":
        assert "prune_by_noise_rate" in choices(
            next(p for p in GROUP.commands[command].params if p.name == "filter_by")
        )
    for param in GROUP.commands[command].params:
        assert {o for o in param.opts + param.secondary_opts if o.startswith("--")} <= seen, param.name
        assert set(choices(param)) <= seen, (param.name, choices(param))


@pytest.mark.parametrize("columns", WIDTHS)
def test_flags_show_no_type(runner, columns):
    text = help_text(runner, ["find-issues"], columns)
    for flag in ("--mask", "--from-logits", "--quiet", "--low-memory", "--per-class", "--baseline-any-data"):
        line = next(ln for ln in text.splitlines() if flag + " " in ln + " ")
        assert re.match(rf"\s+(-\w, )?{flag}(  |$)", line), line
    assert re.search(r"^  -h, --help +Show this message and exit\.$", text, re.M)


@pytest.mark.parametrize("columns", WIDTHS)
def test_format_default_and_choices_shown(runner, columns):
    for command in ("find-issues", "rank", "health", "overlap", "doctor", "batched"):
        flat = " ".join(help_text(runner, [command], columns).split())
        assert "-f, --format <table|json|csv|junit|github|markdown>" in flat, command
        assert "[default: (table on a terminal, csv otherwise)]" in flat, command
    flat = " ".join(help_text(runner, ["evaluate"], columns).split())
    assert "[default: (table)]" in flat
    flat = " ".join(help_text(runner, ["simulate"], columns).split())
    assert "-f, --format <table|json>" in flat and "[default: (table)]" in flat
    flat = " ".join(help_text(runner, ["find-issues"], columns).split())
    assert "--filter-by FILTER How to flag issues: prune_by_noise_rate, prune_by_class, both," in flat
    assert "[default: prune_by_noise_rate]" in flat


@pytest.mark.parametrize("columns", WIDTHS)
def test_brackets_in_help_text_are_kept(runner, columns):
    flat = " ".join(help_text(runner, ["health"], columns).split())
    assert "needs pip install 'labelaudit[plot]'" in flat


def test_help_in_a_real_terminal_width_equals_the_runner(runner, tmp_path):
    # The console script reads COLUMNS like any terminal program; the runner above reproduces it.
    env = {**os.environ, "COLUMNS": "60"}
    res = subprocess.run(
        [sys.executable, "-m", "labelaudit", "find-issues", "--help"], capture_output=True, text=True, env=env
    )
    assert res.returncode == 0 and res.stdout == help_text(runner, ["find-issues"], 60)


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(runner, flag):
    res = runner.invoke(app, [flag])
    assert (res.exit_code, res.stdout, res.stderr) == (0, f"labelaudit {__version__}\n", "")
    assert __version__ == "0.1.0"


def test_shell_completion(runner):
    text = help_text(runner, [], 120)
    assert "--install-completion" in text and "--show-completion" in text
    res = runner.invoke(app, ["--show-completion", "bash"])
    assert res.exit_code == 0 and "complete -o default -F _labelaudit_completion labelaudit" in res.stdout
    env = {
        **os.environ,
        "_LABELAUDIT_COMPLETE": "complete_bash",
        "COMP_WORDS": "labelaudit find-issues --filter-by prune",
        "COMP_CWORD": "3",
    }
    res = subprocess.run([sys.executable, "-m", "labelaudit"], capture_output=True, text=True, env=env)
    assert res.stdout.split() == ["prune_by_noise_rate", "prune_by_class"]


def test_help_imports_no_numpy():
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "labelaudit", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "find-issues" in res.stdout
    assert "numpy" not in res.stderr and "import time:" in res.stderr
