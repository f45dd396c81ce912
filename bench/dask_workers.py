"""Peak RSS of each Dask worker for one `batched` run (run by bench/sections/dask.py, untimed).

Usage: python bench/dask_workers.py LABELS.npy PRED_PROBS.npy RESULT.json [--workers N] [--exact]

Starts a LocalCluster of N worker processes (1 thread each, 127.0.0.1, no dashboard), runs the default
mode (or --exact) over io.stream.BlockSource through labelaudit.engines.dask, then asks every worker
for its own peak RSS (getrusage) and writes them with the client's to RESULT.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("labels")
    ap.add_argument("pred_probs")
    ap.add_argument("result")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--exact", action="store_true")
    a = ap.parse_args()

    from labelaudit.core import stream
    from labelaudit.engines import EngineSpec
    from labelaudit.io.stream import BlockSource

    with EngineSpec("dask", workers=a.workers).open() as engine:
        t = time.perf_counter()
        src = BlockSource(a.labels, a.pred_probs)
        if a.exact:
            flagged, _ = stream.exact_issue_rows(src.passes, src.n, src.k, src.dtype, engine=engine)
        else:
            flagged = stream.batched_issue_rows(
                src.passes, src.n, src.k, dtype=src.dtype, engine=engine
            ).ranked
        took = time.perf_counter() - t
        workers = engine.client.run(peak_mb)  # type: ignore[attr-defined]
    out = {
        "call_s": took,
        "flagged": int(len(flagged)),
        "client_rss_mb": peak_mb(),
        "worker_rss_mb": sorted(workers.values()),
        "pid": os.getpid(),
    }
    with open(a.result, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
