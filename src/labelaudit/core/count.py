"""Confident learning counts: class thresholds, the confident joint, its calibration, the joint, the
latent prior and noise matrices, and the number of label issues.

Shapes: labels (N,) int, pred_probs (N, K) float. Matrices are (K, K) with rows = given label.
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core import confident as kn
from labelaudit.core.checks import check_inputs, check_labels
from labelaudit.core.confident import class_counts
from labelaudit.core.constants import C_MIN, EPS, NR_MAX, PY_MIN_CONV, TINY
from labelaudit.errors import InputError

ESTIMATION_METHODS = ("off_diagonal", "off_diagonal_calibrated")
PY_METHODS = ("cnt", "eqn", "marginal", "marginal_ps")
_INT64_MIN = np.iinfo(np.int64).min


# ---------------------------------------------------------------------------- thresholds and joint


def get_confident_thresholds(
    labels: ArrayLike, pred_probs: NDArray[np.floating[Any]], *, batch_size: int | None = None
) -> NDArray[np.floating[Any]]:
    """(K,) mean self-confidence per given class; T_MIN floor; 2 for a class absent from the labels."""
    y, p = check_inputs(labels, pred_probs, batch_size=batch_size)
    k = p.shape[1]
    return kn.class_thresholds(kn.gather_self_confidence(y, p, batch_size), y, class_counts(y, k))


def _floored(cj: np.ndarray) -> np.ndarray:
    cj = cj.copy()
    np.fill_diagonal(cj, np.maximum(np.diagonal(cj), 1))
    return cj


@overload
def compute_confident_joint(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    thresholds: ArrayLike | None = None,
    calibrate: bool = True,
    return_indices_of_off_diagonals: Literal[False] = False,
    batch_size: int | None = None,
) -> NDArray[np.int64]: ...


@overload
def compute_confident_joint(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    thresholds: ArrayLike | None = None,
    calibrate: bool = True,
    return_indices_of_off_diagonals: Literal[True],
    batch_size: int | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.intp]]: ...


@overload
def compute_confident_joint(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    thresholds: ArrayLike | None = None,
    calibrate: bool = True,
    return_indices_of_off_diagonals: bool,
    batch_size: int | None = None,
) -> NDArray[np.int64] | tuple[NDArray[np.int64], NDArray[np.intp]]: ...


def compute_confident_joint(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    thresholds: ArrayLike | None = None,
    calibrate: bool = True,
    return_indices_of_off_diagonals: bool = False,
    batch_size: int | None = None,
) -> NDArray[np.int64] | tuple[NDArray[np.int64], NDArray[np.intp]]:
    """(K, K) int64 confident joint: CJ[a, b] counts examples labelled a that are confidently class b.

    An example is confident for class j when P[i, j] >= t_j - 1e-6; with one such class it is counted
    there, with several it is counted at the argmax of its whole row. Every diagonal cell is floored at 1.
    With `return_indices_of_off_diagonals`, also returns the increasing indices counted off the diagonal.
    """
    cj, rp = _confident_joint(labels, pred_probs, thresholds, calibrate, batch_size)
    if return_indices_of_off_diagonals:
        return cj, np.flatnonzero(rp.off_diagonal)
    return cj


def _confident_joint(
    labels: object,
    pred_probs: object,
    thresholds: ArrayLike | None,
    calibrate: bool,
    batch_size: int | None,
) -> tuple[NDArray[np.int64], kn.RowPass]:
    """compute_confident_joint's work on inputs still to be validated: the joint and the row pass."""
    y, p = check_inputs(labels, pred_probs, batch_size=batch_size)
    k = p.shape[1]
    if thresholds is None:
        t = kn.class_thresholds(kn.gather_self_confidence(y, p, batch_size), y, class_counts(y, k))
    else:
        t = np.asarray(thresholds)
        if t.shape != (k,):
            raise InputError(f"thresholds must have shape ({k},), got {t.shape}")
    rp = kn.confident_rows(y, p, t, batch_size)
    cj = _floored(rp.confident_joint)
    if calibrate:
        cj = calibrate_confident_joint(cj, y, _column_major=True)
    return cj, rp


def calibrate_confident_joint(
    confident_joint: ArrayLike, labels: ArrayLike, *, _column_major: bool = False
) -> NDArray[np.int64]:
    """Rescale each row of CJ to the class count n_a and the total to N, then round each row to integers
    that keep its (rounded) total. Returns int64 (K, K).

    `_column_major` reproduces the summation order of a joint built internally (stored column-major):
    it decides the last bit of the normalising sum and hence ties in the rounding.
    """
    cj = np.asarray(confident_joint)
    k = len(cj)
    y = check_labels(labels, n_classes=max(k, 1))
    n = class_counts(y, k)
    if _column_major:
        cj = np.asfortranarray(cj)
    row_totals = cj.sum(axis=1)
    a = cj / np.maximum(row_totals, TINY)[:, None] * n[:, None]
    total = a.sum()
    b = a / max(total, TINY) * n.sum()
    return round_rows(b)


def round_rows(matrix: ArrayLike) -> NDArray[np.int64]:
    """Round each row half-to-even, then move units so the row total equals its own rounded sum.

    Units go to the largest residuals when adding (ties: highest index first) and are taken from the
    smallest residuals when removing (ties: lowest index first). A row with NaN/inf is left unrepaired
    and its non-finite entries become the most negative int64.
    """
    m = np.asarray(matrix, dtype=np.float64)
    out = np.empty(m.shape, dtype=np.int64)
    for i in range(m.shape[0]):
        v = m[i]
        r = np.rint(v)
        target = np.rint(v.sum())
        cur = np.rint(r.sum())
        while abs(cur - target) > EPS:
            d = np.rint(target - cur)
            step = -1 if d < 0 else 1
            count = int(min(abs(d), len(v)))
            order = np.argsort(v - r, kind="stable")
            if step > 0:
                order = order[::-1]
            r[order[:count]] += step
            cur = np.rint(r.sum())
        finite = np.isfinite(r)
        out[i] = np.where(finite, r, 0).astype(np.int64)
        out[i, ~finite] = _INT64_MIN
    return out


def estimate_joint(
    labels: ArrayLike | None,
    pred_probs: NDArray[np.floating[Any]] | None,
    *,
    confident_joint: ArrayLike | None = None,
    batch_size: int | None = None,
) -> NDArray[np.float64]:
    """(K, K) float64 joint distribution of (given, true) labels: the calibrated CJ over its total.

    A supplied confident_joint is re-calibrated with the labels (as the reference library does)."""
    if confident_joint is None:
        cjc, _ = _confident_joint(labels, pred_probs, None, True, batch_size)
    elif labels is not None:
        cjc = calibrate_confident_joint(confident_joint, labels)
    else:
        cjc = np.asarray(confident_joint)
    return cjc / max(float(cjc.sum()), TINY)


# ---------------------------------------------------------------------------- latent estimates


def clip_noise_rates(matrix: ArrayLike) -> NDArray[np.float64]:
    """Clip off-diagonal entries into [0, 0.9999], keep the diagonal, make every column sum to 1."""
    m = np.asarray(matrix, dtype=np.float64)
    diag = np.diagonal(m).copy()
    out = np.clip(m, 0, NR_MAX)
    np.fill_diagonal(out, diag)
    return out / np.maximum(out.sum(axis=0), TINY)


def clip_values(x: np.ndarray, low: float, high: float, new_sum: float) -> np.ndarray:
    x = np.clip(x, low, high)
    return x * new_sum / max(float(x.sum()), TINY)


def _prior(
    ps: np.ndarray, nm: np.ndarray, inv: np.ndarray, method: str, true_totals: np.ndarray | None = None
) -> np.ndarray:
    if method == "cnt":
        py = np.diagonal(inv) / np.maximum(np.diagonal(nm), TINY) * ps
    elif method == "eqn":
        py = np.linalg.inv(nm).dot(ps)
    elif method == "marginal":
        if true_totals is None:
            raise InputError("py_method 'marginal' needs the confident joint's column totals")
        py = true_totals / max(float(true_totals.sum()), TINY)
    elif method == "marginal_ps":
        py = np.dot(inv, ps)
    else:
        raise InputError(f"py_method must be one of {', '.join(PY_METHODS)}; got {method!r}")
    return clip_values(py, C_MIN, 1.0, 1.0)


def estimate_latent(
    confident_joint: ArrayLike,
    labels: ArrayLike,
    *,
    py_method: str = "cnt",
    converge_latent_estimates: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """From a (calibrated) CJ: prior P(true) (K,), noise matrix P(given | true) (K, K) and inverse noise
    matrix P(true | given) (K, K), both with columns summing to 1. Returns (py, noise, inverse_noise)."""
    cj = np.asarray(confident_joint)
    k = len(cj)
    y = check_labels(labels, n_classes=k)
    ps = class_counts(y, k) / float(len(y))
    given_totals = cj.sum(axis=1).astype(np.float64)
    true_totals = cj.sum(axis=0).astype(np.float64)
    nm = cj / np.maximum(true_totals, TINY)
    inv = (cj / np.maximum(given_totals, TINY)[:, None]).T
    py = _prior(ps, nm, inv, py_method, true_totals)
    nm, inv = clip_noise_rates(nm), clip_noise_rates(inv)
    if converge_latent_estimates:
        for _ in range(3):
            for _ in range(5):
                inv = clip_noise_rates((nm * py[None, :] / np.maximum(ps, TINY)[:, None]).T)
                py = _prior(ps, nm, inv, "cnt")
            nm = clip_noise_rates(inv.T * ps[:, None] / np.maximum(py, TINY)[None, :])
        py = clip_values(py, PY_MIN_CONV, 1.0, 1.0)
        nm, inv = clip_noise_rates(nm), clip_noise_rates(inv)
    return py, nm, inv


def estimate_py_and_noise_matrices_from_probabilities(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    thresholds: ArrayLike | None = None,
    converge_latent_estimates: bool = True,
    py_method: str = "cnt",
    calibrate: bool = True,
    batch_size: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """(py, noise_matrix, inverse_noise_matrix, confident_joint) from labels and pred_probs."""
    cj = compute_confident_joint(
        labels, pred_probs, thresholds=thresholds, calibrate=calibrate, batch_size=batch_size
    )
    py, nm, inv = estimate_latent(
        cj, labels, py_method=py_method, converge_latent_estimates=converge_latent_estimates
    )
    return py, nm, inv, cj


# ---------------------------------------------------------------------------- number of issues


def num_label_issues(
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    *,
    estimation_method: str = "off_diagonal",
    batch_size: int | None = None,
) -> int:
    """Estimated number of label issues.

    off_diagonal: examples counted off the diagonal of the confident joint whose label does not win the
    (nudged) argmax. off_diagonal_calibrated: round((1 - trace(J)) * N) with J the calibrated joint.
    """
    if estimation_method not in ESTIMATION_METHODS:
        raise InputError(
            f"estimation_method must be one of {', '.join(ESTIMATION_METHODS)}; got {estimation_method!r}"
        )
    from labelaudit.core.context import Context

    return Context.validated(labels, pred_probs, batch_size).num_issues(estimation_method)
