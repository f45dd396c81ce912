"""The cleanlab side of the whole-process benchmark: what a user would write with cleanlab.

Usage:
    python bench/cleanlab_find_issues.py LABELS.npy PRED_PROBS.npy OUT.npy

Imports cleanlab, opens both inputs memory-mapped, calls cleanlab.filter.find_label_issues with
default arguments and saves the boolean mask with np.save. bench/run.py times the whole process
(interpreter start, imports, loading, the call and the write) and reads its peak RSS.
"""

import sys

import numpy as np
from cleanlab.filter import find_label_issues

labels = np.load(sys.argv[1], mmap_mode="r")
pred_probs = np.load(sys.argv[2], mmap_mode="r")
np.save(sys.argv[3], find_label_issues(labels, pred_probs))
