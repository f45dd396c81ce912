"""Plumbing shared by commands: loading inputs, parsing list options, writing the issue listing."""

from __future__ import annotations

from labelaudit.cli import render
from labelaudit.errors import InputError

FIND_OUTPUTS = (".npy", ".csv", ".tsv", ".parquet", ".json", ".jsonl")


def load(labels, pred_probs, label_column, prob_columns, class_names, id_column, from_logits):
    from labelaudit.io import load_dataset

    return load_dataset(
        labels,
        pred_probs,
        label_column=label_column,
        prob_columns=prob_columns,
        class_names_path=class_names,
        id_column=id_column,
        from_logits=from_logits,
    )


def int_list(text: str | None, k: int, option: str) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise InputError(f"{option} must be a comma list of integers, got {text!r}") from None
    if len(values) != k:
        raise InputError(f"{option} needs one integer per class (K={k}), got {len(values)}: {text!r}")
    if min(values) < 0:
        raise InputError(f"{option} values must be >= 0, got {text!r}")
    return values


def stdout_listing(output: str | None, fmt) -> bool:
    """Print the listing on stdout unless it went to stdout already (-o -) or to a file with no
    explicit --format (then a one-line summary goes to stderr instead)."""
    if output == "-":
        return False
    return output is None or fmt is not None


def emit(ds, cols: dict, fmt: str, total: int, doc: dict | None, title: str, top: int | None) -> None:
    """Print the listing (table / csv / json) on stdout."""
    named = render.named_columns(cols, ds.class_names, ds.ids)
    if fmt == "json":
        render.print_json(doc)
    elif fmt == "csv":
        render.print_csv(named)
    else:
        render.print_table(title, named, total, limit=None if top is not None else render.TERMINAL_ROWS)


def write_listing(output: str, ds, cols: dict, npy, fmt: str) -> None:
    from labelaudit.io import write_npy, write_rows

    if output.lower().endswith(".npy"):
        write_npy(output, npy)
    else:
        write_rows(output, render.named_columns(cols, ds.class_names, ds.ids), fmt)
