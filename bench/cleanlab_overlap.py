"""The cleanlab side of the whole-process overlap benchmark: what a user would write with cleanlab.

Usage:
    python bench/cleanlab_overlap.py LABELS.npy PRED_PROBS.npy OUT.json

Imports cleanlab, opens both inputs memory-mapped, calls cleanlab.dataset.find_overlapping_classes and
saves the table as JSON records, as `labelaudit overlap -o OUT.json` does. bench/many_classes.py times
the whole process and reads its peak RSS.
"""

import json
import sys

import numpy as np
from cleanlab.dataset import find_overlapping_classes

labels = np.load(sys.argv[1], mmap_mode="r")
pred_probs = np.load(sys.argv[2], mmap_mode="r")
table = find_overlapping_classes(labels, pred_probs)
with open(sys.argv[3], "w") as f:
    json.dump(table.to_dict(orient="records"), f, default=lambda o: o.item())
