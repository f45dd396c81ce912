"""The k-nearest-neighbour graph shared by the outlier, near_duplicate, non_iid and underperforming_group
types (spec audit.md §2).

``build_graph(features, *, k=10, metric=None, n_jobs=1) -> KnnGraph``

* Metric from the shape: cosine when ``d > 3``; euclidean otherwise (scikit-learn's KD-tree when ``N > 100``,
  scipy's ``euclidean`` callable, i.e. a ball tree or brute force, when ``N <= 100``), as the reference picks.
* Cosine is brute force: rows divided by their L2 norm (scikit-learn's ``normalize`` recipe), ``1 - x.y``
  clipped into [0, 2]. While the whole self-query fits in scikit-learn's default working memory (``N**2 <=
  2**27``, ``N <= 11,585``) the similarity matrix is the one product ``Xn @ Xn.T`` scikit-learn computes
  (diagonal set to 0) and each row's ``k + 1`` come from ``argpartition`` then a default argsort, so indices
  and distances are bit-identical to the reference, ties included (spec §2.3).
* Above that size the reference chunks its product by working memory, and its float32 bits depend on the
  chunking and on its BLAS threads; we search the upper half of the similarity matrix once, in tiles of
  ``_ROWS x _COLS`` (each pair's similarity is computed once and used for both rows, so ``D`` is symmetric),
  memory ``O(tile + N k)``, never ``N x N``. Each row keeps its ``k`` best by (distance, index), ties by
  index. The search is exact: a tile's entries are screened against each row's bound (a sampled upper
  bound on its ``k``-th distance, then its ``k``-th best so far) by the maximum of groups of ``_GROUP``
  entries, and every entry of a group that reaches the bound is checked and merged; the bound never falls
  below the final ``k``-th distance, so nothing that belongs is dropped. Distances agree with the
  reference's within float32 (float64) round-off; the neighbour order can differ only among equal
  distances.
* BLAS runs single-threaded inside the search and ``n_jobs`` threads share the tiles: the tiles (and so
  every similarity's bits) do not depend on ``n_jobs``, and the result is the unique top ``k`` by
  (distance, index), whatever order the tiles are merged in.
* The exact-duplicate correction of §2.4 is applied (identical rows list each other first, at distance 0).

The euclidean search is scikit-learn's (and scipy's), an optional dependency: ``pip install
'labelaudit[audit]'``; the cosine search and the duplicate correction are numpy alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelaudit.core.audit.tiled import cosine_distances, row_norms, tiled_search
from labelaudit.errors import InputError

EXTRA = "pip install 'labelaudit[audit]'"
_SINGLE_CHUNK = 2**27  # scikit-learn's default working memory (1 GiB) in 8-byte distances
_HASH_ENTRIES = 1 << 22  # feature values per block of the duplicate hash (32 MiB of float64)
_TIE_ENTRIES = 1 << 22  # distances per block of the rows redone with argpartition (16 MiB of float32)


@dataclass(frozen=True)
class KnnGraph:
    """``indices[i]`` (int64) are the ``k`` nearest other rows of row ``i`` at ``distances[i]``
    (non-decreasing); ``metric`` is ``"cosine"`` or ``"euclidean"``. Distances are float64, except for
    float32 features under the cosine metric, where they stay float32 as in the reference (spec §2.6: the
    outlier and near-duplicate numbers are then float32 arithmetic)."""

    distances: np.ndarray
    indices: np.ndarray
    metric: str

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    @property
    def n(self) -> int:
        return int(self.indices.shape[0])

    def covers(self, k: int, metric: str | None = None) -> bool:
        """Whether a type needing ``k`` neighbours (and, if given, this metric) can reuse the graph."""
        return self.k >= k and (metric is None or metric == self.metric)


def require_sklearn(what: str) -> None:
    """That scikit-learn is installed, without importing it (a second of the run): only the euclidean
    search and label issues from features import it."""
    import importlib.util
    import sys

    if "sklearn" in sys.modules:
        missing = sys.modules["sklearn"] is None
    else:
        missing = importlib.util.find_spec("sklearn") is None
    if missing:
        raise InputError(f"{what} needs scikit-learn: {EXTRA}")


def choose_metric(n: int, d: int) -> str:
    return "cosine" if d > 3 else "euclidean"


def _as_features(features: Any) -> np.ndarray:
    x = np.asarray(features)
    if x.ndim != 2:
        raise InputError(f"features must be 2-D (N, d), got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise InputError(f"features must be numeric, got dtype {x.dtype}")
    if x.dtype.kind == "f":
        step = max(1, _HASH_ENTRIES // max(1, x.shape[1]))
        for a in range(0, x.shape[0], step):  # in blocks: no N x d mask
            bad = ~np.isfinite(np.asarray(x[a : a + step])).all(axis=1)
            if bad.any():
                row = a + int(np.flatnonzero(bad)[0])
                raise InputError(f"features must be finite; row {row} holds NaN or inf")
    return x


def build_graph(
    features: Any,
    *,
    k: int = 10,
    metric: str | None = None,
    n_jobs: int = 1,
    progress: Callable[[float], None] | None = None,
) -> KnnGraph:
    """The exact kNN graph of the rows of ``features`` (see the module docstring); ``progress`` is told the
    fraction done of a long search (the tiled one) as it goes."""
    x = _as_features(features)
    n, d = x.shape
    if not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    if k >= n:
        raise InputError(f"the neighbour graph needs more rows than k: k={k}, N={n}")
    if n_jobs < 1:
        raise InputError(f"n_jobs must be >= 1, got {n_jobs}")
    metric = metric or choose_metric(n, d)
    if metric not in ("cosine", "euclidean"):
        raise InputError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    if metric == "euclidean":
        require_sklearn("the euclidean neighbour graph")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        if metric == "cosine":
            dist, ind = _cosine_search(x, k, n_jobs, progress)
        else:
            dist, ind = _euclidean_search(x, k, n_jobs)
    dist, ind = _correct_duplicates(x, dist, ind, k)
    return KnnGraph(distances=dist, indices=ind, metric=metric)


def _euclidean_search(x: np.ndarray, k: int, n_jobs: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial.distance import euclidean
    from sklearn.neighbors import NearestNeighbors

    n = x.shape[0]
    # the reference passes scipy's function for small N, which changes the tree scikit-learn picks
    m: str | Callable[..., float] = "euclidean" if n > 100 else euclidean
    brute = n <= 100 and k >= n // 2
    # tree queries split rows (identical per row whatever the split); brute force splits columns, so it
    # stays on one job (it only happens for N <= 21)
    nn = NearestNeighbors(n_neighbors=k, metric=m, n_jobs=None if brute else n_jobs).fit(x)
    dist, ind = nn.kneighbors()
    return np.ascontiguousarray(dist), np.ascontiguousarray(ind, dtype=np.int64)


def _cosine_search(
    x: np.ndarray, k: int, n_jobs: int, progress: Callable[[float], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    x = x if x.dtype.kind == "f" else x.astype(np.float64)
    if n * n > _SINGLE_CHUNK:
        return _tiled_with_ties(x, k, n_jobs, progress)
    xn = _normalized(x)
    # the one product Xn @ Xn.T of scikit-learn's single chunk (numpy's A @ A.T, syrk), diagonal set to 0
    s = cosine_distances(xn @ xn.T)
    s[np.arange(n), np.arange(n)] = 0
    return _self_excluded(*_smallest_exact(s, k + 1), np.arange(n), k)


def _self_excluded(
    dist: np.ndarray, ind: np.ndarray, rows: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's self-exclusion of its self-query: drop the row itself from its ``k + 1``, or the
    nearest entry if it is absent."""
    ind = ind.astype(np.int64, copy=False)
    keep = ind != rows[:, None]
    keep[keep.all(axis=1), 0] = False
    return dist[keep].reshape(rows.size, k), ind[keep].reshape(rows.size, k)


def _tiled_with_ties(
    x: np.ndarray, k: int, n_jobs: int, progress: Callable[[float], None] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The tiled search (ties by index) for ``k + 1`` others; a row whose ``k``-th and ``(k+1)``-th are at
    the same distance, where the reference's neighbour *set* comes from ``argpartition``'s choice among the
    tie, is redone as the reference does it: its whole row of distances, ``argpartition`` of ``k + 1``, a
    default argsort, then the self-exclusion (``_argpartition_rows``). A tie inside the ``k`` changes only
    their order, which stays by index."""
    if k + 1 >= x.shape[0]:  # every other row is a neighbour: no tie can straddle position k
        return tiled_search(x, k, n_jobs, progress)
    dist, ind = tiled_search(x, k + 1, n_jobs, progress)
    tied = np.flatnonzero(dist[:, k - 1] == dist[:, k])
    dist, ind = dist[:, :k].copy(), ind[:, :k].copy()
    if tied.size:
        dist[tied], ind[tied] = _argpartition_rows(x, tied, k, n_jobs)
    return dist, ind


def _argpartition_rows(x: np.ndarray, rows: np.ndarray, k: int, n_jobs: int) -> tuple[np.ndarray, np.ndarray]:
    """For the given rows: their distances to every row (blocks of rows against all columns), then
    scikit-learn's brute-force order (spec §2.3), the self-distance as the formula gives it."""
    from concurrent.futures import ThreadPoolExecutor

    xn = _normalized(x)
    n = xn.shape[0]
    step = max(1, _TIE_ENTRIES // n)
    blocks = [rows[a : a + step] for a in range(0, rows.size, step)]

    def block(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _self_excluded(*_smallest_exact(cosine_distances(xn[r] @ xn.T), k + 1), r, k)

    if n_jobs == 1 or len(blocks) == 1:
        parts = [block(r) for r in blocks]
    else:
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            parts = list(pool.map(block, blocks))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _normalized(x: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm (a zero row stays zeros), a new array: scikit-learn's ``normalize``
    recipe (norms from ``einsum``, then one division), so the bits are the reference's."""
    x = np.asarray(x)
    return x / row_norms(x)[:, None]


def _smallest_exact(s: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    cand = np.argpartition(s, kk - 1, axis=1)[:, :kk]
    r = np.arange(s.shape[0])[:, None]
    cand = cand[r, np.argsort(s[r, cand])]
    return s[r, cand], cand


def duplicate_groups(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows that compare equal in every column share a group: ``(group of each row, size of each group)``,
    the grouping of ``numpy.unique(x, axis=0)`` (-0.0 equals 0.0) without its two sorted copies of ``x``:
    a hash per row (its values as float64 words times odd constants, summed modulo 2**64) read in blocks,
    groups of equal hash checked row by row, and ``numpy.unique`` only over the rows of a hash collision."""
    n, d = x.shape
    mult = (np.arange(1, d + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) | np.uint64(1)
    h = np.empty(n, dtype=np.uint64)
    step = max(1, _HASH_ENTRIES // max(d, 1))
    for a in range(0, n, step):
        h[a : a + step] = _row_hash(np.asarray(x[a : a + step], dtype=np.float64), mult)
    _, inverse, counts = np.unique(h, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    shared = np.flatnonzero(counts[inverse] > 1)
    if shared.size == 0:
        return inverse, counts
    order = shared[np.argsort(inverse[shared], kind="stable")]
    grp = inverse[order]
    head = order[np.r_[0, np.flatnonzero(grp[1:] != grp[:-1]) + 1]]
    first = np.empty(counts.size, dtype=np.int64)
    first[inverse[head]] = head
    if (np.asarray(x[order]) == np.asarray(x[first[grp]])).all():
        return inverse, counts
    # a collision: the shared rows regrouped exactly, as new groups after the others
    _, sub, sub_counts = np.unique(np.asarray(x[shared]), axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.copy()
    inverse[shared] = counts.size + sub.reshape(-1)
    counts = np.concatenate([counts, sub_counts])
    return inverse, counts


def _row_hash(part: np.ndarray, mult: np.ndarray) -> np.ndarray:
    return ((part + 0.0).view(np.uint64) * mult).sum(axis=1, dtype=np.uint64)  # + 0.0: -0.0 -> 0.0


def _correct_duplicates(
    x: np.ndarray, dist: np.ndarray, ind: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of an exact-duplicate group list the group's other members first, at distance 0 (spec §2.4)."""
    inverse, counts = duplicate_groups(x)
    size = counts[inverse]
    dup_rows = np.flatnonzero(size > 1)
    if dup_rows.size == 0:
        return dist, ind
    dist = dist.copy()
    ind = ind.copy()
    # members of each group in increasing index order: a stable sort by group id
    order = dup_rows[np.argsort(inverse[dup_rows], kind="stable")]
    grp = inverse[order]
    first = np.r_[0, np.flatnonzero(grp[1:] != grp[:-1]) + 1]
    start = np.repeat(first, np.diff(np.r_[first, order.size]))  # where each member's group starts
    pos = np.arange(order.size) - start  # the member's rank r within its group
    m = size[order]
    s = np.minimum(m - 1, k)
    j = np.arange(k)[None, :]
    # member columns: the j-th other member, skipping the row itself (rank r); later ranks take g_0..g_{k-1}
    member_pos = j + (j >= pos[:, None])
    is_member_col = j < s[:, None]
    members = order[start[:, None] + np.minimum(member_pos, m[:, None] - 1)]
    # remaining columns: the row's own search results that are not members, in their original order
    rows_ind = ind[order]
    rows_dist = dist[order]
    not_member = inverse[rows_ind] != grp[:, None]
    pick = np.argsort(~not_member, axis=1, kind="stable")
    src = np.clip(j - s[:, None], 0, k - 1)
    chosen = np.take_along_axis(pick, src, axis=1)
    ind[order] = np.where(is_member_col, members, np.take_along_axis(rows_ind, chosen, axis=1))
    dist[order] = np.where(is_member_col, 0, np.take_along_axis(rows_dist, chosen, axis=1)).astype(dist.dtype)
    return dist, ind


def knn_csr(graph: KnnGraph) -> Any:
    """The graph as the reference stores it: an N x N CSR matrix, k explicit entries per row (zeros kept)."""
    from scipy.sparse import csr_matrix

    n, k = graph.indices.shape
    indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    return csr_matrix((graph.distances.ravel(), graph.indices.ravel(), indptr), shape=(n, n))
