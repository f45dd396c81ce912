"""Pure serialisers of a Report: the JSON document, CSV, JUnit XML and GitHub workflow annotations.

They return strings (nothing here prints or opens a file). Strings that come from the data (ids, class
names) are made inert for XML, CI logs and terminals: control characters are shown as \\xNN.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from labelaudit import __version__
from labelaudit.core.report import Columns, Report, records


def document(report: Report, inputs: list[dict]) -> dict:
    """The JSON report document: the envelope every command shares, then the report's own body."""
    doc = {
        "version": __version__,
        "command": report.command,
        "params": dict(report.params),
        "inputs": inputs,
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


def to_json(doc: dict) -> str:
    """Strict JSON (NaN becomes null), numpy values as plain numbers."""
    plain = json.loads(json.dumps(doc, default=_plain))
    return json.dumps(_nan_to_null(plain), indent=1, allow_nan=False) + "\n"


def to_csv(cols: Columns) -> str:
    """A table as CSV: floats in their shortest exact form, class lists as one "a,b" cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = list(cols)
    writer.writerow(keys)
    writer.writerows(zip(*[_csv_values(cols[k]) for k in keys], strict=True))
    return out.getvalue()


def _csv_values(col: Any) -> list:
    import numpy as np

    if isinstance(col, list):  # lists of class lists (multi-label) stay one cell each
        return [",".join(map(str, v)) if isinstance(v, (list, tuple)) else v for v in col]
    a = np.asarray(col)
    if a.dtype.kind == "f":
        return [repr(float(v)) for v in a]
    return a.tolist()


def ci_rows(report: Report) -> list[dict]:
    """Flagged rows for CI outputs; against a baseline only the new ones (persisting ones were accepted)."""
    if report.command not in ("find-issues", "batched", "rank") or "index" not in report.listing:
        return []
    return [r for r in records(report.listing) if r.get("status", "new") == "new"]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def inert(text: Any) -> str:
    """A string from the data made safe for XML, CI logs and terminals: every control character (C0
    including tab, CR and LF, DEL, C1) shown as \\xNN, so one line stays one line and nothing reaches a
    terminal or parser raw."""
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


def to_junit(report: Report) -> str:
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
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _gh_escape(text: str) -> str:
    """A workflow-command message: %, CR and LF encoded as GitHub reads them, every other control byte
    (tab included: a log line holds no raw control byte) shown as \\xNN."""
    return inert(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")).replace("\t", "\\x09")


def _gh_property(text: str) -> str:
    """A workflow-command property value (file=...): ':' and ',' would end it, so they are escaped too."""
    return _gh_escape(text).replace(":", "%3A").replace(",", "%2C")


def to_github(report: Report, file: str) -> str:
    """GitHub Actions workflow commands: a warning per flagged example (doctor: per finding), an error per
    failed gate, and a notice with the headline."""
    prop = _gh_property(file)
    lines: list[str] = []
    if report.command == "doctor":
        for check, severity, message, fix in zip(*report.listing.values(), strict=True):
            if severity != "ok":
                level = "error" if severity == "error" else "warning"
                text = message + (f". {fix}" if fix else "")
                title = f"labelaudit doctor%3A {_gh_property(check)}"
                lines.append(f"::{level} file={prop},title={title}::{_gh_escape(text)}")
    for row in ci_rows(report):
        lines.append(f"::warning file={prop},title=label issue::{_gh_escape(issue_text(row))}")
    for g in report.failed:
        lines.append(
            f"::error title=labelaudit gate failed::{_gh_escape(g.message() + '. ' + report.headline)}"
        )
    title = "labelaudit doctor" if report.command == "doctor" else "labelaudit"
    lines.append(f"::notice title={title}::{_gh_escape(report.headline)}")
    return "\n".join(lines) + "\n"


MARKDOWN_ROWS = 10  # rows of the listing a Markdown summary shows
# Markdown and HTML punctuation in data text: backslash-escaped (CommonMark escapes any ASCII
# punctuation), so a class name such as "**x**", "[a](b)", "@team" or ":rocket:" prints as itself; &, <
# and > become entities, so no HTML tag or entity from the data reaches the renderer.
_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-!|~:@$])")


def md_text(text: Any) -> str:
    """A string from the data made inert in GitHub-flavoured Markdown (tables included: `|` escaped,
    control characters as \\xNN so a cell stays on its line)."""
    s = inert(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_PUNCT.sub(r"\\\1", s)


def _md_value(v: Any) -> str:
    import numpy as np

    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "NaN" if v != v else f"{float(v):.6g}"
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return md_text(", ".join(map(str, v)))
    return md_text(v)


def _md_table(heads: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    align = ["--:" if i in right else "---" for i in range(len(heads))]
    return ["| " + " | ".join(heads) + " |", "| " + " | ".join(align) + " |"] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def _scalars(results: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """The scalar results (one level of nested objects flattened as a.b); lists and matrices left out."""
    import numpy as np

    out: list[tuple[str, Any]] = []
    for key, v in results.items():
        if isinstance(v, dict) and not prefix:
            out += _scalars(v, f"{key}.")
        elif isinstance(v, (bool, int, float, str, np.generic)) or v is None:
            out.append((prefix + key, v))
    return out


def to_markdown(report: Report, top: int = MARKDOWN_ROWS) -> str:
    """A GitHub-flavoured Markdown summary of any Report (for `>> $GITHUB_STEP_SUMMARY` or a PR
    comment): the headline, the headline numbers, each gate passed or failed, and the first `top` rows
    of the listing as a table. Text from the data is made inert (md_text)."""
    import numpy as np

    lines = [f"### labelaudit {report.command}", "", f"**{md_text(report.headline)}**", ""]
    numbers = [("examples", report.n), ("classes", report.k), *_scalars(report.results)]
    lines += _md_table(["result", "value"], [[md_text(k), _md_value(v)] for k, v in numbers], {1})
    lines.append("")
    if report.gates:
        verdict = f"{len(report.failed)} of {len(report.gates)} failed" if report.failed else "all passed"
        lines += [f"**Gates: {verdict}**", ""]
        rows = []
        for g in report.gates:
            value, limit = g.numbers()
            mark = "✅ passed" if g.passed else "❌ failed"
            rows.append([md_text(g.name), md_text(g.message()), value, limit, mark])
        lines += _md_table(["gate", "check", "value", "limit", "result"], rows, {2, 3})
    else:
        lines.append("No gate set.")
    lines.append("")
    name, cols = next(iter(report.tables.items()), ("", {}))
    n = len(next(iter(cols.values()), []))
    total = report.total if report.total is not None else n
    shown = min(top, n)
    if shown:
        what = md_text(name.replace("_", " "))
        lines += [
            f"**The first {shown} of {total} {what}**" if total > shown else f"**{what.capitalize()}**",
            "",
        ]
        keys = list(cols)
        values = {
            k: cols[k][:shown] if isinstance(cols[k], list) else np.asarray(cols[k])[:shown] for k in keys
        }
        right = {
            i
            for i, k in enumerate(keys)
            if not isinstance(cols[k], list) and np.asarray(cols[k]).dtype.kind in "iuf"
        }
        rows = [[_md_value(values[k][i]) for k in keys] for i in range(shown)]
        lines += _md_table([md_text(k) for k in keys], rows, right)
    elif name:
        lines.append(f"No {md_text(name.replace('_', ' '))}.")
    return "\n".join(lines) + "\n"
