"""Time one library call of find_label_issues in a fresh process (run by bench/run.py).

Usage:
    python bench/call.py {labelaudit,cleanlab} LABELS.npy PRED_PROBS.npy MASK_OUT.npy RESULT.json [--n-jobs N]

Loads both inputs with np.load(mmap_mode="r"), times only the call
find_label_issues(labels, pred_probs) with default arguments (for cleanlab, n_jobs is left at
its default unless --n-jobs is given), saves the boolean mask and writes a JSON result.
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("lib", choices=("labelaudit", "cleanlab"))
    ap.add_argument("labels")
    ap.add_argument("pred_probs")
    ap.add_argument("mask_out")
    ap.add_argument("result")
    ap.add_argument("--n-jobs", type=int, default=None)
    args = ap.parse_args()

    t_import = time.perf_counter()
    info: dict[str, object] = {"lib": args.lib, "numpy": np.__version__, "python": sys.version.split()[0]}
    if args.lib == "labelaudit":
        import labelaudit

        info["version"] = labelaudit.__version__

        def call(labels, pred_probs):
            return labelaudit.find_label_issues(labels, pred_probs)
    else:
        import cleanlab
        from cleanlab.filter import find_label_issues

        info["version"] = cleanlab.__version__
        if args.n_jobs is None:
            # What the default n_jobs=None turns into, per cleanlab's documentation:
            # physical cores when psutil is installed, else logical cores.
            try:
                import psutil

                eff = psutil.cpu_count(logical=False) or multiprocessing.cpu_count()
            except ImportError:
                eff = multiprocessing.cpu_count()
            info["n_jobs"] = f"default (None -> {eff})"
        else:
            info["n_jobs"] = args.n_jobs
        kwargs = {} if args.n_jobs is None else {"n_jobs": args.n_jobs}

        def call(labels, pred_probs):
            return find_label_issues(labels, pred_probs, **kwargs)

    info["import_s"] = time.perf_counter() - t_import

    labels = np.load(args.labels, mmap_mode="r")
    pred_probs = np.load(args.pred_probs, mmap_mode="r")

    t0 = time.perf_counter()
    mask = call(labels, pred_probs)
    info["call_s"] = time.perf_counter() - t0

    mask = np.asarray(mask)
    info["n_flagged"] = int(mask.sum())
    info["mask_dtype"] = str(mask.dtype)
    info["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.save(args.mask_out, mask.astype(bool, copy=False))
    with open(args.result, "w") as f:
        json.dump(info, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
