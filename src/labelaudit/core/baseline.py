"""Comparison of a flagged set with the flagged set of an earlier report (a baseline)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class BaselineDiff:
    is_new: np.ndarray  # (M,) bool, aligned with the current flagged keys
    fixed: np.ndarray  # keys flagged in the baseline and not now, in baseline order
    matched_by: str = "index"  # "id" or "index"

    @property
    def n_new(self) -> int:
        return int(np.count_nonzero(self.is_new))

    @property
    def n_persisting(self) -> int:
        return int(len(self.is_new) - self.n_new)


def compare_with_baseline(current_keys: ArrayLike, baseline_keys: ArrayLike) -> BaselineDiff:
    """Which current issues are new (key absent from the baseline) and which baseline issues are fixed.

    Keys are example indices or ids (any type numpy can compare); order is preserved."""
    cur = np.asarray(current_keys)
    base = np.asarray(baseline_keys)
    if cur.dtype.kind != base.dtype.kind and not (cur.dtype.kind in "iu" and base.dtype.kind in "iu"):
        cur, base = cur.astype(str), base.astype(str)
    return BaselineDiff(is_new=~np.isin(cur, base), fixed=base[~np.isin(base, cur)])


# Parameters that decide which examples are flagged: a baseline must agree on all of them.
SET_PARAMS = ("filter_by", "frac_noise", "num_to_remove_per_class", "min_examples_per_class")


@dataclass(frozen=True)
class Baseline:
    """The flagged set of an earlier `--format json` report (`doc`, read from `path`), checked against
    the current run: same command and classes, the same set-deciding parameters, every issue listed."""

    path: str
    doc: dict
    id_column: str | None = None  # the run's --id-column: then matching must be by id

    def check(self, command: str, k: int, class_names: list[str] | None) -> None:
        from labelaudit.errors import InputError

        doc = self.doc
        if doc.get("command") != command:
            raise InputError(f"{self.path}: baseline comes from '{doc.get('command')}', not '{command}'")
        names = doc.get("class_names")
        if doc.get("n_classes") != k or (names and class_names and names != class_names):
            raise InputError(
                f"{self.path}: baseline has different classes (K={doc.get('n_classes')}, names {names}) "
                f"than the input (K={k}, names {class_names})"
            )
        if len(doc["issues"]) != doc["n_issues"]:
            raise InputError(
                f"{self.path}: baseline lists {len(doc['issues'])} of its {doc['n_issues']} issues (made with "
                "--top?); make the baseline without --top"
            )

    def compare(self, index: np.ndarray, ids: np.ndarray | None, params: dict) -> BaselineDiff:
        """The diff of the current flagged rows `index` (most severe first) with the baseline's, matched
        by id when both sides carry ids, else by row index."""
        from labelaudit.errors import InputError

        for key in SET_PARAMS:
            if key in params and self.doc["params"].get(key) != params[key]:
                raise InputError(
                    f"{self.path}: baseline was made with {key}={self.doc['params'].get(key)!r}, "
                    f"this run uses {params[key]!r}"
                )
        issues = self.doc["issues"]
        use_ids = ids is not None and all("id" in r for r in issues)
        id_column = self.id_column
        if id_column and not use_ids:
            if ids is None:
                raise InputError(
                    f"{self.path}: --id-column {id_column!r} given but the input has no such id column to match by"
                )
            raise InputError(
                f"{self.path}: --id-column {id_column!r} given but the baseline's issues carry no 'id'"
            )
        key = "id" if use_ids else "index"
        current = np.asarray(ids)[index] if use_ids else index
        diff = compare_with_baseline(current, [r[key] for r in issues])
        return BaselineDiff(diff.is_new, diff.fixed, key)

    def summary(self, diff: BaselineDiff) -> dict:
        return {
            "path": self.path,
            "matched_by": diff.matched_by,
            "n_new": diff.n_new,
            "n_persisting": diff.n_persisting,
            "n_fixed": len(diff.fixed),
            "fixed": diff.fixed.tolist(),
        }
