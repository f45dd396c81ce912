"""Comparison of a flagged set with the flagged set of an earlier report (a baseline)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BaselineDiff:
    is_new: np.ndarray  # (M,) bool, aligned with the current flagged keys
    fixed: np.ndarray  # keys flagged in the baseline and not now, in baseline order

    @property
    def n_new(self) -> int:
        return int(np.count_nonzero(self.is_new))

    @property
    def n_persisting(self) -> int:
        return int(len(self.is_new) - self.n_new)


def compare_with_baseline(current_keys, baseline_keys) -> BaselineDiff:
    """Which current issues are new (key absent from the baseline) and which baseline issues are fixed.

    Keys are example indices or ids (any type numpy can compare); order is preserved."""
    cur = np.asarray(current_keys)
    base = np.asarray(baseline_keys)
    if cur.dtype.kind != base.dtype.kind and not (cur.dtype.kind in "iu" and base.dtype.kind in "iu"):
        cur, base = cur.astype(str), base.astype(str)
    return BaselineDiff(is_new=~np.isin(cur, base), fixed=base[~np.isin(base, cur)])
