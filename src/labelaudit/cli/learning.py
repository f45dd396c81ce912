"""What the commands that train from features share (cross-val, clean, predict): the check that the
`learn` extra is installed, the params their reports carry, and the per-fold progress bar."""

from __future__ import annotations

from typing import Any

from labelaudit.cli import render


def require_learn(command: str, *, skops: bool = False) -> None:
    """Exit 2 naming the extra when scikit-learn (or skops) is missing, before any input is read."""
    from labelaudit.learn import require_sklearn

    require_sklearn(command)
    if skops:
        from labelaudit.io.models import require_skops

        require_skops(command)


def check_npy_output(command: str, output: str, fmt: Any) -> None:
    """The .npy a command writes: a named file (not stdout, which would get a table instead)."""
    from labelaudit.cli.common import check_outputs
    from labelaudit.errors import InputError

    if output == "-":
        raise InputError(f"-o - is not available: {command} writes a .npy file; name one, e.g. -o out.npy")
    check_outputs(output, (".npy",), fmt)


def check_labels_for_folds(path: str, labels: Any, folds: int) -> None:
    """The cross-validation rules on the labels (every class used, each with >= folds examples), with the
    labels file named."""
    from labelaudit.errors import InputError
    from labelaudit.learn import check_class_sizes

    try:
        check_class_sizes(labels, folds)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def run_params(model: str, params: dict, folds: int, seed: int, n_jobs: int) -> dict[str, Any]:
    return {"model": model, "model_params": params, "folds": folds, "seed": seed, "n_jobs": n_jobs}


class FoldProgress:
    """One Rich bar on stderr that advances as each fold's model is fitted and has predicted (folds end
    in any order with --n-jobs > 1); a no-op when disabled (not a terminal, --quiet)."""

    def __init__(self, folds: int, quiet: bool):
        self.folds, self.enabled = folds, render.progress_enabled(quiet)
        self._bar: Any = None

    def __enter__(self) -> FoldProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            console = _console()
            bar = BarColumn(bar_width=max(5, min(40, console.width - 40)))
            self._bar = Progress(
                TextColumn("cross-val folds"), bar, MofNCompleteColumn(), TimeElapsedColumn(), console=console
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("folds", total=self.folds)
        return self

    def __call__(self, fold: int, folds: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, 1)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
