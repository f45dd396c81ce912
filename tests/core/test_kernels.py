"""Hand-checked unit tests of the core kernels on the spec's running examples.

Every expected number below is taken from /work/shared/spec/multiclass.md (Example A of §0.2 with the
worked numbers of §3-§12, Example B, and the small edge-case examples of §2, §4 and §9) and can be
re-derived with pencil and paper; the comments show the derivation where it is short.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import nudged_argmax_wins
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import labelaudit as la
from labelaudit.core import confident as kn
from labelaudit.core import prune_counts
from labelaudit.core import select as sel
from labelaudit.core.constants import T_MIN
from labelaudit.core.count import round_rows
from labelaudit.errors import InputError, LabelauditWarning

INT64_MIN = np.iinfo(np.int64).min


def flagged(labels, probs, **kwargs) -> list[int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelauditWarning)
        mask = la.find_label_issues(labels, probs, **kwargs)
    assert mask.dtype == bool and mask.shape == (len(labels),)
    return np.flatnonzero(mask).tolist()


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


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 20_000),
    k=st.integers(1, 40),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
)
def test_thresholds_are_bitwise_numpy_means(seed, n, k, dtype):
    # The kernel unrolls numpy's mean (per-class add.reduce, then float64 division); it must agree with
    # mean() to the last bit for every dtype and group length (pairwise summation beyond 128 and 8192).
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n) if k > 1 else np.zeros(n, dtype=np.int64)
    values = rng.random(n).astype(dtype)
    counts = np.bincount(labels, minlength=k + 1)  # class k is always absent
    want = [values[labels == c].mean() if counts[c] else 2 for c in range(k + 1)]
    got = kn.class_thresholds(values, labels, counts)
    np.testing.assert_array_equal(got, np.maximum(np.array(want, dtype=np.float64), T_MIN))
    assert got.dtype == np.float64
    if counts[:k].all():  # every class present: the thresholds keep the input dtype
        got = kn.class_thresholds(values, labels, counts[:k])
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, np.maximum(np.array(want[:k], dtype=dtype), dtype(T_MIN)))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    runs=st.integers(1, 60),
    longest=st.sampled_from([3, 9, 130, 700, 5000]),
    dtype=st.sampled_from([np.float32, np.float64]),
    zeros=st.booleans(),
)
def test_pairwise_sums_are_bitwise_numpy_sums(seed, runs, longest, dtype, zeros):
    # Runs under 8, up to the 128 block and split in halves; signed zeros included.
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, longest + 1, runs)
    values = rng.random(int(lengths.sum())).astype(dtype)
    if zeros:
        values[rng.random(len(values)) < 0.5] = -0.0
    starts = np.cumsum(lengths) - lengths
    got = kn.pairwise_sums(values, starts, lengths)
    want = np.array(
        [np.add.reduce(values[a : a + m]) for a, m in zip(starts, lengths, strict=True)], dtype=dtype
    )
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 5000),
    k=st.integers(1, 30),
    chunk=st.integers(1, 2000),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
)
def test_chunk_thresholds_equal_class_thresholds_per_chunk(seed, n, k, chunk, dtype):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    values = (rng.random(n) ** 4).astype(dtype)  # small means meet the T_MIN floor in float16
    counts, t = kn.chunk_thresholds(values, labels, k, chunk)
    for i, a in enumerate(range(0, n, chunk)):
        c = np.bincount(labels[a : a + chunk], minlength=k)
        np.testing.assert_array_equal(counts[i], c)
        np.testing.assert_array_equal(
            t[i], kn.class_thresholds(values[a : a + chunk], labels[a : a + chunk], c)
        )


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


def test_matches_label_nudge():
    p = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5 - 5e-7], [0.5, 0.5 - 2e-6], [0.6, 0.4]])
    y = np.array([1, 0, 1, 1, 0])
    # A label that ties (or trails by less than 1e-6) still wins the nudged argmax: both the copy-and-nudge
    # form and the closed form the Context uses.
    want = [True, True, True, False, True]
    np.testing.assert_array_equal(nudged_argmax_wins(p, y), want)
    from labelaudit.core import Context

    np.testing.assert_array_equal(Context(y, p).matches(np.arange(5)), want)


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
    # The spec prints 6 decimals (5 where the 6th is 0).
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


# ---------------------------------------------------------------------------- selection helpers

tie_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32]),
    shape=st.integers(0, 60),
    elements=st.integers(-3, 3).map(float),  # few distinct values: many ties
)


def _prefix_mask(order: np.ndarray, m: int, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[order[: max(m, 0)]] = True
    return mask


@settings(max_examples=30, deadline=None)
@given(values=tie_arrays, data=st.data())
def test_select_smallest_is_stable_argsort_prefix(values, data):
    n = len(values)
    m = data.draw(st.integers(-1, n + 2))
    np.testing.assert_array_equal(
        sel.select_smallest(values, m), _prefix_mask(np.argsort(values, kind="stable"), m, n)
    )


@settings(max_examples=30, deadline=None)
@given(values=tie_arrays, data=st.data())
def test_select_largest_is_stable_argsort_prefix_of_negation(values, data):
    n = len(values)
    m = data.draw(st.integers(-1, n + 2))
    np.testing.assert_array_equal(
        sel.select_largest(values, m), _prefix_mask(np.argsort(-values, kind="stable"), m, n)
    )


@settings(max_examples=30, deadline=None)
@given(values=tie_arrays, data=st.data())
def test_smallest_in_order_is_stable_argsort_prefix(values, data):
    top = data.draw(st.integers(0, len(values) + 2))
    np.testing.assert_array_equal(sel.smallest_in_order(values, top), np.argsort(values, kind="stable")[:top])


@settings(max_examples=40, deadline=None)
@given(values=tie_arrays, data=st.data())
def test_parallel_sorts_equal_the_stable_argsort(values, data):
    # Parallel parts sorted then merged must give the single-thread order, ties by position included.
    top = data.draw(st.integers(0, len(values) + 2))
    n_jobs = data.draw(st.integers(2, 5))
    want = np.argsort(values, kind="stable")
    saved = sel.PARALLEL_SORT_MIN
    sel.PARALLEL_SORT_MIN = 1  # split even the smallest arrays
    try:
        np.testing.assert_array_equal(sel.stable_order(values, n_jobs), want)
        np.testing.assert_array_equal(sel.smallest_in_order(values, top, n_jobs), want[:top])
    finally:
        sel.PARALLEL_SORT_MIN = saved


def test_parallel_smallest_in_order_at_full_size():
    rng = np.random.default_rng(3)
    values = np.round(rng.random(sel.PARALLEL_SORT_MIN * 3), 3).astype(np.float32)  # ties across the parts
    want = np.argsort(values, kind="stable")
    for top in (1, 1000, len(values) // 5, len(values)):
        np.testing.assert_array_equal(sel.smallest_in_order(values, top, 2), want[:top])
    np.testing.assert_array_equal(sel.stable_order(values, 3), want)


def test_select_helpers_hand_checked():
    v = np.array([2.0, 1.0, 2.0, 1.0, 3.0, 2.0])
    assert np.flatnonzero(sel.select_smallest(v, 3)).tolist() == [0, 1, 3]  # 1, 1, then the first 2
    assert np.flatnonzero(sel.select_largest(v, 2)).tolist() == [0, 4]  # 3, then the first 2
    assert np.flatnonzero(sel.select_largest(v, 4)).tolist() == [0, 2, 4, 5]


# ---------------------------------------------------------------------------- validation at the entry


@pytest.mark.parametrize(
    ("labels", "probs", "match"),
    [
        ([0, 1, 3], [[0.5, 0.5]] * 3, r"0\.\.1: 1 outside \(first at row 2: 3\)"),
        ([0, -1, 1], [[0.5, 0.5]] * 3, r"first at row 1: -1"),
        ([0, 1], [[0.5, 0.5]] * 3, "same length"),
        ([0, 1, 1], [[0.5, np.nan], [0.5, 0.5], [0.5, 0.5]], "row 0"),
        ([0, 1, 1], [[0.5, 0.5], [0.5, 0.5], [1.5, -0.5]], "1.5|-0.5"),
        ([0, 1, 1], [[1.0], [1.0], [1.0]], "at least 2"),
        ([[0, 1]], [[0.5, 0.5]], "1-D"),
        ([0.5, 1, 1], [[0.5, 0.5]] * 3, "integers"),
    ],
)
def test_core_validation(labels, probs, match):
    with pytest.raises(InputError, match=match):
        la.find_label_issues(np.asarray(labels), np.asarray(probs, dtype=np.float64))


def test_core_rejects_non_array_pred_probs(example_a):
    y, p = example_a
    with pytest.raises(InputError, match="numpy array"):
        la.get_label_quality_scores(y, p.tolist())
    with pytest.raises(InputError, match="floating"):
        la.get_label_quality_scores(y, (p > 0.5).astype(np.int64))
