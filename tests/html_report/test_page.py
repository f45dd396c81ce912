"""The HTML page renderer (labelaudit.html): every number from the Reports, data text inert, no network
resource, the sortable class table, the heatmap by K, the 100k-row truncation, baseline and audit sections."""

from __future__ import annotations

import dataclasses
import html.parser
import json
import re

import numpy as np
import pytest
from helpers import NAMES

from labelaudit.core.context import Context
from labelaudit.core.overview import Histogram, overview
from labelaudit.html import audit_section, page, render

INPUTS = [{"role": "labels", "path": "data/labels.npy", "bytes": 80128, "sha256": "ab" * 32}]


class Parsed(html.parser.HTMLParser):
    """Tags with their attributes, the text, and the JSON of the issues <script>."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.scripts: dict[str, str] = {}
        self._script: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self._script = a.get("id", "")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self.scripts[self._script] = self.scripts.get(self._script, "") + data
        else:
            self.text.append(data)

    def ids(self) -> dict[str, dict]:
        return {a["id"]: a for _, a in self.tags if "id" in a}


@pytest.fixture(scope="module")
def cifar_ov(cifar):
    y, p = cifar
    return overview(Context.validated(y, p), class_names=NAMES)


def issues_json(text: str) -> dict:
    return json.loads(Parsed(text).scripts["issues-data"])


def test_page_holds_the_reports_numbers(cifar_ov):
    text = render(cifar_ov, INPUTS)
    doc = Parsed(text)
    words = " ".join(doc.text)
    h, iss = cifar_ov.health, cifar_ov.issues
    assert f"{h.results['health_score']:.4f}" in words and "0.9756" in words
    assert f"{iss.results['n_issues']:,}" in words
    assert "ab" * 32 in words and "data/labels.npy" in words  # inputs with sha256
    assert all(name in words for name in NAMES)
    data = issues_json(text)
    cols = iss.listing
    assert len(data["rows"]) == iss.results["n_issues"] == len(cols["index"])  # 284 < ROWS: all of them
    assert [r[0] for r in data["rows"]] == cols["index"].tolist()
    assert [r[2] for r in data["rows"]] == cols["given_label"].tolist()
    assert [r[3] for r in data["rows"]] == cols["predicted_label"].tolist()
    assert [r[4] for r in data["rows"]] == [f"{q:.4g}" for q in cols["label_quality"]]
    assert data["names"] == NAMES
    assert render(cifar_ov, INPUTS) == text  # deterministic: no time stamp, no random id


def test_no_network_resource(cifar_ov):
    text = render(cifar_ov, INPUTS)
    doc = Parsed(text)
    for tag, attrs in doc.tags:
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
    assert not [t for t, a in doc.tags if t in ("link", "img", "iframe", "object", "embed")]
    # The only URL is the SVG namespace (a name, never fetched); the CSP forbids any load besides.
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}
    assert "default-src 'none'" in text
    assert "@import" not in text and "url(" not in text
    assert "prefers-color-scheme:dark" in text  # dark mode


def test_class_table_is_sortable_and_in_report_order(cifar_ov):
    text = render(cifar_ov, INPUTS)
    ids = Parsed(text).ids()
    assert ids["classes"]["class"] == "sortable"
    table = text.split('id="classes"', 1)[1].split("</table>", 1)[0]
    order = re.findall(r"<tr><td>([^<]*)</td>", table)
    assert order == [NAMES[i] for i in cifar_ov.health.tables["classes"]["class_index"]]
    q = cifar_ov.health.tables["classes"]["label_quality_score"]
    assert re.findall(r'data-v="([^"]+)">[^<]*</td></tr>', table) == [repr(float(v)) for v in q]
    assert "addEventListener('click'" in text


def test_heatmap_annotates_every_cell_up_to_20_classes(cifar_ov):
    text = render(cifar_ov, INPUTS)
    cells = dict(re.findall(r'<g id="cell-(\d+-\d+)">.*?<text[^>]*>([^<]+)</text></g>', text))
    noise = np.asarray(cifar_ov.health.results["noise_matrix"])
    assert len(cells) == 100
    assert cells["3-5"] == f"{100 * noise[3, 5]:.1f}" == "3.9"  # cats labelled as dogs: the largest confusion
    assert cells["3-3"] == f"{100 * noise[3, 3]:.1f}"


def _ov(k: int, n: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    p = rng.dirichlet(np.full(k, 0.3), n)
    p[np.arange(n), y] += 1.5
    p /= p.sum(axis=1, keepdims=True)
    flip = rng.random(n) < 0.15  # label errors, so that the noise matrix has confusions
    y = np.where(flip, rng.integers(0, k, n), y)
    return overview(Context.validated(y, p), class_names=[f"c{i}" for i in range(k)])


def test_heatmap_above_20_classes_labels_only_the_largest_confusions():
    ov = _ov(30)
    text = render(ov, INPUTS)
    labelled = re.findall(r'<g id="cell-(\d+)-(\d+)">', text)
    assert 0 < len(labelled) <= 12 and all(a != b for a, b in labelled)
    assert text.count('class="d"') >= 30  # still every cell drawn


def test_many_classes_list_the_largest_cells_instead_of_a_heatmap():
    ov = _ov(50, n=4000)
    text = render(ov, INPUTS)
    assert '<g id="cell-' not in text and 'class="chart heatmap"' not in text
    cells = ov.health.tables["noise_cells"]
    assert f"<td>{cells['given'][0]}</td><td>{cells['true'][0]}</td>" in text
    assert f"{100 * float(cells['probability'][0]):.2f}%" in text


def test_many_classes_list_the_most_problematic(monkeypatch):
    monkeypatch.setattr(page, "CLASS_ROWS", 7)
    ov = _ov(12, n=1200)
    text = render(ov, INPUTS)
    table = text.split('id="classes"', 1)[1].split("</table>", 1)[0]
    want = [f"c{i}" for i in ov.health.tables["classes"]["class_index"][:7]]
    assert re.findall(r"<tr><td>([^<]*)</td>", table) == want
    assert "The 7 most problematic of 12 classes." in text


def test_sparse_context_lists_cells(monkeypatch):
    from labelaudit.core import confident

    monkeypatch.setattr(confident, "SPARSE_MIN_K", 24)  # K >= SPARSE_MIN_K > health.HEATMAP_MAX_K
    ov = _ov(24, n=2400)
    assert isinstance(ov.health.results["noise_matrix"], dict)  # the matrix held as cells
    text = render(ov, INPUTS)
    assert "too many classes for a heatmap" in text and '<g id="cell-' not in text


def test_hundred_thousand_issues_are_truncated_with_the_total(cifar_ov):
    m = 120_000
    rng = np.random.default_rng(1)
    cols = {
        "index": np.arange(m),
        "given_label": rng.integers(0, 10, m),
        "predicted_label": rng.integers(0, 10, m),
        "label_quality": np.sort(rng.random(m)),
        "is_label_issue": np.ones(m, dtype=bool),
    }
    iss = dataclasses.replace(
        cifar_ov.issues, tables={"issues": cols}, results={"n_issues": m, "issue_rate": 0.5}
    )
    text = render(dataclasses.replace(cifar_ov, issues=iss), INPUTS)
    data = issues_json(text)
    assert len(data["rows"]) == page.ROWS == 10_000 and data["rows"][-1][0] == page.ROWS - 1
    assert "this page holds the first 10,000 of 120,000" in text
    body = text.split('id="issues-body">', 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == page.STATIC_ROWS  # the rest is drawn by the script, a page at a time
    assert len(text.encode()) < 1_000_000
    few = render(dataclasses.replace(cifar_ov, issues=iss), INPUTS, rows=50)
    assert len(issues_json(few)["rows"]) == 50 and "the first 50 of 120,000" in few


def test_data_text_is_inert():
    """Class names and ids that look like HTML, a closing </script>, entities or control characters are
    text: nothing from the data adds a tag, ends the JSON script or runs."""
    evil = ["<script>alert(1)</script>", "</script><b>x", "a&amp;b", "tab\there", '"quoted"']
    y = np.array([0, 1, 2, 3, 4] * 40)
    p = np.full((200, 5), 0.05)
    p[np.arange(200), y] = 0.8
    p[:7, :] = p[:7, ::-1]  # a few label errors
    ids = np.array([f"<img src=x onerror=alert({i})>" for i in range(200)], dtype=object)
    ov = overview(Context.validated(y, p), class_names=evil, ids=ids)
    text = render(ov, [{"role": "labels", "path": "<b>in.npy</b>", "bytes": 1, "sha256": "0"}])
    doc = Parsed(text)
    assert {t for t, _ in doc.tags} <= {
        "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "div", "small", "b",
        "table", "thead", "tbody", "tr", "th", "td", "code", "input", "select", "option", "span", "button",
        "script", "svg", "g", "rect", "text",
    }  # fmt: skip
    assert [a.get("id") for t, a in doc.tags if t == "script"] == ["issues-data", None]
    assert "<script>alert" not in text and "<img" not in text and "<b>in.npy" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "tab\\x09here" in " ".join(doc.text)
    data = issues_json(text)
    assert data["names"][:2] == evil[:2] and data["names"][3] == "tab\\x09here"
    assert data["rows"][0][1].startswith("<img src=x")  # in the JSON as text; the script sets textContent
    assert "textContent" in page.SCRIPT and "innerHTML" not in page.SCRIPT


def test_baseline_section(cifar):
    from labelaudit.core.baseline import Baseline

    y, p = cifar
    ctx = Context.validated(y, p)
    first = overview(ctx, class_names=NAMES).issues
    doc = {"command": "find-issues", "params": first.params, "n_classes": 10, "n_examples": 10000}
    old = first.to_dict()["issues"][:200] + [{"index": 1, "given_label": int(y[1])}]  # 1 is not flagged now
    base = Baseline("accepted.json", {**doc, "issues": old, "n_issues": len(old)})
    ov = overview(ctx, class_names=NAMES, baseline=base)
    text = render(ov, INPUTS)
    summary = ov.issues.results["baseline"]
    assert (summary["n_new"], summary["n_persisting"], summary["n_fixed"]) == (84, 200, 1)
    table = text.split('id="baseline"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'data-v="[^"]+">(\d+)<', table) == ["84", "200", "1"]
    assert '<span id="fixed">1</span>' in text
    data = issues_json(text)
    assert data["status"] and sum(r[5] for r in data["rows"]) == 84
    assert '<select id="status">' in text


def test_audit_section_from_the_audit_report():
    """The audit's own Report (core.audit.audit on the golden digits set with features): its summary in
    run order, the health score, and the worst flagged examples of each type, data text inert."""
    from pathlib import Path

    from labelaudit.core.audit import audit

    d = Path(__file__).resolve().parents[1] / "golden" / "inputs_audit" / "digits"
    y, p, x = (np.load(d / f) for f in ("labels.npy", "pred_probs.npy", "features.npy"))
    names = [f"<digit {i}>" for i in range(10)]  # markup in class names stays text
    report = audit(y, p, x, class_names=names, top=3)
    text = audit_section(report, rows=2)
    summary = text.split('id="audit-summary"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<tr><td>([^<]+)</td>", summary) == list(report.tables["issue_summary"]["issue_type"])
    assert f"{report.results['health_score']:.4f}" in text
    for kind, n in zip(
        report.tables["issue_summary"]["issue_type"],
        report.tables["issue_summary"]["num_issues"],
        strict=True,
    ):
        worst = report.view_data["worst"][kind]
        if n:
            assert f"{kind}: the worst {min(2, len(worst['index']))} of {n:,} flagged examples" in text
            rows = text.split(f'id="audit-{kind}"', 1)[1].split("</table>", 1)[0]
            shown = re.findall(r'<tr><td class="n" data-v="(\d+)(?:\.0)?">', rows)
            assert shown == [str(i) for i in worst["index"][:2]]
        else:
            assert f'id="audit-{kind}"' not in text
    assert "&lt;digit" in text and "<digit" not in text
    ov = _ov(3, n=300)
    assert audit_section(report) in render(dataclasses.replace(ov, audit=report), INPUTS)


def test_histogram_counts_every_example_and_the_flagged(cifar_ov, cifar):
    from labelaudit.core.rank import get_label_quality_scores

    hg = cifar_ov.histogram
    assert isinstance(hg, Histogram) and hg.all.sum() == 10_000
    scores = get_label_quality_scores(*cifar)
    np.testing.assert_array_equal(hg.all, np.histogram(scores, bins=np.linspace(0, 1, 51))[0])
    assert hg.flagged.sum() == cifar_ov.issues.results["n_issues"]
    svg = render(cifar_ov, INPUTS).split('class="chart histogram"', 1)[1].split("</svg>", 1)[0]
    assert svg.count('class="bar"') == np.count_nonzero(hg.all) + 1  # + the legend's swatch
    assert svg.count('class="fl"') == np.count_nonzero(hg.flagged) + 1
    assert "examples (log scale)" in svg
