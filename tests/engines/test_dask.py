"""The Dask engine gives the local engine's result bit for bit: every filter on the golden real sets,
the default mode, the CLI's bytes; a real `dask scheduler` / `dask worker` pair; a worker killed
mid-run; an unreachable scheduler; Dask missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from golden_data import REAL_SETS

import labelaudit as la
from labelaudit.cli import app
from labelaudit.core import stream
from labelaudit.engines.dask import DaskEngine
from labelaudit.io.stream import BlockSource
from tests.engines.cluster import local_cluster

GOLDEN = "tests/golden/inputs"


def source(name: str, rows: int = 997) -> BlockSource:
    """A golden set in blocks of `rows` (small ones: a Dask task is engines.dask.GROUP blocks, so the
    cluster runs several tasks, with chunks and ties across their boundaries)."""
    return BlockSource(f"{GOLDEN}/{name}/labels.npy", f"{GOLDEN}/{name}/pred_probs.npy", rows=rows)


def exact(src: BlockSource, engine, **kw):
    ranked, ctx = stream.exact_issue_rows(src.passes, src.n, src.k, src.dtype, engine=engine, **kw)
    return ranked, ctx


@pytest.mark.parametrize("name", REAL_SETS)
def test_exact_every_filter_equals_local(cluster, name):
    engine = DaskEngine(cluster)
    for filter_by in la.FILTERS:
        rank_by = "normalized_margin" if filter_by == "both" else "self_confidence"
        want, ctx_w = exact(source(name), None, filter_by=filter_by, rank_by=rank_by)
        got, ctx_g = exact(source(name, 71), engine, filter_by=filter_by, rank_by=rank_by)
        np.testing.assert_array_equal(got, want, err_msg=f"{name} {filter_by}")
        np.testing.assert_array_equal(ctx_g.rows.dense_joint(), ctx_w.rows.dense_joint())
        key = (rank_by, False)
        assert ctx_g.stored_scores[key].tobytes() == ctx_w.stored_scores[key].tobytes()


@pytest.mark.parametrize("name", ["cifar10", "20news"])
def test_default_mode_equals_local(cluster, name):
    engine = DaskEngine(cluster)
    for method, adjust in (
        ("self_confidence", False),
        ("normalized_margin", True),
        ("confidence_weighted_entropy", False),
    ):
        src = source(name)
        want = stream.batched_issue_rows(
            src.passes, src.n, src.k, dtype=src.dtype, method=method, adjust_pred_probs=adjust, chunk=3000
        )
        src = source(name, 53)
        got = stream.batched_issue_rows(
            src.passes,
            src.n,
            src.k,
            dtype=src.dtype,
            method=method,
            adjust_pred_probs=adjust,
            chunk=3000,
            engine=engine,
        )
        np.testing.assert_array_equal(got.ranked, want.ranked)
        assert got.scores.tobytes() == want.scores.tobytes()
        assert got.thresholds.tobytes() == want.thresholds.tobytes()


def test_progress_is_fed_by_task_completions(cluster):
    from labelaudit.engines.dask import GROUP

    src = source("cifar10", 100)
    seen: list[tuple[str, int]] = []
    exact(src, DaskEngine(cluster), progress=lambda name, rows: seen.append((name, rows)))
    for name in ("A: thresholds", "B: confident joint"):
        rows = [r for n, r in seen if n == name]
        assert rows[0] == 0 and sum(rows) == src.n
        assert len(rows) == 1 + -(-src.n // (100 * GROUP))  # one report per task of GROUP blocks


def cli_outputs(runner, tmp_path, tag, extra, args):
    out, scores = tmp_path / f"{tag}.npy", tmp_path / f"{tag}-scores.npy"
    r = runner.invoke(app, ["batched", *args, "-o", str(out), "--scores-out", str(scores), *extra])
    j = runner.invoke(app, ["batched", *args, "--format", "json", *extra])
    return r.exit_code, out.read_bytes() if out.exists() else None, scores.read_bytes(), j.exit_code, j.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--exact", "--filter-by", "prune_by_noise_rate"],
        ["--exact", "--filter-by", "confident_learning", "--rank-by", "normalized_margin", "--mask"],
        ["--rank-by", "normalized_margin", "--adjust-pred-probs", "--max-issues", "10"],
        ["--mask"],
        ["--rank-by", "confidence_weighted_entropy", "--chunk-size", "777", "--top", "5"],
    ],
)
def test_cli_bytes_equal_local(runner, tmp_path, cluster, args):
    d = f"{GOLDEN}/cifar10"
    base = ["-l", f"{d}/labels.npy", "-p", f"{d}/pred_probs.npy", *args]
    local = cli_outputs(runner, tmp_path, "local", ["--batch-size", "1000"], base)
    address = cluster.scheduler.address
    dask = cli_outputs(runner, tmp_path, "dask", ["--engine", "dask", "--scheduler", address], base)
    assert local == dask
    assert local[0] == (1 if "--max-issues" in args else 0) and '"n_issues"' in local[4]


def test_cli_honours_dask_scheduler_address(runner, tmp_path, cluster, monkeypatch):
    d = f"{GOLDEN}/gen_k5"
    base = ["batched", "-l", f"{d}/labels.npy", "-p", f"{d}/pred_probs.npy", "--format", "json"]
    want = runner.invoke(app, base)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler.address)
    got = runner.invoke(app, [*base, "--engine", "dask"])
    assert got.exit_code == want.exit_code == 0, got.stderr
    assert got.stdout == want.stdout


def test_unreachable_scheduler_is_exit_2_naming_it(runner):
    d = f"{GOLDEN}/gen_k5"
    t = time.monotonic()
    r = runner.invoke(
        app,
        [
            "batched",
            "-l",
            f"{d}/labels.npy",
            "-p",
            f"{d}/pred_probs.npy",
            "--engine",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--connect-timeout",
            "1",
        ],
    )
    assert r.exit_code == 2 and time.monotonic() - t < 30
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 1s" in r.stderr
    assert "Traceback" not in r.stderr


def test_scheduler_options_need_engine_dask(runner):
    d = f"{GOLDEN}/gen_k5"
    args = ["batched", "-l", f"{d}/labels.npy", "-p", f"{d}/pred_probs.npy"]
    r = runner.invoke(app, [*args, "--workers", "2"])
    assert r.exit_code == 2 and "Error: --workers: for --engine dask only" in r.stderr
    r = runner.invoke(app, [*args, "--engine", "dask", "--workers", "2", "--scheduler", "tcp://x:1"])
    assert r.exit_code == 2 and "give one of them" in r.stderr


def test_missing_dask_names_the_extra(runner, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    d = f"{GOLDEN}/gen_k5"
    r = runner.invoke(
        app, ["batched", "-l", f"{d}/labels.npy", "-p", f"{d}/pred_probs.npy", "--engine", "dask"]
    )
    assert r.exit_code == 2
    assert "--engine dask needs dask and distributed; install labelaudit[dask]" in r.stderr


def test_local_engine_imports_no_dask(tmp_path):
    d = f"{GOLDEN}/gen_k5"
    code = (
        "import sys\nfrom labelaudit.cli.app import main\nsys.argv=['labelaudit','batched','-l',"
        f"'{d}/labels.npy','-p','{d}/pred_probs.npy','-o','{tmp_path}/o.npy']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'dask' not in sys.modules and 'distributed' not in sys.modules, 'dask imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_worker_killed_mid_run_is_retried_result_unchanged():
    import distributed

    want, _ = exact(source("cifar10", 40), None, filter_by="both")
    with local_cluster() as c, distributed.Client(c, set_as_default=False) as client:
        pids = client.run(os.getpid)
        killed: list[int] = []

        def progress(name, rows):
            if rows and not killed:  # the first completed task: others are in flight on both workers
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        got, _ = exact(source("cifar10", 40), DaskEngine(client), filter_by="both", progress=progress)
        assert killed
        client.wait_for_workers(2, timeout=60)
        assert killed[0] not in client.run(os.getpid).values()  # a new worker process took its place
    np.testing.assert_array_equal(got, want)


def test_worker_killed_after_the_scoring_pass_loses_kept_parts_result_unchanged():
    """The default mode's parts live in the workers until the selection: a worker killed once pass 1
    is done takes its parts with it, and the scheduler recomputes them (re-reading their blocks)."""
    import distributed

    want = stream.batched_issue_rows(*_default_args(source("cifar10", 40)), chunk=700)
    with local_cluster() as c, distributed.Client(c, set_as_default=False) as client:
        pids = client.run(os.getpid)
        src = source("cifar10", 40)
        killed: list[int] = []
        seen = [0]

        def progress(name, rows):
            seen[0] += rows
            if seen[0] == src.n and not killed:  # the last task of pass 1: every part is kept
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        got = stream.batched_issue_rows(
            *_default_args(src), chunk=700, engine=DaskEngine(client), progress=progress
        )
        assert killed
    np.testing.assert_array_equal(got.ranked, want.ranked)
    assert got.thresholds.tobytes() == want.thresholds.tobytes()
    assert got.num_issues == want.num_issues


def _default_args(src: BlockSource) -> tuple:
    return src.passes, src.n, src.k


@pytest.fixture
def dask_processes(tmp_path, request):
    """`dask scheduler` on 127.0.0.1 (port 0, no dashboard) and `dask worker --nworkers 2` as real
    processes; ended (and waited for) when the test is done."""
    import distributed

    sched_file = tmp_path / "scheduler.json"
    dask = [os.path.join(os.path.dirname(sys.executable), "dask")]
    procs = []

    def stop():
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    request.addfinalizer(stop)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs.append(
        subprocess.Popen(
            [
                *dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            **quiet,
        )
    )
    deadline = time.monotonic() + 60
    while not sched_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    procs.append(
        subprocess.Popen(
            [
                *dask,
                "worker",
                "--scheduler-file",
                str(sched_file),
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
            ],
            **quiet,
        )
    )
    with distributed.Client(scheduler_file=str(sched_file), set_as_default=False, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    return sched_file


def test_end_to_end_with_real_scheduler_and_workers(dask_processes, tmp_path):
    d = f"{GOLDEN}/20news"
    args = [
        sys.executable,
        "-m",
        "labelaudit",
        "batched",
        "-l",
        f"{d}/labels.npy",
        "-p",
        f"{d}/pred_probs.npy",
        "--exact",
        "--filter-by",
        "both",
        "--format",
        "json",
        "-q",
    ]
    local = subprocess.run(args, capture_output=True, timeout=120)
    dask = subprocess.run(
        [*args, "--engine", "dask", "--scheduler-file", str(dask_processes)], capture_output=True, timeout=120
    )
    assert dask.returncode == local.returncode == 0, dask.stderr.decode()
    assert dask.stdout == local.stdout


@pytest.mark.parametrize("problem", ["nan", "drift"])
def test_bad_values_read_in_workers_are_reported_as_locally(runner, tmp_path, cluster, problem):
    y = np.load(f"{GOLDEN}/gen_k5/labels.npy")
    p = np.load(f"{GOLDEN}/gen_k5/pred_probs.npy").astype(np.float32)
    if problem == "nan":
        p[2345, 1] = np.nan
    else:
        p[2345] = 0
        p[2345, 1] = 1.0004  # drift within tolerance: clipped with a warning, in every pass
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "y.npy", y)
    args = [
        "batched",
        "-l",
        str(tmp_path / "y.npy"),
        "-p",
        str(tmp_path / "p.npy"),
        "--exact",
        "--format",
        "json",
    ]
    local = runner.invoke(app, [*args, "--batch-size", "500"])
    dask = runner.invoke(app, [*args, "--engine", "dask", "--scheduler", cluster.scheduler.address])
    assert (dask.exit_code, dask.stdout, dask.stderr) == (local.exit_code, local.stdout, local.stderr)
    if problem == "nan":
        assert local.exit_code == 2 and "row 2345" in local.stderr
    else:
        assert local.exit_code == 0 and "were clipped into [0, 1]" in local.stderr


def test_workers_start_a_local_cluster_whatever_the_environment_says(runner, monkeypatch):
    d = f"{GOLDEN}/gen_k5"
    base = ["batched", "-l", f"{d}/labels.npy", "-p", f"{d}/pred_probs.npy", "--format", "json"]
    want = runner.invoke(app, base)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")  # nothing listens there
    got = runner.invoke(app, [*base, "--engine", "dask", "--workers", "1", "--connect-timeout", "1"])
    assert got.exit_code == want.exit_code == 0, got.stderr
    assert got.stdout == want.stdout
    r = runner.invoke(app, [*base, "--engine", "dask", "--connect-timeout", "1"])
    assert r.exit_code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in r.stderr
