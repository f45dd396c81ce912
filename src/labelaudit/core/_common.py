"""Constants, input checks and row batching shared by every core kernel.

Validation happens once at the public entry; private kernels trust their inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from labelaudit.errors import InputError

EPS = 1e-6  # slack of threshold comparisons and of the "prediction matches label" nudge
T_MIN = 2e-6  # lower clip of every class threshold
BIG = 2  # threshold of a class with no labelled example (an int: it forces float64 thresholds)
TINY = 1e-100  # lower clip of denominators in count algebra
C_MIN = 1e-6  # lower clip of priors and of self-confidence in entropy scores
NR_MAX = 0.9999  # upper clip of off-diagonal noise rates
PY_MIN_CONV = 1e-5  # lower clip of the prior after the convergence loop

# Rows per batch are chosen so that one batch of pred_probs holds about this many elements:
# large enough that numpy's per-call overhead is small, small enough that a batch and its temporaries stay in
# cache while several operations run over them (2**21 was 3-7x slower for the validation scan).
BATCH_ELEMENTS = 1 << 18


def batch_rows(n_classes: int, batch_size: int | None = None) -> int:
    if batch_size is not None:
        return max(1, int(batch_size))
    return max(1, BATCH_ELEMENTS // max(1, n_classes))


def row_slices(n: int, rows: int) -> Iterator[slice]:
    for start in range(0, n, rows):
        yield slice(start, min(n, start + rows))


@dataclass(frozen=True)
class ProbStats:
    """What one scan of pred_probs found: range, row-sum range and the first non-finite row (or -1)."""

    vmin: float
    vmax: float
    row_sum_min: float
    row_sum_max: float
    first_nonfinite_row: int


def scan_pred_probs(pred_probs: np.ndarray, batch_size: int | None = None) -> ProbStats:
    """One pass over pred_probs (N, K) in row batches: value range, row-sum range, first NaN/inf row."""
    n, k = pred_probs.shape
    vmin, vmax, smin, smax = np.inf, -np.inf, np.inf, -np.inf
    # A BLAS matrix-vector product sums rows several times faster than sum(axis=1); its float32
    # accumulation is far inside the 1e-3 row-sum tolerance this scan serves.
    ones = np.ones(k, dtype=pred_probs.dtype if pred_probs.dtype.itemsize >= 4 else np.float32)
    for sl in row_slices(n, batch_rows(k, batch_size)):
        block = pred_probs[sl]
        bmin, bmax = block.min(), block.max()
        if not (np.isfinite(bmin) and np.isfinite(bmax)):
            bad = ~np.isfinite(block).all(axis=1)
            return ProbStats(vmin, vmax, smin, smax, sl.start + int(np.argmax(bad)))
        sums = block @ ones if block.dtype == ones.dtype else block.astype(ones.dtype) @ ones
        vmin, vmax = min(vmin, float(bmin)), max(vmax, float(bmax))
        smin, smax = min(smin, float(sums.min())), max(smax, float(sums.max()))
    return ProbStats(vmin, vmax, smin, smax, -1)


def check_inputs(
    labels: object,
    pred_probs: object,
    *,
    check_values: bool = True,
    batch_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate (labels, pred_probs) and return them as (intp labels (N,), float pred_probs (N, K)).

    Rules (each a clear InputError): pred_probs is a 2-D float array with K >= 2 and N >= 1; labels are
    1-D integers (integral floats accepted) in 0..K-1 with the same N; every probability is finite and in
    [-EPS, 1 + EPS]. A read-only memmap is never copied: only a 1-D label array may be converted.
    """
    if not isinstance(pred_probs, np.ndarray):
        raise InputError(f"pred_probs must be a numpy array, got {type(pred_probs).__name__}")
    if pred_probs.ndim != 2:
        raise InputError(f"pred_probs must be 2-D (N, K), got shape {pred_probs.shape}")
    if isinstance(pred_probs, np.memmap):
        # Same buffer, plain ndarray: np.memmap's __getitem__ makes fancy indexing over 10x slower.
        pred_probs = pred_probs.view(np.ndarray)
    n, k = pred_probs.shape
    if not np.issubdtype(pred_probs.dtype, np.floating):
        raise InputError(f"pred_probs must be floating point, got dtype {pred_probs.dtype}")
    if n == 0:
        raise InputError("pred_probs is empty (0 rows)")
    if k < 2:
        raise InputError(f"pred_probs must have at least 2 columns (classes), got K={k}")
    y = check_labels(labels, n_classes=k)
    if len(y) != n:
        raise InputError(f"labels and pred_probs must have the same length: {len(y)} labels, {n} rows")
    if check_values:
        stats = scan_pred_probs(pred_probs, batch_size)
        if stats.first_nonfinite_row >= 0:
            r = stats.first_nonfinite_row
            raise InputError(f"pred_probs contains NaN or inf (first at row {r}: {pred_probs[r].tolist()})")
        if stats.vmin < -EPS or stats.vmax > 1 + EPS:
            bad = stats.vmin if stats.vmin < -EPS else stats.vmax
            raise InputError(f"pred_probs values must be in [0, 1]; found {bad!r}")
    return y, pred_probs


def check_labels(labels: object, *, n_classes: int) -> np.ndarray:
    """Labels as a 1-D intp array with values in 0..n_classes-1 (no copy when already intp)."""
    if isinstance(labels, np.memmap):
        y = labels.view(np.ndarray)
    elif isinstance(labels, (list, np.ndarray)) or np.isscalar(labels):
        y = np.asarray(labels)
    elif hasattr(labels, "to_numpy"):
        y = np.asarray(labels.to_numpy())  # type: ignore[attr-defined]
    else:
        raise InputError(f"labels must be an array or list, got {type(labels).__name__}")
    if y.ndim != 1:
        raise InputError(f"labels must be 1-D, got shape {y.shape}")
    if len(y) == 0:
        raise InputError("labels are empty")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.floor(y)).any():
            raise InputError("labels must be integers")
        y = y.astype(np.intp)
    elif y.dtype.kind not in "iub":
        raise InputError(f"labels must be integers, got dtype {y.dtype}")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= n_classes:
        bad = (y < 0) | (y >= n_classes)
        raise InputError(
            f"labels must be in 0..{n_classes - 1}: {int(bad.sum())} outside "
            f"(first at row {int(np.argmax(bad))}: {int(y[np.argmax(bad)])})"
        )
    if y.dtype != np.intp:
        y = y.astype(np.intp)
    return y


def class_counts(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """n_k for k in 0..K-1 as int64 (0 for an absent class).

    Counted in slices: np.bincount copies a memory-mapped input whole before counting."""
    counts = np.zeros(n_classes, dtype=np.int64)
    for sl in row_slices(len(labels), 1 << 20):
        counts += np.bincount(labels[sl], minlength=n_classes)
    return counts
