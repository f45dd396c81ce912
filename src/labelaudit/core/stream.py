"""Streaming engine: the same kernels as the in-memory path, driven over row blocks that io reads.

A *pass* is one call of `blocks()`, which yields (start, labels_b, pred_probs_b) for consecutive blocks
in row order, or zero-argument callables that make them (so a reader's work runs in the workers). The
engine keeps O(K^2) counts (O(non-zero cells) from confident.SPARSE_MIN_K classes on), a few per-example
scalars (labels, self-confidence, flags, the ranking score) and the candidates of the selection, never
an (N, K) array.

Each pass runs one module-level kernel per block (`*_block` below): a pure function of the block and a
few parameters that RETURNS its partial result (the block's per-row scalars, its confident-joint cells as
(codes, counts)) and writes nothing. An `Engine` only decides where the kernels run (threads here,
processes on a cluster in labelaudit.engines.dask) and hands the partials back in block order; the driver
places per-row partials by position and adds integer counts, so any block size, engine or number of
workers gives the same bits. No float is summed across blocks: every float reduction over many rows
(class thresholds, the running-mean chunks) runs on the kept per-row scalars of its rows, in one fixed
order, exactly as in memory. The default mode keeps those scalars in the engine's parts (where they were
computed: a cluster's workers) and the driver gets summaries and small answers (see "kept parts").

Two modes:
* `exact_issue_rows`: the identical flagged set as in-memory `find_label_issues` (any filter, any
  option) in at most four passes: (A) self-confidences, labels and a strided subsample; (B) the
  confident joint, off-diagonal and "label wins" flags, predictions and scores; (C) only for the
  noise-rate filters, the margins at or above a sampled bound; (D) only if a bound was too high, the
  margins of those classes.
* `batched_issue_rows`: the reference library's `find_label_issues_batched` semantics in one pass (two
  with adjusted scores) and two small rounds on the kept parts: running-mean thresholds over fixed
  chunks, low-score selection of an estimated number of issues, then the "label wins" rule; returned
  most severe first.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from labelaudit.core import confident as kn
from labelaudit.core import select as sel
from labelaudit.core._noise_rate import (
    STREAM_MISS,
    STREAM_SAMPLE_ELEMENTS,
    candidate_block,
    cell_candidate_block,
    sample_stride,
)
from labelaudit.core.batching import Progress, RowsDone, map_ordered, resolve_n_jobs
from labelaudit.core.confident import class_counts
from labelaudit.core.constants import C_MIN, EPS, T_MIN
from labelaudit.core.context import BaseContext
from labelaudit.core.filter import issue_rows
from labelaudit.core.rank import check_method, scores_of_block

Block = tuple[int, np.ndarray, np.ndarray]
BlockItem = Any  # a Block, or a zero-argument callable (a reader's deferred read-and-check) making a
# Block or a Noted block
Passes = Callable[[], Iterable[BlockItem]]
ScoresSink = Callable[[int, np.ndarray], None]  # (first row, scores of a block), called in the driver

ESTIMATION_METHODS = ("off_diagonal", "off_diagonal_calibrated")
GROUP = 8  # consecutive blocks per kept part (a task of Engine.keep): 8 default blocks are 2^24 elements

T = TypeVar("T")


@dataclass(frozen=True)
class Noted:
    """A block with what its reader reports about it (io's value-policy verdict): the note goes back
    to the driver with the block's partial, and to the pass's `note` method (see run_pass)."""

    block: Block
    note: Any


def run_block(func: Callable[[Block], T], item: BlockItem) -> tuple[int, Any, T]:
    """Read one item (in the worker) and run the kernel on it: (rows, the reader's note or None, the
    kernel's partial). What every engine runs per task."""
    got = item() if callable(item) else item
    block, note = (got.block, got.note) if isinstance(got, Noted) else (got, None)
    return len(block[1]), note, func(block)


class Engine(Protocol):
    """Where the kernels of a pass run. `map` runs run_block(func, item) for every item and yields
    (note, partial) in item order (the first failing item's error rises); `done(rows)`, when given, is
    told each task's rows as it completes (done(0) first), from the consuming thread.

    `keep` runs make_part(kernel, task's items, prior part) over consecutive groups of items (the
    engine's tasks) and keeps each part where it ran, yielding (handle, reader notes, summary) per task
    in row order (`prior`: the handles of an earlier keep over the same items, one per task); `each`
    runs func on every kept part where it is and yields the (small) results in order."""

    def map(
        self, func: Callable[[Block], T], items: Iterable[BlockItem], done: RowsDone | None = None
    ) -> Iterator[tuple[Any, T]]: ...

    def keep(
        self,
        kernel: Any,
        items: Iterable[BlockItem],
        done: RowsDone | None = None,
        prior: list[Any] | None = None,
    ) -> Iterator[tuple[Any, list[Any], Any]]: ...

    def each(self, func: Callable[[Any], T], handles: list[Any]) -> Iterator[T]: ...

    def call_all(self, funcs: list[Callable[[], T]]) -> list[T]:
        """Every zero-argument call in the workers (output writers); results in order."""
        ...


def task_groups(items: Iterable[BlockItem], size: int, prior: list[Any] | None) -> Iterator[tuple[Any, Any]]:
    """(consecutive `size` items, the prior handle of that task or None): the tasks of a keeping pass."""
    source = iter(items)
    handles = iter(prior) if prior is not None else None
    while group := tuple(itertools.islice(source, size)):
        yield group, (None if handles is None else next(handles))


class ThreadEngine:
    """The local engine: a thread pool of n_jobs (batching.map_ordered); numpy releases the GIL. A kept
    part is `group` consecutive blocks' part in this process (GROUP, as a cluster's tasks: the chunks
    two parts share are summarised serially by the driver, so parts of one block each would leave it
    one chunk per block)."""

    def __init__(self, n_jobs: int | None = 1, group: int = 0) -> None:
        self.n_jobs = resolve_n_jobs(n_jobs)
        self.group = group or GROUP

    def map(
        self, func: Callable[[Block], T], items: Iterable[BlockItem], done: RowsDone | None = None
    ) -> Iterator[tuple[Any, T]]:
        results = map_ordered(functools.partial(run_block, func), items, self.n_jobs)
        if done is not None:
            done(0)
        for rows, note, value in results:
            if done is not None:
                done(rows)
            yield note, value

    def keep(
        self,
        kernel: Any,
        items: Iterable[BlockItem],
        done: RowsDone | None = None,
        prior: list[Any] | None = None,
    ) -> Iterator[tuple[Any, list[Any], Any]]:
        tasks = task_groups(items, self.group, prior)
        results = map_ordered(lambda task: make_part(kernel, *task), tasks, self.n_jobs)
        if done is not None:
            done(0)
        for kept in results:
            rows, notes, summary = part_summary(kept)
            if done is not None:
                for r in rows:  # block by block, as `map` reports
                    done(r)
            yield kept, notes, summary

    def each(self, func: Callable[[Any], T], handles: list[Any]) -> Iterator[T]:
        return map_ordered(functools.partial(on_part, func), handles, self.n_jobs)

    def call_all(self, funcs: list[Callable[[], T]]) -> list[T]:
        return list(map_ordered(_call, funcs, self.n_jobs))


def _call(func: Callable[[], T]) -> T:
    return func()


def map_blocks(func: Callable[[Block], T], blocks: Iterable[BlockItem], n_jobs: int) -> Iterator[T]:
    """func over blocks as they are produced, results in block order, on the thread engine."""
    return (value for _, value in ThreadEngine(n_jobs).map(func, blocks))


def run_pass(
    passes: Passes, name: str, func: Callable[[Block], T], engine: Engine, progress: Progress | None
) -> Iterator[T]:
    """The partials of `func` over one pass, in block order. Each block's rows go to `progress` under
    the pass's name as its task completes; each reader's note goes to `passes.note`, when the pass
    source has that method (io's BlockSource merges its value-policy verdicts there)."""
    note = getattr(passes, "note", None)
    done = None if progress is None else functools.partial(progress, name)
    for got, value in engine.map(func, passes(), done):
        if got is not None and note is not None:
            note(got)
        yield value


# ---------------------------------------------------------------------------- the per-block kernels
# Module-level and pure, so that a cluster engine ships them by reference with small parameters.


def self_conf_block(stride: int, b: Block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pass A: (labels, self-confidences, the rows of the strided subsample that fall in the block)."""
    start, yb, pb = b
    first = -(-start // stride)
    local = np.arange(first * stride, start + len(yb), stride) - start
    return np.asarray(yb), pb[np.arange(len(yb)), yb], pb[local]


def cell_counts(codes: np.ndarray, k: int) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """A block's confident-joint codes y * K + guess as its partial: the (K * K,) counts when that is
    no larger than the block's codes, else its non-zero cells (unique codes, counts); never K * K dense
    for many classes."""
    if k * k <= max(len(codes), 1 << 12):
        return np.bincount(codes, minlength=k * k)
    u, c = np.unique(codes, return_counts=True)
    return u.astype(np.int64), c.astype(np.int64)


def joint_block(
    level: np.ndarray, keys: tuple[tuple[str, bool], ...], thresholds: np.ndarray, b: Block
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Pass B: (confident-joint partial (cell_counts), off-diagonal flags, first argmax, "label wins"
    flags, the scores `keys` asks for)."""
    _, yb, pb = b
    k = pb.shape[1]
    codes, off, am = kn.confident_block(pb, yb, level)
    if am is None:
        am = pb.argmax(axis=1)
    r = np.arange(len(yb))
    match = kn.label_wins(am, pb[r, am], pb[r, yb], yb)
    scores = [scores_of_block(pb, yb, method, thresholds if adjust else None) for method, adjust in keys]
    return cell_counts(codes, k), off, am, match, scores


def candidates_block(bounds: np.ndarray, b: Block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pass C: the block's (row, target) candidates at or above the sampled bounds."""
    return candidate_block(b[2], b[1], bounds, b[0])


def cell_candidates_block(
    starts: np.ndarray, cols: np.ndarray, bounds: np.ndarray, b: Block
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pass C with many classes: the candidates at or above the needed cells' bounds."""
    return cell_candidate_block(b[2], b[1], starts, cols, bounds, b[0])


def class_margins_block(cells: dict[int, np.ndarray], b: Block) -> dict[int, np.ndarray]:
    """Pass D: per class k of `cells`, the margins (targets, rows of class k in the block)."""
    _, yb, pb = b
    got = {}
    for k, targets in cells.items():
        rows = np.flatnonzero(yb == k)
        if len(rows):
            got[k] = (pb[rows][:, targets] - pb[rows, k][:, None]).T
    return got


def scores_block(
    method: str, adjust: bool, b: Block
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Default mode, pass 1: (labels, self-confidences, first argmax, row maxima, "label wins" flags,
    the unadjusted scores, or None for plain self-confidence or when adjusted scores are asked). Labels
    and argmax come in the dtypes batched_issue_rows keeps them in (label_dtype, kn.argmax_dtype): the
    same values, and a cluster engine sends a third fewer bytes per row back to the driver."""
    _, yb, pb = b
    k = pb.shape[1]
    r = np.arange(len(yb))
    sc = pb[r, yb]
    g = pb.argmax(axis=1)
    top = pb[r, g]
    match = kn.label_wins(g, top, sc, yb)
    plain = method == "self_confidence" and not adjust
    scores = None if adjust or plain else scores_of_block(pb, yb, method)
    labels = np.asarray(yb).astype(label_dtype(k), copy=False)
    return labels, sc, g.astype(kn.argmax_dtype(k), copy=False), top, match, scores


def label_dtype(k: int) -> type[np.integer[Any]]:
    """The dtype the default mode keeps labels of `k` classes in."""
    return np.int32 if k < 1 << 31 else np.int64


def adjusted_block(method: str, thresholds: np.ndarray, b: Block) -> np.ndarray:
    """Default mode, pass 2: the scores with pred_probs adjusted by the final thresholds."""
    return scores_of_block(b[2], b[1], method, thresholds)


# ------------------------------------------------------------ kept parts: the default mode's rounds
# The default mode keeps its per-row results where they were computed: each task's consecutive blocks
# make one *part* (labels, self-confidences, argmax, row maxima, "label wins" flags, scores), which stays
# in the task's worker (this process for the thread engine, the worker's memory on a cluster), and a
# small *summary* goes to the driver (its chunks' statistics, the rows of the chunks it shares with its
# neighbours, a strided sample of its scores). The later rounds (argmax-above-threshold counts, the
# rows below a score bound) are small functions run on each part where it is (Engine.each), so what
# the driver receives and does per pass does not grow with N.

Kept = tuple[Any, tuple[list[int], list[Any], Any]]  # (part, (the blocks' rows, reader notes, summary))


def make_part(kernel: Any, items: tuple[BlockItem, ...], prior: Kept | None) -> Kept:
    """One task of a keeping pass (Engine.keep): run_block(kernel, item) over consecutive items, then
    kernel.part over their partials (and the same rows' part of an earlier pass, `prior`)."""
    got = [run_block(kernel, item) for item in items]
    part, summary = kernel.part([value for _, _, value in got], None if prior is None else prior[0])
    return part, ([rows for rows, _, _ in got], [note for _, note, _ in got], summary)


def part_summary(kept: Kept) -> tuple[list[int], list[Any], Any]:
    """What of a kept part goes to the driver: (its blocks' rows, reader notes, summary)."""
    return kept[1]


def on_part(func: Callable[[Any], T], kept: Kept) -> T:
    """func on a kept part, where it is (Engine.each)."""
    return func(kept[0])


def strided(start: int, values: np.ndarray, stride: int) -> np.ndarray:
    """The values at the global rows that are multiples of `stride` (the block starts at row `start`):
    a sample whose rows do not depend on how the rows are cut into blocks or tasks."""
    first = -(-start // stride)
    return values[np.arange(first * stride, start + len(values), stride) - start]


def chunk_summary(
    start: int, labels: np.ndarray, sc: np.ndarray, chunk: int, n: int, k: int
) -> tuple[np.ndarray, np.ndarray, Any, np.ndarray, np.ndarray]:
    """(head labels, head self-confidences, stats, tail labels, tail self-confidences) of the rows
    [start, start + len(labels)): stats = (first chunk index, class counts, class means) of the
    `chunk`-row chunks lying whole inside them, as kn.chunk_thresholds gives them (each chunk's values
    depend on its own rows only, so the same bits as over all rows); head and tail, the rows before and
    after those chunks, which the driver joins with the neighbouring parts' into the chunks they share.
    stats is None (all rows are the head) when no chunk lies whole inside, or when a chunk's statistics
    are bigger than its rows (more classes than chunk rows)."""
    stop = start + len(labels)
    c0 = -(-start // chunk)
    c1 = -(-n // chunk) if stop >= n else stop // chunk  # chunks [c0, c1) end at or before stop
    if c1 <= c0 or k > chunk:
        empty = labels[:0], sc[:0]
        return labels.copy(), sc.copy(), None, *empty
    a, b = c0 * chunk - start, min(c1 * chunk, n) - start
    counts, means = kn.chunk_thresholds(sc[a:b], labels[a:b], k, chunk)
    # copies: a view would keep all of the task's rows alive in the worker with the kept summary
    return labels[:a].copy(), sc[:a].copy(), (c0, counts, means), labels[b:].copy(), sc[b:].copy()


@dataclass(frozen=True)
class ScoresKernel:
    """Default mode, pass 1: per block, scores_block with the block's first row in front; per task
    (`part`), the part (first row, the blocks' (labels, self-confidences, argmax, maxima, "label wins"
    flags, scores) as computed: the scores are the self-confidences for plain self-confidence, None
    until pass 2 for adjusted ones) and its summary (chunk_summary, and the `stride` sample of the
    scores, None when adjusted scores come later)."""

    method: str
    adjust: bool
    chunk: int
    n: int
    k: int
    stride: int
    dtype: np.dtype[Any]  # the input's: self-confidences and maxima are kept in it

    def __call__(self, b: Block) -> tuple[Any, ...]:
        labels, sc, g, top, match, scores = scores_block(self.method, self.adjust, b)
        sc, top = sc.astype(self.dtype, copy=False), top.astype(self.dtype, copy=False)
        if self.method == "self_confidence" and not self.adjust:
            scores = sc
        return b[0], (labels, sc, g, top, match, scores)

    def part(self, parts: list[tuple[Any, ...]], prior: Any = None) -> tuple[Any, Any]:
        start = int(parts[0][0])
        blocks = [p[1] for p in parts]
        labels, sc = _joined(blocks, 0), _joined(blocks, 1)
        sample = None if self.adjust else strided(start, _joined(blocks, 5), self.stride)
        summary = (chunk_summary(start, labels, sc, self.chunk, self.n, self.k), sample)
        # kept: what the later rounds read, in as few bytes per row as hold it (the self-confidences
        # only when they are the scores; labels in the argmax's dtype), since a cluster's workers
        # fault in every kept byte
        small = kn.argmax_dtype(self.k)
        kept = [(y.astype(small), s if s is c else None, g, top, m, s) for y, c, g, top, m, s in blocks]
        return (start, kept), summary


def _joined(blocks: list[tuple[Any, ...]], i: int) -> np.ndarray:
    """Column i of a part's blocks as one array (the block's own when there is one)."""
    return blocks[0][i] if len(blocks) == 1 else np.concatenate([b[i] for b in blocks])


@dataclass(frozen=True)
class AdjustedKernel:
    """Default mode, pass 2: per block, the scores with pred_probs adjusted by the final thresholds;
    per task, pass 1's part with those scores, and their `stride` sample as the summary."""

    method: str
    thresholds: np.ndarray
    stride: int

    def __call__(self, b: Block) -> np.ndarray:
        return adjusted_block(self.method, self.thresholds, b)

    def part(self, parts: list[np.ndarray], prior: tuple[int, list[tuple[Any, ...]]]) -> tuple[Any, Any]:
        start, blocks = prior
        if [len(s) for s in parts] != [len(b[0]) for b in blocks]:
            raise AssertionError("pass 2's task does not cover pass 1's blocks")
        blocks = [(*b[:5], s) for b, s in zip(blocks, parts, strict=True)]
        return (start, blocks), (None, strided(start, _joined(blocks, 5), self.stride))


def part_counts(level: np.ndarray, k: int, part: tuple[int, list[Any]]) -> tuple[np.ndarray, np.ndarray]:
    """A part's argmax-above-threshold counts per given label: (all such rows, those off the diagonal)."""
    norm = np.zeros(k, dtype=np.int64)
    prune = np.zeros(k, dtype=np.int64)
    for y, _, g, top, _, _ in part[1]:
        ok = top >= level[g]
        norm += np.bincount(y[ok], minlength=k)
        prune += np.bincount(y[ok & (g != y)], minlength=k)
    return norm, prune


def part_rows(lo: Any, hi: Any, part: tuple[int, list[Any]]) -> tuple[np.ndarray, ...]:
    """A part's rows whose score s has lo < s <= hi (lo None: no lower bound; hi None: every s that is
    not <= lo, NaN included), ordered by (score, row): (rows, scores, "label wins" flags, labels,
    argmax)."""
    start, got = part[0], []
    for y, _, g, _, match, s in part[1]:
        pick = np.ones(len(s), dtype=bool) if hi is None else s <= hi
        if lo is not None:
            pick &= ~(s <= lo)
        at = np.flatnonzero(pick)
        got.append((at + start, s[at], match[at], y[at], g[at]))
        start += len(s)
    cols = tuple(np.concatenate([c[i] for c in got]) for i in range(5))
    order = np.argsort(cols[1], kind="stable")  # in row order: ties by row
    return tuple(c[order] for c in cols)


def part_column(i: int, part: tuple[int, list[Any]]) -> np.ndarray:
    """One column of a part's rows (0 labels, 2 argmax, 5 scores)."""
    return _joined(part[1], i)


class JointSum:
    """The confident joint summed from block partials (integer sums, so in any order): a (K * K,) int64
    vector below confident.SPARSE_MIN_K classes, else non-zero Cells merged in batches."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.dense = np.zeros(k * k, dtype=np.int64) if k < kn.SPARSE_MIN_K else None
        self.cells: kn.Cells | None = None
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_len = 0

    def add(self, part: np.ndarray | tuple[np.ndarray, np.ndarray]) -> None:
        if isinstance(part, np.ndarray):
            if self.dense is not None:
                self.dense += part
                return
            nz = np.flatnonzero(part)
            part = nz.astype(np.int64), part[nz].astype(np.int64)
        if self.dense is not None:
            self.dense[part[0]] += part[1]  # codes are unique within a partial
            return
        self._pending.append(part)
        self._pending_len += len(part[0])
        if self._pending_len >= kn.CELL_FLUSH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        codes = np.concatenate([u for u, _ in self._pending])
        counts = np.concatenate([c for _, c in self._pending])
        self._pending, self._pending_len = [], 0
        u, inv = np.unique(codes, return_inverse=True)
        total = np.zeros(len(u), dtype=np.int64)
        np.add.at(total, inv, counts)
        if self.cells is not None and len(self.cells.codes):
            u, inv = np.unique(np.concatenate([self.cells.codes, u]), return_inverse=True)
            merged = np.zeros(len(u), dtype=np.int64)
            np.add.at(merged, inv, np.concatenate([self.cells.values, total]))
            total = merged
        self.cells = kn.Cells(self.k, u.astype(np.int64), total)

    def row_pass(self, off: np.ndarray, pred: np.ndarray) -> kn.RowPass:
        if self.dense is not None:
            return kn.RowPass(self.dense.reshape(self.k, self.k), off, pred)
        self._flush()
        cells = self.cells or kn.Cells(self.k, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
        return kn.RowPass(None, off, pred, cells)


class _StreamMargins:
    """Margin access for the noise-rate selection when pred_probs can only be streamed."""

    random_access = False
    sample_elements, miss = STREAM_SAMPLE_ELEMENTS, STREAM_MISS

    def __init__(self, ctx: StreamContext) -> None:
        self.ctx = ctx

    def sample(self, stride: int) -> tuple[np.ndarray, np.ndarray]:
        ctx = self.ctx
        if stride != ctx.sample_stride:
            raise AssertionError("the subsample of pass A uses a different stride")
        rows, block = ctx.sample_rows, ctx.sample_block
        d = block - block[np.arange(len(block)), ctx.labels[rows]][:, None]
        return d, ctx.labels[rows]

    def candidates(self, bounds: np.ndarray) -> tuple[np.ndarray, ...]:
        parts = list(self.ctx.run_pass("C: candidates", functools.partial(candidates_block, bounds)))
        return tuple(np.concatenate([q[i] for q in parts]) for i in range(3))

    def cell_candidates(
        self, starts: np.ndarray, cols: np.ndarray, bounds: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """candidates() with the bounds of the needed cells only (many classes: no (K, K) bounds)."""
        kernel = functools.partial(cell_candidates_block, starts, cols, bounds)
        parts = list(self.ctx.run_pass("C: candidates", kernel))
        return tuple(np.concatenate([q[i] for q in parts]) for i in range(3))

    def class_margins(self, cells: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        ctx = self.ctx
        out = {k: np.empty((len(t), int(ctx.counts[k])), dtype=ctx.dtype) for k, t in cells.items()}
        filled = dict.fromkeys(cells, 0)
        for got in ctx.run_pass("D: short-cell margins", functools.partial(class_margins_block, cells)):
            for k, m in got.items():
                out[k][:, filled[k] : filled[k] + m.shape[1]] = m
                filled[k] += m.shape[1]
        return out


class StreamContext(BaseContext):
    """A BaseContext whose per-example results are computed while streaming; pred_probs is never held."""

    def __init__(
        self,
        passes: Passes,
        n: int,
        k: int,
        dtype: DTypeLike,
        *,
        n_jobs: int | None = 1,
        progress: Progress | None = None,
        engine: Engine | None = None,
    ) -> None:
        super().__init__(np.empty(0, dtype=np.intp), n, k, None, n_jobs)
        self.passes, self.dtype = passes, np.dtype(dtype)
        self.progress = progress
        self.engine: Engine = engine if engine is not None else ThreadEngine(n_jobs)
        self.sample_stride = sample_stride(n, k, STREAM_SAMPLE_ELEMENTS)
        self._predicted: np.ndarray | None = None
        self._match: np.ndarray | None = None

    # -- plumbing
    def run_pass(self, name: str, func: Callable[[Block], T]) -> Iterator[T]:
        return run_pass(self.passes, name, func, self.engine, self.progress)

    @property
    def margins(self) -> _StreamMargins:
        return _StreamMargins(self)

    # -- pass A: labels, self-confidence, the subsample for noise-rate bounds
    def pass_a(self) -> None:
        n, k = self.n, self.k
        labels = np.empty(n, dtype=np.intp)
        sc = np.empty(n, dtype=self.dtype)
        stride = self.sample_stride
        sample_rows = np.arange(0, n, stride)
        sample = np.empty((len(sample_rows), k), dtype=self.dtype)
        start = taken = 0
        for yb, sc_b, sample_b in self.run_pass("A: thresholds", functools.partial(self_conf_block, stride)):
            labels[start : start + len(yb)] = yb
            sc[start : start + len(yb)] = sc_b
            sample[taken : taken + len(sample_b)] = sample_b
            start, taken = start + len(yb), taken + len(sample_b)
        self.labels, self._self_conf = labels, sc
        self.sample_rows, self.sample_block = sample_rows, sample
        self._counts = class_counts(labels, k)

    # -- pass B: confident joint, flags, predictions and the scores some filters and rankings need
    def pass_b(
        self, score_keys: Iterable[tuple[str, bool]], sink: tuple[tuple[str, bool], ScoresSink] | None = None
    ) -> None:
        """`sink` (score key, callback) receives that score of every block as its partial comes back."""
        n, k = self.n, self.k
        keys = tuple(key for key in dict.fromkeys(score_keys) if key != ("self_confidence", False))
        off = np.empty(n, dtype=bool)
        match = np.empty(n, dtype=bool)
        pred = np.empty(n, dtype=np.int32 if k < 1 << 31 else np.int64)
        scores = {key: np.empty(n, dtype=np.float64) for key in keys}
        kernel = functools.partial(joint_block, self.thresholds - EPS, keys, self.thresholds)
        joint = JointSum(k)
        start = 0
        for part, off_b, am, match_b, scores_b in self.run_pass("B: confident joint", kernel):
            sl = slice(start, start + len(off_b))
            joint.add(part)
            off[sl], pred[sl], match[sl] = off_b, am, match_b
            for key, s in zip(keys, scores_b, strict=True):
                scores[key][sl] = s
            if sink is not None:
                key, send = sink
                send(start, scores[key][sl] if key in scores else self.self_confidence[sl])
            start = sl.stop
        self._rows = joint.row_pass(off, pred)  # the stream keeps every argmax
        self._match, self._predicted = match, pred
        self.stored_scores.update(scores)
        self.stored_scores[("self_confidence", False)] = self.self_confidence

    # -- the per-example results, from the passes
    @property
    def self_confidence(self) -> NDArray[np.floating[Any]]:
        if self._self_conf is None:
            raise AssertionError("the self-confidences come from pass A, which has not run")
        return self._self_conf

    @property
    def rows(self) -> kn.RowPass:
        if self._rows is None:
            raise AssertionError("the row pass is pass B, which has not run")
        return self._rows

    def matches(self, rows: NDArray[np.integer[Any]]) -> NDArray[np.bool_]:
        if self._match is None:
            raise AssertionError("the label-wins flags come from pass B, which has not run")
        return self._match[rows]

    def predicted(self, rows: NDArray[np.integer[Any]] | None = None) -> NDArray[np.int64]:
        if self._predicted is None:
            raise AssertionError("the predictions come from pass B, which has not run")
        pred = self._predicted.astype(np.int64, copy=False)
        return pred if rows is None else pred[rows]


def exact_issue_rows(
    passes: Passes,
    n: int,
    k: int,
    dtype: DTypeLike,
    *,
    filter_by: str = "prune_by_noise_rate",
    rank_by: str = "self_confidence",
    adjust_pred_probs: bool = False,
    frac_noise: float = 1.0,
    num_to_remove_per_class: ArrayLike | None = None,
    min_examples_per_class: int = 1,
    n_jobs: int | None = 1,
    progress: Progress | None = None,
    scores_sink: ScoresSink | None = None,
    engine: Engine | None = None,
) -> tuple[NDArray[np.int64], StreamContext]:
    """Indices flagged exactly as in-memory find_label_issues, ranked by `rank_by` (most severe first),
    and the context (for scores, predictions and counts of the report). `scores_sink` receives the
    ranking score of every block as its partial comes back. `engine` runs the passes' kernels (the
    thread engine of n_jobs by default); the result does not depend on it."""
    check_method(rank_by, adjust_pred_probs)
    ctx = StreamContext(passes, n, k, dtype, n_jobs=resolve_n_jobs(n_jobs), progress=progress, engine=engine)
    ctx.pass_a()
    keys = [(rank_by, adjust_pred_probs)]
    if filter_by == "low_normalized_margin":
        keys.append(("normalized_margin", False))
    ctx.pass_b(keys, None if scores_sink is None else (keys[0], scores_sink))
    flagged = issue_rows(
        ctx,
        filter_by=filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
    )
    ranked = flagged[sel.stable_order(ctx.stored_scores[(rank_by, adjust_pred_probs)][flagged], ctx.n_jobs)]
    return ranked.astype(np.int64), ctx


SAMPLE_ROWS = 1 << 16  # about this many rows of scores in the sample that bounds the selection
SAMPLE_SPREAD = 4.0  # the first bound lies this many standard deviations of the sample's rank beyond it


class RowValues:
    """Values of some distinct rows, looked up by row number: the flagged rows' values for a report,
    which asks for the first rows of the ranked order (a prefix: no search), or for any of them."""

    def __init__(self, rows: np.ndarray, values: np.ndarray) -> None:
        self.rows, self.values = rows, values
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        if len(rows) <= len(self.rows) and np.array_equal(rows, self.rows[: len(rows)]):
            return self.values[: len(rows)]
        if self._sorted is None:
            order = np.argsort(self.rows, kind="stable")
            self._sorted = self.rows[order], self.values[order]
        kept, values = self._sorted
        at = np.searchsorted(kept, rows)
        if len(rows) and (at.max() >= len(kept) or np.any(kept[at] != rows)):
            raise KeyError("rows that are not among the kept ones")
        return values[at]


class BatchedResult:
    """Outcome of the reference-semantics batched detection. The per-example arrays (scores,
    predicted, labels) stay with the engine's parts and are gathered when first asked for; the flagged
    rows' values come with the selection (flagged_values)."""

    def __init__(
        self,
        ranked: NDArray[np.int64],
        thresholds: NDArray[np.float64],
        num_issues: int,
        counts: NDArray[np.int64],
        flagged_values: dict[str, np.ndarray],
        gather: Callable[[int], np.ndarray],
    ) -> None:
        self.ranked = ranked  # int64 flagged indices, lowest score first
        self.thresholds = thresholds  # (K,) float64 running-mean thresholds
        self.num_issues = num_issues  # the estimated number before the "label wins" rule
        self.counts = counts  # (K,) examples per given label
        self.flagged_values = flagged_values  # labels, predicted, scores of the ranked rows, in order
        self._gather = gather
        self._arrays: dict[int, np.ndarray] = {}

    def _column(self, i: int) -> np.ndarray:
        if i not in self._arrays:
            self._arrays[i] = self._gather(i)
        return self._arrays[i]

    @property
    def scores(self) -> np.ndarray:
        """(N,) scores of every example (the input dtype for plain self-confidence)."""
        return self._column(5)

    @property
    def predicted(self) -> np.ndarray:
        """(N,) first argmax (smallest unsigned dtype that holds K - 1)."""
        return self._column(2)

    @property
    def labels(self) -> np.ndarray:
        return self._column(0)


def keep_pass(
    passes: Passes,
    name: str,
    kernel: Any,
    engine: Engine,
    progress: Progress | None,
    prior: list[Any] | None = None,
) -> Iterator[tuple[Any, Any]]:
    """Engine.keep over one pass: (handle of the kept part, its summary) per task, in row order; rows to
    `progress` and reader notes to `passes.note` as in run_pass."""
    note = getattr(passes, "note", None)
    done = None if progress is None else functools.partial(progress, name)
    for handle, notes, summary in engine.keep(kernel, passes(), done, prior):
        if note is not None:
            for got in notes:
                if got is not None:
                    note(got)
        yield handle, summary


def _bound(sample: np.ndarray, num: int, stride: int, tries: int) -> Any:
    """A score bound that at least `num` rows lie at or below, likely on the first try: the sorted
    sample's value SAMPLE_SPREAD standard deviations (of its expected rank) past rank num / stride; each
    retry goes 2^tries - 1 sample values and four times the spread further; +inf once past the sample.
    With every row in the sample (stride 1) the first bound is the exact cut."""
    if tries >= 64:  # past any sample: 2^64 values
        return np.inf
    expected = num / stride
    spread = 0.0 if stride == 1 else SAMPLE_SPREAD * (np.sqrt(expected) + 1) * 4.0**tries
    at = int(np.ceil(expected + spread)) - 1 + (1 << tries) - 1
    return sample[at] if at < len(sample) else np.inf


def lowest_rows(
    engine: Engine, handles: list[Any], sample: np.ndarray, num: int, stride: int
) -> tuple[np.ndarray, ...]:
    """The `num` rows of lowest score, ties by row (the first num of a stable argsort of all scores,
    NaN last), as (rows, scores, "label wins" flags, labels, argmax) in that order. Each round asks the
    parts for their rows between the last bound and the next (_bound, from the scores' sample) until at
    least num came back; every row at or below the final bound comes back, so the cut and its ties are
    exact whatever the sample."""
    sample = np.sort(sample)
    sample = sample[: len(sample) - int(np.count_nonzero(np.isnan(sample)))]
    rounds: list[tuple[np.ndarray, ...]] = []
    got, lo, tries = 0, None, 0
    while got < num:
        # after +inf: every row left (NaN)
        hi = None if lo is not None and np.isinf(lo) else _bound(sample, num, stride, tries)
        parts = list(engine.each(functools.partial(part_rows, lo, hi), handles))
        cols = tuple(np.concatenate([p[i] for p in parts]) for i in range(5))
        # runs sorted by (score, row), one per part in row order: a stable sort merges them (timsort
        # finds the runs), ties by row
        order = np.argsort(cols[1], kind="stable")
        rounds.append(tuple(c[order] for c in cols))
        got += len(order)
        if hi is None:
            break
        lo, tries = hi, tries + 1
    if not rounds:
        return tuple(np.empty(0, dtype=np.int64) for _ in range(5))
    return tuple(np.concatenate([r[i] for r in rounds])[:num] for i in range(5))


def batched_issue_rows(
    passes: Passes,
    n: int,
    k: int,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    estimation_method: str = "off_diagonal",
    chunk: int = 10000,
    dtype: DTypeLike = np.float64,
    n_jobs: int | None = 1,
    progress: Progress | None = None,
    scores_sink: ScoresSink | None = None,
    engine: Engine | None = None,
) -> BatchedResult:
    """The reference library's find_label_issues_batched: thresholds as a running mean over consecutive
    `chunk`-row batches (a class never seen ends at T_MIN), scores by `method`, the number of issues from
    argmax-above-threshold counts (or their calibrated form), the lowest-scoring that many examples, minus
    those whose label wins the nudged argmax. Blocks may be any size: chunks are cut at multiples of
    `chunk` rows whatever the block boundaries, so the result depends on `chunk` only.

    One pass over pred_probs: every quantity but the running thresholds is a function of the row alone,
    so each row's self-confidence, first argmax, maximum, "label wins" flag and (unadjusted) score are
    kept (in the engine's parts, where they were computed), and the threshold comparisons happen
    afterwards on those scalars. Only adjusted scores, which need the final thresholds, take a second
    pass. `dtype` is the input's (scalars are kept in it). `scores_sink` receives every part's scores
    in row order after the scoring pass (the one output that sends every row's value to the driver)."""
    check_method(method, adjust_pred_probs)
    if estimation_method not in ESTIMATION_METHODS:
        raise ValueError(f"estimation_method must be one of {', '.join(ESTIMATION_METHODS)}")
    chunk = max(1, min(int(chunk), n))  # a chunk of N rows or more is the one chunk of all N rows
    engine = engine if engine is not None else ThreadEngine(resolve_n_jobs(n_jobs))
    dtype = np.dtype(dtype)
    stride = max(1, n // SAMPLE_ROWS)

    # The running mean, folded in chunk order exactly as the reference updates it batch by batch: the
    # parts bring the statistics of the chunks lying whole inside them; the rows of the chunks two or
    # more parts share come along and are summarised here, once all of a chunk's rows are in.
    t = np.zeros(k, dtype=np.float64)
    seen = np.zeros(k, dtype=np.int64)
    pending: list[tuple[np.ndarray, np.ndarray]] = []  # rows from a chunk boundary on, in no statistics
    pending_rows = 0

    def fold(counts: np.ndarray, means: np.ndarray) -> None:
        nonlocal t, seen
        for c_b, t_b in zip(counts, means, strict=True):
            t = np.maximum((seen * t + c_b * t_b) / np.maximum(seen + c_b, 1), T_MIN)
            seen = seen + c_b

    def fold_pending(final: bool) -> None:
        """Summarise and fold the pending rows' whole chunks (all of them at the end)."""
        nonlocal pending, pending_rows
        whole = pending_rows if final else pending_rows - pending_rows % chunk
        if whole == 0:
            return
        labels = np.concatenate([y for y, _ in pending]) if len(pending) > 1 else pending[0][0]
        sc = np.concatenate([s for _, s in pending]) if len(pending) > 1 else pending[0][1]
        fold(*kn.chunk_thresholds(sc[:whole], labels[:whole], k, chunk))
        pending = [(labels[whole:], sc[whole:])] if whole < pending_rows else []
        pending_rows -= whole

    handles: list[Any] = []
    samples: list[np.ndarray] = []
    kernel = ScoresKernel(method, adjust_pred_probs, chunk, n, k, stride, dtype)
    for handle, ((head_y, head_s, stats, tail_y, tail_s), sample) in keep_pass(
        passes, "1: scores", kernel, engine, progress
    ):
        handles.append(handle)
        if sample is not None:
            samples.append(sample)
        if len(head_y):
            pending.append((head_y, head_s))
            pending_rows += len(head_y)
        if stats is not None:
            fold_pending(True)  # the chunks before the part's own: whole, the head ends them
            fold(*stats[1:])
            pending, pending_rows = ([(tail_y, tail_s)], len(tail_y)) if len(tail_y) else ([], 0)
        elif pending_rows >= chunk:
            fold_pending(False)
    fold_pending(True)

    if adjust_pred_probs:  # adjusted scores need the final thresholds: one more pass
        kernel2 = AdjustedKernel(method, t, stride)
        got = list(keep_pass(passes, "2: adjusted scores", kernel2, engine, progress, handles))
        handles = [handle for handle, _ in got]
        samples = [sample for _, (_, sample) in got]
    if scores_sink is not None:
        start = 0
        for s in engine.each(functools.partial(part_column, 5), handles):
            scores_sink(start, s)
            start += len(s)

    # The counts behind the estimated number of issues: argmax at or above its class threshold.
    cls = seen  # the chunks' class counts, summed over all chunks
    norm = np.zeros(k, dtype=np.int64)
    prune = np.zeros(k, dtype=np.int64)
    for c_norm, c_prune in engine.each(functools.partial(part_counts, t - EPS, k), handles):
        norm += c_norm
        prune += c_prune
    if estimation_method == "off_diagonal":
        num = int(prune.sum())
    else:
        num = int(round(float(np.sum(prune * cls / np.maximum(norm, C_MIN)))))
    sample = np.concatenate(samples) if samples else np.empty(0, dtype=np.float64)
    rows, scores, match, labels, predicted = lowest_rows(engine, handles, sample, min(num, n), stride)
    keep = ~match
    flagged = {
        "labels": labels[keep].astype(label_dtype(k)),
        "predicted": predicted[keep],
        "scores": scores[keep],
    }

    def gather(i: int) -> np.ndarray:
        cols = list(engine.each(functools.partial(part_column, i), handles))
        got = np.concatenate(cols) if cols else np.empty(0)
        return got.astype(label_dtype(k)) if i == 0 else got

    return BatchedResult(rows[keep].astype(np.int64), t, num, cls, flagged, gather)


def run_engine(
    passes: Passes,
    n: int,
    k: int,
    dtype: Any,
    params: dict[str, Any],
    *,
    n_jobs: int | None = 1,
    progress: Progress | None = None,
    scores_sink: ScoresSink | None = None,
    engine: Engine | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Run --exact (params["mode"] == "exact") or the default batched mode; returns the ranked indices and
    what a report needs: labels, predicted labels and scores (of every example with --exact, of the
    flagged ones in the default mode: RowValues), class counts (and, in the default mode, the estimated
    number of issues)."""
    if params["mode"] == "exact":
        ranked, ctx = exact_issue_rows(
            passes,
            n,
            k,
            dtype,
            filter_by=params["filter_by"],
            rank_by=params["rank_by"],
            adjust_pred_probs=params["adjust_pred_probs"],
            frac_noise=params["frac_noise"],
            num_to_remove_per_class=params["num_to_remove_per_class"],
            min_examples_per_class=params["min_examples_per_class"],
            n_jobs=n_jobs,
            progress=progress,
            scores_sink=scores_sink,
            engine=engine,
        )
        scores = ctx.stored_scores[(params["rank_by"], params["adjust_pred_probs"])]
        return ranked, {
            "labels": ctx.labels,
            "predicted": ctx.predicted(),
            "scores": scores,
            "counts": ctx.counts,
        }
    res = batched_issue_rows(
        passes,
        n,
        k,
        method=params["rank_by"],
        adjust_pred_probs=params["adjust_pred_probs"],
        estimation_method=params["estimation_method"],
        chunk=params["chunk_size"],
        dtype=dtype,
        n_jobs=n_jobs,
        progress=progress,
        scores_sink=scores_sink,
        engine=engine,
    )
    # the report lists flagged rows only: their values came with the selection, no per-example array
    info: dict[str, Any] = {key: RowValues(res.ranked, v) for key, v in res.flagged_values.items()}
    return res.ranked, {**info, "counts": res.counts, "estimated_issues": res.num_issues}
