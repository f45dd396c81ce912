"""core.ensemble: ensemble scores (example E of docs/algorithms.md §11) and the log-loss search."""

from __future__ import annotations

import numpy as np

import labelaudit as la


def test_ensemble_worked_example_e():
    y = np.array([0, 1, 1, 0])
    p1 = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.8, 0.2]])
    p2 = np.array([[0.6, 0.4], [0.45, 0.55], [0.2, 0.8], [0.55, 0.45]])
    f = la.get_label_quality_ensemble_scores
    np.testing.assert_allclose(
        f(y, [p1, p2], weight_ensemble_members_by="uniform"), [0.75, 0.625, 0.6, 0.675]
    )
    np.testing.assert_allclose(f(y, [p1, p2]), [0.72857143, 0.61428571, 0.62857143, 0.65714286], rtol=1e-7)
    np.testing.assert_allclose(
        f(y, [p1, p2], weight_ensemble_members_by="log_loss_search"),
        [0.89991798, 0.69995899, 0.40010936, 0.79993165],
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        f(y, [p1, p2], weight_ensemble_members_by="custom", custom_weights=[2, 1]), [2.4, 1.95, 1.6, 2.15]
    )


def test_log_loss_search_does_not_underflow():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    bad = [np.full((200, 3), 1e-9) + np.eye(3)[(y + 1) % 3] for _ in range(2)]  # confidently wrong models
    bad = [b / b.sum(axis=1, keepdims=True) for b in bad]
    s = la.get_label_quality_ensemble_scores(y, bad, weight_ensemble_members_by="log_loss_search")
    assert np.isfinite(s).all()
