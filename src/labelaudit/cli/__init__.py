"""Command line: Typer + Rich only, all work in io and core. `app` (every command registered) and `main`
load on first access; the console script (labelaudit.cli.app:main) registers only the command it runs."""

import importlib

__all__ = ["app", "main"]


def __getattr__(name: str):
    if name not in ("app", "main"):
        raise AttributeError(name)
    module = importlib.import_module("labelaudit.cli.app")
    for command in sorted(module.COMMANDS):
        importlib.import_module(f"labelaudit.cli.commands.{command.replace('-', '_')}")
    # The submodule import bound the name `app` to the module; bind it to the Typer application instead.
    globals()["app"], globals()["main"] = module.app, module.main
    return globals()[name]
