"""core.context: the Context's closed-form "label wins" rule against the copy-and-nudge reference."""

from __future__ import annotations

import numpy as np
from conftest import nudged_argmax_wins


def test_matches_label_nudge():
    p = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5 - 5e-7], [0.5, 0.5 - 2e-6], [0.6, 0.4]])
    y = np.array([1, 0, 1, 1, 0])
    # A label that ties (or trails by less than 1e-6) still wins the nudged argmax: both the copy-and-nudge
    # form and the closed form the Context uses.
    want = [True, True, True, False, True]
    np.testing.assert_array_equal(nudged_argmax_wins(p, y), want)
    from labelaudit.core import Context

    np.testing.assert_array_equal(Context(y, p).matches(np.arange(5)), want)
