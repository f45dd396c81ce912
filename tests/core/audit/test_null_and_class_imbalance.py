"""The null and class_imbalance types: golden parity, hand-computed cases and the edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.core.audit.class_imbalance import class_imbalance_issues
from labelaudit.core.audit.null import null_issues

from .audit_golden import RUNS, expected, inputs


@pytest.mark.parametrize("run", [r for r in RUNS if expected(r)[2]["features"] is not None])
def test_null_matches_reference(run):
    _, _, x = inputs(run)
    res = null_issues(x)
    issues, summary, info = expected(run)
    np.testing.assert_array_equal(res.flags, issues["is_null_issue"].to_numpy())
    np.testing.assert_array_equal(res.scores, issues["null_score"].to_numpy())
    assert res.score == summary[summary.issue_type == "null"].iloc[0].score
    assert res.info == info["info"]["null"]


@pytest.mark.parametrize("run", RUNS)
def test_class_imbalance_matches_reference(run):
    y, p, _ = inputs(run)
    res = class_imbalance_issues(y, p.shape[1])
    issues, summary, info = expected(run)
    np.testing.assert_array_equal(res.flags, issues["is_class_imbalance_issue"].to_numpy())
    np.testing.assert_array_equal(res.scores, issues["class_imbalance_score"].to_numpy())
    row = summary[summary.issue_type == "class_imbalance"].iloc[0]
    assert (res.score, res.num_issues) == (row.score, row.num_issues)
    assert info["info"]["class_imbalance"]["Rarest Class"] == "NA" and res.info["rarest_class"] is None


def test_null_by_hand():
    nan = np.nan
    x = np.array([[1, nan, 3], [nan, nan, nan], [4, 5, 6], [nan, 2, nan], [7, nan, 9], [nan, nan, nan]])
    res = null_issues(x, batch_rows=2)  # blocks of 2 rows: the same as one block
    np.testing.assert_array_equal(res.flags, [False, True, False, False, False, True])
    np.testing.assert_allclose(res.scores, [2 / 3, 0, 1, 1 / 3, 2 / 3, 0])
    assert res.score == pytest.approx(np.mean([2 / 3, 0, 1, 1 / 3, 2 / 3, 0]))
    # patterns 010 (rows 0, 4), 111 (rows 1, 5), 101 (row 3): two tie at 2, the one met first wins
    assert res.info["most_common_issue"] == {"pattern": "010", "rows_affected": [0, 4], "count": 2}
    np.testing.assert_allclose(res.info["column_impact"], [3 / 6, 4 / 6, 3 / 6])
    assert null_issues(x).columns.keys() == res.columns.keys()
    np.testing.assert_array_equal(null_issues(x).scores, res.scores)


def test_null_ignores_inf_and_integers():
    x = np.array([[np.inf, 1.0], [-np.inf, 2.0]], dtype=np.float32)
    res = null_issues(x)
    assert res.num_issues == 0 and res.score == 1.0
    assert res.info["most_common_issue"]["pattern"] == "no_null"
    assert null_issues(np.arange(6).reshape(3, 2)).score == 1.0


def test_class_imbalance_flags_a_rare_class():
    # K' = 3 classes present: threshold 0.1 / 3; class 2 has 3 of 100 examples (0.03 < 0.0333...)
    y = np.array([0] * 50 + [1] * 47 + [2] * 3)
    res = class_imbalance_issues(y, 4)  # class 3 is absent: it does not count in K'
    np.testing.assert_array_equal(res.flags, y == 2)
    np.testing.assert_array_equal(res.scores, np.where(y == 2, 0.03, 1.0))
    assert res.score == 0.03 and res.info["rarest_class"] == 2
    # the same frequency with 4 classes present is not rare enough (0.03 >= 0.025)
    y4 = np.array([0] * 50 + [1] * 44 + [3] * 3 + [2] * 3)
    res4 = class_imbalance_issues(y4, 4)
    assert res4.num_issues == 0 and res4.score == 0.03 and res4.info["rarest_class"] is None
    np.testing.assert_array_equal(res4.scores, np.where(y4 == 2, 0.03, 1.0))  # the tie: class 2 first


def test_class_imbalance_ties_go_to_the_smallest_class():
    y = np.array([0] * 40 + [1] * 1 + [2] * 1 + [3] * 40)
    res = class_imbalance_issues(y, 4)
    np.testing.assert_array_equal(res.flags, y == 1)
    assert res.score == 1 / 82
