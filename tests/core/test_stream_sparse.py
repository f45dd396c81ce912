"""The streamed engine with many classes keeps the confident joint as cells and selects over needed
cells only (no (K, K) array); switching confident.SPARSE_MIN_K gives identical results, at K = 20 on
the golden sets and at K = 1,000, the exact redo of short cells included."""

from __future__ import annotations

import numpy as np
import pytest
from golden_data import inputs

import labelaudit as la
from labelaudit.core import _noise_rate, stream
from labelaudit.core import confident as kn


def passes_for(labels, p, rows):
    def passes():
        for s in range(0, len(labels), rows):
            yield s, labels[s : s + rows], p[s : s + rows]

    return passes


def run(labels, p, rows, **kw):
    n, k = p.shape
    ranked, ctx = stream.exact_issue_rows(passes_for(labels, p, rows), n, k, p.dtype, **kw)
    return ranked, ctx


def many_classes(n=12000, k=1000, seed=3):
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])  # every class, ~12 examples each
    true = np.where(rng.random(n) < 0.7, labels, (labels + rng.integers(1, 4, n)) % k)
    p = rng.exponential(size=(n, k)).astype(np.float32) ** 4
    p[np.arange(n), true] += p.sum(axis=1) * 2
    p /= p.sum(axis=1, keepdims=True)
    return labels, p


@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "both", "confident_learning"])
@pytest.mark.parametrize("data", ["20news", "k1000"])
def test_sparse_and_dense_stream_paths_agree(monkeypatch, data, filter_by):
    labels, p = inputs("20news") if data == "20news" else many_classes()
    monkeypatch.setattr(kn, "SPARSE_MIN_K", 1 << 30)
    want, ctx_d = run(labels, p, 997, filter_by=filter_by)
    assert not ctx_d.sparse
    monkeypatch.setattr(kn, "SPARSE_MIN_K", 2)
    got, ctx_s = run(labels, p, 1499, filter_by=filter_by, n_jobs=2)
    assert ctx_s.sparse
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ctx_s.rows.dense_joint(), ctx_d.rows.dense_joint())
    if data == "20news":
        np.testing.assert_array_equal(
            want,
            la.find_label_issues(labels, p, filter_by=filter_by, return_indices_ranked_by="self_confidence"),
        )


def test_sparse_stream_redoes_cells_whose_bound_was_too_high(monkeypatch):
    labels, p = many_classes(seed=5)
    monkeypatch.setattr(kn, "SPARSE_MIN_K", 1 << 30)
    want, _ = run(labels, p, 1000)
    monkeypatch.setattr(kn, "SPARSE_MIN_K", 2)
    real = _noise_rate.bounds_for_cells

    def raised(*args, **kwargs):  # every other finite bound +inf: those cells get no candidates
        b = real(*args, **kwargs)
        b[np.flatnonzero(np.isfinite(b))[::2]] = np.inf
        return b

    monkeypatch.setattr(_noise_rate, "bounds_for_cells", raised)
    names = []
    got, _ = run(labels, p, 1000, progress=lambda name, rows: names.append(name[0]))
    np.testing.assert_array_equal(got, want)
    assert "D" in names


def test_block_partials_are_cells_for_many_classes():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 1000 * 1000, 500)
    u, c = stream.cell_counts(codes, 1000)
    np.testing.assert_array_equal(np.repeat(u, c), np.sort(codes))
    dense = stream.cell_counts(codes % 100, 10)
    assert isinstance(dense, np.ndarray) and dense.shape == (100,) and dense.sum() == 500
