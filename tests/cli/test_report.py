"""`labelaudit report` end to end (the page equals the library's render of the same Reports; bad input
is exit 2 with nothing written; the output is atomic) and `--format markdown` on the commands."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from helpers import NAMES, NAMES_FILE, L, P, run

from labelaudit.core.context import Context
from labelaudit.core.formats import to_markdown
from labelaudit.core.health import health, overlap
from labelaudit.core.issues import find_issues
from labelaudit.core.overview import overview
from labelaudit.core.report import Listing
from labelaudit.html import render
from labelaudit.io.readers import InputFile


def report(runner, out, *extra, code=0):
    return run(runner, "report", "-l", L, "-p", P, "--class-names", NAMES_FILE, "-o", out, *extra, code=code)


def test_page_equals_the_library_render(runner, tmp_path, cifar):
    out = tmp_path / "report.html"
    res = report(runner, out)
    assert res.stdout == ""
    assert res.stderr.endswith(f"284 label issues in 10000 examples (2.84%); wrote {out}\n")
    inputs = [InputFile("labels", L).describe(), InputFile("pred_probs", P).describe()]
    want = render(overview(Context.validated(*cifar), class_names=NAMES), inputs)
    assert out.read_text(encoding="utf-8") == want
    assert inputs[0]["sha256"] in want and len(want.encode()) < 1_000_000
    assert os.listdir(tmp_path) == ["report.html"]  # no temporary left


def test_rows_filter_and_quiet(runner, tmp_path):
    out = tmp_path / "r.html"
    res = report(runner, out, "--rows", "5", "--filter-by", "both", "--quiet")
    assert res.stderr == ""
    text = out.read_text()
    data = json.loads(text.split('id="issues-data">', 1)[1].split("</script>", 1)[0])
    assert len(data["rows"]) == 5 and "the first 5 of 226" in text  # filter_by=both flags 226
    assert "<td>filter_by</td><td>both</td>" in text


def test_baseline_and_ids(runner, tmp_path):
    import pandas as pd

    y, p = np.load(L), np.load(P)
    table = pd.DataFrame({"id": [f"img{i:05d}" for i in range(len(y))], "label": y})
    table[[f"p{j}" for j in range(10)]] = p
    data = tmp_path / "data.parquet"
    table.to_parquet(data)
    base = tmp_path / "accepted.json"
    first = run(runner, "find-issues", "-l", data, "-p", data, "--format", "json")
    doc = json.loads(first.stdout)
    doc["issues"], doc["n_issues"] = doc["issues"][:250], 250
    base.write_text(json.dumps(doc))
    out = tmp_path / "r.html"
    run(runner, "report", "-l", data, "-p", data, "--baseline", base, "-o", out, "--quiet")
    text = out.read_text()
    assert re.search(r'id="baseline".*?data-v="34\.0">34<.*?data-v="250\.0">250<.*?data-v="0\.0">0<', text)
    rows = json.loads(text.split('id="issues-data">', 1)[1].split("</script>", 1)[0])["rows"]
    assert rows[0][1] == "img03828" and sum(r[5] for r in rows) == 34


def test_bad_input_writes_nothing(runner, tmp_path, save_npy):
    out = tmp_path / "out" / "r.html"
    out.parent.mkdir()
    bad = save_npy("bad.npy", np.full((10000, 10), 0.5))  # rows sum to 5
    cases = [
        (["-l", tmp_path / "missing.npy", "-p", P, "-o", out], "missing.npy"),
        (["-l", L, "-p", bad, "-o", out], "bad.npy"),
        (
            ["-l", L, "-p", P, "-o", tmp_path / "out" / "r.txt"],
            "unsupported output format '.txt'; use one of .html, .htm",
        ),
        (["-l", L, "-p", P, "-o", "-"], "-o -: the report is a file"),
        (["-l", L, "-p", P, "-p", P, "-o", out], "report takes one --pred-probs model, got 2"),
        (["-l", L, "-p", P, "-o", out, "--baseline", tmp_path / "none.json"], "none.json"),
        (["-l", L, "-p", P, "-o", L.replace(".npy", ".html"), "--rows", "-1"], "--rows"),
    ]
    for args, fragment in cases:
        res = run(runner, "report", *args, code=2)
        assert fragment in res.stderr and "Traceback" not in res.stderr, (args, res.stderr)
        assert os.listdir(tmp_path / "out") == [], args
    res = run(runner, "report", "-l", L, "-p", P, "-o", P, code=2)  # refused before anything is read
    assert "would overwrite the input" in res.stderr


def test_failed_run_keeps_the_previous_report(runner, tmp_path, save_npy):
    """Atomic output: a failing run leaves the earlier page as it was, and no temporary."""
    out = tmp_path / "r.html"
    report(runner, out, "--quiet")
    before = out.read_bytes()
    bad = save_npy("nan.npy", np.where(np.arange(10)[None, :] == 0, np.nan, np.load(P)))
    res = run(runner, "report", "-l", L, "-p", bad, "-o", out, code=2)
    assert "nan.npy" in res.stderr
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["nan.npy", "r.html"]


def test_interrupted_write_publishes_nothing(runner, tmp_path, monkeypatch):
    from labelaudit.html import page

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(page, "_issues", boom)
    res = run(runner, "report", "-l", L, "-p", P, "-o", tmp_path / "r.html", code=130)
    assert res.stderr.strip().startswith("Interrupted") and os.listdir(tmp_path) == []


@pytest.mark.parametrize("command", ["find-issues", "health", "overlap"])
def test_format_markdown_equals_the_library(runner, cifar, command):
    ctx = Context.validated(*cifar)
    args = ["-l", L, "-p", P, "--class-names", NAMES_FILE, "--format", "markdown"]
    if command == "find-issues":
        res = run(runner, command, *args, "--max-issues", "10", code=1)
        want = find_issues(ctx, listing=Listing(max_issues=10), class_names=NAMES)
        assert res.stderr == "Gate failed: max_issues: 284 issues exceeds the limit 10\n"
    elif command == "health":
        res = run(runner, command, *args, "--fail-under", "0.9")
        want = health(ctx, fail_under=0.9, class_names=NAMES)
        assert (
            "| fail\\_under | fail\\_under\\: health score 0.9756 is at or above the limit 0.9 |"
            in res.stdout
        )
    else:
        res = run(runner, command, *args)
        want = overlap(ctx, class_names=NAMES)
    assert res.stdout == to_markdown(want)


def test_markdown_refused_with_stdout_rows(runner):
    res = run(runner, "find-issues", "-l", L, "-p", P, "-o", "-", "--format", "markdown", code=2)
    assert "not --format markdown" in res.stderr


AUDIT_SET = os.path.join(os.path.dirname(__file__), "..", "golden", "inputs_audit", "digits")


def test_features_add_the_audit_section(runner, tmp_path):
    """--features: the page holds the audit's Report as labelaudit audit computes it on the same data."""
    from labelaudit.core.audit import audit
    from labelaudit.html import audit_section

    y, p, x = (os.path.join(AUDIT_SET, f) for f in ("labels.npy", "pred_probs.npy", "features.npy"))
    out = tmp_path / "report.html"
    run(runner, "report", "-l", y, "-p", p, "--features", x, "-o", out, "--quiet")
    ctx = Context.validated(np.load(y), np.load(p))
    want_audit = audit(ctx.labels, features=np.load(x), context=ctx, source={"features": x, "labels": y})
    inputs = [InputFile("labels", y).describe(), InputFile("pred_probs", p).describe()]
    inputs.append(InputFile("features", x).describe())
    want = render(overview(ctx, audit=want_audit), inputs)
    page = out.read_text(encoding="utf-8")
    assert page == want and audit_section(want_audit) in page
    kinds = list(want_audit.tables["issue_summary"]["issue_type"])
    assert kinds == ["null", "label", "outlier", "near_duplicate", "non_iid", "class_imbalance"] + [
        "underperforming_group"
    ]
    worst_outlier = want_audit.view_data["worst"]["outlier"]["index"][0]
    assert "<h3>outlier: the worst" in page and f'data-v="{worst_outlier}' in page


def test_features_need_whole_pred_probs_rows(runner, tmp_path):
    """Top-k pred_probs feed health and find-issues, not the audit's types: refused before anything runs."""
    y, x = os.path.join(AUDIT_SET, "labels.npy"), os.path.join(AUDIT_SET, "features.npy")
    p = np.load(os.path.join(AUDIT_SET, "pred_probs.npy"))
    top = np.argsort(-p, axis=1, kind="stable")[:, :3]
    topk = tmp_path / "topk.npz"
    np.savez(topk, indices=top, values=np.take_along_axis(p, top, 1), num_classes=np.array(10))
    out = tmp_path / "out"
    out.mkdir()
    res = run(runner, "report", "-l", y, "-p", topk, "--features", x, "-o", out / "r.html", code=2)
    assert "top-k probabilities are not read by report --features" in res.stderr
    res = run(runner, "audit", "-l", y, "-p", topk, "--features", x, "-o", out / "a.parquet", code=2)
    assert "top-k probabilities are not read by audit" in res.stderr and "Traceback" not in res.stderr
    assert os.listdir(out) == []
    run(runner, "report", "-l", y, "-p", topk, "-o", out / "r.html", "--quiet")  # without --features: fine
