"""The thread-pool driver's BLAS limit (core.batching.one_blas_thread)."""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits

from labelaudit.core.batching import map_ordered


def blas_threads() -> list[int]:
    """Thread counts of numpy's BLAS (the one the passes call; scipy's, loaded by other tests or not,
    is outside the limit's scan when it loads after the first pass)."""
    return [
        p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas" and "numpy" in p["filepath"]
    ]


def test_passes_run_with_one_blas_thread_and_restore_it():
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads() and set(blas_threads()) == {2}
        for n_jobs in (1, 2):
            seen = list(map_ordered(lambda _: blas_threads(), range(5), n_jobs))
            assert seen == [[1] * len(blas_threads())] * 5
            assert set(blas_threads()) == {2}


def test_overlapping_passes_restore_only_when_the_last_ends():
    """Two passes left open in the order a generator allows (the first ends before the second): the
    caller's setting comes back once, when the last one ends, not when the first does."""
    with threadpool_limits(limits=2, user_api="blas"):
        a = map_ordered(lambda i: (i, blas_threads()), range(3), 2)
        b = map_ordered(lambda i: (i, blas_threads()), range(3), 1)
        next(a), next(b)
        rest_a = list(a)  # a ends first
        assert set(blas_threads()) == {1}  # b still runs
        rest_b = list(b)
        assert set(blas_threads()) == {2}
        assert all(t == [1] * len(t) for _, t in rest_a + rest_b)
