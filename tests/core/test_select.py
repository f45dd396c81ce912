"""core.select: the selection helpers equal a stable argsort prefix, ties by position included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from labelaudit.core import select as sel

# ---------------------------------------------------------------------------- selection helpers

tie_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32]),
    shape=st.integers(0, 60),
    elements=st.integers(-3, 3).map(float),  # few distinct values: many ties
)


def _prefix_mask(order: np.ndarray, m: int, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[order[: max(m, 0)]] = True
    return mask


@settings(max_examples=30, deadline=None)
@given(values=tie_arrays, data=st.data())
def test_select_smallest_is_stable_argsort_prefix(values, data):
    n = len(values)
    m = data.draw(st.integers(-1, n + 2))
    np.testing.assert_array_equal(
        sel.select_smallest(values, m), _prefix_mask(np.argsort(values, kind="stable"), m, n)
    )


@settings(max_examples=30, deadline=None)
@given(values=tie_arrays, data=st.data())
def test_select_largest_is_stable_argsort_prefix_of_negation(values, data):
    n = len(values)
    m = data.draw(st.integers(-1, n + 2))
    np.testing.assert_array_equal(
        sel.select_largest(values, m), _prefix_mask(np.argsort(-values, kind="stable"), m, n)
    )


@settings(max_examples=30, deadline=None)
@given(values=tie_arrays, data=st.data())
def test_smallest_in_order_is_stable_argsort_prefix(values, data):
    top = data.draw(st.integers(0, len(values) + 2))
    np.testing.assert_array_equal(sel.smallest_in_order(values, top), np.argsort(values, kind="stable")[:top])


@settings(max_examples=40, deadline=None)
@given(values=tie_arrays, data=st.data())
def test_parallel_sorts_equal_the_stable_argsort(values, data):
    # Parallel parts sorted then merged must give the single-thread order, ties by position included.
    top = data.draw(st.integers(0, len(values) + 2))
    n_jobs = data.draw(st.integers(2, 5))
    want = np.argsort(values, kind="stable")
    saved = sel.PARALLEL_SORT_MIN
    sel.PARALLEL_SORT_MIN = 1  # split even the smallest arrays
    try:
        np.testing.assert_array_equal(sel.stable_order(values, n_jobs), want)
        np.testing.assert_array_equal(sel.smallest_in_order(values, top, n_jobs), want[:top])
    finally:
        sel.PARALLEL_SORT_MIN = saved


def test_parallel_smallest_in_order_at_full_size():
    rng = np.random.default_rng(3)
    values = np.round(rng.random(sel.PARALLEL_SORT_MIN * 3), 3).astype(np.float32)  # ties across the parts
    want = np.argsort(values, kind="stable")
    for top in (1, 1000, len(values) // 5, len(values)):
        np.testing.assert_array_equal(sel.smallest_in_order(values, top, 2), want[:top])
    np.testing.assert_array_equal(sel.stable_order(values, 3), want)


def test_select_helpers_hand_checked():
    v = np.array([2.0, 1.0, 2.0, 1.0, 3.0, 2.0])
    assert np.flatnonzero(sel.select_smallest(v, 3)).tolist() == [0, 1, 3]  # 1, 1, then the first 2
    assert np.flatnonzero(sel.select_largest(v, 2)).tolist() == [0, 4]  # 3, then the first 2
    assert np.flatnonzero(sel.select_largest(v, 4)).tolist() == [0, 2, 4, 5]
