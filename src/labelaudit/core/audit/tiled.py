"""Exact cosine k-nearest neighbours of every row, above the size of one product (spec audit.md §2.3).

``tiled_search(x, k, n_jobs) -> (distances, indices)`` for features ``x`` (N x d, float32 or float64, not
modified): each row's ``k`` nearest other rows by cosine distance ``clip(1 - s, 0, 2)`` of the rows divided
by their L2 norm, ordered by (distance, index).

* **Half-product, in tiles.** The rows are put in a cluster order (``cluster_order``: rows of similar
  direction next to each other). The upper half of the similarity matrix of that order is formed in tiles
  of ``ROWS`` rows x ``COLS`` columns (a row block against the columns from its own start on), one product
  call per tile, so each pair's similarity is computed once, by a call whose shape does not depend on
  ``n_jobs`` or timing, and serves both rows. Memory ``O(tile + N k)``, never ``N x N``.
* **Bounds.** Every row holds a bound, never below its final ``k``-th distance: first the ``k``-th smallest
  distance over a strided sample of columns plus the round-off of a dot product taken in another order
  (``2 (d + 4)`` ulps), then its ``k``-th best so far.
* **Screen.** A tile's entries are screened in groups of ``GROUP`` (per row: columns ``q, q + COLS/GROUP,
  ...``; per column: ``GROUP`` consecutive rows) by the group's maximum against the bound; every entry of a
  group that reaches it is checked and merged into the row's best, kept as one sortable key per entry (the
  distance's bits, then the original index).
* **Skipped tiles.** Per block of ``ROWS`` rows, a unit centre and the largest angle of a row to it (an
  angular radius, rounded up): no pair of two blocks is closer in angle than the centres' angle minus both
  radii, so a tile whose bound on its similarities is below the bound of every row and column in it cannot
  hold a neighbour and is not computed. Off-diagonal tiles run in decreasing order of that bound. Which
  tiles are skipped depends on timing; the result does not: a skipped pair's distance is above the final
  ``k``-th of both its rows, so the result is the one of computing every tile.

The result is exact for these similarities (ties by index): the unique top ``k`` by (distance, index).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ROWS, COLS = 512, 2048  # a tile: 1M similarities, 4 MiB in float32
GROUP = 8  # entries per group of the screen (a divisor of ROWS and COLS)
SAMPLE = 2048  # columns sampled for each row's first bound
BLOCK_ENTRIES = 2**22  # distances per block of rows of the sampled bounds
MERGE = 1 << 15  # candidates a thread gathers before it merges them into the rows' best
CLUSTER_ROWS = 2048  # rows per centre of the cluster order
CLUSTER_ITERATIONS = 8
_EMPTY = np.uint64((0x7F800000 << 32) | 0xFFFFFFFF)  # +inf, the largest index: after every real key


def tiled_search(
    x: np.ndarray, k: int, n_jobs: int, progress: Callable[[float], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    n, dim = x.shape
    eps = float(np.finfo(x.dtype).eps)
    slack = 2 * (dim + 4) * eps
    order = cluster_order(x)
    xp = x[order]  # the one copy of the features: read in cluster order, then normalised in place
    xp /= row_norms(xp)[:, None]
    best = _Best(n, k, xp.dtype, order)
    # rows whose own diagonal tile is short (the last ones) start from a sampled bound; every other row's
    # first bound comes from its diagonal tile (in_tile_bounds)
    tail = max(0, (n - COLS) // ROWS * ROWS + ROWS) if n > COLS else 0
    best.bound[tail:] = sampled_bounds(xp, k, slack, rows=slice(tail, n))
    upper = _block_bounds(xp, slack)
    nb = upper.shape[0]
    # the tiles (row block start a, column start c) as arrays: 477,000 of them at 1M rows
    starts = np.arange(0, n, ROWS)
    per_block = -(-(n - starts) // COLS)
    tile_a = np.repeat(starts, per_block)
    tile_c = tile_a + COLS * (np.arange(tile_a.size) - np.repeat(np.cumsum(per_block) - per_block, per_block))
    first = tile_c // ROWS
    reach = upper[tile_a // ROWS, first]
    for t in range(1, COLS // ROWS):
        reach = np.maximum(reach, upper[tile_a // ROWS, np.minimum(first + t, nb - 1)])
    # the diagonal tiles first (each row's own block: tight bounds early), then by decreasing bound
    ranked = np.lexsort((np.arange(tile_a.size), -reach, tile_a != tile_c))
    total = int(ranked.size)
    lock = threading.Lock()
    taken = [0]
    step = max(1, total // 200)  # progress is told every half percent of the tiles
    below = np.tril(np.ones((ROWS, ROWS), dtype=bool))  # j <= i inside a diagonal block
    m = COLS // GROUP
    spread_r = m * np.arange(GROUP)  # a row's group q: columns q, q + m, ..., q + (GROUP - 1) m
    spread_c = np.arange(GROUP)  # a column's group p: rows p GROUP, ..., p GROUP + GROUP - 1
    shift = 1 - 4 * eps  # s >= (1 - d) - 4 eps for every s whose distance clip(1 - s) is <= d

    def worker(xp: np.ndarray) -> None:
        sim = np.empty((ROWS, COLS), dtype=xp.dtype)
        hit_r = np.empty((ROWS, m), dtype=bool)
        hit_c = np.empty((ROWS // GROUP, COLS), dtype=bool)
        lo_r = np.empty(ROWS, dtype=xp.dtype)
        lo_c = np.empty(COLS, dtype=xp.dtype)
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        held = 0
        while True:
            with lock:
                t = taken[0]
                taken[0] += 1
                if progress is not None and taken[0] % step == 0 and t < total:
                    progress(taken[0] / total)
            if t >= total:
                break
            tile = ranked[t]
            a, c0, top = int(tile_a[tile]), int(tile_c[tile]), float(reach[tile])
            b, c1 = min(a + ROWS, n), min(c0 + COLS, n)
            np.subtract(shift, best.bound[a:b], out=lo_r[: b - a])
            np.subtract(shift, best.bound[c0:c1], out=lo_c[: c1 - c0])
            if a != c0 and top < min(lo_r[: b - a].min(), lo_c[: c1 - c0].min()):
                continue  # no similarity of the tile reaches a bound of its rows or columns
            if b - a < ROWS or c1 - c0 < COLS:  # an edge tile: the rest stays below every bound
                sim.fill(-np.inf)
                lo_r[b - a :] = np.inf
                lo_c[c1 - c0 :] = np.inf
            np.matmul(xp[a:b], xp[c0:c1].T, out=sim[: b - a, : c1 - c0])
            if c0 == a:  # the diagonal block: only j > i, each pair once
                w = min(ROWS, c1 - c0)
                sim[:w, :w][below[:w, :w]] = -np.inf
            top_r = sim.reshape(ROWS, GROUP, m).max(axis=1)
            top_c = sim.reshape(ROWS // GROUP, GROUP, COLS).max(axis=1)
            if c0 == a:
                in_tile_bounds(best.bound, top_r, top_c, a, b, c0, c1, k, eps)
                np.subtract(shift, best.bound[a:b], out=lo_r[: b - a])
                np.subtract(shift, best.bound[c0:c1], out=lo_c[: c1 - c0])
            np.greater_equal(top_r, lo_r[:, None], out=hit_r)
            np.greater_equal(top_c, lo_c[None, :], out=hit_c)
            r, q = np.divmod(np.flatnonzero(hit_r), m)
            p, c = np.divmod(np.flatnonzero(hit_c), COLS)
            if r.size == 0 and c.size == 0:
                continue
            cc = q[:, None] + spread_r
            rr = p[:, None] * GROUP + spread_c
            s1, s2 = sim[r[:, None], cc].ravel(), sim[rr, c[:, None]].ravel()
            u1, u2 = a + np.repeat(r, GROUP), c0 + np.repeat(c, GROUP)
            d1, d2 = cosine_distances(s1), cosine_distances(s2)
            keep1 = (s1 > -np.inf) & (d1 <= best.bound[u1])
            keep2 = (s2 > -np.inf) & (d2 <= best.bound[u2])
            got = (
                np.concatenate([u1[keep1], u2[keep2]]),
                np.concatenate([c0 + cc.ravel()[keep1], a + rr.ravel()[keep2]]),
                np.concatenate([d1[keep1], d2[keep2]]),
            )
            if got[0].size:
                found.append(got)
                held += got[0].size
            if held >= MERGE:
                with lock:
                    best.merge(*map(np.concatenate, zip(*found, strict=True)))
                found, held = [], 0
        if found:
            with lock:
                best.merge(*map(np.concatenate, zip(*found, strict=True)))

    if n_jobs == 1:
        worker(xp)
    else:
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            for done in [pool.submit(worker, xp) for _ in range(n_jobs)]:
                done.result()
    del xp  # before the result is decoded: the copy of the features is the largest array here
    return best.result()


def in_tile_bounds(
    bound: np.ndarray,
    top_r: np.ndarray,
    top_c: np.ndarray,
    a: int,
    b: int,
    c0: int,
    c1: int,
    k: int,
    eps: float,
) -> None:
    """Lower the bounds of a tile's rows and columns with the tile's own group maxima (``top_r``: per row,
    ``top_c``: per column): ``k`` groups whose maximum is at least ``t`` are ``k`` distinct entries at a
    distance of at most ``(1 - t) + 4 eps`` (masked entries are -inf: no bound from fewer than ``k``)."""
    if k <= top_r.shape[1]:
        kth = np.partition(top_r[: b - a], top_r.shape[1] - k, axis=1)[:, top_r.shape[1] - k]
        np.minimum(bound[a:b], (1 - kth) + 4 * eps, out=bound[a:b])
    if k <= top_c.shape[0]:
        per_col = np.ascontiguousarray(top_c[:, : c1 - c0].T)  # a partition along rows is slow
        kth = np.partition(per_col, top_c.shape[0] - k, axis=1)[:, top_c.shape[0] - k]
        np.minimum(bound[c0:c1], (1 - kth) + 4 * eps, out=bound[c0:c1])


class _Best:
    """Each row's ``k`` best (distance, original index) so far, as sortable uint64 keys (float32: the
    distance's bits above the index) or as a pair of arrays (float64), and its bound (the ``k``-th)."""

    def __init__(self, n: int, k: int, dtype: np.dtype, order: np.ndarray) -> None:
        self.k = k
        self.order = order  # position in the cluster order -> original index
        self.bound = np.full(n, np.inf, dtype=dtype)
        self.packed = dtype == np.float32
        if self.packed:
            self.keys = np.full((n, k), _EMPTY, dtype=np.uint64)
        else:
            self.dist = np.full((n, k), np.inf, dtype=dtype)
            self.ind = np.full((n, k), np.iinfo(np.int64).max, dtype=np.int64)

    def merge(self, u: np.ndarray, v: np.ndarray, d: np.ndarray) -> None:
        """Candidates: row ``u`` and column ``v`` (cluster order), distance ``d``."""
        k = self.k
        keep = d <= self.bound[u]  # bounds fell since the screen
        u, v, d = u[keep], self.order[v[keep]], d[keep]
        if u.size == 0:  # another thread's merge lowered every bound these candidates needed
            return
        # group by row, nearest first (distances to float32 for the grouping: order-preserving; a tie of
        # that key at a row's k-th candidate takes every tied candidate along)
        d32 = d.astype(np.float32, copy=False).view(np.uint32).astype(np.uint64)
        by = np.argsort((u.astype(np.uint64) << np.uint64(31)) | d32)
        u, v, d, d32 = u[by], v[by], d[by], d32[by]
        start = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
        count = np.diff(np.r_[start, u.size])
        rows = u[start]
        kth = d32[start + np.minimum(count, k) - 1]
        take = d32 <= np.repeat(kth, count)
        slot = np.repeat(np.arange(rows.size), count)[take]
        pos = (np.arange(u.size) - np.repeat(start, count))[take]
        width = int(pos.max()) + 1
        if self.packed:
            new = np.full((rows.size, width), _EMPTY, dtype=np.uint64)
            new[slot, pos] = (d32[take] << np.uint64(32)) | v[take].astype(np.uint64)
            keys = np.concatenate([self.keys[rows], new], axis=1)
            keys.sort(axis=1)
            self.keys[rows] = keys[:, :k]
            kd = (keys[:, k - 1] >> np.uint64(32)).astype(np.uint32).view(np.float32)
        else:
            new_d = np.full((rows.size, width), np.inf, dtype=d.dtype)
            new_i = np.full((rows.size, width), np.iinfo(np.int64).max, dtype=np.int64)
            new_d[slot, pos], new_i[slot, pos] = d[take], v[take]
            all_d = np.concatenate([self.dist[rows], new_d], axis=1)
            all_i = np.concatenate([self.ind[rows], new_i], axis=1)
            pick = np.lexsort((all_i, all_d), axis=1)[:, :k]
            self.dist[rows] = np.take_along_axis(all_d, pick, axis=1)
            self.ind[rows] = np.take_along_axis(all_i, pick, axis=1)
            kd = self.dist[rows, k - 1]
        self.bound[rows] = np.minimum(self.bound[rows], kd)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(distances, original indices) in the original row order."""
        if self.packed:
            dist = (self.keys >> np.uint64(32)).astype(np.uint32).view(np.float32)
            ind = (self.keys & np.uint64(0xFFFFFFFF)).astype(np.int64)
        else:
            dist, ind = self.dist, self.ind
        if not np.isfinite(dist).all():
            raise AssertionError("a row of the tiled search ended with fewer than k neighbours")
        out_d, out_i = np.empty_like(dist), np.empty_like(ind)
        out_d[self.order], out_i[self.order] = dist, ind
        return out_d, out_i


def row_norms(x: np.ndarray) -> np.ndarray:
    """Row L2 norms as scikit-learn's ``normalize`` forms them (``einsum``, then the square root), zero
    ones (below ``10 eps``) replaced by 1: divided by these, a zero row stays zeros."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms < 10 * np.finfo(norms.dtype).eps] = 1
    return norms


def cluster_order(x: np.ndarray) -> np.ndarray:
    """A permutation putting rows of similar direction next to each other: spherical k-means (one centre
    per ``CLUSTER_ROWS`` rows, ``CLUSTER_ITERATIONS`` rounds on a strided sample, deterministic), the centres
    in a greedy nearest-neighbour tour, then every row by its nearest centre, members in index order."""
    n = x.shape[0]
    c = max(1, n // CLUSTER_ROWS)
    if c == 1:
        return np.arange(n)
    sample = np.array(x[:: max(1, n // (32 * c))], dtype=np.float64)
    sample /= row_norms(sample)[:, None]
    centres = sample[np.linspace(0, sample.shape[0] - 1, c).astype(np.int64)]
    for _ in range(CLUSTER_ITERATIONS):
        near = np.argmax(sample @ centres.T, axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, near, sample)
        norms = np.linalg.norm(sums, axis=1)
        filled = norms > 0
        centres[filled] = sums[filled] / norms[filled, None]
    # the centres in a greedy tour (each the nearest unvisited one to the last), so that neighbouring
    # clusters, which share the blocks at their boundaries, point in similar directions
    sims = centres @ centres.T
    tour = np.empty(c, dtype=np.int64)
    tour[0] = 0
    seen = np.zeros(c, dtype=bool)
    seen[0] = True
    for t in range(1, c):
        nxt = int(np.argmax(np.where(seen, -np.inf, sims[tour[t - 1]])))
        tour[t], seen[nxt] = nxt, True
    centres = centres[tour]
    near = np.empty(n, dtype=np.int64)
    cf = centres.astype(x.dtype)
    for a in range(0, n, 1 << 16):
        part = np.asarray(x[a : a + (1 << 16)])  # the nearest centre by angle: the row's norm does not matter
        near[a : a + (1 << 16)] = np.argmax(part @ cf.T, axis=1)
    return np.argsort(near, kind="stable")


def _block_bounds(xp: np.ndarray, slack: float) -> np.ndarray:
    """``U[A, B]``: an upper bound on every computed similarity between a row of block ``A`` and one of
    block ``B`` (blocks of ``ROWS`` rows): ``cos(max(0, angle(c_A, c_B) - r_A - r_B))`` plus ``slack``, with
    ``c`` a block's unit centre and ``r`` its largest angle to a row, both in float64 and rounded up."""
    n = xp.shape[0]
    nb = -(-n // ROWS)
    centre = np.zeros((nb, xp.shape[1]))
    radius = np.zeros(nb)
    for j in range(nb):
        block = xp[j * ROWS : (j + 1) * ROWS].astype(np.float64)
        mean = block.sum(axis=0)
        norm = np.linalg.norm(mean)
        if norm == 0:
            radius[j] = np.pi
            continue
        centre[j] = mean / norm
        # a row's angle to the centre; zero rows count as pi / 2 (similarity 0 to everything)
        length = np.linalg.norm(block, axis=1)
        cos = np.clip(
            np.divide(block @ centre[j], length, out=np.zeros_like(length), where=length > 0), -1, 1
        )
        radius[j] = np.arccos(cos.min())
    radius = radius * (1 + 1e-9) + 1e-7
    # in place: nb x nb is 30 MB at 1M rows
    upper = centre @ centre.T
    np.clip(upper, -1, 1, out=upper)
    np.arccos(upper, out=upper)
    upper -= radius[:, None]
    upper -= radius[None, :]  # the gap: the smallest angle between a row of A and one of B
    np.maximum(upper, 0.0, out=upper)
    np.cos(upper, out=upper)
    upper += slack + 1e-7
    return upper


def sampled_bounds(xn: np.ndarray, k: int, slack: float, rows: slice | None = None) -> np.ndarray:
    """Per row, an upper bound on its ``k``-th smallest distance to another row: the ``k``-th smallest over
    a strided sample of ``SAMPLE`` columns (the row itself left out), plus ``slack`` for the product's bits,
    which differ from the tiles'."""
    n = xn.shape[0]
    first, last, _ = (rows or slice(0, n)).indices(n)
    cols = np.arange(0, n, max(1, n // SAMPLE))[:SAMPLE]
    xs = xn[cols]
    out = np.empty(last - first, dtype=xn.dtype)
    step = max(1, BLOCK_ENTRIES // cols.size)
    if k >= cols.size:  # too few sampled columns for a bound: none
        out.fill(np.inf)
        return out
    for a in range(first, last, step):
        b = min(a + step, last)
        d = cosine_distances(xn[a:b] @ xs.T)
        hit = np.flatnonzero((cols >= a) & (cols < b))
        d[cols[hit] - a, hit] = np.inf
        out[a - first : b - first] = np.partition(d, k - 1, axis=1)[:, k - 1] + slack
    return out


def cosine_distances(sim: np.ndarray) -> np.ndarray:
    """scikit-learn's cosine distance from the similarity: ``1 - s`` clipped into [0, 2] (same operations)."""
    d = sim * -1
    d += 1
    np.clip(d, 0, 2, out=d)
    return d
