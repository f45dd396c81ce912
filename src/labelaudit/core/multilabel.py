"""Multi-label data: each example may carry several classes. Every class is its own binary problem
(labels Y[:, k], pred_probs [1 - P[:, k], P[:, k]]) run through the multi-class kernels, and per-class
scores are aggregated per example.

Shapes: Y (N, K) 0/1 integers; pred_probs (N, K) independent per-class probabilities.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypedDict, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core import select as sel
from labelaudit.core.checks import check_pred_probs
from labelaudit.core.context import Context
from labelaudit.core.filter import FILTERS, issue_rows
from labelaudit.core.rank import check_method, scores_of_block
from labelaudit.core.report import (
    Columns,
    Detection,
    Listing,
    Report,
    head,
    issue_gates,
    rate_line,
    score_gate,
)
from labelaudit.errors import InputError

AGGREGATORS = ("exponential_moving_average", "softmin", "mean", "min")
DEFAULT_ALPHA = 0.8


def check_multilabel(labels: ArrayLike, pred_probs: ArrayLike) -> tuple[NDArray[np.int8], np.ndarray]:
    """Validate a (N, K) 0/1 indicator matrix and (N, K) per-class probabilities."""
    y = np.asarray(labels)
    p = np.asarray(pred_probs)
    if p.ndim != 2 or p.shape[1] < 2:
        raise InputError(f"multi-label pred_probs must be (N, K) with K >= 2, got shape {p.shape}")
    if not np.issubdtype(p.dtype, np.floating):
        raise InputError(f"pred_probs must be floating point, got dtype {p.dtype}")
    if y.shape != p.shape:
        raise InputError(
            f"multi-label labels must be an (N, K) 0/1 matrix matching pred_probs {p.shape}, got {y.shape}"
        )
    if y.size and (
        y.dtype.kind not in "biuf" or y.min() < 0 or y.max() > 1 or (y.dtype.kind == "f" and (y % 1).any())
    ):
        raise InputError("multi-label labels must hold only 0 and 1")
    p = check_pred_probs(p, row_sums=False)  # the shared value policy; rows need not sum to 1
    if not y.any():
        raise InputError("multi-label labels are empty: no example carries any class")
    # Kept compact ((N, K) int64 would be 8x the int8 input); each class's column is widened on its own.
    return y.astype(np.int8, copy=False), p


def binary_view(pred_probs: np.ndarray, k: int) -> np.ndarray:
    """(N, 2) [P(class k absent), P(class k present)] in the dtype of pred_probs."""
    col = pred_probs[:, k]
    return np.column_stack([1 - col, col])


COLUMN_GROUP = 8  # classes whose columns are copied out together (one read of the matrix per group)


def _binary_contexts(y: np.ndarray, p: np.ndarray) -> Iterator[tuple[int, Context]]:
    """(k, Context of class k's binary problem) for every class, reading pred_probs one group of columns
    at a time: a strided column per class would read the whole matrix K times."""
    for k0 in range(0, p.shape[1], COLUMN_GROUP):
        cols = np.ascontiguousarray(p[:, k0 : k0 + COLUMN_GROUP].T)  # (group, N), contiguous columns
        labs = np.ascontiguousarray(y[:, k0 : k0 + COLUMN_GROUP].T)
        for i in range(len(cols)):
            col = cols[i]
            yield k0 + i, Context(labs[i].astype(np.int32), np.column_stack([1 - col, col]))


def _binary_context(y: np.ndarray, p: np.ndarray, k: int) -> Context:
    return Context(y[:, k].astype(np.int32), binary_view(p, k))


def per_class_scores(
    labels: ArrayLike,
    pred_probs: ArrayLike,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    _checked: bool = False,
) -> NDArray[np.float64]:
    """(N, K) float64: the score of each class's binary problem for each example (thresholds for the
    adjustment from that class's binary problem)."""
    check_method(method, adjust_pred_probs)
    y, p = (np.asarray(labels), np.asarray(pred_probs)) if _checked else check_multilabel(labels, pred_probs)
    out = np.empty(p.shape, dtype=np.float64)
    for k, ctx in _binary_contexts(y, p):
        t = ctx.thresholds if adjust_pred_probs else None
        out[:, k] = scores_of_block(ctx.pred_probs, ctx.labels, method, t)
    return out


def aggregate(
    scores: ArrayLike,
    method: str = "exponential_moving_average",
    *,
    alpha: float | None = None,
    temperature: float = 0.1,
) -> NDArray[np.float64]:
    """(N,) one score per example from (N, K) per-class scores.

    exponential_moving_average: sort each row descending, fold e = alpha * d_c + (1 - alpha) * e (the worst
    class weighs alpha; alpha None -> 2 / (K + 1)); softmin: sum of scores weighted by softmax((1 - s) / T);
    mean; min."""
    s = np.asarray(scores, dtype=np.float64)
    if method == "exponential_moving_average":
        a = 2 / (s.shape[1] + 1) if alpha is None else float(alpha)
        if not 0 <= a <= 1:
            raise InputError(f"alpha must be in [0, 1], got {a}")
        d = np.sort(s, axis=1)[:, ::-1]
        e = d[:, 0].copy()
        for c in range(1, d.shape[1]):
            e = a * d[:, c] + (1 - a) * e
        return e
    if method == "softmin":
        return _softmin_rows(s, temperature)
    if method == "mean":
        return s.mean(axis=1)
    if method == "min":
        return s.min(axis=1)
    raise InputError(f"aggregator must be one of {', '.join(AGGREGATORS)}; got {method!r}")


def _softmin_rows(s: np.ndarray, temperature: float) -> np.ndarray:
    x = (1 - s) / max(temperature, 1e-6)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    w = e / e.sum(axis=1, keepdims=True)
    return np.sum(s * w, axis=1)


def get_label_quality_scores(
    labels: ArrayLike,
    pred_probs: ArrayLike,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    aggregator: str = "exponential_moving_average",
    alpha: float | None = DEFAULT_ALPHA,
    temperature: float = 0.1,
) -> NDArray[np.float64]:
    """(N,) float64 multi-label label quality: per-class scores aggregated per example."""
    s = per_class_scores(labels, pred_probs, method=method, adjust_pred_probs=adjust_pred_probs)
    return aggregate(s, aggregator, alpha=alpha, temperature=temperature)


def confident_joint(labels: ArrayLike, pred_probs: ArrayLike, *, calibrate: bool = True) -> NDArray[np.int64]:
    """(K, 2, 2) int64 one-vs-rest confident joints: [k, a, b] counts examples whose given indicator of
    class k is a and whose confidently guessed indicator is b."""
    y, p = check_multilabel(labels, pred_probs)
    out = np.empty((p.shape[1], 2, 2), dtype=np.int64)
    for k in range(p.shape[1]):
        ctx = _binary_context(y, p, k)
        out[k] = ctx.confident_joint if calibrate else ctx.confident_joint_uncalibrated
    return out


def find_issues_per_class(
    labels: ArrayLike,
    pred_probs: ArrayLike,
    *,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: Sequence[float] | NDArray[Any] | None = None,
    min_examples_per_class: int = 1,
    _checked: bool = False,
) -> NDArray[np.bool_]:
    """(N, K) bool: column k flags the examples whose class-k indicator looks wrong (the multi-class
    filter on class k's binary problem; num_to_remove_per_class[k] applies to its "absent" side, as in the
    reference)."""
    if filter_by not in FILTERS:
        raise InputError(f"filter_by must be one of {', '.join(FILTERS)}; got {filter_by!r}")
    y, p = (np.asarray(labels), np.asarray(pred_probs)) if _checked else check_multilabel(labels, pred_probs)
    n, k_all = p.shape
    full = np.flatnonzero(y.all(axis=0))
    if len(full):
        raise InputError(f"class {int(full[0])} is present in every example: its labels cannot be audited")
    if num_to_remove_per_class is not None and len(num_to_remove_per_class) != k_all:
        raise InputError(f"num_to_remove_per_class must have {k_all} entries")
    mask = np.zeros((n, k_all), dtype=bool)
    for k, ctx in _binary_contexts(y, p):
        rows = issue_rows(
            ctx,
            filter_by=filter_by,
            frac_noise=frac_noise,
            num_to_remove_per_class=None
            if num_to_remove_per_class is None
            else [num_to_remove_per_class[k], 0],
            min_examples_per_class=min_examples_per_class,
        )
        mask[rows, k] = True
    return mask


@overload
def find_label_issues(
    labels: ArrayLike,
    pred_probs: ArrayLike,
    *,
    filter_by: str = "prune_by_noise_rate",
    return_indices_ranked_by: None = None,
    adjust_pred_probs: bool = False,
    frac_noise: float = 1.0,
    num_to_remove_per_class: Sequence[float] | NDArray[Any] | None = None,
    min_examples_per_class: int = 1,
    scores: NDArray[np.floating[Any]] | None = None,
) -> NDArray[np.bool_]: ...


@overload
def find_label_issues(
    labels: ArrayLike,
    pred_probs: ArrayLike,
    *,
    filter_by: str = "prune_by_noise_rate",
    return_indices_ranked_by: str,
    adjust_pred_probs: bool = False,
    frac_noise: float = 1.0,
    num_to_remove_per_class: Sequence[float] | NDArray[Any] | None = None,
    min_examples_per_class: int = 1,
    scores: NDArray[np.floating[Any]] | None = None,
) -> NDArray[np.int64]: ...


@overload
def find_label_issues(
    labels: ArrayLike,
    pred_probs: ArrayLike,
    *,
    filter_by: str = "prune_by_noise_rate",
    return_indices_ranked_by: str | None = None,
    adjust_pred_probs: bool = False,
    frac_noise: float = 1.0,
    num_to_remove_per_class: Sequence[float] | NDArray[Any] | None = None,
    min_examples_per_class: int = 1,
    scores: NDArray[np.floating[Any]] | None = None,
) -> NDArray[np.bool_] | NDArray[np.int64]: ...


def find_label_issues(
    labels: ArrayLike,
    pred_probs: ArrayLike,
    *,
    filter_by: str = "prune_by_noise_rate",
    return_indices_ranked_by: str | None = None,
    adjust_pred_probs: bool = False,
    frac_noise: float = 1.0,
    num_to_remove_per_class: Sequence[float] | NDArray[Any] | None = None,
    min_examples_per_class: int = 1,
    scores: NDArray[np.floating[Any]] | None = None,
) -> NDArray[np.bool_] | NDArray[np.int64]:
    """Examples with any class flagged: a bool mask (N,), or int64 indices ordered by the aggregated
    score (EMA, alpha 0.8) of `return_indices_ranked_by`.

    For the low_* filters the reference takes the number flagged by confident_learning and the lowest
    that many aggregated self-confidences (both low_* filters alike); ranked output is that set ordered
    by its own aggregated score (the reference returns a misaligned permutation here).

    `scores`: the aggregated (EMA, alpha 0.8) scores of `return_indices_ranked_by` over all rows, when the
    caller already has them; they order the other filters' output instead of being computed again."""
    y, p = check_multilabel(labels, pred_probs)
    if return_indices_ranked_by is not None:
        check_method(return_indices_ranked_by, adjust_pred_probs)
    if filter_by in ("low_self_confidence", "low_normalized_margin"):
        t = int(find_issues_per_class(y, p, filter_by="confident_learning", _checked=True).any(axis=1).sum())
        q = aggregate(per_class_scores(y, p, _checked=True), alpha=DEFAULT_ALPHA)
        rows = np.sort(sel.smallest_in_order(q, t))
        if return_indices_ranked_by is None:
            return _mask(rows, len(y))
        if len(rows) == 0:
            return rows.astype(np.int64)
        q2 = aggregate(
            per_class_scores(
                y[rows],
                p[rows],
                method=return_indices_ranked_by,
                adjust_pred_probs=adjust_pred_probs,
                _checked=True,
            ),
            alpha=DEFAULT_ALPHA,
        )
        return rows[sel.stable_order(q2)].astype(np.int64)
    per_class = find_issues_per_class(
        y,
        p,
        filter_by=filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
        _checked=True,
    )
    rows = np.flatnonzero(per_class.any(axis=1))
    if return_indices_ranked_by is None:
        return _mask(rows, len(y))
    ranking = scores
    if ranking is None:
        ranking = aggregate(
            per_class_scores(
                y, p, method=return_indices_ranked_by, adjust_pred_probs=adjust_pred_probs, _checked=True
            ),
            alpha=DEFAULT_ALPHA,
        )
    return rows[sel.stable_order(ranking[rows])].astype(np.int64)


def _mask(rows: np.ndarray, n: int) -> NDArray[np.bool_]:
    m = np.zeros(n, dtype=bool)
    m[rows] = True
    return m


# ---------------------------------------------------------------------------- dataset summaries


def common_issues(
    labels: ArrayLike, pred_probs: ArrayLike, *, per_class_mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per class two rows: (class, in given label, in suggested label, number of examples, issue
    probability = number / N), for 'given but should not be' and 'missing but should be'; sorted by
    probability descending, ties in class order (given-True row first)."""
    y, p = check_multilabel(labels, pred_probs)
    n, k_all = y.shape
    mask = per_class_mask if per_class_mask is not None else find_issues_per_class(y, p, _checked=True)
    present = (mask & (y == 1)).sum(axis=0)
    missing = (mask & (y == 0)).sum(axis=0)
    cls = np.repeat(np.arange(k_all), 2)
    counts = np.column_stack([present, missing]).ravel()
    table = {
        "class_index": cls,
        "in_given_label": np.tile([True, False], k_all),
        "in_suggested_label": np.tile([False, True], k_all),
        "n_examples": counts.astype(np.int64),
        "issue_probability": counts / n,
    }
    order = np.argsort(-table["issue_probability"], kind="stable")
    return {key: v[order] for key, v in table.items()}


def class_table(labels: ArrayLike, pred_probs: ArrayLike) -> dict[str, np.ndarray]:
    """Per class: label issues (given but wrong), inverse label issues (missing but right), their shares of
    N, and label quality = 1 - label noise; sorted by label quality ascending (ties in order of first
    appearance in the common-issues table, as the reference builds it)."""
    common = common_issues(labels, pred_probs)
    n = len(np.asarray(labels))
    first: list[int] = []
    rec: dict[int, dict[str, Any]] = {}
    for c, given, prob in zip(
        common["class_index"].tolist(),
        common["in_given_label"].tolist(),
        common["issue_probability"].tolist(),
        strict=True,
    ):
        r = rec.setdefault(
            c, {"label_issues": 0, "inverse_label_issues": 0, "label_noise": 0.0, "inverse_label_noise": 0.0}
        )
        if c not in first:
            first.append(c)
        if given:
            r["label_issues"], r["label_noise"] = int(prob * n), prob
        else:
            r["inverse_label_issues"], r["inverse_label_noise"] = int(prob * n), prob
    table = {
        "class_index": np.array(first, dtype=np.int64),
        "label_issues": np.array([rec[c]["label_issues"] for c in first], dtype=np.int64),
        "inverse_label_issues": np.array([rec[c]["inverse_label_issues"] for c in first], dtype=np.int64),
        "label_noise": np.array([rec[c]["label_noise"] for c in first]),
        "inverse_label_noise": np.array([rec[c]["inverse_label_noise"] for c in first]),
    }
    table["label_quality_score"] = 1 - table["label_noise"]
    order = np.argsort(table["label_quality_score"], kind="stable")
    return {key: v[order] for key, v in table.items()}


def health_score(labels: ArrayLike, pred_probs: ArrayLike) -> float:
    """1 - (examples with any flagged class) / N."""
    mask = find_label_issues(labels, pred_probs)
    return 1.0 - float(mask.sum()) / len(mask)


# ---------------------------------------------------------------------------- reports


def _names(class_names: Sequence[str] | None, idx: NDArray[np.integer]) -> list[str] | list[int]:
    return [class_names[i] for i in idx] if class_names else [int(i) for i in idx]


def _example_rows(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    rows: np.ndarray,
    scores: np.ndarray,
    class_names: Sequence[str] | None,
) -> Columns:
    return {
        "index": rows.astype(np.int64),
        "given_labels": [_names(class_names, np.flatnonzero(labels[i])) for i in rows],
        "predicted_labels": [_names(class_names, np.flatnonzero(pred_probs[i] >= 0.5)) for i in rows],
        "label_quality": np.asarray(scores[rows], dtype=np.float64),
        "is_label_issue": np.ones(len(rows), dtype=bool),
    }


class _FilterOptions(TypedDict):
    """The keyword arguments that find_label_issues and find_issues_per_class share."""

    filter_by: str
    frac_noise: float
    num_to_remove_per_class: Sequence[float] | NDArray[Any] | None
    min_examples_per_class: int


def find_report(
    labels: Any,
    pred_probs: Any,
    detection: Detection = Detection(),
    listing: Listing = Listing(),
    *,
    per_class: bool = False,
    class_names: list[str] | None = None,
) -> Report:
    """find-issues --task multilabel: flagged examples (or, `per_class`, flagged (example, class) pairs)
    most severe first; gates count examples with an issue."""
    y, p = check_multilabel(labels, pred_probs)
    n, k = p.shape
    d, top = detection, listing.top
    filter_by, rank_by, adjust_pred_probs = d.filter_by, d.rank_by, d.adjust_pred_probs
    kw: _FilterOptions = {
        "filter_by": filter_by,
        "frac_noise": d.frac_noise,
        "num_to_remove_per_class": d.num_to_remove_per_class,
        "min_examples_per_class": d.min_examples_per_class,
    }
    if per_class:
        if filter_by in ("low_self_confidence", "low_normalized_margin"):
            raise InputError("--per-class does not support the low_* filters")
        issue_mask = find_issues_per_class(y, p, **kw)
        s = per_class_scores(y, p, method=rank_by, adjust_pred_probs=adjust_pred_probs)
        ex, cl = np.nonzero(issue_mask)
        order = np.lexsort((cl, ex, s[ex, cl]))
        ex, cl = ex[order], cl[order]
        n_issues = len(ex)
        ex_l, cl_l = head({"e": ex, "c": cl}, top).values()
        cols: Columns = {
            "index": ex_l.astype(np.int64),
            "class": cl_l.astype(np.int64),
            "class_name": _names(class_names, cl_l),
            "given": y[ex_l, cl_l].astype(bool),
            "predicted_probability": p[ex_l, cl_l].astype(np.float64),
            "label_quality": s[ex_l, cl_l],
        }
        npy = issue_mask
        counted = int(issue_mask.any(axis=1).sum())
    else:
        scores = get_label_quality_scores(y, p, method=rank_by, adjust_pred_probs=adjust_pred_probs)
        ranked = find_label_issues(
            y, p, return_indices_ranked_by=rank_by, adjust_pred_probs=adjust_pred_probs, scores=scores, **kw
        )
        n_issues = counted = len(ranked)
        listed = ranked if top is None else ranked[:top]
        cols = _example_rows(y, p, listed, scores, class_names)
        npy = listed.astype(np.int64)
        if listing.mask:
            npy = _mask(listed, n)
    params = {**d.params(), "top": top, "task": "multilabel", "per_class": per_class}
    return Report(
        command="find-issues",
        params=params,
        n=n,
        k=k,
        class_names=class_names,
        headline=rate_line(counted, n, "examples with label issues", "examples"),
        tables={"issues": cols},
        results={"n_issues": n_issues, "issue_rate": counted / n},
        gates=issue_gates(counted, n, listing.max_issues, listing.max_issue_rate),
        npy=npy,
        views=("plain:issues",),
        total=n_issues,
    )


def rank_report(
    labels: ArrayLike,
    pred_probs: ArrayLike,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    per_class: bool = False,
    aggregator: str = "exponential_moving_average",
    alpha: float = DEFAULT_ALPHA,
    temperature: float = 0.1,
    top: int | None = None,
    class_names: list[str] | None = None,
) -> Report:
    """rank --task multilabel: the aggregated score of every example (per class with `per_class`) and the
    examples find-issues flags, lowest score first."""
    y, p = check_multilabel(labels, pred_probs)
    n, k = p.shape
    s = per_class_scores(y, p, method=method, adjust_pred_probs=adjust_pred_probs)
    scores = aggregate(s, aggregator, alpha=alpha, temperature=temperature)
    flagged = find_label_issues(y, p)
    ranked = np.flatnonzero(flagged)[np.argsort(scores[flagged], kind="stable")]
    listed = ranked if top is None else ranked[:top]
    file_table = (
        {f"class_{c}": s[:, c] for c in range(k)}
        if per_class
        else _example_rows(y, p, np.arange(n), scores, class_names)
    )
    results: dict[str, Any] = {
        "n_issues": len(ranked),
        "issue_rate": len(ranked) / n,
        "scores": scores.tolist(),
    }
    if per_class:
        results["per_class_scores"] = s.tolist()
    params = {
        "method": method,
        "adjust_pred_probs": adjust_pred_probs,
        "top": top,
        "task": "multilabel",
        "aggregator": aggregator,
        "alpha": alpha,
        "temperature": temperature,
    }
    return Report(
        command="rank",
        params=params,
        n=n,
        k=k,
        class_names=class_names,
        headline=f"scored {n} examples ({len(ranked)} flagged, ordered by the aggregated score)",
        tables={"issues": _example_rows(y, p, listed, scores, class_names)},
        results=results,
        npy=s if per_class else scores,
        file_table=file_table,
        views=("plain:issues",),
        total=len(ranked),
    )


def health_report(
    labels: ArrayLike,
    pred_probs: ArrayLike,
    *,
    fail_under: float | None = None,
    class_names: list[str] | None = None,
) -> Report:
    """health --task multilabel: the health score, per-class table and the most common issues."""
    y, p = check_multilabel(labels, pred_probs)
    classes: Columns = class_table(y, p)
    common: Columns = common_issues(y, p)
    score = health_score(y, p)
    if class_names:
        classes = {"class_name": _names(class_names, classes["class_index"]), **classes}
        common = {"class_name": _names(class_names, common["class_index"]), **common}
    return Report(
        command="health",
        params={"task": "multilabel", "fail_under": fail_under},
        n=p.shape[0],
        k=p.shape[1],
        class_names=class_names,
        headline=f"multi-label health score {score:.4f}",
        tables={"classes": classes, "common_issues": common},
        results={"health_score": score},
        gates=score_gate("fail_under", "health score {}", score, fail_under, below=True),
        views=(
            "score",
            "plain:classes:Classes, most problematic first",
            "plain:common_issues:Common issues (class in given label -> in suggested label)",
        ),
    )
