"""Multi-issue data audit (the data-centric workflow): per example a score in [0, 1] (lower is worse) and a
flag for each issue type, per type a dataset score. Each type's module states its definitions and defaults.

`audit(labels, pred_probs, features)` returns the Report that `labelaudit audit` renders; `run_types`
the IssueResult of every type that ran (run.py says which run, in which order, on which shared state).
"""

from labelaudit.core.audit.report import audit, check_plan, example_table, parse_limits
from labelaudit.core.audit.result import IssueResult
from labelaudit.core.audit.run import KNN_TYPES, TYPES, AuditResult, check_features, resolve_types, run_types

__all__ = [
    "KNN_TYPES",
    "TYPES",
    "AuditResult",
    "IssueResult",
    "audit",
    "check_plan",
    "check_features",
    "example_table",
    "parse_limits",
    "resolve_types",
    "run_types",
]
