"""Many classes (issue 19): peak RSS and wall time of `labelaudit find-issues`, `rank`, `health` and
`overlap` as whole processes on inputs with thousands of classes, where (K, K) arrays used to dominate
memory, against the same cleanlab 2.9.0 calls in the same run; and top-k inputs with K = 100,000 that no
dense tool reads.

Usage:
    python bench/many_classes.py [--sizes 50kx5000,12500x20000] [--commands find-issues,rank,health,overlap]
                                 [--topk 10Mx100000@20] [--topk-commands find-issues,health]
                                 [--repeat 1] [--timeout 600] [--data-dir DIR] [--memory-cap 16GiB]
                                 [--cleanlab-python PY] [--reference-cap 8GiB] [--delete-over 3GiB]

Dense inputs come from bench/gen.py (the same generated classifier, float32, cached under --data-dir);
top-k inputs (`N x K @ k`) are written here as an uncompressed `.npz` (`indices` int32, `values` float32,
`residual`, `num_classes`) from the same kind of classifier: k classes per row, the favoured one first,
a tenth of the rest of the mass left over. Each run is one fresh process measured by harness.run_measured
(wall time until exit, peak RSS from os.wait4), after the inputs are read once into the page cache; the
minimum over --repeat runs is reported, with the bound "input + 1 GiB" checked. `--memory-cap` runs each
labelaudit process under `ulimit -v`, `--reference-cap` (default 8 GiB) each cleanlab process, so that a
run that would exhaust the shared machine fails instead (a memory-mapped input counts towards the cap);
a run that fails for memory is reported as "out of memory (cap)". Inputs larger than --delete-over are
deleted after their size is measured (the disk is shared). Prints a Markdown table and a line for
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import gen  # noqa: E402
import harness  # noqa: E402

COMMANDS = ("find-issues", "rank", "health", "overlap")
DEFAULT_SIZES = "50kx5000,12500x20000"
REFERENCE = {  # the cleanlab script of each command (bench/cleanlab_*.py)
    "find-issues": ("cleanlab_find_issues.py", "out.npy"),
    "rank": ("cleanlab_rank.py", "out.npy"),
    "health": ("cleanlab_health.py", "out.json"),
    "overlap": ("cleanlab_overlap.py", "out.json"),
}
OOM_MARKERS = ("MemoryError", "Unable to allocate", "Cannot allocate memory", "std::bad_alloc")


def parse_bytes(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B?)?\s*", text, flags=re.IGNORECASE)
    if not m:
        raise SystemExit(f"bad byte size {text!r}; expected e.g. 16GiB")
    unit = (m.group(2) or "").upper().rstrip("B").rstrip("I")
    return int(float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit])


def capped(args: list[str], cap: int | None) -> list[str]:
    if cap is None:
        return args
    # one BLAS thread: OpenBLAS reserves address space per thread, which ulimit -v counts
    return ["bash", "-c", f'ulimit -v {cap // 1024} && OPENBLAS_NUM_THREADS=1 exec "$@"', "bash", *args]


def command_line(cli: str, cmd: str, labels: Path, pred_probs: Path, out: Path, cap: int | None) -> list[str]:
    args = [cli, cmd, "-l", str(labels), "-p", str(pred_probs)]
    if cmd in ("find-issues", "rank"):
        args += ["-o", str(out / f"{cmd}.npy")]
    return capped(args, cap)


# ---------------------------------------------------------------------------- top-k inputs


def parse_topk(text: str) -> tuple[int, int, int]:
    """'10Mx100000@20' -> (10_000_000, 100_000, 20)."""
    size, _, k = text.partition("@")
    n, k_all = gen.parse_size(size)
    if not k.isdigit() or not 1 <= int(k) < k_all:
        raise SystemExit(f"bad top-k size {text!r}; expected e.g. 10Mx100000@20")
    return n, k_all, int(k)


def topk_block(rows: int, k_all: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Labels (rows,), classes (rows, k) int32 (distinct: increasing offsets from the favoured class),
    values (rows, k) float32 and the residual (rows,) float32 of a noisy classifier's top-k."""
    true = rng.integers(0, k_all, rows)
    favoured = np.where(rng.random(rows) < gen.MODEL_ERROR, rng.integers(0, k_all, rows), true)
    steps = rng.integers(1, max(2, (k_all - 1) // k), size=(rows, k - 1))
    offsets = np.concatenate([np.zeros((rows, 1), dtype=np.int64), np.cumsum(steps, axis=1)], axis=1)
    classes = ((favoured[:, None] + offsets) % k_all).astype(np.int32)
    top = rng.uniform(0.3, 0.97, rows)
    g = rng.standard_gamma(0.5, size=(rows, k - 1))
    g = -np.sort(-g, axis=1)
    rest = 1.0 - top
    values = np.concatenate([top[:, None], g / g.sum(axis=1, keepdims=True) * (0.9 * rest)[:, None]], axis=1)
    values32 = values.astype(np.float32)
    residual = np.maximum(1.0 - values32.sum(axis=1, dtype=np.float64), 0.0).astype(np.float32)
    flip = rng.random(rows) < gen.LABEL_NOISE
    labels = np.where(flip, rng.integers(0, k_all, rows), true).astype(np.int32)
    return labels, classes, values32, residual


def ensure_topk(spec: str, data_dir: Path, seed: int = 0) -> tuple[Path, Path]:
    """data_dir/<N>x<K>at<k>/labels.npy and top.npz (members stored uncompressed: memory-mapped)."""
    n, k_all, k = parse_topk(spec)
    d = data_dir / f"{gen.size_name(n, k_all)}at{k}"
    lp, tp, meta_path = d / "labels.npy", d / "top.npz", d / "meta.json"
    meta = {"n": n, "k_all": k_all, "k": k, "seed": seed, "version": 1}
    if meta_path.exists() and lp.exists() and tp.exists() and json.loads(meta_path.read_text()) == meta:
        return lp, tp
    d.mkdir(parents=True, exist_ok=True)
    parts = {
        "indices": np.lib.format.open_memmap(d / "indices.npy", "w+", np.int32, (n, k)),
        "values": np.lib.format.open_memmap(d / "values.npy", "w+", np.float32, (n, k)),
        "residual": np.lib.format.open_memmap(d / "residual.npy", "w+", np.float32, (n,)),
    }
    labels = np.lib.format.open_memmap(lp, "w+", np.int32, (n,))
    block = 1 << 18
    seeds = np.random.SeedSequence([seed, n, k_all, k]).spawn(-(-n // block))
    for i, ss in enumerate(seeds):
        sl = slice(i * block, min(n, (i + 1) * block))
        y, c, v, r = topk_block(sl.stop - sl.start, k_all, k, np.random.default_rng(ss))
        labels[sl], parts["indices"][sl], parts["values"][sl], parts["residual"][sl] = y, c, v, r
    np.save(d / "num_classes.npy", np.array(k_all))
    with zipfile.ZipFile(tp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name in ("indices", "values", "residual", "num_classes"):
            arr = parts.get(name)
            if arr is not None:
                arr.flush()
            zf.write(d / f"{name}.npy", arcname=f"{name}.npy")
            (d / f"{name}.npy").unlink()
    labels.flush()
    meta_path.write_text(json.dumps(meta) + "\n")
    return lp, tp


# ---------------------------------------------------------------------------- runs


def status(p: harness.Proc, cap: int | None) -> str:
    if p.timed_out:
        return "timeout"
    if any(m in p.stderr_tail for m in OOM_MARKERS) or p.rc in (-9, 137):
        return f"out of memory (cap {cap / 2**30:.0f} GiB)" if cap else "out of memory"
    return "error"


def measure(cmdline: list[str], runs: int, timeout: float, log: Path, cap: int | None) -> dict:
    procs = []
    for r in range(runs):
        procs.append(harness.run_measured(cmdline, timeout, log / str(r)))
        p = procs[-1]
        print(
            f"  {log.relative_to(harness.WORK)} run {r}: rc={p.rc} {p.wall_s:.2f} s {p.maxrss_mb:.0f} MiB",
            file=sys.stderr,
        )
        if p.rc != 0:
            break
    ok = [p for p in procs if p.rc == 0]
    if ok:
        best = min(ok, key=lambda p: p.wall_s)
        return {"ok": True, "wall_s": best.wall_s, "rss_mb": max(p.maxrss_mb for p in ok)}
    p = procs[-1]
    return {"ok": False, "status": status(p, cap), "rc": p.rc, "wall_s": p.wall_s, "rss_mb": p.maxrss_mb}


def cell(m: dict | None) -> tuple[str, str]:
    if m is None:
        return "not run", ""
    if m["ok"]:
        return f"{m['wall_s']:.2f} s", f"{m['rss_mb']:.0f} MiB"
    return f"{m['status']} after {m['wall_s']:.1f} s", f"{m['rss_mb']:.0f} MiB"


def parent_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--generate"]:
        kind, size, data_dir = sys.argv[2:5]
        (gen.ensure if kind == "dense" else ensure_topk)(size, Path(data_dir))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"dense sizes, comma list (default {DEFAULT_SIZES})"
    )
    ap.add_argument("--commands", default=",".join(COMMANDS), help="labelaudit commands for the dense sizes")
    ap.add_argument("--topk", default="", help="top-k sizes N x K @ k, comma list (e.g. 10Mx100000@20)")
    ap.add_argument("--topk-commands", default="find-issues,health")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    ap.add_argument("--data-dir", type=Path, default=harness.WORK / "data")
    ap.add_argument("--memory-cap", default=None, help="run each labelaudit process under ulimit -v")
    ap.add_argument("--labelaudit-python", default=None, help="the Python whose labelaudit is measured")
    ap.add_argument("--cleanlab-python", default=None, help="a Python that imports cleanlab (else auto)")
    ap.add_argument("--no-reference", action="store_true", help="do not run cleanlab")
    ap.add_argument("--reference-cap", default="8GiB", help="ulimit -v of each cleanlab process")
    ap.add_argument(
        "--delete-over", default="3GiB", help="delete generated inputs at least this large after use"
    )
    args = ap.parse_args(argv)
    _, cli = harness.find_labelaudit(args.labelaudit_python)
    if cli is None:
        raise SystemExit("no labelaudit console script found")
    cap = None if args.memory_cap is None else parse_bytes(args.memory_cap)
    ref_cap = parse_bytes(args.reference_cap)
    big = parse_bytes(args.delete_over)
    cl_python = None
    if not args.no_reference:
        cl_python, why = harness.find_cleanlab_python(args.cleanlab_python, False, harness.WORK)
        if cl_python is None:
            print(f"reference skipped: {why}", file=sys.stderr)
    rows = []
    jobs = [(s, "dense", args.commands) for s in filter(None, args.sizes.split(","))]
    jobs += [(s, "topk", args.topk_commands) for s in filter(None, args.topk.split(","))]
    for size, kind, commands in jobs:
        # Inputs are written by a child process: a child started by this one reports at least this one's
        # peak RSS as its own (Linux keeps the peak across vfork and exec), so this process stays small.
        subprocess.run([sys.executable, __file__, "--generate", kind, size, str(args.data_dir)], check=True)
        if kind == "dense":
            labels, pred_probs = gen.ensure(size, args.data_dir)
        else:
            labels, pred_probs = ensure_topk(size, args.data_dir)
        print(f"{size}: this process's peak RSS {parent_peak_mb():.0f} MiB", file=sys.stderr)
        harness.warm_page_cache(labels, pred_probs)
        input_bytes = pred_probs.stat().st_size + labels.stat().st_size
        for cmd in filter(None, commands.split(",")):
            log = harness.WORK / "many_classes" / size.replace("@", "at") / cmd
            ours = measure(
                command_line(cli, cmd, labels, pred_probs, log, cap), args.repeat, args.timeout, log, cap
            )
            ref = None
            if cl_python is not None and kind == "dense":
                script, out = REFERENCE[cmd]
                ref_cmd = capped(
                    [cl_python, str(BENCH / script), str(labels), str(pred_probs), str(log / out)], ref_cap
                )
                ref = measure(ref_cmd, args.repeat, args.timeout, log / "reference", ref_cap)
            bound = ours["ok"] and ours["rss_mb"] * 2**20 <= input_bytes + 2**30
            speed = f"{ref['wall_s'] / ours['wall_s']:.1f}x" if ref and ref["ok"] and ours["ok"] else ""
            rows.append(
                (
                    size,
                    f"{input_bytes / 2**20:.0f} MiB",
                    cmd,
                    *cell(ours),
                    "yes" if bound else "no",
                    *cell(ref),
                    speed,
                )
            )
            print("  " + " | ".join(rows[-1]), file=sys.stderr)
        if input_bytes >= big:
            shutil.rmtree(labels.parent, ignore_errors=True)
    print(
        "| size | input | command | labelaudit wall | labelaudit peak RSS | within input + 1 GiB | "
        f"cleanlab wall (cap {ref_cap / 2**30:.0f} GiB) | cleanlab peak RSS | cleanlab / labelaudit |"
    )
    print("|---|--:|---|--:|--:|---|--:|--:|--:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    summary = "; ".join(f"`{r[2]}` {r[0]} {r[3]}, {r[4]}" for r in rows)
    print(f"\nBENCHMARKS.md: many classes (issue 19), whole processes, min of {args.repeat}: {summary}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
