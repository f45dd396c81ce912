"""Label issues of multi-class data as Reports: find-issues (one model or an ensemble, in memory or
streamed) and rank. The command line renders these; every count, score and gate is made here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from labelaudit.core.baseline import Baseline
from labelaudit.core.context import BaseContext
from labelaudit.core.ensemble import EnsembleModel, EnsembleScores, ensemble_scores
from labelaudit.core.filter import issue_rows
from labelaudit.core.rank import check_method, order_rows, scores_for_rows
from labelaudit.core.report import Columns, Detection, Listing, Report, head, issue_gates, named, rate_line


def example_rows(
    ctx: BaseContext, rows: np.ndarray, *, method: str = "self_confidence", adjust_pred_probs: bool = False
) -> Columns:
    """Columns index, given_label, predicted_label (first argmax), label_quality (float64) for `rows`,
    in the order given."""
    rows = np.asarray(rows, dtype=np.int64)
    return {
        "index": rows,
        "given_label": ctx.labels[rows].astype(np.int64),
        "predicted_label": ctx.predicted(rows),
        "label_quality": np.asarray(scores_for_rows(ctx, rows, method, adjust_pred_probs), dtype=np.float64),
    }


def _npy(ranked: np.ndarray, n: int, mask: bool) -> np.ndarray:
    if not mask:
        return ranked.astype(np.int64)
    out = np.zeros(n, dtype=bool)
    out[ranked] = True
    return out


def _use_ensemble(
    ctx: BaseContext, model: EnsembleModel | None, method: str, adjust: bool, params: dict[str, Any]
) -> EnsembleScores | None:
    """Store the ensemble's combined score as the context's score for `method`: it replaces the single
    model's score in every ranking and row below."""
    if model is None:
        return None
    details = ensemble_scores(model, method, adjust)
    ctx.stored_scores[(method, adjust)] = details.scores
    params["models"] = {
        "paths": list(model.paths),
        "weight_by": model.weight_by,
        "weights": list(details.weights),
    }
    return details


def _member_columns(cols: Columns, details: EnsembleScores | None, rows: np.ndarray) -> None:
    if details is not None:
        for i, s in enumerate(details.member_scores):
            cols[f"score_model_{i}"] = s[rows].astype("float64")


def find_issues(
    ctx: BaseContext,
    detection: Detection = Detection(),
    listing: Listing = Listing(),
    *,
    baseline: Baseline | None = None,
    class_names: Sequence[str] | None = None,
    ids: np.ndarray | None = None,
    ensemble: EnsembleModel | None = None,
) -> Report:
    """find-issues on a validated context (for an ensemble: the context of its weighted average, whose
    detection runs there while the ranking uses the ensemble's combined score)."""
    d = detection
    check_method(d.rank_by, d.adjust_pred_probs)
    params = {**d.params(), "top": listing.top}
    flagged = issue_rows(
        ctx,
        filter_by=d.filter_by,
        frac_noise=d.frac_noise,
        num_to_remove_per_class=d.num_to_remove_per_class,
        min_examples_per_class=d.min_examples_per_class,
    )
    details = _use_ensemble(ctx, ensemble, d.rank_by, d.adjust_pred_probs, params)
    ranked = order_rows(ctx, flagged, d.rank_by, d.adjust_pred_probs)
    listed = head({"i": ranked}, listing.top)["i"]
    n_issues = len(ranked)
    headline = rate_line(n_issues, ctx.n, "label issues", "examples")
    results: dict[str, Any] = {"n_issues": n_issues, "issue_rate": n_issues / ctx.n}
    cols: Columns = {}
    counted, what = n_issues, "issues"
    if listing.rows or baseline is not None:
        # Against a baseline every flagged row is compared; the listing is cut to --top afterwards.
        shown = ranked if baseline is not None else listed
        cols = example_rows(ctx, shown, method=d.rank_by, adjust_pred_probs=d.adjust_pred_probs)
        cols["is_label_issue"] = np.ones(len(shown), dtype=bool)
        _member_columns(cols, details, shown)
        if baseline is not None:
            diff = baseline.compare(cols["index"], ids, params)
            cols["status"] = np.where(diff.is_new, "new", "persisting")
            counted, what = diff.n_new, "new issues"
            headline += f"; versus baseline: {diff.n_new} new, {len(diff.fixed)} fixed, {diff.n_persisting} persisting"
            results["baseline"] = baseline.summary(diff)
            cols = head(cols, listing.top)
        cols = named(cols, class_names, ids)
    return Report(
        command="find-issues",
        params=params,
        n=ctx.n,
        k=ctx.k,
        class_names=list(class_names) if class_names is not None else None,
        headline=headline,
        tables={"issues": cols},
        results=results,
        gates=issue_gates(counted, ctx.n, listing.max_issues, listing.max_issue_rate, what),
        npy=_npy(listed, ctx.n, listing.mask),
        views=("issues",),
        total=n_issues,
    )


def rank(
    ctx: BaseContext,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    given: np.ndarray | None = None,
    order_issues: str | None = None,
    top: int | None = None,
    class_names: Sequence[str] | None = None,
    ids: np.ndarray | None = None,
    ensemble: EnsembleModel | None = None,
    all_rows: bool = False,
    all_scores: bool = False,
) -> Report:
    """rank: the label quality of every example, and the flagged set (find-issues' defaults, or `given`
    increasing indices) ordered most severe first. `all_scores` adds every score to the results and
    makes a .npy output hold them; `all_rows` makes a table output hold one row per example."""
    check_method(method, adjust_pred_probs)
    params: dict[str, Any] = {
        "method": method,
        "adjust_pred_probs": adjust_pred_probs,
        "order_issues": order_issues,
        "top": top,
    }
    flagged = issue_rows(ctx) if given is None else given
    details = _use_ensemble(ctx, ensemble, method, adjust_pred_probs, params)
    ranked = order_rows(ctx, flagged, method, adjust_pred_probs)
    listed = head({"i": ranked}, top)["i"]
    cols = example_rows(ctx, listed, method=method, adjust_pred_probs=adjust_pred_probs)
    cols["is_label_issue"] = np.ones(len(listed), dtype=bool)
    _member_columns(cols, details, listed)
    results: dict[str, Any] = {"n_issues": len(ranked), "issue_rate": len(ranked) / ctx.n}
    npy = listed.astype(np.int64)
    file_table = None
    if given is None and (all_scores or all_rows):
        scores = np.asarray(scores_for_rows(ctx, None, method, adjust_pred_probs), dtype=np.float64)
        npy = scores
        if all_scores:
            results["scores"] = scores.tolist()
            if details is not None:
                results["model_scores"] = [m.astype(float).tolist() for m in details.member_scores]
        if all_rows:
            every = np.arange(ctx.n)
            file_table = example_rows(ctx, every, method=method, adjust_pred_probs=adjust_pred_probs)
            is_issue = np.zeros(ctx.n, dtype=bool)
            is_issue[flagged] = True
            file_table["is_label_issue"] = is_issue
            _member_columns(file_table, details, every)
            file_table = named(file_table, class_names, ids)
    return Report(
        command="rank",
        params=params,
        n=ctx.n,
        k=ctx.k,
        class_names=list(class_names) if class_names is not None else None,
        headline=f"scored {ctx.n} examples ({len(ranked)} flagged, ordered by {method})",
        tables={"issues": named(cols, class_names, ids)},
        results=results,
        npy=npy,
        file_table=file_table,
        views=("issues",),
        total=len(ranked),
    )


def streamed_issues(
    command: str,
    ranked: np.ndarray,
    info: dict[str, Any],
    *,
    params: dict[str, Any],
    n: int,
    k: int,
    listing: Listing = Listing(),
    class_names: Sequence[str] | None = None,
    ids_of: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Report:
    """The Report of a streamed run (batched, find-issues --low-memory) from its ranked indices and the
    per-example labels, predictions and scores the engine kept (`ids_of(rows)`: the ids of those rows,
    when the input has ids; only the listed rows' are asked for)."""
    listed = head({"i": ranked}, listing.top)["i"]
    cols: Columns = {} if ids_of is None else {"id": ids_of(listed)}
    cols |= {
        "index": listed,
        "given_label": info["labels"][listed].astype(np.int64),
        "predicted_label": info["predicted"][listed].astype(np.int64),
        "label_quality": np.asarray(info["scores"][listed], dtype=np.float64),
        "is_label_issue": np.ones(len(listed), dtype=bool),
    }
    n_issues = len(ranked)
    results: dict[str, Any] = {"n_issues": n_issues, "issue_rate": n_issues / n}
    if "estimated_issues" in info:
        results["estimated_issues"] = info["estimated_issues"]
    return Report(
        command=command,
        params=params,
        n=n,
        k=k,
        class_names=list(class_names) if class_names is not None else None,
        headline=rate_line(n_issues, n, "label issues", "examples"),
        tables={"issues": named(cols, class_names)},
        results=results,
        gates=issue_gates(n_issues, n, listing.max_issues, listing.max_issue_rate),
        npy=_npy(listed, n, listing.mask),
        views=("issues",),
        total=n_issues,
    )
