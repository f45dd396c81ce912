"""Noisy-label datasets with known errors: noise matrices, noisy labels and a pred_probs model.

Follows the validity rules and flip-count semantics of the reference library's noise generation
(its random draws are not reproduced: every function takes a numpy Generator).
Noise matrices are column-stochastic: NM[a, b] = P(given = a | true = b).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from labelaudit.core.report import Report
from labelaudit.errors import InputError

SLACK = 1e-6


def noise_matrix_is_valid(noise_matrix: np.ndarray, py: np.ndarray) -> bool:
    """Valid when the joint sums to 1 and, for every class k, a given label k is more likely for a true-k
    example than on average: NM[k, k] * py[k] > (NM @ py)[k] * py[k] (strict)."""
    nm, py = np.asarray(noise_matrix, dtype=np.float64), np.asarray(py, dtype=np.float64)
    if abs((nm * py[None, :]).sum() - 1) >= 1e-6:
        return False
    ps = nm @ py
    return bool(np.all(ps * py < np.diagonal(nm) * py))


def random_probabilities(
    rng: np.random.Generator, n: int, total: float, *, max_prob: float = 1.0, min_prob: float = 0.0
) -> np.ndarray:
    """n non-negative values summing to `total`, each within [min_prob, max_prob] (up to 1e-6)."""
    if n == 0:
        return np.zeros(0)
    if max_prob + SLACK < total / n:
        raise InputError(f"cannot split {total} into {n} values of at most {max_prob}")
    if min_prob > (total + SLACK) / n:
        raise InputError(f"cannot split {total} into {n} values of at least {min_prob}")
    x = rng.dirichlet(np.ones(n)) * total
    while x.max() > max_prob + SLACK:  # move mass from the largest to the smallest, keeping the sum
        hi, lo = int(np.argmax(x)), int(np.argmin(x))
        room = max_prob - x[lo]
        u = rng.uniform(0, max(room, 0) * 0.5) if room > 0 else 0.0
        excess = x[hi] - (max_prob - u)
        x[hi] -= excess
        x[lo] += excess
    while x.min() < min_prob - SLACK:
        hi, lo = int(np.argmax(x)), int(np.argmin(x))
        room = x[hi] - min_prob
        u = rng.uniform(0, max(room, 0) * 0.5) if room > 0 else 0.0
        need = (min_prob + u) - x[lo]
        x[lo] += need
        x[hi] -= need
    return x


def distribute(
    rng: np.random.Generator, total: int, bins: int, *, max_per_bin: int | None = None
) -> np.ndarray:
    """`bins` non-negative integers summing to `total` (reduced to max_per_bin * bins if that is less)."""
    if total <= 0:
        return np.zeros(bins, dtype=np.int64)
    if max_per_bin is not None:
        total = min(total, max_per_bin * bins)
    props = random_probabilities(rng, bins, 1.0, max_prob=(max_per_bin / total) if max_per_bin else 1.0)
    counts = np.rint(props * total).astype(np.int64)
    cap = max_per_bin if max_per_bin is not None else total
    while counts.sum() > total:
        counts[int(np.argmax(counts))] -= 1
    while counts.sum() < total:
        room = np.where(counts < cap, counts, np.iinfo(np.int64).max)
        counts[int(np.argmin(room))] += 1
    return counts


def noise_matrix_from_trace(
    k: int,
    trace: float,
    *,
    py: np.ndarray | None = None,
    frac_zero_noise_rates: float = 0.0,
    valid_noise_matrix: bool = True,
    min_trace_prob: float = 1e-5,
    max_trace_prob: float = 1.0,
    min_noise_rate: float = 0.0,
    max_noise_rate: float = 1 - 1e-5,
    seed: int = 0,
    max_iter: int = 10000,
) -> np.ndarray:
    """A (K, K) column-stochastic noise matrix whose diagonal sums to `trace`; with valid_noise_matrix, one
    that passes noise_matrix_is_valid for the prior `py`. A share frac_zero_noise_rates of off-diagonal
    cells is zero (each noisy column keeps at least one non-zero)."""
    if k <= 1:
        raise InputError(f"K must be at least 2, got {k}")
    if not 0 < trace <= k:
        raise InputError(f"trace must be in (0, K={k}], got {trace}")
    if valid_noise_matrix and trace <= 1:
        raise InputError(f"a valid noise matrix needs trace > 1, got {trace}")
    if valid_noise_matrix and py is None and k > 2:
        raise InputError("a valid noise matrix needs the prior py")
    rng = np.random.default_rng(seed)
    if k == 2:
        if frac_zero_noise_rates >= 0.5:
            nm = np.array([[1.0, 2 - trace], [0.0, trace - 1]])
            return nm if rng.uniform() > 0.5 else np.rot90(nm, 2).copy()
        d0, d1 = random_probabilities(rng, 2, trace, max_prob=max_trace_prob, min_prob=min_trace_prob)
        return np.array([[d0, 1 - d1], [1 - d0, d1]])
    for _ in range(max_iter):
        nm = np.zeros((k, k))
        diag = random_probabilities(rng, k, trace, max_prob=max_trace_prob, min_prob=min_trace_prob)
        np.fill_diagonal(nm, diag)
        noisy = np.flatnonzero(diag < 1)
        zeros_wanted = max(0, int(k * (k - 1) * frac_zero_noise_rates) - (k - len(noisy)) * (k - 1))
        zeros: np.ndarray | list[int] = (
            distribute(rng, zeros_wanted, len(noisy), max_per_bin=k - 2) if len(noisy) else []
        )
        for col, z in zip(noisy, zeros, strict=True):
            rates = random_probabilities(
                rng, k - 1 - int(z), 1 - diag[col], max_prob=max_noise_rate, min_prob=min_noise_rate
            )
            rows = rng.choice(np.delete(np.arange(k), col), size=len(rates), replace=False)
            nm[rows, col] = rates
        # py is not None whenever valid_noise_matrix is (checked above)
        if not valid_noise_matrix or (py is not None and noise_matrix_is_valid(nm, py)):
            return nm
    raise InputError(
        f"no valid noise matrix with trace {trace} found in {max_iter} tries; try a larger trace"
    )


def noisy_labels(rng: np.random.Generator, true_labels: np.ndarray, noise_matrix: np.ndarray) -> np.ndarray:
    """Flip labels so that exactly trunc(NM[a, b] * py[b] * N) examples of true class b get label a != b
    (py = class shares of true_labels); a class with too few examples is left unflipped."""
    y = np.asarray(true_labels)
    k, n = len(noise_matrix), len(y)
    counts = np.bincount(y, minlength=k)
    py = counts / n
    flips = np.trunc(noise_matrix * py[None, :] * n).astype(np.int64)
    np.fill_diagonal(flips, 0)
    out = y.copy()
    for b in range(k):
        new = np.repeat(np.arange(k), flips[:, b])
        if len(new) == 0 or counts[b] < len(new):
            continue
        members = np.flatnonzero(y == b)
        out[rng.choice(members, size=len(new), replace=False)] = new
    return out


def pred_probs_block(
    rng: np.random.Generator, true_labels: np.ndarray, k: int, sharpness: float, dtype: DTypeLike = np.float32
) -> np.ndarray:
    """(B, K) pred_probs of a model that knows the true labels: Dirichlet with concentration `sharpness`
    on the true class and 1/(K-1) on each other class, so the true class gets sharpness/(sharpness+1)
    of the mass on average whatever K is."""
    alpha = np.full((len(true_labels), k), 1.0 / (k - 1))
    alpha[np.arange(len(true_labels)), true_labels] = sharpness
    g = rng.standard_gamma(alpha)
    g /= g.sum(axis=1, keepdims=True)
    return g.astype(dtype)


@dataclass(frozen=True)
class Simulation:
    """A noisy-label dataset drawn from one seed: the prior, the noise matrix, true and given labels, and
    the generator that goes on to draw pred_probs (so the same seed gives byte-identical files)."""

    rng: np.random.Generator
    prior: np.ndarray
    noise_matrix: np.ndarray
    true_labels: np.ndarray
    labels: np.ndarray

    def pred_probs_blocks(self, sharpness: float, dtype: str, rows: int) -> Iterator[np.ndarray]:
        """(N, K) pred_probs in blocks of `rows` rows, in order."""
        k = len(self.prior)
        for start in range(0, len(self.labels), rows):
            yield pred_probs_block(self.rng, self.true_labels[start : start + rows], k, sharpness, dtype)

    def summary(self, seed: int) -> dict:
        n_wrong = int(np.count_nonzero(self.labels != self.true_labels))
        return {
            "n": len(self.labels),
            "k": len(self.prior),
            "trace": float(np.trace(self.noise_matrix)),
            "n_label_errors": n_wrong,
            "error_rate": n_wrong / len(self.labels),
            "noise_matrix_valid": noise_matrix_is_valid(self.noise_matrix, self.prior),
            "seed": seed,
        }

    def report(self, params: Mapping[str, Any], out_dir: str, files: list[str]) -> Report:
        """What `simulate` wrote into `out_dir`: the JSON document's results and its one-line summary."""
        s = self.summary(int(params.get("seed", 0)))
        results = {key: s[key] for key in ("n_label_errors", "error_rate", "trace", "noise_matrix_valid")}
        return Report(
            command="simulate",
            params=dict(params),
            n=s["n"],
            k=s["k"],
            class_names=None,
            headline=f"wrote {s['n']} examples x {s['k']} classes to {out_dir}: {s['n_label_errors']} wrong "
            f"labels ({s['error_rate']:.2%}), noise matrix trace {s['trace']:.4g}",
            tables={},
            results={**results, "out_dir": out_dir, "files": files},
        )


def simulate(
    n: int,
    k: int,
    *,
    noise_rate: float | None = None,
    trace: float | None = None,
    frac_zero_noise_rates: float = 0.0,
    prior: str | list[float] = "uniform",
    seed: int = 0,
) -> Simulation:
    """Draw a dataset: prior 'uniform', 'random' (Dirichlet(5)) or K positive weights; the noise matrix
    with the given trace (default K x (1 - noise_rate), noise_rate 0.2); true labels from the prior and
    given labels through the noise matrix."""

    rng = np.random.default_rng(seed)
    if prior == "uniform":
        py = np.full(k, 1.0 / k)
    elif prior == "random":
        py = rng.dirichlet(np.full(k, 5.0))
    else:
        py = np.asarray(prior, dtype=np.float64)
        if len(py) != k or not np.isfinite(py).all() or py.min() <= 0:
            raise InputError(f"--prior needs K={k} positive numbers, got {list(prior)!r}")
        py = py / py.sum()
    if trace is not None and not 1 < trace <= k:
        raise InputError(f"--trace must be above 1 and at most K={k} (the noise matrix's trace); got {trace}")
    if trace is None:
        rate = 0.2 if noise_rate is None else noise_rate
        trace = k * (1 - rate)
        if not 0 <= rate < 1 - 1 / k:
            raise InputError(
                f"--noise-rate must be at least 0 and below 1 - 1/K = {1 - 1 / k:.4g} (the noise matrix's "
                f"trace K x (1 - rate) must be above 1); got {rate}"
            )
    nm = noise_matrix_from_trace(k, trace, py=py, frac_zero_noise_rates=frac_zero_noise_rates, seed=seed)
    true_labels = rng.choice(k, size=n, p=py)
    return Simulation(rng, py, nm, true_labels, noisy_labels(rng, true_labels, nm))
