"""Streaming engine: the same kernels as the in-memory path, driven over row blocks that io reads.

A *pass* is one call of `blocks()`, which yields (start, labels_b, pred_probs_b) for consecutive blocks
in row order, or zero-argument callables that make them (so a reader's work runs in the workers). The
engine keeps O(K^2) counts, a few per-example scalars (labels, self-confidence, flags, the ranking
score) and the candidates of the selection, never an (N, K) array. Per-block results
merge by position or by integer sums, so any block size and any number of workers give the same answer.

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
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from labelaudit.core import confident as kn
from labelaudit.core import select as sel
from labelaudit.core._noise_rate import STREAM_MISS, STREAM_SAMPLE_ELEMENTS, candidate_block, sample_stride
from labelaudit.core.batching import Progress, map_batches, map_ordered, reported, resolve_n_jobs
from labelaudit.core.confident import class_counts
from labelaudit.core.constants import C_MIN, EPS, T_MIN
from labelaudit.core.context import BaseContext
from labelaudit.core.filter import issue_rows
from labelaudit.core.rank import check_method, scores_of_block

Block = tuple[int, np.ndarray, np.ndarray]
BlockItem = Block | Callable[[], Block]  # a block, or a deferred read-and-check that makes one
Passes = Callable[[], Iterable[BlockItem]]
ScoresSink = Callable[[int, np.ndarray], None]  # (first row, scores of a block), called from the workers

ESTIMATION_METHODS = ("off_diagonal", "off_diagonal_calibrated")
SCALAR_ROWS = 1 << 18  # rows per slice of the work on kept per-row scalars
CHUNK_STATS_ROWS = 1 << 20  # about this many rows of scalars per vectorised chunk-statistics call

T = TypeVar("T")


def map_blocks(func: Callable[[Block], T], blocks: Iterable[BlockItem], n_jobs: int) -> Iterator[T]:
    """func over blocks as they are produced, results in block order (batching.map_ordered).

    An item of `blocks` is a Block or a zero-argument callable that makes one (a reader's deferred
    read-and-check): callables run in the worker, so reading and checking are spread over the workers
    too."""

    def run(item: BlockItem) -> T:
        return func(item() if callable(item) else item)

    return map_ordered(run, blocks, n_jobs)


def run_pass(
    passes: Passes, name: str, func: Callable[[Block], T], n_jobs: int, progress: Progress | None
) -> Iterator[T]:
    """map_blocks over one pass; each block's rows go to `progress` under the pass's name as its result
    comes back, in block order and from this thread (batching.reported), whatever the workers."""
    if progress is None:
        return map_blocks(func, passes(), n_jobs)
    counted = map_blocks(lambda b: (len(b[1]), func(b)), passes(), n_jobs)
    return reported(counted, functools.partial(progress, name))


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
        ctx = self.ctx
        parts = list(ctx.run_pass("C: candidates", lambda b: candidate_block(b[2], b[1], bounds, b[0])))
        return tuple(np.concatenate([q[i] for q in parts]) for i in range(3))

    def class_margins(self, cells: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        ctx = self.ctx
        out = {k: np.empty((len(t), int(ctx.counts[k])), dtype=ctx.dtype) for k, t in cells.items()}
        filled = dict.fromkeys(cells, 0)

        def part(b: Block) -> dict[int, np.ndarray]:
            _, yb, pb = b
            got = {}
            for k, targets in cells.items():
                rows = np.flatnonzero(yb == k)
                if len(rows):
                    got[k] = (pb[rows][:, targets] - pb[rows, k][:, None]).T
            return got

        for got in ctx.run_pass("D: short-cell margins", part):
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
    ) -> None:
        super().__init__(np.empty(0, dtype=np.intp), n, k, None, n_jobs)
        self.passes, self.dtype = passes, np.dtype(dtype)
        self.progress = progress
        self.sample_stride = sample_stride(n, k, STREAM_SAMPLE_ELEMENTS)
        self._predicted: np.ndarray | None = None
        self._match: np.ndarray | None = None

    # -- plumbing
    def run_pass(self, name: str, func: Callable[[Block], T]) -> Iterator[T]:
        return run_pass(self.passes, name, func, self.n_jobs, self.progress)

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

        def part(b: Block) -> None:
            start, yb, pb = b
            end = start + len(yb)
            labels[start:end] = yb
            sc[start:end] = pb[np.arange(len(yb)), yb]
            first = -(-start // stride)
            local = np.arange(first * stride, end, stride) - start
            sample[first : first + len(local)] = pb[local]

        for _ in self.run_pass("A: thresholds", part):
            pass
        self.labels, self._self_conf = labels, sc
        self.sample_rows, self.sample_block = sample_rows, sample
        self._counts = class_counts(labels, k)

    # -- pass B: confident joint, flags, predictions and the scores some filters and rankings need
    def pass_b(
        self, score_keys: Iterable[tuple[str, bool]], sink: tuple[tuple[str, bool], ScoresSink] | None = None
    ) -> None:
        """`sink` (score key, callback) receives that score of every block as it is computed."""
        n, k = self.n, self.k
        level = self.thresholds - EPS
        keys = [key for key in dict.fromkeys(score_keys) if key != ("self_confidence", False)]
        off = np.empty(n, dtype=bool)
        match = np.empty(n, dtype=bool)
        pred = np.empty(n, dtype=np.int32 if k < 1 << 31 else np.int64)
        scores = {key: np.empty(n, dtype=np.float64) for key in keys}

        def part(b: Block) -> np.ndarray:
            start, yb, pb = b
            sl = slice(start, start + len(yb))
            codes, off[sl], am = kn.confident_block(pb, yb, level)
            if am is None:
                am = pb.argmax(axis=1)
            pred[sl] = am
            r = np.arange(len(yb))
            match[sl] = kn.label_wins(am, pb[r, am], pb[r, yb], yb)
            for method, adjust in keys:
                scores[(method, adjust)][sl] = scores_of_block(
                    pb, yb, method, self.thresholds if adjust else None
                )
            if sink is not None:
                key, send = sink
                send(start, scores[key][sl] if key in scores else self.self_confidence[sl])
            return codes

        cj = np.zeros(k * k, dtype=np.int64)
        for codes in self.run_pass("B: confident joint", part):
            cj += np.bincount(codes, minlength=k * k)
        self._rows = kn.RowPass(cj.reshape(k, k), off, pred)  # the stream keeps every argmax
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
) -> tuple[NDArray[np.int64], StreamContext]:
    """Indices flagged exactly as in-memory find_label_issues, ranked by `rank_by` (most severe first),
    and the context (for scores, predictions and counts of the report). `scores_sink` receives the
    ranking score of every block as it is computed."""
    check_method(rank_by, adjust_pred_probs)
    ctx = StreamContext(passes, n, k, dtype, n_jobs=resolve_n_jobs(n_jobs), progress=progress)
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
    dtype = np.dtype(dtype)
    plain = method == "self_confidence" and not adjust_pred_probs

    labels = np.empty(n, dtype=np.int32 if k < 1 << 31 else np.int64)
    self_conf = np.empty(n, dtype=dtype)
    top = np.empty(n, dtype=dtype)
    predicted = np.empty(n, dtype=kn.argmax_dtype(k))
    match = np.empty(n, dtype=bool)
    scores = self_conf if plain else np.empty(n, dtype=np.float64)

    def part1(b: Block) -> None:
        start, yb, pb = b
        sl = slice(start, start + len(yb))
        r = np.arange(len(yb))
        labels[sl] = yb
        sc = pb[r, yb]
        self_conf[sl] = sc
        g = pb.argmax(axis=1)
        predicted[sl] = g
        top[sl] = pb[r, g]
        match[sl] = kn.label_wins(g, top[sl], sc, yb)
        if not adjust_pred_probs:
            if not plain:
                scores[sl] = scores_of_block(pb, yb, method)
            if scores_sink is not None:
                scores_sink(start, scores[sl])

    for _ in run_pass(passes, "1: scores", part1, n_jobs, progress):
        pass

    # Per-chunk class counts and means over the kept scalars, many chunks per vectorised call and the
    # calls spread over the workers; then the running mean, folded in chunk order exactly as the
    # reference updates it batch by batch.
    per_call = chunk * max(1, CHUNK_STATS_ROWS // chunk)

    def chunk_part(sl: slice) -> tuple[np.ndarray, np.ndarray]:
        return kn.chunk_thresholds(self_conf[sl], labels[sl], k, chunk)

    t = np.zeros(k, dtype=np.float64)
    seen = np.zeros(k, dtype=np.int64)
    for counts, means in map_batches(chunk_part, n, per_call, n_jobs):
        for c_b, t_b in zip(counts, means, strict=True):
            t = np.maximum((seen * t + c_b * t_b) / np.maximum(seen + c_b, 1), T_MIN)
            seen = seen + c_b

    if adjust_pred_probs:  # adjusted scores need the final thresholds: one more pass

        def part2(b: Block) -> None:
            start, yb, pb = b
            sl = slice(start, start + len(yb))
            scores[sl] = scores_of_block(pb, yb, method, t)
            if scores_sink is not None:
                scores_sink(start, scores[sl])

        for _ in run_pass(passes, "2: adjusted scores", part2, n_jobs, progress):
            pass

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
    )
    info = {"labels": res.labels, "predicted": res.predicted, "scores": res.scores, "counts": res.counts}
    return res.ranked, {**info, "estimated_issues": res.num_issues}
