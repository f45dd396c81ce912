"""labelaudit vs cleanlab: one command, one Markdown report, both libraries in the same run.

Usage (from the repository root):
    .venv/bin/python bench/run.py [--sections find,health,batched,njobs] [--sizes 1Mx10,10Mx10,...]
                                  [--health-sizes 10Mx10] [--batched-sizes 10Mx10,10Mx100]
                                  [--njobs-sizes 10Mx100] [--repeat N] [--quick] [--tmpdir]
                                  [--out bench/results/latest.md] [--cleanlab-python PATH]

This file is only the command line. The pieces:
  harness.py    subprocess measurement (wall time, peak RSS via os.wait4), idle wait, page cache,
                where labelaudit and cleanlab are, versions, machine; Job / Cell / run_jobs
  sections/     find, health, batched, njobs: each one's measurement and its table as column specs
  report.py     the one table renderer, the header, machine block and notes
  targets.toml  the targets as data, checked by targets.py
Inputs and per-run outputs go to bench/.work/ and the report to bench/results/ (both git-ignored),
or under $TMPDIR with --tmpdir. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import gen  # noqa: E402
import harness  # noqa: E402
import report  # noqa: E402
import targets  # noqa: E402
from sections import SECTIONS  # noqa: E402


def render(results: dict, meta: dict, notes: list[str]) -> str:
    if isinstance(results, list):  # a latest.json from before sections existed
        results = {"find": results}
    return report.render(results, meta, notes, SECTIONS, targets.evaluate(targets.load(), results))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        description="Benchmark labelaudit against cleanlab; writes a Markdown report."
    )
    ap.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)} (default: all)"
    )
    for sec in SECTIONS.values():
        ap.add_argument(
            sec.sizes_option,
            default=None,
            help=f"{sec.name} section: comma list of NxK (default {sec.default_sizes})",
        )
    ap.add_argument("--quick", action="store_true", help="tiny sizes in every section, for a smoke test")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per measurement; the min time and the max peak RSS are reported",
    )
    ap.add_argument(
        "--tmpdir",
        action="store_true",
        help="default --data-dir, --out and --setup-cleanlab's venv under $TMPDIR/labelaudit-bench "
        "(tempfile.gettempdir()) instead of bench/.work and bench/results",
    )
    ap.add_argument("--out", type=Path, default=None, help="the report (default bench/results/latest.md)")
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="inputs and per-run outputs (default bench/.work/data)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=900, help="seconds per subprocess (default 900)")
    ap.add_argument(
        "--cleanlab-python",
        default=None,
        help="python with cleanlab installed (default: the first that imports cleanlab of bench/.work/clbench/bin/python "
        "($TMPDIR/labelaudit-bench/clbench/bin/python with --tmpdir), "
        + ", ".join(harness.LEGACY_CLEANLAB)
        + ")",
    )
    ap.add_argument(
        "--setup-cleanlab",
        action="store_true",
        help=f"if no cleanlab python is found, create bench/.work/clbench (with --tmpdir: under $TMPDIR) "
        f"with {harness.CLEANLAB_PIN}",
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
    return ap


def write(out: Path, md: str, doc: dict | None = None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md)
    if doc is not None:
        out.with_suffix(".json").write_text(json.dumps(doc, indent=1, default=str))


def rerender(path: Path, out: Path) -> int:
    saved = json.loads(path.read_text())
    results = saved["results"] if isinstance(saved["results"], dict) else {"find": saved["results"]}
    for rs in results.values():  # peak RSS is the max over repeats (older files kept the min)
        for r in rs:
            for c in r["cells"].values():
                if c.get("rss_all") and not c.get("status"):
                    c["best_rss_mb"] = max(c["rss_all"])
    md = render(results, saved["meta"], saved["notes"])
    write(out, md)
    print(md)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    root = harness.tmp_root() if args.tmpdir else harness.WORK
    if args.out is None:
        args.out = (root / "results" if args.tmpdir else harness.RESULTS) / "latest.md"
    if args.data_dir is None:
        args.data_dir = root / "data"
    args.data_dir = args.data_dir.resolve()  # the subprocesses run in the repository root
    if args.from_json is not None:
        return rerender(args.from_json, args.out)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    names = [s.strip() for s in args.sections.split(",") if s.strip()]
    for s in names:
        if s not in SECTIONS:
            ap.error(f"unknown section {s!r}; choose from {', '.join(SECTIONS)}")
    plan: dict[str, list[str]] = {}
    for s in names:
        sec = SECTIONS[s]
        explicit = getattr(args, sec.sizes_option.lstrip("-").replace("-", "_"))
        text = explicit or (sec.quick_sizes if args.quick else sec.default_sizes)
        plan[s] = [x.strip() for x in text.split(",") if x.strip()]
        for size in plan[s]:
            try:
                gen.parse_size(size)
            except ValueError as e:
                ap.error(str(e))
    args.data_dir.mkdir(parents=True, exist_ok=True)

    notes: list[str] = []
    la_py, la_cli = harness.find_labelaudit(args.labelaudit_python)
    la_cmds = harness.labelaudit_commands(la_cli, notes)
    cl_py, cl_missing = harness.find_cleanlab_python(args.cleanlab_python, args.setup_cleanlab, root)
    if cl_py is None:
        notes.append(f"cleanlab columns skipped: {cl_missing}.")
    env = harness.Env(la_py, la_cli, la_cmds, cl_py)

    load0 = os.getloadavg()[0]
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/run.py "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "machine": harness.machine_info(),
        "labelaudit": harness.versions(la_py, "labelaudit"),
        "cleanlab": harness.versions(cl_py, "cleanlab") if cl_py else {},
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
    for name, sizes in plan.items():
        sec = SECTIONS[name]
        for s in sizes:
            print(f"== {name} {s}", file=sys.stderr)
            res = sec.measure(s, args, env, notes)
            if sec.update_meta is not None:
                sec.update_meta(res, meta)
            results.setdefault(name, []).append(res)
            meta["loadavg"] = f"{load0:.2f} / {os.getloadavg()[0]:.2f}"
            meta["idle_wait"] = dict(harness.IDLE_STATS, max_wait_s=args.idle_wait)
            # Write after every size so a long run leaves partial results behind.
            md = render(results, meta, notes)
            write(args.out, md, {"meta": meta, "results": results, "notes": notes})
    print(md)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
