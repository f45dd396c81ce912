"""The label type: golden parity with the reference's Datalab run, and that it is the core kernels'
answer (find_label_issues with min_examples_per_class=10, health's score)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import labelaudit as la
from labelaudit.core.audit.label import label_issues
from labelaudit.core.context import Context

from .audit_golden import RUNS, expected, inputs


def _label(run: str):
    y, p, _ = inputs(run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small set has a class of <= 10 examples (warned, not flagged)
        return label_issues(Context.validated(y, p)), y, p


@pytest.mark.parametrize("run", RUNS)
def test_label_matches_reference(run):
    res, _, _ = _label(run)
    issues, summary, info = expected(run)
    np.testing.assert_array_equal(res.flags, issues["is_label_issue"].to_numpy())
    np.testing.assert_allclose(res.scores, issues["label_score"].to_numpy(), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(res.columns["given_label"], issues["given_label"].to_numpy())
    np.testing.assert_array_equal(res.columns["predicted_label"], issues["predicted_label"].to_numpy())
    row = summary[summary.issue_type == "label"].iloc[0]
    assert res.score == pytest.approx(row.score, rel=1e-12) and res.num_issues == row.num_issues
    ref = info["info"]["label"]
    assert res.info["num_label_issues"] == ref["num_label_issues"]
    assert res.info["average_label_quality"] == pytest.approx(ref["average_label_quality"], rel=1e-12)
    np.testing.assert_array_equal(res.info["confident_joint"], ref["confident_joint"])
    for key in ("py", "noise_matrix", "inverse_noise_matrix", "confident_thresholds"):
        np.testing.assert_allclose(res.info[key], ref[key], rtol=1e-12, atol=1e-15, err_msg=key)
    got = [
        (r["class_index"], r["label_issues"], r["label_quality_score"])
        for r in res.info["classes_by_label_quality"]
    ]
    want = [
        (r["Class Index"], r["Label Issues"], r["Label Quality Score"])
        for r in ref["classes_by_label_quality"]
    ]
    assert got == want
    pairs = [r for r in ref["overlapping_classes"] if r["Joint Probability"] > 0]
    got_pairs = [(r["class_a"], r["class_b"], r["n_overlapping"]) for r in res.info["overlapping_classes"]]
    assert got_pairs == [
        (r["Class Index A"], r["Class Index B"], r["Num Overlapping Examples"]) for r in pairs
    ]


def test_label_is_the_core_filter_and_health_score():
    res, y, p = _label("digits")
    mask = la.find_label_issues(y, p, min_examples_per_class=10)
    np.testing.assert_array_equal(res.flags, mask)
    assert res.score == la.overall_label_health_score(y, p)
    # the dataset score counts the off-diagonal, not the flagged examples
    assert res.score != 1 - res.num_issues / len(y)
    np.testing.assert_array_equal(res.scores, la.get_label_quality_scores(y, p))


def test_small_classes_are_never_flagged(example_a):
    # Example A: classes of 4, 6 and 2 examples, all at most 10: nothing is pruned, with a warning.
    y, p = example_a
    with pytest.warns(la.core.filter.LabelauditWarning, match="min_examples_per_class=10"):
        res = label_issues(Context.validated(y, p))
    assert res.num_issues == 0
    assert la.find_label_issues(y, p).any()  # the function's own default (1) does flag some


def test_float32_pred_probs_give_the_float32_answer():
    y, p, _ = inputs("digits")
    p32 = p.astype(np.float32)
    res = label_issues(Context.validated(y, p32))
    np.testing.assert_array_equal(res.flags, la.find_label_issues(y, p32, min_examples_per_class=10))
    assert res.scores.dtype == np.float64
    np.testing.assert_array_equal(res.scores, p32[np.arange(len(y)), y].astype(np.float64))


# ---------------------------------------------------------------------------- without pred_probs


@pytest.mark.parametrize(
    "run, n_issues, score",
    # the reference's numbers: Datalab(...).find_issues(features=X, issue_types={"label": {}}) with
    # cleanlab 2.9.0 on these inputs (float64 features), numpy's argsort made stable as for every fixture
    [("blobs", 36, 0.856), ("digits", 181, 0.911504424778761)],
)
def test_label_from_features_alone(run, n_issues, score):
    pytest.importorskip("labelaudit.core.audit.graph")  # issue 13a's module (the scikit-learn check)
    from sklearn.neighbors import KNeighborsClassifier

    from labelaudit.core.audit import run_types

    y, _, x = inputs(run)
    assert x is not None
    x = x.astype(np.float64)
    res = run_types(y, features=x, issue_types="label").results[0]
    assert (res.num_issues, res.score) == (n_issues, score)
    # the definition: the labels of the 10 nearest other rows, by scikit-learn's classifier
    p = KNeighborsClassifier(n_neighbors=11).fit(x, y).predict_proba(x)
    p = (p - np.eye(p.shape[1])[y] / 11) * 11 / 10
    np.testing.assert_array_equal(res.scores, p[np.arange(len(y)), y])
    np.testing.assert_array_equal(
        res.flags, la.find_label_issues(y, np.clip(p, 0, 1), min_examples_per_class=10)
    )
