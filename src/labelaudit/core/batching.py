"""Row batching and the thread-pool driver shared by every pass over pred_probs."""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from labelaudit.errors import InputError

# Rows per batch are chosen so that one batch of pred_probs holds about this many elements:
# large enough that numpy's per-call overhead is small, small enough that a batch and its temporaries stay in
# cache while several operations run over them (2**21 was 3-7x slower for the validation scan).
BATCH_ELEMENTS = 1 << 18

T = TypeVar("T")
RowsDone = Callable[[int], None]  # progress of one pass: rows done since the last call
Progress = Callable[[str, int], None]  # progress of named passes: (pass name, rows done since the last call)


def batch_rows(n_classes: int, batch_size: int | None = None) -> int:
    if batch_size is not None:
        return max(1, int(batch_size))
    return max(1, BATCH_ELEMENTS // max(1, n_classes))


def row_slices(n: int, rows: int) -> Iterator[slice]:
    for start in range(0, n, rows):
        yield slice(start, min(n, start + rows))


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Worker threads for batch passes (numpy releases the GIL in its loops). One by default, so that a
    run takes one core unless asked for more (memory-bound passes gain less than the core count: see
    BENCHMARKS.md for the measured scaling); -1 means one per core."""
    if n_jobs is None:
        return 1
    if n_jobs == -1:
        return max(1, os.cpu_count() or 1)
    if n_jobs < 1:
        raise InputError(f"n_jobs must be >= 1, got {n_jobs}")
    return int(n_jobs)


_BLAS_LOCK = threading.Lock()
_blas_users = 0
_blas_limit: Any = None
_blas_controller: Any = None  # threadpoolctl's scan of the loaded libraries, made once: 4-5 ms a scan
# with scikit-learn loaded (the suite ran 3.4x slower scanning per pass), 0.02 ms a limit from it. The
# passes' BLAS calls are numpy's, whose library is loaded before the first pass


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """One BLAS thread while inside (threadpoolctl), around every pass: the passes' BLAS calls are tiny
    (row sums, small tallies) and a BLAS pool only spins against the pass's threads. Measured in-process
    (10M x 100 default batched mode, OpenBLAS's two threads): 2.6-2.7 s with n_jobs=2 against 1.5 s
    with one BLAS thread, and with n_jobs=1 the same wall time but 3.8-4.7 CPU-s against 2.2. The CLI
    sets the same through the environment before numpy loads. Counted, so that passes which overlap (a
    generator left open while another runs) restore the caller's setting only when the last one ends."""
    global _blas_users, _blas_limit, _blas_controller
    with _BLAS_LOCK:
        if _blas_users == 0:
            if _blas_controller is None:
                from threadpoolctl import ThreadpoolController

                _blas_controller = ThreadpoolController()
            _blas_limit = _blas_controller.limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limit.restore_original_limits()
                _blas_limit = None


def map_ordered(
    func: Callable[[Any], T], items: Iterable[Any], n_jobs: int = 1, window: int = 2
) -> Iterator[T]:
    """func over items as they are produced, results yielded in item order: the one thread-pool driver
    of every pass. With n_jobs > 1 at most `window` x n_jobs items are in flight, so memory stays bounded
    and results (and their merge order) are the same as with one worker; the first failing item is the
    one whose error rises."""
    if n_jobs <= 1:
        with one_blas_thread():  # one core, as resolve_n_jobs promises: no BLAS pool spinning beside it
            for item in items:
                yield func(item)
        return
    with one_blas_thread(), ThreadPoolExecutor(max_workers=n_jobs) as pool:
        pending: deque[Future[T]] = deque()
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) >= window * n_jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def map_batches(
    func: Callable[[slice], T], n: int, rows: int, n_jobs: int = 1, progress: RowsDone | None = None
) -> Iterator[T]:
    """func(slice) for consecutive row slices of [0, n), results yielded in slice order; with `progress`,
    each slice's rows are reported as its result comes back (`reported`)."""
    if progress is None:
        return map_ordered(func, row_slices(n, rows), n_jobs, window=4)
    counted = map_ordered(lambda sl: (sl.stop - sl.start, func(sl)), row_slices(n, rows), n_jobs, window=4)
    return reported(counted, progress)


def reported(results: Iterable[tuple[int, T]], progress: RowsDone) -> Iterator[T]:
    """The results of (rows, result) pairs, each pair's rows reported as it is taken: in order and from
    the consuming thread, never from a worker, so that a pass ends at exactly its total (the last block
    included) and a reporter needs no lock. progress(0) comes first: a bar shows as its pass starts."""
    progress(0)
    for rows, out in results:
        progress(rows)
        yield out
