"""The cleanlab side of the whole-process rank benchmark: what a user would write with cleanlab.

Usage:
    python bench/cleanlab_rank.py LABELS.npy PRED_PROBS.npy OUT.npy

Imports cleanlab, opens both inputs memory-mapped, calls cleanlab.rank.get_label_quality_scores with
default arguments (self_confidence) and saves the scores with np.save, as `labelaudit rank -o OUT.npy`
does. bench/many_classes.py times the whole process and reads its peak RSS.
"""

import sys

import numpy as np
from cleanlab.rank import get_label_quality_scores

labels = np.load(sys.argv[1], mmap_mode="r")
pred_probs = np.load(sys.argv[2], mmap_mode="r")
np.save(sys.argv[3], get_label_quality_scores(labels, pred_probs))
