"""The Typer application and the edge where errors become exit codes."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from typing import Annotated

import typer

from labelaudit import __version__
from labelaudit.errors import LabelauditError

app = typer.Typer(
    name="labelaudit",
    help="Find label errors in classification datasets with confident learning.\n\n"
    "Exit codes: 0 success, 1 a gate failed, 2 bad input or usage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

STATE = {"debug": False}


class GateFailed(Exception):
    """A CI gate failed: exit code 1 with a one-line reason."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"labelaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    STATE["debug"] = debug


def err(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()


def command(func: Callable) -> Callable:
    """Run a command body: warnings to stderr (once each), LabelauditError -> exit 2, gates -> exit 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        quiet = bool(kwargs.get("quiet", False))
        seen: set[str] = set()

        def show(message, category, filename, lineno, file=None, line=None):
            text = str(message)
            if not quiet and text not in seen:
                seen.add(text)
                err(f"Warning: {text}")

        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show
            try:
                return func(*args, **kwargs)
            except GateFailed as exc:
                err(f"Gate failed: {exc}")
                raise typer.Exit(1) from None
            except LabelauditError as exc:
                if STATE["debug"]:
                    raise
                err(f"Error: {exc}")
                raise typer.Exit(exc.exit_code) from None
            except MemoryError:
                err("Error: out of memory; try a smaller --batch-size")
                raise typer.Exit(2) from None
            except (typer.Exit, typer.Abort, KeyboardInterrupt):
                raise
            except Exception as exc:  # an unexpected failure is still exit 2, with a traceback on --debug
                if STATE["debug"]:
                    raise
                err(f"Error: {type(exc).__name__}: {exc} (run with --debug for a traceback)")
                raise typer.Exit(2) from None

    return wrapper


COMMAND_MODULES = {
    "find-issues": "find_issues",
    "rank": "rank",
    "health": "health",
    "overlap": "overlap",
    "doctor": "doctor",
    "batched": "batched",
    "simulate": "simulate",
    "evaluate": "simulate",
}


def _register(argv: list[str]) -> None:
    """Import the module of the command in argv (building every command's options costs ~0.1 s), or all
    of them for help, completion or an unknown name."""
    import importlib

    name = next((a for a in argv if not a.startswith("-")), None)
    modules = [COMMAND_MODULES[name]] if name in COMMAND_MODULES else sorted(set(COMMAND_MODULES.values()))
    for module in modules:
        importlib.import_module(f"labelaudit.cli.commands.{module}")


# The few BLAS calls (row sums, small count products) are tiny next to a pass; a BLAS thread pool would
# only spin against the --n-jobs workers (measured: a checking pass ran slower with two workers than
# with one), so each worker's BLAS runs on its own thread unless the user says otherwise.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    """Console-script entry point."""
    for var in BLAS_THREAD_VARS:  # before numpy is imported
        os.environ.setdefault(var, "1")
    _register(sys.argv[1:])
    try:
        app()
    except KeyboardInterrupt:
        err("Interrupted")
        sys.exit(2)
