"""annotators: get_label_quality_multiannotator (CROWDLAB), labelaudit's against cleanlab's in the same run
(bench/annotators_call.py in each library's Python), and the whole `labelaudit annotators` process on the
wide .npy and on the long .parquet layout of the same labels. Sizes are N x M: N examples, M annotators,
3 labels per example, K = 10 classes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import gen
import numpy as np
from harness import BENCH, Cell, Env, Job, cells_json, finish, kept, run_jobs, warm_page_cache
from report import Col, fmt_ratio, ratio_value, rss_col, text_col, time_col

from .base import Section

K = 10  # classes
PER_EXAMPLE = 3  # labels per example, from distinct annotators
GEN_VERSION = 1
TOL = 1e-6  # the parity tolerance for scores


def generate(n: int, m: int, out: Path, seed: int) -> tuple[Path, Path, Path]:
    """labels.npy ((N, M) float32, NaN where not labelled), pred_probs.npy ((N, K) float32) and the same
    labels as long.parquet (task, annotator, label); made once per (N, M, seed). Annotator j is right
    with probability 0.5 + 0.45 j / (M - 1), else a uniform wrong class; pred_probs =
    softmax(2.5 one-hot(true) + standard normal noise)."""
    lp, pp, long = out / "labels.npy", out / "pred_probs.npy", out / "long.parquet"
    meta = {"n": n, "m": m, "k": K, "per_example": PER_EXAMPLE, "seed": seed, "gen_version": GEN_VERSION}
    meta_path = out / "meta.json"
    if meta_path.exists() and all(p.exists() for p in (lp, pp, long)):
        if json.loads(meta_path.read_text()) == meta:
            return lp, pp, long
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, n)
    acc = np.linspace(0.5, 0.95, m)
    first, d1 = rng.integers(0, m, n), rng.integers(1, m, n)
    d2 = rng.integers(1, m - 1, n)
    d2 += d2 >= d1  # three distinct annotators per example
    who = np.stack([first, (first + d1) % m, (first + d2) % m], axis=1)
    right = rng.random((n, PER_EXAMPLE)) < acc[who]
    lab = np.where(right, truth[:, None], (truth[:, None] + rng.integers(1, K, (n, PER_EXAMPLE))) % K)
    labels = np.full((n, m), np.nan, dtype=np.float32)
    labels[np.arange(n)[:, None], who] = lab
    x = 2.5 * np.eye(K, dtype=np.float32)[truth] + rng.standard_normal((n, K), dtype=np.float32)
    p = np.exp(x)
    p /= p.sum(axis=1, keepdims=True)
    np.save(lp, labels)
    np.save(pp, p.astype(np.float32))
    rows = pd.DataFrame(
        {"task": np.repeat(np.arange(n), PER_EXAMPLE), "annotator": who.ravel(), "label": lab.ravel()}
    )
    rows.sample(frac=1.0, random_state=seed).to_parquet(long, index=False)  # row order must not matter
    meta_path.write_text(json.dumps(meta))
    return lp, pp, long


def _compare(a: Path, b: Path) -> dict:
    """Consensus labels, worst classes and counts equal; the largest score difference."""
    try:
        with np.load(a) as x, np.load(b) as y:
            za, zb = dict(x), dict(y)
    except (OSError, ValueError):
        return {"ok": None}
    exact = ("consensus_label", "num_annotations", "worst_class", "num_examples_labeled")
    floats = (
        "consensus_quality_score",
        "annotator_agreement",
        "annotator_quality",
        "agreement_with_consensus",
    )
    equal = {key: bool(np.array_equal(za[key], zb[key])) for key in exact}
    diff = max(float(np.nanmax(np.abs(za[key] - zb[key]), initial=0.0)) for key in floats)
    ok = all(equal.values()) and diff <= TOL
    return {
        "ok": ok,
        "equal": equal,
        "max_abs_diff": diff,
        "n_differ": int((za[exact[0]] != zb[exact[0]]).sum()),
    }


def measure(size: str, args, env: Env, notes: list[str]) -> dict:
    n, m = gen.parse_size(size)
    name = gen.size_name(n, m)
    lp, pp, long = generate(n, m, args.data_dir / f"annotators-{name}", args.seed)
    warm_page_cache(lp, pp, long)
    work = Path(tempfile.mkdtemp(prefix=f"run-annotators-{name}-", dir=args.data_dir))
    res: dict = {"size": name, "n": n, "m": m, "k": K, "labels": n * PER_EXAMPLE}
    res["input_mb"] = (lp.stat().st_size + pp.stat().st_size) / 1e6
    cells = {key: Cell() for key in ("la_call", "cl_call", "la_wide", "la_long")}
    if env.cl_py is None:
        cells["cl_call"].status = "skipped"
    if env.la_cli is None:
        cells["la_wide"].status = cells["la_long"].status = "n/a"
    script = str(BENCH / "annotators_call.py")

    def call(key: str, lib: str, py: str) -> Job:
        cmd = [py, script, lib, str(lp), str(pp), str(work / f"{key}.npz"), str(work / f"{key}.json")]
        return Job(
            key, f"{lib} get_label_quality_multiannotator", cmd, work / f"{key}.npz", work / f"{key}.json"
        )

    cli = [env.la_cli or "labelaudit", "annotators"]
    jobs = [
        call("la_call", "labelaudit", env.la_py),
        call("cl_call", "cleanlab", env.cl_py or "python"),
        Job(
            "la_wide",
            "labelaudit annotators (.npy)",
            [*cli, "-l", str(lp), "-p", str(pp), "-o", str(work / "la_wide.parquet"), "--quiet"],
            work / "la_wide.parquet",
        ),  # fmt: skip
        Job(
            "la_long",
            "labelaudit annotators --long",
            [*cli, "-l", str(long), "--long", "-p", str(pp), "-o", str(work / "la_long.parquet"), "--quiet"],
            work / "la_long.parquet",
        ),  # fmt: skip
    ]
    run_jobs(f"annotators {name}", jobs, cells, args, work, notes)
    both = not cells["la_call"].status and not cells["cl_call"].status
    res["same"] = _compare(kept(work / "la_call.npz"), kept(work / "cl_call.npz")) if both else {"ok": None}
    res["same_layouts"] = None
    if not cells["la_wide"].status and not cells["la_long"].status:
        import pandas as pd

        a, b = (
            pd.read_parquet(kept(work / "la_wide.parquet")),
            pd.read_parquet(kept(work / "la_long.parquet")),
        )
        res["same_layouts"] = bool(a.drop(columns="id", errors="ignore").equals(b.drop(columns="id")))
    res["cells"] = cells_json(cells)
    finish(work, args, res)
    return res


def _rss(r: dict, key: str) -> float | None:
    c = r["cells"][key]
    return None if c["status"] else c["extra"].get("maxrss_mb")


def _same(r: dict) -> str:
    s = r["same"]
    if s.get("ok") is None:
        return "n/a"
    if s["ok"]:
        return f"yes (max abs diff {s['max_abs_diff']:.1e})"
    return f"no ({s['n_differ']:,} consensus labels differ, max abs diff {s['max_abs_diff']:.1e})"


COLUMNS = [
    text_col("N × M (K)", lambda r: f"{r['n']:,} × {r['m']} ({r['k']})"),
    Col("labels", lambda r: r["labels"], lambda v: f"{v:,}"),
    time_col("call: labelaudit", "la_call"),
    time_col("call: cleanlab", "cl_call"),
    Col(
        "ratio",
        lambda r: ratio_value(r["cells"]["cl_call"]["best"], r["cells"]["la_call"]["best"]),
        fmt_ratio,
    ),
    Col(
        "call peak RSS MiB: labelaudit",
        lambda r: _rss(r, "la_call"),
        lambda v: "n/a" if v is None else f"{v:,.0f}",
    ),
    Col(
        "call peak RSS MiB: cleanlab",
        lambda r: _rss(r, "cl_call"),
        lambda v: "n/a" if v is None else f"{v:,.0f}",
    ),
    Col("ratio", lambda r: ratio_value(_rss(r, "cl_call"), _rss(r, "la_call")), fmt_ratio),
    time_col("process: annotators .npy", "la_wide"),
    rss_col("peak RSS MiB", "la_wide"),
    time_col("process: annotators --long .parquet", "la_long"),
    rss_col("peak RSS MiB", "la_long"),
    text_col("same answer", _same),
    text_col("wide = long", lambda r: {None: "n/a", True: "yes", False: "no"}[r["same_layouts"]]),
]


def notes(results: list[dict], meta: dict) -> list[str]:
    return [
        f"- Inputs (`bench/sections/annotators.py`, seed {meta['seed']}): N examples, M annotators, "
        f"{PER_EXAMPLE} labels per example from distinct annotators (accuracies 0.5 to 0.95), K = {K}; labels as an "
        "(N, M) float32 `.npy` with NaN, and the same labels as a long `.parquet` (task, annotator, label; rows "
        "shuffled); float32 pred_probs.",
        "- **call**: `get_label_quality_multiannotator(np.load(L, mmap_mode='r'), np.load(P, mmap_mode='r'))` "
        "with each library's defaults (best_quality, crowdlab; cleanlab `verbose=False`, numpy's global "
        "generator seeded 0), loading inside the timed region (`bench/annotators_call.py`); peak RSS is that "
        "process's `ru_maxrss` after the call (last run). **process**: the whole `labelaudit annotators -l L -p "
        "P -o OUT.parquet --quiet` (also the consensus label issues, reading and validating the file).",
        f"- **same answer**: consensus labels, num_annotations, worst_class and num_examples_labeled equal, and "
        f"every score (consensus quality, agreement, annotator quality, agreement with consensus) within {TOL:g}. "
        "**wide = long**: the two processes' per-example tables are equal.",
    ]


SECTION = Section(
    name="annotators",
    title="Multi-annotator consensus (CROWDLAB)",
    sizes_option="--annotators-sizes",
    default_sizes="1Mx50",
    quick_sizes="20kx50",
    measure=measure,
    columns=COLUMNS,
    notes=notes,
)
