"""Label quality scores of an ensemble of models: each model's scores, combined with member weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core.checks import check_inputs
from labelaudit.core.constants import C_MIN
from labelaudit.core.context import Context
from labelaudit.core.rank import check_method, scores_for_rows
from labelaudit.errors import InputError

WEIGHTINGS = ("accuracy", "uniform", "log_loss_search", "custom")
LOG_LOSS_T_VALUES = (1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 200)


@dataclass(frozen=True)
class EnsembleScores:
    scores: NDArray[np.float64]  # (N,) float64 combined score
    member_scores: NDArray[np.floating[Any]]  # (M, N), one row per model, in the scores' dtype
    weights: NDArray[np.float64]  # (M,) weights used (as given for "custom": not normalised)


def log_loss(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean -ln P[i, y_i], probabilities clipped to [eps, 1 - eps] with eps the dtype's machine epsilon.

    Raises when probabilities leave [0, 1] or when some class never occurs in the labels (the reference's
    log-loss refuses both)."""
    if probs.min() < 0 or probs.max() > 1:
        raise InputError("log-loss needs probabilities in [0, 1] (a weighted member average left that range)")
    k = probs.shape[1]
    present = np.unique(labels)
    if len(present) != k:
        raise InputError(
            f"log_loss_search needs every class in the labels: {k - len(present)} of K={k} classes are absent"
        )
    eps = np.finfo(probs.dtype).eps
    p = np.clip(probs[np.arange(len(labels)), labels], eps, 1 - eps)
    return float(np.mean(-np.log(p)))


def log_loss_weights(
    labels: np.ndarray, members: list[np.ndarray], t_values: Sequence[float] = LOG_LOSS_T_VALUES
) -> NDArray[np.float64]:
    """Member weights softmax(-T * log-loss) for the T whose weighted average has the lowest log-loss
    (first T wins ties). Computed as a shifted softmax, so large T never underflow to NaN (where the
    reference library would crash, it gets the same weights whenever it does not)."""
    member_losses = []
    for p in members:
        q = np.maximum(p, C_MIN)
        q = q / q.sum(axis=1, keepdims=True)
        member_losses.append(log_loss(labels, q))
    losses = np.array(member_losses)
    best, kept = np.inf, None
    for t in t_values:
        v = np.exp(-t * losses - np.max(-t * losses)) if _underflows(t, losses) else np.exp(-t * losses)
        w = v / _left_sum(v)
        avg = members[0] * w[0]
        for m in range(1, len(members)):
            avg = avg + members[m] * w[m]
        e = log_loss(labels, avg)
        if e < best:
            best, kept = e, w
    if kept is None:
        raise InputError("log_loss_search needs at least one T value")
    return kept


def _underflows(t: float, losses: np.ndarray) -> bool:
    return not np.all(np.isfinite(np.exp(-t * losses))) or np.exp(-t * losses).sum() == 0


def _left_sum(v: np.ndarray) -> float:
    total = 0.0
    for x in v:
        total += x
    return total


@overload
def get_label_quality_ensemble_scores(
    labels: ArrayLike,
    pred_probs_list: Sequence[NDArray[np.floating[Any]]],
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    weight_ensemble_members_by: str = "accuracy",
    custom_weights: Sequence[float] | NDArray[np.floating[Any]] | None = None,
    log_loss_search_T_values: Sequence[float] = LOG_LOSS_T_VALUES,
    batch_size: int | None = None,
    return_details: Literal[False] = False,
) -> NDArray[np.float64]: ...


@overload
def get_label_quality_ensemble_scores(
    labels: ArrayLike,
    pred_probs_list: Sequence[NDArray[np.floating[Any]]],
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    weight_ensemble_members_by: str = "accuracy",
    custom_weights: Sequence[float] | NDArray[np.floating[Any]] | None = None,
    log_loss_search_T_values: Sequence[float] = LOG_LOSS_T_VALUES,
    batch_size: int | None = None,
    return_details: Literal[True],
) -> EnsembleScores: ...


@overload
def get_label_quality_ensemble_scores(
    labels: ArrayLike,
    pred_probs_list: Sequence[NDArray[np.floating[Any]]],
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    weight_ensemble_members_by: str = "accuracy",
    custom_weights: Sequence[float] | NDArray[np.floating[Any]] | None = None,
    log_loss_search_T_values: Sequence[float] = LOG_LOSS_T_VALUES,
    batch_size: int | None = None,
    return_details: bool,
) -> NDArray[np.float64] | EnsembleScores: ...


def get_label_quality_ensemble_scores(
    labels: ArrayLike,
    pred_probs_list: Sequence[NDArray[np.floating[Any]]],
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    weight_ensemble_members_by: str = "accuracy",
    custom_weights: Sequence[float] | NDArray[np.floating[Any]] | None = None,
    log_loss_search_T_values: Sequence[float] = LOG_LOSS_T_VALUES,
    batch_size: int | None = None,
    return_details: bool = False,
) -> NDArray[np.float64] | EnsembleScores:
    """(N,) combined label quality score of several models' pred_probs (each (N, K)).

    Weights: "accuracy" (each model's accuracy, normalised), "uniform", "log_loss_search" (a softmax of
    -T x log-loss, T chosen by the log-loss of the weighted average) or "custom" (`custom_weights` as
    given, not normalised). With return_details, an EnsembleScores with every member's scores."""
    if not isinstance(pred_probs_list, (list, tuple)) or len(pred_probs_list) == 0:
        raise InputError("pred_probs_list must be a non-empty list of (N, K) arrays")
    check_method(method, adjust_pred_probs)
    if weight_ensemble_members_by not in WEIGHTINGS:
        raise InputError(f"weight_ensemble_members_by must be one of {', '.join(WEIGHTINGS)}")
    if custom_weights is not None and weight_ensemble_members_by != "custom":
        raise InputError("custom_weights is only used with weight_ensemble_members_by='custom'")
    members = []
    for i, p in enumerate(pred_probs_list):
        try:
            members.append(check_inputs(labels, p, batch_size=batch_size))
        except InputError as exc:
            raise InputError(f"model {i}: {exc}") from None
    shapes = {m[1].shape for m in members}
    if len(shapes) > 1:
        raise InputError(f"all models must have the same (N, K); got {sorted(shapes)}")
    y = members[0][0]
    ctxs = [Context(y, p, batch_size) for _, p in members]
    raw = member_weights(
        y, ctxs, weight_ensemble_members_by, custom_weights=custom_weights, t_values=log_loss_search_T_values
    )
    details = _combined(ctxs, raw, weight_ensemble_members_by, method, adjust_pred_probs)
    return details if return_details else details.scores


def member_weights(
    labels: NDArray[np.integer[Any]],
    members: Sequence[Context],
    weight_by: str,
    *,
    custom_weights: Sequence[float] | NDArray[np.floating[Any]] | None = None,
    t_values: Sequence[float] = LOG_LOSS_T_VALUES,
) -> NDArray[np.float64]:
    """Each model's raw weight, computed once per run: its accuracy, 1 (uniform), the log-loss softmax,
    or the custom weights as given (one per model, finite and >= 0, not all 0)."""
    m = len(members)
    if weight_by == "uniform":
        return np.ones(m)
    if weight_by == "accuracy":
        return np.array([np.mean(c.predicted() == labels) for c in members], dtype=np.float64)
    if weight_by == "custom":
        if custom_weights is None or len(custom_weights) != m:
            raise InputError(f"custom weighting needs one weight per model ({m})")
        w = np.asarray(custom_weights, dtype=np.float64)
        if not np.isfinite(w).all() or (w < 0).any() or not w.any():
            raise InputError(f"custom weights must be finite, >= 0 and not all 0; got {w.tolist()}")
        return w
    return np.asarray(log_loss_weights(labels, [c.pred_probs for c in members], t_values), dtype=np.float64)


def _combined(
    members: Sequence[Context], raw: NDArray[np.float64], weight_by: str, method: str, adjust: bool
) -> EnsembleScores:
    """EnsembleScores from the members' scores and raw weights (accuracies normalised to sum 1)."""
    scores = np.stack([np.asarray(scores_for_rows(c, None, method, adjust)) for c in members])
    weights = raw / raw.sum() if weight_by == "accuracy" else raw
    m = len(members)
    # Members are summed strictly left to right, as the reference accumulates them; the uniform mean
    # stays in the scores' dtype (float32 scores give a float32 mean), weighted sums are float64.
    if weight_by == "uniform":
        combined = scores[0].copy()
        for i in range(1, m):
            combined += scores[i]
        combined = (combined / m).astype(np.float64)
    else:
        combined = np.zeros(scores.shape[1], dtype=np.float64)
        for i in range(m):
            combined += scores[i] * weights[i]
    return EnsembleScores(combined, scores, weights)


@dataclass(frozen=True)
class EnsembleModel:
    """Several models of one dataset: detection runs on `context`, their weighted average; rankings use
    the members' combined score. Weights are computed once, here."""

    context: Context
    members: tuple[Context, ...]
    weight_by: str
    raw_weights: NDArray[np.float64]
    paths: tuple[str, ...]


def build_ensemble(
    labels: NDArray[np.integer[Any]],
    members: Sequence[Context],
    *,
    weight_by: str = "accuracy",
    custom_weights: Sequence[float] | None = None,
    paths: Sequence[str] = (),
    batch_size: int | None = None,
    n_jobs: int | None = 1,
) -> EnsembleModel:
    """An EnsembleModel of validated member contexts (same labels, same (N, K))."""
    if weight_by not in WEIGHTINGS:
        raise InputError(f"weight_ensemble_members_by must be one of {', '.join(WEIGHTINGS)}")
    if weight_by == "custom" and custom_weights is None:
        raise InputError("--weight-by custom needs --weights")
    raw = member_weights(labels, members, weight_by, custom_weights=custom_weights)
    average = Context(labels, average_pred_probs([c.pred_probs for c in members], raw), batch_size, n_jobs)
    return EnsembleModel(average, tuple(members), weight_by, raw, tuple(paths))


def ensemble_scores(model: EnsembleModel, method: str, adjust: bool) -> EnsembleScores:
    return _combined(model.members, model.raw_weights, model.weight_by, method, adjust)


def average_pred_probs(members: Sequence[ArrayLike], weights: ArrayLike) -> NDArray[np.float64]:
    """The ensemble's own pred_probs: members averaged with weights normalised to sum 1."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    out = np.asarray(members[0], dtype=np.float64) * w[0]
    for i in range(1, len(members)):
        out += np.asarray(members[i], dtype=np.float64) * w[i]
    return out
