"""The cleanlab side of the whole-process batched benchmark: what a user would write with cleanlab.

Usage:
    python bench/cleanlab_batched.py LABELS.npy PRED_PROBS.npy OUT.npy

Imports cleanlab, calls cleanlab.experimental.label_issues_batched.find_label_issues_batched on the
two .npy files (batch_size=10000, n_jobs=1, return_mask=True) and saves the mask with np.save.
bench/run.py times the whole process and reads its peak RSS.
"""

import sys

import numpy as np
from cleanlab.experimental.label_issues_batched import find_label_issues_batched

mask = find_label_issues_batched(
    labels_file=sys.argv[1],
    pred_probs_file=sys.argv[2],
    batch_size=10000,
    n_jobs=1,
    verbose=False,
    return_mask=True,
)
np.save(sys.argv[3], mask)
