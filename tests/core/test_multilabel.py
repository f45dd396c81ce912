"""--task multilabel: hand-checked kernels (example M of docs/algorithms.md, token/multi-label §3.7)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import P_M, Y_M

from labelaudit.core import multilabel as ml


def test_example_m_scores_and_aggregators():
    s = ml.per_class_scores(Y_M, P_M)
    np.testing.assert_allclose(s[5], [0.8, 0.9, 0.2])
    np.testing.assert_allclose(ml.aggregate(s, alpha=0.8), [0.82, 0.24, 0.46, 0.82, 0.30, 0.324])
    np.testing.assert_allclose(ml.aggregate(s, alpha=None), [0.85, 0.45, 0.55, 0.85, 0.45, 0.525])
    np.testing.assert_allclose(
        ml.aggregate(s, "softmin"),
        [0.84238831, 0.10127431, 0.4271671, 0.84238831, 0.20664835, 0.20211839],
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        ml.get_label_quality_scores(Y_M, P_M, adjust_pred_probs=True),
        [0.63363066, 0.44259233, 0.45562369, 0.63724042, 0.28360976, 0.2909547],
        rtol=1e-7,
    )


def test_example_m_issues_and_dataset():
    per_class = ml.find_issues_per_class(Y_M, P_M)
    assert [np.flatnonzero(per_class[:, k]).tolist() for k in range(3)] == [[], [1], [2, 4, 5]]
    for f in (
        "prune_by_noise_rate",
        "prune_by_class",
        "both",
        "confident_learning",
        "predicted_neq_given",
        "low_self_confidence",
        "low_normalized_margin",
    ):
        assert ml.find_label_issues(Y_M, P_M, filter_by=f).tolist() == [False, True, True, False, True, True]
        # Path A's ranked output is sorted by its score (the reference returns [1, 5, 2, 4] there)
        assert ml.find_label_issues(
            Y_M, P_M, filter_by=f, return_indices_ranked_by="self_confidence"
        ).tolist() == [1, 4, 5, 2]
    common = ml.common_issues(Y_M, P_M)
    assert list(
        zip(
            common["class_index"][:3].tolist(),
            common["n_examples"][:3].tolist(),
            common["in_given_label"][:3].tolist(),
            strict=True,
        )
    ) == [(2, 2, False), (1, 1, True), (2, 1, True)]
    table = ml.class_table(Y_M, P_M)
    assert table["class_index"].tolist() == [2, 1, 0]
    assert table["label_issues"].tolist() == [1, 1, 0] and table["inverse_label_issues"].tolist() == [2, 0, 0]
    assert ml.health_score(Y_M, P_M) == pytest.approx(1 - 4 / 6)
