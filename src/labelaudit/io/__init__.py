"""The only package that touches files: readers (memory-mapped .npy, tables) and atomic writers.

Names are loaded on first use, so that `labelaudit.io.outputs` (imported on the start-up path of every
command, `--help` included) does not pull in numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labelaudit.io.multilabel import MultilabelData
    from labelaudit.io.readers import (
        Dataset,
        InputFile,
        ReadOptions,
        TaskData,
        load_dataset,
        load_models,
        load_task,
        read_flagged_rows,
        read_issue_set,
        read_npy,
    )
    from labelaudit.io.token import TokenData
    from labelaudit.io.writers import (
        ROW_FORMATS,
        atomic_path,
        check_output_path,
        read_report,
        write_json,
        write_npy,
        write_rows,
        write_text,
    )

_HOME = {
    "Dataset": "readers",
    "ReadOptions": "readers",
    "TaskData": "readers",
    "MultilabelData": "multilabel",
    "TokenData": "token",
    "load_task": "readers",
    "load_models": "readers",
    "InputFile": "readers",
    "load_dataset": "readers",
    "read_flagged_rows": "readers",
    "read_issue_set": "readers",
    "read_npy": "readers",
    "ROW_FORMATS": "writers",
    "atomic_path": "writers",
    "check_output_path": "writers",
    "read_report": "writers",
    "write_json": "writers",
    "write_npy": "writers",
    "write_rows": "writers",
    "write_text": "writers",
}
__all__ = [
    "Dataset",
    "ReadOptions",
    "TaskData",
    "MultilabelData",
    "TokenData",
    "InputFile",
    "ROW_FORMATS",
    "atomic_path",
    "check_output_path",
    "load_dataset",
    "load_models",
    "load_task",
    "read_flagged_rows",
    "read_issue_set",
    "read_npy",
    "read_report",
    "write_json",
    "write_npy",
    "write_rows",
    "write_text",
]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"labelaudit.io.{_HOME[name]}"), name)
    raise AttributeError(f"module 'labelaudit.io' has no attribute {name!r}")
