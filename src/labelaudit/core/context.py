"""Context: the intermediate results of one validated (labels, pred_probs) pair, each computed once.

Thresholds, the row pass, the confident joint and stored scores are shared by find_label_issues, the
scores, the health report and the CLI instead of re-reading pred_probs for each.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core import confident as kn
from labelaudit.core.batching import Progress, RowsDone, resolve_n_jobs
from labelaudit.core.checks import check_inputs
from labelaudit.core.confident import class_counts
from labelaudit.core.constants import TINY
from labelaudit.core.count import (
    _floored,
    calibrate_cells,
    calibrate_confident_joint,
    estimate_joint,
    floored_cells,
)

if TYPE_CHECKING:
    from labelaudit.core._noise_rate import MarginSource


class BaseContext:
    """What confident learning derives from the labels, the self-confidences P[i, y_i] and one row pass
    (class groups and counts, thresholds, the confident joint, the number of issues), each computed at
    most once. A subclass supplies the per-example results: Context computes them from pred_probs held in
    memory, core.stream.StreamContext from passes over streamed blocks (it never holds pred_probs)."""

    n: int  # examples (N)
    k: int  # classes (K)

    def __init__(
        self,
        labels: NDArray[np.integer[Any]],
        n: int,
        k: int,
        batch_size: int | None = None,
        n_jobs: int | None = 1,
        self_conf: NDArray[np.floating[Any]] | None = None,
    ) -> None:
        self.labels, self.n, self.k = labels, n, k
        self.batch_size = batch_size
        self.n_jobs = resolve_n_jobs(n_jobs)
        self._groups: kn.ClassGroups | None = None
        self._counts: np.ndarray | None = None
        self.stored_scores: dict[tuple[str, bool], np.ndarray] = {}
        self._self_conf: np.ndarray | None = self_conf
        self._thresholds: np.ndarray | None = None
        self._rows: kn.RowPass | None = None
        self._cj_cal: np.ndarray | None = None
        self._cells_cal: kn.Cells | None = None
        self.progress: Progress | None = None  # told the rows of each full pass over pred_probs

    def pass_progress(self, name: str) -> RowsDone | None:
        """What one full pass over pred_probs, named `name`, reports its rows to (None: no progress)."""
        return None if self.progress is None else functools.partial(self.progress, name)

    # -- supplied by a subclass
    @property
    def self_confidence(self) -> NDArray[np.floating[Any]]:
        raise NotImplementedError

    @property
    def rows(self) -> kn.RowPass:
        raise NotImplementedError

    @property
    def margins(self) -> MarginSource:
        raise NotImplementedError

    def predicted(self, rows: NDArray[np.integer[Any]] | None = None) -> NDArray[np.int64]:
        raise NotImplementedError

    def matches(self, rows: NDArray[np.integer[Any]]) -> NDArray[np.bool_]:
        raise NotImplementedError

    def scores(
        self, rows: NDArray[np.integer[Any]] | None, method: str, adjust_pred_probs: bool = False
    ) -> NDArray[np.floating[Any]]:
        """Scores of `rows` for a context that holds no pred_probs rows (rank.scores_for_rows asks when
        none are stored); core.topk computes them from its top-k rows."""
        raise AssertionError(f"a streamed context keeps no {method!r} scores (adjust={adjust_pred_probs})")

    # -- derived here
    @property
    def groups(self) -> kn.ClassGroups:
        if self._groups is None:
            if (
                self.k <= 4
            ):  # a few flatnonzero passes beat a counting sort (binary views of multi-label data)
                order = np.concatenate([np.flatnonzero(self.labels == c) for c in range(self.k)])
                starts = np.zeros(self.k + 1, dtype=np.int64)
                np.cumsum(self.counts, out=starts[1:])
                self._groups = kn.ClassGroups(order, starts)
            else:
                self._groups = kn.group_by_class(self.labels, self.k)
        return self._groups

    @property
    def counts(self) -> NDArray[np.int64]:
        if self._counts is None:
            self._counts = class_counts(self.labels, self.k)
        return self._counts

    @property
    def thresholds(self) -> NDArray[np.floating[Any]]:
        if self._thresholds is None:
            self._thresholds = kn.class_thresholds(
                self.self_confidence, self.labels, self.counts, self._groups
            )
        return self._thresholds

    @property
    def sparse(self) -> bool:
        """Whether the row pass kept the confident joint as cells (K >= confident.SPARSE_MIN_K): then
        calibration and pruning run on the cells, and the (K, K) matrices are only formed on request."""
        return self.rows.confident_joint is None

    @property
    def confident_joint_uncalibrated(self) -> NDArray[np.int64]:
        return _floored(self.rows.dense_joint())

    @property
    def confident_joint(self) -> NDArray[np.int64]:
        """(K, K) int64 calibrated confident joint (formed from the cells when the context is sparse)."""
        if self._cj_cal is None:
            if self.sparse:
                self._cj_cal = self.confident_cells.dense()
            else:
                self._cj_cal = calibrate_confident_joint(
                    self.confident_joint_uncalibrated, self.labels, _column_major=True
                )
        return self._cj_cal

    @property
    def confident_cells(self) -> kn.Cells:
        """The calibrated confident joint's non-zero cells (the dense result's cells when not sparse)."""
        if self._cells_cal is None:
            if self.sparse:
                assert self.rows.cells is not None
                self._cells_cal = calibrate_cells(floored_cells(self.rows.cells), self.counts)
            else:
                self._cells_cal = kn.Cells.from_dense(self.confident_joint)
        return self._cells_cal

    def off_diagonal_issues(self) -> NDArray[np.intp]:
        """Increasing indices counted off the diagonal whose label does not win the nudged argmax."""
        off = np.flatnonzero(self.rows.off_diagonal)
        return off[~self.matches(off)]

    def num_issues(self, estimation_method: str = "off_diagonal") -> int:
        if estimation_method == "off_diagonal":
            return len(self.off_diagonal_issues())
        if self.sparse:  # estimate_joint re-calibrates the (C-ordered) calibrated joint, then its trace
            again = calibrate_cells(self.confident_cells, self.counts, column_major=False)
            diag = again.diagonal() / max(float(again.values.sum()), TINY)
            return int(np.rint((1.0 - np.add.reduce(diag)) * self.n))
        joint = estimate_joint(self.labels, None, confident_joint=self.confident_joint)
        return int(np.rint((1.0 - np.trace(joint)) * self.n))


class Context(BaseContext):
    """The BaseContext of one validated (labels, pred_probs) pair held in memory (an ndarray or a
    read-only memmap, read in row batches and never copied whole)."""

    @classmethod
    def validated(
        cls,
        labels: ArrayLike,
        pred_probs: NDArray[np.floating[Any]],
        batch_size: int | None = None,
        n_jobs: int | None = 1,
    ) -> Context:
        """Check the inputs (check_inputs' rules) and gather the self-confidences in the same pass."""
        ok = isinstance(pred_probs, np.ndarray) and pred_probs.ndim == 2
        sc = np.empty(pred_probs.shape[0], dtype=pred_probs.dtype) if ok else None
        y, p = check_inputs(labels, pred_probs, batch_size=batch_size, n_jobs=n_jobs, self_conf_out=sc)
        return cls(y, p, batch_size, n_jobs, sc)

    def __init__(
        self,
        labels: NDArray[np.integer[Any]],
        pred_probs: NDArray[np.floating[Any]],
        batch_size: int | None = None,
        n_jobs: int | None = 1,
        self_conf: NDArray[np.floating[Any]] | None = None,
    ) -> None:
        n, k = pred_probs.shape
        super().__init__(labels, n, k, batch_size, n_jobs, self_conf)
        self.pred_probs = pred_probs

    @property
    def self_confidence(self) -> NDArray[np.floating[Any]]:
        if self._self_conf is None:
            self._self_conf = kn.gather_self_confidence(
                self.labels, self.pred_probs, self.batch_size, self.n_jobs
            )
        return self._self_conf

    @property
    def rows(self) -> kn.RowPass:
        if self._rows is None:
            self._rows = kn.confident_rows(
                self.labels,
                self.pred_probs,
                self.thresholds,
                self.batch_size,
                self.n_jobs,
                progress=self.pass_progress("confident joint"),
            )
        return self._rows

    @property
    def margins(self) -> MarginSource:
        from labelaudit.core._noise_rate import InMemoryMargins

        return InMemoryMargins(self)

    def predicted(self, rows: NDArray[np.integer[Any]] | None = None) -> NDArray[np.int64]:
        """First argmax of every row (or of `rows`), int64 (kept from the row pass when it has it)."""
        if self._rows is not None and self._rows.argmax is not None:
            am = self._rows.argmax
            return (am if rows is None else am[rows]).astype(np.int64)
        return kn.predicted_labels(self.pred_probs, rows, self.batch_size, self.n_jobs)

    def matches(self, rows: NDArray[np.integer[Any]]) -> NDArray[np.bool_]:
        """Does each label in `rows` win its row's argmax after the EPS nudge?"""
        rows = np.asarray(rows, dtype=np.int64)
        am = self.predicted(rows)
        top = self.pred_probs[rows, am]  # one element per row instead of the whole row
        return kn.label_wins(am, top, self.self_confidence[rows], self.labels[rows])
