"""Confident-learning row kernels: class groups, self-confidences, thresholds and the confident row pass.

Every function here takes already-validated arrays (labels: int32 or intp (N,), pred_probs: float (N, K)) and
works over row batches so that a read-only memmap is read in place and temporaries stay bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelaudit.core.batching import RowsDone, batch_rows, map_batches, row_slices
from labelaudit.core.constants import BIG, EPS, T_MIN


@dataclass(frozen=True)
class ClassGroups:
    """Example indices grouped by given label: members of class k are order[starts[k]:starts[k+1]],
    in increasing index order (a stable sort of the labels)."""

    order: np.ndarray
    starts: np.ndarray

    def members(self, k: int) -> np.ndarray:
        return self.order[self.starts[k] : self.starts[k + 1]]

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.starts)


def group_by_class(labels: np.ndarray, n_classes: int) -> ClassGroups:
    """A stable counting sort of the example indices by label, done slice by slice so that no
    N-sized int64 temporary is needed (int32 indices when N < 2**31)."""
    n = len(labels)
    counts = class_counts(labels, n_classes)
    starts = np.zeros(n_classes + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    order = np.empty(n, dtype=np.int32 if n < 1 << 31 else np.int64)
    filled = starts[:-1].copy()
    for sl in row_slices(n, 1 << 20):
        yb = labels[sl]
        # A stable sort of small unsigned keys is a radix sort in numpy: O(slice), index order kept.
        key = yb.astype(np.uint16) if n_classes <= 1 << 16 else yb
        local = np.argsort(key, kind="stable")
        c = np.bincount(yb, minlength=n_classes)
        local_starts = np.cumsum(c) - c
        sorted_keys = yb[local]
        dest = np.arange(len(local)) - local_starts[sorted_keys] + filled[sorted_keys]
        order[dest] = local + sl.start
        filled += c
    return ClassGroups(order, starts)


def gather_self_confidence(
    labels: np.ndarray, pred_probs: np.ndarray, batch_size: int | None = None, n_jobs: int = 1
) -> np.ndarray:
    """P[i, y_i] for every i, dtype of pred_probs, read batch by batch."""
    n, k = pred_probs.shape
    out = np.empty(n, dtype=pred_probs.dtype)

    def part(sl: slice) -> None:
        block = pred_probs[sl]
        out[sl] = block[np.arange(len(block)), labels[sl]]

    # only one element per row is read: larger batches are fine
    for _ in map_batches(part, n, batch_rows(k, batch_size) * 4, n_jobs):
        pass
    return out


GROUP_SLICE = 1 << 20  # rows sorted at a time when grouping values by class


def _small_key(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Labels in the narrowest unsigned type: numpy sorts 8- and 16-bit keys by radix, stably."""
    return (
        labels.astype(np.uint8)
        if n_classes <= 1 << 8
        else labels.astype(np.uint16)
        if n_classes <= 1 << 16
        else labels
    )


def group_values(values: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`values` reordered so that each class's values are contiguous and in index order, with the class
    boundaries (K + 1,). Slice by slice: a stable sort of the slice's small keys, then one contiguous copy
    per class, so neither an N-sized index array nor a random scatter is needed."""
    n_classes = len(counts)
    bounds = np.zeros(n_classes + 1, dtype=np.int64)
    np.cumsum(counts, out=bounds[1:])
    if len(values) <= GROUP_SLICE:  # one slice: its sorted copy is the answer
        return values[np.argsort(_small_key(labels, n_classes), kind="stable")], bounds
    out = np.empty(len(values), dtype=values.dtype)
    filled = bounds[:-1].copy()
    for sl in row_slices(len(values), GROUP_SLICE):
        yb = labels[sl]
        ordered = values[sl][np.argsort(_small_key(yb, n_classes), kind="stable")]
        c = np.bincount(yb, minlength=n_classes)
        local = 0
        for k in np.flatnonzero(c):
            out[filled[k] : filled[k] + c[k]] = ordered[local : local + c[k]]
            local += c[k]
            filled[k] += c[k]
    return out, bounds


def class_thresholds(
    self_conf: np.ndarray, labels: np.ndarray, counts: np.ndarray, groups: ClassGroups | None = None
) -> np.ndarray:
    """Per-class mean self-confidence (clipped below at T_MIN; BIG for an absent class).

    The mean of class k is numpy's mean of the contiguous vector P[R_k, k] in index order, which fixes
    the pairwise-summation order (and so the last bit). Thresholds stay in the input dtype unless some
    class is absent, in which case the integer BIG promotes the vector to float64.
    """
    # numpy's mean, unrolled: add.reduce of the contiguous vector (float16 accumulates in float32), then
    # float64(sum) / count cast back to the input dtype; bit for bit the same, without mean()'s
    # per-call overhead (this runs once per class per chunk in the batched mode).
    n_classes = len(counts)
    acc = np.float32 if self_conf.dtype == np.float16 else None
    present = counts > 0
    classes = np.flatnonzero(present).tolist()
    add = np.add.reduce
    if n_classes <= 4 and groups is None:  # a mask per class is cheapest for a handful of classes
        class_sums = [add(self_conf[labels == k], dtype=acc) for k in classes]
    else:
        if groups is not None:
            grouped, bounds = self_conf[groups.order], groups.starts
        else:
            grouped, bounds = group_values(self_conf, labels, counts)
        b = bounds.tolist()
        class_sums = [add(grouped[b[k] : b[k + 1]], dtype=acc) for k in classes]
    sums = np.array(class_sums, dtype=np.float64)
    means = (sums / counts[present]).astype(self_conf.dtype)
    if present.all():
        t = means
    else:
        t = np.full(n_classes, float(BIG))
        t[present] = means
    return np.maximum(t, t.dtype.type(T_MIN))


PW_BLOCK = 128  # numpy's pairwise-summation block (PW_BLOCKSIZE)


def pairwise_sums(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """np.add.reduce of every run values[starts[i] : starts[i] + lengths[i]] (lengths >= 1), bit for bit,
    vectorised over the runs; float32 or float64 `values`, sums in their dtype.

    numpy sums a contiguous float vector pairwise: a run longer than PW_BLOCK is split after
    (n // 2) rounded down to a multiple of 8 and the two halves' sums are added; a shorter run is
    summed by 8 interleaved accumulators over its first n - n % 8 values, combined as
    ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then its last n % 8 values are added in order
    (a run under 8 values is just summed in order), and the reduction adds that to +0.0. Padding with
    -0.0, the exact identity of float addition, lets every block and tail be summed as one rectangular
    array."""
    dt = values.dtype
    neg_zero = dt.type(-0.0)
    # Split the runs down to blocks, level by level; each level remembers which of its runs were split.
    levels = []
    s, n = np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64)
    while True:
        split = n > PW_BLOCK
        levels.append((s, n, split))
        if not split.any():
            break
        half = n[split] // 2
        half -= half % 8
        s = np.stack([s[split], s[split] + half], axis=1).ravel()
        n = np.stack([half, n[split] - half], axis=1).ravel()
    below = None
    for s, n, split in reversed(levels):
        out = np.empty(len(s), dtype=dt)
        leaf = ~split
        if leaf.any():
            out[leaf] = _block_sums(values, s[leaf], n[leaf], neg_zero)
        if below is not None:
            pairs = below.reshape(-1, 2)
            out[split] = pairs[:, 0] + pairs[:, 1]
        below = out
    return below + dt.type(0.0)  # the reduction starts from +0.0, so a sum of -0.0 values ends +0.0


def _block_sums(values: np.ndarray, s: np.ndarray, n: np.ndarray, neg_zero: np.floating[Any]) -> np.ndarray:
    """numpy's sum of runs of at most PW_BLOCK values (see pairwise_sums). add.accumulate is strictly
    sequential, so accumulating the -0.0-padded (runs, rows, 8) bodies along the rows reproduces the 8
    interleaved accumulators, and accumulating [sum, tail...] the in-order tail."""
    body = n - n % 8  # 0 for runs under 8 values
    last = len(values) - 1
    depth = max(1, int(body.max()) // 8)
    lane = np.arange(depth * 8)
    bodies = np.where(lane < body[:, None], values[np.minimum(s[:, None] + lane, last)], neg_zero)
    r = np.add.accumulate(bodies.reshape(len(s), depth, 8), axis=1)[:, -1, :]
    res = ((r[:, 0] + r[:, 1]) + (r[:, 2] + r[:, 3])) + ((r[:, 4] + r[:, 5]) + (r[:, 6] + r[:, 7]))
    seq = np.empty((len(s), 8), dtype=values.dtype)
    seq[:, 0] = np.where(body > 0, res, neg_zero)
    tail = np.arange(7)
    seq[:, 1:] = np.where(
        tail < (n - body)[:, None], values[np.minimum((s + body)[:, None] + tail, last)], neg_zero
    )
    return np.add.accumulate(seq, axis=1)[:, -1]


def chunk_thresholds(
    self_conf: np.ndarray, labels: np.ndarray, n_classes: int, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    """class_counts and class_thresholds of each consecutive `chunk` rows (the last may be shorter) in
    one vectorised step: (C, K) int64 counts and (C, K) float64 thresholds holding exactly the values
    class_thresholds gives each chunk (its input-dtype means, BIG for an absent class, the T_MIN floor
    applied in the dtype class_thresholds would use for that chunk)."""
    m = len(labels)
    n_chunks = -(-m // chunk)
    if self_conf.dtype not in (np.float32, np.float64):  # float16 sums through float32: per chunk
        counts = np.array([class_counts(labels[c : c + chunk], n_classes) for c in range(0, m, chunk)])
        per_chunk = [
            class_thresholds(self_conf[c : c + chunk], labels[c : c + chunk], counts[i])
            for i, c in enumerate(range(0, m, chunk))
        ]
        return counts, np.array(per_chunk, dtype=np.float64)
    key = (np.arange(m) // chunk) * n_classes + labels
    cells = n_chunks * n_classes
    key = key.astype(np.uint16) if cells <= 1 << 16 else key
    order = np.argsort(key, kind="stable")  # by chunk, then class, then index
    counts = np.bincount(key, minlength=cells)
    starts = np.cumsum(counts) - counts
    present = counts > 0
    sums = pairwise_sums(self_conf[order], starts[present], counts[present])
    t: np.ndarray = np.full(cells, float(BIG))
    t[present] = (sums.astype(np.float64) / counts[present]).astype(self_conf.dtype)
    counts, t = counts.reshape(n_chunks, n_classes), t.reshape(n_chunks, n_classes)
    floor = np.where(counts.all(axis=1), float(self_conf.dtype.type(T_MIN)), T_MIN)
    return counts, np.maximum(t, floor[:, None])


# From this many classes on, the in-memory confident joint and everything derived from it (calibration,
# prune counts, the prune_by_noise_rate cells) is kept as its non-zero cells (Cells) instead of (K, K)
# arrays: it has at most N + K non-zero cells, and a dense path allocates about ten (K, K) float64 or int64
# arrays (8 MB each at K = 1,024, 3.2 GB at K = 20,000). Both paths give identical results
# (tests/core/test_many_classes.py switches this constant).
SPARSE_MIN_K = 1024
CELL_FLUSH = 1 << 22  # codes gathered before they are merged into the cells (bounds the pending codes)


@dataclass(frozen=True)
class Cells:
    """The non-zero cells of a (K, K) matrix in row-major order: cell (a, b) has code a * K + b; `codes`
    (int64) increase strictly and `values` holds the cells' values (no zeros unless stated)."""

    k: int
    codes: np.ndarray
    values: np.ndarray

    @property
    def rows(self) -> np.ndarray:
        return self.codes // self.k

    @property
    def cols(self) -> np.ndarray:
        return self.codes % self.k

    @property
    def row_starts(self) -> np.ndarray:
        """(K + 1,) boundaries: the cells of row a are [row_starts[a], row_starts[a + 1])."""
        return np.searchsorted(self.codes, np.arange(self.k + 1, dtype=np.int64) * self.k)

    def diagonal(self) -> np.ndarray:
        """(K,) the diagonal, zero where no cell is stored, in the values' dtype."""
        out = np.zeros(self.k, dtype=self.values.dtype)
        on = self.codes % (self.k + 1) == 0
        out[self.codes[on] // self.k] = self.values[on]
        return out

    def dense(self) -> np.ndarray:
        out = np.zeros(self.k * self.k, dtype=self.values.dtype)
        out[self.codes] = self.values
        return out.reshape(self.k, self.k)

    def nonzero(self) -> Cells:
        keep = self.values != 0
        return self if keep.all() else Cells(self.k, self.codes[keep], self.values[keep])

    @classmethod
    def from_dense(cls, matrix: np.ndarray) -> Cells:
        m = np.asarray(matrix)
        codes = np.flatnonzero(m)
        return cls(len(m), codes.astype(np.int64), m.ravel()[codes])


def count_codes(codes: np.ndarray, previous: Cells | None, k: int) -> Cells:
    """Cells counting each code once per occurrence, added to the counts of `previous` (integer sums)."""
    u, c = np.unique(codes, return_counts=True)
    if previous is not None and len(previous.codes):
        u, inv = np.unique(np.concatenate([previous.codes, u]), return_inverse=True)
        total = np.zeros(len(u), dtype=np.int64)
        np.add.at(total, inv, np.concatenate([previous.values, c]))
        c = total
    return Cells(k, u.astype(np.int64), c.astype(np.int64))


@dataclass(frozen=True)
class RowPass:
    """What one pass over pred_probs with fixed thresholds yields."""

    confident_joint: np.ndarray | None  # (K, K) int64, rows = given label, cols = guessed true label, no
    # floor; None when the joint is kept as `cells` (K >= SPARSE_MIN_K)
    off_diagonal: np.ndarray  # (N,) bool: counted and guess != given label
    argmax: np.ndarray | None  # (N,) first argmax of every row (smallest unsigned dtype), or None for
    # K <= SMALL_K, where the pass does not compute it
    cells: Cells | None = None  # the same counts as Cells, when confident_joint is None

    def joint_cells(self) -> Cells:
        """The unfloored confident joint as Cells, whichever way it is held."""
        if self.cells is not None:
            return self.cells
        assert self.confident_joint is not None
        return Cells.from_dense(self.confident_joint)

    def dense_joint(self) -> np.ndarray:
        """The unfloored (K, K) int64 confident joint, whichever way it is held."""
        if self.confident_joint is not None:
            return self.confident_joint
        assert self.cells is not None
        return self.cells.dense()


def argmax_dtype(n_classes: int) -> type[np.integer[Any]]:
    return np.uint8 if n_classes <= 1 << 8 else np.uint16 if n_classes <= 1 << 16 else np.int64


SMALL_K = 32  # up to this many classes, a row pass compares whole rows instead of taking each argmax


def _count_and_index_weights(k: int) -> np.ndarray:
    return np.column_stack([np.ones(k), np.arange(k)]).astype(np.float32)


def confident_block(
    block: np.ndarray, yb: np.ndarray, level: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One block of rows: (codes y * K + guess of the counted rows, off-diagonal flags (B,) bool,
    first argmax (B,) or None when the small-K route did not need it)."""
    k = block.shape[1]
    if k == 2:
        # Binary problems (K = 2, e.g. each class of multi-label data): two column comparisons.
        above0, above1 = block[:, 0] >= level[0], block[:, 1] >= level[1]
        both = above0 & above1
        # both confident: the first argmax (a tie goes to class 0); one: that class
        guess = np.where(both, block[:, 1] > block[:, 0], above1).astype(np.int64)
        counted = above0 | above1
        argmax = None
    elif k <= SMALL_K:
        # One comparison of the whole block; a float32 product with [1, j] columns gives, per row, how
        # many classes are confident and (when exactly one is) which, both exactly (small integers).
        # Only rows with several confident classes need their argmax.
        above = block >= level
        tally = above.astype(np.float32) @ _count_and_index_weights(k)
        n_above = tally[:, 0]
        guess = tally[:, 1].astype(np.int64)
        counted = n_above > 0
        multi = np.flatnonzero(n_above >= 2)
        if len(multi):
            guess[multi] = block[multi].argmax(axis=1)
        argmax = None
    else:
        # With the row's argmax above its own threshold the guess is that argmax, whether it is the only
        # confident class or the argmax of several. Only the other rows need the full comparison.
        argmax = block.argmax(axis=1)
        guess = argmax.copy()
        counted = block[np.arange(len(block)), guess] >= level[guess]
        rest = np.flatnonzero(~counted)
        if len(rest):
            above = block[rest] >= level
            n_above = np.count_nonzero(above, axis=1)
            single = n_above == 1
            guess[rest[single]] = above[single].argmax(axis=1)
            counted[rest] = n_above > 0
    return yb[counted].astype(np.int64) * k + guess[counted], counted & (guess != yb), argmax


def confident_rows(
    labels: np.ndarray,
    pred_probs: Any,  # (N, K) float ndarray; a core.topk.TopK with its own `block`
    thresholds: np.ndarray,
    batch_size: int | None = None,
    n_jobs: int = 1,
    progress: RowsDone | None = None,
    *,
    block: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray | None]] | None = None,
    rows_per_batch: int | None = None,
) -> RowPass:
    """Count every example confidently above some class threshold into (given, guessed-true) cells
    (`progress`: told the rows of each batch as its result comes back). `block` replaces confident_block
    for rows held another way (core.topk: pred_probs is then a TopK, sliced by rows, and the first argmax
    of every row is kept), `rows_per_batch` the batch size derived from K."""
    n, k = pred_probs.shape
    level = thresholds - EPS  # in the thresholds' dtype, as the comparison needs
    off = np.empty(n, dtype=bool)
    argmax = None if k <= SMALL_K and block is None else np.empty(n, dtype=argmax_dtype(k))
    kernel = confident_block if block is None else block

    def part(sl: slice) -> np.ndarray:
        codes, off[sl], am = kernel(pred_probs[sl], labels[sl], level)
        if argmax is not None:
            argmax[sl] = am
        return codes

    sparse = k >= SPARSE_MIN_K
    cj = None if sparse else np.zeros(k * k, dtype=np.int64)
    cells: Cells | None = None
    pending: list[np.ndarray] = []
    pending_len = 0
    flush_at = CELL_FLUSH if sparse else max(k * k, 1 << 20)

    def flush() -> None:
        nonlocal cj, cells
        codes = np.concatenate(pending)
        if cj is not None:
            cj += np.bincount(codes, minlength=k * k)
        else:
            cells = count_codes(codes, cells, k)

    rows = batch_rows(k, batch_size) if rows_per_batch is None else rows_per_batch
    for codes in map_batches(part, n, rows, n_jobs, progress):
        pending.append(codes)
        pending_len += len(codes)
        if pending_len >= flush_at:
            flush()
            pending, pending_len = [], 0
    if pending:
        flush()
    if cj is not None:
        return RowPass(cj.reshape(k, k), off, argmax)
    if cells is None:
        cells = Cells(k, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    return RowPass(None, off, argmax, cells)


def label_wins(argmax: np.ndarray, top: np.ndarray, self_conf: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The "label wins the nudged argmax" rule from the row's first argmax, its maximum `top` and the
    self-confidence, without re-reading the row: after adding EPS (in the input dtype) to P[y], the label
    is the first argmax iff it already was, or the argmax lies after it and top <= P[y] + EPS, or before
    it and top < P[y] + EPS (an earlier equal maximum keeps first place)."""
    nudged = self_conf + self_conf.dtype.type(EPS)
    am = argmax.astype(np.int64, copy=False)
    return (am == labels) | ((am > labels) & (top <= nudged)) | ((am < labels) & (top < nudged))


def predicted_labels(
    pred_probs: np.ndarray, rows: np.ndarray | None = None, batch_size: int | None = None, n_jobs: int = 1
) -> np.ndarray:
    """First argmax of each row (of all rows, or of `rows`), int64."""
    n, k = pred_probs.shape
    m = n if rows is None else len(rows)
    out = np.empty(m, dtype=np.int64)

    def part(sl: slice) -> None:
        block = pred_probs[sl] if rows is None else pred_probs[rows[sl]]
        out[sl] = block.argmax(axis=1)

    for _ in map_batches(part, m, batch_rows(k, batch_size), n_jobs):
        pass
    return out


def class_counts(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """n_k for k in 0..K-1 as int64 (0 for an absent class).

    Counted in slices: np.bincount copies a memory-mapped input whole before counting."""
    if n_classes == 2:  # validated labels are 0 or 1: one count suffices
        ones = int(np.count_nonzero(labels))
        return np.array([len(labels) - ones, ones], dtype=np.int64)
    counts = np.zeros(n_classes, dtype=np.int64)
    for sl in row_slices(len(labels), 1 << 20):
        counts += np.bincount(labels[sl], minlength=n_classes)
    return counts
