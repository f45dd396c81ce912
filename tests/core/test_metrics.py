"""core.metrics: the detector metrics of evaluate, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.core import metrics


def test_metrics_by_hand():
    is_error = np.array([True, False, True, False, False])
    m = metrics.set_metrics(np.array([0, 1]), is_error)
    assert (m["precision"], m["recall"]) == (0.5, 0.5) and m["f1"] == 0.5
    # errors at scores 0.1 and 0.3; clean at 0.2, 0.3 (tie with an error), 0.9 -> pairs won: 3 + 1.5 = 4.5 of 6
    assert metrics.auroc(np.array([0.1, 0.2, 0.3, 0.3, 0.9]), is_error) == pytest.approx(4.5 / 6)
    assert metrics.auroc(np.array([0.1, 0.9, 0.2, 0.8, 0.7]), is_error) == 1.0
