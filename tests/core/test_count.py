"""Hand-checked unit tests of core.count on the running examples: thresholds (§3), the confident joint
(§4 / §5), the rounding helper (§2), latent estimates (§6 / §7) and the number of issues (§8).

Section numbers (§N) refer to docs/algorithms.md. Every expected number below is taken from it (Example A
of §0.2 with the worked numbers of §3-§12, Example B, and the small edge-case examples of §2, §4 and §9)
and can be re-derived with pencil and paper; the comments show the derivation where it is short.
"""

from __future__ import annotations

import numpy as np
import pytest

import labelaudit as la
from labelaudit.core.constants import T_MIN
from labelaudit.core.count import round_rows
from labelaudit.errors import InputError

# ---------------------------------------------------------------------------- §3 thresholds


def test_thresholds_example_a(example_a):
    y, p = example_a
    t = la.get_confident_thresholds(y, p)
    # class 0: (.45 + .35 + .30 + .25) / 4; class 1: (.25+.50+.45+.70+.70+.50) / 6; class 2: (.85+.75) / 2
    np.testing.assert_allclose(t, [1.35 / 4, 3.10 / 6, 1.60 / 2], rtol=1e-12, atol=0)
    assert t.dtype == np.float64


def test_thresholds_float32_stay_float32_unless_a_class_is_absent(example_a):
    y, p = example_a
    assert la.get_confident_thresholds(y, p.astype(np.float32)).dtype == np.float32
    # Drop class 2 from the labels (relabel its two rows as 1): the BIG constant forces float64.
    y2 = np.where(y == 2, 1, y)
    t = la.get_confident_thresholds(y2, p.astype(np.float32))
    assert t.dtype == np.float64
    assert t[2] == 2


def test_thresholds_floor_and_absent_class():
    # Diagonal-floor example of §4: class 1's examples all have P[:, 1] = 0 -> t_1 = T_MIN.
    y = np.array([0, 0, 1, 1])
    p = np.tile([1.0, 0.0], (4, 1))
    np.testing.assert_array_equal(la.get_confident_thresholds(y, p), [1.0, T_MIN])


# ---------------------------------------------------------------------------- §4 / §5 confident joint


def test_confident_joint_example_a(example_a):
    y, p = example_a
    cj, off = la.compute_confident_joint(y, p, calibrate=False, return_indices_of_off_diagonals=True)
    np.testing.assert_array_equal(cj, [[1, 1, 0], [2, 2, 0], [0, 0, 1]])
    np.testing.assert_array_equal(off, [0, 2, 4])
    assert cj.dtype == np.int64
    cjc, off_c = la.compute_confident_joint(y, p, calibrate=True, return_indices_of_off_diagonals=True)
    # Rows rescaled to n = [4, 6, 2]: [1,1,0]*4/2, [2,2,0]*6/4, [0,0,1]*2/1.
    np.testing.assert_array_equal(cjc, [[2, 2, 0], [3, 3, 0], [0, 0, 2]])
    np.testing.assert_array_equal(off_c, [0, 2, 4])  # calibration never changes the off-diagonal set
    np.testing.assert_array_equal(la.compute_confident_joint(y, p), cjc)  # calibrate=True is the default


def test_calibrate_confident_joint_example_a(example_a):
    y, _ = example_a
    out = la.calibrate_confident_joint(np.array([[1, 1, 0], [2, 2, 0], [0, 0, 1]]), y)
    np.testing.assert_array_equal(out, [[2, 2, 0], [3, 3, 0], [0, 0, 2]])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.sum(axis=1), [4, 6, 2])


def test_confident_joint_example_b(example_b):
    y, p = example_b
    np.testing.assert_array_equal(la.compute_confident_joint(y, p), [[3, 1, 0], [0, 2, 1], [1, 0, 2]])


def test_confident_joint_guess_can_be_an_absent_class():
    # §4 absent-class example: t = [0.3, 0.3, 2]; row 0 is confident for classes 0 and 1, so its guess is
    # the argmax of the whole row, class 2 (absent from the labels).
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.3, 0.3, 0.4], [0.3, 0.6, 0.1], [0.6, 0.3, 0.1], [0.1, 0.3, 0.6]])
    t = la.get_confident_thresholds(y, p)
    np.testing.assert_allclose(t, [0.3, 0.3, 2.0], rtol=1e-15)
    assert t.dtype == np.float64
    cj, off = la.compute_confident_joint(y, p, calibrate=False, return_indices_of_off_diagonals=True)
    np.testing.assert_array_equal(cj, [[1, 1, 1], [1, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(off, [0, 1, 2])
    # Row 0 scales to [2/3, 2/3, 2/3] (total 2) and must lose one unit: the stable rule takes it from the
    # lowest index, the diagonal. The absent class's row calibrates to zeros (its floor is gone).
    np.testing.assert_array_equal(la.compute_confident_joint(y, p), [[0, 1, 1], [1, 1, 0], [0, 0, 0]])


def test_confident_joint_diagonal_floor():
    # §4: every row [1, 0]; t = [1, T_MIN]; class 1's rows are confident only for class 0.
    y = np.array([0, 0, 1, 1])
    p = np.tile([1.0, 0.0], (4, 1))
    cj = la.compute_confident_joint(y, p, calibrate=False)
    np.testing.assert_array_equal(cj, [[2, 0], [2, 1]])  # the 1 is the diagonal floor


def test_confident_joint_user_thresholds(example_a):
    y, p = example_a
    # Every probability >= 0.5 - 1e-6 is confident: rows 0, 1, 4, 6, 7, 8, 9, 10, 11 have exactly one.
    cj = la.compute_confident_joint(y, p, thresholds=np.full(3, 0.5), calibrate=False)
    # given 0: rows 0 -> 1, 1 -> 2, 11 -> 2; given 1: 4, 6, 7, 9 -> 1; given 2: 8, 10 -> 2
    np.testing.assert_array_equal(cj, [[1, 1, 2], [0, 4, 0], [0, 0, 2]])
    with pytest.raises(InputError, match="thresholds"):
        la.compute_confident_joint(y, p, thresholds=np.full((3, 1), 0.5))


# ---------------------------------------------------------------------------- §2 helpers


def test_round_rows_tie_rule():
    # §2.2: target 2, all residuals 0.5; incrementing serves the highest index first.
    np.testing.assert_array_equal(round_rows(np.array([[0.5, 0.5, 0.5, 0.5, 0.0]])), [[0, 0, 1, 1, 0]])


def test_round_rows_half_to_even_and_row_totals():
    out = round_rows(np.array([[0.5, 1.5, 2.5], [1 / 3, 1 / 3, 1 / 3], [2.6, 0.2, 0.2]]))
    assert out.dtype == np.int64
    # Row 0: rint -> [0, 2, 2] (sum 4 = rint(4.5)); row 1: sum 1, one unit to the highest index of the
    # three equal residuals; row 2: [3, 0, 0] sums to rint(3.0).
    np.testing.assert_array_equal(out, [[0, 2, 2], [0, 0, 1], [3, 0, 0]])


def test_round_rows_decrement_takes_lowest_index_first():
    # rint gives [1, 1, 1] (sum 3) but the target is rint(2.4) = 2: one unit leaves the smallest
    # residual; all three tie at -0.2, so the lowest index loses it.
    np.testing.assert_array_equal(round_rows(np.array([[0.8, 0.8, 0.8]])), [[0, 1, 1]])


# ---------------------------------------------------------------------------- §6 / §7 latent estimates


def test_estimate_joint_example_a(example_a):
    y, p = example_a
    np.testing.assert_allclose(
        la.estimate_joint(y, p), [[1 / 6, 1 / 6, 0], [1 / 4, 1 / 4, 0], [0, 0, 1 / 6]], rtol=1e-15
    )


NM_B = [[0.75, 1 / 3, 0], [0, 2 / 3, 1 / 3], [0.25, 0, 2 / 3]]


INV_B = [[0.75, 0, 1 / 3], [0.25, 2 / 3, 0], [0, 1 / 3, 2 / 3]]


@pytest.mark.parametrize("py_method", ["cnt", "eqn", "marginal", "marginal_ps"])
@pytest.mark.parametrize("converge", [False, True])
def test_estimate_latent_example_b(example_b, py_method, converge):
    y, _ = example_b
    cj = np.array([[3, 1, 0], [0, 2, 1], [1, 0, 2]])
    py, nm, inv = la.estimate_latent(cj, y, py_method=py_method, converge_latent_estimates=converge)
    np.testing.assert_allclose(py, [0.4, 0.3, 0.3], rtol=1e-12)
    np.testing.assert_allclose(nm, NM_B, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(inv, INV_B, rtol=1e-12, atol=1e-15)


def test_estimate_py_and_noise_matrices_example_b(example_b):
    y, p = example_b
    py, nm, inv, cj = la.estimate_py_and_noise_matrices_from_probabilities(y, p)
    np.testing.assert_array_equal(cj, [[3, 1, 0], [0, 2, 1], [1, 0, 2]])
    np.testing.assert_allclose(py, [0.4, 0.3, 0.3], rtol=1e-12)
    np.testing.assert_allclose(nm, NM_B, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(inv, INV_B, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("py_method", ["cnt", "marginal", "marginal_ps"])
def test_estimate_latent_example_a(example_a, py_method):
    y, p = example_a
    cj = la.compute_confident_joint(y, p)
    for converge in (False, True):
        py, nm, inv = la.estimate_latent(cj, y, py_method=py_method, converge_latent_estimates=converge)
        np.testing.assert_allclose(py, [5 / 12, 5 / 12, 1 / 6], rtol=1e-12)
        np.testing.assert_allclose(nm, [[0.4, 0.4, 0], [0.6, 0.6, 0], [0, 0, 1]], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(inv, [[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1]], rtol=1e-12, atol=1e-15)


def test_estimate_latent_eqn_singular_example_a(example_a):
    # The noise matrix of Example A is singular; the "eqn" prior needs its inverse (§7.3).
    y, p = example_a
    with pytest.raises((np.linalg.LinAlgError, InputError)):
        la.estimate_latent(la.compute_confident_joint(y, p), y, py_method="eqn")


def test_estimate_latent_unknown_method(example_b):
    y, _ = example_b
    with pytest.raises(InputError, match="nope"):
        la.estimate_latent(np.eye(3, dtype=np.int64), y, py_method="nope")


# ---------------------------------------------------------------------------- §8 number of issues


def test_num_label_issues_example_a(example_a):
    y, p = example_a
    # off_diagonal: indices [0, 2, 4]; 4 matches its label -> 2. calibrated: round((1 - 7/12) * 12) = 5.
    assert la.num_label_issues(y, p) == 2
    assert la.num_label_issues(y, p, estimation_method="off_diagonal") == 2
    assert la.num_label_issues(y, p, estimation_method="off_diagonal_calibrated") == 5


def test_num_label_issues_example_b(example_b):
    y, p = example_b
    assert la.num_label_issues(y, p) == 3
    assert la.num_label_issues(y, p, estimation_method="off_diagonal_calibrated") == 3


def test_num_label_issues_unknown_method(example_a):
    y, p = example_a
    with pytest.raises(InputError, match="nope"):
        la.num_label_issues(y, p, estimation_method="nope")
