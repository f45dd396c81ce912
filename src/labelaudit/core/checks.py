"""Input checks of the library entry points: shapes, labels and one scan of pred_probs.

Validation happens once at the public entry; private kernels trust their inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelaudit.core.batching import batch_rows, map_batches, resolve_n_jobs
from labelaudit.core.constants import EPS
from labelaudit.errors import InputError


@dataclass(frozen=True)
class ProbStats:
    """What one scan of pred_probs found: range, row-sum range and the first non-finite row (or -1)."""

    vmin: float
    vmax: float
    row_sum_min: float
    row_sum_max: float
    first_nonfinite_row: int


def scan_pred_probs(
    pred_probs: np.ndarray,
    batch_size: int | None = None,
    n_jobs: int | None = 1,
    *,
    labels: np.ndarray | None = None,
    self_conf_out: np.ndarray | None = None,
) -> ProbStats:
    """One pass over pred_probs (N, K) in row batches: value range, row-sum range, first NaN/inf row.

    With `labels` and `self_conf_out` (N,), the same pass also gathers P[i, y_i] into self_conf_out, so
    the threshold computation that follows needs no pass of its own."""
    n, k = pred_probs.shape
    # A BLAS matrix-vector product sums rows several times faster than sum(axis=1); its float32
    # accumulation is far inside the 1e-3 row-sum tolerance this scan serves.
    ones = np.ones(k, dtype=pred_probs.dtype if pred_probs.dtype.itemsize >= 4 else np.float32)

    def part(sl: slice):
        block = pred_probs[sl]
        bmin, bmax = block.min(), block.max()
        if not (np.isfinite(bmin) and np.isfinite(bmax)):
            bad = ~np.isfinite(block).all(axis=1)
            return sl.start + int(np.argmax(bad)), 0.0, 0.0, 0.0, 0.0
        sums = block @ ones if block.dtype == ones.dtype else block.astype(ones.dtype) @ ones
        if self_conf_out is not None:
            self_conf_out[sl] = block[np.arange(len(block)), labels[sl]]
        return -1, float(bmin), float(bmax), float(sums.min()), float(sums.max())

    vmin, vmax, smin, smax = np.inf, -np.inf, np.inf, -np.inf
    for bad_row, bmin, bmax, bsmin, bsmax in map_batches(
        part, n, batch_rows(k, batch_size), resolve_n_jobs(n_jobs)
    ):
        if bad_row >= 0:
            return ProbStats(vmin, vmax, smin, smax, bad_row)
        vmin, vmax = min(vmin, bmin), max(vmax, bmax)
        smin, smax = min(smin, bsmin), max(smax, bsmax)
    return ProbStats(vmin, vmax, smin, smax, -1)


def check_inputs(
    labels: object,
    pred_probs: object,
    *,
    check_values: bool = True,
    batch_size: int | None = None,
    n_jobs: int | None = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate (labels, pred_probs) and return them as (int32 labels (N,), float pred_probs (N, K)).

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
        check_stats(scan_pred_probs(pred_probs, batch_size, n_jobs), pred_probs)
    return y, pred_probs


def check_stats(stats: ProbStats, pred_probs: np.ndarray) -> None:
    """The value rules of check_inputs, on what a scan found: finite, and within [-EPS, 1 + EPS]."""
    if stats.first_nonfinite_row >= 0:
        r = stats.first_nonfinite_row
        raise InputError(f"pred_probs contains NaN or inf (first at row {r}: {pred_probs[r].tolist()})")
    if stats.vmin < -EPS or stats.vmax > 1 + EPS:
        bad = stats.vmin if stats.vmin < -EPS else stats.vmax
        raise InputError(f"pred_probs values must be in [0, 1]; found {bad!r}")


def check_labels(labels: object, *, n_classes: int) -> np.ndarray:
    """Labels as a 1-D int32 array with values in 0..n_classes-1 (no copy when already int32).

    int32 halves the memory of int64 labels and, for a memory-mapped file, leaves no file pages resident;
    kernels widen per batch where they compute codes such as y * K + j."""
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
        y = y.astype(np.int32)
    elif y.dtype.kind not in "iub":
        raise InputError(f"labels must be integers, got dtype {y.dtype}")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= n_classes:
        bad = (y < 0) | (y >= n_classes)
        raise InputError(
            f"labels must be in 0..{n_classes - 1}: {int(bad.sum())} outside "
            f"(first at row {int(np.argmax(bad))}: {int(y[np.argmax(bad)])})"
        )
    if y.dtype != np.int32:
        y = y.astype(np.int32)
    return y
