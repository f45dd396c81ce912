"""The cleanlab side of the whole-process audit benchmark: what a user would write with cleanlab.

Usage:
    python bench/cleanlab_audit.py LABELS.npy PRED_PROBS.npy FEATURES.npy OUT.parquet

Imports cleanlab, loads the three inputs, runs `Datalab(...).find_issues(pred_probs=..., features=...)`
with no issue_types (the default run) and writes `get_issues()` (one row per example) as Parquet and
`get_issue_summary()` beside it as OUT.summary.json, as `labelaudit audit -o OUT.parquet` writes its rows.
bench/run.py times the whole process and reads its peak RSS.
"""

import contextlib
import io
import json
import sys

import numpy as np
from cleanlab import Datalab

labels = np.load(sys.argv[1])
pred_probs = np.load(sys.argv[2], mmap_mode="r")
features = np.load(sys.argv[3], mmap_mode="r")
lab = Datalab(data={"y": labels}, label_name="y", verbosity=0)
with contextlib.redirect_stdout(io.StringIO()):
    lab.find_issues(pred_probs=np.asarray(pred_probs), features=np.asarray(features))
issues = lab.get_issues()
issues[[c for c in issues.columns if c.startswith(("is_", "near_dup")) or c.endswith("_score")]].to_parquet(
    sys.argv[4], index=False
)
summary = lab.get_issue_summary().to_dict(orient="records")
with open(sys.argv[4].rsplit(".", 1)[0] + ".summary.json", "w") as f:
    json.dump(summary, f, default=lambda o: o.item())
