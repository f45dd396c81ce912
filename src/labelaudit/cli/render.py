"""Rendering of results: Rich tables on a terminal, CSV, and the JSON report document."""

from __future__ import annotations

import csv
import json
import sys

from labelaudit import __version__

TERMINAL_ROWS = 25  # rows a terminal table shows when --top is not given


def gate_numbers(value, limit) -> tuple[str, str]:
    """A gate's value and limit as text: integers as integers, floats with 6 significant digits, or
    more when 6 would print two different numbers alike (a score just below the limit)."""

    def is_int(x) -> bool:
        return isinstance(x, int) or (hasattr(x, "dtype") and x.dtype.kind in "iu")

    if is_int(value) and is_int(limit):
        return str(int(value)), str(int(limit))
    for digits in range(6, 18):
        a, b = f"{float(value):.{digits}g}", f"{float(limit):.{digits}g}"
        if a != b or float(value) == float(limit):
            return a, b
    return repr(float(value)), repr(float(limit))


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
    lists = [cols[k] if isinstance(cols[k], list) else np.asarray(cols[k]).tolist() for k in keys]
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

    json.dump(
        doc, sys.stdout, indent=1, default=lambda o: o.item() if isinstance(o, np.generic) else o.tolist()
    )
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


def print_table(
    title: str, cols: dict, total: int, caption: str | None = None, limit: int | None = TERMINAL_ROWS
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=title, caption=caption, header_style="bold")
    shown = {k: v[:limit] if limit is not None else v for k, v in cols.items()}
    has_names = "given_name" in shown
    columns = ["#", "index"] + (["id"] if "id" in shown else []) + ["given", "predicted", "label quality"]
    columns += ["status"] if "status" in shown else []
    for name in columns:
        table.add_column(name, justify="right" if name in ("#", "index", "label quality") else "left")
    n_rows = len(shown["index"])
    for i in range(n_rows):
        given = shown["given_name"][i] if has_names else shown["given_label"][i]
        pred = shown["predicted_name"][i] if has_names else shown["predicted_label"][i]
        row = [str(i + 1), str(shown["index"][i])]
        if "id" in shown:
            row.append(str(shown["id"][i]))
        row += [
            str(given),
            f"[red]{pred}[/red]" if pred != given else str(pred),
            f"{shown['label_quality'][i]:.4g}",
        ]
        if "status" in shown:
            row.append("[bold]new[/bold]" if shown["status"][i] == "new" else "persisting")
        table.add_row(*row)
    console.print(table)
    if n_rows < total:
        console.print(
            f"... {total - n_rows} more (use --top N, --format csv or -o FILE to see all)", style="dim"
        )


def class_label(class_names: list[str] | None, k: int) -> str:
    return class_names[k] if class_names else str(k)


def print_class_table(classes: dict, class_names: list[str] | None, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    heads = ["class", "examples", "label issues", "inverse issues", "label noise", "inverse noise", "quality"]
    for h in heads:
        table.add_column(h, justify="left" if h == "class" else "right")
    for i in range(len(classes["class_index"])):
        q = float(classes["label_quality_score"][i])
        style = "red" if q < 0.8 else "yellow" if q < 0.95 else ""
        table.add_row(
            class_label(class_names, int(classes["class_index"][i])),
            str(classes["n_examples"][i]),
            str(classes["label_issues"][i]),
            str(classes["inverse_label_issues"][i]),
            f"{classes['label_noise'][i]:.4f}",
            f"{classes['inverse_label_noise'][i]:.4f}",
            f"[{style}]{q:.4f}[/{style}]" if style else f"{q:.4f}",
        )
    Console().print(table)


HEATMAP_MAX_K = 20  # larger matrices are summarised by their largest off-diagonal cells
HEATMAP_TOP_CELLS = 15


def print_heatmap(matrix, class_names: list[str] | None, title: str) -> None:
    """A Rich heatmap of a (K, K) probability matrix with rows = given label, columns = true label;
    for K > HEATMAP_MAX_K, a list of its largest off-diagonal cells instead."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    k = len(matrix)
    console = Console()
    if k > HEATMAP_MAX_K:
        off = np.array(matrix, dtype=np.float64)
        np.fill_diagonal(off, -np.inf)
        flat = np.argsort(-off, axis=None, kind="stable")[:HEATMAP_TOP_CELLS]
        table = Table(title=f"{title}: largest off-diagonal cells (K={k})", header_style="bold")
        for h in ("given", "true", "probability"):
            table.add_column(h, justify="right" if h == "probability" else "left")
        for cell in flat:
            a, b = divmod(int(cell), k)
            table.add_row(class_label(class_names, a), class_label(class_names, b), f"{matrix[a][b]:.4f}")
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
        table.add_column(" " + class_label(class_names, b)[:5], justify="right", no_wrap=True)
    for a in range(k):
        cells = []
        for b in range(k):
            v = float(matrix[a][b])
            shade = int(round(min(1.0, v) * 4))
            color = ["grey50", "cyan", "green", "yellow", "red"][shade] if a != b else "bold white"
            cells.append(f"[{color}] {100 * v:.1f}[/{color}]" if v > 0 else "[grey30]·[/grey30]")
        table.add_row(class_label(class_names, a)[:10], *cells)
    console.print(table)


def print_pairs(pairs: dict, class_names: list[str] | None, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for h in ("class a", "class b", "overlapping examples", "joint probability"):
        table.add_column(h, justify="left" if h.startswith("class") else "right")
    for i in range(len(pairs["class_a"])):
        table.add_row(
            class_label(class_names, int(pairs["class_a"][i])),
            class_label(class_names, int(pairs["class_b"][i])),
            str(pairs["n_overlapping"][i]),
            f"{pairs['joint_probability'][i]:.6f}",
        )
    Console().print(table)


def named_classes(table: dict, class_names: list[str] | None, index_keys=("class_index",)) -> dict:
    """Add a name column beside each class-index column when class names are known."""
    if class_names is None:
        return dict(table)
    import numpy as np

    names = np.asarray(class_names, dtype=object)
    out = {}
    for key, col in table.items():
        out[key] = col
        if key in index_keys:
            # class_index -> class_name; class_a -> name_a
            out["class_name" if key == "class_index" else key.replace("class_", "name_")] = names[col]
    return out


def _issue_text(row: dict) -> str:
    given = row.get("given_name", row["given_label"])
    pred = row.get("predicted_name", row["predicted_label"])
    ident = f"index {row['index']}" + (f" (id {row['id']})" if "id" in row else "")
    return f"{ident}: given {given}, predicted {pred}, label quality {row['label_quality']:.4g}"


def print_junit(command: str, gates: list[dict], rows: list[dict], summary: str) -> None:
    """JUnit XML on stdout: a suite of gates (one test case each, or one passing summary case) and a
    suite of flagged examples (one failing test case each)."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name=f"labelaudit {command}")
    gate_suite = ET.SubElement(root, "testsuite", name=f"labelaudit {command} gates")
    cases = gates or [{"gate": "summary", "passed": True}]
    for g in cases:
        case = ET.SubElement(gate_suite, "testcase", classname=f"labelaudit.{command}", name=g["gate"])
        if not g["passed"]:
            value, limit = gate_numbers(g["value"], g["limit"])
            f = ET.SubElement(case, "failure", message=f"{g['gate']}: {value} vs limit {limit}")
            f.text = summary
        else:
            ET.SubElement(case, "system-out").text = summary
    gate_suite.set("tests", str(len(cases)))
    gate_suite.set("failures", str(sum(not g["passed"] for g in cases)))
    issue_suite = ET.SubElement(root, "testsuite", name=f"labelaudit {command} label issues")
    for row in rows:
        case = ET.SubElement(
            issue_suite, "testcase", classname="labelaudit.label_issue", name=f"example {row['index']}"
        )
        status = f" [{row['status']}]" if "status" in row else ""
        ET.SubElement(case, "failure", message=_issue_text(row) + status, type="label_issue")
    issue_suite.set("tests", str(len(rows)))
    issue_suite.set("failures", str(len(rows)))
    ET.indent(root)
    sys.stdout.write('<?xml version="1.0" encoding="utf-8"?>\n')
    sys.stdout.write(ET.tostring(root, encoding="unicode") + "\n")


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    """A workflow-command property value (file=...): ':' and ',' would end it, so they are escaped too."""
    return _gh_escape(text).replace(":", "%3A").replace(",", "%2C")


def print_github(gates: list[dict], rows: list[dict], file: str, summary: str) -> None:
    """GitHub Actions workflow commands: a warning per flagged example, an error per failed gate."""
    for row in rows:
        status = f" [{row['status']}]" if "status" in row else ""
        sys.stdout.write(
            f"::warning file={_gh_property(file)},title=label issue::{_gh_escape(_issue_text(row) + status)}\n"
        )
    for g in gates:
        if not g["passed"]:
            value, limit = gate_numbers(g["value"], g["limit"])
            verb = "is below" if g["gate"] == "fail_under" else "exceeds"
            msg = f"{g['gate']}: {value} {verb} the limit {limit}. {summary}"
            sys.stdout.write(f"::error title=labelaudit gate failed::{_gh_escape(msg)}\n")
    sys.stdout.write(f"::notice title=labelaudit::{_gh_escape(summary)}\n")


def print_findings(findings, verdict: str) -> None:
    from rich.console import Console
    from rich.table import Table

    marks = {
        "ok": "[green]ok[/green]",
        "warning": "[yellow]warn[/yellow]",
        "error": "[bold red]FIX[/bold red]",
    }
    table = Table(title="labelaudit doctor", header_style="bold", show_lines=False)
    for h in ("", "check", "finding", "what to do"):
        table.add_column(h)
    for f in findings:
        table.add_row(marks[f.severity], f.check, f.message, f.fix)
    console = Console()
    console.print(table)
    console.print(f"Verdict: {verdict}", style="bold red" if "fix" in verdict else "bold green")


class PassProgress:
    """A Rich progress bar per pass on stderr (rows/s, ETA); a no-op when disabled."""

    def __init__(self, total_rows: int, enabled: bool):
        self.total = total_rows
        self.enabled = enabled
        self._bar = None
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> PassProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
            from rich.text import Text

            class RowsPerSecond(ProgressColumn):
                def render(self, task) -> Text:
                    return Text(
                        f"{task.speed:,.0f} rows/s" if task.speed else "", style="progress.data.speed"
                    )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} rows"),
                RowsPerSecond(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.__enter__()
        return self

    def __call__(self, name: str, rows: int) -> None:
        if self._bar is None:
            return
        if name not in self._tasks:
            self._tasks[name] = self._bar.add_task(name, total=self.total)
        self._bar.advance(self._tasks[name], rows)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def progress_enabled(quiet: bool) -> bool:
    import os

    return not quiet and sys.stderr.isatty() and "NO_COLOR" not in os.environ


def print_plain_table(title: str, cols: dict, limit: int | None = None) -> None:
    """Any dict of columns as a Rich table (lists shown comma-joined, floats with 4 significant digits)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    keys = list(cols)
    for k in keys:
        table.add_column(k.replace("_", " "))
    n = len(cols[keys[0]]) if keys else 0
    for i in range(n if limit is None else min(n, limit)):
        cells = []
        for k in keys:
            v = cols[k][i]
            if isinstance(v, (list, tuple)):
                cells.append(", ".join(map(str, v)))
            elif isinstance(v, (float,)) or (hasattr(v, "dtype") and v.dtype.kind == "f"):
                cells.append(f"{float(v):.4g}")
            else:
                cells.append(str(v))
        table.add_row(*cells)
    console = Console()
    console.print(table)
    if limit is not None and n > limit:
        console.print(f"... {n - limit} more (use --format csv or -o FILE to see all)", style="dim")


def print_token_issues(ds, pairs, flat, scores, title: str, limit: int = TERMINAL_ROWS) -> None:
    """Token issues with their sentence, the flagged token highlighted, given and predicted tags."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    starts = np.concatenate(([0], np.cumsum(ds.lengths)[:-1]))
    table = Table(title=title, header_style="bold", show_lines=True)
    for h in ("sentence", "token", "given", "predicted", "quality", "text"):
        table.add_column(h)
    for i in range(min(len(pairs), limit)):
        s, j = int(pairs[i, 0]), int(pairs[i, 1])
        q = int(flat[i])
        given, pred = int(ds.labels[q]), int(ds.pred_probs[q].argmax())
        name = (lambda c: ds.class_names[c]) if ds.class_names else str
        text = Text()
        if ds.tokens is not None:
            words = ds.tokens[starts[s] : starts[s] + ds.lengths[s]]
            for w_i, w in enumerate(words):
                text.append(w, style="bold red reverse" if w_i == j else "")
                text.append(" ")
        table.add_row(str(s), str(j), name(given), name(pred), f"{float(scores[q]):.4g}", text)
    console = Console()
    console.print(table)
    if len(pairs) > limit:
        console.print(
            f"... {len(pairs) - limit} more (use --top N, --format csv or -o FILE to see all)", style="dim"
        )


def print_findings_junit(findings, verdict: str) -> None:
    """doctor as JUnit XML: one test case per check, failing for "error" findings."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="labelaudit doctor")
    suite = ET.SubElement(
        root,
        "testsuite",
        name="labelaudit doctor",
        tests=str(len(findings)),
        failures=str(sum(f.severity == "error" for f in findings)),
    )
    for f in findings:
        case = ET.SubElement(suite, "testcase", classname="labelaudit.doctor", name=f.check)
        if f.severity == "error":
            ET.SubElement(case, "failure", message=f.message).text = f.fix
        else:
            ET.SubElement(case, "system-out").text = f"{f.severity}: {f.message}" + (
                f" ({f.fix})" if f.fix else ""
            )
    ET.indent(root)
    sys.stdout.write(
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    )


def print_findings_github(findings, verdict: str, file: str) -> None:
    """doctor as workflow annotations: ::error per problem, ::warning per warning, a ::notice verdict."""
    for f in findings:
        if f.severity != "ok":
            level = "error" if f.severity == "error" else "warning"
            text = f.message + (f". {f.fix}" if f.fix else "")
            sys.stdout.write(
                f"::{level} file={_gh_property(file)},title=labelaudit doctor: {f.check}::{_gh_escape(text)}\n"
            )
    sys.stdout.write(f"::notice title=labelaudit doctor::{_gh_escape(verdict)}\n")
