"""One registry of public kernels, run through shared invariance checks (STYLE.md practice 5).

Bitwise-identical results are required across: ndarray vs read-only memmap (np.load(mmap_mode="r")),
int64 vs int32 vs list labels, and batch_size in {None, 1, 7, N-1, N, N+1}. float32 vs float64 input
must flag the same examples on a well-separated generated set, with scores within a stated tolerance.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labelaudit as la
from labelaudit.errors import LabelauditWarning

# ---------------------------------------------------------------------------- the registry

Kernel = Callable[..., object]


def _registry() -> dict[str, Kernel]:
    reg: dict[str, Kernel] = {
        "get_confident_thresholds": lambda y, p, bs: la.get_confident_thresholds(y, p, batch_size=bs),
        "compute_confident_joint[calibrated]": lambda y, p, bs: la.compute_confident_joint(
            y, p, calibrate=True, return_indices_of_off_diagonals=True, batch_size=bs
        ),
        "compute_confident_joint[uncalibrated]": lambda y, p, bs: la.compute_confident_joint(
            y, p, calibrate=False, return_indices_of_off_diagonals=True, batch_size=bs
        ),
        "estimate_joint": lambda y, p, bs: la.estimate_joint(y, p, batch_size=bs),
        "estimate_py_and_noise_matrices": lambda y, p, bs: (
            la.estimate_py_and_noise_matrices_from_probabilities(y, p, batch_size=bs)
        ),
    }
    for method in ("off_diagonal", "off_diagonal_calibrated"):
        reg[f"num_label_issues[{method}]"] = lambda y, p, bs, m=method: la.num_label_issues(
            y, p, estimation_method=m, batch_size=bs
        )
    for method in la.SCORE_METHODS:
        for adjust in (False, True):
            if adjust and method == "confidence_weighted_entropy":
                continue
            reg[f"get_label_quality_scores[{method},adjust={adjust}]"] = lambda y, p, bs, m=method, a=adjust: (
                la.get_label_quality_scores(y, p, method=m, adjust_pred_probs=a, batch_size=bs)
            )
    for f in la.FILTERS:
        reg[f"find_label_issues[{f},mask]"] = lambda y, p, bs, f=f: la.find_label_issues(
            y, p, filter_by=f, batch_size=bs
        )
        reg[f"find_label_issues[{f},ranked]"] = lambda y, p, bs, f=f: la.find_label_issues(
            y, p, filter_by=f, return_indices_ranked_by="normalized_margin", batch_size=bs
        )
    reg["order_label_issues[self_confidence]"] = lambda y, p, bs: la.order_label_issues(
        la.find_label_issues(y, p, filter_by="predicted_neq_given", batch_size=bs), y, p, batch_size=bs
    )
    reg["order_label_issues[normalized_margin,adjust]"] = lambda y, p, bs: la.order_label_issues(
        la.find_label_issues(y, p, filter_by="predicted_neq_given", batch_size=bs),
        y,
        p,
        rank_by="normalized_margin",
        rank_by_kwargs={"adjust_pred_probs": True},
        batch_size=bs,
    )
    return reg


REGISTRY = _registry()


def call(kernel: Kernel, labels, probs, batch_size=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelauditWarning)
        return kernel(labels, probs, batch_size)


def assert_identical(a, b, where: str = "") -> None:
    """Same structure, same dtypes, same bytes (NaN-safe, -0.0 != 0.0)."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), where
        for i, (x, z) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, z, f"{where}[{i}]")
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
    assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
    assert a.tobytes() == b.tobytes(), f"{where}: values differ"


# ---------------------------------------------------------------------------- golden sets

# Small enough that batch_size=1 (a Python-level loop per row) stays fast; together they cover an absent
# class, a singleton class, K=2, float32 input and K=50.
SETS = ("gen_absent", "gen_singleton", "gen_k2", "gen_f32", "gen_k50")
ROWS = 700  # leading rows of each set (the whole file for the memmap comparison below)


@pytest.fixture(scope="module")
def golden_subsets(tmp_path_factory):
    """Per set: (labels ndarray, pred_probs ndarray, labels memmap, pred_probs memmap), first ROWS rows,
    the memmaps opened read-only from .npy files written here."""
    from golden_data import inputs

    folder = tmp_path_factory.mktemp("golden_subsets")
    out = {}
    for name in SETS:
        y, p = inputs(name)
        y, p = np.ascontiguousarray(y[:ROWS]), np.ascontiguousarray(p[:ROWS])
        np.save(folder / f"{name}_y.npy", y)
        np.save(folder / f"{name}_p.npy", p)
        ym = np.load(folder / f"{name}_y.npy", mmap_mode="r")
        pm = np.load(folder / f"{name}_p.npy", mmap_mode="r")
        out[name] = (y, p, ym, pm)
    return out


KERNELS = sorted(REGISTRY)


@pytest.mark.parametrize("name", SETS)
def test_subsets_exercise_the_edge_cases(golden_subsets, name):
    # Guard that the leading rows still hold what the set is there for.
    y, p, _, _ = golden_subsets[name]
    counts = np.bincount(y, minlength=p.shape[1])
    if name == "gen_absent":
        assert (counts == 0).any()
    if name == "gen_singleton":
        assert (counts == 1).any()
    if name == "gen_f32":
        assert p.dtype == np.float32


@pytest.mark.parametrize("name", SETS)
def test_memmap_and_label_types_bitwise(golden_subsets, name):
    y, p, ym, pm = golden_subsets[name]
    assert isinstance(pm, np.memmap) and not pm.flags.writeable
    variants = {
        "memmap": (ym, pm),
        "int32 labels": (y.astype(np.int32), p),
        "list labels": (y.tolist(), p),
        "memmap pred_probs, list labels": (y.tolist(), pm),
    }
    for kname in KERNELS:
        kernel = REGISTRY[kname]
        ref = call(kernel, y, p)
        for vname, (yy, pp) in variants.items():
            assert_identical(call(kernel, yy, pp), ref, f"{name}/{kname}/{vname}")


@pytest.mark.parametrize("name", SETS)
def test_batch_size_bitwise(golden_subsets, name):
    y, p, _, pm = golden_subsets[name]
    n = len(y)
    for kname in KERNELS:
        kernel = REGISTRY[kname]
        ref = call(kernel, y, p)
        for bs in (1, 7, n - 1, n, n + 1):
            # batch_size=1 on the memmap: the smallest reads of the read-only file.
            pp = pm if bs == 1 else p
            assert_identical(call(kernel, y, pp, bs), ref, f"{name}/{kname}/batch_size={bs}")


def test_whole_golden_file_memmap_bitwise():
    """The full cifar10 file, memory-mapped as the CLI opens it, with the default batch size."""
    from golden_data import inputs, memmapped

    y, p = inputs("cifar10")
    ym, pm = memmapped("cifar10")
    for kname in (
        "find_label_issues[prune_by_noise_rate,ranked]",
        "get_label_quality_scores[normalized_margin,adjust=True]",
        "compute_confident_joint[calibrated]",
        "num_label_issues[off_diagonal]",
    ):
        assert_identical(call(REGISTRY[kname], ym, pm), call(REGISTRY[kname], y, p), kname)
        assert_identical(call(REGISTRY[kname], y, p, 4096), call(REGISTRY[kname], y, p), f"{kname}/4096")


# ---------------------------------------------------------------------------- float32 vs float64


def _separated_set(seed: int = 7, n: int = 600, k: int = 4):
    """A generated set whose float32 and float64 versions hold the very same values (float64 is the
    float32 data widened), so any difference comes from arithmetic precision alone."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, size=n)
    logits = rng.normal(0, 1, size=(n, k))
    logits[np.arange(n), true] += 2.5
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    y = true.copy()
    flip = rng.random(n) < 0.12
    y[flip] = (true[flip] + rng.integers(1, k, size=flip.sum())) % k
    p32 = p.astype(np.float32)
    return y, p32, p32.astype(np.float64)


# Score tolerance: float32 has a unit roundoff of 6e-8; self_confidence is a gather (exact), margins
# and adjusted scores take a handful of float32 operations, entropy goes through float32 logs.
SCORE_RTOL = {"self_confidence": 0.0, "normalized_margin": 1e-6, "confidence_weighted_entropy": 1e-6}
ADJUSTED_RTOL = 2e-6


def test_float32_and_float64_agree():
    y, p32, p64 = _separated_set()
    # Well separated: no probability within 1e-5 of any decision boundary (threshold - 1e-6), no row
    # with two classes within 1e-5 of each other, no exact score ties between rows.
    t = la.get_confident_thresholds(y, p64)
    assert np.abs(p64 - (t - 1e-6)).min() > 1e-5
    top2 = np.sort(p64, axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0]).min() > 1e-5
    np.testing.assert_allclose(la.get_confident_thresholds(y, p32), t, rtol=1e-6)
    assert la.get_confident_thresholds(y, p32).dtype == np.float32

    for method, rtol in SCORE_RTOL.items():
        s32 = la.get_label_quality_scores(y, p32, method=method)
        s64 = la.get_label_quality_scores(y, p64, method=method)
        np.testing.assert_allclose(s32, s64, rtol=rtol, atol=1e-7 if rtol else 0, err_msg=method)
        if method != "confidence_weighted_entropy":
            a32 = la.get_label_quality_scores(y, p32, method=method, adjust_pred_probs=True)
            a64 = la.get_label_quality_scores(y, p64, method=method, adjust_pred_probs=True)
            np.testing.assert_allclose(a32, a64, rtol=ADJUSTED_RTOL, atol=1e-7, err_msg=f"{method} adjusted")

    for est in ("off_diagonal", "off_diagonal_calibrated"):
        assert la.num_label_issues(y, p32, estimation_method=est) == la.num_label_issues(
            y, p64, estimation_method=est
        )
    np.testing.assert_array_equal(la.compute_confident_joint(y, p32), la.compute_confident_joint(y, p64))
    n_flagged = 0
    for f in la.FILTERS:
        m32 = la.find_label_issues(y, p32, filter_by=f)
        m64 = la.find_label_issues(y, p64, filter_by=f)
        np.testing.assert_array_equal(m32, m64, err_msg=f)
        n_flagged += int(m64.sum())
        r32 = la.find_label_issues(y, p32, filter_by=f, return_indices_ranked_by="self_confidence")
        np.testing.assert_array_equal(
            r32, la.find_label_issues(y, p64, filter_by=f, return_indices_ranked_by="self_confidence")
        )
    assert n_flagged > 7 * 20  # the comparison is not vacuous: every filter flags a fair number


# ---------------------------------------------------------------------------- random small data


@st.composite
def small_datasets(draw):
    n = draw(st.integers(2, 60))
    k = draw(st.integers(2, 5))
    present = draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=k, unique=True))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array(present), size=n)
    raw = rng.dirichlet(np.full(k, 0.7), size=n)
    # Rounding to one decimal creates many exact ties within and between rows.
    p = np.round(raw, 1)
    zero = p.sum(axis=1) == 0
    p[zero] = 1.0
    p /= p.sum(axis=1, keepdims=True)
    return y, p


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=small_datasets())
def test_batch_size_invariance_random(data):
    y, p = data
    n = len(y)
    for f in la.FILTERS:
        for ranked in (None, "self_confidence", "normalized_margin"):
            kernel = (
                REGISTRY[f"find_label_issues[{f},mask]"]
                if ranked is None
                else (
                    lambda yy, pp, bs, f=f, r=ranked: la.find_label_issues(
                        yy, pp, filter_by=f, return_indices_ranked_by=r, batch_size=bs
                    )
                )
            )
            ref = call(kernel, y, p, n)
            for bs in (1, 3):
                assert_identical(call(kernel, y, p, bs), ref, f"{f}/{ranked}/batch_size={bs}")
    for kname in (
        "compute_confident_joint[calibrated]",
        "num_label_issues[off_diagonal]",
        "get_label_quality_scores[normalized_margin,adjust=True]",
    ):
        ref = call(REGISTRY[kname], y, p, n)
        for bs in (1, 3):
            assert_identical(call(REGISTRY[kname], y, p, bs), ref, f"{kname}/batch_size={bs}")
