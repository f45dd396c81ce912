"""`batched` and `find-issues --low-memory` on the CLI: outputs, scores files, errors and gates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from golden_data import expected, inputs, manifest

import labelaudit as la
from labelaudit.cli import app

# ---------------------------------------------------------------------------- CLI


def _json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_cli_batched_exact_equals_find_issues(runner, tmp_path):
    d = "tests/golden/inputs/cifar10"
    args = [
        "-l",
        f"{d}/labels.npy",
        "-p",
        f"{d}/pred_probs.npy",
        "--format",
        "json",
        "--filter-by",
        "both",
        "--rank-by",
        "normalized_margin",
    ]
    want = _json(runner.invoke(app, ["find-issues", *args]))
    got = _json(runner.invoke(app, ["batched", "--exact", "--batch-size", "1234", *args]))
    low = _json(runner.invoke(app, ["find-issues", "--low-memory", "--batch-size", "999", *args]))
    assert got["issues"] == want["issues"] == low["issues"]
    assert got["n_issues"] == want["n_issues"]


def test_cli_batched_default_mode_mask_and_scores(runner, tmp_path):
    d = "tests/golden/inputs/gen_k5"
    labels, p = inputs("gen_k5")
    entry = next(
        e
        for e in manifest("gen_k5")
        if e["func"] == "find_label_issues_batched"
        and e["kwargs"]["batch_size"] == 1000
        and not e["kwargs"].get("num_issue_kwargs")
    )
    out, scores = tmp_path / "mask.npy", tmp_path / "scores.npy"
    r = runner.invoke(
        app,
        [
            "batched",
            "-l",
            f"{d}/labels.npy",
            "-p",
            f"{d}/pred_probs.npy",
            "--chunk-size",
            "1000",
            "--batch-size",
            "313",
            "-o",
            str(out),
            "--mask",
            "--scores-out",
            str(scores),
        ],
    )
    assert r.exit_code == 0, r.stderr
    np.testing.assert_array_equal(np.flatnonzero(np.load(out)), expected("gen_k5")[entry["key"]])
    np.testing.assert_array_equal(np.load(scores), la.get_label_quality_scores(labels, p))


@pytest.mark.parametrize("n_jobs", ["1", "2"])
def test_cli_batched_exact_scores_out_streams_the_ranking_score(runner, tmp_path, n_jobs):
    d = "tests/golden/inputs/cifar10"
    labels, p = inputs("cifar10")
    for rank_by, adjust in (("self_confidence", []), ("normalized_margin", ["--adjust-pred-probs"])):
        scores = tmp_path / f"{rank_by}.npy"
        r = runner.invoke(
            app,
            [
                "batched",
                "--exact",
                "-l",
                f"{d}/labels.npy",
                "-p",
                f"{d}/pred_probs.npy",
                "--rank-by",
                rank_by,
                *adjust,
                "--batch-size",
                "777",
                "--n-jobs",
                n_jobs,
                "--scores-out",
                str(scores),
                "-o",
                str(tmp_path / "issues.npy"),
            ],
        )
        assert r.exit_code == 0, r.stderr
        got = np.load(scores)
        assert got.dtype == np.float64 and got.shape == (len(labels),)
        want = la.get_label_quality_scores(labels, p, method=rank_by, adjust_pred_probs=bool(adjust))
        np.testing.assert_array_equal(got, want)


def test_cli_batched_failed_run_leaves_no_scores_file(runner, tmp_path):
    labels, p = inputs("gen_k5")
    p = p.copy()
    p[-3, 0] = np.nan  # found in the last block, after the others' scores were written
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "l.npy", labels)
    for mode in ([], ["--exact"]):
        scores = tmp_path / "scores.npy"
        r = runner.invoke(
            app,
            [
                "batched",
                *mode,
                "-l",
                str(tmp_path / "l.npy"),
                "-p",
                str(tmp_path / "p.npy"),
                "--batch-size",
                "500",
                "--n-jobs",
                "2",
                "--scores-out",
                str(scores),
            ],
        )
        assert r.exit_code == 2 and f"row {len(labels) - 3}" in r.stderr
        assert sorted(x.name for x in tmp_path.iterdir()) == ["l.npy", "p.npy"]


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ("range", ["labels must be in 0..4", "2 outside", "first at row 1995: 7"]),
        ("float", ["labels must be integers"]),
    ],
)
def test_cli_batched_bad_labels_found_by_the_workers(runner, tmp_path, change, fragments):
    labels, p = inputs("gen_k5")
    labels = labels.astype(np.int64)
    if change == "range":
        labels[[1995, len(labels) - 1]] = 7  # both in late blocks
    else:
        labels = labels.astype(np.float64)
        labels[1995] = 1.5
    np.save(tmp_path / "l.npy", labels)
    np.save(tmp_path / "p.npy", p)
    for mode in ([], ["--exact"]):
        r = runner.invoke(
            app,
            [
                "batched",
                *mode,
                "-l",
                str(tmp_path / "l.npy"),
                "-p",
                str(tmp_path / "p.npy"),
                "--batch-size",
                "300",
                "--n-jobs",
                "2",
                "-o",
                str(tmp_path / "o.npy"),
                "--scores-out",
                str(tmp_path / "s.npy"),
            ],
        )
        assert r.exit_code == 2, r.stderr
        assert "l.npy" in r.stderr and all(f in r.stderr for f in fragments), r.stderr
        assert sorted(x.name for x in tmp_path.iterdir()) == ["l.npy", "p.npy"]


def test_cli_batched_warns_about_absent_classes(runner, tmp_path):
    labels, p = inputs("gen_k5")
    labels = np.where(labels == 3, 2, labels)  # class 3 never given
    np.save(tmp_path / "l.npy", labels)
    np.save(tmp_path / "p.npy", p)
    r = runner.invoke(
        app,
        [
            "batched",
            "-l",
            str(tmp_path / "l.npy"),
            "-p",
            str(tmp_path / "p.npy"),
            "-o",
            str(tmp_path / "o.npy"),
        ],
    )
    assert r.exit_code == 0 and "1 class(es) have no examples" in r.stderr and "[3]" in r.stderr


def test_cli_batched_nan_row_named(runner, tmp_path):
    labels, p = inputs("gen_k5")
    p = p.copy()
    p[1777, 2] = np.nan
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "l.npy", labels)
    r = runner.invoke(
        app,
        [
            "batched",
            "-l",
            str(tmp_path / "l.npy"),
            "-p",
            str(tmp_path / "p.npy"),
            "--batch-size",
            "500",
            "-o",
            str(tmp_path / "o.npy"),
        ],
    )
    assert r.exit_code == 2 and "row 1777" in r.stderr and "NaN" in r.stderr
    assert not (tmp_path / "o.npy").exists()


def test_cli_batched_gate(runner):
    d = "tests/golden/inputs/cifar10"
    r = runner.invoke(
        app,
        [
            "batched",
            "-l",
            f"{d}/labels.npy",
            "-p",
            f"{d}/pred_probs.npy",
            "--max-issues",
            "5",
            "--format",
            "csv",
        ],
    )
    assert r.exit_code == 1 and "max_issues" in r.stderr


def test_cli_batched_lists_the_ids_of_a_table(runner, tmp_path):
    """A table's id column (--id-column, or a column named id) is in the listing, as find-issues has it:
    --exact equals find-issues row for row, ids included; a missing --id-column is exit 2, nothing written."""
    import pandas as pd

    d = "tests/golden/inputs/cifar10"
    y, p = np.load(f"{d}/labels.npy"), np.load(f"{d}/pred_probs.npy")
    table = pd.DataFrame({"key": [f"img{i:05d}" for i in range(len(y))], "label": y})
    table[[f"p{j}" for j in range(p.shape[1])]] = p
    data = tmp_path / "data.parquet"
    table.to_parquet(data)
    args = ["-l", str(data), "-p", str(data), "--id-column", "key", "--format", "json"]
    want = _json(runner.invoke(app, ["find-issues", *args]))
    got = _json(runner.invoke(app, ["batched", "--exact", "--batch-size", "777", *args]))
    assert got["issues"] == want["issues"] and got["issues"][0]["id"] == f"img{got['issues'][0]['index']:05d}"
    low = _json(runner.invoke(app, ["find-issues", "--low-memory", *args]))
    assert low["issues"] == want["issues"]
    out = tmp_path / "out"
    out.mkdir()
    res = runner.invoke(
        app, ["batched", "-l", str(data), "-p", str(data), "--id-column", "nope", "-o", str(out / "i.csv")]
    )
    assert res.exit_code == 2 and "--id-column 'nope' not found" in res.stderr
    assert list(out.iterdir()) == []
