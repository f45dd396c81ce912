"""The cleanlab side of the whole-process health benchmark: what a user would write with cleanlab.

Usage:
    python bench/cleanlab_health.py LABELS.npy PRED_PROBS.npy OUT.json

Imports cleanlab, opens both inputs memory-mapped, calls cleanlab.dataset.health_summary and saves
its result (health score, joint, and both tables) as JSON, as `labelaudit health -o OUT.json` does.
bench/run.py times the whole process and reads its peak RSS.
"""

import json
import sys

import numpy as np
from cleanlab.dataset import health_summary

labels = np.load(sys.argv[1], mmap_mode="r")
pred_probs = np.load(sys.argv[2], mmap_mode="r")
summary = health_summary(labels, pred_probs, verbose=False)
doc = {
    "overall_label_health_score": summary["overall_label_health_score"],
    "joint": summary["joint"].tolist(),
    "classes_by_label_quality": summary["classes_by_label_quality"].to_dict(orient="records"),
    "overlapping_classes": summary["overlapping_classes"].to_dict(orient="records"),
}
with open(sys.argv[3], "w") as f:
    json.dump(doc, f, default=lambda o: o.item())
