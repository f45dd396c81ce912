"""Top-k probabilities: per example the k largest predicted probabilities and their class ids, the mass
left over spread evenly over the other K - k classes, and confident learning computed on that implicit
(N, K) matrix without forming it.

The implicit matrix (the definition every kernel here follows; `TopK.dense` builds it, and the tests
check every result against the dense kernels run on it):

    P[i, classes[i, j]] = probs[i, j]                  for the k listed classes,
    P[i, c] = fill[i] = rest[i] / (K - k)              for every other class c,
    rest[i] = residual[i] when the input gives it, else max(1 - sum_j probs[i, j], 0) (summed in float64),

with fill cast to the probabilities' dtype. Every row operation then needs only the row's k values, its
fill and K-sized class vectors:
* the confident pass counts the unlisted classes whose threshold the fill reaches with one binary search
  in the sorted thresholds (minus the listed classes it also reaches), and finds the one such class, when
  it is the only confident class, among the k + 1 lowest thresholds;
* the first argmax is the smallest listed class holding the row's largest listed value, or the smallest
  unlisted class id (the row's "mex") when the fill is larger, or the smaller of the two on a tie;
* margins P[i, j] - P[i, y_i] of prune_by_noise_rate are looked up per class in the listed values,
  the fill elsewhere.
Memory: the input (N x k ids and values) + O(N) per-example vectors + the confident joint's non-zero
cells; time O(N k log k + K log K).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelaudit.core import confident as kn
from labelaudit.core._noise_rate import candidate_block
from labelaudit.core.batching import batch_rows, map_batches, row_slices
from labelaudit.core.checks import DRIFT_TOL, check_labels
from labelaudit.core.constants import C_MIN, EPS
from labelaudit.core.context import BaseContext
from labelaudit.errors import InputError, LabelauditWarning

ADJUST_REFUSED = (
    "adjust_pred_probs is not available with top-k probabilities: the adjusted rows are renormalised "
    "by a sum over all K classes"
)


@dataclass(frozen=True)
class TopK:
    """Top-k probabilities of N examples over K classes: `classes` (N, k) integer class ids (distinct
    within a row, any order), `probs` (N, k) float16/32/64, `num_classes` K >= k, and optionally
    `residual` (N,) float: the total probability of the K - k unlisted classes (default 1 - sum)."""

    classes: np.ndarray
    probs: np.ndarray
    num_classes: int
    residual: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(N, K): the shape of the implicit matrix."""
        return int(self.probs.shape[0]), int(self.num_classes)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.probs.dtype

    @property
    def top(self) -> int:
        """k: classes listed per row."""
        return int(self.probs.shape[1])

    def __len__(self) -> int:
        return int(self.probs.shape[0])

    def __getitem__(self, rows: slice | np.ndarray) -> TopK:
        """The examples `rows` (a slice or an index array) as a TopK."""
        res = None if self.residual is None else self.residual[rows]
        return TopK(self.classes[rows], self.probs[rows], self.num_classes, res)

    def fill(self) -> np.ndarray:
        """(N,) the probability of each unlisted class, in the probabilities' dtype (0 when k = K)."""
        others = self.num_classes - self.top
        if others == 0:
            return np.zeros(len(self), dtype=self.dtype)
        if self.residual is None:
            rest = np.maximum(1.0 - np.add.reduce(self.probs, axis=1, dtype=np.float64), 0.0)
        else:
            rest = np.asarray(self.residual, dtype=np.float64)
        return (rest / others).astype(self.dtype)

    def dense(self) -> np.ndarray:
        """(N, K) the implicit matrix itself (for tests and small inputs)."""
        out = np.repeat(self.fill()[:, None], self.num_classes, axis=1)
        np.put_along_axis(out, np.asarray(self.classes, dtype=np.intp), self.probs, axis=1)
        return out


def _first(bad: Any) -> int:
    return int(np.argmax(bad))


def check_topk(topk: TopK) -> TopK:
    """The input rules of top-k probabilities; raises InputError naming the rule, the first bad row and its
    value, and returns the input, or a repaired copy. Values within DRIFT_TOL outside [0, 1] are clipped
    into it with a warning (as dense pred_probs are; the fill then follows from the clipped values), farther
    ones rejected; the listed values of a row may sum to at most 1 (+ DRIFT_TOL); with a residual, or with
    every class listed (k = K), each row must sum to 1 within DRIFT_TOL."""
    topk = _clipped(topk)
    c, p, k_all = topk.classes, topk.probs, topk.num_classes
    if c.ndim != 2 or p.ndim != 2 or c.shape != p.shape:
        raise InputError(
            f"top-k class ids and probabilities must be (N, k) arrays of one shape; got {c.shape} and {p.shape}"
        )
    n, k = p.shape
    if n == 0:
        raise InputError("top-k input is empty (0 rows)")
    if k == 0:
        raise InputError("top-k input lists no class per row (k = 0)")
    if c.dtype.kind not in "iu":
        raise InputError(f"top-k class ids must be integers, got dtype {c.dtype}")
    if p.dtype not in (np.float16, np.float32, np.float64):
        raise InputError(f"top-k probabilities must be float16, float32 or float64, got dtype {p.dtype}")
    if k_all < 2:
        raise InputError(f"top-k input needs at least 2 classes, got K={k_all}")
    if k > k_all:
        raise InputError(f"top-k input lists {k} classes per row but K={k_all}")
    res = topk.residual
    if res is not None:
        if res.shape != (n,) or res.dtype.kind != "f":
            raise InputError(f"the residual must be {n} floats (one per row), got {res.dtype} {res.shape}")
    for sl in row_slices(n, max(1, (1 << 22) // k)):
        cb, pb = np.asarray(c[sl]), np.asarray(p[sl])
        off = sl.start
        bad = ((cb < 0) | (cb >= k_all)).any(axis=1)
        if bad.any():
            r = _first(bad)
            v = cb[r][(cb[r] < 0) | (cb[r] >= k_all)][0]
            raise InputError(f"top-k class ids must be in 0..{k_all - 1}; row {off + r} holds {int(v)}")
        s = np.sort(cb, axis=1)
        dup = s[:, 1:] == s[:, :-1]
        if dup.any():
            r = _first(dup.any(axis=1))
            v = s[r, 1:][dup[r]][0]
            raise InputError(
                f"top-k class ids must be distinct within a row; row {off + r} lists {int(v)} twice"
            )
        finite = np.isfinite(pb)
        if not finite.all():
            r = _first(~finite.all(axis=1))
            raise InputError(f"top-k probabilities must be finite; row {off + r} holds {pb[r].tolist()}")
        total = np.add.reduce(pb, axis=1, dtype=np.float64)
        if res is not None:
            rb = np.asarray(res[sl], dtype=np.float64)
            wrong = ~np.isfinite(rb) | (rb < 0)
            if wrong.any():
                r = _first(wrong)
                raise InputError(
                    f"the residual must be finite and >= 0; row {off + r} holds {float(rb[r])!r}"
                )
            total = total + rb
        if res is not None or k == k_all:
            far = np.abs(total - 1) > DRIFT_TOL
            if far.any():
                r = _first(far)
                what = "with its residual" if res is not None else "(all K classes listed)"
                raise InputError(
                    f"each top-k row must sum to 1 (±{DRIFT_TOL:g}) {what}; row {off + r} sums to "
                    f"{float(total[r])!r}"
                )
        else:
            over = total > 1 + DRIFT_TOL
            if over.any():
                r = _first(over)
                raise InputError(
                    f"the top-k probabilities of a row must sum to at most 1 (+{DRIFT_TOL:g}); row {off + r} "
                    f"sums to {float(total[r])!r}"
                )
    return topk


def _clipped(topk: TopK) -> TopK:
    """The values clipped into [0, 1] when they drift from it by at most DRIFT_TOL (a warning says so);
    an InputError naming the first row of a value farther out."""
    p = topk.probs
    if p.ndim != 2 or p.dtype.kind != "f" or not p.size:
        return topk  # check_topk names what is wrong
    # fmin/fmax skip NaN (check_topk's finiteness rule names its row) and, unlike nanmin, copy nothing
    lo, hi = float(np.fmin.reduce(p, axis=None)), float(np.fmax.reduce(p, axis=None))
    if (lo >= 0 and hi <= 1) or not (np.isfinite(lo) and np.isfinite(hi)):
        return topk
    if lo < -DRIFT_TOL or hi > 1 + DRIFT_TOL:
        bad = (p < -DRIFT_TOL) | (p > 1 + DRIFT_TOL)
        r = _first(bad.any(axis=1))
        v = float(p[r][bad[r]][0])
        raise InputError(f"top-k probabilities must be in [0, 1] (±{DRIFT_TOL:g}); row {r} holds {v!r}")
    warnings.warn(
        f"top-k probabilities outside [0, 1] by up to {max(-lo, hi - 1):.2g} were clipped into [0, 1]",
        LabelauditWarning,
        stacklevel=3,
    )
    return TopK(topk.classes, np.clip(p, 0, 1), topk.num_classes, topk.residual)


# ---------------------------------------------------------------------------- row kernels


def _mex(classes: np.ndarray) -> np.ndarray:
    """(B,) the smallest class id not listed in each row (int64)."""
    s = np.sort(classes, axis=1)
    miss = s != np.arange(s.shape[1])
    return np.where(miss.any(axis=1), miss.argmax(axis=1), s.shape[1]).astype(np.int64)


def row_argmax(block: TopK, fill: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first argmax (B,) int64, row maximum (B,) in the probabilities' dtype) of the implicit rows."""
    c, p, k_all = block.classes, block.probs, block.num_classes
    maxp = p.max(axis=1)
    first = np.where(p == maxp[:, None], c, k_all).min(axis=1).astype(np.int64)
    if block.top == k_all:
        return first, maxp
    mex = _mex(c)
    am = np.where(fill > maxp, mex, np.where(fill < maxp, first, np.minimum(first, mex)))
    return am, np.maximum(maxp, fill)


def self_confidences(block: TopK, fill: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P[i, y_i] (B,) in the probabilities' dtype, whether y_i is listed (B,) bool)."""
    hit = block.classes == labels[:, None]
    listed = hit.any(axis=1)
    sc = np.where(listed, block.probs[np.arange(len(hit)), hit.argmax(axis=1)], fill)
    return sc, listed


def scores_of_rows(block: TopK, labels: np.ndarray, method: str) -> np.ndarray:
    """rank.scores_of_block of the implicit rows (no adjustment). self_confidence and normalized_margin
    are the dense values bit for bit; confidence_weighted_entropy sums -p ln p in float64 (the k listed
    values, plus (K - k) times the fill's term), where the dense kernel sums K terms in the input dtype."""
    fill = block.fill()
    sc, listed = self_confidences(block, fill, labels)
    if method == "self_confidence":
        return sc
    k_all, k = block.num_classes, block.top
    p = block.probs
    if method == "normalized_margin":
        listed_other = np.where(block.classes == labels[:, None], p.dtype.type(-np.inf), p).max(axis=1)
        unlisted_other = (k_all - k) - (~listed)  # unlisted classes other than the label
        others = np.where(unlisted_other > 0, np.maximum(listed_other, fill), listed_other)
        return (sc - others + 1) / 2
    p64, f64 = p.astype(np.float64), fill.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p64 > 0, p64 * np.log(p64), 0.0).sum(axis=1)
        rest = np.where(f64 > 0, (k_all - k) * (f64 * np.log(f64)), 0.0)
    entropy = -(plogp + rest) / np.log(k_all)
    x = entropy / np.maximum(sc, C_MIN)
    return np.log(x + 1) / np.maximum(x, C_MIN)


def confident_block(
    block: TopK, yb: np.ndarray, level: np.ndarray, *, by_level: np.ndarray, sorted_levels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """confident.confident_block of the implicit rows: (codes y * K + guess of the counted rows,
    off-diagonal flags (B,), first argmax (B,)). `by_level`: the classes in increasing order of `level`
    (stable), `sorted_levels`: level[by_level]."""
    c, p, k_all, k = block.classes, block.probs, block.num_classes, block.top
    fill = block.fill()
    ci = c.astype(np.intp)
    lv = level[ci]
    above = p >= lv
    n_listed = np.count_nonzero(above, axis=1)
    am, _ = row_argmax(block, fill)
    if k < k_all:  # unlisted classes whose level the fill reaches: all such classes, less the listed ones
        reach = np.searchsorted(sorted_levels, fill, side="right")
        n_unlisted = reach - np.count_nonzero(lv <= fill[:, None], axis=1)
    else:
        reach = n_unlisted = np.zeros(len(p), dtype=np.int64)
    n_above = n_listed + n_unlisted
    guess = am.copy()  # several confident classes: the row's first argmax
    one = np.flatnonzero((n_above == 1) & (n_listed == 1))
    guess[one] = c[one, above[one].argmax(axis=1)]
    lone = np.flatnonzero((n_above == 1) & (n_listed == 0))
    if len(lone):  # the one unlisted class reached is among the k + 1 lowest levels
        m = min(k + 1, k_all)
        cand = by_level[:m]
        unlisted = ~(cand[None, :, None] == c[lone][:, None, :]).any(axis=2)
        ok = unlisted & (np.arange(m) < reach[lone][:, None])
        guess[lone] = cand[ok.argmax(axis=1)]
    counted = n_above > 0
    off = counted & (guess != yb)
    return yb[counted].astype(np.int64) * k_all + guess[counted], off, am


# ---------------------------------------------------------------------------- the context


class TopKContext(BaseContext):
    """The BaseContext of validated labels and TopK probabilities: every per-example result computed on
    the implicit rows (find-issues' filters and scores, rank, health and overlap run on it unchanged)."""

    @classmethod
    def validated(
        cls, labels: object, topk: TopK, batch_size: int | None = None, n_jobs: int | None = 1
    ) -> TopKContext:
        topk = check_topk(topk)
        y = check_labels(labels, n_classes=topk.num_classes)
        if len(y) != len(topk):
            raise InputError(
                f"labels and top-k probabilities must have the same length: {len(y)} labels, {len(topk)} rows"
            )
        return cls(y, topk, batch_size, n_jobs)

    def __init__(
        self,
        labels: NDArray[np.integer[Any]],
        topk: TopK,
        batch_size: int | None = None,
        n_jobs: int | None = 1,
    ) -> None:
        n, k = topk.shape
        super().__init__(labels, n, k, batch_size, n_jobs)
        # plain ndarray views of memory-mapped members: np.memmap's __getitem__ is many times slower
        res = None if topk.residual is None else np.asarray(topk.residual)
        self.topk = TopK(np.asarray(topk.classes), np.asarray(topk.probs), topk.num_classes, res)
        # a batch's temporaries are a few (B, k) arrays and a (B, k, k) comparison at most
        self.rows_per_batch = batch_rows(topk.top * (topk.top + 4), batch_size)

    def _map(
        self, func: Callable[[TopK, np.ndarray], np.ndarray], rows: np.ndarray | None, name: str | None = None
    ) -> np.ndarray:
        """func(block, labels of the block) over the examples (all, or `rows`), concatenated; a pass over
        all rows with a `name` reports its progress."""
        m = self.n if rows is None else len(rows)

        def part(sl: slice) -> np.ndarray:
            idx: slice | np.ndarray = sl if rows is None else rows[sl]
            return func(self.topk[idx], self.labels[idx])

        progress = self.pass_progress(name) if name is not None and rows is None else None
        parts = list(map_batches(part, m, self.rows_per_batch, self.n_jobs, progress))
        return np.concatenate(parts) if parts else np.empty(0)

    @property
    def self_confidence(self) -> NDArray[np.floating[Any]]:
        if self._self_conf is None:
            self._self_conf = self._map(
                lambda b, y: self_confidences(b, b.fill(), y)[0], None, "self-confidence"
            )
        return self._self_conf

    @property
    def rows(self) -> kn.RowPass:
        if self._rows is None:
            level = self.thresholds - EPS  # exactly the level confident.confident_rows compares with
            by_level = np.argsort(level, kind="stable")
            block = functools.partial(confident_block, by_level=by_level, sorted_levels=level[by_level])
            self._rows = kn.confident_rows(
                self.labels,
                self.topk,
                self.thresholds,
                self.batch_size,
                self.n_jobs,
                progress=self.pass_progress("confident joint"),
                block=block,
                rows_per_batch=self.rows_per_batch,
            )
        return self._rows

    @property
    def margins(self) -> TopKMargins:
        return TopKMargins(self)

    def predicted(self, rows: NDArray[np.integer[Any]] | None = None) -> NDArray[np.int64]:
        if self._rows is not None and self._rows.argmax is not None:
            am = self._rows.argmax
            return (am if rows is None else am[rows]).astype(np.int64)
        out = self._map(lambda b, y: row_argmax(b, b.fill())[0], rows)
        return out.astype(np.int64)

    def matches(self, rows: NDArray[np.integer[Any]]) -> NDArray[np.bool_]:
        def wins(block: TopK, y: np.ndarray) -> np.ndarray:
            fill = block.fill()
            am, top = row_argmax(block, fill)
            return kn.label_wins(am, top, self_confidences(block, fill, y)[0], y)

        out = self._map(wins, np.asarray(rows, dtype=np.int64))
        return out.astype(bool, copy=False)

    def scores(
        self, rows: NDArray[np.integer[Any]] | None, method: str, adjust_pred_probs: bool = False
    ) -> NDArray[np.floating[Any]]:
        if adjust_pred_probs:
            raise InputError(ADJUST_REFUSED)
        if method == "self_confidence":
            return self.self_confidence if rows is None else self.self_confidence[rows]
        out = self._map(lambda b, y: scores_of_rows(b, y, method), rows)
        if not len(out):
            return np.empty(
                0, dtype=np.float64 if method == "confidence_weighted_entropy" else self.topk.dtype
            )
        return out


class TopKMargins:
    """Margin access for TopK rows. The selection takes the per-class route whatever the shape (each class
    gathers its members' k values: no dense row is formed); `sample` and `candidates`, the sampled route's
    steps, form the dense rows of one batch at a time."""

    random_access = True
    per_class = True  # _noise_rate.select: always the per-class route
    sample_elements, miss = 1 << 21, 1e-2

    def __init__(self, ctx: TopKContext) -> None:
        self.ctx = ctx

    def sample(self, stride: int) -> tuple[np.ndarray, np.ndarray]:
        ctx = self.ctx
        rows = np.arange(0, ctx.n, stride)
        d = ctx.topk[rows].dense()
        return d - ctx.self_confidence[rows][:, None], ctx.labels[rows]

    def candidates(self, bounds: np.ndarray) -> tuple[np.ndarray, ...]:
        ctx = self.ctx
        step = batch_rows(ctx.k, ctx.batch_size)
        parts = [
            candidate_block(ctx.topk[sl].dense(), ctx.labels[sl], bounds, sl.start)
            for sl in row_slices(ctx.n, step)
        ]
        return tuple(np.concatenate([q[i] for q in parts]) for i in range(3))

    def class_margins(self, cells: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """{k: (len(targets), n_k) margins P[i, j] - P[i, k] of class k's members} in the input dtype."""
        ctx = self.ctx
        sc = ctx.self_confidence
        out = {}
        for k, targets in cells.items():
            members = ctx.groups.members(k)
            t = len(targets)
            m = np.empty((t, len(members)), dtype=ctx.topk.dtype)
            for sl in row_slices(len(members), ctx.rows_per_batch):
                idx = members[sl]
                block = ctx.topk[idx]
                vals = np.repeat(block.fill()[None, :], t, axis=0)
                pos = np.minimum(np.searchsorted(targets, block.classes), t - 1)
                r, j = np.nonzero(targets[pos] == block.classes)
                vals[pos[r, j], r] = block.probs[r, j]
                np.subtract(vals, sc[idx], out=m[:, sl])
            out[k] = m
        return out


def context(
    labels: NDArray[np.integer[Any]],
    pred_probs: np.ndarray | TopK,
    batch_size: int | None = None,
    n_jobs: int | None = 1,
    self_conf: np.ndarray | None = None,
) -> BaseContext:
    """The in-memory context of already-validated inputs: a TopKContext for TopK probabilities, else a
    core.context.Context."""
    from labelaudit.core.context import Context

    if isinstance(pred_probs, TopK):
        return TopKContext(labels, pred_probs, batch_size, n_jobs)
    return Context(labels, pred_probs, batch_size, n_jobs, self_conf)
