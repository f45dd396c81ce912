"""--task multilabel and --task token: CLI outputs of find-issues, rank and health."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import P_M, Y_M

from labelaudit.cli import app
from labelaudit.core import multilabel as ml

# ---------------------------------------------------------------------------- CLI


@pytest.fixture
def ml_files(tmp_path):
    np.save(tmp_path / "y.npy", Y_M)
    np.save(tmp_path / "p.npy", P_M)
    return tmp_path


def test_cli_multilabel_find_rank_health(runner, ml_files):
    base = ["--task", "multilabel", "-l", str(ml_files / "y.npy"), "-p", str(ml_files / "p.npy")]
    doc = json.loads(runner.invoke(app, ["find-issues", *base, "--format", "json"]).stdout)
    assert [r["index"] for r in doc["issues"]] == [1, 4, 5, 2]
    assert doc["issues"][0]["given_labels"] == [0, 1]
    out = ml_files / "mask.npy"
    r = runner.invoke(app, ["find-issues", *base, "--per-class", "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    np.testing.assert_array_equal(np.load(out), ml.find_issues_per_class(Y_M, P_M))
    doc = json.loads(runner.invoke(app, ["rank", *base, "--format", "json"]).stdout)
    np.testing.assert_allclose(doc["scores"], [0.82, 0.24, 0.46, 0.82, 0.30, 0.324])
    doc = json.loads(runner.invoke(app, ["health", *base, "--format", "json"]).stdout)
    assert doc["health_score"] == pytest.approx(1 / 3)
    r = runner.invoke(app, ["health", *base, "--fail-under", "0.5"])
    assert r.exit_code == 1 and "fail_under" in r.stderr


def test_cli_token_flat_and_table(runner, tok_files):
    flat = [
        "--task",
        "token",
        "-l",
        str(tok_files / "y.npy"),
        "-p",
        str(tok_files / "p.npy"),
        "--sentence-lengths",
        str(tok_files / "len.npy"),
    ]
    out = tok_files / "pairs.npy"
    r = runner.invoke(app, ["find-issues", *flat, "--filter-by", "predicted_neq_given", "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    pairs = np.load(out)
    assert pairs.dtype == np.int64 and pairs.tolist() == [[1, 1], [0, 2], [2, 2]]
    table = [
        "--task",
        "token",
        "-l",
        str(tok_files / "s.jsonl"),
        "-p",
        str(tok_files / "s.jsonl"),
        "--class-names",
        str(tok_files / "tags.txt"),
    ]
    doc = json.loads(runner.invoke(app, ["find-issues", *table, "--format", "json"]).stdout)
    assert doc["issues"][0]["sentence"] == 1 and doc["issues"][0]["text"] == "e"
    assert doc["issues"][0]["given_name"] == "PER" and doc["issues"][0]["predicted_name"] == "LOC"
    doc = json.loads(runner.invoke(app, ["rank", *table, "--format", "json"]).stdout)
    np.testing.assert_allclose(doc["sentence_scores"], [0.3, 0.15, 0.35])
    doc = json.loads(
        runner.invoke(app, ["find-issues", *table, "--by", "sentence", "--format", "json"]).stdout
    )
    assert doc["issues"] == [{"sentence": 1, "n_issues": 1}]
    r = runner.invoke(app, ["health", *table, "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["tokens"] == [{"token": "e", "n_issues": 1}]
