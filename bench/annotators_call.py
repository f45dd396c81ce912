"""Time one multi-annotator call in a fresh process (run by bench/sections/annotators.py).

Usage:
    python bench/annotators_call.py {labelaudit,cleanlab} LABELS.npy PRED_PROBS.npy OUT.npz RESULT.json

Times, with np.load(mmap_mode="r") of both inputs inside the timed region, the library's
get_label_quality_multiannotator(labels, pred_probs) with its defaults (best_quality consensus,
crowdlab quality; cleanlab with verbose=False, numpy's global generator seeded 0 for its random
tie-break). LABELS.npy is the (N, M) float matrix with NaN where an annotator gave no label.
OUT.npz gets the per-example columns and the per-annotator columns in annotator (column) order;
RESULT.json the call time and the process's peak RSS (ru_maxrss) after the call.

Like bench/call.py this imports nothing but the standard library, numpy and the library under test,
so it runs unchanged under labelaudit's venv and under a throwaway cleanlab venv.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def main() -> int:
    lib, lpath, ppath, out, result = sys.argv[1:6]
    info: dict[str, object] = {"lib": lib, "numpy": np.__version__, "python": sys.version.split()[0]}
    if lib == "labelaudit":
        import labelaudit
        from labelaudit.core.multiannotator import get_label_quality_multiannotator

        info["version"] = labelaudit.__version__

        def call():
            r = get_label_quality_multiannotator(np.load(lpath, mmap_mode="r"), np.load(ppath, mmap_mode="r"))
            return {
                "consensus_label": r.consensus_label,
                "consensus_quality_score": r.consensus_quality_score,
                "annotator_agreement": r.annotator_agreement,
                "num_annotations": r.num_annotations,
                "annotator_quality": r.annotator_quality,
                "agreement_with_consensus": r.agreement_with_consensus,
                "worst_class": r.worst_class,
                "num_examples_labeled": r.num_examples_labeled,
            }

    else:
        import cleanlab
        from cleanlab.multiannotator import get_label_quality_multiannotator

        info["version"] = cleanlab.__version__

        def call():
            np.random.seed(0)
            r = get_label_quality_multiannotator(
                np.load(lpath, mmap_mode="r"), np.load(ppath, mmap_mode="r"), verbose=False
            )
            lq, st = r["label_quality"], r["annotator_stats"].sort_index()  # annotator (column) order
            cols = {c: lq[c].to_numpy() for c in ("consensus_label", "consensus_quality_score")}
            cols.update({c: lq[c].to_numpy() for c in ("annotator_agreement", "num_annotations")})
            for c in ("annotator_quality", "agreement_with_consensus", "worst_class", "num_examples_labeled"):
                cols[c] = st[c].to_numpy()
            return cols

    t0 = time.perf_counter()
    cols = call()
    info["call_s"] = time.perf_counter() - t0
    info["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.savez(out, **{k: np.asarray(v) for k, v in cols.items()})
    with open(result, "w") as f:
        json.dump(info, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
