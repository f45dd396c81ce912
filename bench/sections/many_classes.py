"""many_classes: `labelaudit find-issues`, `rank`, `health` and `overlap` as whole processes on inputs with
thousands of classes (issue 19), against the same cleanlab calls under an address-space cap, with the
bound "peak RSS within the input + 1 GiB" checked. The runs are bench/many_classes.py's (which also
measures top-k inputs, `--topk 10Mx100000@20`, that no dense tool reads)."""

from __future__ import annotations

import subprocess
import sys

import gen
import many_classes as mc
from harness import BENCH, WORK, Env
from report import Col, text_col

from .base import Section

REFERENCE_CAP = 8 << 30  # each cleanlab process runs under ulimit -v: it fails instead of taking the machine


def measure(size: str, args, env: Env, notes: list[str]) -> dict:
    # written by a child process, so that the measured children do not inherit this one's peak RSS
    subprocess.run(
        [sys.executable, str(BENCH / "many_classes.py"), "--generate", "dense", size, str(args.data_dir)],
        check=True,
    )
    lp, pp = gen.ensure(size, args.data_dir, seed=args.seed)
    mc.harness.warm_page_cache(lp, pp)
    input_bytes = lp.stat().st_size + pp.stat().st_size
    res: dict = {"size": size, "input_mb": input_bytes / 2**20, "commands": []}
    for cmd in mc.COMMANDS:
        log = WORK / "many_classes" / size / cmd
        ours = mc.measure(
            mc.command_line(env.la_cli or "labelaudit", cmd, lp, pp, log, None), args.repeat, 600, log, None
        )
        ref = None
        if env.cl_py is not None:
            script, out = mc.REFERENCE[cmd]
            ref_cmd = mc.capped(
                [env.cl_py, str(BENCH / script), str(lp), str(pp), str(log / out)], REFERENCE_CAP
            )
            ref = mc.measure(ref_cmd, args.repeat, 600, log / "reference", REFERENCE_CAP)
        bound = bool(ours["ok"] and ours["rss_mb"] * 2**20 <= input_bytes + 2**30)
        res["commands"].append({"command": cmd, "labelaudit": ours, "cleanlab": ref, "within_bound": bound})
    return res


def _rows(res: dict) -> list[dict]:
    return [{"size": res["size"], "input_mb": res["input_mb"], **c} for c in res["commands"]]


def _ratio(r: dict) -> str:
    ours, ref = r["labelaudit"], r["cleanlab"]
    return f"{ref['wall_s'] / ours['wall_s']:.1f}x" if ref and ref["ok"] and ours["ok"] else "–"


COLUMNS = [
    text_col("size (float32)", lambda r: r["size"]),
    Col("input MiB", lambda r: f"{r['input_mb']:.0f}"),
    text_col("command", lambda r: r["command"]),
    Col("labelaudit", lambda r: mc.cell(r["labelaudit"])[0]),
    Col("labelaudit peak RSS", lambda r: mc.cell(r["labelaudit"])[1]),
    text_col("within input + 1 GiB", lambda r: "yes" if r["within_bound"] else "no"),
    Col("cleanlab (8 GiB cap)", lambda r: mc.cell(r["cleanlab"])[0]),
    Col("cleanlab peak RSS", lambda r: mc.cell(r["cleanlab"])[1]),
    Col("cleanlab / labelaudit", _ratio),
]


def notes(results: list[dict], meta: dict) -> list[str]:
    return [
        "- whole processes: `labelaudit COMMAND -l L -p P` (`-o OUT.npy` for find-issues and rank) vs "
        "bench/cleanlab_{find_issues,rank,health,overlap}.py (default arguments, memory-mapped inputs), each "
        "cleanlab process under `ulimit -v` 8 GiB; a run that fails allocating is reported as out of memory.",
        "- top-k inputs (K = 100,000): `python bench/many_classes.py --sizes '' --topk 10Mx100000@20`.",
    ]


SECTION = Section(
    name="many_classes",
    title="Many classes",
    sizes_option="--many-classes-sizes",
    default_sizes="50kx5000,12500x20000",
    quick_sizes="2kx1500",
    measure=measure,
    columns=COLUMNS,
    notes=notes,
    rows=_rows,
)
