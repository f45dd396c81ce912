"""Multi-label and token-classification benchmark: labelaudit vs cleanlab (when installed), same run.

    python bench/tasks.py [--cleanlab-python /tmp/clenv/bin/python] [--data-dir /tmp/labelaudit-bench-tasks]

Generates (seeded) multi-label 1M x 50 float32 and token 2M tokens x 20 tags float32 inputs, then times
the library call inside fresh processes (labelaudit: core.multilabel.find_label_issues /
core.token.find_label_issues; cleanlab: multilabel_classification.filter.find_label_issues /
token_classification.filter.find_label_issues, n_jobs=1, fed the list formats it requires), the whole
process, and peak RSS (ru_maxrss via os.wait4), and checks that the flagged sets are equal. Prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

LA = """
import sys, time, json, numpy as np
from labelaudit.core import multilabel as ml, token as tk
d, which = sys.argv[1], sys.argv[2]
if which == "ml":
    y, p = np.load(d + "/ml_y.npy"), np.load(d + "/ml_p.npy")
    t = time.perf_counter(); m = ml.find_label_issues(y, p); dt = time.perf_counter() - t
    np.save(d + "/la_ml.npy", np.flatnonzero(m))
else:
    y, p, L = np.load(d + "/tok_y.npy"), np.load(d + "/tok_p.npy"), np.load(d + "/tok_len.npy")
    t = time.perf_counter(); r = tk.find_label_issues(y, p, L); dt = time.perf_counter() - t
    np.save(d + "/la_tok.npy", r)
print(json.dumps({"call": dt}))
"""

CL = """
import sys, time, json, numpy as np
d, which = sys.argv[1], sys.argv[2]
if which == "ml":
    from cleanlab.multilabel_classification.filter import find_label_issues
    y, p = np.load(d + "/ml_y.npy"), np.load(d + "/ml_p.npy")
    labels = [list(np.flatnonzero(r)) for r in y]
    t = time.perf_counter(); m = find_label_issues(labels, p, n_jobs=1); dt = time.perf_counter() - t
    np.save(d + "/cl_ml.npy", np.flatnonzero(m))
else:
    from cleanlab.token_classification.filter import find_label_issues
    y, p, L = np.load(d + "/tok_y.npy"), np.load(d + "/tok_p.npy"), np.load(d + "/tok_len.npy")
    s = np.concatenate(([0], np.cumsum(L)[:-1]))
    labels = [y[a:a + n].tolist() for a, n in zip(s, L)]
    probs = [p[a:a + n] for a, n in zip(s, L)]
    t = time.perf_counter(); r = find_label_issues(labels, probs, n_jobs=1); dt = time.perf_counter() - t
    np.save(d + "/cl_tok.npy", np.array(r, dtype=np.int64).reshape(-1, 2))
print(json.dumps({"call": dt}))
"""


def generate(d: Path) -> None:
    if (d / "tok_len.npy").exists():
        return
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n, k = 1_000_000, 50
    true = (rng.random((n, k)) < 0.08).astype(np.int8)
    y = true.copy()
    flip = rng.random((n, k)) < 0.01
    y[flip] = 1 - y[flip]
    y[y.sum(axis=1) == 0, 0] = 1
    p = np.where(true == 1, rng.beta(5, 2, (n, k)), rng.beta(1, 8, (n, k))).astype(np.float32)
    np.save(d / "ml_y.npy", y)
    np.save(d / "ml_p.npy", p)
    s = 100_000
    lengths = rng.integers(5, 36, s)
    lengths = (lengths * 2_000_000 / lengths.sum()).astype(np.int64)
    lengths[-1] += 2_000_000 - lengths.sum()
    t = int(lengths.sum())
    true_t = rng.integers(0, 20, t)
    y_t = true_t.copy()
    f = rng.random(t) < 0.05
    y_t[f] = rng.integers(0, 20, int(f.sum()))
    a = rng.gamma(0.3, size=(t, 20)).astype(np.float32)
    a[np.arange(t), true_t] += rng.gamma(3, size=t).astype(np.float32)
    np.save(d / "tok_y.npy", y_t)
    np.save(d / "tok_p.npy", (a / a.sum(axis=1, keepdims=True)).astype(np.float32))
    np.save(d / "tok_len.npy", lengths)


def run(python: str, code: str, d: Path, which: str) -> tuple[float, float, float]:
    """(call seconds, whole-process seconds, peak RSS MiB); RSS from /usr/bin/time, since a forked
    child's ru_maxrss starts from this (large) parent's resident set."""
    t = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", python, "-c", code, str(d), which], capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{python} failed on {which}: {proc.stderr[-500:]}")
    rss_kib = int(proc.stderr.strip().splitlines()[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])["call"], wall, rss_kib / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="/tmp/labelaudit-bench-tasks")
    ap.add_argument("--cleanlab-python", default="/tmp/clenv/bin/python")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    d = Path(args.data_dir)
    generate(d)
    have_cl = Path(args.cleanlab_python).exists()
    rows = []
    for which, name, inputs in (
        ("ml", "multi-label 1M x 50", ("ml_y.npy", "ml_p.npy")),
        ("tok", "token 2M tokens x 20 tags", ("tok_y.npy", "tok_p.npy", "tok_len.npy")),
    ):
        size_mb = sum((d / f).stat().st_size for f in inputs) / 1e6
        la = min((run(sys.executable, LA, d, which) for _ in range(args.repeat)), key=lambda r: r[0])
        cl = run(args.cleanlab_python, CL, d, which) if have_cl else None
        same = "n/a"
        if cl:
            a, b = np.load(d / f"la_{which}.npy"), np.load(d / f"cl_{which}.npy")
            sa = {tuple(x) if isinstance(x, list) else x for x in a.tolist()}
            sb = {tuple(x) if isinstance(x, list) else x for x in b.tolist()}
            same = "yes" if sa == sb else f"{len(sa - sb)} only here, {len(sb - sa)} only in cleanlab"
            if which == "tok" and sa == sb:
                same += ", same order" if np.array_equal(a, b) else ", order differs only among equal scores"
        limit = 1.5 * size_mb / 1.048576 + 200 / 1.048576
        rows.append((name, size_mb, la, cl, same, limit))
    print(
        "| data | input MB | call: labelaudit | call: cleanlab | ratio | process: labelaudit | process: cleanlab |"
        " ratio | peak RSS MiB: labelaudit (limit) | peak RSS MiB: cleanlab | same flagged set |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for name, size_mb, la, cl, same, limit in rows:
        c = cl or (float("nan"),) * 3
        print(
            f"| {name} | {size_mb:.0f} | {la[0]:.2f} | {c[0]:.2f} | {c[0] / la[0]:.1f}x | {la[1]:.2f} | {c[1]:.2f} |"
            f" {c[1] / la[1]:.1f}x | {la[2]:.0f} ({limit:.0f}) | {c[2]:.0f} | {same} |"
        )


if __name__ == "__main__":
    main()
