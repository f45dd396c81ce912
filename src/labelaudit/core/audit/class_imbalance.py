"""The `class_imbalance` issue type: examples of a class far rarer than the others.

With f_c = n_c / N the frequency of each class that occurs in the labels (K' such classes: the
reference numbers only the distinct given labels), the rarest class c* is the first argmin of f. Every
example of c* scores f_c*, every other example 1.0; the examples of c* are flagged when
f_c* < THRESHOLD / K' (strict). The dataset score is f_c*.

    class_imbalance_issues(labels: (N,) int in 0..K-1, n_classes: int) -> IssueResult
"""

from __future__ import annotations

import numpy as np

from labelaudit.core.audit.result import IssueResult
from labelaudit.core.confident import class_counts

THRESHOLD = 0.1  # relative to the uniform frequency 1 / K'


def class_imbalance_issues(labels: np.ndarray, n_classes: int) -> IssueResult:
    """Scores (N,) float64 and flags (N,) bool; info: threshold, rarest_class (its index; None when no
    imbalance is flagged), class_frequencies (K,) (0 for a class absent from the labels)."""
    n = len(labels)
    counts = class_counts(labels, n_classes)
    present = np.flatnonzero(counts)
    freq = counts / n
    rarest = int(present[np.argmin(freq[present])])  # ties: the smallest class index
    f_min = float(freq[rarest])
    in_rarest = labels == rarest
    scores = np.where(in_rarest, f_min, 1.0)
    imbalanced = f_min < THRESHOLD * (1 / len(present))
    flags = in_rarest if imbalanced else np.zeros(n, dtype=bool)
    info = {
        "threshold": THRESHOLD,
        "rarest_class": rarest if imbalanced else None,
        "class_frequencies": freq.tolist(),
    }
    return IssueResult(
        "class_imbalance", {"is_class_imbalance_issue": flags, "class_imbalance_score": scores}, f_min, info
    )
