"""find_label_issues: flag likely label errors with confident learning, optionally ranked."""

from __future__ import annotations

import warnings
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core import _noise_rate
from labelaudit.core import select as sel
from labelaudit.core.confident import Cells
from labelaudit.core.context import BaseContext, Context
from labelaudit.core.count import round_cells, round_rows, sparse_sums
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


def prune_cells(
    cells: Cells,
    *,
    frac_noise: float = 1.0,
    min_examples_per_class: int = 1,
    num_to_remove_per_class: ArrayLike | None = None,
    class_counts: NDArray[np.integer[Any]] | None = None,
) -> Cells:
    """prune_counts of a confident joint given as non-zero Cells, on its cells: the result in given-label
    rows, cell (k, j) = M[j, k], non-zero cells only. The same elementwise arithmetic; the frac_noise
    remainder of each class is summed as numpy sums the dense column (count.sparse_sums).

    With num_to_remove_per_class (needs class_counts; frac_noise and the counts >= 0), step 4's sums run
    in the dense arrays' order too. A class whose step-4 row is not finite (u = 0, or a true class that
    no example reaches) keeps only its diagonal: the dense matrix holds the most negative int64 there,
    which no filter prunes."""
    k = cells.k
    cells = cells.nonzero()
    rows, cols = cells.rows, cells.cols
    m0 = cells.values.astype(np.float64)
    diag = cells.diagonal().astype(np.float64)
    new_diag = np.maximum(diag, min_examples_per_class)
    delta = new_diag - diag
    spread = np.maximum(np.bincount(rows, minlength=k) - 1, 1)
    off = rows != cols
    r_off, c_off = rows[off], cols[off]
    m1 = np.maximum(m0[off] - (delta / spread)[r_off], 0)
    if frac_noise != 1.0:
        scaled = m1 * frac_noise
        kept = m1 - scaled
        moved = np.zeros(k)
        if len(r_off):
            moved[np.unique(r_off)] = sparse_sums(r_off, c_off, kept, k)
        m2_off, m2_diag = scaled, new_diag + moved
    else:
        m2_off, m2_diag = m1, new_diag
    codes = np.concatenate([cells.codes[off], np.arange(k, dtype=np.int64) * (k + 1)])
    vals = np.concatenate([np.trunc(m2_off), np.trunc(m2_diag)]).astype(np.int64)
    order = np.argsort(codes, kind="stable")
    m3 = Cells(k, codes[order], vals[order]).nonzero()
    if num_to_remove_per_class is None:
        return m3
    if class_counts is None:
        raise InputError("prune_cells needs class_counts with num_to_remove_per_class")
    return _rescale_cells(m3, np.asarray(num_to_remove_per_class, dtype=np.float64), class_counts)


def _rescale_cells(m3: Cells, r: np.ndarray, class_counts: NDArray[np.integer[Any]]) -> Cells:
    """prune_counts' step 4 on the cells of M3 (given-label rows: cell (g, i) = M3[i, g])."""
    k = m3.k
    if r.shape != (k,):
        raise InputError(f"num_to_remove_per_class must have {k} entries, got {r.shape}")
    given, true, v = m3.rows, m3.cols, m3.values
    row_sums = np.zeros(k, dtype=np.int64)  # S_i: the total of row i of M3
    np.add.at(row_sums, true, v)
    diag_t = (class_counts - r).astype(np.float64)
    if not (row_sums > 0).all():  # some q column is 0 / 0: every row of T is NaN but its diagonal
        live = np.zeros(k, dtype=bool)
        q = u = np.zeros(0)
    else:
        q = v / row_sums[given]  # Q[i, g] = M3[i, g] / S_g, at cell (g, i)
        u = np.zeros(k)
        np.add.at(u, true, q)  # Q's rows summed left to right (Q is column-major), zeros add nothing
        on = given == true
        q_diag = np.zeros(k)
        q_diag[true[on]] = q[on]
        u = u - q_diag
        with np.errstate(divide="ignore", invalid="ignore"):
            live = np.isfinite(r / u) & (u != 0)
    # T in its own rows (true class i), off-diagonal cells of the live rows plus every diagonal
    keep = np.zeros(len(v), dtype=bool) if not len(q) else (given != true) & live[true]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_off = q[keep] * r[true[keep]] / u[true[keep]] if len(q) else np.zeros(0)
    codes = np.concatenate([true[keep] * k + given[keep], np.arange(k, dtype=np.int64) * (k + 1)])
    vals = np.concatenate([t_off, diag_t])
    order = np.argsort(codes, kind="stable")
    codes, vals = codes[order], vals[order]
    lives = live[codes // k]
    rounded = round_cells(Cells(k, codes[lives], vals[lives])) if lives.any() else None
    dead = np.flatnonzero(~live)
    out_codes = [dead * (k + 1)]
    out_vals = [np.rint(diag_t[dead]).astype(np.int64)]
    if rounded is not None:
        out_codes.append(rounded.codes)
        out_vals.append(rounded.values)
    t_codes, t_vals = np.concatenate(out_codes), np.concatenate(out_vals)
    g_codes = (t_codes % k) * k + t_codes // k  # back to given-label rows
    order = np.argsort(g_codes, kind="stable")
    return Cells(k, g_codes[order], t_vals[order]).nonzero()


def _cells_apply(frac_noise: float, num_to_remove_per_class: ArrayLike | None) -> bool:
    """Whether prune_cells reproduces prune_counts: always without num_to_remove_per_class; with it, for
    frac_noise >= 0 and finite counts >= 0 (negative ones could give -0.0, whose sums differ in sign)."""
    if num_to_remove_per_class is None:
        return True
    r = np.asarray(num_to_remove_per_class)
    if r.dtype.kind not in "iuf":
        return False
    r = r.astype(np.float64)
    return frac_noise >= 0 and bool(np.isfinite(r).all() and (r >= 0).all())


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


def _prune_by_class(ctx: BaseContext, prune: np.ndarray | Cells, m_min: int) -> np.ndarray:
    mask = np.zeros(ctx.n, dtype=bool)
    groups, sc = ctx.groups, ctx.self_confidence
    diag = prune.diagonal() if isinstance(prune, Cells) else np.diagonal(prune)
    for k in _prunable(ctx, m_min):
        n_k = int(groups.counts[k])
        q = n_k - int(diag[k])
        if q >= 1:
            members = groups.members(k)
            mask[members[sel.select_smallest(sc[members], q)]] = True
    return mask


def _prune_by_noise_rate(ctx: BaseContext, prune: np.ndarray | Cells, m_min: int) -> np.ndarray:
    if isinstance(prune, Cells):
        return _noise_rate.select_cells(ctx, prune, _prunable(ctx, m_min))
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
        prune: np.ndarray | Cells
        if confident_joint is None and ctx.sparse and _cells_apply(frac_noise, num_to_remove_per_class):
            prune = prune_cells(
                ctx.confident_cells,
                frac_noise=frac_noise,
                min_examples_per_class=min_examples_per_class,
                num_to_remove_per_class=num_to_remove_per_class,
                class_counts=ctx.counts,
            )
        else:  # a confident_joint passed in is a (K, K) array already
            prune = prune_counts(
                ctx.confident_joint if confident_joint is None else np.asarray(confident_joint),
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
