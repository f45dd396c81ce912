"""The audit as a Report: the summary table, the per-example table, each type's details and the gates.

    audit(labels, pred_probs=None, features=None, *, issue_types=None, k=10, n_jobs=1, class_names=None,
          ids=None, max_issues=None, fail_under=None, top=None) -> Report

Tables: `issue_summary` (issue_type, score, num_issues in run order; the listing of `--format csv`).
file_table (what `-o` writes): one row per example in input order: index, id (when known), given_label,
predicted_label (with pred_probs), given_name / predicted_name (with class names), then the columns of
every type that ran, in run order (is_<type>_issue, <type>_score and the type's extra columns).
results: health_score, issue_types (those that ran), failed (type -> why), details (per type: score,
num_issues, the flagged examples worst first, and the type's info).

Gates: max_issues {type: N} fails when a type flags more than N examples; fail_under {type: SCORE} when
its dataset score is below SCORE ("health" for the health score). A gate on a type that failed on these
data fails, saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from labelaudit.core.audit.result import IssueResult
from labelaudit.core.audit.run import DEFAULT_K, TYPES, AuditResult, Stage, resolve_types, run_types
from labelaudit.core.context import Context
from labelaudit.core.report import Columns, Gate, Report
from labelaudit.errors import InputError

HEALTH = "health"  # the name --fail-under uses for the health score
WORST_SHOWN = 5  # examples per type on a terminal without --top
NAMED = {"given_label": "given_name", "predicted_label": "predicted_name"}


def parse_limits(
    values: Sequence[str] | Mapping[str, Any] | None, option: str, *, score: bool
) -> dict[str, float]:
    """TYPE=VALUE limits ("label=10", repeatable, or a mapping) as {type: value}, checked: a known type
    (or "health" for scores), an integer >= 0 for counts, a number in [0, 1] for scores."""
    if values is None:
        return {}
    pairs = list(values.items()) if isinstance(values, Mapping) else [_split(v, option) for v in values]
    names = (*TYPES, HEALTH) if score else TYPES
    out: dict[str, float] = {}
    for name, raw in pairs:
        if name not in names:
            raise InputError(f"{option}: unknown issue type {name!r}; use one of {', '.join(names)}")
        try:
            value = float(raw) if score else int(str(raw))
        except ValueError:
            kind = "a number in [0, 1]" if score else "an integer >= 0"
            raise InputError(f"{option} {name}=VALUE needs {kind}; got {raw!r}") from None
        if (score and not 0.0 <= value <= 1.0) or (not score and value < 0):
            kind = "in [0, 1]" if score else ">= 0"
            raise InputError(f"{option} {name}=VALUE must be {kind}; got {raw!r}")
        out[name] = value
    return out


def _split(text: str, option: str) -> tuple[str, str]:
    name, sep, value = str(text).partition("=")
    if not sep or not name.strip() or not value.strip():
        raise InputError(f"{option} takes TYPE=VALUE (e.g. label=10); got {text!r}")
    return name.strip(), value.strip()


def check_plan(
    issue_types: Sequence[str] | str | None,
    has_pred_probs: bool,
    has_features: bool,
    max_issues: Sequence[str] | Mapping[str, int] | None = None,
    fail_under: Sequence[str] | Mapping[str, float] | None = None,
) -> tuple[list[str], dict[str, float], dict[str, float]]:
    """(types to run, max_issues limits, fail_under floors), every option checked before anything is
    read: known types whose inputs are given, well-formed limits, and no gate on a type not run."""
    types = resolve_types(issue_types, has_pred_probs, has_features)
    limits = parse_limits(max_issues, "--max-issues", score=False)
    floors = parse_limits(fail_under, "--fail-under", score=True)
    for name in [*limits, *floors]:
        if name != HEALTH and name not in types:
            raise InputError(f"a gate names issue type {name!r}, which this audit does not run")
    return types, limits, floors


def audit(
    labels: ArrayLike,
    pred_probs: ArrayLike | None = None,
    features: ArrayLike | None = None,
    *,
    issue_types: Sequence[str] | str | None = None,
    k: int = DEFAULT_K,
    n_jobs: int = 1,
    class_names: Sequence[str] | None = None,
    ids: np.ndarray | None = None,
    max_issues: Sequence[str] | Mapping[str, int] | None = None,
    fail_under: Sequence[str] | Mapping[str, float] | None = None,
    top: int | None = None,
    source: Mapping[str, str] | None = None,
    stage: Stage | None = None,
    context: Context | None = None,
) -> Report:
    """Audit a dataset for every issue type its inputs allow (or `issue_types`), as a Report."""
    has_pp = pred_probs is not None or context is not None
    _, limits, floors = check_plan(issue_types, has_pp, features is not None, max_issues, fail_under)
    run = run_types(
        labels,
        pred_probs,
        features,
        issue_types=issue_types,
        k=k,
        n_jobs=n_jobs,
        class_names=class_names,
        source=source,
        stage=stage,
        context=context,
    )
    asked = [r.issue_type for r in run.results] + list(run.failed)
    names = list(class_names) if class_names is not None else None
    summary = {
        "issue_type": [r.issue_type for r in run.results],
        "score": np.array([r.score for r in run.results], dtype=np.float64),
        "num_issues": np.array([r.num_issues for r in run.results], dtype=np.int64),
    }
    details = {r.issue_type: _details(r, top) for r in run.results}
    counts = ", ".join(f"{r.issue_type} {r.num_issues}" for r in run.results)
    headline = f"health score {run.health_score:.4f} over {len(run.results)} issue types in {run.n} examples"
    headline += f" (issues: {counts})" if counts else ""
    headline += f"; failed: {', '.join(run.failed)}" if run.failed else ""
    params: dict[str, Any] = {
        "issue_types": [t for t in TYPES if t in asked],
        "k": k,
        "max_issues": {t: int(v) for t, v in limits.items()},
        "fail_under": floors,
        "top": top,
    }
    return Report(
        command="audit",
        params=params,
        n=run.n,
        k=run.n_classes,
        class_names=names,
        headline=headline,
        tables={"issue_summary": summary},
        results={
            "health_score": run.health_score,
            "issue_types": [r.issue_type for r in run.results],
            "failed": dict(run.failed),
            "details": details,
        },
        gates=_gates(run, limits, floors),
        file_table=example_table(run, ids, names),
        views=("audit_summary", "audit_examples"),
        view_data={"worst": {r.issue_type: _worst(r, ids, names, top) for r in run.results}},
    )


def _order(r: IssueResult) -> np.ndarray:
    """The flagged examples, lowest score first (ties by index)."""
    flagged = np.flatnonzero(r.flags)
    return flagged[np.argsort(np.asarray(r.scores)[flagged], kind="stable")]


def _details(r: IssueResult, top: int | None) -> dict[str, Any]:
    order = _order(r)
    return {
        "score": r.score,
        "num_issues": r.num_issues,
        "issues": order[:top].tolist() if top is not None else order.tolist(),
        "info": dict(r.info),
    }


def _worst(r: IssueResult, ids: np.ndarray | None, names: list[str] | None, top: int | None) -> Columns:
    """The rows a terminal shows for a type: its flagged examples, worst first."""
    rows = _order(r)[: WORST_SHOWN if top is None else top]
    cols: Columns = {"index": rows}
    if ids is not None:
        cols["id"] = np.asarray(ids)[rows]
    cols["score"] = np.asarray(r.scores, dtype=np.float64)[rows]
    for key in ("given_label", "predicted_label", "near_duplicate_sets", "distance_to_nearest_neighbor"):
        if key in r.columns:
            col = r.columns[key]
            values = [col[i] for i in rows] if isinstance(col, list) else np.asarray(col)[rows]
            if key == "near_duplicate_sets":
                values = [np.asarray(v).tolist() for v in values]
            if key in NAMED and names is not None:
                values = np.asarray(names, dtype=object)[np.asarray(values, dtype=np.int64)]
            cols[key] = values
    return cols


def example_table(run: AuditResult, ids: np.ndarray | None, names: list[str] | None) -> Columns:
    """One row per example, in input order (see the module docstring for the columns)."""
    cols: Columns = {"index": np.arange(run.n, dtype=np.int64)}
    if ids is not None:
        cols["id"] = np.asarray(ids)
    label = run.result("label")
    shared = ("given_label", "predicted_label")
    if label is not None:
        cols.update({c: label.columns[c] for c in shared})
    if names is not None:
        named = np.asarray(names, dtype=object)
        for c in shared:
            if c in cols:
                cols[NAMED[c]] = named[np.asarray(cols[c], dtype=np.int64)]
    for r in run.results:
        for name, col in r.columns.items():
            if name not in cols:
                cols[name] = col
    return cols


def _gates(run: AuditResult, limits: Mapping[str, float], floors: Mapping[str, float]) -> tuple[Gate, ...]:
    gates: list[Gate] = []
    for t, limit in limits.items():
        r = run.result(t)
        what = "{} " + t + " issues"
        if r is None:
            gates.append(Gate("max_issues", what, int(limit), float("nan"), text=_failed(run, t)))
        else:
            gates.append(Gate("max_issues", what, int(limit), r.num_issues))
    for t, floor in floors.items():
        what = f"{t} score {{}}"
        if t == HEALTH:
            value = run.health_score
            text = "" if run.results else "no issue type ran, so there is no health score"
            gates.append(Gate("fail_under", what, floor, value, below=True, text=text))
            continue
        r = run.result(t)
        text = _failed(run, t) if r is None else ""
        gates.append(
            Gate("fail_under", what, floor, float("nan") if r is None else r.score, below=True, text=text)
        )
    return tuple(gates)


def _failed(run: AuditResult, t: str) -> str:
    return f"issue type {t} failed on these data, so its gate cannot pass ({run.failed.get(t, 'not run')})"
