"""Terminal views of a Report (Rich). A report names its views in order; strings from the data are
escaped (rich.markup.escape) and their control characters shown as \\xNN (core.formats.inert), so a class
name such as "[/]", "[link=...]" or one holding ESC prints as itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labelaudit.cli.render import TERMINAL_ROWS
from labelaudit.core.formats import inert

if TYPE_CHECKING:
    from labelaudit.core.report import Report


def _e(value: Any) -> str:
    from rich.markup import escape

    return escape(inert(value))


def _print(
    title: str,
    heads: list[str],
    rows: list[list[Any]],
    right: tuple[str, ...] = (),
    total: int = 0,
    **table: Any,
) -> None:
    """One Rich table (columns in `right` right-aligned), then how many rows were left out of `total`."""
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title, header_style="bold", **table)
    for h in heads:
        out.add_column(h, justify="right" if h in right else "left")
    for row in rows:
        out.add_row(*row)
    console = Console(emoji=False)
    console.print(out)
    if total > len(rows):
        console.print(
            f"... {total - len(rows)} more (use --top N, --format csv or -o FILE to see all)", style="dim"
        )


def show(report: Report) -> None:
    for view in report.views:
        name, _, rest = view.partition(":")
        VIEWS[name](report, rest)


def _shown(report: Report) -> int:
    n = len(next(iter(report.listing.values()), []))
    return n if report.params.get("top") is not None else min(n, TERMINAL_ROWS)


def _pair(cols: dict, i: int) -> tuple[Any, Any]:
    names = "given_name" in cols
    return cols["given_name" if names else "given_label"][i], cols[
        "predicted_name" if names else "predicted_label"
    ][i]


def issues(report: Report, _: str) -> None:
    cols = report.listing
    heads = ["#", "index"] + (["id"] if "id" in cols else []) + ["given", "predicted", "label quality"]
    heads += ["status"] if "status" in cols else []
    rows = []
    for i in range(_shown(report)):
        given, pred = _pair(cols, i)
        row = [str(i + 1), str(cols["index"][i])] + ([_e(cols["id"][i])] if "id" in cols else [])
        row += [
            _e(given),
            f"[red]{_e(pred)}[/red]" if pred != given else _e(pred),
            f"{cols['label_quality'][i]:.4g}",
        ]
        if "status" in cols:
            row.append("[bold]new[/bold]" if cols["status"][i] == "new" else "persisting")
        rows.append(row)
    _print(_e(report.headline), heads, rows, ("#", "index", "label quality"), report.total or 0)


def _cell(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return _e(", ".join(map(str, v)))
    if isinstance(v, float) or (hasattr(v, "dtype") and v.dtype.kind == "f"):
        return f"{float(v):.4g}"
    return _e(v)


def plain(report: Report, spec: str) -> None:
    """Any table of the report as a Rich table: "plain:NAME[:TITLE]"."""
    name, _, title = spec.partition(":")
    cols = report.tables[name]
    n = len(next(iter(cols.values()), []))
    shown = _shown(report) if name == next(iter(report.tables)) else min(n, 15)
    rows = [[_cell(cols[k][i]) for k in cols] for i in range(shown)]
    _print(_e(title or report.headline), [k.replace("_", " ") for k in cols], rows, total=n)


def score(report: Report, _: str) -> None:
    from rich.console import Console

    s = report.results["health_score"]
    style = "green" if s >= 0.95 else "yellow" if s >= 0.8 else "red"
    head, _, tail = report.headline.partition(f"{s:.4f}")
    head = head.rstrip() + ": "
    Console(emoji=False).print(
        f"{_e(head[:1].upper() + head[1:])}[bold {style}]{s:.4f}[/bold {style}]{_e(tail)}"
    )


def _label(class_names: list[str] | None, k: int) -> str:
    return _e(class_names[k] if class_names else k)


def classes(report: Report, title: str) -> None:
    c = report.tables["classes"]
    heads = ["class", "examples", "label issues", "inverse issues", "label noise", "inverse noise", "quality"]
    rows = []
    for i in range(len(c["class_index"])):
        q = float(c["label_quality_score"][i])
        style = "red" if q < 0.8 else "yellow" if q < 0.95 else ""
        rows.append(
            [
                _label(report.class_names, int(c["class_index"][i])),
                str(c["n_examples"][i]),
                str(c["label_issues"][i]),
                str(c["inverse_label_issues"][i]),
                f"{c['label_noise'][i]:.4f}",
                f"{c['inverse_label_noise'][i]:.4f}",
                f"[{style}]{q:.4f}[/{style}]" if style else f"{q:.4f}",
            ]
        )
    _print(_e(title or "Classes, most problematic first"), heads, rows, tuple(heads[1:]))


def noise_matrix(report: Report, _: str) -> None:
    """The noise matrix P(given | true) as a Rich heatmap (core.health lists the largest cells instead
    when K is too large for one)."""
    matrix, names = report.results["noise_matrix"], report.class_names
    k = len(matrix)
    heads = ["given\\true"] + [" " + _e(str(names[b] if names else b)[:5]) for b in range(k)]
    colors = ["grey50", "cyan", "green", "yellow", "red"]
    rows = []
    for a in range(k):
        cells = [_e(str(names[a] if names else a)[:10])]
        for b in range(k):
            v = float(matrix[a][b])
            color = colors[int(round(min(1.0, v) * 4))] if a != b else "bold white"
            cells.append(f"[{color}] {100 * v:.1f}[/{color}]" if v > 0 else "[grey30]·[/grey30]")
        rows.append(cells)
    caption = "rows: given label, columns: true label"
    _print(
        "Noise matrix P(given | true), in percent",
        heads,
        rows,
        tuple(heads[1:]),
        caption=caption,
        padding=(0, 0),
        collapse_padding=True,
    )


def pairs(report: Report, title: str) -> None:
    c = report.tables["pairs"]
    rows = [
        [
            _label(report.class_names, int(c["class_a"][i])),
            _label(report.class_names, int(c["class_b"][i])),
            str(c["n_overlapping"][i]),
            f"{c['joint_probability'][i]:.6f}",
        ]
        for i in range(_shown(report))
    ]
    heads = ["class a", "class b", "overlapping examples", "joint probability"]
    _print(_e(title), heads, rows, tuple(heads[2:]))


def findings(report: Report, _: str) -> None:
    from rich.console import Console

    marks = {
        "ok": "[green]ok[/green]",
        "warning": "[yellow]warn[/yellow]",
        "error": "[bold red]FIX[/bold red]",
    }
    rows = [
        [marks[sev], _e(check), _e(msg), _e(fix)]
        for check, sev, msg, fix in zip(*report.listing.values(), strict=True)
    ]
    _print("labelaudit doctor", ["", "check", "finding", "what to do"], rows)
    Console(emoji=False).print(
        f"Verdict: {_e(report.headline)}", style="bold red" if report.failed else "bold green"
    )


def tokens(report: Report, _: str) -> None:
    """Token issues with their sentence, the flagged token highlighted, given and predicted tags."""
    from rich.text import Text

    cols, sentences = report.listing, report.view_data.get("sentences", [])
    rows = []
    for i in range(_shown(report)):
        j, text = int(cols["token"][i]), Text()
        for w_i, w in enumerate(sentences[i] if sentences else []):
            text.append(inert(w), style="bold red reverse" if w_i == j else "")
            text.append(" ")
        given, pred = _pair(cols, i)
        rows.append(
            [str(cols["sentence"][i]), str(j), _e(given), _e(pred), f"{cols['label_quality'][i]:.4g}", text]
        )
    heads = ["sentence", "token", "given", "predicted", "quality", "text"]
    _print(_e(report.headline), heads, rows, total=report.total or 0, show_lines=True)


def _quality(q: float | None) -> str:
    if q is None or q != q:  # an annotator who shares no example with another
        return "[dim]n/a[/dim]"
    style = "red" if q < 0.6 else "yellow" if q < 0.8 else "green"
    return f"[{style}]{q:.4f}[/{style}]"


def worst_annotators(report: Report, title: str) -> None:
    """The headline, then the annotators, worst first: quality, agreement with the consensus, worst class,
    labels given."""
    from rich.console import Console

    Console(emoji=False).print(_e(report.headline[:1].upper() + report.headline[1:]), style="bold")
    a = report.tables["annotators"]
    n = len(a["annotator"])
    shown = n if report.params.get("top") is not None else min(n, 15)
    worst = a["worst_class_name" if "worst_class_name" in a else "worst_class"]
    rows = [
        [
            _e(a["annotator"][i]),
            _quality(a["annotator_quality"][i]),
            f"{a['agreement_with_consensus'][i]:.4f}",
            _e(worst[i]),
            str(a["num_examples_labeled"][i]),
        ]
        for i in range(shown)
    ]
    heads = ["annotator", "quality", "agreement with consensus", "worst class", "examples labelled"]
    _print(_e(title or report.headline), heads, rows, (heads[1], heads[2], heads[4]), n)


def consensus(report: Report, title: str) -> None:
    """The consensus labels, lowest quality first, with the label issues marked."""
    c = report.listing
    label = c["consensus_name" if "consensus_name" in c else "consensus_label"]
    heads = ["index"] + (["id"] if "id" in c else []) + ["consensus", "quality", "agreement", "labels"]
    heads += (["label issue"] if "is_label_issue" in c else []) + (
        ["active learning"] if "active_learning_score" in c else []
    )
    rows = []
    for i in range(_shown(report)):
        row = [str(c["index"][i])] + ([_e(c["id"][i])] if "id" in c else []) + [_e(label[i])]
        row += [_quality(float(c["consensus_quality_score"][i])), f"{c['annotator_agreement'][i]:.4f}"]
        row.append(str(c["num_annotations"][i]))
        if "is_label_issue" in c:
            row.append("[bold red]yes[/bold red]" if c["is_label_issue"][i] else "")
        if "active_learning_score" in c:
            row.append(f"{c['active_learning_score'][i]:.4f}")
        rows.append(row)
    right = ("index", "quality", "agreement", "labels", "active learning")
    _print(_e(title or report.headline), heads, rows, right, report.total or 0)


VIEWS = {
    "worst_annotators": worst_annotators,
    "consensus": consensus,
    "issues": issues,
    "plain": plain,
    "score": score,
    "classes": classes,
    "noise_matrix": noise_matrix,
    "pairs": pairs,
    "findings": findings,
    "tokens": tokens,
}


# ---------------------------------------------------------------------------------------------- audit


def audit_summary(report: Report, _: str) -> None:
    """The audit's summary table (one row per issue type that ran, in run order), the health score and
    the types that failed on these data."""
    from rich.console import Console

    s = report.listing
    rows = [
        [_e(t), f"{float(score):.4f}", str(int(n))]
        for t, score, n in zip(s["issue_type"], s["score"], s["num_issues"], strict=True)
    ]
    _print(_e(f"Audit of {report.n} examples"), ["issue type", "score", "issues"], rows, ("score", "issues"))
    console = Console(emoji=False)
    h = report.results["health_score"]
    style = "green" if h >= 0.95 else "yellow" if h >= 0.8 else "red"
    console.print(f"Health score (mean of the scores): [bold {style}]{h:.4f}[/bold {style}]")
    for t, why in report.results["failed"].items():
        console.print(f"[yellow]{_e(t)} did not run[/yellow]: {_e(why)}")


AUDIT_HEADS = {
    "index": "index",
    "id": "id",
    "score": "score",
    "given_label": "given",
    "predicted_label": "predicted",
    "near_duplicate_sets": "near duplicates",
    "distance_to_nearest_neighbor": "distance to nearest",
}


def audit_examples(report: Report, _: str) -> None:
    """The worst flagged examples of each issue type that flagged any (lowest score first)."""
    from rich.console import Console

    console = Console(emoji=False)
    summary = report.listing
    worst = report.view_data["worst"]
    for t, n in zip(summary["issue_type"], summary["num_issues"], strict=True):
        cols = worst[t]
        if not n or not len(cols["index"]):
            continue
        console.print(f"[bold]{_e(t)}[/bold]: {int(n)} issue{'s' if n > 1 else ''}, worst first")
        heads = [AUDIT_HEADS[c] for c in cols]
        rows = [[_cell(cols[c][i]) for c in cols] for i in range(len(cols["index"]))]
        _print("", heads, rows, ("index", "score", "distance to nearest"))
        if n > len(rows):
            console.print(
                f"... {int(n) - len(rows)} more (--top N lists more; -o FILE writes every example)",
                style="dim",
            )


class StageProgress:
    """One line per stage of an audit on stderr (a spinner while it runs, a bar where the stage tells its
    fraction done, its time when done); a no-op
    with --quiet, NO_COLOR or when stderr is not a terminal. Used as `with StageProgress(q) as stage:`."""

    def __init__(self, quiet: bool, console: Any = None) -> None:
        from labelaudit.cli.render import progress_enabled

        self.enabled, self.console = progress_enabled(quiet), console
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> StageProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            console = self.console or Console(stderr=True)
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=console,
            )
            self._bar.__enter__()
        return self

    def __call__(self, name: str) -> None:
        if self._bar is not None:
            self._done()
            self._task = self._bar.add_task(_e(name), total=1)

    def fraction(self, done: float) -> None:
        """The running stage's fraction done (the neighbour search tells it; called from its threads)."""
        if self._task is not None:
            self._bar.update(self._task, completed=done)

    def _done(self) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=1)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._done()
            self._bar.__exit__(*exc)


VIEWS.update({"audit_summary": audit_summary, "audit_examples": audit_examples})
