"""The shared kNN graph: the spec's worked example, the duplicate correction against a plain loop written from
the specification, the tiled search (above the single product) against brute force, ties by index, input
errors and invariance (dtype, memmap, n_jobs, skipped tiles)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from labelaudit.core.audit import graph as graph_mod
from labelaudit.core.audit import tiled
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
        small_tiles(monkeypatch)
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


def small_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiled search at test sizes: every N above the single product, tiles of 64 x 256 (with edge
    tiles), a 100-column sample, a centre per 200 rows."""
    monkeypatch.setattr(graph_mod, "_SINGLE_CHUNK", 0)
    for name, value in (("ROWS", 64), ("COLS", 256), ("SAMPLE", 100), ("CLUSTER_ROWS", 200)):
        monkeypatch.setattr(tiled, name, value)


def brute_force(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The oracle: every distance of the normalised rows in float64, the row itself left out, the k smallest
    by (distance, index) (a stable argsort: columns are in index order)."""
    xn = graph_mod._normalized(x).astype(np.float64)
    d = np.clip(1 - xn @ xn.T, 0, 2)
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, order, axis=1), order


def unit_ties(n: int, d: int, seed: int) -> np.ndarray:
    """Rows with four entries of +-0.5: unit vectors whose products are exact in any order, so every
    distance is exact in float32 and float64 alike (many ties, many duplicate rows)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, d))
    cols = np.argsort(rng.random((n, d)), axis=1)[:, :4]
    np.put_along_axis(x, cols, rng.choice([-0.5, 0.5], size=(n, 4)), axis=1)
    return x


def clustered(n: int, d: int, seed: int, classes: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(classes, d))
    return centres[rng.integers(0, classes, n)] + rng.standard_normal((n, d))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiled_search_breaks_ties_by_index(dtype: type, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact distances with heavy ties: the tiled search equals brute force bit for bit, for n_jobs 1 to 3."""
    small_tiles(monkeypatch)
    x = unit_ties(2500, 8, 1).astype(dtype)
    want_d, want_i = brute_force(x, 10)
    for jobs in (1, 2, 3):
        got_d, got_i = tiled.tiled_search(x, 10, jobs)
        assert got_d.dtype == dtype
        np.testing.assert_array_equal(got_i, want_i)
        np.testing.assert_array_equal(got_d, want_d.astype(dtype))


def test_tiled_search_equals_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    """float64 clustered rows with a zero row: indices equal brute force (and scikit-learn), distances to
    1e-12; a tile count that leaves edge tiles on both sides."""
    small_tiles(monkeypatch)
    x = clustered(3001, 16, 2)
    x[5] = 0.0
    want_d, want_i = brute_force(x, 10)
    got_d, got_i = tiled.tiled_search(x, 10, 2)
    np.testing.assert_array_equal(got_i, want_i)
    np.testing.assert_allclose(got_d, want_d, rtol=1e-12, atol=1e-14)
    sk_d, sk_i = NearestNeighbors(n_neighbors=10, metric="cosine").fit(x).kneighbors()
    rows = ~(np.arange(3001) == 5)  # the zero row: every distance is 1, its order is scikit-learn's
    np.testing.assert_array_equal(got_i[rows], sk_i[rows])


def test_tiled_search_float32_within_round_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """float32: distances within float32 round-off of the float64 brute force; an index differs only where
    brute force has another distance within that round-off at the same place."""
    small_tiles(monkeypatch)
    x = clustered(2600, 24, 3).astype(np.float32)
    want_d, want_i = brute_force(x, 10)
    got_d, got_i = tiled.tiled_search(x, 10, 1)
    np.testing.assert_allclose(got_d, want_d, atol=2e-6)
    differ = got_i != want_i
    assert differ.mean() < 1e-3
    xn = graph_mod._normalized(x).astype(np.float64)
    rows, cols = np.nonzero(differ)
    true_d = 1 - np.einsum("ij,ij->i", xn[rows], xn[got_i[rows, cols]])
    np.testing.assert_allclose(true_d, want_d[rows, cols], atol=2e-6)  # a tie within round-off


def test_skipped_tiles_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clustered data skips most off-diagonal tiles; computing every tile gives the same bits."""
    small_tiles(monkeypatch)
    x = clustered(3000, 32, 4, classes=4).astype(np.float32)
    computed = []
    real = np.matmul

    def counting(*args: object, **kwargs: object) -> np.ndarray:
        computed.append(1)
        return real(*args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(tiled.np, "matmul", counting)
    skipping = tiled.tiled_search(x, 10, 2)
    tiles = sum(len(range(a, 3000, 256)) for a in range(0, 3000, 64))
    assert len(computed) < tiles / 2
    monkeypatch.setattr(tiled, "_block_bounds", lambda xp, slack: np.full((-(-3000 // 64),) * 2, np.inf))
    computed.clear()
    every = tiled.tiled_search(x, 10, 1)
    assert len(computed) == tiles
    np.testing.assert_array_equal(skipping[1], every[1])
    np.testing.assert_array_equal(skipping[0].view(np.uint32), every[0].view(np.uint32))


def test_tie_heavy_graph_above_the_single_product_is_scikit_learns() -> None:
    """N = 12,000 (> 11,585: the real tiled path, default tiles), float64: half exact unit rows with many
    ties and duplicate groups, half random rows in other columns. Rows with a tie at position k are redone
    with the reference's argpartition, so every neighbour set equals scikit-learn's (chunked) brute force
    plus the duplicate correction, and so does the order except among equal distances (by index here);
    distances to 1e-12; for n_jobs 1 and 2."""
    n = 12_000
    assert n * n > graph_mod._SINGLE_CHUNK
    x = np.zeros((n, 16))
    x[: n // 2, :8] = unit_ties(n // 2, 8, 5)
    x[n // 2 :, 8:] = np.random.default_rng(6).standard_normal((n // 2, 8))
    d, i = NearestNeighbors(n_neighbors=10, metric="cosine").fit(x).kneighbors()
    want_d, want_i = graph_mod._correct_duplicates(x, d, i, 10)
    raw_d, _ = tiled.tiled_search(x, 11, 1)
    straddle = raw_d[:, 9] == raw_d[:, 10]
    assert straddle[: n // 2].sum() > 1000 and not straddle[n // 2 :].any()  # both routes are taken
    # ties among the 10 of a row not redone: the order is by index there, the reference's elsewhere
    inside = (np.diff(want_d, axis=1) == 0).any(axis=1) & ~straddle
    for jobs in (1, 2):
        g = build_graph(x, k=10, n_jobs=jobs)
        np.testing.assert_array_equal(np.sort(g.indices, axis=1), np.sort(want_i, axis=1))  # the sets
        np.testing.assert_array_equal(g.indices[~inside], want_i[~inside])
        np.testing.assert_allclose(g.distances, want_d, rtol=1e-12, atol=1e-15)
        order = np.lexsort((g.indices[inside], g.distances[inside]), axis=1)
        np.testing.assert_array_equal(order, np.broadcast_to(np.arange(10), order.shape))


def test_progress_of_the_tiled_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long search tells its fraction done: non-decreasing, within (0, 1], from its worker threads."""
    small_tiles(monkeypatch)
    told: list[float] = []
    x = clustered(2000, 16, 6).astype(np.float32)
    plain = build_graph(x, k=10, n_jobs=2)
    g = build_graph(x, k=10, n_jobs=2, progress=told.append)
    assert len(told) >= 100 and told == sorted(told) and 0 < told[0] and told[-1] <= 1
    np.testing.assert_array_equal(g.indices, plain.indices)


@pytest.mark.parametrize("collide", [False, True])
def test_duplicate_groups_equal_numpy_unique(collide: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hashed grouping is numpy.unique(axis=0)'s partition, -0.0 equal to 0.0, also when every hash
    collides (the exact fallback over the shared rows)."""
    if collide:
        monkeypatch.setattr(graph_mod, "_row_hash", lambda part, mult: np.zeros(len(part), np.uint64))
    monkeypatch.setattr(graph_mod, "_HASH_ENTRIES", 600)  # blocks of 100 rows
    rng = np.random.default_rng(9)
    for x in (rng.integers(0, 2, size=(3000, 6)).astype(np.float32), rng.integers(0, 3, size=(500, 3))):
        x = x.copy()
        if x.dtype.kind == "f":
            x[3] = -0.0 * x[3]
        inverse, counts = graph_mod.duplicate_groups(x)
        _, want, want_counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
        want = want.reshape(-1)
        assert len(set(zip(inverse.tolist(), want.tolist(), strict=True))) == len(set(want.tolist()))
        assert len(set(inverse.tolist())) == len(set(want.tolist()))
        np.testing.assert_array_equal(counts[inverse], want_counts[want])


@pytest.mark.parametrize("k", [1, 150, 1999])
def test_tiled_graph_for_any_k(k: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """k from 1 to N - 1 on the tiled path (more than the sample, the groups and a tile's row groups):
    the graph's neighbour sets and distances are brute force's."""
    small_tiles(monkeypatch)
    x = clustered(2000, 12, 7)
    g = build_graph(x, k=k, n_jobs=2)
    want_d, want_i = brute_force(x, k)
    np.testing.assert_allclose(g.distances, want_d, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(np.sort(g.indices, axis=1), np.sort(want_i, axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_merge_of_candidates_every_bound_has_passed_is_a_no_op(dtype) -> None:
    """With two threads, another thread's merge can lower the bounds between a tile's screen and its
    merge, so that none of its candidates is left (this failed once as an IndexError in the suite)."""
    best = tiled._Best(3, 2, np.dtype(dtype), np.arange(3))
    u, v = np.array([0, 0, 1, 1, 2, 2]), np.array([1, 2, 0, 2, 0, 1])
    best.merge(u, v, np.array([0.1, 0.2, 0.1, 0.3, 0.2, 0.3], dtype=dtype))
    before = [a.copy() for a in best.result()]
    best.merge(np.array([0, 1, 2]), np.array([2, 2, 1]), np.array([0.25, 0.35, 0.4], dtype=dtype))
    for got, want in zip(best.result(), before, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(before[1], [[1, 2], [0, 2], [0, 1]])
