"""core.formats.to_markdown: a GitHub-flavoured summary of any Report (headline numbers, each gate,
the top rows) with the data's text inert."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import NAMES

from labelaudit.core.context import Context
from labelaudit.core.formats import md_text, to_markdown
from labelaudit.core.health import health, overlap
from labelaudit.core.issues import find_issues
from labelaudit.core.report import Listing, Report


@pytest.fixture(scope="module")
def ctx(cifar):
    return Context.validated(*cifar)


def table(text: str, after: str) -> list[list[str]]:
    """The cells of the first Markdown table after the line `after` (separator row left out)."""
    lines = text.split(after + "\n", 1)[1].lstrip("\n").splitlines()
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split(" | ")])
    assert set(rows[1][0]) <= set("-:")
    return [rows[0], *rows[2:]]


def test_find_issues_summary_gates_and_top_rows(ctx):
    report = find_issues(ctx, listing=Listing(max_issues=100, max_issue_rate=0.5), class_names=NAMES)
    text = to_markdown(report)
    head = "**284 label issues in 10000 examples \\(2.84%\\)**"  # ( and ) escaped like any text
    assert text.startswith(f"### labelaudit find-issues\n\n{head}\n")
    numbers = dict(table(text, head)[1:])
    assert numbers == {"examples": "10000", "classes": "10", "n\\_issues": "284", "issue\\_rate": "0.0284"}
    assert "**Gates: 1 of 2 failed**" in text
    gates = table(text, "**Gates: 1 of 2 failed**")
    assert gates[0] == ["gate", "check", "value", "limit", "result"]
    assert gates[1] == [
        "max\\_issues",
        "max\\_issues\\: 284 issues exceeds the limit 100",
        "284",
        "100",
        "❌ failed",
    ]
    assert gates[2][0] == "max\\_issue\\_rate" and gates[2][-1] == "✅ passed"
    rows = table(text, "**The first 10 of 284 issues**")
    assert rows[0][:4] == ["index", "given\\_label", "predicted\\_label", "label\\_quality"]
    cols = report.listing
    assert [r[0] for r in rows[1:]] == [str(i) for i in cols["index"][:10]]
    assert [r[3] for r in rows[1:]] == [f"{q:.6g}" for q in cols["label_quality"][:10]]
    assert [r[-1] for r in rows[1:]] == list(cols["predicted_name"][:10])
    assert len(table(to_markdown(report, top=3), "**The first 3 of 284 issues**")) == 4


def test_health_and_overlap_summaries(ctx):
    h = health(ctx, fail_under=0.99, class_names=NAMES)
    text = to_markdown(h)
    numbers = dict(table(text, f"**{md_text(h.headline)}**")[1:])
    assert numbers["health\\_score"] == f"{h.results['health_score']:.6g}" == "0.9756"
    assert "matrix" not in text  # matrices are not headline numbers
    assert table(text, "**Gates: 1 of 1 failed**")[1][-1] == "❌ failed"
    classes = table(text, "**Classes**")
    assert [r[1] for r in classes[1:]] == [NAMES[i] for i in h.tables["classes"]["class_index"]]
    o = overlap(ctx, class_names=NAMES)
    text = to_markdown(o)
    assert "No gate set." in text
    pairs = table(text, "**The first 10 of 45 pairs**")
    assert pairs[1][2:5] == ["cat", "dog", "73"]


def test_baseline_numbers_are_flattened(ctx):
    from labelaudit.core.baseline import Baseline

    first = find_issues(ctx)
    doc = {"command": "find-issues", "params": first.params, "n_classes": 10, "n_examples": 10000}
    old = first.to_dict()["issues"][:200]
    report = find_issues(ctx, baseline=Baseline("b.json", {**doc, "issues": old, "n_issues": 200}))
    numbers = dict(table(to_markdown(report), f"**{md_text(report.headline)}**")[1:])
    assert numbers["baseline.n\\_new"] == "84" and numbers["baseline.n\\_fixed"] == "0"
    assert numbers["baseline.path"] == "b.json" and "baseline.fixed" not in numbers


@pytest.mark.parametrize(
    "name, shown",
    [
        ("a|b", "a\\|b"),
        ("**bold**", "\\*\\*bold\\*\\*"),
        ("[x](http://e.vil)", "\\[x\\]\\(http\\://e.vil\\)"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert\\(1\\)&gt;"),
        ("@team :rocket: $x$", "\\@team \\:rocket\\: \\$x\\$"),
        ("line\nbreak\t", "line\\\\x0abreak\\\\x09"),
        ("&amp;", "&amp;amp;"),
        ("`code`", "\\`code\\`"),
    ],
)
def test_data_text_is_inert(name, shown):
    assert md_text(name) == shown
    report = Report("x", {}, 2, 2, [name, "b"], f"headline {name}", {"rows": {"name": [name, "b"]}})
    text = to_markdown(report)
    assert f"**headline {shown}**" in text and f"| {shown} |" in text
    assert "\n" not in shown and "<" not in shown.replace("&lt;", "")


def test_any_report_gets_markdown():
    """A command's Report needs nothing of its own: a new one (here hand-built) renders the same way."""
    report = Report(
        "audit",
        {},
        5,
        2,
        None,
        "3 issue types",
        {"issue_summary": {"issue_type": ["outlier", "null"], "num_issues": np.array([1, 0])}},
        results={"n_issue_types": 2},
    )
    text = to_markdown(report)
    assert "| n\\_issue\\_types | 2 |" in text and "No gate set." in text
    assert table(text, "**Issue summary**")[1:] == [["outlier", "1"], ["null", "0"]]
    empty = Report("x", {}, 5, 2, None, "nothing", {"issues": {"index": np.array([], dtype=int)}})
    assert "No issues." in to_markdown(empty)
