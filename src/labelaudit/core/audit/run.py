"""The audit orchestrator: which issue types run, in which order, on which shared state.

The default types are, in this order, null, label, outlier, near_duplicate, non_iid, class_imbalance and
underperforming_group; a type runs when its inputs are there (labels are always given):

| type | needs |
|---|---|
| null | features |
| label | pred_probs, or features (kNN probabilities, label.knn_pred_probs) |
| outlier | features (the kNN path) or pred_probs (the entropy path) |
| near_duplicate | features |
| non_iid | features, or pred_probs (a graph of its own on them) |
| class_imbalance | labels only |
| underperforming_group | pred_probs and features |

An `issue_types` selection keeps that order; asking for a type whose inputs are missing is an InputError.
A type that fails on these data (too few rows for the k-neighbour graph, no usable cluster, a degenerate
permutation test) is reported (`failed`, and a warning) and contributes nothing; the others still run.

One neighbour graph of the features is built, by the first type that needs it, and reused by every other
kNN type (outlier, near_duplicate, non_iid, underperforming_group); a graph on pred_probs (non_iid
without features) is that type's own. The confident-learning context (thresholds, row pass, joint) is
likewise shared by label and the pred_probs paths.

The health score is the plain mean of the dataset scores of the types that ran.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from labelaudit.core.audit.result import IssueResult
from labelaudit.core.batching import row_slices
from labelaudit.core.checks import check_labels
from labelaudit.core.context import Context
from labelaudit.errors import InputError, LabelauditError, LabelauditWarning

TYPES = ("null", "label", "outlier", "near_duplicate", "non_iid", "class_imbalance", "underperforming_group")
KNN_TYPES = ("outlier", "near_duplicate", "non_iid", "underperforming_group")
DEFAULT_K = 10
# What a type that cannot run on these data raises (the reference reports any error and goes on; a
# programming error of ours, e.g. a TypeError, still rises).
TYPE_FAILURES = (LabelauditError, ValueError, ArithmeticError, np.linalg.LinAlgError)

Stage = Callable[[str], None]  # told the name of each stage as it starts


@dataclass
class State:
    """What the types of one audit share: the validated inputs, the context and the feature graph."""

    labels: np.ndarray
    n_classes: int
    ctx: Context | None
    features: np.ndarray | None
    k: int
    n_jobs: int
    _graph: Any = None
    _graph_error: Exception | None = None
    stage: Stage | None = None

    @property
    def pred_probs(self) -> np.ndarray | None:
        return None if self.ctx is None else self.ctx.pred_probs

    def graph(self) -> Any:
        """The shared kNN graph of the features, built once (a failure to build it is kept and raised
        again for each type that needs it: every kNN type fails for the same reason)."""
        if self._graph is None and self._graph_error is None:
            from labelaudit.core.audit.graph import build_graph

            if self.stage is not None:
                self.stage("neighbour graph")
            try:
                # a stage view with a `fraction` method shows the search's progress (cli StageProgress)
                progress = getattr(self.stage, "fraction", None)
                self._graph = build_graph(self.features, k=self.k, n_jobs=self.n_jobs, progress=progress)
            except TYPE_FAILURES as exc:
                self._graph_error = exc
        if self._graph_error is not None:
            raise self._graph_error
        return self._graph


def _needs_sklearn(types: Sequence[str], ctx: Context | None, x: np.ndarray | None) -> str | None:
    """What of this run needs scikit-learn, or None: the euclidean neighbour graph (at most 3 columns,
    a KD-tree or ball tree) and label issues from features alone; the cosine graph is ours."""
    from labelaudit.core.audit.graph import choose_metric

    if x is None:  # non_iid's graph is then built on pred_probs
        if "non_iid" in types and ctx is not None and choose_metric(ctx.n, ctx.k) == "euclidean":
            return "the euclidean neighbour graph of non_iid on pred_probs with at most 3 classes"
        return None
    if ctx is None and "label" in types:
        return "label issues from features without pred_probs"
    if any(t in KNN_TYPES for t in types) and choose_metric(*x.shape) == "euclidean":
        return "the euclidean neighbour graph of features with at most 3 columns"
    return None


def _needs(t: str, has_pp: bool, has_x: bool) -> str | None:
    """Why type `t` cannot run with these inputs, or None when it can."""
    if t in ("null", "near_duplicate") and not has_x:
        return "features"
    if t == "label" and not (has_pp or has_x):
        return "pred_probs or features"
    if t in ("outlier", "non_iid") and not (has_pp or has_x):
        return "features or pred_probs"
    if t == "underperforming_group" and not (has_pp and has_x):
        return "pred_probs and features"
    return None


def resolve_types(
    issue_types: Sequence[str] | str | None, has_pred_probs: bool, has_features: bool
) -> list[str]:
    """The types to run, in the run order: the selection (a list or a comma string), or every type whose
    inputs are given."""
    if issue_types is None:
        return [t for t in TYPES if _needs(t, has_pred_probs, has_features) is None]
    asked = [issue_types] if isinstance(issue_types, str) else list(issue_types)
    wanted = [t.strip() for item in asked for t in str(item).split(",") if t.strip()]
    unknown = [t for t in wanted if t not in TYPES]
    if unknown:
        raise InputError(f"unknown issue type {unknown[0]!r}; the issue types are {', '.join(TYPES)}")
    if not wanted:
        raise InputError(f"issue_types names no issue type; the issue types are {', '.join(TYPES)}")
    for t in wanted:
        missing = _needs(t, has_pred_probs, has_features)
        if missing is not None:
            raise InputError(f"issue type {t!r} needs {missing}")
    return [t for t in TYPES if t in wanted]


# ---------------------------------------------------------------------------------------------- inputs


def check_features(
    features: ArrayLike, n: int, *, source: str | None = None, labels_source: str | None = None
) -> np.ndarray:
    """The input policy of features: a 2-D (N, d) numeric array with the labels' N, d >= 1, and not every
    row identical. NaN is allowed (the null type counts it; the kNN types then fail)."""
    where = f"{source}: " if source else ""
    x = features if isinstance(features, np.ndarray) else np.asarray(features)
    if x.ndim != 2:
        raise InputError(f"{where}features must be a 2-D (N, d) array; got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise InputError(f"{where}features must be numbers; got dtype {x.dtype}")
    if x.shape[1] == 0:
        raise InputError(f"{where}features have no columns (shape {x.shape})")
    if x.shape[0] != n:
        labels = labels_source or "the labels"
        raise InputError(f"{where}features have {x.shape[0]} rows but {labels} has {n}")
    if _all_identical(x):
        raise InputError(
            f"{where}all {n} feature rows are identical (row 0 repeated): there is nothing to compare"
        )
    return x


def _all_identical(x: np.ndarray) -> bool:
    """Every row equal to row 0, read in blocks (stops at the first block that differs)."""
    first = np.asarray(x[0])
    if len(x) < 2:
        return False
    rows = max(1, (1 << 22) // max(1, x.shape[1]))
    for sl in row_slices(len(x), rows):
        if not (np.asarray(x[sl]) == first).all():
            return False
    return True


def _labels_only(labels: ArrayLike, class_names: Sequence[str] | None) -> tuple[np.ndarray, int]:
    y = np.asarray(labels)
    if y.ndim != 1 or not len(y):
        raise InputError(f"labels must be a non-empty 1-D array; got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise InputError(f"labels must be integers 0..K-1; got dtype {y.dtype}")
    k = len(class_names) if class_names is not None else int(y.max()) + 1
    return check_labels(y, n_classes=max(k, 1)), k


# ---------------------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class AuditResult:
    """What every type that ran found, in run order, and which failed (type -> message)."""

    n: int
    n_classes: int
    results: tuple[IssueResult, ...]
    failed: Mapping[str, str] = field(default_factory=dict)

    @property
    def health_score(self) -> float:
        """The mean of the dataset scores of the types that ran (NaN when none ran)."""
        return float(np.mean([r.score for r in self.results])) if self.results else float("nan")

    def result(self, issue_type: str) -> IssueResult | None:
        return next((r for r in self.results if r.issue_type == issue_type), None)


def run_types(
    labels: ArrayLike,
    pred_probs: ArrayLike | None = None,
    features: ArrayLike | None = None,
    *,
    issue_types: Sequence[str] | str | None = None,
    k: int = DEFAULT_K,
    n_jobs: int = 1,
    class_names: Sequence[str] | None = None,
    source: Mapping[str, str] | None = None,
    stage: Stage | None = None,
    context: Context | None = None,
) -> AuditResult:
    """Run the audit's issue types (see the module docstring) and return their results.

    context: the already-validated Context of labels and pred_probs (then `labels` must be its labels
    and `pred_probs` None): its thresholds and joint are reused. source: file names for messages
    ({"features": path, "labels": path}). stage: told each stage's name as it starts."""
    source = source or {}
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    ctx = context
    if ctx is None and pred_probs is not None:
        p = pred_probs if isinstance(pred_probs, np.ndarray) else np.asarray(pred_probs)
        ctx = Context.validated(labels, p, n_jobs=n_jobs)
    if ctx is not None:
        y, n_classes = ctx.labels, ctx.k
    else:
        y, n_classes = _labels_only(labels, class_names)
    x = None
    if features is not None:
        x = check_features(
            features, len(y), source=source.get("features"), labels_source=source.get("labels")
        )
    types = resolve_types(issue_types, ctx is not None, x is not None)
    if why := _needs_sklearn(types, ctx, x):
        from labelaudit.core.audit.graph import require_sklearn

        # a missing library is the user's to fix (exit 2), not a type that fails on these data
        require_sklearn(why)
    state = State(y, n_classes, ctx, x, k, n_jobs, stage=stage)
    results: list[IssueResult] = []
    failed: dict[str, str] = {}
    for t in types:
        if stage is not None:
            stage(t)
        try:
            results.append(RUNNERS[t](state))
        except TYPE_FAILURES as exc:
            why = str(exc) or type(exc).__name__
            failed[t] = why.removeprefix(f"{t}: ")  # the type is named once, in front
            warnings.warn(
                f"issue type {t} failed on these data and was skipped: {failed[t]}",
                LabelauditWarning,
                stacklevel=2,
            )
    return AuditResult(len(y), n_classes, tuple(results), failed)


# ---------------------------------------------------------------------------------------------- runners


def _null(s: State) -> IssueResult:
    from labelaudit.core.audit.null import null_issues

    assert s.features is not None
    return null_issues(s.features)


def _label(s: State) -> IssueResult:
    from labelaudit.core.audit.label import knn_pred_probs, label_issues

    if s.ctx is not None:
        return label_issues(s.ctx)
    assert s.features is not None
    # probabilities of the features' neighbours (not validated: a row whose exact duplicates outvote
    # it can go slightly negative, as in the reference)
    return label_issues(Context(s.labels, knn_pred_probs(s.labels, s.features, s.n_classes, k=s.k)))


def _class_imbalance(s: State) -> IssueResult:
    from labelaudit.core.audit.class_imbalance import class_imbalance_issues

    return class_imbalance_issues(s.labels, s.n_classes)


def _outlier(s: State) -> IssueResult:
    from labelaudit.core.audit.outlier import outlier

    if s.features is not None:
        return outlier(graph=s.graph(), k=s.k)
    return outlier(labels=s.labels, pred_probs=s.pred_probs, k=s.k)


def _near_duplicate(s: State) -> IssueResult:
    from labelaudit.core.audit.near_duplicate import near_duplicate

    return near_duplicate(graph=s.graph(), k=s.k)


def _non_iid(s: State) -> IssueResult:
    from labelaudit.core.audit.non_iid import non_iid

    if s.features is not None:
        return non_iid(graph=s.graph(), k=s.k)
    # without features the graph is built on pred_probs, for this type only (never shared)
    return non_iid(pred_probs=s.pred_probs, k=s.k, n_jobs=s.n_jobs)


def _underperforming_group(s: State) -> IssueResult:
    from labelaudit.core.audit.underperforming_group import underperforming_group

    assert s.pred_probs is not None
    return underperforming_group(graph=s.graph(), labels=s.labels, pred_probs=s.pred_probs, k=s.k)


RUNNERS: dict[str, Callable[[State], IssueResult]] = {
    "null": _null,
    "label": _label,
    "outlier": _outlier,
    "near_duplicate": _near_duplicate,
    "non_iid": _non_iid,
    "class_imbalance": _class_imbalance,
    "underperforming_group": _underperforming_group,
}
