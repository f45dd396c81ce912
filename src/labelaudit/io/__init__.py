"""The only package that touches files: readers (memory-mapped .npy, tables) and atomic writers."""

from labelaudit.io.readers import (
    Dataset,
    InputFile,
    load_dataset,
    read_flagged_rows,
    read_issue_set,
    read_npy,
)
from labelaudit.io.writers import (
    ROW_FORMATS,
    atomic_path,
    check_output_path,
    read_report,
    write_json,
    write_npy,
    write_rows,
)

__all__ = [
    "ROW_FORMATS",
    "Dataset",
    "InputFile",
    "atomic_path",
    "check_output_path",
    "load_dataset",
    "read_flagged_rows",
    "read_issue_set",
    "read_npy",
    "read_report",
    "write_json",
    "write_npy",
    "write_rows",
]
