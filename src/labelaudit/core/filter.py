"""find_label_issues: flag likely label errors with confident learning, optionally ranked."""

from __future__ import annotations

import warnings
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core import _noise_rate
from labelaudit.core import select as sel
from labelaudit.core.context import BaseContext, Context
from labelaudit.core.count import round_rows
from labelaudit.core.rank import check_method, order_rows, scores_for_rows
from labelaudit.errors import InputError, LabelauditWarning

FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
PRUNE_FILTERS = ("prune_by_noise_rate", "prune_by_class", "both")


def prune_counts(
    confident_joint: NDArray[np.number[Any]],
    class_counts: NDArray[np.integer[Any]],
    *,
    frac_noise: float = 1.0,
    num_to_remove_per_class: ArrayLike | None = None,
    min_examples_per_class: int = 1,
) -> NDArray[np.int64]:
    """(K, K) int64 prune matrix M: M[j, k] = how many examples labelled k to flag as truly j.

    From the transposed (calibrated) confident joint: raise each diagonal to min_examples_per_class by
    taking evenly from the non-zero off-diagonals of its column, scale off-diagonals by frac_noise
    (the remainder moves to the diagonal), truncate toward zero, and optionally rescale rows to
    num_to_remove_per_class.
    """
    m0 = confident_joint.T.astype(np.float64)
    k = len(m0)
    diag = np.diagonal(m0).copy()
    new_diag = np.maximum(diag, min_examples_per_class)
    delta = new_diag - diag
    spread = np.maximum(np.count_nonzero(m0, axis=0) - 1, 1)
    m1 = np.maximum(m0 - delta / spread, 0)
    np.fill_diagonal(m1, new_diag)
    if frac_noise != 1.0:
        scaled = m1 * frac_noise
        kept = m1 - scaled
        np.fill_diagonal(kept, 0)
        # The remainder moves down each column with numpy's pairwise sum over the contiguous column.
        moved = np.ascontiguousarray(kept.T).sum(axis=1)
        m2 = scaled
        np.fill_diagonal(m2, new_diag + moved)
    else:
        m2 = m1
    m3 = np.trunc(m2).astype(np.int64)
    if num_to_remove_per_class is None:
        return m3
    r = np.asarray(num_to_remove_per_class, dtype=np.float64)
    if r.shape != (k,):
        raise InputError(f"num_to_remove_per_class must have {k} entries, got {r.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        q = m3 / m3.sum(axis=1)[None, :]  # entry (i, j) over the total of row j, as in the reference
        u = q.sum(axis=1) - np.diagonal(q)
        t = q * r[:, None] / u[:, None]
    np.fill_diagonal(t, class_counts - r)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return round_rows(t)


def _warn_few(classes: list[int], m_min: int) -> None:
    if classes:
        warnings.warn(
            f"{len(classes)} class(es) have at most min_examples_per_class={m_min} examples, so none of "
            f"their issues are flagged: {_class_list(classes)}",
            LabelauditWarning,
            stacklevel=4,
        )


def _class_list(classes: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(c) for c in classes[:limit])
    return shown + (f", ... ({len(classes) - limit} more)" if len(classes) > limit else "")


def _prunable(ctx: BaseContext, m_min: int) -> list[int]:
    """Classes the prune filters may flag in: more than m_min examples and more than one."""
    counts = ctx.counts
    _warn_few([k for k in range(ctx.k) if counts[k] <= m_min], m_min)
    return [k for k in range(ctx.k) if counts[k] > max(m_min, 1)]


def _prune_by_class(ctx: BaseContext, prune: np.ndarray, m_min: int) -> np.ndarray:
    mask = np.zeros(ctx.n, dtype=bool)
    groups, sc = ctx.groups, ctx.self_confidence
    for k in _prunable(ctx, m_min):
        n_k = int(groups.counts[k])
        q = n_k - int(prune[k, k])
        if q >= 1:
            members = groups.members(k)
            mask[members[sel.select_smallest(sc[members], q)]] = True
    return mask


def _prune_by_noise_rate(ctx: BaseContext, prune: np.ndarray, m_min: int) -> np.ndarray:
    return _noise_rate.select(ctx, prune, _prunable(ctx, m_min))


@overload
def find_label_issues(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    return_indices_ranked_by: None = None,
    rank_by_kwargs: dict[str, Any] | None = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: ArrayLike | None = None,
    min_examples_per_class: int = 1,
    confident_joint: ArrayLike | None = None,
    n_jobs: int | None = None,
    batch_size: int | None = None,
) -> NDArray[np.bool_]: ...


@overload
def find_label_issues(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    return_indices_ranked_by: str,
    rank_by_kwargs: dict[str, Any] | None = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: ArrayLike | None = None,
    min_examples_per_class: int = 1,
    confident_joint: ArrayLike | None = None,
    n_jobs: int | None = None,
    batch_size: int | None = None,
) -> NDArray[np.int64]: ...


@overload
def find_label_issues(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    return_indices_ranked_by: str | None = None,
    rank_by_kwargs: dict[str, Any] | None = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: ArrayLike | None = None,
    min_examples_per_class: int = 1,
    confident_joint: ArrayLike | None = None,
    n_jobs: int | None = None,
    batch_size: int | None = None,
) -> NDArray[np.bool_] | NDArray[np.int64]: ...


def find_label_issues(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    return_indices_ranked_by: str | None = None,
    rank_by_kwargs: dict[str, Any] | None = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: ArrayLike | None = None,
    min_examples_per_class: int = 1,
    confident_joint: ArrayLike | None = None,
    n_jobs: int | None = None,
    batch_size: int | None = None,
) -> NDArray[np.bool_] | NDArray[np.int64]:
    """Flag likely label errors.

    Returns a boolean mask (N,), or, with `return_indices_ranked_by` set to a score method, the int64
    indices of the flagged examples ordered from most to least severe (ties by index).
    `n_jobs` and `batch_size` never change the result.
    """
    if filter_by not in FILTERS:
        raise InputError(f"filter_by must be one of {', '.join(FILTERS)}; got {filter_by!r}")
    kwargs = dict(rank_by_kwargs or {})
    adjust_pred_probs = bool(kwargs.pop("adjust_pred_probs", False))
    if kwargs:
        raise InputError(f"rank_by_kwargs may only contain adjust_pred_probs; got {sorted(kwargs)}")
    if return_indices_ranked_by is not None:
        check_method(return_indices_ranked_by, adjust_pred_probs)
    ctx = Context.validated(labels, pred_probs, batch_size, n_jobs)
    rows = issue_rows(
        ctx,
        filter_by=filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
        confident_joint=confident_joint,
    )
    if return_indices_ranked_by is None:
        mask = np.zeros(ctx.n, dtype=bool)
        mask[rows] = True
        return mask
    return order_rows(ctx, rows, return_indices_ranked_by, adjust_pred_probs).astype(np.int64)


def issue_rows(
    ctx: BaseContext,
    *,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: ArrayLike | None = None,
    min_examples_per_class: int = 1,
    confident_joint: ArrayLike | None = None,
) -> NDArray[np.int64]:
    """Increasing int64 indices flagged by `filter_by` on an already-validated context."""
    if filter_by not in FILTERS:
        raise InputError(f"filter_by must be one of {', '.join(FILTERS)}; got {filter_by!r}")
    if filter_by not in PRUNE_FILTERS:
        if frac_noise != 1.0 or num_to_remove_per_class is not None:
            warnings.warn(
                "frac_noise and num_to_remove_per_class only apply to prune_by_noise_rate, "
                "prune_by_class and both",
                LabelauditWarning,
                stacklevel=3,
            )
        if num_to_remove_per_class is not None:
            raise InputError(f"num_to_remove_per_class is not supported with filter_by={filter_by!r}")
    if filter_by in PRUNE_FILTERS:
        cj = ctx.confident_joint if confident_joint is None else np.asarray(confident_joint)
        prune = prune_counts(
            cj,
            ctx.counts,
            frac_noise=frac_noise,
            num_to_remove_per_class=num_to_remove_per_class,
            min_examples_per_class=min_examples_per_class,
        )
        if filter_by == "prune_by_class":
            mask = _prune_by_class(ctx, prune, min_examples_per_class)
        elif filter_by == "prune_by_noise_rate":
            mask = _prune_by_noise_rate(ctx, prune, min_examples_per_class)
        else:
            mask = _prune_by_class(ctx, prune, min_examples_per_class)
            mask &= _prune_by_noise_rate(ctx, prune, min_examples_per_class)
        candidates = np.flatnonzero(mask)
    elif filter_by == "confident_learning":
        candidates = np.flatnonzero(ctx.rows.off_diagonal)
    elif filter_by == "predicted_neq_given":
        candidates = np.flatnonzero(ctx.predicted() != ctx.labels)
    else:
        method = "normalized_margin" if filter_by == "low_normalized_margin" else "self_confidence"
        scores = scores_for_rows(ctx, None, method)
        # The low_* filters take the lowest num_label_issues scores and skip the nudged-argmax rule.
        return np.flatnonzero(sel.select_smallest(scores, ctx.num_issues("off_diagonal"))).astype(np.int64)
    return candidates[~ctx.matches(candidates)].astype(np.int64)
