"""The input policy: one set of rules on labels and pred_probs, used by the library entry points, the io
readers (in memory and streamed block by block), multi-label, token and doctor.

Validation happens once at the public entry; private kernels trust their inputs. Messages state the rule
and the value; a reader puts the file name in front (`prefixed`), so the library and the command line
accept and reject exactly the same inputs with the same words.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike, NDArray

from labelaudit.core.batching import batch_rows, map_batches, resolve_n_jobs
from labelaudit.errors import InputError, LabelauditWarning


@dataclass(frozen=True)
class ProbStats:
    """What one scan of pred_probs found: range, row-sum range and the first non-finite row (or -1)."""

    vmin: float
    vmax: float
    row_sum_min: float
    row_sum_max: float
    first_nonfinite_row: int


def sum_rows(block: np.ndarray) -> np.ndarray:
    """Row sums by a BLAS matrix-vector product, several times faster than sum(axis=1); float16 is summed
    in float32. Their round-off is far inside the DRIFT_TOL row-sum tolerance, and |sum - 1| is exact
    in the sums' dtype near 1 (Sterbenz), so no float64 copy is needed."""
    ones = np.ones(block.shape[1], dtype=block.dtype if block.dtype.itemsize >= 4 else np.float32)
    return block @ ones if block.dtype == ones.dtype else block.astype(ones.dtype) @ ones


def block_stats(block: np.ndarray) -> ProbStats:
    """The scan of one block (rows counted from the block's first row)."""
    bmin, bmax = block.min(), block.max()
    if not (np.isfinite(bmin) and np.isfinite(bmax)):
        bad = ~np.isfinite(block).all(axis=1)
        return ProbStats(np.inf, -np.inf, np.inf, -np.inf, int(np.argmax(bad)))
    sums = sum_rows(block)
    return ProbStats(float(bmin), float(bmax), float(sums.min()), float(sums.max()), -1)


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

    def part(sl: slice) -> ProbStats:
        block = pred_probs[sl]
        st = block_stats(block)
        if st.first_nonfinite_row < 0 and self_conf_out is not None and labels is not None:
            self_conf_out[sl] = block[np.arange(len(block)), labels[sl]]
        return st

    vmin, vmax, smin, smax = np.inf, -np.inf, np.inf, -np.inf
    rows = batch_rows(k, batch_size)
    for i, st in enumerate(map_batches(part, n, rows, resolve_n_jobs(n_jobs))):
        if st.first_nonfinite_row >= 0:
            return ProbStats(vmin, vmax, smin, smax, i * rows + st.first_nonfinite_row)
        vmin, vmax = min(vmin, st.vmin), max(vmax, st.vmax)
        smin, smax = min(smin, st.row_sum_min), max(smax, st.row_sum_max)
    return ProbStats(vmin, vmax, smin, smax, -1)


DRIFT_TOL = 1e-3  # values and row sums this close to the valid range are repaired, farther ones rejected
ROW_SUM_WARN = 1e-4  # row-sum drift below this is ordinary float round-off and passes silently
LOGITS_HINT = "; if these are logits or unnormalised scores, apply a softmax first (--from-logits)"


@dataclass(frozen=True)
class Verdict:
    """What the value rules decided about pred_probs (or one block of it) that broke none of them."""

    value_drift: float = 0.0  # how far the values reach outside [0, 1] (0: inside)
    sum_drift: float = 0.0  # max |row sum - 1| (0 when row sums are not checked)

    @property
    def clip(self) -> bool:
        return self.value_drift > 0

    def merge(self, other: Verdict) -> Verdict:
        return Verdict(max(self.value_drift, other.value_drift), max(self.sum_drift, other.sum_drift))

    def warnings(self) -> list[str]:
        """The repairs a user should hear about, as messages without a file prefix."""
        out = []
        if self.sum_drift > ROW_SUM_WARN:
            out.append(f"pred_probs row sums drift from 1 by up to {self.sum_drift:.2g}; accepted as is")
        if self.clip:
            out.append(
                f"pred_probs values outside [0, 1] by up to {self.value_drift:.2g} were clipped into [0, 1]"
            )
        return out


def _first_row(p: np.ndarray, bad_rows: Callable[[np.ndarray], NDArray[np.bool_] | np.bool_]) -> int:
    """First row of `p` where `bad_rows` (a per-row mask of a block) is true; -1 when none is."""
    step = max(1, (1 << 21) // max(1, p.shape[1]))
    for s in range(0, len(p), step):
        hit = bad_rows(p[s : s + step])
        if hit.any():
            return s + int(np.argmax(hit))
    return -1


def _row_repr(row: np.ndarray) -> str:
    vals = np.asarray(row).tolist()
    return str(vals[:8])[:-1] + (", ...]" if len(vals) > 8 else "]")


def judge_values(
    p: np.ndarray,
    stats: ProbStats,
    *,
    row_sums: bool = True,
    strict: bool = False,
    from_logits: bool = False,
    offset: int = 0,
) -> Verdict:
    """The one value policy of every reader, library entry point and streamed block.

    pred_probs must be finite; values within DRIFT_TOL outside [0, 1] are repaired by clipping (with
    `strict`, any value outside [0, 1] is an error), farther ones rejected; with `row_sums`, each row
    must sum to 1 within DRIFT_TOL (with `strict`, within ROW_SUM_WARN: the drift the default accepts
    with a warning is an error). Raises InputError naming the first bad row (`offset` + its position
    in `p`) and its value; returns the repairs to make and report."""
    if stats.first_nonfinite_row >= 0:
        r = stats.first_nonfinite_row
        raise InputError(
            f"pred_probs must be finite; row {offset + r} contains NaN or inf: {_row_repr(p[r])}"
        )
    tol = 0.0 if strict else DRIFT_TOL
    if stats.vmin < -tol or stats.vmax > 1 + tol:
        row = _first_row(p, lambda b: ((b < -tol) | (b > 1 + tol)).any(axis=1))
        values = np.asarray(p[row], dtype=np.float64)
        bad = float(values[np.argmax((values < -tol) | (values > 1 + tol))])
        rule = "pred_probs must be in [0, 1]" + (" (strict)" if strict else "")
        hint = LOGITS_HINT if row_sums and not (from_logits or strict) else ""  # logits are multi-class
        raise InputError(f"{rule}; row {offset + row} has {bad!r}{hint}")
    sum_drift = 0.0
    if row_sums:
        sum_tol = ROW_SUM_WARN if strict else DRIFT_TOL
        if stats.row_sum_min < 1 - sum_tol or stats.row_sum_max > 1 + sum_tol:
            row = _first_row(p, lambda b: np.abs(sum_rows(b) - 1) > sum_tol)
            total = float(sum_rows(p[row : row + 1])[0])
            raise InputError(
                f"each pred_probs row must sum to 1 (±{sum_tol:g}{', strict' if strict else ''}); "
                f"row {offset + row} sums to {total!r}"
                "; rows of independent per-class probabilities are multi-label data (--task multilabel)"
            )
        sum_drift = max(abs(stats.row_sum_min - 1), abs(stats.row_sum_max - 1))
    value_drift = max(0.0, -stats.vmin, stats.vmax - 1)
    return Verdict(value_drift, sum_drift)


def prefixed(source: str | None, exc: InputError) -> InputError:
    """The same rule with the file (or argument) it concerns in front."""
    return InputError(f"{source}: {exc}") if source else exc


def check_pred_probs(
    p: np.ndarray,
    *,
    source: str | None = None,
    row_sums: bool = True,
    strict: bool = False,
    from_logits: bool = False,
    labels: np.ndarray | None = None,
    self_conf_out: np.ndarray | None = None,
    batch_size: int | None = None,
    n_jobs: int | None = 1,
) -> np.ndarray:
    """Apply the value policy to (N, K) pred_probs in one scan; returns them untouched, or clipped into
    [0, 1] (a copy) when small drift was repaired. Warnings and errors start with `source` when given.
    With `labels` and `self_conf_out`, the scan also gathers P[i, y_i] (after any repair)."""
    stats = scan_pred_probs(p, batch_size, n_jobs, labels=labels, self_conf_out=self_conf_out)
    try:
        verdict = judge_values(p, stats, row_sums=row_sums, strict=strict, from_logits=from_logits)
    except InputError as exc:
        raise prefixed(source, exc) from None
    for message in verdict.warnings():
        warnings.warn(f"{source}: {message}" if source else message, LabelauditWarning, stacklevel=3)
    if verdict.clip:
        p = np.clip(p, 0, 1)
        if self_conf_out is not None and labels is not None:
            self_conf_out[:] = p[np.arange(len(p)), labels]
    return p


def check_shape(pred_probs: object, *, source: str | None = None) -> np.ndarray:
    """The rules that need only the array: 2-D floating point (N, K) with N >= 1 and K >= 2. A
    memmap is returned as a plain ndarray view of the same buffer (np.memmap's __getitem__ makes fancy
    indexing over 10x slower)."""
    if not isinstance(pred_probs, np.ndarray):
        raise prefixed(
            source, InputError(f"pred_probs must be a numpy array, got {type(pred_probs).__name__}")
        )
    if pred_probs.ndim != 2:
        raise prefixed(source, InputError(f"pred_probs must be 2-D (N, K), got shape {pred_probs.shape}"))
    if isinstance(pred_probs, np.memmap):
        pred_probs = pred_probs.view(np.ndarray)
    check_prob_shape(pred_probs.shape[0], pred_probs.shape[1], pred_probs.dtype, source=source)
    return pred_probs


def check_prob_shape(n: int, k: int, dtype: DTypeLike, *, source: str | None = None) -> None:
    """Shape and dtype rules of pred_probs (shared with the streamed reader, which knows no array)."""
    if not np.issubdtype(dtype, np.floating):
        raise prefixed(source, InputError(f"pred_probs must be floating point, got dtype {dtype}"))
    if n == 0:
        raise prefixed(source, InputError("pred_probs is empty (0 rows)"))
    if k < 2:
        raise prefixed(source, InputError(f"pred_probs must have at least 2 classes (columns), got K={k}"))


def check_inputs(
    labels: object,
    pred_probs: object,
    *,
    check_values: bool = True,
    row_sums: bool = True,
    strict: bool = False,
    batch_size: int | None = None,
    n_jobs: int | None = 1,
    self_conf_out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate (labels, pred_probs) of a library call; returns (int32 labels (N,), pred_probs (N, K)).

    The rules of every reader (one policy): pred_probs is a 2-D float array with K >= 2 and N >= 1;
    labels are 1-D integers (integral floats accepted) in 0..K-1 with the same N; values and row sums
    follow `judge_values` (small drift clipped with a warning, `strict` rejects it). A read-only memmap
    is never copied unless drift must be repaired.
    """
    p = check_shape(pred_probs)
    n, k = p.shape
    y = check_labels(labels, n_classes=k)
    if len(y) != n:
        raise InputError(f"labels and pred_probs must have the same length: {len(y)} labels, {n} rows")
    if check_values:
        p = check_pred_probs(
            p,
            row_sums=row_sums,
            strict=strict,
            labels=y,
            self_conf_out=self_conf_out,
            batch_size=batch_size,
            n_jobs=n_jobs,
        )
    return y, p


def check_labels(labels: object, *, n_classes: int) -> np.ndarray:
    """Labels as a 1-D int32 array with values in 0..n_classes-1 (no copy when already int32).

    int32 halves the memory of int64 labels and, for a memory-mapped file, leaves no file pages resident;
    kernels widen per batch where they compute codes such as y * K + j."""
    if isinstance(labels, np.memmap):
        y = labels.view(np.ndarray)
    elif isinstance(labels, (list, np.ndarray)) or np.isscalar(labels):
        y = np.asarray(labels)
    elif hasattr(labels, "to_numpy"):
        y = np.asarray(labels.to_numpy())
    else:
        raise InputError(f"labels must be an array or list, got {type(labels).__name__}")
    if y.ndim != 1:
        raise InputError(f"labels must be 1-D, got shape {y.shape}")
    if len(y) == 0:
        raise InputError("labels are empty")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.floor(y))
        if bad.any():
            r = int(np.argmax(bad))
            raise InputError(
                f"labels must be integers; row {r} holds {float(y[r])!r} ({int(bad.sum())} such rows)"
            )
    elif y.dtype.kind not in "iub":
        raise InputError(f"labels must be integers, got dtype {y.dtype}")
    # The range is checked before any narrowing cast, so 1e10 is reported as 1e10, not as its int32 wrap.
    lo, hi = y.min(), y.max()
    if lo < 0 or hi >= n_classes:
        bad = (y < 0) | (y >= n_classes)
        r = int(np.argmax(bad))
        value = y[r].item()
        raise InputError(
            f"labels must be in 0..{n_classes - 1}: {int(bad.sum())} outside "
            f"(first at row {r}: {int(value) if float(value).is_integer() and abs(value) < 2**63 else value!r})"
        )
    if y.dtype != np.int32:
        y = y.astype(np.int32)
    return y
