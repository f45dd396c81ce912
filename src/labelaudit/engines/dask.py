"""The Dask engine: the per-block kernels of core.stream run as tasks on a Dask cluster.

Each task of `map` is run_block(kernel, BlockTask) over GROUP consecutive blocks: the worker reads its own blocks (io.stream.BlockTask is a
small picklable description: a path and a row range, or a Parquet row group, or a Zarr chunk) and
returns the kernel's partial. The kernel and its parameters (thresholds, sampled bounds) are scattered
to every worker once per pass. At most WINDOW tasks per worker thread are in flight, so the client holds
a bounded number of partials; they are handed back in block order, so the driver merges exactly as with
the local engine. Progress is told as tasks complete. A worker that dies mid-task has its tasks
rescheduled by the scheduler (the partials are pure functions of the block: the result is unchanged).

The default mode keeps its per-row results in the workers (`keep`): a task make_part(kernel, its GROUP
blocks) stays in its worker's memory as a future the client holds, and a second, tiny task on the same
worker sends its summary (chunk statistics, a sample of scores: kilobytes, not the 14 bytes per row a
partial would be). The later rounds (`each`) are one small task per part, run where the part is. A part
lost with its worker is recomputed by the scheduler from its task (its blocks are re-read), so the
result is unchanged.

A LocalCluster (--workers N) forks its workers from multiprocessing's fork server, started before the
inputs are opened with numpy, Dask and the kernels preloaded (start_fork_server), instead of spawning
each one to import them again.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from labelaudit.core.batching import RowsDone
from labelaudit.core.stream import GROUP as STREAM_GROUP
from labelaudit.core.stream import Block, BlockItem, make_part, on_part, part_summary, run_block, task_groups
from labelaudit.errors import InputError

if TYPE_CHECKING:
    from labelaudit.engines import EngineSpec

T = TypeVar("T")
WINDOW = 3  # tasks in flight per worker thread
GROUP = 4 * STREAM_GROUP  # consecutive blocks per task: 32 default blocks are 2^26 elements (256 MB of
# float32, 0.1-0.2 s of one core), four times the local engine's parts. A task costs the scheduler, the
# client and the worker about a millisecond each, and more on a busy machine: with 8 blocks per task
# (60 tasks a pass, four times that with the default mode's rounds) a 10M x 100 pass cost the client
# 1.0-1.1 s of CPU and the workers 10-20% more than with 32. The blocks, and so the partials, are the
# local engine's; the result does not depend on the grouping (core/stream.py's parts)
EACH_GATHER = 16  # results of `each` fetched per request
EXTRA = "labelaudit[dask]"
# What the fork server imports once, before it forks local workers: what a worker runs (Dask, numpy, the
# kernels and the readers), so that a forked worker starts with them imported
PRELOAD = ("numpy", "distributed", "labelaudit.core.stream", "labelaudit.io.stream")
# The environment Dask's nanny gives a spawned worker before it starts (distributed.nanny.pre-spawn-environ
# and its fixed hash seed); a forked worker inherits the fork server's, so the server starts with these.
# glibc's thresholds fixed (not Dask's MALLOC_TRIM_THRESHOLD_=65536 alone, which turns off the adaptive
# mmap threshold, so every block a worker read was a fresh mmap faulted in page by page): below 32 MB
# from the heap, trimmed only past 256 MB. A worker keeps the default mode's parts between tasks; with
# glibc's adaptive thresholds each task's temporaries (the chunk statistics') were trimmed off the heap
# top and faulted in again by the next (1.2e5 faults in a fresh worker per 10M x 100 pass, 3.3e4 so)
SERVER_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONHASHSEED": "6640",
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(256 << 20),
}


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise InputError(f"--engine dask needs dask and distributed; install {EXTRA}") from None
    return distributed


def run_blocks(func: Callable[[Block], T], items: tuple[BlockItem, ...]) -> list[tuple[int, Any, T]]:
    """One task of `map`: run_block over consecutive items, in order, in the worker."""
    return [run_block(func, item) for item in items]


def start_fork_server() -> bool:
    """Start multiprocessing's fork server now, if this platform has one (a no-op once it runs): a fresh
    process, started by exec, that imports PRELOAD while this one goes on (reading labels, importing
    Dask); a local cluster's workers are then forked from it (see local_start_method) instead of each
    being spawned and importing numpy and Dask itself, which cost 0.4-0.8 s of every run and more with
    more workers. Safe where forking this process is not: the server is single-threaded when it forks,
    while this process already runs Dask's event-loop thread. True when the server runs."""
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(PRELOAD))
    saved = {key: os.environ.get(key) for key in SERVER_ENV}
    os.environ.update(SERVER_ENV)  # only for the server's start, as the nanny does before a spawn
    try:
        forkserver.ensure_running()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return True


@contextlib.contextmanager
def local_start_method(distributed: Any) -> Iterator[None]:
    """Start a LocalCluster's worker processes from the fork server (start_fork_server) while inside,
    unless Dask is configured for another method than its default (spawn) or there is no fork server."""
    import dask

    key = "distributed.worker.multiprocessing-method"
    if dask.config.get(key, default="spawn") != "spawn" or not start_fork_server():
        yield
        return
    # distributed would otherwise import every optional package it knows of in this process to preload
    # them into the server (pandas, pyarrow, ...): the server already runs with PRELOAD
    with contextlib.suppress(AttributeError):
        distributed.utils._forkserver_preload_set = True
    with dask.config.set({key: "forkserver"}):
        yield


class DaskEngine:
    """core.stream.Engine over a distributed.Client."""

    def __init__(self, client: Any, local_threads: int = 0) -> None:
        self.client = client
        # a LocalCluster's worker threads (on this machine's cores, idle while the driver works); 0 for
        # a cluster elsewhere
        self.local_threads = local_threads

    def call_all(self, funcs: list[Callable[[], T]]) -> list[T]:
        from labelaudit.core.stream import _call

        return list(self.client.gather(self.client.map(_call, funcs, pure=False)))

    def slots(self) -> int:
        threads = self.client.nthreads()
        return max(1, sum(threads.values())) * WINDOW

    def map(
        self, func: Callable[[Block], T], items: Iterable[BlockItem], done: RowsDone | None = None
    ) -> Iterator[tuple[Any, T]]:
        distributed = _distributed()
        client = self.client
        kernel = client.scatter(func, broadcast=True, hash=False)
        pending = distributed.as_completed(loop=client.loop)
        order: dict[str, int] = {}
        ready: dict[int, Any] = {}
        source = iter(items)
        submitted = taken = 0

        def submit() -> bool:
            nonlocal submitted
            group = tuple(itertools.islice(source, GROUP))
            if not group:
                return False
            fut = client.submit(run_blocks, kernel, group, pure=False)
            order[fut.key] = submitted
            submitted += 1
            pending.add(fut)
            return True

        try:
            if done is not None:
                done(0)
            for _ in range(self.slots()):
                if not submit():
                    break
            for fut in pending:
                i = order.pop(fut.key)
                if fut.status == "finished":
                    ready[i] = got = fut.result()
                    fut.release()
                    if done is not None:
                        done(sum(rows for rows, _, _ in got))
                elif fut.status in ("error", "cancelled"):  # its error rises in block order
                    ready[i] = fut
                else:  # lost with its worker and rescheduled: wait for it again
                    order[fut.key] = i
                    pending.add(fut)
                    continue
                submit()
                while taken in ready:
                    got = ready.pop(taken)
                    taken += 1
                    if isinstance(got, distributed.Future):
                        got.result()
                        raise AssertionError(f"a Dask task ended as {got.status} without an error")
                    for _, note, value in got:
                        yield note, value
        finally:
            for left in [*ready.values(), *pending.futures]:
                if isinstance(left, distributed.Future):
                    left.cancel()
            pending.clear()
            kernel.release()

    def keep(
        self,
        kernel: Any,
        items: Iterable[BlockItem],
        done: RowsDone | None = None,
        prior: list[Any] | None = None,
    ) -> Iterator[tuple[Any, list[Any], Any]]:
        distributed = _distributed()
        client = self.client
        parts, summaries = [], []
        for group, base in task_groups(items, GROUP, prior):
            part = client.submit(make_part, kernel, group, base, pure=False)
            parts.append(part)
            summaries.append(client.submit(part_summary, part, pure=False))
        order = {fut.key: i for i, fut in enumerate(summaries)}
        ready: dict[int, Any] = {}
        taken = 0
        pending = distributed.as_completed(summaries, loop=client.loop)
        try:
            if done is not None:
                done(0)
            for fut in pending:
                i = order[fut.key]
                if fut.status == "finished":
                    ready[i] = got = fut.result()
                    fut.release()
                    if done is not None:
                        done(sum(got[0]))
                elif fut.status in ("error", "cancelled"):  # its error rises in row order
                    ready[i] = fut
                else:  # lost with its worker and rescheduled: wait for it again
                    pending.add(fut)
                    continue
                while taken in ready:
                    got = ready.pop(taken)
                    if isinstance(got, distributed.Future):
                        got.result()
                        raise AssertionError(f"a Dask task ended as {got.status} without an error")
                    yield parts[taken], got[1], got[2]
                    taken += 1
        finally:
            if taken < len(parts):  # left early (an error): nothing more to compute
                for fut in [*parts, *summaries]:
                    fut.cancel()
            pending.clear()

    def each(self, func: Callable[[Any], T], handles: list[Any]) -> Iterator[T]:
        client = self.client
        futs = client.map(on_part, [func] * len(handles), handles, pure=False)
        at = 0
        try:
            for at in range(0, len(futs), EACH_GATHER):  # in batches: results in order, bounded here
                batch = futs[at : at + EACH_GATHER]
                yield from client.gather(batch)
                for fut in batch:
                    fut.release()
            at = len(futs)
        finally:
            for fut in futs[at:]:  # left early: the rest is not needed
                fut.cancel()


@contextlib.contextmanager
def dask_engine(spec: EngineSpec) -> Iterator[DaskEngine]:
    """A client for the scheduler `spec` names (or a LocalCluster of spec.workers processes on
    127.0.0.1, no dashboard); an unreachable scheduler is an InputError naming it after spec.timeout."""
    if spec.wants_local_cluster():
        start_fork_server()  # it imports while this process imports Dask
    distributed = _distributed()
    address = spec.address()
    with contextlib.ExitStack() as stack:
        if spec.scheduler_file is not None:
            if not os.path.isfile(spec.scheduler_file):
                raise InputError(f"{spec.scheduler_file}: --scheduler-file not found")
            where = f"the scheduler of {spec.scheduler_file}"
            connect: dict[str, Any] = {"scheduler_file": spec.scheduler_file}
        elif address is not None:
            where, connect = address, {"address": address}
        else:
            where, connect = "", {}
        if connect:
            try:
                client = distributed.Client(**connect, timeout=spec.timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {where} within {spec.timeout:g}s: {exc}"
                ) from None
            stack.callback(client.close)
        else:
            stack.enter_context(local_start_method(distributed))
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=spec.workers or 2,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    # no dashboard; the scheduler's HTTP server (health routes) on a free loopback port
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.ERROR,
                )
            )
            client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
            yield DaskEngine(client, local_threads=spec.workers or 2)
            return
        yield DaskEngine(client)
