"""The shared kNN graph: the spec's worked example, the duplicate correction against a plain loop written from
the specification, the blocked driver against scikit-learn, input errors and invariance (dtype, memmap,
n_jobs)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from labelaudit.core.audit import graph as graph_mod
from labelaudit.core.audit.graph import KnnGraph, build_graph, knn_csr
from labelaudit.errors import InputError

# spec audit.md §12: six points on a line, k = 2
LINE = np.array([[0.0, 0], [0, 0], [1, 0], [3, 0], [6, 0], [20, 0]])


def test_worked_example_graph() -> None:
    g = build_graph(LINE, k=2)
    assert g.metric == "euclidean" and g.k == 2 and g.n == 6
    np.testing.assert_array_equal(g.distances, [[0, 1], [0, 1], [1, 1], [2, 3], [3, 5], [14, 17]])
    np.testing.assert_array_equal(g.indices[[0, 1, 2, 4, 5]], [[1, 2], [0, 2], [0, 1], [3, 2], [4, 3]])
    assert g.indices[3, 0] == 2 and g.indices[3, 1] == 1  # the ball tree's choice among the tie 0 / 1 / 4
    assert g.indices.dtype == np.int64 and g.distances.dtype == np.float64


def test_metric_from_dimension() -> None:
    rng = np.random.default_rng(0)
    assert build_graph(rng.standard_normal((30, 4))).metric == "cosine"
    assert build_graph(rng.standard_normal((30, 3))).metric == "euclidean"
    assert build_graph(rng.standard_normal((130, 2))).metric == "euclidean"


def _naive_correction(
    x: np.ndarray, dist: np.ndarray, ind: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Spec §2.4 as a loop over groups (the test oracle)."""
    dist, ind = dist.copy(), ind.copy()
    groups: dict[bytes, list[int]] = {}
    for i, row in enumerate(x):
        groups.setdefault(row.tobytes(), []).append(i)
    for g in groups.values():
        m = len(g)
        if m < 2:
            continue
        for r, i in enumerate(g):
            if m >= k + 1:
                new = [v for v in g[: k + 1] if v != i] if r <= k else g[:k]
                ind[i], dist[i] = new, 0
            else:
                others = [v for v in g if v != i]
                rest = [(a, b) for a, b in zip(ind[i], dist[i], strict=True) if a not in g][: k - (m - 1)]
                ind[i] = others + [a for a, _ in rest]
                dist[i] = [0.0] * (m - 1) + [b for _, b in rest]
    return dist, ind


@pytest.mark.parametrize("d", [2, 6])
def test_duplicate_correction_matches_the_spec_loop(d: int) -> None:
    rng = np.random.default_rng(d)
    x = np.round(rng.standard_normal((150, d)) * 2, 1)  # ties in distances, few natural duplicate rows
    x[10:23] = x[5]  # a group of 14 (> k + 1)
    x[40:43] = x[30]  # a group of 4 (<= k)
    x[-1] = x[0]
    k = 10
    raw_d, raw_i = (graph_mod._cosine_search if d > 3 else graph_mod._euclidean_search)(x, k, 1)
    want_d, want_i = _naive_correction(x, raw_d, raw_i, k)
    g = build_graph(x, k=k)
    np.testing.assert_array_equal(g.indices, want_i)
    np.testing.assert_array_equal(g.distances, want_d)
    big = np.flatnonzero((x == x[5]).all(axis=1))
    small = np.flatnonzero((x == x[30]).all(axis=1))
    assert big.size >= 14 and 4 <= small.size <= k
    assert (g.distances[5] == 0).all() and g.indices[5].tolist() == big[1 : k + 1].tolist()
    assert g.indices[big[-1]].tolist() == big[:k].tolist()  # rank > k: the first k members
    assert g.indices[small[0], : small.size - 1].tolist() == small[1:].tolist()
    assert (g.distances[small[0], : small.size - 1] == 0).all()
    assert (np.diff(g.distances, axis=1) >= 0).all()


def test_blocked_product_matches_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((400, 12))
    monkeypatch.setattr(graph_mod, "_SINGLE_CHUNK", 0)  # as for N > 11,585: blocks of rows, no N x N product
    monkeypatch.setattr(graph_mod, "_BLOCK_ENTRIES", 400 * 37)
    g = build_graph(x, k=10)
    d, i = NearestNeighbors(n_neighbors=10, metric="cosine").fit(x).kneighbors()
    np.testing.assert_array_equal(g.indices, i)
    np.testing.assert_allclose(g.distances, d, rtol=1e-12, atol=1e-15)


def test_single_product_is_scikit_learns_bit_for_bit() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, size=(300, 8)).astype(np.float32)  # many exact ties
    g = build_graph(x, k=10)
    with threadpool_limits(limits=1, user_api="blas"):  # float32 BLAS bits depend on the thread count
        d, i = NearestNeighbors(n_neighbors=10, metric="cosine").fit(x).kneighbors()
    _, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    single = counts[inverse.ravel()] == 1  # rows the duplicate correction leaves alone
    assert g.distances.dtype == np.float32 and 200 < single.sum() < 300
    np.testing.assert_array_equal(g.indices[single], i[single])
    np.testing.assert_array_equal(g.distances[single], d[single])


@pytest.mark.parametrize("blocked", [False, True])
def test_same_graph_for_any_n_jobs_memmap_and_dtype(
    blocked: bool, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if blocked:
        monkeypatch.setattr(graph_mod, "_SINGLE_CHUNK", 0)
        monkeypatch.setattr(graph_mod, "_BLOCK_ENTRIES", 600 * 50)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((600, 16)).astype(np.float32)
    x[7] = x[3]
    one = build_graph(x, n_jobs=1)
    for jobs in (2, 3):
        other = build_graph(x, n_jobs=jobs)
        np.testing.assert_array_equal(other.indices, one.indices)
        np.testing.assert_array_equal(other.distances, one.distances)
    path = tmp_path / "x.npy"
    np.save(path, x)
    mm = build_graph(np.load(path, mmap_mode="r"))
    np.testing.assert_array_equal(mm.indices, one.indices)
    np.testing.assert_array_equal(mm.distances, one.distances)
    wide = build_graph(x.astype(np.float64))
    assert wide.distances.dtype == np.float64
    np.testing.assert_allclose(wide.distances, one.distances, rtol=1e-5, atol=1e-6)
    assert (wide.indices[:, 0] == one.indices[:, 0]).mean() > 0.99


def test_graph_helpers() -> None:
    g = build_graph(LINE, k=2)
    assert g.covers(2) and g.covers(1, "euclidean") and not g.covers(3) and not g.covers(2, "cosine")
    csr = knn_csr(g)
    assert csr.shape == (6, 6) and csr.nnz == 12  # explicit zeros kept
    assert isinstance(g, KnnGraph)


@pytest.mark.parametrize(
    ("x", "k", "message"),
    [
        (np.zeros(5), 2, "must be 2-D"),
        (np.zeros((3, 2, 2)), 2, "must be 2-D"),
        (np.array([["a", "b"]] * 5), 2, "numeric"),
        (np.vstack([np.ones((4, 2)), [[np.nan, 1.0]]]), 2, "row 4 holds NaN or inf"),
        (np.vstack([np.ones((4, 2)), [[np.inf, 1.0]]]), 2, "row 4"),
        (np.arange(20.0).reshape(10, 2), 10, "k=10, N=10"),
        (np.arange(20.0).reshape(10, 2), 0, "k must be a positive integer"),
    ],
)
def test_bad_input(x: np.ndarray, k: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_graph(x, k=k)


def test_bad_metric_and_jobs() -> None:
    with pytest.raises(InputError, match="metric must be"):
        build_graph(LINE, k=2, metric="manhattan")
    with pytest.raises(InputError, match="n_jobs must be"):
        build_graph(LINE, k=2, n_jobs=0)


def test_missing_scikit_learn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(InputError, match=r"pip install 'labelaudit\[audit\]'"):
        build_graph(LINE, k=2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sampled_candidates_equal_argpartition(dtype: type, monkeypatch: pytest.MonkeyPatch) -> None:
    """The blocked path's shortcut (candidates under a sampled bound) gives argpartition's answer, ties
    included (tied rows are redone with argpartition)."""
    rng = np.random.default_rng(4)
    x = np.vstack([rng.integers(0, 3, size=(300, 6)), rng.standard_normal((300, 6))]).astype(dtype)
    x[[0, 350]] = 0.0  # zero rows: distance 1 to everything
    monkeypatch.setattr(graph_mod, "_SINGLE_CHUNK", 0)
    monkeypatch.setattr(graph_mod, "_BLOCK_ENTRIES", 600 * 64)
    monkeypatch.setattr(graph_mod, "_SAMPLE", 10**9)  # every row through argpartition
    exact = build_graph(x, k=10)
    monkeypatch.setattr(graph_mod, "_SAMPLE", 16)  # a bound from every 37th column
    fast = build_graph(x, k=10)
    np.testing.assert_array_equal(fast.indices, exact.indices)
    np.testing.assert_array_equal(fast.distances, exact.distances)
    for jobs in (2, 3):
        again = build_graph(x, k=10, n_jobs=jobs)
        np.testing.assert_array_equal(again.indices, fast.indices)
        np.testing.assert_array_equal(again.distances, fast.distances)


def test_integer_features_and_euclidean_jobs() -> None:
    rng = np.random.default_rng(6)
    ints = rng.integers(0, 17, size=(200, 8))
    a, b = build_graph(ints), build_graph(ints.astype(np.float64))  # integers are searched as float64
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.distances, b.distances)
    x = rng.standard_normal((500, 2))
    one, two = build_graph(x, n_jobs=1), build_graph(x, n_jobs=2)  # KD-tree: rows split across threads
    np.testing.assert_array_equal(one.indices, two.indices)
    np.testing.assert_array_equal(one.distances, two.distances)


def _lexsort_filter(sim: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """The blocked filter as it was before the per-row partition (one lexsort of every candidate), kept as
    the oracle that the graph's bits did not move."""
    b, n = sim.shape
    step = n // graph_mod._SAMPLE
    if step < 2:
        return graph_mod._smallest_exact(graph_mod._distances(sim), kk)
    tau = np.partition(graph_mod._distances(sim[:, ::step]), kk - 1, axis=1)[:, kk - 1]
    bound = ((1 - tau) - 8 * np.finfo(sim.dtype).eps).astype(sim.dtype)
    flat = np.flatnonzero(sim >= bound[:, None])
    vals = graph_mod._distances(sim.ravel()[flat])
    inside = vals <= tau[flat // n]
    flat, vals = flat[inside], vals[inside]
    rows, cols = np.divmod(flat, n)
    order = np.lexsort((vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    start = np.searchsorted(rows, np.arange(b))
    count = np.diff(np.r_[start, rows.size])
    take = np.minimum(start[:, None] + np.arange(kk), rows.size - 1)
    dist, ind = vals[take], cols[take]
    nxt = np.where(count > kk, vals[np.minimum(start + kk, rows.size - 1)], np.inf)
    tied = (np.diff(dist, axis=1) == 0).any(axis=1) | (nxt == dist[:, -1]) | (count < kk)
    if tied.any():
        dist[tied], ind[tied] = graph_mod._smallest_exact(graph_mod._distances(sim[tied]), kk)
    return dist, ind


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_filter_equals_the_lexsort_filter_and_argpartition(dtype: type) -> None:
    """Per block of similarities: the per-row partition of the candidates, the former lexsort of them and a
    plain argpartition of every row give the same indices and the same distance bits, ties included."""
    rng = np.random.default_rng(7)
    parts = [
        rng.integers(0, 3, size=(1500, 6)),  # heavy ties and duplicate rows
        np.round(rng.standard_normal((1500, 6)), 1),  # some ties
        rng.standard_normal((1500, 6)),
    ]
    x = np.vstack(parts).astype(dtype)
    x[[5, 2000]] = 0.0
    from sklearn.preprocessing import normalize

    xn = normalize(x)
    with threadpool_limits(limits=1, user_api="blas"):
        for a in range(0, x.shape[0], 700):
            sim = xn[a : a + 700] @ xn.T
            scratch = np.empty(sim.shape, dtype=bool)
            new = graph_mod._smallest_of_similarities(sim, 11, scratch)
            old = _lexsort_filter(sim, 11)
            exact = graph_mod._smallest_exact(graph_mod._distances(sim), 11)
            for got in (new, old):
                np.testing.assert_array_equal(got[1], exact[1])
                np.testing.assert_array_equal(got[0].view(np.uint8), exact[0].view(np.uint8))


def test_tie_heavy_graph_above_the_single_product_is_argpartitions() -> None:
    """N = 12,000 (> 11,585: the real blocked path, no patched thresholds), float32 with many exact ties and
    duplicate rows: the graph equals the one where every row goes through argpartition, bit for bit, for
    n_jobs 1 and 2."""
    rng = np.random.default_rng(8)
    n = 12_000
    assert n * n > graph_mod._SINGLE_CHUNK
    x = np.vstack([rng.integers(0, 3, size=(n // 2, 8)), np.round(rng.standard_normal((n // 2, 8)), 1)])
    x = x.astype(np.float32)
    fast = build_graph(x, k=10)
    two = build_graph(x, k=10, n_jobs=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(graph_mod, "_SAMPLE", 10**9)  # every row through argpartition
        exact = build_graph(x, k=10)
    for got in (fast, two):
        np.testing.assert_array_equal(got.indices, exact.indices)
        np.testing.assert_array_equal(got.distances.view(np.uint32), exact.distances.view(np.uint32))
