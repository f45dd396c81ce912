"""The orchestrator: which types run and in which order, golden parity of whole runs (flags identical,
scores within 1e-6 relative, summary and health score identical), one shared graph, and a type that fails
on the data reported and skipped."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelaudit.core.audit import TYPES, audit, resolve_types, run_types
from labelaudit.core.audit import run as run_module
from labelaudit.errors import InputError, LabelauditWarning

from .audit_golden import RUNS, expected, inputs

ALL = list(TYPES)
WITHOUT_FEATURES = ["label", "outlier", "non_iid", "class_imbalance"]


def quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_types(*args, **kwargs)


# ---------------------------------------------------------------------------- which types run


def test_default_types_follow_the_inputs():
    assert resolve_types(None, True, True) == ALL
    assert resolve_types(None, True, False) == WITHOUT_FEATURES
    # without pred_probs the label type runs on probabilities of the features' neighbours
    assert resolve_types(None, False, True) == [
        "null",
        "label",
        "outlier",
        "near_duplicate",
        "non_iid",
        "class_imbalance",
    ]
    assert resolve_types(None, False, False) == ["class_imbalance"]


def test_a_selection_runs_in_the_run_order():
    assert resolve_types("class_imbalance, label", True, False) == ["label", "class_imbalance"]
    assert resolve_types(["non_iid", "null", "null"], True, True) == ["null", "non_iid"]


@pytest.mark.parametrize(
    "types, has_pp, has_x, message",
    [
        ("label,outliers", True, True, "unknown issue type 'outliers'"),
        ("data_valuation", True, True, "unknown issue type 'data_valuation'"),
        (" , ", True, True, "names no issue type"),
        ("near_duplicate", True, False, "'near_duplicate' needs features"),
        ("null", True, False, "'null' needs features"),
        ("underperforming_group", False, True, "'underperforming_group' needs pred_probs and features"),
        ("label", False, False, "'label' needs pred_probs or features"),
    ],
)
def test_selection_errors(types, has_pp, has_x, message):
    with pytest.raises(InputError, match=message):
        resolve_types(types, has_pp, has_x)


# ---------------------------------------------------------------------------- golden parity


@pytest.mark.parametrize("run", RUNS)
def test_whole_run_matches_reference(run):
    y, p, x = inputs(run)
    result = quiet(y, p, x)
    issues, summary, info = expected(run)
    assert [r.issue_type for r in result.results] == summary["issue_type"].tolist()
    # the reference's `failed` lists every default type that did not run: those failing on the data here
    not_run = {"null", "near_duplicate", "underperforming_group"} if x is None else set()
    assert set(result.failed) == set(info["failed"]) - not_run
    for r in result.results:
        t = r.issue_type
        np.testing.assert_array_equal(r.flags, issues[f"is_{t}_issue"].to_numpy(), err_msg=t)
        np.testing.assert_allclose(r.scores, issues[f"{t}_score"].to_numpy(), rtol=1e-6, atol=0, err_msg=t)
    got = [(r.issue_type, r.num_issues) for r in result.results]
    assert got == list(zip(summary["issue_type"], summary["num_issues"], strict=True))
    np.testing.assert_allclose([r.score for r in result.results], summary["score"], rtol=1e-6, atol=1e-300)
    assert result.health_score == pytest.approx(info["health_score"], rel=1e-6)
    if "near_duplicate_sets" in issues:
        sets = result.result("near_duplicate").columns["near_duplicate_sets"]
        assert [list(s) for s in sets] == [list(s) for s in issues["near_duplicate_sets"]]


def test_report_table_holds_every_column_in_the_reference_order():
    y, p, x = inputs("digits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = audit(y, p, x)
    table = report.file_table
    assert table is not None
    issues = expected("digits")[0]
    extras = ["given_label", "predicted_label", "near_duplicate_sets", "distance_to_nearest_neighbor"]
    reference = [c for c in issues.columns if not c.startswith("info.") and c not in extras]
    at = reference.index("near_duplicate_score") + 1  # a type's extra columns follow its own two
    reference[at:at] = extras[2:]
    assert list(table) == ["index", *extras[:2], *reference]
    for name in ("given_label", "predicted_label"):
        np.testing.assert_array_equal(table[name], issues[name].to_numpy())
    np.testing.assert_array_equal(
        table["distance_to_nearest_neighbor"], issues["distance_to_nearest_neighbor"]
    )


# ---------------------------------------------------------------------------- shared state and failures


def test_the_graph_is_built_once(monkeypatch):
    from labelaudit.core.audit import graph

    calls = []
    real = graph.build_graph

    def counted(*args, **kwargs):
        calls.append(kwargs.get("k"))
        return real(*args, **kwargs)

    monkeypatch.setattr(graph, "build_graph", counted)
    y, p, x = inputs("blobs")
    result = quiet(y, p, x)
    assert len(result.results) == 7 and calls == [10]


def test_without_features_non_iid_builds_its_own_graph_on_pred_probs():
    y, p, _ = inputs("blobs_pp")
    result = quiet(y, p)
    assert [r.issue_type for r in result.results] == WITHOUT_FEATURES


def test_too_few_rows_fail_every_knn_type_and_the_rest_still_run():
    rng = np.random.default_rng(1)
    y = np.array([0, 1, 2] * 3 + [0])
    p = rng.dirichlet(np.ones(3), size=10)
    x = rng.random((10, 5))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = run_types(y, p, x, n_jobs=1)
    caught = [w for w in seen if "failed on these data and was skipped" in str(w.message)]
    assert all(issubclass(w.category, LabelauditWarning) for w in caught)
    assert [r.issue_type for r in result.results] == ["null", "label", "class_imbalance"]
    assert list(result.failed) == ["outlier", "near_duplicate", "non_iid", "underperforming_group"]
    assert len({result.failed[t] for t in result.failed}) == 1  # the one graph error, for each type
    assert len(caught) == 4
    assert result.health_score == np.mean([r.score for r in result.results])


def test_nan_features_fail_the_knn_types_but_null_counts_them():
    y, p, x = inputs("blobs")
    x = x.copy()
    x[[3, 7], :] = np.nan
    x[9, 0] = np.nan
    result = quiet(y, p, x)
    null = result.result("null")
    assert null is not None and null.num_issues == 2 and null.scores[9] == 0.5
    assert set(result.failed) == {"outlier", "near_duplicate", "non_iid", "underperforming_group"}


def test_a_failing_type_is_reported_and_skipped(monkeypatch):
    def broken(state):
        raise ValueError("no meaningful clusters")

    monkeypatch.setitem(run_module.RUNNERS, "label", broken)
    y, p, _ = inputs("blobs")
    with pytest.warns(
        LabelauditWarning, match="issue type label failed on these data and was skipped: no meaningful"
    ):
        report = audit(y, p, issue_types="label,class_imbalance", max_issues={"label": 5})
    assert report.results["failed"] == {"label": "no meaningful clusters"}
    assert report.tables["issue_summary"]["issue_type"] == ["class_imbalance"]
    assert report.results["health_score"] == report.tables["issue_summary"]["score"][0]
    assert not report.gates[0].passed and "failed on these data" in report.gates[0].message()
    assert "label_score" not in (report.file_table or {})


def test_a_programming_error_is_not_swallowed(monkeypatch):
    def bug(state):
        raise TypeError("a bug")

    monkeypatch.setitem(run_module.RUNNERS, "class_imbalance", bug)
    y, p, _ = inputs("blobs")
    with pytest.raises(TypeError, match="a bug"):
        run_types(y, p, issue_types="class_imbalance")


# ---------------------------------------------------------------------------- input policy


def test_feature_rules():
    y, p, x = inputs("blobs")
    with pytest.raises(InputError, match=r"features have 249 rows but the labels has 250"):
        run_types(y, p, x[:-1])
    with pytest.raises(InputError, match=r"2-D \(N, d\) array; got shape \(250,\)"):
        run_types(y, p, x[:, 0])
    with pytest.raises(InputError, match="all 250 feature rows are identical"):
        run_types(y, p, np.ones((250, 4)))
    with pytest.raises(InputError, match="must be numbers"):
        run_types(y, p, x.astype(str))
    with pytest.raises(InputError, match="k must be at least 1"):
        run_types(y, p, k=0)


def test_labels_without_pred_probs():
    y = np.array([0, 0, 1, 1, 2, 2, 2, 2, 2, 2])
    result = run_types(y)
    assert [r.issue_type for r in result.results] == ["class_imbalance"] and result.n_classes == 3
    with pytest.raises(InputError, match="integers"):
        run_types(y.astype(float))


def test_a_missing_scikit_learn_is_an_error_naming_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    y, p, x = inputs("blobs")
    with pytest.raises(InputError, match=r"needs scikit-learn: pip install 'labelaudit\[audit\]'"):
        run_types(y, p, x)
    ran = run_types(y, p, issue_types="label,outlier").results
    assert [r.issue_type for r in ran] == ["label", "outlier"]


def test_the_cosine_audit_needs_no_scikit_learn(monkeypatch):
    """Features with more than 3 columns and pred_probs: the cosine graph, DBSCAN, the IQR and the KDE tail
    are ours, so every type runs without scikit-learn (or scipy.stats), with the same results; label issues
    from features alone still name the extra."""
    import sys

    y, p, x = inputs("digits")
    assert x is not None and x.shape[1] > 3
    want = run_types(y, p, x).results
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    got = run_types(y, p, x).results
    assert [r.issue_type for r in got] == [r.issue_type for r in want] and len(got) == 7
    for a, b in zip(got, want, strict=True):
        assert a.score == b.score
        for name, column in b.columns.items():
            if column.dtype == object:  # near_duplicate_sets: an array per row
                assert [list(v) for v in a.columns[name]] == [list(v) for v in column]
            else:
                np.testing.assert_array_equal(a.columns[name], column)
    with pytest.raises(InputError, match=r"label issues from features without pred_probs needs scikit-learn"):
        run_types(y, features=x)
