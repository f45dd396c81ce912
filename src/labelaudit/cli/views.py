"""Terminal views of a Report (Rich). A report names its views in order; strings from the data are
escaped (rich.markup.escape), so a class name such as "[/]" or "[link=...]" prints as itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labelaudit.cli.render import TERMINAL_ROWS

if TYPE_CHECKING:
    from labelaudit.core.report import Report

HEATMAP_MAX_K = 20  # larger matrices are summarised by their largest off-diagonal cells
HEATMAP_TOP_CELLS = 15


def _console():
    from rich.console import Console

    return Console()


def _e(value: Any) -> str:
    from rich.markup import escape

    return escape(str(value))


def _more(console, shown: int, total: int | None) -> None:
    if total is not None and shown < total:
        console.print(
            f"... {total - shown} more (use --top N, --format csv or -o FILE to see all)", style="dim"
        )


def show(report: Report) -> None:
    for view in report.views:
        name, _, rest = view.partition(":")
        VIEWS[name](report, rest)


def _limit(report: Report) -> int | None:
    return None if report.params.get("top") is not None else TERMINAL_ROWS


def issues(report: Report, _: str) -> None:
    from rich.table import Table

    cols, limit = report.listing, _limit(report)
    shown = {k: v[:limit] if limit is not None else v for k, v in cols.items()}
    table = Table(title=_e(report.headline), header_style="bold")
    names = "given_name" in shown
    heads = ["#", "index"] + (["id"] if "id" in shown else []) + ["given", "predicted", "label quality"]
    heads += ["status"] if "status" in shown else []
    for h in heads:
        table.add_column(h, justify="right" if h in ("#", "index", "label quality") else "left")
    n_rows = len(shown["index"]) if "index" in shown else 0
    for i in range(n_rows):
        given = shown["given_name" if names else "given_label"][i]
        pred = shown["predicted_name" if names else "predicted_label"][i]
        row = [str(i + 1), str(shown["index"][i])] + ([_e(shown["id"][i])] if "id" in shown else [])
        row += [
            _e(given),
            f"[red]{_e(pred)}[/red]" if pred != given else _e(pred),
            f"{shown['label_quality'][i]:.4g}",
        ]
        if "status" in shown:
            row.append("[bold]new[/bold]" if shown["status"][i] == "new" else "persisting")
        table.add_row(*row)
    console = _console()
    console.print(table)
    _more(console, n_rows, report.total)


def plain(report: Report, spec: str) -> None:
    """Any table of the report as a Rich table: "plain:NAME[:TITLE]"."""
    from rich.table import Table

    name, _, title = spec.partition(":")
    cols = report.tables[name]
    limit = _limit(report) if name == next(iter(report.tables)) else 15
    table = Table(title=_e(title or report.headline), header_style="bold")
    keys = list(cols)
    for k in keys:
        table.add_column(k.replace("_", " "))
    n = len(cols[keys[0]]) if keys else 0
    for i in range(n if limit is None else min(n, limit)):
        cells = []
        for k in keys:
            v = cols[k][i]
            if isinstance(v, (list, tuple)):
                cells.append(_e(", ".join(map(str, v))))
            elif isinstance(v, float) or (hasattr(v, "dtype") and v.dtype.kind == "f"):
                cells.append(f"{float(v):.4g}")
            else:
                cells.append(_e(v))
        table.add_row(*cells)
    console = _console()
    console.print(table)
    _more(console, n if limit is None else min(n, limit), n)


def score(report: Report, _: str) -> None:
    s = report.results["health_score"]
    style = "green" if s >= 0.95 else "yellow" if s >= 0.8 else "red"
    head, _, tail = report.headline.partition(f"{s:.4f}")
    head = head.rstrip() + ": "
    _console().print(f"{_e(head[:1].upper() + head[1:])}[bold {style}]{s:.4f}[/bold {style}]{_e(tail)}")


def _label(class_names: list[str] | None, k: int) -> str:
    return _e(class_names[k] if class_names else k)


def classes(report: Report, title: str) -> None:
    from rich.table import Table

    cols = report.tables["classes"]
    table = Table(title=_e(title or "Classes, most problematic first"), header_style="bold")
    heads = ["class", "examples", "label issues", "inverse issues", "label noise", "inverse noise", "quality"]
    for h in heads:
        table.add_column(h, justify="left" if h == "class" else "right")
    for i in range(len(cols["class_index"])):
        q = float(cols["label_quality_score"][i])
        style = "red" if q < 0.8 else "yellow" if q < 0.95 else ""
        table.add_row(
            _label(report.class_names, int(cols["class_index"][i])),
            str(cols["n_examples"][i]),
            str(cols["label_issues"][i]),
            str(cols["inverse_label_issues"][i]),
            f"{cols['label_noise'][i]:.4f}",
            f"{cols['inverse_label_noise'][i]:.4f}",
            f"[{style}]{q:.4f}[/{style}]" if style else f"{q:.4f}",
        )
    _console().print(table)


def noise_matrix(report: Report, _: str) -> None:
    """The noise matrix P(given | true) as a Rich heatmap; for K > HEATMAP_MAX_K its largest off-diagonal
    cells instead."""
    import numpy as np
    from rich.table import Table

    matrix, names = report.results["noise_matrix"], report.class_names
    title = "Noise matrix P(given | true)"
    k = len(matrix)
    console = _console()
    if k > HEATMAP_MAX_K:
        off = np.array(matrix, dtype=np.float64)
        np.fill_diagonal(off, -np.inf)
        flat = np.argsort(-off, axis=None, kind="stable")[:HEATMAP_TOP_CELLS]
        table = Table(title=f"{title}: largest off-diagonal cells (K={k})", header_style="bold")
        for h in ("given", "true", "probability"):
            table.add_column(h, justify="right" if h == "probability" else "left")
        for cell in flat:
            a, b = divmod(int(cell), k)
            table.add_row(_label(names, a), _label(names, b), f"{matrix[a][b]:.4f}")
        console.print(table)
        return
    table = Table(
        title=f"{title}, in percent",
        header_style="bold",
        caption="rows: given label, columns: true label",
        padding=(0, 0),
        collapse_padding=True,
    )
    table.add_column("given\\true", no_wrap=True)
    for b in range(k):
        table.add_column(" " + _e(str(names[b] if names else b)[:5]), justify="right", no_wrap=True)
    for a in range(k):
        cells = []
        for b in range(k):
            v = float(matrix[a][b])
            color = (
                ["grey50", "cyan", "green", "yellow", "red"][int(round(min(1.0, v) * 4))]
                if a != b
                else "bold white"
            )
            cells.append(f"[{color}] {100 * v:.1f}[/{color}]" if v > 0 else "[grey30]·[/grey30]")
        table.add_row(_e(str(names[a] if names else a)[:10]), *cells)
    console.print(table)


def pairs(report: Report, title: str) -> None:
    from rich.table import Table

    cols = report.tables["pairs"]
    limit = _limit(report)
    table = Table(title=_e(title), header_style="bold")
    for h in ("class a", "class b", "overlapping examples", "joint probability"):
        table.add_column(h, justify="left" if h.startswith("class") else "right")
    n = len(cols["class_a"]) if limit is None else min(limit, len(cols["class_a"]))
    for i in range(n):
        table.add_row(
            _label(report.class_names, int(cols["class_a"][i])),
            _label(report.class_names, int(cols["class_b"][i])),
            str(cols["n_overlapping"][i]),
            f"{cols['joint_probability'][i]:.6f}",
        )
    _console().print(table)


def findings(report: Report, _: str) -> None:
    from rich.table import Table

    marks = {
        "ok": "[green]ok[/green]",
        "warning": "[yellow]warn[/yellow]",
        "error": "[bold red]FIX[/bold red]",
    }
    table = Table(title="labelaudit doctor", header_style="bold", show_lines=False)
    for h in ("", "check", "finding", "what to do"):
        table.add_column(h)
    for check, severity, message, fix in zip(*report.listing.values(), strict=True):
        table.add_row(marks[severity], _e(check), _e(message), _e(fix))
    console = _console()
    console.print(table)
    console.print(f"Verdict: {_e(report.headline)}", style="bold red" if report.failed else "bold green")


def tokens(report: Report, _: str) -> None:
    """Token issues with their sentence, the flagged token highlighted, given and predicted tags."""
    from rich.table import Table
    from rich.text import Text

    cols, limit = report.listing, _limit(report) or len(report.listing["sentence"])
    sentences = report.view_data.get("sentences", [])
    table = Table(title=_e(report.headline), header_style="bold", show_lines=True)
    for h in ("sentence", "token", "given", "predicted", "quality", "text"):
        table.add_column(h)
    names = "given_name" in cols
    n = min(len(cols["sentence"]), limit)
    for i in range(n):
        j = int(cols["token"][i])
        text = Text()
        for w_i, w in enumerate(sentences[i] if sentences else []):
            text.append(w, style="bold red reverse" if w_i == j else "")
            text.append(" ")
        given = cols["given_name" if names else "given_label"][i]
        pred = cols["predicted_name" if names else "predicted_label"][i]
        table.add_row(
            str(cols["sentence"][i]), str(j), _e(given), _e(pred), f"{cols['label_quality'][i]:.4g}", text
        )
    console = _console()
    console.print(table)
    _more(console, n, report.total)


VIEWS = {
    "issues": issues,
    "plain": plain,
    "score": score,
    "classes": classes,
    "noise_matrix": noise_matrix,
    "pairs": pairs,
    "findings": findings,
    "tokens": tokens,
}
