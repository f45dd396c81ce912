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
    cj = _floored(rp.dense_joint())
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


# ---------------------------------------------------------------------------- the joint as non-zero cells


def sparse_sums(group: np.ndarray, pos: np.ndarray, values: np.ndarray, length: int) -> np.ndarray:
    """np.add.reduce of dense float64 vectors of `length` entries that are zero except at the given
    entries, bit for bit, without forming them: one sum per distinct `group`, in increasing group order.

    Entries are (group, position, value), sorted by (group, position), positions unique within a group,
    no value -0.0 (then a zero sub-sum is exact: x + 0.0 == x). numpy sums pairwise (see
    confident.pairwise_sums): a run of more than PW_BLOCK is split after (n // 2) rounded down to a
    multiple of 8; a shorter run uses 8 interleaved accumulators, then adds its last n % 8 values in order.
    Only runs holding two or more entries are split further (a run with one sums to it)."""
    key = group.astype(np.int64) * length + pos
    ug, first = np.unique(group, return_index=True)
    if not len(ug):
        return np.zeros(0, dtype=np.float64)
    s = ug.astype(np.int64) * length
    n = np.full(len(ug), length, dtype=np.int64)
    lo = first.astype(np.int64)
    hi = np.append(lo[1:], len(key))
    # Per level, top down: (split, left child, right child, the sums of the runs not split). A run with one
    # entry sums to that entry (every other term is +0.0), so only runs with two or more are split: the
    # levels hold O(entries) runs in all, not O(entries * log(length)).
    levels: list[tuple[np.ndarray, ...]] = []
    while True:
        split = (n > kn.PW_BLOCK) & (hi - lo > 1)
        leaf = ~split
        sums = np.empty(int(np.count_nonzero(leaf)), dtype=np.float64)
        one = n[leaf] > kn.PW_BLOCK  # a single entry in a run longer than a block
        sums[one] = values[lo[leaf][one]]
        if not one.all():
            block = leaf.copy()
            block[leaf] = ~one
            sums[~one] = _sparse_block_sums(key, values, s[block], n[block], lo[block], hi[block])
        if not split.any():
            none = np.zeros(0, dtype=np.int64)
            levels.append((split, none, none, sums))
            break
        half = n[split] // 2
        half -= half % 8
        mid = s[split] + half
        cut = np.searchsorted(key, mid)
        cs = np.stack([s[split], mid], axis=1).ravel()
        cn = np.stack([half, n[split] - half], axis=1).ravel()
        clo = np.stack([lo[split], cut], axis=1).ravel()
        chi = np.stack([cut, hi[split]], axis=1).ravel()
        keep = chi > clo
        child = np.full(len(cs), -1, dtype=np.int64)
        child[keep] = np.arange(int(np.count_nonzero(keep)))
        levels.append((split, child[0::2], child[1::2], sums))
        s, n, lo, hi = cs[keep], cn[keep], clo[keep], chi[keep]
    below = np.zeros(0, dtype=np.float64)
    for split, left, right, sums in reversed(levels):
        out = np.empty(len(split), dtype=np.float64)
        out[~split] = sums
        if split.any():
            zero = np.zeros(1, dtype=np.float64)
            padded = np.concatenate([below, zero])  # index -1: an empty half sums to 0.0
            out[split] = padded[left] + padded[right]
        below = out
    return below + 0.0  # the reduction starts from +0.0


def _sparse_block_sums(
    key: np.ndarray, values: np.ndarray, s: np.ndarray, n: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """numpy's sum of runs of at most PW_BLOCK values, zero but at the entries key[lo:hi] of each run."""
    m = hi - lo
    run = np.repeat(np.arange(len(s)), m)
    idx = np.arange(int(m.sum())) - np.repeat(np.cumsum(m) - m, m) + np.repeat(lo, m)
    off = key[idx] - s[run]
    v = values[idx]
    body = (n - n % 8)[run]
    in_body = off < body
    lane, step = off % 8, off // 8
    acc = np.zeros((len(s), 8), dtype=np.float64)
    for t in range(kn.PW_BLOCK // 8):  # each accumulator adds its values in order
        at = in_body & (step == t)
        acc[run[at], lane[at]] += v[at]
    res = ((acc[:, 0] + acc[:, 1]) + (acc[:, 2] + acc[:, 3])) + (
        (acc[:, 4] + acc[:, 5]) + (acc[:, 6] + acc[:, 7])
    )
    tail = off - body
    for t in range(7):  # then the last n % 8 values, in order
        at = ~in_body & (tail == t)
        res[run[at]] += v[at]
    return res


def floored_cells(cells: kn.Cells) -> kn.Cells:
    """_floored on Cells: every diagonal cell at least 1."""
    k = cells.k
    diag = np.arange(k, dtype=np.int64) * (k + 1)
    codes = np.union1d(cells.codes, diag)
    vals = np.zeros(len(codes), dtype=np.int64)
    vals[np.searchsorted(codes, cells.codes)] = cells.values
    on = np.searchsorted(codes, diag)
    vals[on] = np.maximum(vals[on], 1)
    return kn.Cells(k, codes, vals)


def calibrate_cells(cells: kn.Cells, class_count: np.ndarray, *, column_major: bool = True) -> kn.Cells:
    """calibrate_confident_joint on the non-zero cells of a joint (column_major: one built internally,
    else one passed in as a C-ordered matrix): the same elementwise arithmetic, with the normalising total
    summed in that memory order and each row's total in index order, exactly as numpy sums the dense
    arrays (sparse_sums). Returns the non-zero int64 Cells."""
    k = cells.k
    rows, cols, v = cells.rows, cells.cols, cells.values
    starts = cells.row_starts
    cum = np.concatenate(([0], np.cumsum(v)))
    row_totals = cum[starts[1:]] - cum[starts[:-1]]
    a = v / np.maximum(row_totals, TINY)[rows] * class_count[rows]
    if column_major:
        order = np.argsort(cols * k + rows, kind="stable")
        pos, a_pos = (cols * k + rows)[order], a[order]
    else:
        pos, a_pos = cells.codes, a
    total = sparse_sums(np.zeros(len(v), dtype=np.int64), pos, a_pos, k * k)
    t = total[0] if len(total) else np.float64(0.0)
    b = a / max(t, TINY) * class_count.sum()
    return round_cells(kn.Cells(k, cells.codes, b))


def round_cells(cells: kn.Cells) -> kn.Cells:
    """round_rows of the dense matrix of float64 `cells` (values >= 0, finite), on the cells: rows whose
    repair would reach a zero cell are rounded densely. Returns the non-zero int64 Cells."""
    k, v, codes = cells.k, cells.values, cells.codes
    rows, cols = cells.rows, cells.cols
    r = np.rint(v)
    present = np.unique(rows)
    target = np.zeros(k)
    target[present] = np.rint(sparse_sums(rows, cols, v, k))
    cur = np.zeros(k)
    np.add.at(cur, rows, r)  # integral values: exact in any order
    starts = cells.row_starts
    out = r.copy()
    dense_rows: dict[int, np.ndarray] = {}
    for a in np.flatnonzero(np.abs(cur - target) > EPS).tolist():
        seg = slice(int(starts[a]), int(starts[a + 1]))
        res = v[seg] - r[seg]
        d = float(np.rint(target[a] - cur[a]))
        count = int(min(abs(d), k))
        # the dense order: a stable ascending sort of the residuals, reversed when adding units
        pick = np.flatnonzero(res > 0) if d > 0 else np.flatnonzero(res < 0)
        if count > len(pick):  # zero cells would be reached: round this row densely
            row = np.zeros(k)
            row[cols[seg]] = v[seg]
            dense_rows[a] = round_rows(row[None, :])[0]
            continue
        if d > 0:
            pick = pick[np.lexsort((-cols[seg][pick], -res[pick]))]
        else:
            pick = pick[np.lexsort((cols[seg][pick], res[pick]))]
        out[seg.start + pick[:count]] += 1 if d > 0 else -1
    vals = out.astype(np.int64)
    if dense_rows:
        redo = np.isin(rows, list(dense_rows))
        extra = [a * k + np.flatnonzero(row) for a, row in dense_rows.items()]
        extra_vals = [row[row != 0] for row in dense_rows.values()]
        codes = np.concatenate([codes[~redo], *extra]).astype(np.int64)
        vals = np.concatenate([vals[~redo], *extra_vals]).astype(np.int64)
        order = np.argsort(codes, kind="stable")
        codes, vals = codes[order], vals[order]
    return kn.Cells(k, codes, vals).nonzero()


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


def _clip_cells(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, k: int, pairwise_by_row: bool
) -> np.ndarray:
    """clip_noise_rates on cells stored as (rows, cols) in row-major order. The dense column sums are
    those of the matrix's memory layout: a C-ordered matrix (rows = its rows) sums each column down the
    rows one by one; for pairwise_by_row the matrix is the transpose of the stored cells, held
    column-major, and each of its columns (a stored row) is summed pairwise."""
    off = rows != cols
    out = vals.copy()
    out[off] = np.clip(vals[off], 0, NR_MAX)
    sums = np.zeros(k)
    if pairwise_by_row:
        if len(rows):
            sums[np.unique(rows)] = sparse_sums(rows, cols, out, k)
        return out / np.maximum(sums, TINY)[rows]
    np.add.at(sums, cols, out)  # in row-major cell order: down each column in row order
    return out / np.maximum(sums, TINY)[cols]


def estimate_latent_cells(
    cells: kn.Cells, class_count: np.ndarray, *, converge_latent_estimates: bool = False
) -> tuple[NDArray[np.float64], kn.Cells, kn.Cells]:
    """estimate_latent with py_method 'cnt' of a confident joint held as non-zero Cells: (py (K,),
    noise matrix Cells, inverse noise matrix Cells), each matrix in its own orientation and with the
    dense results' values, the column sums of §7.4 taken in the dense arrays' memory order."""
    k = cells.k
    rows, cols, v = cells.rows, cells.cols, cells.values
    ps = class_count / float(class_count.sum())
    given_totals = np.zeros(k, dtype=np.int64)
    true_totals = np.zeros(k, dtype=np.int64)
    np.add.at(given_totals, rows, v)
    np.add.at(true_totals, cols, v)
    diag = rows == cols
    nm = v / np.maximum(true_totals.astype(np.float64), TINY)[cols]  # (a, b): P(given a | true b)
    inv = v / np.maximum(given_totals.astype(np.float64), TINY)[rows]  # stored at (a, b): INV[b, a]

    def prior(nm: np.ndarray, inv: np.ndarray) -> np.ndarray:
        d_nm, d_inv = np.zeros(k), np.zeros(k)
        d_nm[rows[diag]], d_inv[rows[diag]] = nm[diag], inv[diag]
        return clip_values(d_inv / np.maximum(d_nm, TINY) * ps, C_MIN, 1.0, 1.0)

    py = prior(nm, inv)
    nm, inv = _clip_cells(rows, cols, nm, k, False), _clip_cells(rows, cols, inv, k, True)
    if converge_latent_estimates:
        for _ in range(3):
            for _ in range(5):
                inv = _clip_cells(rows, cols, nm * py[cols] / np.maximum(ps, TINY)[rows], k, True)
                py = prior(nm, inv)
            nm = _clip_cells(rows, cols, inv * ps[rows] / np.maximum(py, TINY)[cols], k, False)
        py = clip_values(py, PY_MIN_CONV, 1.0, 1.0)
        nm, inv = _clip_cells(rows, cols, nm, k, False), _clip_cells(rows, cols, inv, k, True)
    t_codes = cols * k + rows
    order = np.argsort(t_codes, kind="stable")
    return py, kn.Cells(k, cells.codes, nm), kn.Cells(k, t_codes[order], inv[order])


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
