"""Process measurement and the environment of a benchmark run (no section or report logic here).

- run_measured: one subprocess in its own session, wall time until exit and peak RSS (os.wait4).
- wait_idle: before a timed run, wait until other processes leave the CPUs idle.
- warm_page_cache: read the inputs once so every run finds them in the page cache.
- find_cleanlab_python / find_labelaudit / versions / machine_info: what is measured, where.
- Job / Cell / run_jobs: the measured subprocesses of one size, interleaved over the repeats.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gen
import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work"  # git-ignored (bench/.gitignore): inputs, per-run outputs, the cleanlab venv
RESULTS = BENCH / "results"  # git-ignored: the report and its JSON
LEGACY_CLEANLAB = ("/tmp/clenv/bin/python", "/tmp/clbench/bin/python")  # where earlier setups put it
CLEANLAB_PIN = "cleanlab==2.9.0"


def tmp_root() -> Path:
    """The work root under $TMPDIR (tempfile.gettempdir()), for --tmpdir."""
    return Path(tempfile.gettempdir()) / "labelaudit-bench"


def cleanlab_candidates(root: Path) -> tuple[str, ...]:
    return (str(root / "clbench/bin/python"), *LEGACY_CLEANLAB)


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


def fail_status(p: Proc) -> str:
    return "timeout" if p.timed_out else "error"


# --------------------------------------------------------------------------- environment


def find_cleanlab_python(explicit: str | None, setup: bool, root: Path) -> tuple[str | None, str]:
    """(python that imports cleanlab or None, why none). With setup, create root/clbench."""
    if explicit:
        rc, msg = quick_output([explicit, "-c", "import cleanlab"])
        if rc != 0:
            raise SystemExit(f"--cleanlab-python {explicit}: cannot import cleanlab:\n{msg}")
        return explicit, ""
    candidates = cleanlab_candidates(root)
    for cand in candidates:
        if Path(cand).exists() and quick_output([cand, "-c", "import cleanlab"])[0] == 0:
            return cand, ""
    if setup:
        venv = root / "clbench"
        print(f"creating {venv} with {CLEANLAB_PIN} ...", file=sys.stderr)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin/pip"), "install", "-q", CLEANLAB_PIN, "scikit-learn", "pandas", "numpy"],
            check=True,
        )
        return str(venv / "bin/python"), ""
    return None, (
        "no Python with cleanlab found (tried "
        + ", ".join(candidates)
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


def labelaudit_commands(cli: str | None, notes: list[str]) -> set[str]:
    """The labelaudit subcommands that answer --help; a note for each one missing."""
    cmds: set[str] = set()
    if cli is None:
        notes.append("no `labelaudit` console script found; whole-process labelaudit columns are n/a.")
        return cmds
    for cmd in ("find-issues", "health", "batched"):
        rc, msg = quick_output([cli, cmd, "--help"])
        if rc == 0:
            cmds.add(cmd)
        else:
            notes.append(
                f"`labelaudit {cmd}` is not available (rc={rc}: "
                f"{msg.strip().splitlines()[-1] if msg.strip() else ''}); its labelaudit columns are n/a."
            )
    return cmds


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


@dataclass
class Env:
    la_py: str
    la_cli: str | None
    la_cmds: set[str]  # labelaudit subcommands that answer --help
    cl_py: str | None


# --------------------------------------------------------------------------- idle wait, page cache


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


# --------------------------------------------------------------------------- one size of a section


def prepare(size: str, args, section: str) -> tuple[int, int, str, Path, Path, Path, dict]:
    """Inputs of one size (generated once, then read into the page cache), a fresh work folder
    under --data-dir, and the start of the size's result."""
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


def mask_diff(ma: np.ndarray | None, mb: np.ndarray | None) -> str:
    if ma is None or mb is None:
        return "n/a"
    d = int((ma != mb).sum())
    return "yes" if d == 0 else f"no ({d:,} rows)"


# --------------------------------------------------------------------------- running jobs


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


def batched_cells(keys: tuple[str, ...], env: Env) -> dict[str, Cell]:
    """One cell per `labelaudit batched` run; all n/a when the installed CLI has no batched command."""
    cells = {key: Cell() for key in keys}
    if "batched" not in env.la_cmds:
        for c in cells.values():
            c.status = "n/a"
    return cells


def batched_mask_job(key: str, label: str, env: Env, lp, pp, work, *options: str) -> Job:
    """`labelaudit batched -l LP -p PP -o WORK/KEY.npy --mask --quiet OPTIONS` as a timed Job."""
    out = work / f"{key}.npy"
    cmd = [env.la_cli or "labelaudit", "batched", "-l", str(lp), "-p", str(pp), "-o", str(out)]
    return Job(key, label, [*cmd, "--mask", "--quiet", *options], out)


def job_masks(jobs: list[Job], cells: dict[str, Cell], n: int) -> dict[str, np.ndarray | None]:
    """The mask of each job's last good run (None where the cell has a status)."""
    return {j.key: (load_mask(kept(j.out), n) if not cells[j.key].status else None) for j in jobs}


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
