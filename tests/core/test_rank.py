"""Hand-checked unit tests of core.rank on the running examples: scores (§9) and ordering (§10).

Section numbers (§N) refer to docs/algorithms.md. Every expected number below is taken from it and can be
re-derived with pencil and paper; the comments show the derivation where it is short.
"""

from __future__ import annotations

import numpy as np
import pytest

import labelaudit as la
from labelaudit.errors import InputError

# ---------------------------------------------------------------------------- §9 scores

SCORES_A = {
    ("self_confidence", False): [0.45, 0.35, 0.25, 0.30, 0.50, 0.45, 0.70, 0.70, 0.85, 0.50, 0.75, 0.25],
    ("normalized_margin", False): [0.45, 0.375, 0.425, 0.475, 0.575, 0.55, 0.75, 0.725, 0.85, 0.55, 0.80, 0.375],
    ("confidence_weighted_entropy", False): [
        0.62654, 0.534458, 0.405724, 0.440386, 0.569885, 0.536595,
        0.685034, 0.698984, 0.824892, 0.582093, 0.71595, 0.413571,
    ],
    ("self_confidence", True): [
        0.522673, 0.465394, 0.305489, 0.436754, 0.448687, 0.420048,
        0.563246, 0.563246, 0.486874, 0.448687, 0.429594, 0.408115,
    ],
    ("normalized_margin", True): [
        0.522673, 0.560859, 0.405728, 0.536993, 0.491647, 0.520286,
        0.591885, 0.634845, 0.568019, 0.563246, 0.553699, 0.551313,
    ],
}  # fmt: skip


@pytest.mark.parametrize(("method", "adjust"), list(SCORES_A), ids=[f"{m}-adjust={a}" for m, a in SCORES_A])
def test_scores_example_a(example_a, method, adjust):
    y, p = example_a
    s = la.get_label_quality_scores(y, p, method=method, adjust_pred_probs=adjust)
    assert s.shape == (12,) and s.dtype == np.float64
    # docs/algorithms.md §9 prints 6 decimals (5 where the 6th is 0).
    np.testing.assert_allclose(s, SCORES_A[(method, adjust)], rtol=0, atol=5e-7)


def test_adjusted_score_row_0_by_hand(example_a):
    # Row 0 minus t plus max(t) = [.45-.3375+.8, .55-.516667+.8, 0-.8+.8] = [.9125, .833333, 0].
    y, p = example_a
    row = np.array([0.45 - 1.35 / 4 + 0.8, 0.55 - 3.1 / 6 + 0.8, 0.0])
    s = la.get_label_quality_scores(y, p, adjust_pred_probs=True)
    np.testing.assert_allclose(s[0], row[0] / row.sum(), rtol=1e-12)


def test_scores_keep_float32(example_a):
    y, p = example_a
    for method in ("self_confidence", "normalized_margin"):
        assert la.get_label_quality_scores(y, p.astype(np.float32), method=method).dtype == np.float32


def test_confidence_weighted_entropy_one_hot_rows():
    # §9: a zero-entropy row scores ln(1) / 1e-6 = 0 whatever its label; [.5, .5] scores ln 2 / 2 * ... :
    # H = 1, q = .5, x = 2, s = ln(3) / 2 = 0.549306.
    y = np.array([0, 1, 1])
    p = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    s = la.get_label_quality_scores(y, p, method="confidence_weighted_entropy")
    np.testing.assert_allclose(s, [0.0, np.log(3) / 2, 0.0], rtol=1e-12, atol=0)


def test_scores_bad_method(example_a):
    y, p = example_a
    with pytest.raises(InputError, match="nope"):
        la.get_label_quality_scores(y, p, method="nope")
    with pytest.raises(InputError, match="confidence_weighted_entropy"):
        la.get_label_quality_scores(y, p, method="confidence_weighted_entropy", adjust_pred_probs=True)


# ---------------------------------------------------------------------------- §10 ordering


def test_order_label_issues_mask_and_indices(example_a):
    y, p = example_a
    mask = np.zeros(12, dtype=bool)
    mask[[0, 1, 2, 3, 11]] = True
    got = la.order_label_issues(mask, y, p, rank_by="normalized_margin")
    np.testing.assert_array_equal(got, [1, 11, 2, 0, 3])
    # Indices in any order give the same ordering.
    np.testing.assert_array_equal(
        la.order_label_issues(np.array([11, 3, 2, 1, 0]), y, p, rank_by="normalized_margin"), got
    )
    # self_confidence: 2 (.25) ties 11 (.25), then 3 (.30), 1 (.35), 0 (.45).
    np.testing.assert_array_equal(la.order_label_issues(mask, y, p), [2, 11, 3, 1, 0])


def test_order_label_issues_adjusted_uses_all_examples(example_a):
    y, p = example_a
    mask = np.zeros(12, dtype=bool)
    mask[[0, 4, 9, 11]] = True
    got = la.order_label_issues(mask, y, p, rank_by_kwargs={"adjust_pred_probs": True})
    # adjusted self-confidence: 0 .522673, 4 .448687, 9 .448687 (tie), 11 .408115
    np.testing.assert_array_equal(got, [11, 4, 9, 0])


def test_order_label_issues_empty_and_bad(example_a):
    y, p = example_a
    assert la.order_label_issues(np.zeros(12, dtype=bool), y, p).tolist() == []
    with pytest.raises(InputError):
        la.order_label_issues(np.zeros(5, dtype=bool), y, p)
    with pytest.raises(InputError):
        la.order_label_issues(np.array([0, 12]), y, p)


def test_find_top_issues_ties_lower_index_first():
    q = np.array([0.5, 0.1, 0.5, 0.1, 0.3])
    np.testing.assert_array_equal(la.find_top_issues(q, top=3), [1, 3, 4])
    np.testing.assert_array_equal(la.find_top_issues(q, top=4), [1, 3, 4, 0])
    np.testing.assert_array_equal(la.find_top_issues(q, top=None), [1, 3, 4, 0, 2])
    np.testing.assert_array_equal(la.find_top_issues(q, top=99), [1, 3, 4, 0, 2])
    np.testing.assert_array_equal(la.find_top_issues(q), [1, 3, 4, 0, 2])  # default top=10 > len
    assert la.find_top_issues(q, top=0).tolist() == []


def test_find_top_issues_partial_selection_path():
    # top << n takes the partial-selection route; it must still equal a stable argsort prefix.
    rng = np.random.default_rng(0)
    q = rng.integers(0, 5, size=1000).astype(np.float64)
    for top in (1, 7, 100, 249, 250, 999):
        np.testing.assert_array_equal(la.find_top_issues(q, top=top), np.argsort(q, kind="stable")[:top])
