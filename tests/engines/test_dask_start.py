"""How a local cluster starts and what the driver does meanwhile: workers forked from the preloaded
fork server (with the nanny's environment), the driver's threads sized to the local workers, the
compact dtypes of the default mode's pass-1 partials. None of it changes results (test_dask.py)."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from labelaudit.core import stream
from labelaudit.core.confident import argmax_dtype, chunk_thresholds
from labelaudit.engines import EngineSpec
from labelaudit.engines import dask as dask_engine
from labelaudit.io.stream import driver_jobs

pytest.importorskip("distributed")
needs_forkserver = pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no fork server on this platform"
)


def _worker_facts() -> tuple[int, str | None, str | None, bool]:
    import sys

    return (
        os.getppid(),
        os.environ.get("OMP_NUM_THREADS"),
        os.environ.get("PYTHONHASHSEED"),
        ("labelaudit.core.stream" in sys.modules),
    )


@needs_forkserver
def test_local_workers_are_forked_from_the_fork_server():
    from multiprocessing import forkserver

    spec = EngineSpec("dask", workers=2)
    spec.prepare()  # what stream_issues does before it opens the inputs
    server = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    assert server is not None and server != os.getpid()
    with spec.open() as engine:
        facts = list(engine.client.run(_worker_facts).values())  # type: ignore[attr-defined]
        assert engine.local_threads == 2  # type: ignore[attr-defined]
    assert len(facts) == 2
    for parent, omp, seed, preloaded in facts:
        assert parent == server  # forked by the server, not spawned by this process
        assert (omp, seed) == ("1", "6640")  # the nanny's pre-spawn environment and hash seed
        assert preloaded
    import dask

    assert dask.config.get("distributed.worker.multiprocessing-method") == "spawn"  # restored


def test_a_start_method_configured_for_dask_is_kept(monkeypatch):
    import dask
    import distributed

    calls = []
    monkeypatch.setattr(dask_engine, "start_fork_server", lambda: calls.append(1) or True)
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        with dask_engine.local_start_method(distributed):
            assert dask.config.get("distributed.worker.multiprocessing-method") == "forkserver"
    assert calls == []  # not ours to start: Dask's own forkserver setting, with its own preload
    with dask_engine.local_start_method(distributed):
        assert dask.config.get("distributed.worker.multiprocessing-method") == "forkserver"
    assert calls == [1]
    assert dask.config.get("distributed.worker.multiprocessing-method") == "spawn"


def test_prepare_starts_nothing_for_a_remote_scheduler(monkeypatch):
    calls = []
    monkeypatch.setattr(dask_engine, "start_fork_server", lambda: calls.append(1) or True)
    EngineSpec("dask", scheduler="tcp://127.0.0.1:9").prepare()
    EngineSpec("local").prepare()
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")
    EngineSpec("dask").prepare()
    assert calls == []
    EngineSpec("dask", workers=1).prepare()  # --workers: a local cluster, whatever the environment says
    assert calls == [1]


def test_driver_threads_follow_the_local_workers():
    assert driver_jobs(1, stream.ThreadEngine(1)) == 1
    assert driver_jobs(2, stream.ThreadEngine(2)) == 2
    assert driver_jobs(1, dask_engine.DaskEngine(None, local_threads=2)) == 2
    assert driver_jobs(3, dask_engine.DaskEngine(None, local_threads=2)) == 3
    assert driver_jobs(1, dask_engine.DaskEngine(None)) == 1  # a remote cluster: --n-jobs as given
    assert driver_jobs(-1, dask_engine.DaskEngine(None)) == (os.cpu_count() or 1)


@pytest.mark.parametrize("k", [3, 300, 70000])
def test_pass_one_partials_come_in_the_kept_dtypes(k):
    rng = np.random.default_rng(k)
    pb = rng.random((50, k), dtype=np.float32)
    yb = rng.integers(0, k, 50)
    labels, sc, g, top, match, scores = stream.scores_block("self_confidence", False, (0, yb, pb))
    assert labels.dtype == np.int32 and g.dtype == argmax_dtype(k)
    np.testing.assert_array_equal(labels, yb)
    np.testing.assert_array_equal(g.astype(np.int64), pb.argmax(axis=1))
    assert scores is None and sc.dtype == top.dtype == np.float32


def _arrays(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pb = rng.dirichlet(np.ones(k) * 0.3, n).astype(np.float32)
    labels = np.where(rng.random(n) < 0.8, pb.argmax(axis=1), rng.integers(0, k, n))
    return labels, pb


def _blocks(labels: np.ndarray, pb: np.ndarray, rows: int):
    return lambda: ((s, labels[s : s + rows], pb[s : s + rows]) for s in range(0, len(labels), rows))


@pytest.mark.parametrize("chunk", [1, 7, 300, 1000, 2999, 3000, 4096, 5000, 10**6])
@pytest.mark.parametrize(("rows", "size"), [(512, 8), (1000, 3), (3001, 1)])
def test_chunk_statistics_from_tasks_are_the_drivers_bits(chunk, rows, size):
    labels, pb = _arrays(9001, 6, chunk)
    kw = {"dtype": pb.dtype, "chunk": chunk}
    want = stream.batched_issue_rows(_blocks(labels, pb, 997), len(labels), 6, **kw)
    got = stream.batched_issue_rows(
        _blocks(labels, pb, rows), len(labels), 6, engine=stream.ThreadEngine(1, group=size), **kw
    )
    assert got.thresholds.tobytes() == want.thresholds.tobytes()
    np.testing.assert_array_equal(got.ranked, want.ranked)
    assert got.num_issues == want.num_issues


def test_tasks_bring_the_chunks_that_lie_whole_inside_them():
    labels, pb = _arrays(2500, 4, 1)
    kernel = stream.ScoresKernel("self_confidence", False, 300, 2500, 4, 1, np.dtype(np.float32))
    partials = [kernel((s, labels[s : s + 700], pb[s : s + 700])) for s in (700, 1400, 2100)]
    part, ((head_y, head_s, stats, tail_y, tail_s), sample) = kernel.part(partials)
    first, counts, means = stats
    assert first == 3 and len(counts) == 6  # chunks [900, 1200) ... [2400, 2500), the short last one
    want_c, want_m = chunk_thresholds(
        pb[np.arange(900, 2500), labels[900:2500]], labels[900:2500].astype(np.int32), 4, 300
    )
    np.testing.assert_array_equal(counts, want_c)
    assert means.tobytes() == want_m.tobytes()
    np.testing.assert_array_equal(head_y, labels[700:900])  # the rows of chunk [600, 900) it shares
    assert len(tail_y) == len(tail_s) == 0
    np.testing.assert_array_equal(sample, pb[np.arange(700, 2500), labels[700:2500]])  # stride 1: all
    many = stream.ScoresKernel("self_confidence", False, 3, 2500, 4, 1, np.dtype(np.float32))
    _, ((head_y, _, stats, tail_y, _), _) = many.part(partials)  # more classes than chunk rows
    assert stats is None and len(head_y) == 1800 and len(tail_y) == 0
