"""The Typer application and the edge where errors become exit codes."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from typing import Annotated, Any

import typer
import typer.core

from labelaudit import __version__
from labelaudit.errors import GateFailed, InputError, LabelauditError

UNSET = ("DEFAULT", "DEFAULT_MAP")  # click's ParameterSource names of an option the user did not give


class SectionedCommand(typer.core.TyperCommand):
    """Help as plain text, a section per panel, wrapped between words (never inside one, nor at a hyphen)
    at any width; no markup to swallow text such as 'labelaudit[plot]'."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        import inspect
        import textwrap

        self.format_usage(ctx, formatter)
        wrap = textwrap.TextWrapper(formatter.width - 2, break_long_words=False, break_on_hyphens=False)
        for paragraph in inspect.cleandoc(self.help or "").split("\n\n"):
            formatter.write("\n  " + "\n  ".join(wrap.wrap(" ".join(paragraph.split()))) + "\n")
        sections: dict[str, list] = {}
        for param in self.get_params(ctx):
            if (record := param.get_help_record(ctx)) is not None:
                sections.setdefault(getattr(param, "rich_help_panel", None) or "Options", []).append(record)
        col = 30 if formatter.width >= 80 else 16  # on a narrow terminal the help text gets the room
        wrap.width, indent = formatter.width - col - 4, "\n" + " " * (col + 4)
        for name, records in sections.items():
            formatter.write(f"\n{name}:\n")
            for term, text in records:
                head = f"  {term:<{col}}  " if len(term) <= col else f"  {term}{indent}"
                formatter.write((head + indent.join(wrap.wrap(text))).replace(" \n", "\n").rstrip() + "\n")

    def invoke(self, ctx: Any) -> Any:
        sources = {p.name: ctx.get_parameter_source(p.name) for p in self.params}
        STATE["on_line"] = {n for n, src in sources.items() if getattr(src, "name", "DEFAULT") not in UNSET}
        return super().invoke(ctx)


class App(typer.Typer):
    def command(self, *args: Any, **kwargs: Any) -> Any:
        return super().command(*args, cls=SectionedCommand, **kwargs)


app = App(
    name="labelaudit",
    help="Find label errors in classification datasets with confident learning.\n\n"
    "Exit codes: 0 success, 1 a gate failed, 2 bad input or usage, 130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP).",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)

STATE: dict = {"debug": False, "given": set()}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"labelaudit {__version__}")
        raise typer.Exit()


VERSION = typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit.")


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[bool, VERSION] = False,
) -> None:
    STATE["debug"] = debug


def err(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()


def command(func: Callable) -> Callable:
    """Run a command body: warnings to stderr (once each), LabelauditError -> exit 2, gates -> exit 1.

    Around it (README, "Exit codes and errors"): every path is checked before anything is read
    (io.outputs.check_run_paths); the outputs are published together (io.outputs.publish_together) when the
    body ends or only a gate failed, removed on an error or interrupt; SIGINT, SIGTERM and SIGHUP exit
    128 + the signal number with one line on stderr; a reader closing stdout early (`| head -1`) ends nothing."""

    import inspect

    defaults = {name: prm.default for name, prm in inspect.signature(func).parameters.items()}

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from labelaudit.io import outputs

        # The options given on the command line (SectionedCommand.invoke), even at their default value;
        # called outside click, those set to something other than their default (options.given reads it).
        on_line = STATE.pop("on_line", None)
        if on_line is not None:
            STATE["given"] = {name for name in kwargs if name in on_line}
        else:
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
                if kwargs.get("n_jobs") == 0:  # -1 or >= 1: a hole in the range that click cannot express
                    raise InputError("--n-jobs must be -1 (one per core) or at least 1; got 0")
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
                err(
                    "Error: out of memory; `labelaudit batched` streams pred_probs in bounded memory (--memory-limit)"
                )
                raise typer.Exit(2) from None
            except (typer.Exit, typer.Abort):
                raise
            except Exception as exc:  # an unexpected failure is still exit 2, with a traceback on --debug
                if STATE["debug"]:
                    raise
                err(f"Error: {type(exc).__name__}: {exc} (run with --debug for a traceback)")
                raise typer.Exit(2) from None

    return wrapper


COMMANDS: tuple[str, ...]  # commands added later register with one `COMMANDS += (...)` line each
COMMANDS = ("find-issues", "rank", "health", "overlap", "doctor", "batched", "simulate", "evaluate")
COMMANDS += ("report",)
COMMANDS += ("annotators",)
COMMANDS += ("cross-val", "clean", "predict")  # models from features (labelaudit[learn])
COMMANDS += ("audit",)


def _register(argv: list[str]) -> None:
    """Import the command in argv (building all of them costs ~0.1 s); all for help or completion."""
    import importlib

    name = next((a for a in argv if not a.startswith("-")), None)
    for command_name in [name] if name in COMMANDS else sorted(COMMANDS):
        importlib.import_module(f"labelaudit.cli.commands.{str(command_name).replace('-', '_')}")


# BLAS calls are tiny next to a pass, and a BLAS pool only spins against the --n-jobs workers (measured: a
# checking pass ran slower with two workers than with one): one BLAS thread per worker unless set.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    """Console-script entry point."""
    for var in BLAS_THREAD_VARS:  # before numpy is imported
        os.environ.setdefault(var, "1")
    try:
        _register(sys.argv[1:])
        from labelaudit.io import outputs

        with outputs.stdout_guard():  # help or a listing piped into `head` ends quietly
            app(prog_name="labelaudit")
    except KeyboardInterrupt:  # outside a command body (a command's own interrupts exit there)
        err("Interrupted")
        sys.exit(130)
