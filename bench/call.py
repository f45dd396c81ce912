"""Time one library call in a fresh process (run by bench/run.py).

Usage:
    python bench/call.py {labelaudit,cleanlab} LABELS.npy PRED_PROBS.npy OUT.npy RESULT.json
                         [--task {find,health,batched}] [--n-jobs N]

--task find (default): opens both inputs with np.load(mmap_mode="r"), then times only
    find_label_issues(labels, pred_probs) with default arguments (for cleanlab, n_jobs is left at
    its default unless --n-jobs is given); OUT.npy gets the boolean mask.
--task health: times, with np.load(mmap_mode="r") of both inputs inside the timed region,
    labelaudit: HealthReport(Context.validated(labels, pred_probs)) (validation and the
                self-confidence gather share one pass)
    cleanlab:   cleanlab.dataset.health_summary(labels, pred_probs, verbose=False)
    OUT.npy gets the joint (K, K); RESULT.json holds the health score.
--task batched: times, with the files opened inside the timed region,
    labelaudit: core.stream.batched_issue_rows over io.stream.BlockSource(L, P) (default mode)
    cleanlab:   find_label_issues_batched(labels_file=..., pred_probs_file=..., batch_size=10000,
                n_jobs=1, verbose=False, return_mask=True)
    OUT.npy gets the mask.

--save-cj / --cj are only for run.py's diagnosis of differing find masks (not timed runs).
This file imports nothing but the standard library, numpy and the library under test, so it
runs unchanged under labelaudit's venv and under a throwaway cleanlab venv.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time

import numpy as np


def cleanlab_default_n_jobs() -> str:
    # What find_label_issues' default n_jobs=None turns into, per cleanlab's documentation:
    # physical cores when psutil is installed, else logical cores.
    try:
        import psutil

        eff = psutil.cpu_count(logical=False) or multiprocessing.cpu_count()
    except ImportError:
        eff = multiprocessing.cpu_count()
    return f"default (None -> {eff})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("lib", choices=("labelaudit", "cleanlab"))
    ap.add_argument("labels")
    ap.add_argument("pred_probs")
    ap.add_argument("out")
    ap.add_argument("result")
    ap.add_argument("--task", choices=("find", "health", "batched"), default="find")
    ap.add_argument("--n-jobs", type=int, default=None)
    ap.add_argument(
        "--save-cj",
        default=None,
        help="cleanlab find only, diagnostic: after the timed call also save cleanlab's calibrated "
        "confident joint here",
    )
    ap.add_argument(
        "--cj",
        default=None,
        help="labelaudit find only, diagnostic: pass this confident joint (.npy) to the call",
    )
    args = ap.parse_args()

    t_import = time.perf_counter()
    info: dict[str, object] = {
        "lib": args.lib,
        "task": args.task,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }
    lpath, ppath = args.labels, args.pred_probs

    def mmap(path):
        return np.load(path, mmap_mode="r")

    if args.lib == "labelaudit":
        import labelaudit

        info["version"] = labelaudit.__version__
        if args.task == "find":
            kwargs = {} if args.cj is None else {"confident_joint": np.load(args.cj)}

            def call(labels, pred_probs):
                return labelaudit.find_label_issues(labels, pred_probs, **kwargs)

        elif args.task == "health":
            import labelaudit.core as core

            def call(_labels, _pred_probs):
                return core.HealthReport(core.Context.validated(mmap(lpath), mmap(ppath)))

        else:  # batched, default mode
            from labelaudit.core import stream
            from labelaudit.io.stream import BlockSource

            def call(_labels, _pred_probs):
                src = BlockSource(lpath, ppath)
                mask = np.zeros(src.n, dtype=bool)
                mask[stream.batched_issue_rows(src.passes, src.n, src.k, dtype=src.dtype).ranked] = True
                return mask

    else:
        import cleanlab

        info["version"] = cleanlab.__version__
        if args.task == "find":
            from cleanlab.filter import find_label_issues

            info["n_jobs"] = cleanlab_default_n_jobs() if args.n_jobs is None else args.n_jobs
            kwargs = {} if args.n_jobs is None else {"n_jobs": args.n_jobs}

            def call(labels, pred_probs):
                return find_label_issues(labels, pred_probs, **kwargs)

        elif args.task == "health":
            from cleanlab.dataset import health_summary

            def call(_labels, _pred_probs):
                return health_summary(mmap(lpath), mmap(ppath), verbose=False)

        else:  # batched
            from cleanlab.experimental.label_issues_batched import find_label_issues_batched

            nj = 1 if args.n_jobs is None else args.n_jobs
            info["n_jobs"] = nj

            def call(_labels, _pred_probs):
                return find_label_issues_batched(
                    labels_file=lpath,
                    pred_probs_file=ppath,
                    batch_size=10000,
                    n_jobs=nj,
                    verbose=False,
                    return_mask=True,
                )

    info["import_s"] = time.perf_counter() - t_import

    if args.task == "find":
        labels, pred_probs = mmap(lpath), mmap(ppath)
    else:  # health and batched open their inputs inside the timed region
        labels = pred_probs = None

    t0 = time.perf_counter()
    result = call(labels, pred_probs)
    info["call_s"] = time.perf_counter() - t0
    info["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if args.task == "health":
        if args.lib == "labelaudit":
            score, joint = result.health_score, result.joint
        else:
            score, joint = result["overall_label_health_score"], result["joint"]
        info["health_score"] = float(score)
        np.save(args.out, np.asarray(joint, dtype=np.float64))
    else:
        mask = np.asarray(result)
        info["n_flagged"] = int(mask.sum())
        info["mask_dtype"] = str(mask.dtype)
        np.save(args.out, mask.astype(bool, copy=False))
    if args.lib == "cleanlab" and args.task == "find" and args.save_cj:
        from cleanlab.count import compute_confident_joint

        np.save(args.save_cj, compute_confident_joint(labels, pred_probs, calibrate=True))
    with open(args.result, "w") as f:
        json.dump(info, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
