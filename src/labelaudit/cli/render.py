"""Rendering of Reports: Rich views on a terminal, CSV, the JSON document, JUnit XML and GitHub annotations.

Nothing here computes a result: every number comes from the Report. Strings that come from the data
(class names, ids, tokens) are escaped before Rich sees them, so they never act as markup.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from labelaudit import __version__

if TYPE_CHECKING:
    from labelaudit.core.report import Report

TERMINAL_ROWS = 25  # rows a terminal table shows when --top is not given


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def resolve_format(fmt: Any) -> str:
    if fmt is not None:
        return fmt.value if hasattr(fmt, "value") else str(fmt)
    return "table" if stdout_is_terminal() else "csv"


def document(report: Report, files: list) -> dict:
    """The JSON report document: the envelope every command shares, then the report's own body."""
    doc = {
        "version": __version__,
        "command": report.command,
        "params": dict(report.params),
        "inputs": [f.describe() for f in files],
        "n_examples": report.n,
        "n_classes": report.k,
        "class_names": report.class_names,
    }
    doc.update(report.to_dict())
    return doc


def _plain(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    return o.tolist()


def _nan_to_null(obj: Any) -> Any:
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_null(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_null(v) for v in obj]
    return obj


def print_json(doc: dict) -> None:
    """Strict JSON on stdout: NaN becomes null."""
    plain = json.loads(json.dumps(doc, default=_plain))
    json.dump(_nan_to_null(plain), sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")


def print_csv(cols: dict) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    keys = list(cols)
    writer.writerow(keys)
    writer.writerows(zip(*[_csv_values(cols[k]) for k in keys], strict=True))


def _csv_values(col: Any) -> list:
    import numpy as np

    if isinstance(col, list):  # lists of class lists (multi-label) stay one cell each
        return [",".join(map(str, v)) if isinstance(v, (list, tuple)) else v for v in col]
    a = np.asarray(col)
    if a.dtype.kind == "f":
        return [repr(float(v)) for v in a]
    return a.tolist()


def show(report: Report, fmt: str, files: list, labels_path: str) -> None:
    """The report on stdout in `fmt` (table, csv, json, junit or github)."""
    if fmt == "json":
        print_json(document(report, files))
    elif fmt == "csv":
        print_csv(report.listing)
    elif fmt == "junit":
        print_junit(report)
    elif fmt == "github":
        print_github(report, labels_path)
    else:
        from labelaudit.cli import views

        views.show(report)


def ci_rows(report: Report) -> list[dict]:
    """Flagged rows for CI outputs; against a baseline only the new ones (persisting ones were accepted)."""
    from labelaudit.core.report import records

    if report.command not in ("find-issues", "batched", "rank") or "index" not in report.listing:
        return []
    return [r for r in records(report.listing) if r.get("status", "new") == "new"]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def inert(text: Any) -> str:
    """A string from the data made safe for XML and CI logs: control bytes shown as \\xNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def issue_text(row: dict) -> str:
    if "given_label" not in row:
        return ", ".join(f"{k} {v}" for k, v in row.items())
    given = row.get("given_name", row["given_label"])
    pred = row.get("predicted_name", row["predicted_label"])
    ident = f"index {row['index']}" + (f" (id {row['id']})" if "id" in row else "")
    status = f" [{row['status']}]" if "status" in row else ""
    return inert(
        f"{ident}: given {given}, predicted {pred}, label quality {row['label_quality']:.4g}{status}"
    )


def print_junit(report: Report) -> None:
    """JUnit XML: a suite of gates (a failing case per failed gate, or one passing summary case) and a
    suite of flagged examples, reported as passing cases with their description: consumers (Jenkins,
    GitLab) fail a build on failures, and only a gate decides that."""
    import xml.etree.ElementTree as ET

    command = report.command
    root = ET.Element("testsuites", name=f"labelaudit {command}")
    if command == "doctor":  # one case per check, failing for the findings that must be fixed
        listing = report.listing
        suite = ET.SubElement(root, "testsuite", name="labelaudit doctor")
        for check, severity, message, fix in zip(*listing.values(), strict=True):
            case = ET.SubElement(suite, "testcase", classname="labelaudit.doctor", name=inert(check))
            if severity == "error":
                ET.SubElement(case, "failure", message=inert(message)).text = inert(fix)
            else:
                ET.SubElement(case, "system-out").text = inert(
                    f"{severity}: {message}" + (f" ({fix})" if fix else "")
                )
        suite.set("tests", str(len(listing["check"])))
        suite.set("failures", str(listing["severity"].count("error")))
    else:
        gate_suite = ET.SubElement(root, "testsuite", name=f"labelaudit {command} gates")
        summary = inert(report.headline)
        for g in report.gates:
            case = ET.SubElement(gate_suite, "testcase", classname=f"labelaudit.{command}", name=g.name)
            if g.passed:
                ET.SubElement(case, "system-out").text = inert(g.message())
            else:
                ET.SubElement(case, "failure", message=inert(g.message())).text = summary
        if not report.gates:
            case = ET.SubElement(gate_suite, "testcase", classname=f"labelaudit.{command}", name="summary")
            ET.SubElement(case, "system-out").text = summary
        gate_suite.set("tests", str(max(1, len(report.gates))))
        gate_suite.set("failures", str(len(report.failed)))
        rows = ci_rows(report)
        suite = ET.SubElement(root, "testsuite", name=f"labelaudit {command} label issues")
        for row in rows:
            case = ET.SubElement(
                suite, "testcase", classname="labelaudit.label_issue", name=f"example {row['index']}"
            )
            ET.SubElement(case, "system-out").text = issue_text(row)
        suite.set("tests", str(len(rows)))
        suite.set("failures", "0")
    ET.indent(root)
    sys.stdout.write(
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    )


def _gh_escape(text: str) -> str:
    return inert(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _gh_property(text: str) -> str:
    """A workflow-command property value (file=...): ':' and ',' would end it, so they are escaped too."""
    return _gh_escape(text).replace(":", "%3A").replace(",", "%2C")


def print_github(report: Report, file: str) -> None:
    """GitHub Actions workflow commands: a warning per flagged example (doctor: per finding), an error per
    failed gate, and a notice with the headline."""
    prop = _gh_property(file)
    if report.command == "doctor":
        for check, severity, message, fix in zip(*report.listing.values(), strict=True):
            if severity != "ok":
                level = "error" if severity == "error" else "warning"
                text = message + (f". {fix}" if fix else "")
                sys.stdout.write(
                    f"::{level} file={prop},title=labelaudit doctor%3A {_gh_property(check)}::{_gh_escape(text)}\n"
                )
    for row in ci_rows(report):
        sys.stdout.write(f"::warning file={prop},title=label issue::{_gh_escape(issue_text(row))}\n")
    for g in report.failed:
        sys.stdout.write(
            f"::error title=labelaudit gate failed::{_gh_escape(g.message() + '. ' + report.headline)}\n"
        )
    title = "labelaudit doctor" if report.command == "doctor" else "labelaudit"
    sys.stdout.write(f"::notice title={title}::{_gh_escape(report.headline)}\n")


class PassProgress:
    """A Rich progress bar per pass on stderr (rows/s, ETA); a no-op when disabled."""

    def __init__(self, total_rows: int, enabled: bool):
        self.total = total_rows
        self.enabled = enabled
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> PassProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
            from rich.text import Text

            class RowsPerSecond(ProgressColumn):
                def render(self, task: Any) -> Text:
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

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def progress_enabled(quiet: bool) -> bool:
    import os

    return not quiet and sys.stderr.isatty() and "NO_COLOR" not in os.environ
