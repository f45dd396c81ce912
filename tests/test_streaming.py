"""The streaming engine (batched, find-issues --low-memory): exact mode equals in-memory find-issues,
default mode equals the reference's find_label_issues_batched, for any block size and worker count."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import nudged_argmax_wins, raised_bounds
from golden_data import ALL_SETS, expected, inputs, manifest
from hypothesis import given, settings
from hypothesis import strategies as st

import labelaudit as la
from labelaudit.cli import app
from labelaudit.core import stream


def passes_for(labels, p, rows):
    def passes():
        for s in range(0, len(labels), rows):
            yield s, labels[s : s + rows], p[s : s + rows]

    return passes


@pytest.mark.parametrize("name", ALL_SETS)
@pytest.mark.parametrize("filter_by", la.FILTERS)
def test_exact_equals_in_memory_on_golden_sets(name, filter_by):
    labels, p = inputs(name)
    n, k = p.shape
    want = la.find_label_issues(labels, p, filter_by=filter_by, return_indices_ranked_by="self_confidence")
    for rows, n_jobs in ((997, 1), (n + 1, 1), (2048, 2)):
        got, _ = stream.exact_issue_rows(
            passes_for(labels, p, rows), n, k, p.dtype, filter_by=filter_by, n_jobs=n_jobs
        )
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["gen_k5", "cifar10"])
def test_exact_redoes_cells_whose_sampled_bound_was_too_high(name, monkeypatch):
    # Bounds too high for half the cells: the extra pass (D) redoes them and must still give
    # the in-memory answer.
    from labelaudit.core import _noise_rate

    labels, p = inputs(name)
    n, k = p.shape
    want = la.find_label_issues(labels, p, return_indices_ranked_by="self_confidence")
    monkeypatch.setattr(_noise_rate, "bounds_from_sample", raised_bounds(_noise_rate.bounds_from_sample))
    passes = []
    got, _ = stream.exact_issue_rows(
        passes_for(labels, p, 1000),
        n,
        k,
        p.dtype,
        n_jobs=2,
        progress=lambda name, rows: passes.append(name[0]),
    )
    np.testing.assert_array_equal(got, want)
    assert "D" in passes


@pytest.mark.parametrize("name", ["gen_k5", "gen_absent", "gen_singleton", "gen_f32"])
def test_exact_any_block_size_small(name):
    labels, p = inputs(name)
    labels, p = labels[:300], p[:300]
    n, k = p.shape
    for filter_by in la.FILTERS:
        for kwargs in ({}, {"frac_noise": 0.6, "min_examples_per_class": 3}):
            if filter_by not in ("prune_by_noise_rate", "prune_by_class", "both"):
                kwargs = {}
            want = la.find_label_issues(
                labels, p, filter_by=filter_by, return_indices_ranked_by="normalized_margin", **kwargs
            )
            for rows in (1, 7, n - 1, n, n + 1):
                got, _ = stream.exact_issue_rows(
                    passes_for(labels, p, rows),
                    n,
                    k,
                    p.dtype,
                    filter_by=filter_by,
                    rank_by="normalized_margin",
                    **kwargs,
                )
                np.testing.assert_array_equal(got, want, err_msg=f"{filter_by} {kwargs} rows={rows}")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(8, 80),
    k=st.integers(2, 5),
    rows=st.integers(1, 90),
    filter_by=st.sampled_from(la.FILTERS),
)
def test_exact_equals_in_memory_hypothesis(seed, n, k, rows, filter_by):
    rng = np.random.default_rng(seed)
    p = np.round(rng.dirichlet(np.ones(k) * 0.8, size=n), 1) + 0.01  # ties on purpose
    p /= p.sum(axis=1, keepdims=True)
    labels = rng.integers(0, k, n)
    if len(np.unique(labels)) < 2:
        labels[0], labels[1] = 0, 1
    want = la.find_label_issues(labels, p, filter_by=filter_by, return_indices_ranked_by="self_confidence")
    got, _ = stream.exact_issue_rows(passes_for(labels, p, rows), n, k, p.dtype, filter_by=filter_by)
    np.testing.assert_array_equal(got, want)


BATCHED = [
    (name, e)
    for name in ALL_SETS
    for e in manifest(name)
    if e["func"] == "find_label_issues_batched" and e.get("key")
]


@pytest.mark.parametrize("case", BATCHED, ids=[f"{n}:{e['key']}" for n, e in BATCHED])
def test_default_mode_equals_reference_batched(case):
    name, e = case
    labels, p = inputs(name)
    n, k = p.shape
    kw = e["kwargs"]
    method = (kw.get("num_issue_kwargs") or {}).get("estimation_method", "off_diagonal")
    want = expected(name)[e["key"]]
    for rows, n_jobs in ((999, 1), (4096, 2), (n + 1, 1)):
        res = stream.batched_issue_rows(
            passes_for(labels, p, rows), n, k, estimation_method=method, chunk=kw["batch_size"], n_jobs=n_jobs
        )
        np.testing.assert_array_equal(np.sort(res.ranked), want)
        assert np.all(np.diff(res.scores[res.ranked]) >= 0)  # most severe first


def reference_batched(labels, p, chunk, method, adjust, estimation):
    """§14 written out plainly: the running mean over chunks, scores, counts, top-T, minus "label wins"."""
    n, k = p.shape
    t, seen = np.zeros(k), np.zeros(k, dtype=np.int64)
    for s in range(0, n, chunk):
        y, q = labels[s : s + chunk], p[s : s + chunk]
        c_b = np.bincount(y, minlength=k)
        t_b = np.array([q[y == c, c].mean() if c_b[c] else 2 for c in range(k)], dtype=np.float64)
        t_b = np.maximum(t_b, 2e-6)
        t = np.maximum((seen * t + c_b * t_b) / np.maximum(seen + c_b, 1), 2e-6)
        seen += c_b
    scores = np.asarray(stream.scores_of_block(p, labels, method, t if adjust else None), dtype=np.float64)
    g = p.argmax(axis=1)
    ok = p[np.arange(n), g] >= (t - 1e-6)[g]
    prune = np.bincount(labels[ok & (g != labels)], minlength=k)
    if estimation == "off_diagonal":
        num = int(prune.sum())
    else:
        norm, cls = np.bincount(labels[ok], minlength=k), np.bincount(labels, minlength=k)
        num = int(round(float(np.sum(prune * cls / np.maximum(norm, 1e-6)))))
    lowest = np.argsort(scores, kind="stable")[:num]
    wins = nudged_argmax_wins(p[lowest], labels[lowest])
    return lowest[~wins], scores


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(5, 120),
    k=st.integers(2, 6),
    chunk=st.integers(1, 50),
    method=st.sampled_from(la.SCORE_METHODS),
    adjust=st.booleans(),
    estimation=st.sampled_from(stream.ESTIMATION_METHODS),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_default_mode_equals_plain_reference_any_blocks(seed, n, k, chunk, method, adjust, estimation, dtype):
    adjust = adjust and method != "confidence_weighted_entropy"  # that pair is refused
    rng = np.random.default_rng(seed)
    p = np.round(rng.dirichlet(np.ones(k) * 0.7, size=n), 1) + 0.01  # ties on purpose
    p = (p / p.sum(axis=1, keepdims=True)).astype(dtype)
    labels = rng.integers(0, k, n)
    want, want_scores = reference_batched(labels, p, chunk, method, adjust, estimation)
    for rows in (1, 7, n - 1, n, n + 1):
        for n_jobs in (1, 2):
            res = stream.batched_issue_rows(
                passes_for(labels, p, rows),
                n,
                k,
                method=method,
                adjust_pred_probs=adjust,
                estimation_method=estimation,
                chunk=chunk,
                dtype=p.dtype,
                n_jobs=n_jobs,
            )
            np.testing.assert_array_equal(res.ranked, want, err_msg=f"rows={rows} n_jobs={n_jobs}")
            np.testing.assert_array_equal(np.asarray(res.scores, dtype=np.float64), want_scores)
            np.testing.assert_array_equal(res.predicted, p.argmax(axis=1))


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


def test_cli_batched_tables_stream_like_npy(runner):
    base = ["--exact", "--format", "csv", "--batch-size", "700"]
    s = "sample_data/cifar10"
    npy = runner.invoke(app, ["batched", "-l", f"{s}/labels.npy", "-p", f"{s}/pred_probs.npy", *base])
    for table in ("cifar10.parquet", "cifar10.csv"):
        r = runner.invoke(app, ["batched", "-l", f"{s}/{table}", "-p", f"{s}/{table}", *base])
        assert r.exit_code == 0, r.stderr
        rows = [line.split(",")[:5] for line in r.stdout.splitlines()]
        assert rows == [line.split(",")[:5] for line in npy.stdout.splitlines()]


def test_cli_batched_truncated_npy(runner, tmp_path):
    labels, p = inputs("gen_k5")
    full = tmp_path / "p.npy"
    np.save(full, p)
    cut = tmp_path / "cut.npy"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) - 100 * p.shape[1] * 8 - 3])
    np.save(tmp_path / "l.npy", labels)
    out = tmp_path / "out.npy"
    r = runner.invoke(app, ["batched", "-l", str(tmp_path / "l.npy"), "-p", str(cut), "-o", str(out)])
    assert r.exit_code == 2
    assert "cut.npy" in r.stderr and "truncated" in r.stderr and f"row {len(labels) - 101}" in r.stderr
    assert not out.exists()


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
