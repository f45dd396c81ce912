"""cross_val: `labelaudit cross-val` (--n-jobs 1 and 2) against cleanlab's
estimate_cv_predicted_probabilities (bench/cleanlab_cross_val.py), both with scikit-learn's default
LogisticRegression and 5 folds, on synthetic features (make_classification, 10 classes)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gen
import numpy as np
from harness import BENCH, Cell, Env, Job, cells_json, finish, kept, run_jobs, warm_page_cache
from report import Col, fmt_paired, fmt_ratio2, paired_ratios, ratio_col, rss_col, text_col, time_col

from .base import Section

FOLDS, SEED, CLASSES = 5, 0, 10
KEYS = ("la_1", "la_2", "cl", "cl_1t")
ONE_THREAD = ("OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1")


def features(n: int, d: int, data_dir: Path, seed: int) -> tuple[Path, Path]:
    """X (n, d) float64 and y (n,) int64 from scikit-learn's make_classification, generated once."""
    folder = data_dir / f"features-{gen.size_name(n, d)}-c{CLASSES}-s{seed}"
    xp, yp = folder / "X.npy", folder / "y.npy"
    if not (xp.exists() and yp.exists()):
        from sklearn.datasets import make_classification

        x, y = make_classification(
            n_samples=n,
            n_features=d,
            n_informative=min(d, 16),
            n_redundant=min(max(d - 16, 0), 8),
            n_classes=CLASSES,
            random_state=seed,
        )
        folder.mkdir(parents=True, exist_ok=True)
        np.save(xp, x.astype(np.float64))
        np.save(yp, y.astype(np.int64))
    return xp, yp


def measure(size: str, args, env: Env, notes: list[str]) -> dict:
    n, d = gen.parse_size(size)
    xp, yp = features(n, d, args.data_dir, args.seed)
    warm_page_cache(xp, yp)
    work = Path(tempfile.mkdtemp(prefix=f"run-cross_val-{gen.size_name(n, d)}-", dir=args.data_dir))
    cells = {key: Cell() for key in KEYS}
    if env.cl_py is None:
        cells["cl"].status = cells["cl_1t"].status = "skipped"
    if env.la_cli is None:
        cells["la_1"].status = cells["la_2"].status = "n/a"
    jobs = []
    for jobs_n in ("1", "2"):
        cmd = [env.la_cli or "labelaudit", "cross-val", "-x", str(xp), "-l", str(yp)]
        cmd += ["-o", str(work / f"la_{jobs_n}.npy"), "--folds", str(FOLDS), "--seed", str(SEED)]
        cmd += ["--n-jobs", jobs_n, "--quiet"]
        jobs.append(
            Job(f"la_{jobs_n}", f"labelaudit cross-val --n-jobs {jobs_n}", cmd, work / f"la_{jobs_n}.npy")
        )
    cl_cmd = [env.cl_py or "python", str(BENCH / "cleanlab_cross_val.py"), str(xp), str(yp)]
    cl_cmd += [str(work / "cl.npy"), str(FOLDS), str(SEED)]
    jobs.append(Job("cl", "cleanlab estimate_cv_predicted_probabilities", cl_cmd, work / "cl.npy"))
    cl_1t = ["env", *ONE_THREAD, *cl_cmd[:4], str(work / "cl_1t.npy"), *cl_cmd[5:]]
    jobs.append(Job("cl_1t", "cleanlab, one BLAS thread", cl_1t, work / "cl_1t.npy"))
    run_jobs(f"cross_val {gen.size_name(n, d)}", jobs, cells, args, work, notes)

    def load(key: str) -> np.ndarray | None:
        try:
            return None if cells[key].status else np.load(kept(work / f"{key}.npy"))
        except (OSError, ValueError):
            return None

    got = {key: load(key) for key in KEYS}
    res = {
        "size": gen.size_name(n, d),
        "n": n,
        "d": d,
        "k": CLASSES,
        "input_mb": (xp.stat().st_size + yp.stat().st_size) / 1e6,
    }
    res["cells"] = cells_json(cells)
    a, b = got["la_1"], got["la_2"]
    res["same_jobs"] = None if a is None or b is None else bool(np.array_equal(a, b))
    for key in ("cl", "cl_1t"):
        c = got[key]
        diff = None if a is None or c is None or a.shape != c.shape else float(np.abs(a - c).max())
        res[f"max_abs_diff_{key}"] = diff
    res["accuracy"] = None if a is None else float(np.mean(a.argmax(axis=1) == np.load(yp)))
    finish(work, args, res)
    return res


def _diff(v: float | None) -> str:
    return "n/a" if v is None else ("0" if v == 0 else f"{v:.1e}")


COLUMNS = [
    Col("N × D (K)", lambda r: f"{r['n']:,} × {r['d']:,} ({r['k']})", align="l"),
    time_col("labelaudit --n-jobs 1", "la_1"),
    time_col("labelaudit --n-jobs 2", "la_2"),
    time_col("cleanlab", "cl"),
    time_col("cleanlab, 1 BLAS thread", "cl_1t"),
    ratio_col("cleanlab / --n-jobs 1", "cl", "la_1", fmt=fmt_ratio2),
    ratio_col("cleanlab / --n-jobs 2", "cl", "la_2", fmt=fmt_ratio2),
    ratio_col("cleanlab 1 thread / --n-jobs 1", "cl_1t", "la_1", fmt=fmt_ratio2),
    ratio_col("--n-jobs 1 / 2", "la_1", "la_2", fmt=fmt_ratio2),
    text_col(
        "paired: cleanlab / --n-jobs 2",
        lambda r: fmt_paired(paired_ratios(r["cells"]["cl"], r["cells"]["la_2"])),
        "r",
    ),
    rss_col("peak RSS MiB: --n-jobs 1", "la_1"),
    rss_col("peak RSS MiB: --n-jobs 2", "la_2"),
    rss_col("peak RSS MiB: cleanlab", "cl"),
    rss_col("peak RSS MiB: cleanlab 1 thread", "cl_1t"),
    text_col("max abs diff vs cleanlab", lambda r: _diff(r.get("max_abs_diff_cl")), "r"),
    text_col("... 1 BLAS thread", lambda r: _diff(r.get("max_abs_diff_cl_1t")), "r"),
    text_col("--n-jobs 1 == 2", lambda r: {None: "n/a", True: "yes", False: "no"}[r["same_jobs"]]),
]


def notes(results: list[dict], meta: dict) -> list[str]:
    return [
        f"- Whole-process wall time of `labelaudit cross-val -x X.npy -l y.npy -o P.npy --folds {FOLDS} "
        f"--seed {SEED} --n-jobs J --quiet` (default model: scikit-learn's `LogisticRegression()`) against "
        f"`bench/cleanlab_cross_val.py` (`estimate_cv_predicted_probabilities(X, y, clf=LogisticRegression(), "
        f"cv_n_folds={FOLDS}, seed={SEED})`, saved with np.save). Features: `make_classification(N, D, "
        f"{CLASSES} classes, random_state=seed)`, float64. The machine has {meta['machine']['cores']} cores.",
        "- labelaudit fits each fold on one BLAS/OpenMP thread and runs `--n-jobs` folds side by side in threads; "
        "cleanlab fits the folds one after another, with the BLAS library's default thread count and again with "
        "`OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1` (the thread count labelaudit fits with). max abs diff: "
        "the largest |labelaudit - cleanlab| over the (N, K) pred_probs (the same folds and rows; the last bits "
        "differ when BLAS splits its sums across threads). paired: the ratios of the runs of each repeat.",
    ]


SECTION = Section(
    name="cross_val",
    title="Cross-validated pred_probs from features (`cross-val`)",
    sizes_option="--cross-val-sizes",
    default_sizes="100kx64",
    quick_sizes="5kx16",
    measure=measure,
    columns=COLUMNS,
    notes=notes,
)
