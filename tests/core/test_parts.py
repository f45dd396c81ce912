"""The default mode's kept parts (core.stream: make_part, Engine.keep / each, lowest_rows): whatever
the task size, the sample's stride or how far off its first bound is, the selection is the first num
rows of a stable argsort of all scores (ties by row across task boundaries, NaN last), and the whole
result is the one-block-per-part result bit for bit."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelaudit.core import stream


def _parts(scores: np.ndarray, group: int, rows: int) -> tuple[stream.ThreadEngine, list]:
    """Parts of `group` blocks of `rows` rows holding `scores` (labels and argmax 0, no label wins)."""
    n = len(scores)
    engine = stream.ThreadEngine(1, group=group)

    class Kernel:
        def __call__(self, b):
            return b

        def part(self, parts, prior=None):
            blocks = [
                (
                    np.zeros(len(s), np.uint8),
                    None,
                    np.zeros(len(s), np.uint8),
                    None,
                    np.zeros(len(s), bool),
                    s,
                )
                for _, s, _ in parts
            ]
            return (int(parts[0][0]), blocks), None

    items = [(s, scores[s : s + rows], None) for s in range(0, n, rows)]
    handles = [h for h, _, _ in engine.keep(Kernel(), items)]
    return engine, handles


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 400),
    rows=st.integers(1, 50),
    group=st.integers(1, 4),
    stride=st.integers(1, 40),
    spread=st.sampled_from([0.0, 4.0]),
    nan=st.booleans(),
)
def test_lowest_rows_is_the_stable_argsort_prefix(seed, n, rows, group, stride, spread, nan):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(n), 1)  # ties across blocks and tasks on purpose
    if nan:
        scores[rng.random(n) < 0.2] = np.nan
    engine, handles = _parts(scores, group, rows)
    sample = scores[::stride]
    want_all = np.argsort(scores, kind="stable")
    for num in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        with mock.patch.object(stream, "SAMPLE_SPREAD", spread):  # 0: bounds short of num, retries
            rows_, got_scores, *_ = stream.lowest_rows(engine, handles, sample, max(num, 0), stride)
        np.testing.assert_array_equal(rows_, want_all[:num], err_msg=f"num={num}")
        np.testing.assert_array_equal(got_scores, scores[want_all[:num]])


def test_a_bound_below_num_asks_again_only_for_the_rows_above_it():
    scores = np.arange(1000, dtype=np.float64)[::-1].copy()  # the sample (stride 100) misleads nothing,
    engine, handles = _parts(scores, 2, 64)
    sample = np.array([999.0])  # ... but this one holds only the largest score: bound = +inf at once
    rows, got, *_ = stream.lowest_rows(engine, handles, sample, 10, 100)
    np.testing.assert_array_equal(got, np.arange(10.0))
    rows, got, *_ = stream.lowest_rows(engine, handles, np.array([0.0, 1.0]), 500, 1)  # 2 then +inf
    np.testing.assert_array_equal(got, np.arange(500.0))


def _data(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = np.round(rng.dirichlet(np.ones(k) * 0.5, n), 2) + 0.01
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    y = np.where(rng.random(n) < 0.75, p.argmax(axis=1), rng.integers(0, k, n))
    return y, p


@pytest.mark.parametrize(
    ("method", "adjust"),
    [("self_confidence", False), ("normalized_margin", True), ("confidence_weighted_entropy", False)],
)
@pytest.mark.parametrize("chunk", [1, 333, 1000, 4097, 10**6])
def test_any_task_size_and_sample_stride_give_the_same_bits(method, adjust, chunk, monkeypatch):
    y, p = _data(9000, 7, chunk)
    passes = lambda rows: lambda: ((s, y[s : s + rows], p[s : s + rows]) for s in range(0, len(y), rows))  # noqa: E731
    kw = {"method": method, "adjust_pred_probs": adjust, "chunk": chunk, "dtype": p.dtype}
    want = stream.batched_issue_rows(passes(9000), 9000, 7, **kw)  # one part, every row sampled
    monkeypatch.setattr(stream, "SAMPLE_ROWS", 50)  # stride 180: the selection's bound is a guess
    sunk: list[tuple[int, np.ndarray]] = []
    for rows, group in ((97, 1), (500, 3), (1024, 4)):
        sunk.clear()
        got = stream.batched_issue_rows(
            passes(rows),
            9000,
            7,
            engine=stream.ThreadEngine(2, group=group),
            scores_sink=lambda start, s: sunk.append((start, np.array(s))),
            **kw,
        )
        np.testing.assert_array_equal(got.ranked, want.ranked)
        assert got.thresholds.tobytes() == want.thresholds.tobytes()
        assert got.scores.tobytes() == want.scores.tobytes()
        assert got.num_issues == want.num_issues
        np.testing.assert_array_equal(got.predicted, want.predicted)
        np.testing.assert_array_equal(got.labels, y)
        assert [s for s, _ in sunk] == sorted(s for s, _ in sunk) and sunk[0][0] == 0
        assert np.concatenate([s for _, s in sunk]).tobytes() == want.scores.tobytes()
        for key, col in (("labels", want.labels), ("predicted", want.predicted), ("scores", want.scores)):
            np.testing.assert_array_equal(got.flagged_values[key], col[want.ranked])


def test_row_values_answer_the_ranked_prefix_and_any_kept_rows():
    rows = np.array([7, 3, 9, 1])
    vals = np.array([70, 30, 90, 10])
    rv = stream.RowValues(rows, vals)
    np.testing.assert_array_equal(rv[rows[:2]], [70, 30])
    np.testing.assert_array_equal(rv[np.array([1, 9])], [10, 90])
    np.testing.assert_array_equal(rv[np.array([], dtype=int)], [])
    with pytest.raises(KeyError):
        rv[np.array([2])]
