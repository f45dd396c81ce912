"""`--format json` is the core Report's own document: the CLI adds the envelope (version, inputs with
sha256, N, K, class names) and nothing else. Each command against its library entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from labelaudit.cli import app
from labelaudit.core import diagnose, formats, health, issues, multilabel, token
from labelaudit.core.context import Context
from labelaudit.core.report import Detection, Listing

ENVELOPE = ("version", "command", "params", "inputs", "n_examples", "n_classes", "class_names")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    rng = np.random.default_rng(11)
    n, k = 400, 5
    true = rng.integers(0, k, n)
    y = np.where(rng.random(n) < 0.2, rng.integers(0, k, n), true)
    logits = rng.normal(size=(n, k)) + 2 * np.eye(k)[true]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    yml = (rng.random((n, 3)) < 0.4).astype(int)
    yml[0] = 1
    pml = np.clip(np.where(rng.random((n, 3)) < 0.1, 1 - yml, yml) * 0.8 + rng.random((n, 3)) * 0.2, 0, 1)
    for name, a in {"y": y, "p": p, "yml": yml, "pml": pml, "len": np.full(80, 5)}.items():
        np.save(d / f"{name}.npy", a)
    return d, y, p, yml, pml


def cli_doc(*args) -> dict:
    res = CliRunner().invoke(app, [*map(str, args), "--format", "json"])
    assert res.exit_code in (0, 1), res.stderr
    return json.loads(res.stdout)


def same(doc: dict, report) -> None:
    """The CLI document equals the library report's document, envelope included (inputs aside)."""
    lib = json.loads(formats.to_json(formats.document(report, doc["inputs"])))
    assert doc == lib
    assert set(ENVELOPE) <= set(doc)


def test_find_issues(files):
    d, y, p, *_ = files
    doc = cli_doc(
        "find-issues", "-l", d / "y.npy", "-p", d / "p.npy", "--rank-by", "normalized_margin", "--top", 7
    )
    report = issues.find_issues(
        Context.validated(y, p), Detection(rank_by="normalized_margin"), Listing(top=7)
    )
    same(doc, report)
    assert doc["n_issues"] > 7 and len(doc["issues"]) == 7


def test_rank(files):
    d, y, p, *_ = files
    doc = cli_doc("rank", "-l", d / "y.npy", "-p", d / "p.npy", "--method", "confidence_weighted_entropy")
    same(doc, issues.rank(Context.validated(y, p), method="confidence_weighted_entropy", all_scores=True))


def test_health_and_overlap(files):
    d, y, p, *_ = files
    same(
        cli_doc("health", "-l", d / "y.npy", "-p", d / "p.npy", "--fail-under", 0.5),
        health.health(Context.validated(y, p), fail_under=0.5),
    )
    same(
        cli_doc("overlap", "-l", d / "y.npy", "-p", d / "p.npy", "--top", 3),
        health.overlap(Context.validated(y, p), top=3),
    )


def test_doctor(files):
    d, y, p, *_ = files
    same(cli_doc("doctor", "-l", d / "y.npy", "-p", d / "p.npy"), diagnose.doctor(y, p))


def test_batched_exact_is_find_issues(files):
    d, y, p, *_ = files
    doc = cli_doc("batched", "--exact", "-l", d / "y.npy", "-p", d / "p.npy", "--batch-size", 37)
    lib = issues.find_issues(Context.validated(y, p))
    assert doc["issues"] == lib.to_dict()["issues"] and doc["n_issues"] == lib.to_dict()["n_issues"]


def test_multilabel(files):
    d, _, _, yml, pml = files
    doc = cli_doc("find-issues", "--task", "multilabel", "-l", d / "yml.npy", "-p", d / "pml.npy")
    same(doc, multilabel.find_report(yml, pml))
    doc = cli_doc("health", "--task", "multilabel", "-l", d / "yml.npy", "-p", d / "pml.npy")
    same(doc, multilabel.health_report(yml, pml))


def test_token(files):
    d, y, p, *_ = files
    lengths = np.full(80, 5)
    args = ["-l", d / "y.npy", "-p", d / "p.npy", "--sentence-lengths", d / "len.npy", "--task", "token"]
    same(
        cli_doc("find-issues", *args, "--by", "sentence"),
        token.find_report(Context(y.astype(np.int32), p), lengths, by="sentence"),
    )
    same(cli_doc("rank", *args), token.rank_report(Context(y.astype(np.int32), p), lengths))
