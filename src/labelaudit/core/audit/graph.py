"""The k-nearest-neighbour graph shared by the outlier, near_duplicate, non_iid and underperforming_group
types (spec audit.md §2).

``build_graph(features, *, k=10, metric=None, n_jobs=1) -> KnnGraph``

* Metric from the shape: cosine when ``d > 3``; euclidean otherwise (scikit-learn's KD-tree when ``N > 100``,
  scipy's ``euclidean`` callable, i.e. a ball tree or brute force, when ``N <= 100``), as the reference picks.
* Cosine is brute force in our own blocked driver with scikit-learn's kernel recipe (rows divided by their L2
  norm, ``1 - x.y`` clipped into [0, 2], ``argpartition`` then a default argsort of the ``k + 1`` candidates,
  self-exclusion). While the whole self-query fits in scikit-learn's default working memory (``N**2 <=
  2**27``) the similarity matrix is the one product ``Xn @ Xn.T`` scikit-learn computes (diagonal set to 0),
  so indices and distances are bit-identical to the reference (that product is at most 2**27 entries, as
  in scikit-learn); above that it is formed in blocks of rows (memory ``O(block * N)``, never ``N x N``),
  and each row's candidates come from one pass under a sampled bound, ``argpartition`` being kept for rows
  with ties (``_smallest_of_similarities``), so the order is still scikit-learn's.
* The shape of each product call is part of the result: OpenBLAS's float32 bits for an entry depend on the
  call's rows, columns and operand order (the same rows against column tiles differ in about 3% of
  entries, a transposed tile in up to half), so a block is always rows ``[a, a + rows)`` against all
  columns, ``rows = _BLOCK_ENTRIES // N``; column tiles or the symmetric half-product would move bits.
* BLAS runs single-threaded inside the search and ``n_jobs`` threads share the row blocks: float32 BLAS
  results depend on the thread count, so this is what makes the graph identical for every ``n_jobs``.
* The exact-duplicate correction of §2.4 is applied (identical rows list each other first, at distance 0).

scikit-learn (and scipy, which it brings) is an optional dependency: ``pip install 'labelaudit[audit]'``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelaudit.errors import InputError

EXTRA = "pip install 'labelaudit[audit]'"
_SINGLE_CHUNK = 2**27  # scikit-learn's default working memory (1 GiB) in 8-byte distances
# distances per block of rows of the blocked product (x 4 or 8 bytes)
_BLOCK_ENTRIES = 2**22
# columns sampled per row for the bound on its candidates (see _smallest_of_similarities)
_SAMPLE = 2048


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
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise InputError(f"{what} needs scikit-learn: {EXTRA}") from None


def choose_metric(n: int, d: int) -> str:
    return "cosine" if d > 3 else "euclidean"


def _as_features(features: Any) -> np.ndarray:
    x = np.asarray(features)
    if x.ndim != 2:
        raise InputError(f"features must be 2-D (N, d), got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise InputError(f"features must be numeric, got dtype {x.dtype}")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"features must be finite; row {row} holds NaN or inf")
    return x


def build_graph(features: Any, *, k: int = 10, metric: str | None = None, n_jobs: int = 1) -> KnnGraph:
    """The exact kNN graph of the rows of ``features`` (see the module docstring)."""
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
    require_sklearn("the neighbour graph")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        if metric == "cosine":
            dist, ind = _cosine_search(x, k, n_jobs)
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


def _cosine_search(x: np.ndarray, k: int, n_jobs: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.preprocessing import normalize

    n = x.shape[0]
    xn = normalize(x if x.dtype.kind == "f" else x.astype(np.float64), copy=True)
    single = n * n <= _SINGLE_CHUNK
    full = xn @ xn.T if single else None  # numpy's A @ A.T (syrk), exactly as scikit-learn's single chunk
    rows = max(1, min(n, _BLOCK_ENTRIES // n))
    starts = range(0, n, rows)

    local = threading.local()

    def block(a: int) -> tuple[np.ndarray, np.ndarray]:
        b = min(a + rows, n)
        if full is not None:
            s = _distances(full[a:b])  # a fresh array: full stays the similarities
            s[np.arange(b - a), np.arange(a, b)] = 0
            return _smallest_exact(s, k + 1)
        # the same product call as ever (same rows, same columns: the bits depend on the call's shape), into
        # a buffer this thread reuses: a fresh 16 MiB result per block cost page faults, a third of the time
        if getattr(local, "sim", None) is None:
            local.sim = np.empty((rows, n), dtype=xn.dtype)
            local.mask = np.empty((rows, n), dtype=bool)
        sim = np.matmul(xn[a:b], xn.T, out=local.sim[: b - a])
        return _smallest_of_similarities(sim, k + 1, local.mask[: b - a])

    if n_jobs == 1 or len(starts) == 1:
        parts = [block(a) for a in starts]
    else:
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            parts = list(pool.map(block, starts))
    dist = np.concatenate([p[0] for p in parts])
    ind = np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False)
    # self-exclusion of scikit-learn's self-query: drop the row itself, or the nearest entry if it is absent
    keep = ind != np.arange(n)[:, None]
    keep[keep.all(axis=1), 0] = False
    return dist[keep].reshape(n, k), ind[keep].reshape(n, k)


def _distances(sim: np.ndarray) -> np.ndarray:
    """scikit-learn's cosine distance from the similarity: ``1 - s`` clipped into [0, 2] (same operations)."""
    d = sim * -1
    d += 1
    np.clip(d, 0, 2, out=d)
    return d


def _smallest_of_similarities(
    sim: np.ndarray, kk: int, scratch: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``kk`` nearest columns of each row (cosine distances from the similarities ``sim``) in
    scikit-learn's order: ``argpartition`` of the row's distances, then a default argsort of the candidates.

    That order is unique when the ``kk + 1`` smallest distances of a row are distinct, so such rows take a
    cheaper route: a bound from a strided sample of columns (the ``kk``-th smallest of the sample is at least
    the row's), one comparison pass over the similarities for the candidates within it (with a few ulps to
    spare; ``scratch``, a boolean array of ``sim``'s shape, holds the comparison), their exact distances and
    a partition of those few per row. A row with a tie among its ``kk + 1`` smallest (duplicates, discrete
    features) is redone with ``argpartition`` itself, which decides among ties.

    Which rows are tied and what an untied row gets do not depend on the bound, only on the row's ``kk + 1``
    smallest distances, which the candidates always hold: the result is the one of an ``argpartition`` of
    every row.
    """
    b, n = sim.shape
    step = n // _SAMPLE
    if step < 2:
        return _smallest_exact(_distances(sim), kk)
    tau = np.partition(_distances(sim[:, ::step]), kk - 1, axis=1)[:, kk - 1]
    spare = 8 * np.finfo(sim.dtype).eps
    bound = ((1 - tau) - spare).astype(sim.dtype)
    mask = np.greater_equal(sim, bound[:, None], out=scratch)
    flat = np.flatnonzero(mask)  # row-major: rows non-decreasing
    vals = _distances(sim.ravel()[flat])
    rows, cols = np.divmod(flat, n)
    count = np.bincount(rows, minlength=b)
    start = np.cumsum(count) - count
    width = max(int(count.max()), kk + 1)
    # each row's candidates side by side, padded with +inf (distances are in [0, 2])
    pad = np.full((b, width), np.inf, dtype=vals.dtype)
    pos = np.arange(flat.size) - start[rows]
    pad[rows, pos] = vals
    colpad = np.zeros((b, width), dtype=np.int64)
    colpad[rows, pos] = cols
    r = np.arange(b)[:, None]
    part = (
        np.argpartition(pad, kk, axis=1)[:, : kk + 1]
        if width > kk + 1
        else np.broadcast_to(np.arange(kk + 1), (b, kk + 1))
    )
    part = np.take_along_axis(part, np.argsort(pad[r, part], axis=1), axis=1)
    best = pad[r, part]
    dist, ind, nxt = best[:, :kk].copy(), colpad[r, part[:, :kk]], best[:, kk]
    # a tie decides by argpartition; too few candidates (not expected: the sampled columns themselves pass)
    # is redone the same way
    tied = (np.diff(dist, axis=1) == 0).any(axis=1) | (nxt == dist[:, -1]) | (count < kk)
    if tied.any():
        dist[tied], ind[tied] = _smallest_exact(_distances(sim[tied]), kk)
    return dist, ind


def _smallest_exact(s: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    cand = np.argpartition(s, kk - 1, axis=1)[:, :kk]
    r = np.arange(s.shape[0])[:, None]
    cand = cand[r, np.argsort(s[r, cand])]
    return s[r, cand], cand


def _correct_duplicates(
    x: np.ndarray, dist: np.ndarray, ind: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of an exact-duplicate group list the group's other members first, at distance 0 (spec §2.4)."""
    _, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
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
