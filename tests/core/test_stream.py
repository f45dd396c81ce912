"""The streaming engine (core.stream): exact mode equals in-memory find_label_issues, default mode
equals the reference's find_label_issues_batched, for any block size and worker count."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from conftest import nudged_argmax_wins, raised_bounds
from golden_data import ALL_SETS, expected, inputs, manifest
from hypothesis import given, settings
from hypothesis import strategies as st

import labelaudit as la
from labelaudit.core import stream
from labelaudit.core.filter import PRUNE_FILTERS
from labelaudit.errors import LabelauditWarning


def few_examples_warning(labels, k, filter_by, min_examples_per_class=1):
    """pytest.warns for the prune filters' warning about classes with at most min_examples_per_class
    examples (docs/algorithms.md §12) when the labels hold such a class (absent ones included); else a
    context that lets no warning through, so the stream engine must warn exactly when in-memory does."""
    counts = np.bincount(np.asarray(labels), minlength=k)
    if filter_by in PRUNE_FILTERS and (counts <= min_examples_per_class).any():
        return pytest.warns(LabelauditWarning, match=r"class\(es\) have at most min_examples_per_class")
    return contextlib.nullcontext()


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
    with few_examples_warning(labels, k, filter_by):
        want = la.find_label_issues(
            labels, p, filter_by=filter_by, return_indices_ranked_by="self_confidence"
        )
    for rows, n_jobs in ((997, 1), (n + 1, 1), (2048, 2)):
        with few_examples_warning(labels, k, filter_by):
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
            few = (labels, k, filter_by, kwargs.get("min_examples_per_class", 1))
            with few_examples_warning(*few):
                want = la.find_label_issues(
                    labels, p, filter_by=filter_by, return_indices_ranked_by="normalized_margin", **kwargs
                )
            for rows in (1, 7, n - 1, n, n + 1):
                with few_examples_warning(*few):
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
    with few_examples_warning(labels, k, filter_by):
        want = la.find_label_issues(
            labels, p, filter_by=filter_by, return_indices_ranked_by="self_confidence"
        )
    with few_examples_warning(labels, k, filter_by):
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
    """docs/algorithms.md §14 written out plainly: the running mean over chunks, scores, counts, top-T,
    minus "label wins"."""
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
