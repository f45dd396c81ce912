"""Dataset summaries (docs/algorithms.md §13): hand-checked numbers on Example A, and `HealthReport` (what
`labelaudit health` and `overlap` print) equal to the individual library functions on every golden set."""

from __future__ import annotations

import numpy as np
import pytest
from golden_data import ALL_SETS, expected, inputs, manifest

import labelaudit as la
from labelaudit.core import Context, HealthReport, class_table, pair_table

CLASS_COLUMNS = ["class_index", "label_issues", "inverse_label_issues", "label_noise", "inverse_label_noise",
                 "label_quality_score"]  # fmt: skip
PAIR_COLUMNS = ["class_a", "class_b", "n_overlapping", "joint_probability"]

# Example A (docs/algorithms.md §4-§6): calibrated CJ [[2,2,0],[3,3,0],[0,0,2]] over N = 12.
JOINT_A = np.array([[2, 2, 0], [3, 3, 0], [0, 0, 2]]) / 12


def rows(table: dict, columns: list[str]) -> list[tuple]:
    return list(zip(*[np.asarray(table[c]).tolist() for c in columns], strict=True))


# ---------------------------------------------------------------------------- Example A, by hand (§13)


def test_example_a_joint(example_a):
    np.testing.assert_allclose(la.estimate_joint(*example_a), JOINT_A, rtol=1e-15, atol=0)


def test_example_a_class_table(example_a):
    table = la.rank_classes_by_label_quality(*example_a)
    assert list(table) == CLASS_COLUMNS
    got = rows(table, CLASS_COLUMNS)
    # (class, issues, inverse issues, noise, inverse noise, label quality); classes 0 and 1 tie exactly
    # at 0.5 and keep index order.
    want = [(0, 2, 3, 0.5, 0.6, 0.5), (1, 3, 2, 0.5, 0.4, 0.5), (2, 0, 0, 0.0, 0.0, 1.0)]
    assert [r[:3] for r in got] == [w[:3] for w in want]
    np.testing.assert_allclose([r[3:] for r in got], [w[3:] for w in want], rtol=1e-12, atol=1e-15)
    assert table["label_quality_score"][0] == table["label_quality_score"][1] == 0.5  # an exact tie
    assert table["class_index"].dtype.kind == "i" and table["label_issues"].dtype.kind == "i"


def test_example_a_class_table_from_joint_and_num_examples(example_a):
    table = la.rank_classes_by_label_quality(joint=JOINT_A, num_examples=24)
    # Counts scale with num_examples: (1/6) * 24 = 4, (1/4) * 24 = 6.
    assert rows(table, CLASS_COLUMNS[:3]) == [(0, 4, 6), (1, 6, 4), (2, 0, 0)]


def test_example_a_symmetric_pairs(example_a):
    pairs = la.find_overlapping_classes(*example_a)
    assert list(pairs) == PAIR_COLUMNS
    assert rows(pairs, PAIR_COLUMNS[:3]) == [(0, 1, 5), (0, 2, 0), (1, 2, 0)]
    np.testing.assert_allclose(pairs["joint_probability"], [5 / 12, 0, 0], rtol=1e-15, atol=0)


def test_example_a_asymmetric_pairs(example_a):
    pairs = la.find_overlapping_classes(*example_a, asymmetric=True)
    # (given 1, true 0) = 3/12, (given 0, true 1) = 2/12, then the four zero cells in row-major order.
    assert rows(pairs, PAIR_COLUMNS[:3]) == [(1, 0, 3), (0, 1, 2), (0, 2, 0), (1, 2, 0), (2, 0, 0), (2, 1, 0)]
    np.testing.assert_allclose(pairs["joint_probability"], [0.25, 1 / 6, 0, 0, 0, 0], rtol=1e-15, atol=0)


def test_example_a_health_score_vs_trace(example_a):
    # With labels and pred_probs: 1 - (off_diagonal count = 2) / 12; with a joint only: trace = 7/12.
    assert la.overall_label_health_score(*example_a) == pytest.approx(1 - 2 / 12, abs=1e-15)
    assert la.overall_label_health_score(joint=JOINT_A, num_examples=12) == pytest.approx(7 / 12, abs=1e-15)
    with pytest.raises(ValueError, match="num_examples"):  # as cleanlab: a joint alone gives no N
        la.overall_label_health_score(joint=JOINT_A)
    assert la.overall_label_health_score(*example_a, num_examples=24) == pytest.approx(1 - 2 / 24, abs=1e-15)
    cj = la.compute_confident_joint(*example_a)
    assert la.overall_label_health_score(confident_joint=cj) == pytest.approx(7 / 12, abs=1e-15)


def test_example_a_health_report(example_a):
    y, p = example_a
    rep = HealthReport(Context(y, p))
    assert rep.num_issues == 2
    assert rep.health_score == pytest.approx(10 / 12, abs=1e-15)
    np.testing.assert_array_equal(rep.confident_joint, [[2, 2, 0], [3, 3, 0], [0, 0, 2]])
    np.testing.assert_allclose(rep.joint, JOINT_A, rtol=1e-15, atol=0)
    # §7 Example A: P(given | true), P(true | given), prior (the convergence loop leaves them as they are).
    np.testing.assert_allclose(
        rep.noise_matrix, [[0.4, 0.4, 0], [0.6, 0.6, 0], [0, 0, 1]], rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        rep.inverse_noise_matrix, [[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1]], rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(rep.prior, [5 / 12, 5 / 12, 1 / 6], rtol=1e-12, atol=0)
    assert list(rep.classes) == ["class_index", "n_examples", *CLASS_COLUMNS[1:]]
    assert rows(rep.classes, ["class_index", "n_examples", "label_issues", "inverse_label_issues"]) == [
        (0, 4, 2, 3), (1, 6, 3, 2), (2, 2, 0, 0)
    ]  # fmt: skip
    assert rows(rep.pairs(), PAIR_COLUMNS[:3]) == [(0, 1, 5), (0, 2, 0), (1, 2, 0)]
    assert rows(rep.pairs(asymmetric=True), PAIR_COLUMNS[:3])[:2] == [(1, 0, 3), (0, 1, 2)]


def test_example_a_health_report_num_examples(example_a):
    y, p = example_a
    rep = HealthReport(Context(y, p), num_examples=120)
    assert rep.health_score == pytest.approx(1 - 2 / 120, abs=1e-15)
    assert rows(rep.classes, ["class_index", "n_examples", "label_issues", "inverse_label_issues"]) == [
        (0, 4, 20, 30), (1, 6, 30, 20), (2, 2, 0, 0)
    ]  # fmt: skip
    assert rows(rep.pairs(), PAIR_COLUMNS[:3])[0] == (0, 1, 50)


def test_class_table_sorting_and_absent_class():
    # Class 1 is absent: its row and column of the joint are 0, so its noise is 0 / EPS_DS = 0, quality 1.
    # Hand: class 0 noise 0.1 / 0.4 = 0.25; class 2 noise 0.2 / 0.6 = 1/3; inverse 0.2 / 0.5 and 0.1 / 0.5.
    joint = np.array([[0.3, 0.0, 0.1], [0.0, 0.0, 0.0], [0.2, 0.0, 0.4]])
    t = class_table(joint, 10)
    assert rows(t, CLASS_COLUMNS[:3]) == [(2, 2, 1), (0, 1, 2), (1, 0, 0)]
    np.testing.assert_allclose(t["label_quality_score"], [2 / 3, 0.75, 1.0], rtol=1e-12)
    np.testing.assert_allclose(t["inverse_label_noise"], [0.2, 0.4, 0.0], rtol=1e-12, atol=1e-15)


def test_pair_table_ties_keep_row_major_order():
    joint = np.array([[0.5, 0.1, 0.0], [0.0, 0.2, 0.1], [0.0, 0.0, 0.1]])
    sym = pair_table(joint, 10)
    assert rows(sym, PAIR_COLUMNS[:3]) == [(0, 1, 1), (1, 2, 1), (0, 2, 0)]  # 0.1 == 0.1: (0,1) before (1,2)
    asym = pair_table(joint, 10, asymmetric=True)
    assert rows(asym, PAIR_COLUMNS[:2]) == [(0, 1), (1, 2), (0, 2), (1, 0), (2, 0), (2, 1)]


# ---------------------------------------------------------------------------- HealthReport == library


@pytest.mark.parametrize("name", ALL_SETS)
def test_health_report_equals_library_functions(name):
    y, p = inputs(name)
    rep = HealthReport(Context(y, p))
    py, nm, inv, cj = la.estimate_py_and_noise_matrices_from_probabilities(
        y, p, converge_latent_estimates=True
    )
    np.testing.assert_array_equal(rep.confident_joint, cj)
    np.testing.assert_array_equal(rep.confident_joint, la.compute_confident_joint(y, p))
    np.testing.assert_array_equal(rep.prior, py)
    np.testing.assert_array_equal(rep.noise_matrix, nm)
    np.testing.assert_array_equal(rep.inverse_noise_matrix, inv)
    np.testing.assert_array_equal(rep.joint, la.estimate_joint(y, p))
    assert rep.health_score == la.overall_label_health_score(y, p)
    assert rep.num_issues == la.num_label_issues(y, p)

    lib = la.rank_classes_by_label_quality(y, p)
    assert list(rep.classes) == ["class_index", "n_examples", *CLASS_COLUMNS[1:]]
    for col in CLASS_COLUMNS:
        np.testing.assert_array_equal(rep.classes[col], lib[col], err_msg=col)
    counts = np.bincount(y, minlength=p.shape[1])
    np.testing.assert_array_equal(rep.classes["n_examples"], counts[lib["class_index"]])
    for asymmetric in (False, True):
        lib_pairs = la.find_overlapping_classes(y, p, asymmetric=asymmetric)
        ours = rep.pairs(asymmetric)
        for col in PAIR_COLUMNS:
            np.testing.assert_array_equal(ours[col], lib_pairs[col], err_msg=f"{col} asymmetric={asymmetric}")


@pytest.mark.parametrize("name", ["cifar10", "gen_absent", "gen_k50"])
def test_health_report_num_examples_equals_library(name):
    y, p = inputs(name)
    nx = 3 * len(y) + 7
    rep = HealthReport(Context(y, p), num_examples=nx)
    assert rep.health_score == la.overall_label_health_score(y, p, num_examples=nx)
    assert rep.health_score == 1 - la.num_label_issues(y, p) / nx
    lib = la.rank_classes_by_label_quality(y, p, num_examples=nx)
    for col in CLASS_COLUMNS:
        np.testing.assert_array_equal(rep.classes[col], lib[col], err_msg=col)
    lib_pairs = la.find_overlapping_classes(y, p, num_examples=nx)
    for col in PAIR_COLUMNS:
        np.testing.assert_array_equal(rep.pairs()[col], lib_pairs[col], err_msg=col)


def _golden_key(name: str, func: str, kwargs: dict) -> str:
    for e in manifest(name):
        if e["func"] == func and {k: v for k, v in e["kwargs"].items() if k != "verbose"} == kwargs:
            return e["key"]
    raise KeyError((name, func, kwargs))


@pytest.mark.parametrize("name", ["cifar10", "gen_absent", "gen_singleton", "gen_k50"])
def test_health_report_equals_cleanlab_reference(name):
    """The same tables against cleanlab 2.9.0's stored outputs (not only against our own functions)."""
    y, p = inputs(name)
    rep = HealthReport(Context(y, p))
    ref = expected(name)
    table = np.column_stack([np.asarray(rep.classes[c], dtype=np.float64) for c in CLASS_COLUMNS])
    np.testing.assert_allclose(
        table, ref[_golden_key(name, "rank_classes_by_label_quality", {})], rtol=1e-9, atol=0
    )
    for asym, kw in ((False, {}), (True, {"asymmetric": True})):
        pairs = rep.pairs(asym)
        got = np.column_stack([np.asarray(pairs[c], dtype=np.float64) for c in PAIR_COLUMNS])
        np.testing.assert_allclose(
            got, ref[_golden_key(name, "find_overlapping_classes", kw)], rtol=1e-9, atol=0
        )
    assert rep.health_score == float(ref[_golden_key(name, "overall_label_health_score", {})])
