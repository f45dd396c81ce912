"""Label quality scores (lower = more likely mislabelled) and orderings of flagged examples."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core import select as sel
from labelaudit.core.batching import batch_rows, map_batches
from labelaudit.core.constants import C_MIN
from labelaudit.core.context import BaseContext, Context
from labelaudit.errors import InputError

SCORE_METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")

_Index = TypeVar("_Index", bound=np.integer[Any])


def check_method(method: str, adjust_pred_probs: bool = False) -> None:
    if method not in SCORE_METHODS:
        raise InputError(f"score method must be one of {', '.join(SCORE_METHODS)}; got {method!r}")
    if adjust_pred_probs and method == "confidence_weighted_entropy":
        raise InputError("adjust_pred_probs is not supported with confidence_weighted_entropy")


def adjust(block: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Subtract each class threshold, shift by the largest threshold, renormalise each row."""
    a = block - thresholds
    a = a + thresholds.max()
    return a / a.sum(axis=1, keepdims=True)


def normalized_entropy(block: np.ndarray) -> np.ndarray:
    """(B,) entropy of each row divided by ln K (0 * ln 0 = 0); float64 for float32 input."""
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(block > 0, block * np.log(block), 0)
    return -np.sum(plogp, axis=1) / np.log(block.shape[1])


def scores_of_block(
    block: np.ndarray, labels: np.ndarray, method: str, thresholds: np.ndarray | None = None
) -> np.ndarray:
    """Scores of the rows of one block (B, K) with their labels (B,); `thresholds` turns on adjustment."""
    if thresholds is not None:
        block = adjust(block, thresholds)
    r = np.arange(len(block))
    self_conf = block[r, labels]
    if method == "self_confidence":
        return self_conf
    if method == "normalized_margin":
        others = np.array(block)
        others[r, labels] = -np.inf
        return (self_conf - others.max(axis=1) + 1) / 2
    x = normalized_entropy(block) / np.maximum(self_conf, C_MIN)
    return np.log(x + 1) / np.maximum(x, C_MIN)


def scores_for_rows(
    ctx: BaseContext, rows: NDArray[np.integer[Any]] | None, method: str, adjust_pred_probs: bool = False
) -> NDArray[np.floating[Any]]:
    """Scores of the examples `rows` (all when None). Each score depends on its own row only (and, when
    adjusting, on thresholds from all examples), so a subset never needs the rest of pred_probs."""
    stored = ctx.stored_scores.get((method, adjust_pred_probs))
    if stored is not None:  # a streamed context keeps the scores it computed while passing over the data
        return stored if rows is None else stored[rows]
    if not isinstance(ctx, Context):  # a context without pred_probs rows scores its own way
        return ctx.scores(rows, method, adjust_pred_probs)
    p, y = ctx.pred_probs, ctx.labels
    t = ctx.thresholds if adjust_pred_probs else None
    if method == "self_confidence" and t is None:
        return ctx.self_confidence if rows is None else ctx.self_confidence[rows]
    m = ctx.n if rows is None else len(rows)

    def part(sl: slice) -> np.ndarray:
        if rows is None:
            return scores_of_block(p[sl], y[sl], method, t)
        idx = rows[sl]
        return scores_of_block(p[idx], y[idx], method, t)

    parts = list(map_batches(part, m, batch_rows(ctx.k, ctx.batch_size), ctx.n_jobs))
    if not parts:
        dtype = np.float64 if method == "confidence_weighted_entropy" else p.dtype
        return np.empty(0, dtype=dtype)
    return np.concatenate(parts)


def get_label_quality_scores(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    batch_size: int | None = None,
) -> NDArray[np.floating[Any]]:
    """(N,) label quality score of every example, in [0, 1], lower = more likely a label error.

    self_confidence: P[i, y_i]; normalized_margin: (P[i, y_i] - max_{j != y_i} P[i, j] + 1) / 2;
    confidence_weighted_entropy: ln(x + 1) / x with x = H(P_i) / P[i, y_i]. `adjust_pred_probs`
    subtracts the class thresholds first. Dtype follows pred_probs (float64 for the entropy score).
    """
    check_method(method, adjust_pred_probs)
    return scores_for_rows(Context.validated(labels, pred_probs, batch_size), None, method, adjust_pred_probs)


def flagged_rows(issues: ArrayLike, n: int) -> NDArray[np.int64]:
    """Increasing int64 indices from a boolean mask of length n or from an array of indices."""
    a = np.asarray(issues)
    if a.dtype == bool:
        if a.shape != (n,):
            raise InputError(f"an issue mask must have length {n}, got shape {a.shape}")
        return np.flatnonzero(a).astype(np.int64, copy=False)  # no copy: intp is int64 on 64-bit platforms
    if a.size == 0:
        return np.empty(0, dtype=np.int64)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise InputError(f"issues must be a boolean mask or 1-D integer indices, got {a.dtype} {a.shape}")
    if a.min() < 0 or a.max() >= n:
        raise InputError(
            f"issue indices must be in 0..{n - 1}; found {int(a.min() if a.min() < 0 else a.max())}"
        )
    out = np.unique(a.astype(np.int64))
    if len(out) != len(a):
        raise InputError("issue indices contain duplicates")
    return out


def order_rows(
    ctx: BaseContext, rows: NDArray[_Index], rank_by: str, adjust_pred_probs: bool = False
) -> NDArray[_Index]:
    """`rows` (increasing) reordered by increasing score, ties by index."""
    return rows[sel.stable_order(scores_for_rows(ctx, rows, rank_by, adjust_pred_probs), ctx.n_jobs)]


def order_label_issues(
    label_issues: ArrayLike,
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    rank_by: str = "self_confidence",
    rank_by_kwargs: dict[str, Any] | None = None,
    batch_size: int | None = None,
) -> NDArray[np.int64]:
    """int64 indices of the flagged examples (mask or indices), most severe (lowest score) first."""
    kwargs = dict(rank_by_kwargs or {})
    adjust_pred_probs = bool(kwargs.pop("adjust_pred_probs", False))
    if kwargs:
        raise InputError(f"rank_by_kwargs may only contain adjust_pred_probs; got {sorted(kwargs)}")
    check_method(rank_by, adjust_pred_probs)
    ctx = Context.validated(labels, pred_probs, batch_size)
    return order_rows(ctx, flagged_rows(label_issues, ctx.n), rank_by, adjust_pred_probs)


def find_top_issues(quality_scores: ArrayLike, top: int | None = 10) -> NDArray[np.int64]:
    """Indices of the `top` lowest scores, lowest first, ties by index (all when top is None or larger)."""
    q = np.asarray(quality_scores)
    n = len(q)
    top = n if top is None or top > n else int(top)
    return sel.smallest_in_order(q, top).astype(np.int64)
