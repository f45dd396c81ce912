"""audit: `labelaudit audit -x FEATURES -o OUT.parquet` against bench/cleanlab_audit.py
(`Datalab.find_issues` with the same labels, pred_probs and features), whole processes: wall time and peak
RSS, and how far the two per-example tables agree (flags per type, largest relative score difference).

Sizes are N x d (features); K is 10. Inputs: the find section's labels and pred_probs of N x 10
(bench/gen.py) and features.npy (float32, N x d) made here: a centre per class the model favours
(argmax of pred_probs) plus Gaussian noise, 0.5% of the rows exact copies of others (near duplicates),
deterministic for a seed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import gen
import numpy as np
from harness import Cell, Env, Job, cells_json, finish, kept, quick_output, run_jobs, warm_page_cache
from report import Col, input_col, ratio_col, rss_col, text_col, time_col

from .base import Section, script_job

K = 10
FEATURES_VERSION = 1
BLOCK = 1 << 16


def features_for(n: int, d: int, pred_probs: Path, folder: Path, seed: int) -> Path:
    """folder/features.npy for these pred_probs (made once, then reused while meta.json matches)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"n": n, "d": d, "seed": seed, "version": FEATURES_VERSION, "pred_probs": str(pred_probs)}
    path, meta_path = folder / "features.npy", folder / "meta.json"
    if path.exists() and meta_path.exists() and json.loads(meta_path.read_text()) == meta:
        return path
    rng = np.random.default_rng([seed, n, d])
    centres = rng.normal(0, 3, size=(K, d)).astype(np.float32)
    p = np.load(pred_probs, mmap_mode="r")
    x = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for lo in range(0, n, BLOCK):
        hi = min(n, lo + BLOCK)
        favoured = np.asarray(p[lo:hi]).argmax(axis=1)
        x[lo:hi] = centres[favoured] + rng.standard_normal((hi - lo, d), dtype=np.float32)
    copies = rng.choice(n, size=max(1, n // 200), replace=False)
    x[copies] = x[rng.choice(n, size=len(copies), replace=False)]
    x.flush()
    del x
    meta_path.write_text(json.dumps(meta) + "\n")
    return path


def _compare(la: Path, cl: Path) -> dict:
    """Flags that differ per type and the largest relative score difference, over the shared types."""
    import pandas as pd

    try:
        a, b = pd.read_parquet(la), pd.read_parquet(cl)
    except (OSError, ValueError):
        return {"ok": None}
    types = [c[3:-6] for c in b.columns if c.startswith("is_") and c.endswith("_issue") and c in a.columns]
    flags = {t: int((a[f"is_{t}_issue"].to_numpy() != b[f"is_{t}_issue"].to_numpy()).sum()) for t in types}
    rel = 0.0
    for t in types:
        x, y = a[f"{t}_score"].to_numpy(np.float64), b[f"{t}_score"].to_numpy(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(y == 0, np.abs(x - y), np.abs(x - y) / np.abs(y))
        rel = max(rel, float(np.nanmax(r)) if len(r) else 0.0)
    missing = [
        c[3:-6] for c in b.columns if c.startswith("is_") and c.endswith("_issue") and c not in a.columns
    ]
    return {
        "ok": not any(flags.values()) and not missing,
        "flags": flags,
        "score_rel": rel,
        "missing": missing,
    }


def measure(size: str, args, env: Env, notes: list[str]) -> dict:
    n, d = gen.parse_size(size)
    lp, pp = gen.ensure(f"{n}x{K}", args.data_dir, seed=args.seed)
    fp = features_for(n, d, pp, args.data_dir / f"audit-{gen.size_name(n, d)}", args.seed)
    warm_page_cache(lp, pp, fp)
    name = gen.size_name(n, d)
    work = Path(tempfile.mkdtemp(prefix=f"run-audit-{name}-", dir=args.data_dir))
    res: dict = {
        "size": name,
        "n": n,
        "k": d,
        "input_mb": sum(p.stat().st_size for p in (lp, pp, fp)) / 1e6,
        "features_bytes": fp.stat().st_size,
    }
    cells = {key: Cell() for key in ("la_proc", "la_proc2", "cl_proc")}
    if env.cl_py is None:
        cells["cl_proc"].status = "skipped"
    if env.la_cli is None or quick_output([env.la_cli, "audit", "--help"])[0] != 0:
        cells["la_proc"].status = cells["la_proc2"].status = "n/a"
    la = [env.la_cli or "labelaudit", "audit", "-l", str(lp), "-p", str(pp), "-x", str(fp), "--quiet"]
    jobs = [
        Job(
            "la_proc",
            "labelaudit audit",
            [*la, "-o", str(work / "la_proc.parquet")],
            work / "la_proc.parquet",
        ),
        Job(
            "la_proc2",
            "labelaudit audit --n-jobs 2",
            [*la, "--n-jobs", "2", "-o", str(work / "la_proc2.parquet")],
            work / "la_proc2.parquet",
        ),
        script_job(
            "cl_proc",
            "cleanlab Datalab script",
            env.cl_py or "python",
            "cleanlab_audit.py",
            lp,
            pp,
            work / "cl_proc.parquet",
        ),
    ]
    jobs[2].cmd.insert(-1, str(fp))  # the script takes LABELS PRED_PROBS FEATURES OUT
    run_jobs(f"audit {name}", jobs, cells, args, work, notes)
    res["cells"] = cells_json(cells)
    ok = not cells["la_proc"].status and not cells["cl_proc"].status
    res["same"] = (
        _compare(kept(work / "la_proc.parquet"), kept(work / "cl_proc.parquet")) if ok else {"ok": None}
    )
    finish(work, args, res)
    return res


def fmt_same(s: dict) -> str:
    if s.get("ok") is None:
        return "n/a"
    differ = {t: v for t, v in s["flags"].items() if v}
    flags = (
        "flags equal" if not differ else "flags differ: " + ", ".join(f"{t} {v}" for t, v in differ.items())
    )
    missing = f"; not run here: {', '.join(s['missing'])}" if s["missing"] else ""
    return f"{'yes' if s['ok'] else 'no'} ({flags}, scores max rel. diff {s['score_rel']:.1e}{missing})"


COLUMNS = [
    Col("N × d", lambda r: f"{r['n']:,} × {r['k']:,}", align="l"),
    input_col(),
    time_col("labelaudit audit", "la_proc"),
    time_col("labelaudit --n-jobs 2", "la_proc2"),
    time_col("cleanlab Datalab", "cl_proc"),
    ratio_col("ratio", "cl_proc", "la_proc"),
    rss_col("peak RSS MiB: labelaudit", "la_proc"),
    rss_col("peak RSS MiB: cleanlab", "cl_proc"),
    ratio_col("ratio", "cl_proc", "la_proc", rss=True),
    text_col("same answer", lambda r: fmt_same(r["same"])),
]


def notes(results: list[dict], meta: dict) -> list[str]:
    return [
        "- **labelaudit**: `labelaudit audit -l L -p P -x F -o OUT.parquet --quiet` (all seven types, one "
        "shared exact neighbour graph), and the same with `--n-jobs 2`.",
        "- **cleanlab**: `bench/cleanlab_audit.py` (import cleanlab, load, `Datalab(data={'y': labels}, "
        "label_name='y').find_issues(pred_probs=P, features=F)`, write `get_issues()` as Parquet).",
        "- Inputs: the find section's labels and float32 pred_probs of N x 10, and float32 features N x d "
        "(a centre per predicted class plus noise, 0.5% exact copies). Whole processes: wall time and peak RSS.",
        "- **same answer**: per type, the flags of the two tables compared row by row, and the largest "
        "relative difference of the scores (cleanlab's own unstable sort may break ties differently).",
    ]


SECTION = Section(
    name="audit",
    title="Audit (Datalab.find_issues)",
    sizes_option="--audit-sizes",
    default_sizes="20kx64,100kx64",
    quick_sizes="2kx16",
    measure=measure,
    columns=COLUMNS,
    notes=notes,
)
