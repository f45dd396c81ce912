"""Every command and every option of the CLI is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from labelaudit.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text()
GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_documented(name):
    assert f"labelaudit {name}" in README or f"`{name}`" in README


@pytest.mark.parametrize("name", COMMANDS)
def test_options_documented(name):
    missing = []
    for param in GROUP.commands[name].params:
        if getattr(param, "param_type_name", "") == "option":
            longs = [o for o in param.opts if o.startswith("--") and o != "--help"]
            if longs and not any(o in README for o in longs):
                missing.append(longs[0])
    assert not missing, f"{name}: options missing from README.md: {missing}"
