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
(class thresholds, the running-mean chunks) runs afterwards on the kept per-row scalars, in one fixed
order, exactly as in memory.

Two modes:
* `exact_issue_rows`: the identical flagged set as in-memory `find_label_issues` (any filter, any
  option) in at most four passes: (A) self-confidences, labels and a strided subsample; (B) the
  confident joint, off-diagonal and "label wins" flags, predictions and scores; (C) only for the
  noise-rate filters, the margins at or above a sampled bound; (D) only if a bound was too high, the
  margins of those classes.
* `batched_issue_rows`: the reference library's `find_label_issues_batched` semantics in one pass (two
  with adjusted scores): running-mean thresholds over fixed chunks, low-score selection of an estimated
  number of issues, then the "label wins" rule; returned most severe first.
"""

from __future__ import annotations

import functools
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
from labelaudit.core.batching import Progress, RowsDone, map_batches, map_ordered, resolve_n_jobs
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
SCALAR_ROWS = 1 << 18  # rows per slice of the work on kept per-row scalars
CHUNK_STATS_ROWS = 1 << 20  # about this many rows of scalars per vectorised chunk-statistics call

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
    told each task's rows as it completes (done(0) first), from the consuming thread."""

    def map(
        self, func: Callable[[Block], T], items: Iterable[BlockItem], done: RowsDone | None = None
    ) -> Iterator[tuple[Any, T]]: ...

    def call_all(self, funcs: list[Callable[[], T]]) -> list[T]:
        """Every zero-argument call in the workers (output writers); results in order."""
        ...


class ThreadEngine:
    """The local engine: a thread pool of n_jobs (batching.map_ordered); numpy releases the GIL."""

    def __init__(self, n_jobs: int | None = 1) -> None:
        self.n_jobs = resolve_n_jobs(n_jobs)

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


@dataclass(frozen=True)
class ScoresKernel:
    """Default mode, pass 1: scores_block with the block's first row in front and, last, the chunk
    statistics a cluster task adds (None from __call__). `group` is what a cluster engine calls on the
    partials of the consecutive blocks of one task (engines.dask.run_blocks): it puts on the last one
    (first chunk index, class counts, class means) of the `chunk`-row chunks lying whole inside those
    blocks, as kn.chunk_thresholds gives them (each chunk's values depend on its own rows only), so that
    the driver folds them instead of computing them. The local engine never calls it; the driver
    computes whatever chunks no partial brought, so the thresholds are the same bits either way."""

    method: str
    adjust: bool
    chunk: int
    n: int
    k: int

    def __call__(self, b: Block) -> tuple[Any, ...]:
        return (b[0], *scores_block(self.method, self.adjust, b), None)

    def group(self, parts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not parts or self.k > self.chunk:  # statistics bigger than the rows they summarise
            return parts
        chunk, n = self.chunk, self.n
        start = int(parts[0][0])
        stop = start + sum(len(p[1]) for p in parts)
        c0 = -(-start // chunk)
        c1 = -(-n // chunk) if stop >= n else stop // chunk  # chunks [c0, c1) end at or before stop
        if c1 <= c0:
            return parts
        a, b = c0 * chunk - start, min(c1 * chunk, n) - start
        labels = np.concatenate([p[1] for p in parts])[a:b]
        sc = np.concatenate([p[2] for p in parts])[a:b]
        counts, means = kn.chunk_thresholds(sc, labels, self.k, chunk)
        return [*parts[:-1], (*parts[-1][:-1], (c0, counts, means))]  # on the last: rows all placed


def label_dtype(k: int) -> type[np.integer[Any]]:
    """The dtype the default mode keeps labels of `k` classes in."""
    return np.int32 if k < 1 << 31 else np.int64


def adjusted_block(method: str, thresholds: np.ndarray, b: Block) -> np.ndarray:
    """Default mode, pass 2: the scores with pred_probs adjusted by the final thresholds."""
    return scores_of_block(b[2], b[1], method, thresholds)


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


class BatchedResult:
    """Outcome of the reference-semantics batched detection."""

    def __init__(
        self,
        ranked: NDArray[np.int64],
        scores: np.ndarray,
        predicted: np.ndarray,
        thresholds: NDArray[np.float64],
        num_issues: int,
        labels: np.ndarray,
        counts: NDArray[np.int64],
    ) -> None:
        self.ranked = ranked  # int64 flagged indices, lowest score first
        self.scores = scores  # (N,) scores of every example (the input dtype for plain self-confidence)
        self.predicted = predicted  # (N,) first argmax (smallest unsigned dtype that holds K - 1)
        self.thresholds = thresholds  # (K,) float64 running-mean thresholds
        self.num_issues = num_issues  # the estimated number before the "label wins" rule
        self.labels = labels
        self.counts = counts  # (K,) examples per given label


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
    kept, and the threshold comparisons happen afterwards on those scalars. Only adjusted scores, which
    need the final thresholds, take a second pass. `dtype` is the input's (scalars are kept in it)."""
    check_method(method, adjust_pred_probs)
    if estimation_method not in ESTIMATION_METHODS:
        raise ValueError(f"estimation_method must be one of {', '.join(ESTIMATION_METHODS)}")
    chunk = max(1, min(int(chunk), n))  # a chunk of N rows or more is the one chunk of all N rows
    n_jobs = resolve_n_jobs(n_jobs)
    engine = engine if engine is not None else ThreadEngine(n_jobs)
    dtype = np.dtype(dtype)
    plain = method == "self_confidence" and not adjust_pred_probs

    labels = np.empty(n, dtype=label_dtype(k))
    self_conf = np.empty(n, dtype=dtype)
    top = np.empty(n, dtype=dtype)
    predicted = np.empty(n, dtype=kn.argmax_dtype(k))
    match = np.empty(n, dtype=bool)
    scores = self_conf if plain else np.empty(n, dtype=np.float64)

    # Per-chunk class counts and means over the kept scalars, many chunks per vectorised call and the
    # calls spread over the workers (or brought by a cluster's tasks: ScoresKernel.group); then the
    # running mean, folded in chunk order exactly as the reference updates it batch by batch.
    per_call = chunk * max(1, CHUNK_STATS_ROWS // chunk)
    t = np.zeros(k, dtype=np.float64)
    seen = np.zeros(k, dtype=np.int64)
    folded = 0  # chunks folded into t so far

    def chunk_part(sl: slice) -> tuple[np.ndarray, np.ndarray]:
        return kn.chunk_thresholds(self_conf[sl], labels[sl], k, chunk)

    def fold(counts: np.ndarray, means: np.ndarray) -> None:
        nonlocal t, seen, folded
        for c_b, t_b in zip(counts, means, strict=True):
            t = np.maximum((seen * t + c_b * t_b) / np.maximum(seen + c_b, 1), T_MIN)
            seen = seen + c_b
        folded += len(counts)

    def fold_kept(upto: int) -> None:
        """Fold chunks [folded, upto) from the kept scalars (their rows are all placed)."""
        lo, hi = folded * chunk, min(upto * chunk, n)
        slices = [slice(a, min(a + per_call, hi)) for a in range(lo, hi, per_call)]
        for counts, means in map_ordered(chunk_part, slices, n_jobs if len(slices) > 1 else 1, window=4):
            fold(counts, means)

    start = 0
    kernel = ScoresKernel(method, adjust_pred_probs, chunk, n, k)
    for _, yb, sc, g, top_b, match_b, scores_b, stats in run_pass(
        passes, "1: scores", kernel, engine, progress
    ):
        sl = slice(start, start + len(yb))
        labels[sl], self_conf[sl], predicted[sl], top[sl], match[sl] = yb, sc, g, top_b, match_b
        if scores_b is not None:
            scores[sl] = scores_b
        if scores_sink is not None and not adjust_pred_probs:
            scores_sink(start, scores[sl])
        start = sl.stop
        if stats is not None:
            first, counts, means = stats
            fold_kept(first)
            fold(counts, means)
    fold_kept(-(-n // chunk))

    if adjust_pred_probs:  # adjusted scores need the final thresholds: one more pass
        start = 0
        kernel2 = functools.partial(adjusted_block, method, t)
        for s in run_pass(passes, "2: adjusted scores", kernel2, engine, progress):
            sl = slice(start, start + len(s))
            scores[sl] = s
            if scores_sink is not None:
                scores_sink(start, scores[sl])
            start = sl.stop

    # The counts behind the estimated number of issues: argmax at or above its class threshold (over
    # the kept scalars, in cache-sized slices spread over the workers).
    level = t - EPS

    def counts_part(sl: slice) -> tuple[np.ndarray, np.ndarray]:
        y, g = labels[sl], predicted[sl]
        ok = top[sl] >= level[g]
        return np.bincount(y[ok], minlength=k), np.bincount(y[ok & (g != y)], minlength=k)

    cls = seen  # the chunks' class counts, summed over all chunks
    norm = np.zeros(k, dtype=np.int64)
    prune = np.zeros(k, dtype=np.int64)
    for c_norm, c_prune in map_batches(counts_part, n, SCALAR_ROWS, n_jobs):
        norm += c_norm
        prune += c_prune
    if estimation_method == "off_diagonal":
        num = int(prune.sum())
    else:
        num = int(round(float(np.sum(prune * cls / np.maximum(norm, C_MIN)))))
    lowest = sel.smallest_in_order(scores, num, n_jobs)
    ranked = lowest[~match[lowest]].astype(np.int64)
    return BatchedResult(ranked, scores, predicted, t, num, labels, cls)


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
    what a report needs of every example: labels, predicted labels, scores, class counts (and, in the
    default mode, the estimated number of issues)."""
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
    info = {"labels": res.labels, "predicted": res.predicted, "scores": res.scores, "counts": res.counts}
    return res.ranked, {**info, "estimated_issues": res.num_issues}
