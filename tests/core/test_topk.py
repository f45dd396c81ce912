"""Top-k probabilities (core.topk): every result on the implicit matrix is the result of the dense kernels on
TopK.dense(), the same matrix written out: identical index sets and orders, identical confident joints,
health tables and self-confidence and margin scores, entropy scores within 1e-9 relative (float64 input).

Inputs: the top-k of every golden set (its k largest probabilities of each row), generated sets with many
classes (the cells path), and Hypothesis cases on a coarse grid (ties within rows, between rows and with
the fill), each with the cells path forced and not.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelaudit.core import confident as kn
from labelaudit.core.context import BaseContext, Context
from labelaudit.core.filter import FILTERS, PRUNE_FILTERS, issue_rows
from labelaudit.core.health import HealthReport
from labelaudit.core.rank import SCORE_METHODS, order_rows, scores_for_rows
from labelaudit.core.topk import TopK, TopKContext, TopKMargins, check_topk, context
from labelaudit.errors import InputError, LabelauditWarning
from tests import golden_data

EXACT = ("self_confidence", "normalized_margin")


def top_of(p: np.ndarray, k: int) -> TopK:
    """The k largest probabilities of each row (ties: the lower class first) and their classes."""
    idx = np.argsort(-p, axis=1, kind="stable")[:, :k]
    return TopK(idx.astype(np.int32), np.take_along_axis(p, idx, axis=1), p.shape[1])


def results(ctx: BaseContext, filters: tuple[str, ...] = FILTERS) -> dict[str, Any]:
    out: dict[str, Any] = {
        "self_confidence": ctx.self_confidence,
        "thresholds": ctx.thresholds,
        "joint": ctx.rows.dense_joint(),
        "off_diagonal": ctx.rows.off_diagonal,
        "predicted": ctx.predicted(),
        "matches": ctx.matches(np.arange(ctx.n)),
        "num_issues": ctx.num_issues(),
        "num_issues_calibrated": ctx.num_issues("off_diagonal_calibrated"),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in filters:
            out[f] = issue_rows(ctx, filter_by=f)
        for f in PRUNE_FILTERS:
            out[f"{f}/frac"] = issue_rows(ctx, filter_by=f, frac_noise=0.5)
    flagged = out[filters[0]]
    for m in EXACT:
        out[f"score/{m}"] = scores_for_rows(ctx, None, m)
        out[f"order/{m}"] = order_rows(ctx, flagged, m)
    rep = HealthReport(ctx)
    out["health_score"] = rep.health_score
    out["classes"] = rep.classes
    out["pairs"] = rep.pairs()
    for name in ("confident_joint", "joint", "noise_matrix", "inverse_noise_matrix"):
        m = getattr(rep, name)
        out[name] = m.dense() if isinstance(m, kn.Cells) else m
    out["prior"] = rep.prior
    return out


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, dict):
            assert value.keys() == got[key].keys(), key
            for col in value:
                np.testing.assert_array_equal(got[key][col], value[col], err_msg=f"{key}.{col}", strict=True)
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(got[key], value, err_msg=key, strict=True)
        else:
            assert got[key] == value, key


def entropy_agrees(tctx: BaseContext, dctx: BaseContext, rows: np.ndarray) -> None:
    """Entropy scores within 1e-9 relative for float64 input (float32: within the 2e-6 of the dense
    kernel's float32 sums; top-k sums in float64), and the top-k order is the dense order up to such
    near-ties."""
    got = scores_for_rows(tctx, None, "confidence_weighted_entropy")
    want = scores_for_rows(dctx, None, "confidence_weighted_entropy")
    rtol = 1e-9 if dctx.self_confidence.dtype == np.float64 else 2e-6
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-15)
    order = order_rows(tctx, rows, "confidence_weighted_entropy")
    assert np.array_equal(np.sort(order), rows)
    s = want[order]
    assert (np.diff(s) >= -2 * rtol * np.abs(s[1:]) - 1e-15).all()


def compare(y: np.ndarray, topk: TopK, filters: tuple[str, ...] = FILTERS) -> dict[str, Any]:
    dense = topk.dense()
    dctx = Context.validated(y, dense)
    tctx = TopKContext.validated(y, topk)
    want = results(dctx, filters)
    assert_same(results(tctx, filters), want)
    entropy_agrees(tctx, dctx, want[filters[0]])
    return want


def both_paths(y: np.ndarray, topk: TopK, filters: tuple[str, ...] = FILTERS) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kn, "SPARSE_MIN_K", 10**9)
        compare(y, topk, filters)
        mp.setattr(kn, "SPARSE_MIN_K", 2)
        compare(y, topk, filters)


@pytest.mark.parametrize("name", golden_data.ALL_SETS)
def test_top_k_of_the_golden_sets_gives_the_dense_results(name):
    y, p = golden_data.inputs(name)
    k_all = p.shape[1]
    for k in sorted({1, min(3, k_all - 1), k_all}):
        both_paths(y, top_of(p, k), PRUNE_FILTERS + ("confident_learning", "predicted_neq_given"))


@pytest.mark.parametrize("n,k_all,k,dtype", [(6000, 1500, 5, np.float64), (3000, 1200, 2, np.float32)])
def test_many_classes_top_k(n, k_all, k, dtype):
    rng = np.random.default_rng(k_all)
    idx = np.argsort(rng.random((n, k_all)), axis=1)[:, :k]  # any classes, not the first ones
    true = idx[:, 0]
    v = rng.dirichlet(np.full(k + 1, 0.7), size=n)[:, :k]
    v = -np.sort(-v, axis=1)
    y = np.where(rng.random(n) < 0.15, idx[:, 1 % k], true)
    topk = TopK(idx, (np.floor(v * 1000) / 1000).astype(dtype), k_all)  # a grid: ties
    want = compare(y, topk)
    assert want["prune_by_noise_rate"].size


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, TopK]:
    n = draw(st.integers(1, 30))
    k_all = draw(st.integers(2, 7))
    k = draw(st.integers(1, k_all))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    classes = np.argsort(rng.random((n, k_all)), axis=1)[:, :k]
    grid = rng.integers(0, 6, size=(n, k)).astype(np.float64)  # coarse: ties everywhere
    if k == k_all:
        grid[grid.sum(axis=1) == 0, 0] = 1
        probs = grid / grid.sum(axis=1, keepdims=True)
    else:
        probs = grid / max(6.0, float(grid.sum(axis=1).max()))
    labels = rng.integers(0, k_all, n)
    if draw(st.booleans()):
        labels = np.where(rng.random(n) < 0.7, classes[:, 0], labels)
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return labels, TopK(classes, probs.astype(dtype), k_all)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_generated_small_cases_with_ties(case):
    y, topk = case
    both_paths(y, topk)


def test_residual_is_the_mass_of_the_unlisted_classes():
    topk = TopK(np.array([[2, 0]]), np.array([[0.5, 0.2]]), 5, residual=np.array([0.3]))
    np.testing.assert_allclose(topk.dense(), [[0.2, 0.1, 0.5, 0.1, 0.1]])
    no_residual = TopK(np.array([[2, 0]]), np.array([[0.5, 0.2]]), 5)
    np.testing.assert_allclose(no_residual.dense(), topk.dense())
    with pytest.raises(InputError, match="with its residual; row 0 sums to 0.7"):
        check_topk(TopK(np.array([[2, 0]]), np.array([[0.5, 0.2]]), 5, residual=np.array([0.0])))
    with pytest.raises(InputError, match="residual must be finite and >= 0; row 0 holds -0.1"):
        check_topk(TopK(np.array([[2, 0]]), np.array([[0.5, 0.2]]), 5, residual=np.array([-0.1])))


@pytest.mark.parametrize(
    "classes,probs,k_all,message",
    [
        ([[0, 5]], [[0.5, 0.2]], 5, "class ids must be in 0..4; row 0 holds 5"),
        ([[1, 1]], [[0.5, 0.2]], 5, "distinct within a row; row 0 lists 1 twice"),
        ([[0, 1]], [[0.5, np.nan]], 5, "must be finite; row 0"),
        ([[0, 1]], [[1.5, 0.2]], 5, r"must be in \[0, 1\] \(±0.001\); row 0 holds 1.5"),
        ([[0, 1]], [[0.5, -0.01]], 5, r"must be in \[0, 1\] \(±0.001\); row 0 holds -0.01"),
        ([[0, 1]], [[0.9, 0.2]], 5, "sum to at most 1 .*row 0 sums to 1.1"),
        ([[0, 1]], [[0.5, 0.2]], 2, r"must sum to 1 \(±0.001\) \(all K classes listed\); row 0 sums to 0.7"),
        ([[0, 1, 2]], [[0.5, 0.2, 0.1]], 2, "lists 3 classes per row but K=2"),
        ([[0]], [[1.0]], 1, "at least 2 classes, got K=1"),
        ([[0.0, 1.0]], [[0.5, 0.2]], 5, "class ids must be integers"),
        ([[0, 1]], [[1, 0]], 5, "float16, float32 or float64"),
        (np.zeros((0, 2), dtype=int), np.zeros((0, 2)), 5, "empty"),
    ],
)
def test_bad_top_k_inputs_are_refused(classes, probs, k_all, message):
    with pytest.raises(InputError, match=message):
        check_topk(TopK(np.asarray(classes), np.asarray(probs), k_all))


def test_adjusted_scores_are_refused():
    topk = TopK(np.array([[0], [1]]), np.array([[0.9], [0.8]]), 3)
    ctx = TopKContext.validated([0, 1], topk)
    with pytest.raises(InputError, match="adjust_pred_probs is not available with top-k"):
        scores_for_rows(ctx, None, "self_confidence", adjust_pred_probs=True)


def test_the_sampled_route_steps_are_the_dense_ones():
    """TopKMargins.sample and .candidates (the sampled route, which the selection never takes for top-k
    input) give the dense InMemoryMargins values."""
    from labelaudit.core._noise_rate import InMemoryMargins

    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(6), size=200)
    topk = top_of(p, 3)
    y = rng.integers(0, 6, 200)
    tm, dm = TopKMargins(TopKContext.validated(y, topk)), InMemoryMargins(Context.validated(y, topk.dense()))
    for a, b in zip(tm.sample(7), dm.sample(7), strict=True):
        np.testing.assert_array_equal(a, b)
    bounds = np.full((6, 6), 0.05)
    for a, b in zip(tm.candidates(bounds), dm.candidates(bounds), strict=True):
        np.testing.assert_array_equal(a, b)


def test_context_picks_the_kind_of_input():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    y = np.array([0, 1], dtype=np.int32)
    assert type(context(y, p)) is Context
    assert type(context(y, top_of(p, 1))) is TopKContext
    assert set(SCORE_METHODS) == {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}


@pytest.mark.parametrize("batch_size,n_jobs", [(1, 1), (7, 2), (399, 1), (400, 2), (401, 1)])
def test_batches_threads_and_memmaps_change_nothing(tmp_path, batch_size, n_jobs):
    """The same results for any batch size and worker count, from arrays or from the memory-mapped
    members of an uncompressed .npz (as the command line reads them)."""
    from labelaudit.io.topk import load_topk

    rng = np.random.default_rng(11)
    p = rng.dirichlet(np.full(40, 0.3), size=400)
    topk = top_of(p, 4)
    y = np.where(rng.random(400) < 0.2, rng.integers(0, 40, 400), topk.classes[:, 0])
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "top.npz", indices=topk.classes, values=topk.probs, num_classes=np.array(40))
    read = load_topk(str(tmp_path / "y.npy"), str(tmp_path / "top.npz"))
    assert isinstance(read.topk.probs, np.memmap)
    want = results(TopKContext.validated(y, topk))
    ctx = TopKContext(read.labels, read.topk, batch_size, n_jobs)
    assert np.shares_memory(ctx.topk.probs, read.topk.probs)  # a view of the file, not a copy
    assert_same(results(ctx), want)


def test_small_drift_is_clipped_with_a_warning():
    topk = TopK(np.array([[1, 0], [0, 2]]), np.array([[1.0004, 0.0], [0.6, -0.0002]]), 3)
    with pytest.warns(LabelauditWarning, match=r"outside \[0, 1\] by up to 0.0004 were clipped"):
        fixed = check_topk(topk)
    np.testing.assert_array_equal(fixed.probs, [[1.0, 0.0], [0.6, 0.0]])
    np.testing.assert_allclose(fixed.dense(), [[0.0, 1.0, 0.0], [0.6, 0.4, 0.0]])
    assert check_topk(fixed) is fixed  # nothing left to repair: no copy, no warning
