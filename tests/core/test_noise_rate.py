"""The two exact routes of prune_by_noise_rate (per class, and by candidates from a sampled bound) give
the same flagged set; the candidate route is forced here on small data, including bounds so tight that
cells fall back to the per-class route."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import nudged_argmax_wins, raised_bounds
from golden_data import ALL_SETS, inputs

import labelaudit as la
from labelaudit.core import _noise_rate

# The prune filters warn when a class has at most min_examples_per_class examples (docs/algorithms.md §12).
# This sweep compares two routes on every golden set, some with absent or singleton classes, so the warning
# is incidental here; other tests assert it with pytest.warns.
FEW_EXAMPLES_INCIDENTAL = pytest.mark.filterwarnings(
    r"ignore:\d+ class\(es\) have at most min_examples_per_class:labelaudit.errors.LabelauditWarning"
)


@pytest.fixture(params=["sampled", "too_tight"])
def candidate_route(request, monkeypatch):
    monkeypatch.setattr(_noise_rate, "DIRECT_ELEMENTS", 0)
    if request.param == "too_tight":  # bounds above the true cut: exercise the fallback
        monkeypatch.setattr(_noise_rate, "bounds_from_sample", raised_bounds(_noise_rate.bounds_from_sample))
    return request.param


@FEW_EXAMPLES_INCIDENTAL
@pytest.mark.parametrize("name", ALL_SETS)
@pytest.mark.parametrize("kwargs", [{}, {"frac_noise": 0.5}, {"min_examples_per_class": 5}])
def test_candidate_route_equals_per_class_route(name, kwargs, candidate_route):
    labels, p = inputs(name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_noise_rate, "DIRECT_ELEMENTS", 1 << 40)
        want = la.find_label_issues(labels, p, **kwargs)
    got = la.find_label_issues(labels, p, **kwargs)
    np.testing.assert_array_equal(got, want)


def test_candidate_route_with_ties_and_batches(candidate_route):
    rng = np.random.default_rng(3)
    n, k = 3000, 4
    p = np.round(rng.dirichlet(np.ones(k) * 0.7, size=n), 1) + 1e-3  # many exact ties in margins
    p /= p.sum(axis=1, keepdims=True)
    labels = rng.integers(0, k, n)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_noise_rate, "DIRECT_ELEMENTS", 1 << 40)
        want = la.find_label_issues(labels, p)
    assert want.sum() > 50
    for batch_size in (1, 7, 1000, n + 1):
        np.testing.assert_array_equal(la.find_label_issues(labels, p, batch_size=batch_size), want)


def test_poisson_want_hand_checked():
    # P(Poisson(0.36) >= 3) = 1 - e^-0.36 (1 + 0.36 + 0.0648) = 0.0059 <= 1e-2, while P(>= 2) = 0.049
    np.testing.assert_array_equal(_noise_rate.poisson_want(np.array([0.0, 0.36]), 1e-2), [1, 3])
    # P(Poisson(1) >= 5) = 0.00366 > 1e-3 and P(>= 6) = 0.000594
    assert _noise_rate.poisson_want(np.array([[1.0]]), 1e-3).tolist() == [[6]]
    # the normal tail above mu = 500: mu + z * sqrt(mu) + 1, z(1e-6) = 4.753
    assert _noise_rate.poisson_want(np.array([10_000.0]), 1e-6)[0] == int(np.ceil(10_000 + 4.7534 * 100)) + 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_label_wins_equals_nudged_argmax(dtype):
    """The closed-form rule used in memory equals copying the row, adding EPS to the label, and taking
    the first argmax, including ties within EPS before and after the label."""
    from labelaudit.core import confident as kn

    rng = np.random.default_rng(5)
    p = np.round(rng.random((4000, 5)), 2).astype(dtype)
    p[::7, 3] = p[::7, 1]  # exact ties
    p[::11, 2] = (p[::11, 0] + dtype(5e-7)).astype(dtype)  # ties within EPS
    labels = rng.integers(0, 5, 4000)
    am = p.argmax(axis=1)
    got = kn.label_wins(am, p[np.arange(4000), am], p[np.arange(4000), labels], labels)
    np.testing.assert_array_equal(got, nudged_argmax_wins(p, labels))
