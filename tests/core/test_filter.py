"""Hand-checked unit tests of core.filter on the running examples: the filters of §12 and prune_counts.

Section numbers (§N) refer to docs/algorithms.md. Every expected number below is taken from it (§12.9
holds Example A's) and can be re-derived with pencil and paper; the comments show the derivation where
it is short.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import labelaudit as la
from labelaudit.core import prune_counts
from labelaudit.errors import InputError, LabelauditWarning

INT64_MIN = np.iinfo(np.int64).min


def flagged(labels, probs, **kwargs) -> list[int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelauditWarning)
        mask = la.find_label_issues(labels, probs, **kwargs)
    assert mask.dtype == bool and mask.shape == (len(labels),)
    return np.flatnonzero(mask).tolist()


# ---------------------------------------------------------------------------- §12 filters

FILTERS_A = {
    "prune_by_noise_rate": [0, 2, 3],
    "prune_by_class": [2, 3, 11],
    "both": [2, 3],
    "confident_learning": [0, 2],
    "predicted_neq_given": [0, 1, 2, 3, 11],
    "low_normalized_margin": [1, 11],
    "low_self_confidence": [2, 11],
}


def test_every_filter_is_covered():
    assert set(FILTERS_A) == set(la.FILTERS)


@pytest.mark.parametrize("filter_by", list(FILTERS_A))
def test_find_label_issues_example_a(example_a, filter_by):
    y, p = example_a
    assert flagged(y, p, filter_by=filter_by) == FILTERS_A[filter_by]


def test_default_filter_is_prune_by_noise_rate(example_a):
    y, p = example_a
    assert flagged(y, p) == [0, 2, 3]


def test_ranked_by_normalized_margin(example_a):
    y, p = example_a
    # normalized margins: 0 -> .45, 2 -> .425, 3 -> .475
    got = la.find_label_issues(y, p, return_indices_ranked_by="normalized_margin")
    np.testing.assert_array_equal(got, [2, 0, 3])
    assert got.dtype == np.int64
    # 1 and 11 tie at exactly 0.375: the lower index comes first.
    got = la.find_label_issues(
        y, p, filter_by="predicted_neq_given", return_indices_ranked_by="normalized_margin"
    )
    np.testing.assert_array_equal(got, [1, 11, 2, 0, 3])


def test_ranked_by_self_confidence_ties(example_a):
    y, p = example_a
    # prune_by_class flags 2 (.25), 3 (.30), 11 (.25): 2 and 11 tie, lower index first.
    got = la.find_label_issues(y, p, filter_by="prune_by_class", return_indices_ranked_by="self_confidence")
    np.testing.assert_array_equal(got, [2, 11, 3])


def test_min_examples_per_class_4(example_a):
    y, p = example_a
    cjc = la.compute_confident_joint(y, p)
    m = prune_counts(cjc, np.array([4, 6, 2]), min_examples_per_class=4)
    np.testing.assert_array_equal(m, [[4, 2, 0], [0, 4, 0], [0, 0, 4]])
    # Classes 0 (n=4) and 2 (n=2) have at most 4 examples: skipped with a warning.
    with pytest.warns(LabelauditWarning, match="min_examples_per_class=4"):
        mask = la.find_label_issues(y, p, min_examples_per_class=4)
    # Class 1 flags the two largest P0 - P1, rows 2 and 4; 4 matches its label.
    assert np.flatnonzero(mask).tolist() == [2]


def test_frac_noise_half(example_a):
    y, p = example_a
    m = prune_counts(la.compute_confident_joint(y, p), np.array([4, 6, 2]), frac_noise=0.5)
    # Off-diagonals halved and truncated (1.5 -> 1), the remainder moved to the diagonal (4.5 -> 4).
    np.testing.assert_array_equal(m, [[3, 1, 0], [1, 4, 0], [0, 0, 2]])
    assert flagged(y, p, frac_noise=0.5) == [0, 2]


def test_prune_counts_default_is_transposed_joint(example_a):
    y, p = example_a
    m = prune_counts(la.compute_confident_joint(y, p), np.array([4, 6, 2]))
    np.testing.assert_array_equal(m, [[2, 3, 0], [2, 3, 0], [0, 0, 2]])
    assert m.dtype == np.int64


def test_num_to_remove_per_class(example_a):
    y, p = example_a
    m = prune_counts(la.compute_confident_joint(y, p), np.array([4, 6, 2]), num_to_remove_per_class=[1, 2, 0])
    # T = [[3, 1, 0], [2, 4, 0], [NaN, NaN, 2]]: the NaN cells become the most negative int64.
    np.testing.assert_array_equal(m[:2], [[3, 1, 0], [2, 4, 0]])
    np.testing.assert_array_equal(m[2], [INT64_MIN, INT64_MIN, 2])
    assert flagged(y, p, filter_by="prune_by_class", num_to_remove_per_class=[1, 2, 0]) == [2, 11]
    assert flagged(y, p, filter_by="prune_by_noise_rate", num_to_remove_per_class=[1, 2, 0]) == [0, 2, 3]


def test_num_to_remove_per_class_rejected_for_other_filters(example_a):
    y, p = example_a
    with pytest.warns(LabelauditWarning), pytest.raises(InputError, match="num_to_remove_per_class"):
        la.find_label_issues(y, p, filter_by="confident_learning", num_to_remove_per_class=[1, 2, 0])
    with pytest.raises(InputError, match="3 entries"):
        la.find_label_issues(y, p, num_to_remove_per_class=[1, 2])


def test_find_label_issues_bad_options(example_a):
    y, p = example_a
    with pytest.raises(InputError, match="nope"):
        la.find_label_issues(y, p, filter_by="nope")
    with pytest.raises(InputError, match="nope"):
        la.find_label_issues(y, p, return_indices_ranked_by="nope")
    with pytest.raises(InputError, match="method"):
        la.find_label_issues(y, p, rank_by_kwargs={"method": "self_confidence"})


def test_singleton_class_never_pruned():
    # Class 1 has one example, clearly mislabelled; the prune filters never flag a class of size 1.
    y = np.array([0, 0, 0, 1, 2, 2, 2])
    p = np.array(
        [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05],
         [0.1, 0.1, 0.8], [0.05, 0.05, 0.9], [0.1, 0.2, 0.7]]
    )  # fmt: skip
    for f in ("prune_by_noise_rate", "prune_by_class", "both"):
        assert 3 not in flagged(y, p, filter_by=f, min_examples_per_class=0)
    assert 3 in flagged(y, p, filter_by="predicted_neq_given")
