"""Rendering of results: Rich tables on a terminal, CSV, and the JSON report document."""

from __future__ import annotations

import csv
import json
import sys

from labelaudit import __version__

TERMINAL_ROWS = 25  # rows a terminal table shows when --top is not given


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def resolve_format(fmt) -> str:
    if fmt is not None:
        return fmt.value if hasattr(fmt, "value") else str(fmt)
    return "table" if stdout_is_terminal() else "csv"


def named_columns(cols: dict, class_names: list[str] | None, ids=None) -> dict:
    """Add id, given_name and predicted_name columns when ids / class names are known."""
    import numpy as np

    out: dict = {}
    if ids is not None:
        out["id"] = ids[cols["index"]]
    out.update(cols)
    if class_names is not None:
        names = np.asarray(class_names, dtype=object)
        out["given_name"] = names[cols["given_label"]]
        out["predicted_name"] = names[cols["predicted_label"]]
    return out


def records(cols: dict) -> list[dict]:
    import numpy as np

    keys = list(cols)
    lists = [np.asarray(cols[k]).tolist() for k in keys]
    return [dict(zip(keys, vals, strict=True)) for vals in zip(*lists, strict=True)]


def report(command: str, params: dict, dataset, **results) -> dict:
    """The JSON report document shared by every command."""
    doc = {
        "version": __version__,
        "command": command,
        "params": params,
        "inputs": [f.describe() for f in dataset.files],
        "n_examples": dataset.n,
        "n_classes": dataset.k,
        "class_names": dataset.class_names,
    }
    doc.update(results)
    return doc


def print_json(doc: dict) -> None:
    import numpy as np

    json.dump(doc, sys.stdout, indent=1, default=lambda o: o.item() if isinstance(o, np.generic) else o.tolist())
    sys.stdout.write("\n")


def print_csv(cols: dict) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    keys = list(cols)
    writer.writerow(keys)
    writer.writerows(zip(*[_csv_values(cols[k]) for k in keys], strict=True))


def _csv_values(col) -> list:
    import numpy as np

    a = np.asarray(col)
    if a.dtype.kind == "f":
        return [repr(float(v)) for v in a]
    return a.tolist()


def print_table(title: str, cols: dict, total: int, caption: str | None = None,
                limit: int | None = TERMINAL_ROWS) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=title, caption=caption, header_style="bold")
    shown = {k: v[:limit] if limit is not None else v for k, v in cols.items()}
    has_names = "given_name" in shown
    columns = ["#", "index"] + (["id"] if "id" in shown else []) + ["given", "predicted", "label quality"]
    for name in columns:
        table.add_column(name, justify="right" if name in ("#", "index", "label quality") else "left")
    n_rows = len(shown["index"])
    for i in range(n_rows):
        given = shown["given_name"][i] if has_names else shown["given_label"][i]
        pred = shown["predicted_name"][i] if has_names else shown["predicted_label"][i]
        row = [str(i + 1), str(shown["index"][i])]
        if "id" in shown:
            row.append(str(shown["id"][i]))
        row += [str(given), f"[red]{pred}[/red]" if pred != given else str(pred), f"{shown['label_quality'][i]:.4g}"]
        table.add_row(*row)
    console.print(table)
    if n_rows < total:
        console.print(f"... {total - n_rows} more (use --top N, --format csv or -o FILE to see all)", style="dim")
