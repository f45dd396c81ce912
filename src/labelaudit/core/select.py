"""Selections and orders with index tie-breaks: the m smallest or largest values, stable (parallel) sorts."""

from __future__ import annotations

import numpy as np

from labelaudit.core.batching import map_batches


def select_smallest(values: np.ndarray, m: int) -> np.ndarray:
    """Boolean mask of the m smallest entries; at a tie straddling the cut-off the lower indices win.

    Equals taking the first m of a stable argsort, in O(n) with a partition instead of a full sort.
    """
    n = len(values)
    if m >= n:
        return np.ones(n, dtype=bool)
    if m <= 0:
        return np.zeros(n, dtype=bool)
    cut = np.partition(values, m - 1)[m - 1]
    sel = values < cut
    need = m - int(np.count_nonzero(sel))
    sel[np.flatnonzero(values == cut)[:need]] = True
    return sel


def select_largest(values: np.ndarray, m: int) -> np.ndarray:
    """Boolean mask of the m largest entries; at a tie straddling the cut-off the lower indices win
    (a stable ascending sort of the negated values)."""
    n = len(values)
    if m >= n:
        return np.ones(n, dtype=bool)
    if m <= 0:
        return np.zeros(n, dtype=bool)
    cut = np.partition(values, n - m)[n - m]
    sel = values > cut
    need = m - int(np.count_nonzero(sel))
    sel[np.flatnonzero(values == cut)[:need]] = True
    return sel


def largest_per_row(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(R, n) bool: in each row r, the counts[r] largest entries (1 <= counts[r] < n); at a tie straddling
    the cut-off the lower column indices win. Vectorised over rows: one partition for the top
    max(counts) of every row, a sort of only that tail, then a comparison with each row's cut value."""
    r, n = values.shape
    top = int(counts.max())
    tail = np.sort(np.partition(values, n - top, axis=1)[:, n - top :], axis=1)
    cut = tail[np.arange(r), top - counts][:, None]
    chosen = values > cut
    short = counts - np.count_nonzero(chosen, axis=1)
    at_cut = values == cut
    whole = np.count_nonzero(at_cut, axis=1) <= short
    chosen[whole] |= at_cut[whole]
    for i in np.flatnonzero(~whole):  # a tie group straddles the cut: its lowest columns go first
        chosen[i, np.flatnonzero(at_cut[i])[: short[i]]] = True
    return chosen


PARALLEL_SORT_MIN = 1 << 18  # below this a second sorting thread costs more than it saves


def _parts(n: int, n_jobs: int) -> int:
    """Rows per part when splitting n values over n_jobs sorting threads."""
    return -(-n // n_jobs)


def _merge_runs(values: np.ndarray, runs: list[np.ndarray]) -> np.ndarray:
    """Positions from runs that are each sorted by (value, position) and lie in position order, merged
    into one stable order: numpy's stable sort of floats and wide integers is a timsort, which finds the
    runs and merges them in linear time."""
    order = np.concatenate(runs) if len(runs) > 1 else runs[0]
    return order[np.argsort(values[order], kind="stable")] if len(runs) > 1 else order


def stable_order(values: np.ndarray, n_jobs: int = 1) -> np.ndarray:
    """Positions sorted by increasing value, ties by position. With n_jobs > 1, contiguous parts are
    sorted by parallel threads and merged (the same order: a stable merge of position-ordered runs)."""
    n = len(values)
    if n_jobs <= 1 or n < PARALLEL_SORT_MIN:
        return np.argsort(values, kind="stable")
    runs = list(
        map_batches(lambda sl: np.argsort(values[sl], kind="stable") + sl.start, n, _parts(n, n_jobs), n_jobs)
    )
    return _merge_runs(values, runs)


def smallest_in_order(values: np.ndarray, top: int | None, n_jobs: int = 1) -> np.ndarray:
    """The first `top` positions of a stable argsort, via a partial selection when top << n.

    With n_jobs > 1: one partition finds the cut value, then parallel threads each take their part's
    values below the cut in stable order, and those runs are merged; the values equal to the cut fill
    the remaining places in position order. Identical to the single-thread result."""
    n = len(values)
    top = n if top is None else min(top, n)
    if top <= 0:
        return np.empty(0, dtype=np.intp)
    cut = np.partition(values, top - 1)[top - 1] if n_jobs > 1 and n >= PARALLEL_SORT_MIN else np.nan
    if cut == cut:  # not NaN: a parallel split is worth it and the cut compares

        def part(sl: slice) -> tuple[np.ndarray, np.ndarray]:
            v = values[sl]
            below = np.flatnonzero(v < cut)
            return below[np.argsort(v[below], kind="stable")] + sl.start, np.flatnonzero(v == cut) + sl.start

        pieces = list(map_batches(part, n, _parts(n, n_jobs), n_jobs))
        below = _merge_runs(values, [p[0] for p in pieces])
        at_cut = np.concatenate([p[1] for p in pieces])
        return np.concatenate([below, at_cut[: top - len(below)]])
    if top >= n // 4:
        return stable_order(values)[:top]
    picked = np.flatnonzero(select_smallest(values, top))
    return picked[stable_order(values[picked])]
