"""--task token: hand-checked kernels (example T of docs/algorithms.md, token/multi-label §2.1)."""

from __future__ import annotations

import numpy as np
from helpers import L_T, P_T, Y_T

from labelaudit.core import token as tk


def test_example_t_tokens():
    assert tk.find_label_issues(Y_T, P_T, L_T).tolist() == [[1, 1]]
    assert tk.find_label_issues(Y_T, P_T, L_T, filter_by="predicted_neq_given").tolist() == [
        [1, 1],
        [0, 2],
        [2, 2],
    ]
    p2 = P_T.copy()
    p2[7] = [0.28, 0.62, 0.10]
    assert tk.find_label_issues(Y_T, p2, L_T).tolist() == [[1, 1], [2, 2], [0, 2]]
    sent, tokens = tk.get_label_quality_scores(Y_T, P_T, L_T)
    np.testing.assert_allclose(sent, [0.3, 0.15, 0.35])
    np.testing.assert_allclose(
        tk.get_label_quality_scores(Y_T, P_T, L_T, sentence_score_method="softmin")[0],
        [0.30015683, 0.15000058, 0.35037431],
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        tk.get_label_quality_scores(Y_T, P_T, L_T, sentence_score_method="softmin", temperature=0.5)[0],
        [0.50012636, 0.28847128, 0.53745778],
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        tk.get_label_quality_scores(Y_T, P_T, L_T, token_score_method="normalized_margin")[0],
        [0.35, 0.275, 0.40],
    )


def test_token_common_issues_and_positions():
    issues = np.array([[2, 0], [1, 0], [0, 2], [2, 2]])
    toks = ["The", "Bank", "of", "Paris", "bank", "robbery", "Paris", "Hilton", "bank"]
    labels = np.array([0, 1, 1, 2, 0, 0, 1, 1, 0])
    pred = np.array([0, 0, 0, 0, 1, 0, 2, 0, 1])
    lengths = np.array([4, 2, 3])
    assert tk.common_label_issues(issues, toks, labels=labels, predicted=pred, lengths=lengths) == [
        ("bank", 0, 1, 2),
        ("Paris", 1, 2, 1),
        ("of", 1, 0, 1),
    ]
    assert tk.common_label_issues(issues, toks, lengths=lengths) == [("bank", 2), ("Paris", 1), ("of", 1)]
    assert tk.positions(np.array([0, 3, 4]), np.array([3, 0, 2, 1])).tolist() == [[0, 0], [2, 0], [2, 1]]
