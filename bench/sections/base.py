"""What a section is: its sizes, its measurement of one size, and its table declared as columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import BENCH, Job
from report import Col


def _one_row(r: dict) -> list[dict]:
    return [r]


@dataclass(frozen=True)
class Section:
    name: str
    title: str  # the report's "## title"
    sizes_option: str  # the run.py option that sets its sizes
    default_sizes: str
    quick_sizes: str
    measure: Callable  # (size, args, env, notes) -> the size's result (JSON-able dict)
    columns: list[Col]  # the table, one Col per column
    notes: Callable[[list[dict], dict], list[str]]  # (results, meta) -> the bullets under the table
    rows: Callable[[dict], list[dict]] = _one_row  # table rows of one size's result
    update_meta: Callable[[dict, dict], None] | None = None  # (result, meta) after each size


def call_job(key: str, label: str, python: str, lib: str, lp: Path, pp: Path, work: Path, *extra: str) -> Job:
    """A bench/call.py run: the in-process time of one library call, its result saved as work/key.npy."""
    cmd = [python, str(BENCH / "call.py"), lib, str(lp), str(pp)]
    cmd += [str(work / f"{key}.npy"), str(work / f"{key}.json"), *extra]
    return Job(key, label, cmd, work / f"{key}.npy", work / f"{key}.json")


def script_job(key: str, label: str, python: str, script: str, lp: Path, pp: Path, out: Path) -> Job:
    """A whole-process run of one of the cleanlab scripts under bench/, writing out."""
    return Job(key, label, [python, str(BENCH / script), str(lp), str(pp), str(out)], out)
