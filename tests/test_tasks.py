"""--task multilabel and --task token: hand-checked kernels (spec examples M and T), input validation
and CLI outputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelaudit.cli import app
from labelaudit.core import multilabel as ml
from labelaudit.core import token as tk

Y_M = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 0, 0]])
P_M = np.array(
    [[0.9, 0.2, 0.1], [0.8, 0.1, 0.2], [0.3, 0.7, 0.6], [0.1, 0.2, 0.9], [0.7, 0.3, 0.2], [0.2, 0.1, 0.8]]
)
Y_T = np.array([0, 1, 2, 1, 1, 0, 2, 0])
P_T = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.2, 0.7, 0.1],
        [0.6, 0.1, 0.3],
        [0.1, 0.85, 0.05],
        [0.25, 0.15, 0.6],
        [0.7, 0.2, 0.1],
        [0.1, 0.1, 0.8],
        [0.35, 0.55, 0.1],
    ]
)
L_T = np.array([3, 2, 3])


def test_example_m_scores_and_aggregators():
    s = ml.per_class_scores(Y_M, P_M)
    np.testing.assert_allclose(s[5], [0.8, 0.9, 0.2])
    np.testing.assert_allclose(ml.aggregate(s, alpha=0.8), [0.82, 0.24, 0.46, 0.82, 0.30, 0.324])
    np.testing.assert_allclose(ml.aggregate(s, alpha=None), [0.85, 0.45, 0.55, 0.85, 0.45, 0.525])
    np.testing.assert_allclose(
        ml.aggregate(s, "softmin"),
        [0.84238831, 0.10127431, 0.4271671, 0.84238831, 0.20664835, 0.20211839],
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        ml.get_label_quality_scores(Y_M, P_M, adjust_pred_probs=True),
        [0.63363066, 0.44259233, 0.45562369, 0.63724042, 0.28360976, 0.2909547],
        rtol=1e-7,
    )


def test_example_m_issues_and_dataset():
    per_class = ml.find_issues_per_class(Y_M, P_M)
    assert [np.flatnonzero(per_class[:, k]).tolist() for k in range(3)] == [[], [1], [2, 4, 5]]
    for f in (
        "prune_by_noise_rate",
        "prune_by_class",
        "both",
        "confident_learning",
        "predicted_neq_given",
        "low_self_confidence",
        "low_normalized_margin",
    ):
        assert ml.find_label_issues(Y_M, P_M, filter_by=f).tolist() == [False, True, True, False, True, True]
        # Path A's ranked output is sorted by its score (the reference returns [1, 5, 2, 4] there)
        assert ml.find_label_issues(
            Y_M, P_M, filter_by=f, return_indices_ranked_by="self_confidence"
        ).tolist() == [1, 4, 5, 2]
    common = ml.common_issues(Y_M, P_M)
    assert list(
        zip(
            common["class_index"][:3].tolist(),
            common["n_examples"][:3].tolist(),
            common["in_given_label"][:3].tolist(),
            strict=True,
        )
    ) == [(2, 2, False), (1, 1, True), (2, 1, True)]
    table = ml.class_table(Y_M, P_M)
    assert table["class_index"].tolist() == [2, 1, 0]
    assert table["label_issues"].tolist() == [1, 1, 0] and table["inverse_label_issues"].tolist() == [2, 0, 0]
    assert ml.health_score(Y_M, P_M) == pytest.approx(1 - 4 / 6)


def test_example_t_tokens():
    assert tk.find_label_issues(Y_T, P_T, L_T).tolist() == [[1, 1]]
    assert tk.find_label_issues(Y_T, P_T, L_T, filter_by="predicted_neq_given").tolist() == [
        [1, 1],
        [0, 2],
        [2, 2],
    ]
    p2 = P_T.copy()
    p2[7] = [0.28, 0.62, 0.10]
    assert tk.find_label_issues(Y_T, p2, L_T).tolist() == [[1, 1], [2, 2], [0, 2]]
    sent, tokens = tk.get_label_quality_scores(Y_T, P_T, L_T)
    np.testing.assert_allclose(sent, [0.3, 0.15, 0.35])
    np.testing.assert_allclose(
        tk.get_label_quality_scores(Y_T, P_T, L_T, sentence_score_method="softmin")[0],
        [0.30015683, 0.15000058, 0.35037431],
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        tk.get_label_quality_scores(Y_T, P_T, L_T, sentence_score_method="softmin", temperature=0.5)[0],
        [0.50012636, 0.28847128, 0.53745778],
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        tk.get_label_quality_scores(Y_T, P_T, L_T, token_score_method="normalized_margin")[0],
        [0.35, 0.275, 0.40],
    )


def test_token_common_issues_and_positions():
    issues = np.array([[2, 0], [1, 0], [0, 2], [2, 2]])
    toks = ["The", "Bank", "of", "Paris", "bank", "robbery", "Paris", "Hilton", "bank"]
    labels = np.array([0, 1, 1, 2, 0, 0, 1, 1, 0])
    pred = np.array([0, 0, 0, 0, 1, 0, 2, 0, 1])
    lengths = np.array([4, 2, 3])
    assert tk.common_label_issues(issues, toks, labels=labels, predicted=pred, lengths=lengths) == [
        ("bank", 0, 1, 2),
        ("Paris", 1, 2, 1),
        ("of", 1, 0, 1),
    ]
    assert tk.common_label_issues(issues, toks, lengths=lengths) == [("bank", 2), ("Paris", 1), ("of", 1)]
    assert tk.positions(np.array([0, 3, 4]), np.array([3, 0, 2, 1])).tolist() == [[0, 0], [2, 0], [2, 1]]


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


def test_cli_multilabel_table_lists(runner, tmp_path):
    df = pd.DataFrame(
        {"label": ["a", "a,b", "b", "c", "[a, c]", ""], "a": P_M[:, 0], "b": P_M[:, 1], "c": P_M[:, 2]}
    )
    df.to_csv(tmp_path / "t.csv", index=False)
    r = runner.invoke(
        app,
        [
            "find-issues",
            "--task",
            "multilabel",
            "-l",
            str(tmp_path / "t.csv"),
            "-p",
            str(tmp_path / "t.csv"),
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [row["index"] for row in doc["issues"]] == [1, 4, 5, 2] and doc["issues"][0]["given_labels"] == [
        "a",
        "b",
    ]


@pytest.mark.parametrize(
    "labels, probs, message",
    [
        (np.array([0, 1, 2, 0, 1, 2]), P_M, "(N, K) 0/1 matrix"),  # class ids are never read as a matrix
        (Y_M * 2, P_M, "0/1"),
        (np.zeros((6, 3), dtype=int), P_M, "every row is empty"),
        (Y_M[:, :1], P_M[:, :1], "K >= 2"),
        (Y_M, P_M * 3, "[0, 1]"),
    ],
)
def test_cli_multilabel_bad_inputs(runner, tmp_path, labels, probs, message):
    np.save(tmp_path / "y.npy", labels)
    np.save(tmp_path / "p.npy", probs)
    out = tmp_path / "o.npy"
    r = runner.invoke(
        app,
        [
            "find-issues",
            "--task",
            "multilabel",
            "-l",
            str(tmp_path / "y.npy"),
            "-p",
            str(tmp_path / "p.npy"),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 2 and message in r.stderr and not out.exists()


def test_cli_multilabel_class_beyond_k(runner, tmp_path):
    pd.DataFrame({"label": ["0", "0,5"], "a": [0.9, 0.8], "b": [0.1, 0.3]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    r = runner.invoke(
        app,
        ["find-issues", "--task", "multilabel", "-l", str(tmp_path / "t.csv"), "-p", str(tmp_path / "t.csv")],
    )
    assert r.exit_code == 2 and "row 1" in r.stderr and "outside 0..1" in r.stderr


@pytest.fixture
def tok_files(tmp_path):
    np.save(tmp_path / "y.npy", Y_T)
    np.save(tmp_path / "p.npy", P_T)
    np.save(tmp_path / "len.npy", L_T)
    rows = [
        {"tokens": ["a", "b", "c"], "labels": ["O", "PER", "LOC"], "pred_probs": P_T[:3].tolist()},
        {"tokens": ["d", "e"], "labels": ["PER", "PER"], "pred_probs": P_T[3:5].tolist()},
        {"tokens": ["f", "g", "h"], "labels": ["O", "LOC", "O"], "pred_probs": P_T[5:].tolist()},
    ]
    with open(tmp_path / "s.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    (tmp_path / "tags.txt").write_text("O\nPER\nLOC\n")
    return tmp_path


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


def test_cli_token_length_mismatch(runner, tok_files):
    np.save(tok_files / "badlen.npy", np.array([3, 2, 2]))
    out = tok_files / "o.npy"
    r = runner.invoke(
        app,
        [
            "find-issues",
            "--task",
            "token",
            "-l",
            str(tok_files / "y.npy"),
            "-p",
            str(tok_files / "p.npy"),
            "--sentence-lengths",
            str(tok_files / "badlen.npy"),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 2 and "badlen.npy" in r.stderr and "sum to 7" in r.stderr and not out.exists()
    rows = [{"labels": [0, 1], "pred_probs": P_T[:3].tolist()}]
    with open(tok_files / "bad.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    r = runner.invoke(
        app,
        [
            "find-issues",
            "--task",
            "token",
            "-l",
            str(tok_files / "bad.jsonl"),
            "-p",
            str(tok_files / "bad.jsonl"),
        ],
    )
    assert r.exit_code == 2 and "sentence 0 has 2 labels but 3 rows" in r.stderr
