"""core.checks: input validation at the entry points of the library."""

from __future__ import annotations

import numpy as np
import pytest

import labelaudit as la
from labelaudit.errors import InputError

# ---------------------------------------------------------------------------- validation at the entry


@pytest.mark.parametrize(
    ("labels", "probs", "match"),
    [
        ([0, 1, 3], [[0.5, 0.5]] * 3, r"0\.\.1: 1 outside \(first at row 2: 3\)"),
        ([0, -1, 1], [[0.5, 0.5]] * 3, r"first at row 1: -1"),
        ([0, 1], [[0.5, 0.5]] * 3, "same length"),
        ([0, 1, 1], [[0.5, np.nan], [0.5, 0.5], [0.5, 0.5]], "row 0"),
        ([0, 1, 1], [[0.5, 0.5], [0.5, 0.5], [1.5, -0.5]], "1.5|-0.5"),
        ([0, 1, 1], [[1.0], [1.0], [1.0]], "at least 2"),
        ([[0, 1]], [[0.5, 0.5]], "1-D"),
        ([0.5, 1, 1], [[0.5, 0.5]] * 3, "integers"),
    ],
)
def test_core_validation(labels, probs, match):
    with pytest.raises(InputError, match=match):
        la.find_label_issues(np.asarray(labels), np.asarray(probs, dtype=np.float64))


def test_core_rejects_non_array_pred_probs(example_a):
    y, p = example_a
    with pytest.raises(InputError, match="numpy array"):
        la.get_label_quality_scores(y, p.tolist())
    with pytest.raises(InputError, match="floating"):
        la.get_label_quality_scores(y, (p > 0.5).astype(np.int64))
