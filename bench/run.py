"""labelaudit vs cleanlab: one command, one Markdown report, both libraries in the same run.

Usage (from the repository root):
    .venv/bin/python bench/run.py [--sections find,health,batched,njobs] [--sizes 1Mx10,10Mx10,...]
                                  [--health-sizes 10Mx10] [--batched-sizes 10Mx10,10Mx100]
                                  [--njobs-sizes 10Mx100] [--repeat N] [--quick]
                                  [--out bench/results/latest.md] [--cleanlab-python PATH]

Inputs (float32 pred_probs, int64 labels) come from bench/gen.py, generated once per size. Every
measurement runs in a fresh subprocess; within a size the runs of one repeat are interleaved
(labelaudit, cleanlab, labelaudit, ...); with --repeat N the min time and the max peak RSS are reported.
Whole-process runs report wall time and peak RSS (os.wait4's ru_maxrss). Sections:
  find     find_label_issues: library call (bench/call.py) and `labelaudit find-issues` against
           bench/cleanlab_find_issues.py; same-mask checks.
  health   HealthReport(Context(...)) against cleanlab's health_summary (bench/call.py --task health),
           and `labelaudit health -o X.json` against bench/cleanlab_health.py; health score equal and
           joint within 1e-9 relative.
  batched  `labelaudit batched --mask` (default mode and --exact) against cleanlab's
           find_label_issues_batched (n_jobs=1; library call and bench/cleanlab_batched.py);
           default mask = cleanlab's mask, --exact set = `labelaudit find-issues` set.
  njobs    `labelaudit batched` with --n-jobs 1 against --n-jobs 2 (default mode and --exact).
The report ends each section with its table and starts with the targets, met or not.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
import gen  # noqa: E402

SECTIONS = ("find", "health", "batched", "njobs")
DEFAULT_SIZES = {
    "find": "1Mx10,10Mx10,1Mx100,200kx1000",
    "health": "10Mx10",
    "batched": "10Mx10,10Mx100",
    "njobs": "10Mx100",
}
QUICK_SIZES = {
    "find": "20kx10,10kx100,2kx1000",
    "health": "20kx10",
    "batched": "20kx10,10kx100",
    "njobs": "10kx100",
}
CLEANLAB_CANDIDATES = ("/tmp/clenv/bin/python", "/tmp/clbench/bin/python")
CLBENCH = Path("/tmp/clbench")
CLEANLAB_PIN = "cleanlab==2.9.0"
GIB_MIB = 1024.0
JOINT_RTOL = 1e-9


# --------------------------------------------------------------------------- subprocesses


@dataclass
class Proc:
    rc: int | None
    wall_s: float
    maxrss_mb: float
    timed_out: bool
    stderr_tail: str = ""
    stdout_bytes: int = 0


def run_measured(cmd: list[str], timeout_s: float, log_dir: Path) -> Proc:
    """Run cmd in its own session; wall time until exit and peak RSS via os.wait4."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out = open(log_dir / "stdout.txt", "wb")
    err = open(log_dir / "stderr.txt", "wb")
    env = dict(os.environ, NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1")
    killed = threading.Event()
    t0 = time.perf_counter()
    p = subprocess.Popen(
        cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True, cwd=REPO
    )

    def kill() -> None:
        killed.set()
        try:
            os.killpg(p.pid, signal.SIGKILL)  # our own child's process group only
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout_s, kill)
    timer.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)  # already reaped; keep Popen consistent
    out.close()
    err.close()
    tail = (log_dir / "stderr.txt").read_text(errors="replace")[-2000:]
    return Proc(
        rc=p.returncode,
        wall_s=wall,
        maxrss_mb=ru.ru_maxrss / 1024,
        timed_out=killed.is_set(),
        stderr_tail=tail,
        stdout_bytes=(log_dir / "stdout.txt").stat().st_size,
    )


def quick_output(cmd: list[str], timeout: float = 120) -> tuple[int, str]:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
        return r.returncode, r.stdout + r.stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, str(e)


# --------------------------------------------------------------------------- environment


def find_cleanlab_python(explicit: str | None, setup: bool) -> tuple[str | None, str]:
    if explicit:
        rc, msg = quick_output([explicit, "-c", "import cleanlab"])
        if rc != 0:
            raise SystemExit(f"--cleanlab-python {explicit}: cannot import cleanlab:\n{msg}")
        return explicit, ""
    for cand in CLEANLAB_CANDIDATES:
        if Path(cand).exists() and quick_output([cand, "-c", "import cleanlab"])[0] == 0:
            return cand, ""
    if setup:
        print(f"creating {CLBENCH} with {CLEANLAB_PIN} ...", file=sys.stderr)
        subprocess.run(["python3", "-m", "venv", str(CLBENCH)], check=True)
        subprocess.run(
            [str(CLBENCH / "bin/pip"), "install", "-q", CLEANLAB_PIN, "scikit-learn", "pandas", "numpy"],
            check=True,
        )
        return str(CLBENCH / "bin/python"), ""
    return None, (
        "no Python with cleanlab found (tried "
        + ", ".join(CLEANLAB_CANDIDATES)
        + "); pass --cleanlab-python or --setup-cleanlab"
    )


def find_labelaudit(explicit: str | None) -> tuple[str, str | None]:
    """(python with labelaudit, path of the labelaudit console script or None)."""
    py = explicit
    if py is None:
        venv = REPO / ".venv/bin/python"
        py = str(venv) if venv.exists() else sys.executable
    cli = Path(py).parent / "labelaudit"
    cli_path = str(cli) if cli.exists() else shutil.which("labelaudit")
    return py, cli_path


def versions(python: str, lib: str) -> dict[str, str]:
    code = (
        "import json, sys, numpy; import " + lib + " as m; "
        "print(json.dumps({'python': sys.version.split()[0], 'numpy': numpy.__version__, "
        "'version': m.__version__}))"
    )
    rc, out = quick_output([python, "-c", code])
    if rc != 0:
        return {"error": out.strip()[-300:]}
    return json.loads(out.strip().splitlines()[-1])


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical ({usable} usable)",
        "ram": ram,
        "os": platform.platform(),
    }


# --------------------------------------------------------------------------- measurements


def _cpu_times() -> tuple[int, int] | None:
    try:
        f = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    v = [int(x) for x in f[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return sum(v) - idle, sum(v)


def busy_cores(sample_s: float = 0.5) -> float | None:
    """How many cores other processes kept busy over sample_s (this driver itself is idle then)."""
    a = _cpu_times()
    time.sleep(sample_s)
    b = _cpu_times()
    if a is None or b is None or b[1] == a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1]) * (os.cpu_count() or 1)


IDLE_STATS = {"runs": 0, "waited_s": 0.0, "started_busy": 0}


def wait_idle(max_wait_s: float, threshold: float = 0.3) -> None:
    """Before a timed run, wait (at most max_wait_s) until other processes use < threshold cores,
    so a test run or build elsewhere on a small machine does not land inside a measurement."""
    if max_wait_s <= 0:
        return
    t0 = time.perf_counter()
    IDLE_STATS["runs"] += 1
    while True:
        busy = busy_cores()
        if busy is None or busy < threshold:
            break
        if time.perf_counter() - t0 > max_wait_s:
            IDLE_STATS["started_busy"] += 1
            break
        time.sleep(2.0)
    IDLE_STATS["waited_s"] += time.perf_counter() - t0


def warm_page_cache(*paths: Path) -> None:
    # Every run then reads its inputs from the page cache, so the first run is not penalised.
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


def load_mask(path: Path, n: int) -> np.ndarray | None:
    """Boolean mask from a saved .npy: a mask as is, or flagged indices turned into one."""
    try:
        a = np.load(path)
    except (OSError, ValueError):
        return None
    if a.dtype == bool and a.shape == (n,):
        return a
    if np.issubdtype(a.dtype, np.integer) and a.ndim == 1:
        m = np.zeros(n, dtype=bool)
        m[a] = True
        return m
    return None


@dataclass
class Cell:
    """One measurement over the repeats (time: the min; peak RSS: the max), or why there is none."""

    values: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    status: str = ""  # "", "timeout", "error", "n/a", "skipped"
    extra: dict = field(default_factory=dict)

    def best(self) -> float | None:
        return min(self.values) if self.values and not self.status else None

    def best_rss(self) -> float | None:
        # A ceiling, so the largest of the repeats (the times take the smallest).
        return max(self.rss) if self.rss and not self.status else None


def fail_status(p: Proc) -> str:
    return "timeout" if p.timed_out else "error"


# --------------------------------------------------------------------------- running jobs


@dataclass
class Job:
    """One measured subprocess: a whole process (wall time, peak RSS), or, when `result` is set, a
    bench/call.py run whose in-process call time is read from that JSON."""

    key: str
    label: str
    cmd: list[str]
    out: Path
    result: Path | None = None


def kept(path: Path) -> Path:
    """Where the output of a job's last successful run is kept (a later failed run cannot erase it)."""
    return path.with_name(path.stem + ".kept" + path.suffix)


def run_jobs(tag0: str, jobs: list[Job], cells: dict[str, Cell], args, work: Path, notes: list[str]) -> None:
    """Each job --repeat times, interleaved. A job whose cell already has a status is skipped; a timeout
    stops a job, while a failed run (an error) is noted and the job tried again in the next repeat, so
    a cell reads `error` only when no run succeeded. Outputs of the last good run stay at kept(out)."""
    failed: dict[str, int] = {}
    for r in range(args.repeat):
        tag = f"{tag0} [{r + 1}/{args.repeat}]"
        for job in jobs:
            c = cells[job.key]
            if c.status:
                continue
            job.out.unlink(missing_ok=True)
            if job.result is not None:
                job.result.unlink(missing_ok=True)
            wait_idle(args.idle_wait)
            p = run_measured(job.cmd, args.timeout, work / f"log-{job.key}-{r}")
            if p.rc != 0:
                notes.append(
                    f"{tag} {job.label}: {fail_status(p)} (rc={p.rc}) {p.stderr_tail.strip()[-300:]}"
                )
                failed[job.key] = failed.get(job.key, 0) + 1
                if p.timed_out:
                    c.status = "timeout"
                continue
            if job.out.exists():
                os.replace(job.out, kept(job.out))
            if job.result is not None:
                info = json.loads(job.result.read_text())
                c.values.append(info["call_s"])
                c.extra = info
                print(f"  {tag} {job.label:32s} {info['call_s']:8.3f}s", file=sys.stderr)
            else:
                c.values.append(p.wall_s)
                c.rss.append(p.maxrss_mb)
                c.extra = {"stdout_bytes": p.stdout_bytes}
                print(f"  {tag} {job.label:32s} {p.wall_s:8.3f}s  {p.maxrss_mb:8.0f} MiB", file=sys.stderr)
    for key, nfail in failed.items():
        c = cells[key]
        if not c.status and not c.values:
            c.status = "error"
        c.extra["failed_runs"] = nfail


def cells_json(cells: dict[str, Cell]) -> dict:
    return {
        key: {
            "best": c.best(),
            "best_rss_mb": c.best_rss(),
            "all": c.values,
            "rss_all": c.rss,
            "status": c.status,
            "extra": c.extra,
        }
        for key, c in cells.items()
    }


def mask_diff(ma: np.ndarray | None, mb: np.ndarray | None) -> str:
    if ma is None or mb is None:
        return "n/a"
    d = int((ma != mb).sum())
    return "yes" if d == 0 else f"no ({d:,} rows)"


@dataclass
class Env:
    la_py: str
    la_cli: str | None
    la_cmds: set[str]  # labelaudit subcommands that answer --help
    cl_py: str | None


def prepare(size: str, args, section: str) -> tuple[int, int, str, Path, Path, Path, dict]:
    n, k = gen.parse_size(size)
    name = gen.size_name(n, k)
    lp, pp = gen.ensure(size, args.data_dir, seed=args.seed)
    warm_page_cache(lp, pp)
    work = Path(tempfile.mkdtemp(prefix=f"run-{section}-{name}-", dir=args.data_dir))
    res = {
        "size": name,
        "n": n,
        "k": k,
        "input_mb": (lp.stat().st_size + pp.stat().st_size) / 1e6,
        "pred_probs_bytes": pp.stat().st_size,
    }
    return n, k, name, lp, pp, work, res


def finish(work: Path, args, res: dict) -> None:
    if not args.keep_outputs:
        shutil.rmtree(work, ignore_errors=True)
    else:
        res["work_dir"] = str(work)


# --------------------------------------------------------------------------- section: find


def bench_find(size: str, args, env: Env, notes: list[str]) -> dict:
    n, k, name, lp, pp, work, res = prepare(size, args, "find")
    cells = {key: Cell() for key in ("la_call", "cl_call", "la_proc", "cl_proc")}
    if env.cl_py is None:
        cells["cl_call"].status = cells["cl_proc"].status = "skipped"
    if "find-issues" not in env.la_cmds:
        cells["la_proc"].status = "n/a"
    cl_nj = [] if args.cleanlab_n_jobs is None else ["--n-jobs", str(args.cleanlab_n_jobs)]
    call = [str(BENCH / "call.py")]
    jobs = [
        Job(
            "la_call",
            "labelaudit call",
            [
                env.la_py,
                *call,
                "labelaudit",
                str(lp),
                str(pp),
                str(work / "la_call.npy"),
                str(work / "la_call.json"),
            ],
            work / "la_call.npy",
            work / "la_call.json",
        ),
        Job(
            "cl_call",
            "cleanlab call",
            [
                env.cl_py or "python",
                *call,
                "cleanlab",
                str(lp),
                str(pp),
                str(work / "cl_call.npy"),
                str(work / "cl_call.json"),
                *cl_nj,
            ],
            work / "cl_call.npy",
            work / "cl_call.json",
        ),
        Job(
            "la_proc",
            "labelaudit find-issues",
            [
                env.la_cli or "labelaudit",
                "find-issues",
                "-l",
                str(lp),
                "-p",
                str(pp),
                "-o",
                str(work / "la_proc.npy"),
                "--quiet",
                *shlex.split(args.cli_args),
            ],
            work / "la_proc.npy",
        ),
        Job(
            "cl_proc",
            "cleanlab script",
            [
                env.cl_py or "python",
                str(BENCH / "cleanlab_find_issues.py"),
                str(lp),
                str(pp),
                str(work / "cl_proc.npy"),
            ],
            work / "cl_proc.npy",
        ),
    ]
    run_jobs(f"find {name}", jobs, cells, args, work, notes)
    masks = {j.key: (load_mask(kept(j.out), n) if not cells[j.key].status else None) for j in jobs}

    res["same_given_cj"] = None
    ma, mb = masks.get("la_call"), masks.get("cl_call")
    if ma is not None and mb is not None and (ma != mb).any():
        # Diagnose: hand cleanlab's own calibrated confident joint to labelaudit. If the masks then
        # agree, the difference comes only from how ties are rounded in calibration (cleanlab's
        # unstable argsort vs labelaudit's stable one), not from the pruning itself.
        cj, m_cl, m_la = work / "cl_cj.npy", work / "diag_cl.npy", work / "diag_la.npy"
        p1 = run_measured(
            [
                env.cl_py,
                *call,
                "cleanlab",
                str(lp),
                str(pp),
                str(m_cl),
                str(work / "diag_cl.json"),
                "--save-cj",
                str(cj),
            ],
            args.timeout,
            work / "log-diag-cl",
        )
        if p1.rc == 0:
            p2 = run_measured(
                [
                    env.la_py,
                    *call,
                    "labelaudit",
                    str(lp),
                    str(pp),
                    str(m_la),
                    str(work / "diag_la.json"),
                    "--cj",
                    str(cj),
                ],
                args.timeout,
                work / "log-diag-la",
            )
            a2, b2 = load_mask(m_la, n), load_mask(m_cl, n)
            if p2.rc == 0 and a2 is not None and b2 is not None:
                res["same_given_cj"] = int((a2 != b2).sum())
        if res["same_given_cj"] is None:
            notes.append(f"find {name}: the confident-joint diagnosis failed; see --keep-outputs logs")
    res["cells"] = cells_json(cells)
    res["same_call"] = mask_diff(masks.get("la_call"), masks.get("cl_call"))
    res["same_cli"] = mask_diff(masks.get("la_proc"), masks.get("cl_proc"))
    res["flagged"] = {key: int(m.sum()) for key, m in masks.items() if m is not None}
    finish(work, args, res)
    return res


# --------------------------------------------------------------------------- section: health


def _joint_rel(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Largest elementwise |a - b| / |b| (a zero in b must be matched exactly)."""
    if a is None or b is None or a.shape != b.shape:
        return None
    diff = np.abs(a - b)
    if np.any((b == 0) & (diff != 0)):
        return float("inf")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(b == 0, 0.0, diff / np.abs(b))
    return float(rel.max())


def _read_health_json(path: Path, score_key: str) -> tuple[float | None, np.ndarray | None]:
    try:
        doc = json.loads(path.read_text())
        return float(doc[score_key]), np.asarray(doc["joint"], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def bench_health(size: str, args, env: Env, notes: list[str]) -> dict:
    n, k, name, lp, pp, work, res = prepare(size, args, "health")
    cells = {key: Cell() for key in ("la_call", "cl_call", "la_proc", "cl_proc")}
    if env.cl_py is None:
        cells["cl_call"].status = cells["cl_proc"].status = "skipped"
    if "health" not in env.la_cmds:
        cells["la_proc"].status = "n/a"
    call = [str(BENCH / "call.py")]
    jobs = [
        Job(
            "la_call",
            "labelaudit HealthReport",
            [
                env.la_py,
                *call,
                "labelaudit",
                str(lp),
                str(pp),
                str(work / "la_call.npy"),
                str(work / "la_call.json"),
                "--task",
                "health",
            ],
            work / "la_call.npy",
            work / "la_call.json",
        ),
        Job(
            "cl_call",
            "cleanlab health_summary",
            [
                env.cl_py or "python",
                *call,
                "cleanlab",
                str(lp),
                str(pp),
                str(work / "cl_call.npy"),
                str(work / "cl_call.json"),
                "--task",
                "health",
            ],
            work / "cl_call.npy",
            work / "cl_call.json",
        ),
        Job(
            "la_proc",
            "labelaudit health",
            [
                env.la_cli or "labelaudit",
                "health",
                "-l",
                str(lp),
                "-p",
                str(pp),
                "-o",
                str(work / "la_proc.json"),
                "--quiet",
            ],
            work / "la_proc.json",
        ),
        Job(
            "cl_proc",
            "cleanlab health script",
            [
                env.cl_py or "python",
                str(BENCH / "cleanlab_health.py"),
                str(lp),
                str(pp),
                str(work / "cl_proc.json"),
            ],
            work / "cl_proc.json",
        ),
    ]
    run_jobs(f"health {name}", jobs, cells, args, work, notes)
    got: dict[str, tuple[float | None, np.ndarray | None]] = {}
    for key in ("la_call", "cl_call"):
        c = cells[key]
        if c.status:
            got[key] = (None, None)
            continue
        try:
            joint = np.load(kept(work / f"{key}.npy"))
        except (OSError, ValueError):
            joint = None
        got[key] = (c.extra.get("health_score"), joint)
    got["la_proc"] = (
        (None, None)
        if cells["la_proc"].status
        else _read_health_json(kept(work / "la_proc.json"), "health_score")
    )
    got["cl_proc"] = (
        (None, None)
        if cells["cl_proc"].status
        else _read_health_json(kept(work / "cl_proc.json"), "overall_label_health_score")
    )

    def check(a: str, b: str) -> dict:
        (sa, ja), (sb, jb) = got[a], got[b]
        rel = _joint_rel(ja, jb)
        if sa is None or sb is None or rel is None:
            return {"ok": None, "score_equal": None, "joint_rel": rel}
        return {"ok": sa == sb and rel <= JOINT_RTOL, "score_equal": sa == sb, "joint_rel": rel}

    res["cells"] = cells_json(cells)
    res["scores"] = {key: s for key, (s, _) in got.items() if s is not None}
    res["same_call"] = check("la_call", "cl_call")
    res["same_proc"] = check("la_proc", "cl_proc")
    finish(work, args, res)
    return res


# --------------------------------------------------------------------------- section: batched


def bench_batched(size: str, args, env: Env, notes: list[str]) -> dict:
    n, k, name, lp, pp, work, res = prepare(size, args, "batched")
    cells = {key: Cell() for key in ("la_def", "la_call", "la_exact", "cl_call", "cl_proc")}
    if env.cl_py is None:
        cells["cl_call"].status = cells["cl_proc"].status = "skipped"
    if "batched" not in env.la_cmds:
        cells["la_def"].status = cells["la_exact"].status = "n/a"
    la = [env.la_cli or "labelaudit", "batched", "-l", str(lp), "-p", str(pp)]
    jobs = [
        Job(
            "la_def",
            "labelaudit batched",
            [*la, "-o", str(work / "la_def.npy"), "--mask", "--quiet"],
            work / "la_def.npy",
        ),
        Job(
            "la_call",
            "labelaudit batched call",
            [
                sys.executable,
                str(BENCH / "call.py"),
                "labelaudit",
                str(lp),
                str(pp),
                str(work / "la_call.npy"),
                str(work / "la_call.json"),
                "--task",
                "batched",
            ],
            work / "la_call.npy",
            work / "la_call.json",
        ),
        Job(
            "cl_call",
            "cleanlab batched call",
            [
                env.cl_py or "python",
                str(BENCH / "call.py"),
                "cleanlab",
                str(lp),
                str(pp),
                str(work / "cl_call.npy"),
                str(work / "cl_call.json"),
                "--task",
                "batched",
            ],
            work / "cl_call.npy",
            work / "cl_call.json",
        ),
        Job(
            "la_exact",
            "labelaudit batched --exact",
            [*la, "-o", str(work / "la_exact.npy"), "--mask", "--quiet", "--exact"],
            work / "la_exact.npy",
        ),
        Job(
            "cl_proc",
            "cleanlab batched script",
            [
                env.cl_py or "python",
                str(BENCH / "cleanlab_batched.py"),
                str(lp),
                str(pp),
                str(work / "cl_proc.npy"),
            ],
            work / "cl_proc.npy",
        ),
    ]
    run_jobs(f"batched {name}", jobs, cells, args, work, notes)
    masks = {j.key: (load_mask(kept(j.out), n) if not cells[j.key].status else None) for j in jobs}
    # Reference for --exact: the flagged indices of `labelaudit find-issues` (one untimed run).
    ref = None
    if "find-issues" in env.la_cmds and masks.get("la_exact") is not None:
        p = run_measured(
            [env.la_cli, "find-issues", "-l", str(lp), "-p", str(pp), "-o", str(work / "ref.npy"), "--quiet"],
            args.timeout,
            work / "log-ref",
        )
        if p.rc == 0:
            ref = load_mask(work / "ref.npy", n)
            res["ref_rss_mb"] = p.maxrss_mb
        else:
            notes.append(f"batched {name}: reference find-issues run failed ({fail_status(p)}, rc={p.rc})")
    masks["ref"] = ref
    res["cells"] = cells_json(cells)
    res["flagged"] = {key: int(m.sum()) for key, m in masks.items() if m is not None}
    res["same_default_call"] = mask_diff(masks.get("la_def"), masks.get("cl_call"))
    res["same_default_proc"] = mask_diff(masks.get("la_def"), masks.get("cl_proc"))
    res["same_exact"] = mask_diff(masks.get("la_exact"), ref)
    finish(work, args, res)
    return res


# --------------------------------------------------------------------------- section: njobs


def bench_njobs(size: str, args, env: Env, notes: list[str]) -> dict:
    n, k, name, lp, pp, work, res = prepare(size, args, "njobs")
    keys = ("def_1", "def_2", "exact_1", "exact_2")
    cells = {key: Cell() for key in keys}
    if "batched" not in env.la_cmds:
        for c in cells.values():
            c.status = "n/a"
    jobs = []
    for key in keys:
        mode, nj = key.split("_")
        extra = ["--exact"] if mode == "exact" else []
        jobs.append(
            Job(
                key,
                f"labelaudit batched {'--exact ' if extra else ''}--n-jobs {nj}",
                [
                    env.la_cli or "labelaudit",
                    "batched",
                    "-l",
                    str(lp),
                    "-p",
                    str(pp),
                    "-o",
                    str(work / f"{key}.npy"),
                    "--mask",
                    "--quiet",
                    "--n-jobs",
                    nj,
                    *extra,
                ],
                work / f"{key}.npy",
            )
        )
    run_jobs(f"njobs {name}", jobs, cells, args, work, notes)
    masks = {j.key: (load_mask(kept(j.out), n) if not cells[j.key].status else None) for j in jobs}
    res["cells"] = cells_json(cells)
    res["flagged"] = {key: int(m.sum()) for key, m in masks.items() if m is not None}
    res["same_def"] = mask_diff(masks.get("def_1"), masks.get("def_2"))
    res["same_exact"] = mask_diff(masks.get("exact_1"), masks.get("exact_2"))
    finish(work, args, res)
    return res


BENCHES = {"find": bench_find, "health": bench_health, "batched": bench_batched, "njobs": bench_njobs}


# --------------------------------------------------------------------------- targets


def _by_size(results: dict, section: str) -> dict[str, dict]:
    return {r["size"]: r for r in results.get(section, [])}


def _best(r: dict, key: str, rss: bool = False) -> float | None:
    c = r["cells"][key]
    return c["best_rss_mb"] if rss else c["best"]


def _r(cl: float | None, la: float | None) -> float | None:
    return None if cl is None or la is None or la <= 0 else cl / la


def targets(results: dict) -> list[dict]:
    """The goals from the issues, each checked against this run's numbers (absent sizes: not measured)."""
    rows: list[dict] = []

    def add(section, size, goal, value, text, ok):
        rows.append(
            {
                "section": section,
                "size": size,
                "goal": goal,
                "value": value,
                "measured": text,
                "met": None if value is None else bool(ok),
            }
        )

    def ratio_goal(section, size, keys, floor, goal, what):
        r = _by_size(results, section).get(size)
        v = None if r is None else _r(_best(r, keys[0]), _best(r, keys[1]))
        add(
            section,
            size,
            goal,
            v,
            "not measured" if r is None else (f"{v:.2f}× ({what})" if v else "n/a"),
            v is not None and v >= floor,
        )

    ratio_goal("find", "10Mx10", ("cl_call", "la_call"), 10, "call ≥ 10× faster", "call")
    ratio_goal("find", "1Mx100", ("cl_call", "la_call"), 5, "call ≥ 5× faster", "call")
    ratio_goal("find", "200kx1000", ("cl_call", "la_call"), 5, "call ≥ 5× faster", "call")
    ratio_goal("find", "1Mx10", ("cl_proc", "la_proc"), 5, "whole process ≥ 5× faster", "process")
    for r in results.get("find", []):
        rss = _best(r, "la_proc", rss=True)
        pbytes = r.get("pred_probs_bytes") or r["n"] * r["k"] * 4 + 128  # older JSON: the .npy size
        limit_mib = (1.3 * pbytes + 200e6) / 2**20
        add(
            "find",
            r["size"],
            "peak RSS ≤ 1.3 × pred_probs file + 200 MB",
            rss,
            "n/a" if rss is None else f"{rss:,.0f} MiB (limit {limit_mib:,.0f} MiB)",
            rss is not None and rss <= limit_mib,
        )
    ratio_goal("health", "10Mx10", ("cl_call", "la_call"), 10, "≥ 10× faster than health_summary", "call")
    b = _by_size(results, "batched")
    r = b.get("10Mx10")
    if r is None:
        add(
            "batched",
            "10Mx10",
            "default mode ≥ 3× faster than cleanlab batched (n_jobs=1)",
            None,
            "not measured",
            False,
        )
    else:
        vp = _r(_best(r, "cl_proc"), _best(r, "la_def"))
        vc = _r(_best(r, "cl_call"), _best(r, "la_call"))
        text = "n/a" if vc is None else f"{vc:.2f}× (call vs call)"
        if vp is not None:
            text += f"; {vp:.2f}× process vs process"
        add(
            "batched",
            "10Mx10",
            "default mode ≥ 3× faster than cleanlab batched call (n_jobs=1)",
            vc,
            text,
            vc is not None and vc >= 3,
        )
    r = b.get("10Mx100")
    for key, mode in (("la_def", "default mode"), ("la_exact", "--exact")):
        v = None if r is None else _best(r, key, rss=True)
        add(
            "batched",
            "10Mx100",
            f"peak RSS < 1 GiB, {mode}",
            v,
            "not measured" if r is None else ("n/a" if v is None else f"{v:,.0f} MiB"),
            v is not None and v < GIB_MIB,
        )
    r = _by_size(results, "njobs").get("10Mx100")
    for mode in ("def", "exact"):
        v = None if r is None else _r(_best(r, f"{mode}_1"), _best(r, f"{mode}_2"))
        paired = None if r is None else paired_ratios(r["cells"][f"{mode}_1"], r["cells"][f"{mode}_2"])
        shown = "not measured" if r is None else ("n/a" if v is None else f"{v:.2f}× (min / min)")
        if paired:
            shown += f"; paired runs: median {np.median(paired):.2f}×, {min(paired):.2f}-{max(paired):.2f}×"
        add(
            "njobs",
            "10Mx100",
            f"--n-jobs 2 ≥ 1.6× faster than --n-jobs 1, {'default mode' if mode == 'def' else '--exact'}",
            v,
            shown,
            v is not None and v >= 1.6 and (not paired or np.median(paired) >= 1.6),
        )
    return rows


def paired_ratios(a: dict, b: dict) -> list[float]:
    """a / b for the runs of the same repeat (jobs of one repeat run back to back): less exposed to the
    machine's slow minutes than the ratio of the two minima."""
    if a.get("status") or b.get("status"):
        return []
    return [x / y for x, y in zip(a.get("all") or [], b.get("all") or [], strict=False) if y > 0]


# --------------------------------------------------------------------------- report


def fmt_s(v: float | None, status: str) -> str:
    if status:
        return status
    if v is None:
        return "n/a"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def fmt_mb(v: float | None, status: str) -> str:
    return status if status else ("n/a" if v is None else f"{v:,.0f}")


def ratio(cl: float | None, la: float | None) -> str:
    if cl is None or la is None or la <= 0:
        return "–"
    return f"{cl / la:.1f}×" if cl / la < 100 else f"{cl / la:.0f}×"


def size_cell(r: dict) -> str:
    return f"{r['n']:,} × {r['k']:,}"


def t(c: dict) -> str:
    return fmt_s(c["best"], c["status"])


def m(c: dict) -> str:
    return fmt_mb(c["best_rss_mb"], c["status"])


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def same_cell(r: dict) -> str:
    cell = f"{r['same_call']} / {r['same_cli']}"
    if r.get("same_given_cj") is not None:
        cell += f"; {r['same_given_cj']:,} rows with cleanlab's calibrated joint"
    return cell


def render_find(results: list[dict], meta: dict) -> list[str]:
    L = ["## find_label_issues", ""]
    L.append(
        "| N × K | input MB | call: labelaudit | call: cleanlab | ratio | process: labelaudit | "
        "process: cleanlab | ratio | peak RSS MiB: labelaudit | peak RSS MiB: cleanlab | ratio | flagged | "
        "same answer (call / CLI) |"
    )
    L.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for r in results:
        c = r["cells"]
        la_c, cl_c, la_p, cl_p = c["la_call"], c["cl_call"], c["la_proc"], c["cl_proc"]
        fl = r["flagged"]
        if len(set(fl.values())) <= 1:
            flagged = "/".join(f"{x:,}" for x in set(fl.values())) or "–"
        else:  # labelaudit / cleanlab
            flagged = " / ".join(
                f"{fl[a]:,}" if a in fl else (f"{fl[b]:,}" if b in fl else "?")
                for a, b in (("la_call", "la_proc"), ("cl_call", "cl_proc"))
            )
        L.append(
            row(
                [
                    *versus_cells(r, la_c, cl_c, la_p, cl_p),
                    flagged,
                    same_cell(r),
                ]
            )
        )
    L.append("")
    L.append(
        "- **call**: only `find_label_issues(labels, pred_probs)` with default arguments on memory-mapped inputs, "
        "timed inside the process (`bench/call.py`)."
    )
    L.append(
        f"- **process**: wall time of the whole subprocess: `labelaudit find-issues -l L -p P -o OUT.npy --quiet"
        f"{(' ' + meta['cli_args']) if meta.get('cli_args') else ''}` vs `bench/cleanlab_find_issues.py` "
        "(import cleanlab, load with mmap, call, `np.save`). The CLI also ranks the flagged rows by label "
        "quality; the cleanlab script saves the plain mask."
    )
    printed = [(r["size"], r["cells"]["la_proc"]["extra"].get("stdout_bytes", 0)) for r in results]
    if any(b for _, b in printed):
        L.append(
            "- The CLI also printed its results table on stdout (redirected to a file, as in a pipeline): "
            + ", ".join(f"{sz}: {b / 1e6:,.1f} MB" for sz, b in printed)
            + "; that time is included."
        )
    L.append(
        "- **same answer**: the two libraries' boolean masks are identical (call), and the set of rows in the CLI's "
        "output equals cleanlab's mask (CLI)."
    )
    if any(r.get("same_given_cj") is not None for r in results):
        L.append(
            "- Where the masks differ, `bench/run.py` reruns labelaudit with `confident_joint=` set to cleanlab's "
            "own calibrated confident joint; the count after the semicolon is how many rows still differ then. 0 means "
            "every difference comes from calibrating the confident joint (tie order; see below)."
        )
    L.append("")
    return L


def _health_same(s: dict) -> str:
    if s["ok"] is None:
        return "n/a"
    rel = s["joint_rel"]
    rel_txt = "0" if rel == 0 else f"{rel:.1e}"
    word = "yes" if s["ok"] else "no"
    return f"{word} (score {'equal' if s['score_equal'] else 'differs'}, joint max rel. diff {rel_txt})"


def render_health(results: list[dict], meta: dict) -> list[str]:
    L = ["## Dataset health", ""]
    L.append(
        "| N × K | input MB | call: labelaudit | call: cleanlab | ratio | process: labelaudit | "
        "process: cleanlab | ratio | peak RSS MiB: labelaudit | peak RSS MiB: cleanlab | ratio | health score | "
        "same answer: call | same answer: process |"
    )
    L.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
    for r in results:
        c = r["cells"]
        la_c, cl_c, la_p, cl_p = c["la_call"], c["cl_call"], c["la_proc"], c["cl_proc"]
        scores = sorted(set(r["scores"].values()))
        L.append(
            row(
                [
                    *versus_cells(r, la_c, cl_c, la_p, cl_p),
                    " / ".join(f"{s:.6f}" for s in scores) or "–",
                    _health_same(r["same_call"]),
                    _health_same(r["same_proc"]),
                ]
            )
        )
    L.append("")
    L.append(
        "- **call**: labelaudit: `labelaudit.core.HealthReport(labelaudit.core.Context.validated(np.load(L, mmap_mode='r'), "
        "np.load(P, mmap_mode='r')))` (validation and the self-confidence gather share one pass); "
        "cleanlab: `cleanlab.dataset.health_summary(labels, pred_probs, verbose=False)` on the same memory-mapped "
        "inputs. Loading is inside the timed region for both (`bench/call.py --task health`)."
    )
    L.append(
        "- **process**: `labelaudit health -l L -p P -o OUT.json --quiet` vs `bench/cleanlab_health.py` "
        "(import cleanlab, load with mmap, `health_summary`, save score, joint and both tables as JSON)."
    )
    L.append(
        f"- **same answer**: the health score (cleanlab's `overall_label_health_score`, labelaudit's "
        f"`HealthReport.health_score`) is equal, and the joint (`HealthReport.joint` vs health_summary's "
        f"`joint`) agrees within {JOINT_RTOL:g} relative, elementwise."
    )
    L.append("")
    return L


def render_batched(results: list[dict], meta: dict) -> list[str]:
    L = ["## Batched (larger than memory)", ""]
    L.append(
        "| N × K | input MB | labelaudit: call | labelaudit default | labelaudit --exact | cleanlab: call | "
        "cleanlab: process | ratio call / call | ratio process / process | "
        "peak RSS MiB: labelaudit default | peak RSS MiB: labelaudit --exact | peak RSS MiB: cleanlab | "
        "flagged: default / cleanlab / --exact | default = cleanlab (call / process) | --exact = find-issues |"
    )
    L.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
    for r in results:
        c = r["cells"]
        c.setdefault("la_call", {"best": None, "status": "n/a", "best_rss_mb": None})
        fl = r["flagged"]
        cl_fl = fl.get("cl_call", fl.get("cl_proc"))
        flagged = " / ".join(
            "–" if v is None else f"{v:,}" for v in (fl.get("la_def"), cl_fl, fl.get("la_exact"))
        )
        L.append(
            row(
                [
                    size_cell(r),
                    f"{r['input_mb']:,.0f}",
                    t(c["la_call"]),
                    t(c["la_def"]),
                    t(c["la_exact"]),
                    t(c["cl_call"]),
                    t(c["cl_proc"]),
                    ratio(c["cl_call"]["best"], c["la_call"]["best"]),
                    ratio(c["cl_proc"]["best"], c["la_def"]["best"]),
                    m(c["la_def"]),
                    m(c["la_exact"]),
                    m(c["cl_proc"]),
                    flagged,
                    f"{r['same_default_call']} / {r['same_default_proc']}",
                    r["same_exact"],
                ]
            )
        )
    L.append("")
    L.append(
        "- **labelaudit default / --exact**: wall time of the whole process `labelaudit batched -l L -p P -o OUT.npy "
        "--mask --quiet` (default mode), and the same with `--exact`; `--n-jobs` is left at its default, 1."
    )
    L.append(
        "- **cleanlab call**: only `cleanlab.experimental.label_issues_batched.find_label_issues_batched("
        "labels_file=L, pred_probs_file=P, batch_size=10000, n_jobs=1, verbose=False, return_mask=True)`, timed "
        "inside the process (`bench/call.py --task batched`); **cleanlab process**: the whole process of "
        "`bench/cleanlab_batched.py` (that call, then `np.save` of the mask). **labelaudit call**: "
        "`core.stream.batched_issue_rows` over `io.stream.BlockSource(L, P)`, opening the files inside the "
        "timed region (`bench/call.py labelaudit --task batched`). The call ratio compares the two calls, the "
        "process ratio the two whole processes."
    )
    L.append(
        "- **same answer**: labelaudit's default-mode mask equals cleanlab's mask (from the call / from the script); "
        "the `--exact` mask equals the set of rows written by `labelaudit find-issues -o` (one untimed run)."
    )
    L.append("")
    return L


def versus_cells(r: dict, la_c: dict, cl_c: dict, la_p: dict, cl_p: dict) -> list[str]:
    """Size, input MB, then call and process times and process peak RSS of both libraries with ratios."""
    return [
        size_cell(r),
        f"{r['input_mb']:,.0f}",
        t(la_c),
        t(cl_c),
        ratio(cl_c["best"], la_c["best"]),
        t(la_p),
        t(cl_p),
        ratio(cl_p["best"], la_p["best"]),
        m(la_p),
        m(cl_p),
        ratio(cl_p["best_rss_mb"], la_p["best_rss_mb"]),
    ]


def paired_cell(ratios: list[float]) -> str:
    return "–" if not ratios else f"{np.median(ratios):.2f}× ({min(ratios):.2f}-{max(ratios):.2f}×)"


def render_njobs(results: list[dict], meta: dict) -> list[str]:
    L = ["## Worker threads (`--n-jobs`)", ""]
    L.append(
        "| N × K | mode | --n-jobs 1 | --n-jobs 2 | speed-up (1 / 2) | paired runs: median (range) | "
        "peak RSS MiB: 1 | peak RSS MiB: 2 | same answer |"
    )
    L.append("|---|---|--:|--:|--:|--:|--:|--:|---|")
    for r in results:
        c = r["cells"]
        for mode, name in (("def", "default"), ("exact", "--exact")):
            a, b = c[f"{mode}_1"], c[f"{mode}_2"]
            L.append(
                row(
                    [
                        size_cell(r),
                        name,
                        t(a),
                        t(b),
                        "–" if _r(a["best"], b["best"]) is None else f"{_r(a['best'], b['best']):.2f}×",
                        paired_cell(paired_ratios(a, b)),
                        m(a),
                        m(b),
                        r[f"same_{mode}"],
                    ]
                )
            )
    L.append("")
    L.append(
        f"- Whole-process wall time of `labelaudit batched -l L -p P -o OUT.npy --mask --quiet --n-jobs J "
        f"[--exact]`. The machine has {meta['machine']['cores']} cores. speed-up: the ratio of the two minima; "
        "paired runs: the ratios of the two runs of each repeat (run back to back). same answer: the masks with "
        "1 and 2 jobs are identical."
    )
    L.append("")
    return L


RENDER = {"find": render_find, "health": render_health, "batched": render_batched, "njobs": render_njobs}


def render(results: dict, meta: dict, notes: list[str]) -> str:
    if isinstance(results, list):  # a latest.json from before sections existed
        results = {"find": results}
    L: list[str] = []
    L.append("# labelaudit vs cleanlab")
    L.append("")
    L.append(f"Run {meta['date']} with `{meta['command']}`.")
    L.append("")
    L.append("| machine | |")
    L.append("|---|---|")
    mc = meta["machine"]
    L.append(f"| CPU | {mc['cpu']}, {mc['cores']} |")
    L.append(f"| RAM | {mc['ram']} |")
    L.append(f"| OS | {mc['os']} |")
    if meta.get("loadavg"):
        L.append(f"| load average (1 min) at start / end | {meta['loadavg']} |")
    iw = meta.get("idle_wait")
    if iw and iw.get("max_wait_s", 0) > 0:
        L.append(
            f"| other load | each timed run waited for < 0.3 busy cores elsewhere (up to {iw['max_wait_s']:.0f} s): "
            f"{iw['runs']} runs, {iw['waited_s']:.0f} s waited in all, {iw['started_busy']} started busy anyway |"
        )
    la, cl = meta["labelaudit"], meta["cleanlab"]
    L.append(
        f"| labelaudit | {la.get('version', '?')} (Python {la.get('python', '?')}, numpy {la.get('numpy', '?')}) |"
    )
    if cl:
        L.append(
            f"| cleanlab | {cl.get('version', '?')} (Python {cl.get('python', '?')}, numpy {cl.get('numpy', '?')})"
            + (f"; find_label_issues n_jobs {meta['cleanlab_n_jobs']}" if meta.get("cleanlab_n_jobs") else "")
            + " |"
        )
    else:
        L.append(f"| cleanlab | not run: {meta['cleanlab_missing']} |")
    L.append("")
    L.append(
        f"Inputs: float32 `pred_probs.npy` and int64 `labels.npy` from `bench/gen.py` (seed {meta['seed']}), opened "
        f"memory-mapped. Times in seconds, min of {meta['repeat']} run(s), each in a fresh process (peak RSS: the "
        "max of those runs); "
        "ratio = cleanlab / labelaudit (higher means labelaudit is faster or smaller). Peak RSS is `ru_maxrss` "
        "of the whole process from `os.wait4`, in MiB (largest single process of the tree; pages of "
        "memory-mapped inputs that a process touches count toward its RSS)."
    )
    L.append("")
    rows = targets(results)
    measured = [x for x in rows if x["section"] in results]
    if measured:
        L.append("## Targets")
        L.append("")
        L.append("| section | size | target | measured | met |")
        L.append("|---|---|---|---|---|")
        for x in measured:
            met = "–" if x["met"] is None else ("met" if x["met"] else "**not met**")
            L.append(row([x["section"], x["size"], x["goal"], x["measured"], met]))
        L.append("")
    for section in SECTIONS:
        if results.get(section):
            L.extend(RENDER[section](results[section], meta))
    if notes:
        L.append("Notes:")
        L.append("")
        for note in notes:
            L.append(f"- {' '.join(note.split())}")
        L.append("")
    return "\n".join(L)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Benchmark labelaudit against cleanlab; writes a Markdown report."
    )
    ap.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)} (default: all)"
    )
    ap.add_argument(
        "--sizes", default=None, help=f"find section: comma list of NxK (default {DEFAULT_SIZES['find']})"
    )
    ap.add_argument(
        "--health-sizes", default=None, help=f"health section sizes (default {DEFAULT_SIZES['health']})"
    )
    ap.add_argument(
        "--batched-sizes", default=None, help=f"batched section sizes (default {DEFAULT_SIZES['batched']})"
    )
    ap.add_argument(
        "--njobs-sizes", default=None, help=f"njobs section sizes (default {DEFAULT_SIZES['njobs']})"
    )
    ap.add_argument("--quick", action="store_true", help="tiny sizes in every section, for a smoke test")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per measurement; the min time and the max peak RSS are reported",
    )
    ap.add_argument("--out", type=Path, default=REPO / "bench/results/latest.md")
    ap.add_argument("--data-dir", type=Path, default=gen.DEFAULT_DATA_DIR)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=900, help="seconds per subprocess (default 900)")
    ap.add_argument(
        "--cleanlab-python",
        default=None,
        help="python with cleanlab installed (default: " + " or ".join(CLEANLAB_CANDIDATES) + ")",
    )
    ap.add_argument(
        "--setup-cleanlab",
        action="store_true",
        help=f"if no cleanlab python is found, create {CLBENCH} with {CLEANLAB_PIN}",
    )
    ap.add_argument(
        "--cleanlab-n-jobs",
        type=int,
        default=None,
        help="find section: pass n_jobs to cleanlab's find_label_issues (default: its default)",
    )
    ap.add_argument(
        "--labelaudit-python", default=None, help="python with labelaudit (default: .venv/bin/python)"
    )
    ap.add_argument(
        "--cli-args", default="", help="extra arguments for `labelaudit find-issues` (find section)"
    )
    ap.add_argument(
        "--from-json", type=Path, default=None, help="only re-render the report of an earlier run's JSON"
    )
    ap.add_argument("--keep-outputs", action="store_true", help="keep outputs and logs under --data-dir")
    ap.add_argument(
        "--idle-wait",
        type=float,
        default=120,
        help="before each timed run, wait up to this many seconds for other processes to leave the CPUs "
        "idle (< 0.3 cores busy); 0 disables (default 120)",
    )
    args = ap.parse_args(argv)
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text())
        results = saved["results"] if isinstance(saved["results"], dict) else {"find": saved["results"]}
        for rs in results.values():  # peak RSS is the max over repeats (older files kept the min)
            for r in rs:
                for c in r["cells"].values():
                    if c.get("rss_all") and not c.get("status"):
                        c["best_rss_mb"] = max(c["rss_all"])
        saved["results"] = results
        md = render(saved["results"], saved["meta"], saved["notes"])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md)
        print(md)
        return 0
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    for s in sections:
        if s not in SECTIONS:
            ap.error(f"unknown section {s!r}; choose from {', '.join(SECTIONS)}")
    explicit = {
        "find": args.sizes,
        "health": args.health_sizes,
        "batched": args.batched_sizes,
        "njobs": args.njobs_sizes,
    }
    plan: dict[str, list[str]] = {}
    for s in sections:
        text = explicit[s] or (QUICK_SIZES if args.quick else DEFAULT_SIZES)[s]
        plan[s] = [x.strip() for x in text.split(",") if x.strip()]
        for size in plan[s]:
            try:
                gen.parse_size(size)
            except ValueError as e:
                ap.error(str(e))
    args.data_dir.mkdir(parents=True, exist_ok=True)

    notes: list[str] = []
    la_py, la_cli = find_labelaudit(args.labelaudit_python)
    la_cmds: set[str] = set()
    if la_cli is not None:
        for cmd in ("find-issues", "health", "batched"):
            rc, msg = quick_output([la_cli, cmd, "--help"])
            if rc == 0:
                la_cmds.add(cmd)
            else:
                notes.append(
                    f"`labelaudit {cmd}` is not available (rc={rc}: "
                    f"{msg.strip().splitlines()[-1] if msg.strip() else ''}); its labelaudit columns are n/a."
                )
    else:
        notes.append("no `labelaudit` console script found; whole-process labelaudit columns are n/a.")
    cl_py, cl_missing = find_cleanlab_python(args.cleanlab_python, args.setup_cleanlab)
    if cl_py is None:
        notes.append(f"cleanlab columns skipped: {cl_missing}.")
    env = Env(la_py, la_cli, la_cmds, cl_py)

    load0 = os.getloadavg()[0]
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/run.py "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "machine": machine_info(),
        "labelaudit": versions(la_py, "labelaudit"),
        "cleanlab": versions(cl_py, "cleanlab") if cl_py else {},
        "cleanlab_missing": cl_missing,
        "seed": args.seed,
        "repeat": args.repeat,
        "sections": plan,
        "cli_args": args.cli_args,
        "labelaudit_python": la_py,
        "labelaudit_cli": la_cli,
        "cleanlab_python": cl_py,
    }
    results: dict[str, list[dict]] = {}
    md = ""
    for section, sizes in plan.items():
        for s in sizes:
            print(f"== {section} {s}", file=sys.stderr)
            res = BENCHES[section](s, args, env, notes)
            if section == "find":
                nj = res["cells"]["cl_call"]["extra"].get("n_jobs")
                if nj is not None:
                    meta["cleanlab_n_jobs"] = nj
            results.setdefault(section, []).append(res)
            meta["loadavg"] = f"{load0:.2f} / {os.getloadavg()[0]:.2f}"
            meta["idle_wait"] = dict(IDLE_STATS, max_wait_s=args.idle_wait)
            # Write after every size so a long run leaves partial results behind.
            md = render(results, meta, notes)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(md)
            args.out.with_suffix(".json").write_text(
                json.dumps({"meta": meta, "results": results, "notes": notes}, indent=1, default=str)
            )
    print(md)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
