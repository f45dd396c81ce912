"""Many classes: the confident joint kept as its non-zero cells (confident.SPARSE_MIN_K) gives exactly the
dense results, bit for bit: the same flagged indices in the same order, the same counts and scores.

Each case runs once with the cells path forced (SPARSE_MIN_K = 2) and once with the dense path forced
(SPARSE_MIN_K above K), on generated data at K = 1,000 and K = 20 and on every golden input. The sums
that decide calibration ties (docs/algorithms.md §5) are checked on their own against numpy.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import labelaudit as la
from labelaudit.core import _noise_rate
from labelaudit.core import confident as kn
from labelaudit.core.context import Context
from labelaudit.core.count import (
    calibrate_cells,
    calibrate_confident_joint,
    round_cells,
    round_rows,
    sparse_sums,
)
from labelaudit.core.filter import FILTERS, PRUNE_FILTERS, issue_rows, prune_cells, prune_counts
from labelaudit.core.health import HealthReport, health, largest_off_diagonal
from tests import golden_data

DENSE, SPARSE = 10**9, 2


def noisy(n: int, k: int, seed: int, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Labels and pred_probs of a noisy classifier: some classes absent, some with one example, and
    probabilities on a coarse grid (ties between rows and within rows)."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    favoured = np.where(rng.random(n) < 0.15, rng.integers(0, k, n), true)
    g = rng.gamma(3.0 / k, size=(n, k))
    g[np.arange(n), favoured] += rng.gamma(4.0, size=n)
    p = np.round(g / g.sum(axis=1, keepdims=True), 3) + 1e-4
    p = (p / p.sum(axis=1, keepdims=True)).astype(dtype)
    y = np.where(rng.random(n) < 0.12, rng.integers(0, k, n), true)
    y[y == k - 1] = 0  # class K - 1 absent
    y[y == k - 2] = 1
    y[0] = k - 2  # class K - 2 has a single example
    return y, p


def outputs(y: np.ndarray, p: np.ndarray, filters: tuple[str, ...] = FILTERS) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in filters:
            out[f] = la.find_label_issues(y, p, filter_by=f)
        remove = np.minimum(np.bincount(y, minlength=p.shape[1]), 2)
        for f in PRUNE_FILTERS:
            for kw in (
                {"frac_noise": 0.37},
                {"min_examples_per_class": 5},
                {"min_examples_per_class": 0},
                {"num_to_remove_per_class": remove},
                {"num_to_remove_per_class": remove * 1.5, "frac_noise": 0.5},
            ):
                out[f"{f}{kw}"] = la.find_label_issues(y, p, filter_by=f, **kw)
        for method in ("self_confidence", "normalized_margin", "confidence_weighted_entropy"):
            for adjust in (False, True) if method != "confidence_weighted_entropy" else (False,):
                kw = {"adjust_pred_probs": adjust}
                out[f"ranked {method} {adjust}"] = la.find_label_issues(
                    y, p, return_indices_ranked_by=method, rank_by_kwargs=kw
                )
                out[f"scores {method} {adjust}"] = la.get_label_quality_scores(
                    y, p, method=method, adjust_pred_probs=adjust
                )
        for method in ("off_diagonal", "off_diagonal_calibrated"):
            out[method] = la.num_label_issues(y, p, estimation_method=method)
        out["confident_joint"] = la.compute_confident_joint(y, p)
        out["uncalibrated"] = la.compute_confident_joint(y, p, calibrate=False)
    return out


def same_both_ways(monkeypatch: pytest.MonkeyPatch, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    monkeypatch.setattr(kn, "SPARSE_MIN_K", DENSE)
    dense = run()
    monkeypatch.setattr(kn, "SPARSE_MIN_K", SPARSE)
    cells = run()
    assert dense.keys() == cells.keys()
    for key, value in dense.items():
        got = cells[key]
        assert type(got) is type(value), key
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype, key
            np.testing.assert_array_equal(got, value, err_msg=key, strict=True)
        else:
            assert got == value, key
    return dense


@pytest.mark.parametrize(
    "n,k,dtype", [(12_000, 1_000, np.float64), (6_000, 1_000, np.float32), (4_000, 20, np.float64)]
)
def test_generated_sets_give_the_same_results(monkeypatch, n, k, dtype):
    y, p = noisy(n, k, seed=k, dtype=dtype)
    got = same_both_ways(monkeypatch, lambda: outputs(y, p))
    assert len(got["prune_by_noise_rate"]) == n and got["prune_by_noise_rate"].any()


@pytest.mark.parametrize("name", golden_data.ALL_SETS)
def test_golden_sets_give_the_same_results(monkeypatch, name):
    y, p = golden_data.inputs(name)
    same_both_ways(monkeypatch, lambda: outputs(y, p, PRUNE_FILTERS + ("confident_learning",)))


def test_the_threshold_chooses_the_path(monkeypatch):
    y, p = noisy(500, 30, seed=3)
    monkeypatch.setattr(kn, "SPARSE_MIN_K", 31)
    assert not Context.validated(y, p).sparse
    monkeypatch.setattr(kn, "SPARSE_MIN_K", 30)
    ctx = Context.validated(y, p)
    assert ctx.sparse and ctx.rows.confident_joint is None
    np.testing.assert_array_equal(ctx.confident_cells.dense(), ctx.confident_joint)
    assert kn.SPARSE_MIN_K == 30


# ---------------------------------------------------------------------------- the sums that decide ties


@pytest.mark.parametrize("length", [5, 8, 127, 128, 129, 1_000, 8_193, 100_003])
def test_sparse_sums_are_numpys_sums(length):
    rng = np.random.default_rng(length)
    for _ in range(20):
        nnz = int(rng.integers(1, min(length, 2_000) + 1))
        pos = np.sort(rng.choice(length, nnz, replace=False))
        vals = rng.random(nnz) * 10.0 ** rng.integers(-3, 6)
        dense = np.zeros(length)
        dense[pos] = vals
        got = sparse_sums(np.zeros(nnz, dtype=np.int64), pos, vals, length)
        assert got[0] == np.add.reduce(dense)
        strided = np.zeros((3, length), order="F")  # a row of a column-major matrix
        strided[1] = dense
        assert got[0] == strided[1].sum()


def test_sparse_sums_per_group_and_in_column_major_order():
    rng = np.random.default_rng(0)
    m = np.where(rng.random((40, 3_000)) < 0.05, rng.random((40, 3_000)), 0.0)
    m[7] = 0
    g, pos = np.nonzero(m)
    np.testing.assert_array_equal(
        sparse_sums(g, pos, m[g, pos], 3_000), m.sum(axis=1)[np.unique(g)], strict=True
    )
    k = 700
    a = np.where(rng.random((k, k)) < 0.01, rng.random((k, k)), 0.0)
    r, c = np.nonzero(a)
    order = np.argsort(c * k + r)
    total = sparse_sums(np.zeros(len(r), dtype=np.int64), (c * k + r)[order], a[r, c][order], k * k)
    assert total[0] == np.asfortranarray(a).sum()


def random_joints(count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Floored confident joints with small counts (ties in the rounding residuals) and their labels."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        k = int(rng.choice([3, 8, 37, 130]))
        n = int(rng.integers(k, 12 * k))
        y = rng.integers(0, k, n)
        if rng.random() < 0.7:
            y[:k] = np.arange(k)
        cj = np.zeros((k, k), dtype=np.int64)
        hit = rng.integers(0, n, int(rng.integers(1, 3 * k)))
        np.add.at(cj, (y[hit], rng.integers(0, k, len(hit))), 1)
        np.fill_diagonal(cj, np.maximum(np.diagonal(cj), 1))
        out.append((cj, y))
    # the verified tie of docs/algorithms.md §5: rows [1, 1, 4] * 8 / 6 sum differently by memory order
    out.append((np.array([[1, 1, 4], [1, 1, 4], [1, 1, 4]]), np.repeat([0, 1, 2], 8)))
    return out


def test_calibration_on_cells_is_the_dense_calibration():
    for cj, y in random_joints(150, seed=1):
        n = np.bincount(y, minlength=len(cj))
        cells = kn.Cells.from_dense(cj)
        col = calibrate_confident_joint(cj, y, _column_major=True)
        row = calibrate_confident_joint(cj, y)
        np.testing.assert_array_equal(calibrate_cells(cells, n).dense(), col, strict=True)
        np.testing.assert_array_equal(calibrate_cells(cells, n, column_major=False).dense(), row, strict=True)


def test_rounding_on_cells_is_round_rows():
    rng = np.random.default_rng(2)
    for _ in range(200):
        k = int(rng.integers(2, 60))
        m = np.where(rng.random((k, k)) < 0.2, np.round(rng.random((k, k)) * 8, 1) / 2, 0.0)
        np.testing.assert_array_equal(round_cells(kn.Cells.from_dense(m)).dense(), round_rows(m), strict=True)


def test_prune_counts_on_cells_are_the_dense_prune_counts():
    for i, (cj, y) in enumerate(random_joints(120, seed=4)):
        cal = calibrate_confident_joint(cj, y, _column_major=True)
        for frac, m_min in ((1.0, 1), (0.3, 1), (0.9, 3), (1.0, 0), (0.7, 0)):
            dense = prune_counts(
                cal, np.bincount(y, minlength=len(cj)), frac_noise=frac, min_examples_per_class=m_min
            )
            cells = prune_cells(kn.Cells.from_dense(cal), frac_noise=frac, min_examples_per_class=m_min)
            np.testing.assert_array_equal(cells.dense().T, dense, err_msg=f"joint {i}", strict=True)


@pytest.mark.parametrize("direct", [_noise_rate.DIRECT_ELEMENTS, 0])
def test_noise_rate_selection_on_cells_is_the_dense_selection(monkeypatch, direct):
    # direct = 0 sends classes with many targets to the sampled route (the cells path then hands the
    # dense matrix to select); cells asking for a whole class flag it whole on both paths
    monkeypatch.setattr(_noise_rate, "DIRECT_ELEMENTS", direct)
    rng = np.random.default_rng(5)
    for k, spread in ((40, 2), (40, 30), (300, 3)):
        y, p = noisy(3_000, k, seed=k + spread)
        ctx = Context.validated(y, p)
        counts = ctx.counts
        need = np.zeros((k, k), dtype=np.int64)  # need[j, k]: examples labelled k to flag as truly j
        for c in range(k):
            targets = rng.choice(k, spread, replace=False)
            need[targets, c] = rng.integers(-1, max(int(counts[c]), 1) + 2, spread)
        classes = [c for c in range(k) if counts[c] > 1 and c % 7]
        cells = kn.Cells.from_dense(need.T)
        np.testing.assert_array_equal(
            _noise_rate.select_cells(ctx, cells, classes), _noise_rate.select(ctx, need, classes), strict=True
        )


# ---------------------------------------------------------------------------- health and overlap


def health_outputs(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    rep = HealthReport(Context.validated(y, p))
    out: dict[str, Any] = {"score": rep.health_score, "issues": rep.num_issues, "prior": rep.prior}
    for name in ("confident_joint", "joint", "noise_matrix", "inverse_noise_matrix"):
        m = getattr(rep, name)
        out[name] = m.dense() if isinstance(m, kn.Cells) else m
    out.update({f"classes {c}": v for c, v in rep.classes.items()})
    for top in (3, 40):
        cells = largest_off_diagonal(rep.noise_matrix, None, top)
        out.update({f"largest {top} {c}": np.asarray(v) for c, v in cells.items()})
    for asym in (False, True):
        pairs = rep.pairs(asym)
        shown = int(np.count_nonzero(pairs["joint_probability"]))  # the cells path lists only these
        out.update({f"pairs {asym} {c}": v[:shown] for c, v in pairs.items()})
    return out


@pytest.mark.parametrize("n,k", [(5_000, 300), (3_000, 20), (400, 60)])
def test_health_report_is_the_same_from_cells(monkeypatch, n, k):
    y, p = noisy(n, k, seed=n + k)
    same_both_ways(monkeypatch, lambda: health_outputs(y, p))


@pytest.mark.parametrize("name", ["cifar10", "20news", "gen_absent", "gen_k50"])
def test_golden_health_is_the_same_from_cells(monkeypatch, name):
    y, p = golden_data.inputs(name)
    same_both_ways(monkeypatch, lambda: health_outputs(y, p))


def test_health_json_lists_cells_for_many_classes(monkeypatch):
    y, p = noisy(2_000, 40, seed=9)
    monkeypatch.setattr(kn, "SPARSE_MIN_K", DENSE)
    dense = health(Context.validated(y, p)).results
    assert np.asarray(dense["noise_matrix"]).shape == (40, 40)
    monkeypatch.setattr(kn, "SPARSE_MIN_K", SPARSE)
    cells = health(Context.validated(y, p)).results
    for name in ("confident_joint", "joint", "noise_matrix", "inverse_noise_matrix"):
        got = cells[name]  # the non-zero cells, as the matrix is indexed
        assert got["shape"] == [40, 40]
        m = np.zeros((40, 40))
        m[got["row"], got["col"]] = got["value"]
        np.testing.assert_array_equal(m, np.asarray(dense[name], dtype=np.float64))
    assert cells.keys() == dense.keys()
    for key in dense.keys() - {"confident_joint", "joint", "noise_matrix", "inverse_noise_matrix"}:
        assert cells[key] == dense[key], key


@pytest.mark.parametrize("batch_size,n_jobs,flush", [(1, 1, 1), (7, 2, 5), (None, 2, 1 << 22)])
def test_cells_do_not_depend_on_batches_or_merges(monkeypatch, batch_size, n_jobs, flush):
    y, p = noisy(900, 1_100, seed=11)
    monkeypatch.setattr(kn, "CELL_FLUSH", flush)  # merge the counted cells every few codes
    monkeypatch.setattr(kn, "SPARSE_MIN_K", DENSE)
    dense = Context.validated(y, p)
    assert not dense.sparse  # the row pass runs now, with the threshold in force
    monkeypatch.setattr(kn, "SPARSE_MIN_K", SPARSE)
    cells = Context.validated(y, p, batch_size=batch_size, n_jobs=n_jobs)
    assert cells.sparse
    np.testing.assert_array_equal(cells.rows.dense_joint(), dense.rows.dense_joint(), strict=True)
    np.testing.assert_array_equal(cells.confident_joint, dense.confident_joint, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in PRUNE_FILTERS:
            np.testing.assert_array_equal(issue_rows(cells, filter_by=f), issue_rows(dense, filter_by=f))


@pytest.mark.parametrize("n", [1, 3, 40])
def test_few_examples_and_many_classes(monkeypatch, n):
    y, p = noisy(max(n, 2), 1_500, seed=n)
    y, p = y[:n], p[:n]
    same_both_ways(monkeypatch, lambda: outputs(y, p))


def test_num_to_remove_per_class_on_cells_prunes_as_the_dense_counts():
    # the dense matrix holds the most negative int64 off the diagonal of a row that step 4 leaves NaN;
    # the cells keep its diagonal only: every filter reads the diagonal and the positive cells
    rng = np.random.default_rng(6)
    for i, (cj, y) in enumerate(random_joints(120, seed=7)):
        k = len(cj)
        n = np.bincount(y, minlength=k)
        cal = calibrate_confident_joint(cj, y, _column_major=True)
        for frac, m_min in ((1.0, 1), (0.6, 1), (1.0, 0), (0.3, 4)):
            r = np.minimum(rng.integers(0, 4, k), n) if i % 2 else rng.integers(0, 3, k) * 1.5
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dense = prune_counts(
                    cal, n, frac_noise=frac, min_examples_per_class=m_min, num_to_remove_per_class=r
                )
            cells = (
                prune_cells(
                    kn.Cells.from_dense(cal),
                    frac_noise=frac,
                    min_examples_per_class=m_min,
                    num_to_remove_per_class=r,
                    class_counts=n,
                )
                .dense()
                .T
            )
            msg = f"joint {i}, frac {frac}, m_min {m_min}"
            np.testing.assert_array_equal(np.diagonal(cells), np.diagonal(dense), err_msg=msg, strict=True)
            np.testing.assert_array_equal(
                np.maximum(cells, 0), np.maximum(dense, 0), err_msg=msg, strict=True
            )


@pytest.mark.parametrize("k", [20, 1_100])
def test_token_health_is_the_same_from_cells(monkeypatch, k):
    """health --task token counts its (given, predicted) issue pairs without a (K, K) bincount from
    SPARSE_MIN_K on: the same report either way."""
    from labelaudit.core.token import health_report

    y, p = noisy(3_000, k, seed=k + 1)
    lengths = np.full(300, 10)

    def run() -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = health_report(Context.validated(y, p), lengths)
        common = rep.tables["common_issues"]
        assert len(common["n_issues"]) > 5
        return {**{f"common/{c}": v for c, v in common.items()}, "score": rep.results["health_score"]}

    same_both_ways(monkeypatch, run)
