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
from labelaudit.errors import GateFailed, LabelauditError

app = typer.Typer(
    name="labelaudit",
    help="Find label errors in classification datasets with confident learning.\n\n"
    "Exit codes: 0 success, 1 a gate failed, 2 bad input or usage, 130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

STATE: dict = {"debug": False, "given": set()}


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
    """Run a command body: warnings to stderr (once each), LabelauditError -> exit 2, gates -> exit 1.

    Around the body (README, "Exit codes and errors"): every input and output path is checked before anything is
    read (io.outputs.check_run_paths); the outputs are one transaction, published when the body ends or
    only a gate failed, removed on an error or interrupt (io.outputs.publish_together); SIGINT, SIGTERM
    and SIGHUP end the run with one line on stderr and exit 128 + the signal number (130, 143, 129); a
    reader that closes stdout early (`| head -1`) ends nothing: stdout goes quiet, the exit code stands."""

    import inspect

    defaults = {name: prm.default for name, prm in inspect.signature(func).parameters.items()}

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from labelaudit.io import outputs

        # The options set to something other than their default (options.given reads this).
        STATE["given"] = {name for name, value in kwargs.items() if value != defaults.get(name)}

        quiet = bool(kwargs.get("quiet", False))
        seen: set[str] = set()

        def show(message, category, filename, lineno, file=None, line=None):
            text = str(message)
            if not quiet and text not in seen:
                seen.add(text)
                err(f"Warning: {text}")

        with warnings.catch_warnings(), outputs.stdout_guard(), outputs.interrupts_as_exceptions():
            warnings.simplefilter("always")
            warnings.showwarning = show
            try:
                outputs.check_run_paths(kwargs)  # before anything is read
                with outputs.publish_together() as run:
                    try:
                        return func(*args, **kwargs)
                    except GateFailed:
                        run.commit()  # a failed gate still publishes: CI wants the outputs of a failing run
                        raise
                    except typer.Exit as exc:
                        if exc.exit_code in (0, 1):
                            run.commit()
                        raise
            except GateFailed as exc:  # one line per failed gate
                for line in str(exc).splitlines():
                    err(f"Gate failed: {line}")
                raise typer.Exit(1) from None
            except LabelauditError as exc:
                if STATE["debug"]:
                    raise
                err(f"Error: {exc}")
                raise typer.Exit(exc.exit_code) from None
            except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP (outputs.Interrupted)
                err(outputs.interrupt_message(exc))
                raise typer.Exit(outputs.interrupt_exit_code(exc)) from None
            except BrokenPipeError:  # stdout closed where the guard does not see it: end as SIGPIPE would
                outputs.silence_stdout()
                raise typer.Exit(141) from None
            except MemoryError:
                err("Error: out of memory; try a smaller --batch-size")
                raise typer.Exit(2) from None
            except (typer.Exit, typer.Abort):
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
    "evaluate": "evaluate",
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
    try:
        _register(sys.argv[1:])
        from labelaudit.io import outputs

        with outputs.stdout_guard():  # help or a listing piped into `head` ends quietly
            app()
    except KeyboardInterrupt:  # outside a command body (a command's own interrupts exit there)
        err("Interrupted")
        sys.exit(130)
