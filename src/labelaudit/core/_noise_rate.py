"""prune_by_noise_rate selection: for every class k and target class j, flag the need[j, k] examples
labelled k with the largest margin P[i, j] - P[i, k] (ties: lower index first).

Two exact routes, chosen by shape:
* per class (few target classes per class, typical at large K): gather the class's rows (only the
  needed columns) and select with one partition per class;
* by candidates (many target classes per class, typical at small K and large N): a strided subsample
  gives, for every cell, a value that at least need[j, k] margins reach with high probability; one
  sequential pass keeps only margins at or above it; the selection then runs on those candidates. A
  cell whose candidates are fewer than need[j, k] (the bound was too high) is redone by the per-class
  route, so the result never depends on the sample.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from labelaudit.core import confident as kn
from labelaudit.core import select as sel
from labelaudit.core.batching import batch_rows, map_batches, row_slices

if TYPE_CHECKING:
    from labelaudit.core.context import BaseContext, Context

DIRECT_ELEMENTS = 1 << 23  # below this many pred_probs elements the per-class route is always taken
# Size of the subsample used for the bounds (in pred_probs elements), and the chance allowed per cell
# that its bound comes out too high (the cell is then redone exactly). In memory a redo is a cheap
# gather of one class; streamed it is one more pass over the data, so the stream samples more (which
# also tightens the bounds: fewer candidates) and allows far fewer misses.
SAMPLE_ELEMENTS = 1 << 21
MISS = 1e-2
STREAM_SAMPLE_ELEMENTS = 1 << 24
STREAM_MISS = 1e-6
SLACK = 1.25  # and at least SLACK times the expected number of sampled members above the cut, plus 2


def margins(
    p: np.ndarray, members: np.ndarray, k: int, targets: np.ndarray, batch_size: int | None
) -> np.ndarray:
    """(len(targets), n_k) margins P[i, j] - P[i, k] in the input dtype, one contiguous row per target
    class j, gathered in row slices so that no (n_k, K) block is held at once."""
    out = np.empty((len(targets), len(members)), dtype=p.dtype)
    if p.shape[1] <= 4:  # a handful of columns: whole-column differences, then one 1-D gather each
        for r, j in enumerate(targets):
            out[r] = (p[:, j] - p[:, k])[members]
        return out
    cols = np.concatenate(([k], targets))
    # Whole rows, then the needed columns: contiguous row copies beat a 2-D fancy index (np.ix_) even
    # when few columns are needed (measured 0.18 s vs 0.33 s for 1000 classes of 200 rows at K=1000).
    for sl in row_slices(len(members), batch_rows(p.shape[1], batch_size)):
        block = np.take(p[members[sl]], cols, axis=1)
        np.subtract(block[:, 1:].T, block[:, 0], out=out[:, sl])
    return out


class MarginSource(Protocol):
    """How the selection reaches margins: in memory (InMemoryMargins) or by streaming (core.stream)."""

    random_access: bool  # whether class_margins may gather any rows (the per-class route)
    sample_elements: int
    miss: float

    def sample(self, stride: int) -> tuple[np.ndarray, np.ndarray]: ...

    def candidates(self, bounds: np.ndarray) -> tuple[np.ndarray, ...]: ...

    def class_margins(self, cells: dict[int, np.ndarray]) -> dict[int, np.ndarray]: ...


class InMemoryMargins:
    """Margin access for an in-memory (or memory-mapped) pred_probs: random access to any row."""

    random_access = True
    sample_elements, miss = SAMPLE_ELEMENTS, MISS

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def sample(self, stride: int) -> tuple[np.ndarray, np.ndarray]:
        """Margins P[i, :] - P[i, y_i] (|S|, K) and labels of the rows i = 0, stride, 2 * stride, ..."""
        ctx = self.ctx
        p, y = ctx.pred_probs, ctx.labels
        rows = np.arange(0, ctx.n, stride)
        d = np.empty((len(rows), ctx.k), dtype=p.dtype)
        for sl in row_slices(len(rows), batch_rows(ctx.k, ctx.batch_size)):
            block = p[rows[sl]]
            np.subtract(block, block[np.arange(len(block)), y[rows[sl]]][:, None], out=d[sl])
        return d, y[rows]

    def candidates(self, bounds: np.ndarray) -> tuple[np.ndarray, ...]:
        ctx = self.ctx
        p, y = ctx.pred_probs, ctx.labels

        def part(sl: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return candidate_block(p[sl], y[sl], bounds, sl.start)

        rows, progress = batch_rows(ctx.k, ctx.batch_size), ctx.pass_progress("noise-rate candidates")
        parts = list(map_batches(part, ctx.n, rows, ctx.n_jobs, progress))
        return tuple(np.concatenate([q[i] for q in parts]) for i in range(3))

    def class_margins(self, cells: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        ctx = self.ctx
        return {
            k: margins(ctx.pred_probs, ctx.groups.members(k), k, targets, ctx.batch_size)
            for k, targets in cells.items()
        }


def _select_from_margins(m: np.ndarray, members: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Members chosen for any target: need[r] largest of margins row r (ties: lower index first)."""
    if m.size <= 1 << 22:
        return members[sel.largest_per_row(m, need).any(axis=0)]
    chosen = np.zeros(len(members), dtype=bool)  # one target at a time keeps temporaries to one row
    for r in range(len(need)):
        chosen |= sel.select_largest(m[r], int(need[r]))
    return members[chosen]


def select(ctx: BaseContext, need: np.ndarray, classes: list[int]) -> np.ndarray:
    """Boolean mask (N,) of examples flagged by prune_by_noise_rate.

    need: (K, K) int, need[j, k] = examples labelled k to flag as truly j (diagonal ignored);
    classes: the classes that may be pruned. ctx.margins gives access to margins (in memory or
    streamed); only random access allows the per-class route."""
    n, k_all = ctx.n, ctx.k
    source = ctx.margins
    need = need.copy()
    np.fill_diagonal(need, 0)
    allowed = set(classes)
    need[:, [c for c in range(k_all) if c not in allowed]] = 0
    need = np.maximum(need, 0)
    mask = np.zeros(n, dtype=bool)
    counts = ctx.counts
    # A cell asking for every member of its class flags the whole class.
    whole = np.flatnonzero((need >= counts[None, :]).any(axis=0) & (counts > 0))
    for k in whole.tolist():
        mask[ctx.groups.members(k)] = True
        need[:, k] = 0
    active = np.flatnonzero(need.any(axis=0))
    if len(active) == 0:
        return mask
    targets_per_class = np.count_nonzero(need[:, active], axis=0).mean()
    sparse = (targets_per_class + 1) * 4 < k_all
    cells = {int(k): np.flatnonzero(need[:, k]) for k in active}
    if source.random_access and (
        sparse or n * k_all <= DIRECT_ELEMENTS or getattr(source, "per_class", False)
    ):
        failed_cells = cells
    else:
        d, ys = source.sample(sample_stride(n, k_all, source.sample_elements))
        bounds = bounds_from_sample(d, ys, counts, need, active, source.miss)
        idx, code, val = source.candidates(bounds)
        failed = _select_candidates(idx, code, val, need, k_all, mask)
        failed_cells = {
            int(k): np.sort(failed[failed // k_all == k] % k_all) for k in np.unique(failed // k_all)
        }
    if failed_cells:
        for k, m in source.class_margins(failed_cells).items():
            targets = failed_cells[k]
            mask[_select_from_margins(m, ctx.groups.members(k), need[targets, k])] = True
    return mask


def select_cells(ctx: BaseContext, prune: kn.Cells, classes: list[int]) -> np.ndarray:
    """select() with the prune counts given as non-zero Cells in given-label rows (cell (k, j) holds
    need[j, k]), for many classes: the per-class route runs on the cells; the sampled route, taken when
    the classes have many targets each (so K * K is at most a few times the number of cells), on the
    dense matrix. The same mask as select(ctx, prune.dense().T, classes)."""
    n, k_all = ctx.n, ctx.k
    rows, cols, val = prune.rows, prune.cols, prune.values
    counts = ctx.counts
    keep = (rows != cols) & (val > 0) & np.isin(rows, np.asarray(classes, dtype=np.int64))
    rows, cols, val = rows[keep], cols[keep], val[keep]
    mask = np.zeros(n, dtype=bool)
    # A cell asking for every member of its class flags the whole class.
    whole = np.unique(rows[(val >= counts[rows]) & (counts[rows] > 0)])
    for k in whole.tolist():
        mask[ctx.groups.members(k)] = True
    rest = ~np.isin(rows, whole)
    rows, cols, val = rows[rest], cols[rest], val[rest]
    active, starts = np.unique(rows, return_index=True)
    if len(active) == 0:
        return mask
    sparse = (len(rows) / len(active) + 1) * 4 < k_all
    if not ctx.margins.random_access and hasattr(ctx.margins, "cell_candidates"):
        return _select_sampled_cells(ctx, rows, cols, val, mask)  # streamed: never (K, K)
    per_class = getattr(ctx.margins, "per_class", False)  # core.topk: no dense rows to sample
    if not (ctx.margins.random_access and (sparse or per_class or n * k_all <= DIRECT_ELEMENTS)):
        return select(ctx, prune.dense().T, classes)
    ends = np.append(starts[1:], len(rows))
    spans = {k: (s, e) for k, s, e in zip(active.tolist(), starts.tolist(), ends.tolist(), strict=True)}
    cells = {k: cols[s:e] for k, (s, e) in spans.items()}  # targets in increasing order, as flatnonzero
    for k, m in ctx.margins.class_margins(cells).items():
        s, e = spans[k]
        mask[_select_from_margins(m, ctx.groups.members(k), val[s:e])] = True
    return mask


def sample_stride(n: int, k: int, elements: int) -> int:
    """Every how many rows the bound subsample takes one: about `elements` pred_probs values in all."""
    return max(4, -(-n * k // elements))


def _normal_quantile(miss: float) -> float:
    """z with P(Z >= z) = miss for a standard normal Z (bisection on erfc)."""
    lo, hi = 0.0, 40.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 0.5 * math.erfc(mid / math.sqrt(2)) > miss else (lo, mid)
    return hi


def poisson_want(mu: np.ndarray, miss: float) -> np.ndarray:
    """Smallest w >= 1 with P(Poisson(mu) >= w) <= miss, elementwise (a normal tail above mu = 500).

    A sampled bound is the w-th largest sampled margin of a cell; it is too high exactly when at least
    w sampled members lie above the cell's true cut-off, a Poisson(mu) count for mu = need * sampling
    rate. Candidates per cell are about w / rate, so w is the smallest with an acceptable miss."""
    shape = np.shape(mu)
    mu = np.asarray(mu, dtype=np.float64).ravel()
    want = np.ones(mu.shape, dtype=np.int64)
    big = mu > 500
    want[big] = np.ceil(mu[big] + _normal_quantile(miss) * np.sqrt(mu[big])).astype(np.int64) + 1
    small = np.flatnonzero(~big & (mu > 0))
    if len(small):
        m = mu[small]
        pmf = np.exp(-m)  # P(X = i), from i = 0
        tail = 1.0 - pmf  # P(X >= i + 1)
        w = np.ones(len(m), dtype=np.int64)  # tail now is P(X >= w)
        i = 0
        while (open_ := tail > miss).any():
            i += 1
            pmf = pmf * m / i
            tail = tail - pmf
            w[open_] = i + 1
        want[small] = w
    return want.reshape(shape)


def bounds_from_sample(
    d: np.ndarray, ys: np.ndarray, counts: np.ndarray, need: np.ndarray, active: np.ndarray, miss: float
) -> np.ndarray:
    """(K, K) array in the dtype of the margins: bounds[k, j] = a margin value that at least need[j, k]
    members of class k reach except with probability about `miss`, judged from sampled margins d (|S|, K)
    with labels ys; +inf where nothing is needed, -inf where the sample is too small to tell."""
    k_all = d.shape[1]
    sub = kn.group_by_class(ys, k_all)
    rate = np.divide(np.bincount(ys, minlength=k_all), counts, out=np.zeros(k_all), where=counts > 0)
    mu = need * rate[None, :]  # expected sampled members above the cut of cell (k, j), at [j, k]
    # The Poisson tail bounds the sampling noise; the relative slack covers what it does not model
    # (a strided sample of ordered data), and dominates where many sampled members are expected.
    wants = np.maximum(poisson_want(mu, miss), np.ceil(mu * SLACK).astype(np.int64) + 2)
    bounds = np.full((k_all, k_all), np.inf, dtype=d.dtype)
    for k in active:
        targets = np.flatnonzero(need[:, k])
        members = sub.members(k)
        s_k = len(members)
        want = wants[targets, k]
        ok = want <= s_k
        bounds[k, targets[~ok]] = -np.inf
        if ok.any():
            t_ok = targets[ok]
            vals = np.ascontiguousarray(d[members][:, t_ok].T)  # (targets, s_k)
            top = int(want[ok].max())
            tail = np.sort(np.partition(vals, s_k - top, axis=1)[:, s_k - top :], axis=1)
            bounds[k, t_ok] = tail[np.arange(len(t_ok)), top - want[ok]]
    return bounds


def candidate_block(
    block: np.ndarray, yb: np.ndarray, bounds: np.ndarray, start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices, cell codes y * K + j, margins) of the (row, target) pairs of one block whose margin
    P[i, j] - P[i, y_i] reaches bounds[y_i, j]; rows are numbered from `start`, in index order."""
    k_all = block.shape[1]
    d = block - block[np.arange(len(block)), yb][:, None]
    flat = np.flatnonzero(d >= bounds[yb])  # one flat index is cheaper than 2-D nonzero
    r = flat // k_all
    code = yb[r].astype(np.int64) * k_all + (flat - r * k_all)
    # Candidates are kept until the selection: int32 halves them whenever indices and codes fit.
    small = start + len(block) < 1 << 31 and k_all * k_all < 1 << 31
    kind = np.int32 if small else np.int64
    return (r + start).astype(kind), code.astype(kind), d.ravel()[flat]


def _select_candidates(
    idx: np.ndarray,
    code: np.ndarray,
    val: np.ndarray,
    need: np.ndarray | None,
    k_all: int,
    mask: np.ndarray,
    cell_need: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Flag the need[j, k] largest candidates of each cell (code = k * K + j) into `mask`; return the
    codes of cells with fewer candidates than needed (to be redone exactly). With need None, the
    needed cells are `cell_need`: (their codes, increasing; their counts)."""
    key = code.astype(np.uint16) if k_all * k_all <= 1 << 16 else code
    order = np.argsort(key, kind="stable")  # grouped by cell, index order kept within a cell
    if len(order) < 1 << 31:
        order = order.astype(np.int32)
    del key
    code_sorted = code[order]
    starts = np.flatnonzero(code_sorted[1:] != code_sorted[:-1]) + 1
    starts = np.concatenate(([0], starts)) if len(code_sorted) else starts
    cells = code_sorted[starts]
    ends = np.append(starts[1:], len(order))
    if need is not None:
        wanted = need.T.ravel()  # wanted[k * K + j] = need[j, k]
        needed_cells = np.flatnonzero(wanted)
        needed_counts = wanted[needed_cells]
    else:  # given as cells: (codes k * K + j increasing, counts)
        assert cell_need is not None
        needed_cells, needed_counts = cell_need
    failed = np.setdiff1d(needed_cells, cells)  # no candidate at all
    # every candidate's cell is a needed one (other cells' bounds are +inf)
    counts_of = needed_counts[np.searchsorted(needed_cells, cells)].tolist()
    short = []
    for cell, s, e, c in zip(cells.tolist(), starts.tolist(), ends.tolist(), counts_of, strict=True):
        if e - s < c:
            short.append(cell)
            continue
        pos = order[s:e]
        mask[idx[pos[sel.select_largest(val[pos], c)]]] = True
    return np.concatenate([failed, np.asarray(short, dtype=failed.dtype)])


def bounds_for_cells(
    d: np.ndarray,
    ys: np.ndarray,
    counts: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    need: np.ndarray,
    miss: float,
) -> np.ndarray:
    """bounds_from_sample for needed cells given as (given class rows, target cols, need), in code
    order: the same value per cell as bounds_from_sample's bounds[k, j], without any (K, K) array."""
    k_all = d.shape[1]
    sub = kn.group_by_class(ys, k_all)
    rate = np.divide(np.bincount(ys, minlength=k_all), counts, out=np.zeros(k_all), where=counts > 0)
    mu = need * rate[rows]
    wants = np.maximum(poisson_want(mu, miss), np.ceil(mu * SLACK).astype(np.int64) + 2)
    bounds = np.full(len(rows), np.inf, dtype=d.dtype)
    active, starts = np.unique(rows, return_index=True)
    ends = np.append(starts[1:], len(rows))
    for k, s, e in zip(active.tolist(), starts.tolist(), ends.tolist(), strict=True):
        members = sub.members(k)
        s_k = len(members)
        want = wants[s:e]
        ok = want <= s_k
        here = bounds[s:e]
        here[~ok] = -np.inf
        if ok.any():
            t_ok = cols[s:e][ok]
            vals = np.ascontiguousarray(d[members][:, t_ok].T)  # (targets, s_k)
            top = int(want[ok].max())
            tail = np.sort(np.partition(vals, s_k - top, axis=1)[:, s_k - top :], axis=1)
            here[ok] = tail[np.arange(len(t_ok)), top - want[ok]]
    return bounds


def cell_candidate_block(
    block: np.ndarray, yb: np.ndarray, starts: np.ndarray, cols: np.ndarray, bounds: np.ndarray, start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """candidate_block with the bounds of needed cells only: class k's cells are
    [starts[k], starts[k + 1]) of (cols, bounds); the same candidates in the same order (rows, then
    targets in increasing order), from the (row, target) pairs of the rows' own cells."""
    k_all = block.shape[1]
    lo = starts[yb]
    cnt = starts[yb + 1] - lo
    r = np.repeat(np.arange(len(yb)), cnt)
    cell = lo[r] + (np.arange(len(r)) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    j = cols[cell]
    m = block[r, j] - block[r, yb[r]]
    keep = m >= bounds[cell]
    r, j, m = r[keep], j[keep], m[keep]
    code = yb[r].astype(np.int64) * k_all + j
    small = start + len(block) < 1 << 31 and k_all * k_all < 1 << 31
    kind = np.int32 if small else np.int64
    return (r + start).astype(kind), code.astype(kind), m


def _select_sampled_cells(
    ctx: BaseContext, rows: np.ndarray, cols: np.ndarray, val: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """The sampled route of select() over needed cells (rows = given class, cols = target, val = need;
    in code order, no whole class among them), for a streamed context with many classes: the same
    bounds, candidates and exact redo of short cells, and so the same mask, without (K, K) arrays."""
    k_all = ctx.k
    source: Any = ctx.margins  # a streamed source, with cell_candidates
    d, ys = source.sample(sample_stride(ctx.n, k_all, source.sample_elements))
    bounds = bounds_for_cells(d, ys, ctx.counts, rows, cols, val, source.miss)
    del d
    starts = np.searchsorted(rows, np.arange(k_all + 1))
    idx, code, cand = source.cell_candidates(starts, cols, bounds)
    codes = rows * k_all + cols
    failed = _select_candidates(idx, code, cand, None, k_all, mask, (codes, val))
    failed_cells = {int(k): np.sort(failed[failed // k_all == k] % k_all) for k in np.unique(failed // k_all)}
    if failed_cells:
        for k, m in source.class_margins(failed_cells).items():
            targets = failed_cells[k]
            need = val[np.searchsorted(codes, k * k_all + targets)]
            mask[_select_from_margins(m, ctx.groups.members(k), need)] = True
    return mask
