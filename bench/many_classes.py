"""Many classes (issue 19): peak RSS and wall time of `labelaudit find-issues`, `rank` and `health` as
whole processes on inputs with thousands of classes, where (K, K) arrays used to dominate memory.

Usage:
    python bench/many_classes.py [--sizes 50kx5000,12500x20000] [--commands find-issues,rank,health]
                                 [--repeat 1] [--timeout 600] [--data-dir DIR] [--memory-cap 16GiB]

Inputs come from bench/gen.py (the same generated classifier, float32, cached under --data-dir). Each
run is one fresh process measured by harness.run_measured (wall time until exit, peak RSS from
os.wait4), after the inputs are read once into the page cache; the minimum over --repeat runs is
reported. `--memory-cap` runs each process under `ulimit -v` so a run that would exhaust the machine
fails instead (the .npy input is memory-mapped and counts towards it). Prints a Markdown table and a
line for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import gen  # noqa: E402
import harness  # noqa: E402

COMMANDS = ("find-issues", "rank", "health")
DEFAULT_SIZES = "50kx5000,12500x20000"


def parse_bytes(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B?)?\s*", text, flags=re.IGNORECASE)
    if not m:
        raise SystemExit(f"bad --memory-cap {text!r}; expected e.g. 16GiB")
    unit = (m.group(2) or "").upper().rstrip("B").rstrip("I")
    return int(float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit])


def command_line(cli: str, cmd: str, labels: Path, pred_probs: Path, out: Path, cap: int | None) -> list[str]:
    args = [cli, cmd, "-l", str(labels), "-p", str(pred_probs)]
    if cmd in ("find-issues", "rank"):
        args += ["-o", str(out / f"{cmd}.npy")]
    if cap is None:
        return args
    return ["bash", "-c", f'ulimit -v {cap // 1024} && exec "$@"', "bash", *args]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma list (default {DEFAULT_SIZES})")
    ap.add_argument("--commands", default=",".join(COMMANDS), help="comma list of labelaudit commands")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    ap.add_argument("--data-dir", type=Path, default=harness.WORK / "data")
    ap.add_argument("--memory-cap", default=None, help="run each process under ulimit -v (e.g. 16GiB)")
    ap.add_argument("--labelaudit-python", default=None, help="the Python whose labelaudit is measured")
    args = ap.parse_args(argv)
    _, cli = harness.find_labelaudit(args.labelaudit_python)
    if cli is None:
        raise SystemExit("no labelaudit console script found")
    cap = None if args.memory_cap is None else parse_bytes(args.memory_cap)
    commands = [c for c in args.commands.split(",") if c]
    rows = []
    for size in filter(None, args.sizes.split(",")):
        labels, pred_probs = gen.ensure(size, args.data_dir)
        harness.warm_page_cache(labels, pred_probs)
        input_mb = pred_probs.stat().st_size / 2**20
        for cmd in commands:
            runs = []
            for r in range(args.repeat):
                log = harness.WORK / "many_classes" / size / cmd / str(r)
                log.mkdir(parents=True, exist_ok=True)
                runs.append(
                    harness.run_measured(
                        command_line(cli, cmd, labels, pred_probs, log, cap), args.timeout, log
                    )
                )
                print(
                    f"{size} {cmd} run {r}: rc={runs[-1].rc} {runs[-1].wall_s:.2f} s "
                    f"{runs[-1].maxrss_mb:.0f} MiB",
                    file=sys.stderr,
                )
            ok = [p for p in runs if p.rc == 0]
            if ok:
                best = min(ok, key=lambda p: p.wall_s)
                cell = (f"{best.wall_s:.2f} s", f"{max(p.maxrss_mb for p in ok):.0f} MiB")
            else:
                p = runs[-1]
                status = harness.fail_status(p)
                cell = (f"{status} (rc={p.rc}) after {p.wall_s:.1f} s", f"{p.maxrss_mb:.0f} MiB")
            rows.append((size, f"{input_mb:.0f} MiB", cmd, *cell))
    print("| size (float32) | input | command | wall time | peak RSS |")
    print("|---|--:|---|--:|--:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    summary = "; ".join(f"`{cmd}` {size} {t}, {m}" for size, _, cmd, t, m in rows)
    print(f"\nBENCHMARKS.md: many classes (issue 19), whole processes, min of {args.repeat}: {summary}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
