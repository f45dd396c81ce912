"""Command line: Typer + Rich only; parsing and rendering, with all work in io and core.

`app` (with every command registered) and `main` are loaded on first access; the console script runs
`labelaudit.cli.app:main`, which registers only the command it is asked to run.
"""

import importlib

__all__ = ["app", "main"]


def __getattr__(name: str):
    if name not in ("app", "main"):
        raise AttributeError(name)
    module = importlib.import_module("labelaudit.cli.app")
    for command in sorted(set(module.COMMAND_MODULES.values())):
        importlib.import_module(f"labelaudit.cli.commands.{command}")
    # The submodule import bound the name `app` to the module; bind it to the Typer application instead.
    globals()["app"], globals()["main"] = module.app, module.main
    return globals()[name]
