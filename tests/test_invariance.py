"""One registry of public kernels, run through shared invariance checks (STYLE.md practice 5).

Bitwise-identical results are required across: ndarray vs read-only memmap (np.load(mmap_mode="r")),
int64 vs int32 vs list labels, and batch_size in {None, 1, 7, N-1, N, N+1}. float32 vs float64 input
must flag the same examples on a well-separated generated set, with scores within a stated tolerance.

A second registry (TASK_REGISTRY) holds the multi-label, token, ensemble, dataset-summary and stream-engine
kernels; they must also give the same result and the same warnings whatever the worker count
(n_jobs in {1, 2}) and, for the stream engine, whatever the block size of the passes.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labelaudit as la
from labelaudit.core import HealthReport, batching, ensemble, stream
from labelaudit.core import multilabel as ml
from labelaudit.core import token as tk
from labelaudit.core.context import Context
from labelaudit.core.filter import issue_rows
from labelaudit.errors import InputError, LabelauditWarning

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
    if isinstance(a, dict):  # a table: the same columns, in the same order, each identical
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: columns {list(a)} != {list(b)}"
        for key in a:
            assert_identical(a[key], b[key], f"{where}[{key!r}]")
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


# ---------------------------------------------------------------------------- the task registry
#
# Multi-label, token, ensemble, dataset-summary and stream-engine kernels, run through the same checks.
# Each takes (inputs, batch_size, n_jobs), the inputs of its kind: "multiclass" (labels, pred_probs),
# "multilabel" (Y (N, K) 0/1, P (N, K)) or "token" (flat labels (T,), pred_probs (T, K), sentence
# lengths (S,)). The stream kernels read batch_size as the rows per block of an in-memory pass (None: one
# block); the multi-label kernels, which take no batch_size, as the rows per batch of each class's
# binary problem (the library's default batch size, set for the call).


@dataclass(frozen=True)
class TaskKernel:
    kind: str
    run: Callable[[tuple, int | None, int], object]
    n_jobs: bool = False  # n_jobs reaches it: run with 1 and 2 workers (else with 1 only)
    lists: bool = True  # takes list labels too (the stream engine takes the arrays io hands it)


def _blocks(labels, pred_probs, rows: int | None):
    """An in-memory pass, as io would produce it: consecutive blocks of `rows` rows (None: one block)."""
    n = len(labels)
    step = max(n, 1) if rows is None else rows

    def passes():
        for s in range(0, n, step):
            yield s, labels[s : s + step], pred_probs[s : s + step]

    return passes


def _exact(inputs, bs, nj, **options):
    y, p = inputs
    ranked, ctx = stream.exact_issue_rows(_blocks(y, p, bs), *p.shape, p.dtype, n_jobs=nj, **options)
    key = (options.get("rank_by", "self_confidence"), options.get("adjust_pred_probs", False))
    return ranked, ctx.stored_scores[key], ctx.predicted(), ctx.counts


def _batched(inputs, bs, nj, **options):
    y, p = inputs
    r = stream.batched_issue_rows(_blocks(y, p, bs), *p.shape, dtype=p.dtype, n_jobs=nj, **options)
    return r.ranked, r.scores, r.predicted, r.thresholds, r.num_issues, r.counts


@contextlib.contextmanager
def _binary_batches(rows: int | None):
    """Rows per batch of a (N, 2) binary problem (the default batch holds BATCH_ELEMENTS elements)."""
    if rows is None:
        yield
        return
    with mock.patch.object(batching, "BATCH_ELEMENTS", 2 * rows):
        yield


def _ml(func: Callable[..., object], **options) -> TaskKernel:
    def run(inputs, bs, nj):
        with _binary_batches(bs):
            return func(*inputs, **options)

    return TaskKernel("multilabel", run)


def _second_model(p: np.ndarray) -> np.ndarray:
    """The golden fixtures' second ensemble member (tests/golden/README.md), in the dtype of p."""
    a, b = p.dtype.type(0.7), p.dtype.type(0.3)
    return np.clip(a * p + b * np.roll(p, 1, axis=1), p.dtype.type(0.0), p.dtype.type(1.0))


def _ensemble(inputs, bs, nj, **options):
    y, p = inputs
    r = la.get_label_quality_ensemble_scores(
        y, [p, _second_model(p)], batch_size=bs, return_details=True, **options
    )
    return r.scores, r.member_scores, r.weights


def _built_ensemble(inputs, bs, nj, method="self_confidence", adjust=False):
    """The CLI's route: validated member contexts, their weighted average as the detection context."""
    y, p = inputs
    members = [Context.validated(y, q, bs, nj) for q in (p, _second_model(p))]
    model = ensemble.build_ensemble(members[0].labels, members, batch_size=bs, n_jobs=nj)
    r = ensemble.ensemble_scores(model, method, adjust)
    return issue_rows(model.context), r.scores, r.member_scores, r.weights


def _health_report(inputs, bs, nj, num_examples=None):
    rep = HealthReport(Context.validated(inputs[0], inputs[1], bs, nj), num_examples)
    return (
        rep.health_score,
        rep.num_issues,
        rep.confident_joint,
        rep.joint,
        rep.prior,
        rep.noise_matrix,
        rep.inverse_noise_matrix,
        rep.classes,
        rep.pairs(),
        rep.pairs(asymmetric=True),
    )


def _task_registry() -> dict[str, TaskKernel]:
    reg: dict[str, TaskKernel] = {}
    mc = "multiclass"
    ranked = {"return_indices_ranked_by": "normalized_margin"}

    # multi-class find_label_issues and the Context with worker threads
    for f in la.FILTERS:
        reg[f"find_label_issues[{f},ranked,n_jobs]"] = TaskKernel(
            mc,
            lambda i, bs, nj, f=f: la.find_label_issues(*i, filter_by=f, batch_size=bs, n_jobs=nj, **ranked),
            n_jobs=True,
        )

    # multi-label
    for method in la.SCORE_METHODS:
        for adjust in (False, True):
            if not (adjust and method == "confidence_weighted_entropy"):
                reg[f"multilabel.get_label_quality_scores[{method},adjust={adjust}]"] = _ml(
                    ml.get_label_quality_scores, method=method, adjust_pred_probs=adjust
                )
        reg[f"multilabel.per_class_scores[{method}]"] = _ml(ml.per_class_scores, method=method)
    for agg in ml.AGGREGATORS:
        reg[f"multilabel.get_label_quality_scores[aggregator={agg}]"] = _ml(
            ml.get_label_quality_scores, aggregator=agg
        )
    for f in la.FILTERS:
        reg[f"multilabel.find_label_issues[{f},mask]"] = _ml(ml.find_label_issues, filter_by=f)
        reg[f"multilabel.find_label_issues[{f},ranked]"] = _ml(
            ml.find_label_issues, filter_by=f, return_indices_ranked_by="self_confidence"
        )
        reg[f"multilabel.find_issues_per_class[{f}]"] = _ml(ml.find_issues_per_class, filter_by=f)
    reg["multilabel.find_label_issues[normalized_margin,adjust]"] = _ml(
        ml.find_label_issues, return_indices_ranked_by="normalized_margin", adjust_pred_probs=True
    )
    reg["multilabel.find_issues_per_class[frac_noise=0.5,min_examples_per_class=3]"] = _ml(
        ml.find_issues_per_class, frac_noise=0.5, min_examples_per_class=3
    )
    for calibrate in (False, True):
        reg[f"multilabel.confident_joint[calibrate={calibrate}]"] = _ml(
            ml.confident_joint, calibrate=calibrate
        )
    reg["multilabel.class_table"] = _ml(ml.class_table)
    reg["multilabel.health_score"] = _ml(ml.health_score)

    # token
    for f in la.FILTERS:
        reg[f"token.find_label_issues[{f}]"] = TaskKernel(
            "token", lambda i, bs, nj, f=f: tk.find_label_issues(*i, filter_by=f, batch_size=bs)
        )
        reg[f"token.issue_pairs[{f}]"] = TaskKernel(
            "token",
            lambda i, bs, nj, f=f: tk.issue_pairs(
                Context.validated(i[0], i[1], bs, nj), tk.check_lengths(i[2], len(i[1])), filter_by=f
            ),
            n_jobs=True,
        )
    reg["token.find_label_issues[normalized_margin,adjust]"] = TaskKernel(
        "token",
        lambda i, bs, nj: tk.find_label_issues(
            *i, return_indices_ranked_by="normalized_margin", adjust_pred_probs=True, batch_size=bs
        ),
    )
    for method in la.SCORE_METHODS:
        for sentence in tk.SENTENCE_METHODS:
            reg[f"token.get_label_quality_scores[{method},{sentence}]"] = TaskKernel(
                "token",
                lambda i, bs, nj, m=method, s=sentence: tk.get_label_quality_scores(
                    *i, token_score_method=m, sentence_score_method=s, batch_size=bs
                ),
            )

    # ensemble
    for weight_by in ensemble.WEIGHTINGS:
        for method, adjust in (("self_confidence", False), ("normalized_margin", True)):
            custom = [2.0, 1.0] if weight_by == "custom" else None
            reg[f"ensemble.get_label_quality_ensemble_scores[{weight_by},{method},adjust={adjust}]"] = (
                TaskKernel(
                    mc,
                    lambda i, bs, nj, w=weight_by, m=method, a=adjust, c=custom: _ensemble(
                        i,
                        bs,
                        nj,
                        method=m,
                        adjust_pred_probs=a,
                        weight_ensemble_members_by=w,
                        custom_weights=c,
                    ),
                )
            )
    reg["ensemble.build_ensemble"] = TaskKernel(mc, _built_ensemble, n_jobs=True)

    # dataset summaries
    reg["health.HealthReport"] = TaskKernel(mc, _health_report, n_jobs=True)
    reg["health.HealthReport[num_examples=1000]"] = TaskKernel(
        mc, lambda i, bs, nj: _health_report(i, bs, nj, num_examples=1000), n_jobs=True
    )
    reg["health.overall_label_health_score"] = TaskKernel(
        mc, lambda i, bs, nj: la.overall_label_health_score(*i, batch_size=bs)
    )
    for asymmetric in (False, True):
        reg[f"health.find_overlapping_classes[asymmetric={asymmetric}]"] = TaskKernel(
            mc, lambda i, bs, nj, a=asymmetric: la.find_overlapping_classes(*i, asymmetric=a, batch_size=bs)
        )
    reg["health.rank_classes_by_label_quality"] = TaskKernel(
        mc, lambda i, bs, nj: la.rank_classes_by_label_quality(*i, batch_size=bs)
    )

    # stream engine, driven by in-memory passes
    for f in la.FILTERS:
        reg[f"stream.exact_issue_rows[{f}]"] = TaskKernel(
            mc, lambda i, bs, nj, f=f: _exact(i, bs, nj, filter_by=f), n_jobs=True, lists=False
        )
    reg["stream.exact_issue_rows[normalized_margin,adjust,frac_noise=0.6,min_examples_per_class=3]"] = (
        TaskKernel(
            mc,
            lambda i, bs, nj: _exact(
                i,
                bs,
                nj,
                rank_by="normalized_margin",
                adjust_pred_probs=True,
                frac_noise=0.6,
                min_examples_per_class=3,
            ),
            n_jobs=True,
            lists=False,
        )
    )
    for method in la.SCORE_METHODS:
        for adjust in (False, True):
            if adjust and method == "confidence_weighted_entropy":
                continue
            for estimation in stream.ESTIMATION_METHODS:
                reg[f"stream.batched_issue_rows[{method},adjust={adjust},{estimation}]"] = TaskKernel(
                    mc,
                    lambda i, bs, nj, m=method, a=adjust, e=estimation: _batched(
                        i, bs, nj, method=m, adjust_pred_probs=a, estimation_method=e, chunk=64
                    ),
                    n_jobs=True,
                    lists=False,
                )
    return reg


TASK_REGISTRY = _task_registry()
TASK_KERNELS = sorted(TASK_REGISTRY)


def run_task(entry: TaskKernel, inputs: tuple, batch_size: int | None = None, n_jobs: int = 1):
    """(result, the labelaudit warnings it raised, sorted): the warnings must not change either. A refused
    input (InputError) is a result too: the same message whatever the batch size."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LabelauditWarning)
        try:
            out = entry.run(inputs, batch_size, n_jobs)
        except InputError as exc:
            out = ("InputError", str(exc))
    return out, tuple(sorted(str(w.message) for w in caught))


def _first_sentences(labels, p, lengths, s: int):
    t = int(lengths[:s].sum())
    return labels[:t], p[:t], lengths[:s]


# Per kind, small inputs (batch_size=1 loops in Python) that cover absent and singleton classes, float32,
# K = 2 and K = 50, more than one group of multi-label columns (ml_k12), Example M, empty sentences, float32
# tokens and Example T.
TASK_SETS = {
    "multiclass": ("gen_absent", "gen_singleton", "gen_f32", "gen_k2", "gen_k50"),
    "multilabel": ("ml_absent", "ml_k12", "ml_example_m"),
    "token": ("tok_empty", "tok_k9_f32", "tok_example_t"),
}
TASK_ROWS = 240  # leading examples of the multiclass and multilabel sets
TASK_SENTENCES = 30  # leading sentences of the token sets


@pytest.fixture(scope="module")
def task_inputs(tmp_path_factory, golden_subsets):
    """{(kind, set): (arrays, memmapped arrays)}, the memmaps opened read-only from .npy files."""
    from golden_data import GOLDEN

    folder = tmp_path_factory.mktemp("task_inputs")
    out = {}
    for kind, names in TASK_SETS.items():
        for name in names:
            if kind == "multiclass":
                y, p, _, _ = golden_subsets[name]
                arrays = (y[:TASK_ROWS], p[:TASK_ROWS])
            elif kind == "multilabel":
                d = GOLDEN / "inputs_ml" / name
                arrays = (
                    np.load(d / "labels_onehot.npy")[:TASK_ROWS],
                    np.load(d / "pred_probs.npy")[:TASK_ROWS],
                )
            else:
                d = GOLDEN / "inputs_token" / name
                arrays = _first_sentences(
                    np.load(d / "labels_flat.npy"),
                    np.load(d / "pred_probs_flat.npy"),
                    np.load(d / "sentence_lengths.npy"),
                    TASK_SENTENCES,
                )
            arrays = tuple(np.ascontiguousarray(a) for a in arrays)
            mapped = []
            for j, a in enumerate(arrays):
                np.save(folder / f"{name}_{j}.npy", a)
                mapped.append(np.load(folder / f"{name}_{j}.npy", mmap_mode="r"))
            out[kind, name] = (arrays, tuple(mapped))
    return out


TASK_CASES = [(kind, name) for kind, names in TASK_SETS.items() for name in names]


def _kernels_of(kind: str) -> list[str]:
    return [k for k in TASK_KERNELS if TASK_REGISTRY[k].kind == kind]


def test_task_registry_covers_every_kind():
    kinds = {e.kind for e in TASK_REGISTRY.values()}
    assert kinds == set(TASK_SETS)
    prefixes = {k.split("[")[0].split(".")[0] for k in TASK_KERNELS}
    assert {"multilabel", "token", "ensemble", "health", "stream", "find_label_issues"} <= prefixes


@pytest.mark.parametrize(("kind", "name"), TASK_CASES)
def test_task_memmap_and_label_types_bitwise(task_inputs, kind, name):
    arrays, mapped = task_inputs[kind, name]
    assert all(isinstance(a, np.memmap) and not a.flags.writeable for a in mapped)
    variants = {"memmap": mapped}
    if kind == "multilabel":
        variants["int64 indicators"] = (arrays[0].astype(np.int64), arrays[1])
        variants["bool indicators, memmap pred_probs"] = (arrays[0].astype(bool), mapped[1])
    else:
        variants["int32 labels"] = (arrays[0].astype(np.int32), *arrays[1:])
        variants["list labels, memmap pred_probs"] = (arrays[0].tolist(), *mapped[1:])
    if kind == "token":
        variants["int32 lengths"] = (*arrays[:2], arrays[2].astype(np.int32))
    for kname in _kernels_of(kind):
        entry = TASK_REGISTRY[kname]
        ref = run_task(entry, arrays)
        for vname, inputs in variants.items():
            if not entry.lists and isinstance(inputs[0], list):
                continue
            assert_identical(run_task(entry, inputs), ref, f"{name}/{kname}/{vname}")


@pytest.mark.parametrize(("kind", "name"), TASK_CASES)
def test_task_batch_size_and_n_jobs_bitwise(task_inputs, kind, name):
    arrays, mapped = task_inputs[kind, name]
    n = len(arrays[0])
    sizes = sorted({1, 7, n - 1, n, n + 1} - {0})
    for kname in _kernels_of(kind):
        entry = TASK_REGISTRY[kname]
        ref = run_task(entry, arrays)
        for nj in (1, 2) if entry.n_jobs else (1,):
            for bs in (None, *sizes):
                if bs is None and nj == 1:
                    continue
                # batch_size=1 on the memmaps: the smallest reads of the read-only files.
                inputs = mapped if bs == 1 else arrays
                assert_identical(run_task(entry, inputs, bs, nj), ref, f"{name}/{kname}/bs={bs}/n_jobs={nj}")


@pytest.mark.parametrize("group", [1, 7, 11, 12, 13])
def test_multilabel_column_groups_bitwise(task_inputs, group, monkeypatch):
    """Multi-label classes are read COLUMN_GROUP columns at a time: any group size gives the same
    answer (ml_k12 has K = 12)."""
    arrays, _ = task_inputs["multilabel", "ml_k12"]
    refs = {k: run_task(TASK_REGISTRY[k], arrays) for k in _kernels_of("multilabel")}
    monkeypatch.setattr(ml, "COLUMN_GROUP", group)
    for kname, ref in refs.items():
        assert_identical(run_task(TASK_REGISTRY[kname], arrays), ref, f"{kname}/COLUMN_GROUP={group}")


def test_stream_exact_equals_in_memory_on_task_sets(task_inputs):
    """The registry's stream reference (one block) is the in-memory answer itself."""
    for name in TASK_SETS["multiclass"]:
        (y, p), _ = task_inputs["multiclass", name]
        for f in la.FILTERS:
            got = run_task(TASK_REGISTRY[f"stream.exact_issue_rows[{f}]"], (y, p), 7, 2)[0][0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LabelauditWarning)
                want = la.find_label_issues(y, p, filter_by=f, return_indices_ranked_by="self_confidence")
            assert_identical(got, want, f"{name}/{f}")


# ---------------------------------------------------------------------------- task kernels, float32 vs 64


def assert_close(a32, a64, where: str = "") -> None:
    """Same structure; integers, booleans and strings identical; floats within float32 round-off."""
    if isinstance(a64, tuple):
        assert isinstance(a32, tuple) and len(a32) == len(a64), where
        for i, (x, z) in enumerate(zip(a32, a64, strict=True)):
            assert_close(x, z, f"{where}[{i}]")
        return
    if isinstance(a64, dict):
        assert isinstance(a32, dict) and list(a32) == list(a64), where
        for key in a64:
            assert_close(a32[key], a64[key], f"{where}[{key!r}]")
        return
    x, z = np.asarray(a32), np.asarray(a64)
    assert x.shape == z.shape, f"{where}: shape {x.shape} != {z.shape}"
    if x.dtype.kind == "f" or z.dtype.kind == "f":
        np.testing.assert_allclose(x.astype(np.float64), z, rtol=ADJUSTED_RTOL, atol=1e-7, err_msg=where)
    else:
        np.testing.assert_array_equal(x, z, err_msg=where)


def _separated_multilabel(seed: int = 11, n: int = 400, k: int = 5):
    """Per-class probabilities far from 0.5 and from every binary threshold; float64 is float32 widened."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((n, k)) < 0.35).astype(np.int8)
    logit = np.where(truth == 1, 2.0, -2.0) + rng.normal(0, 1, size=(n, k))
    p32 = np.clip(1 / (1 + np.exp(-logit)), 0.01, 0.99).astype(np.float32)
    y = truth.copy()
    flip = rng.random((n, k)) < 0.06
    y[flip] = 1 - y[flip]
    return y, p32, p32.astype(np.float64)


def _sentence_lengths(n: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lengths = []
    while sum(lengths) < n:
        lengths.append(int(min(rng.integers(0, 12), n - sum(lengths))))
    return np.array(lengths, dtype=np.int64)


def _n_flagged(out) -> int:
    first = np.asarray(out[0] if isinstance(out, tuple) else out)
    return int(first.sum()) if first.dtype == bool else len(first)


def test_task_float32_and_float64_agree():
    y, p32, p64 = _separated_set()
    # The second ensemble member is as well separated as the first (the float32 data of the first is).
    top2 = np.sort(_second_model(p64), axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0]).min() > 1e-5
    lengths = _sentence_lengths(len(y))
    assert (lengths == 0).any()
    ym, q32, q64 = _separated_multilabel()
    inputs = {
        "multiclass": ((y, p32), (y, p64)),
        "multilabel": ((ym, q32), (ym, q64)),
        "token": ((y, p32, lengths), (y, p64, lengths)),
    }
    flagged = 0
    for kname in TASK_KERNELS:
        entry = TASK_REGISTRY[kname]
        i32, i64 = inputs[entry.kind]
        r32, r64 = run_task(entry, i32), run_task(entry, i64)
        assert_close(r32, r64, kname)
        if "issue" in kname:
            flagged += _n_flagged(r64[0])
    assert flagged > 1000  # the comparison is not vacuous: the detectors flag a fair number
