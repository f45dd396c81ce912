"""core.confident kernels: per-class thresholds and pairwise sums, bitwise equal to numpy's means and sums."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labelaudit.core import confident as kn
from labelaudit.core.constants import T_MIN


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
