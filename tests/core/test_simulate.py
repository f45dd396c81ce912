"""core.simulate: noise matrices and noisy labels."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.core import simulate as sim
from labelaudit.errors import InputError


@pytest.mark.parametrize("k", [3, 5, 10])
@pytest.mark.parametrize("frac_zero", [0.0, 0.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_matrix_valid_with_trace(k, frac_zero, seed):
    py = np.random.default_rng(seed).dirichlet(np.full(k, 5.0))
    trace = 0.7 * k
    nm = sim.noise_matrix_from_trace(k, trace, py=py, frac_zero_noise_rates=frac_zero, seed=seed)
    np.testing.assert_allclose(nm.sum(axis=0), 1, atol=1e-9)
    assert abs(np.trace(nm) - trace) < 1e-6
    assert nm.min() >= 0
    assert sim.noise_matrix_is_valid(nm, py)
    off = nm[~np.eye(k, dtype=bool)]
    if frac_zero == 0.0:
        assert np.count_nonzero(off == 0) == 0
    else:  # the requested zeros, and every noisy column keeps a non-zero off-diagonal
        assert np.count_nonzero(off == 0) == int(k * (k - 1) * frac_zero)
        assert all(np.count_nonzero(np.delete(nm[:, b], b)) >= 1 for b in range(k))
    np.testing.assert_array_equal(
        nm, sim.noise_matrix_from_trace(k, trace, py=py, frac_zero_noise_rates=frac_zero, seed=seed)
    )


def test_noise_matrix_validity_rule_by_hand():
    py = np.array([0.5, 0.5])
    assert sim.noise_matrix_is_valid(np.array([[0.8, 0.3], [0.2, 0.7]]), py)
    assert not sim.noise_matrix_is_valid(np.array([[0.4, 0.6], [0.6, 0.4]]), py)  # more noise than signal
    assert not sim.noise_matrix_is_valid(
        np.array([[0.8, 0.3], [0.2, 0.7]]), np.array([0.7, 0.7])
    )  # joint != 1
    with pytest.raises(InputError):
        sim.noise_matrix_from_trace(3, 1.0, py=np.full(3, 1 / 3))  # a valid matrix needs trace > 1


def test_noisy_labels_flip_exact_counts():
    rng = np.random.default_rng(0)
    true = np.repeat([0, 1, 2], [200, 300, 500])
    nm = np.array([[0.8, 0.1, 0.05], [0.15, 0.7, 0.05], [0.05, 0.2, 0.9]])
    noisy = sim.noisy_labels(rng, true, nm)
    py = np.array([0.2, 0.3, 0.5])
    for a in range(3):
        for b in range(3):
            if a != b:
                want = int(np.trunc(nm[a, b] * py[b] * 1000))
                assert np.count_nonzero((true == b) & (noisy == a)) == want
