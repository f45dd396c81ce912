"""labelaudit audit: every issue type of the data-centric workflow from labels, pred_probs and features."""

from __future__ import annotations

from labelaudit.cli import options as o
from labelaudit.cli.app import app, command
from labelaudit.cli.common import DOCUMENT_OUTPUTS, audit_features, check_outputs, finish


@app.command("audit")
@command
def audit(
    labels: o.Labels,
    pred_probs: o.PredProbs,
    features: o.AuditFeatures = None,
    issue_types: o.IssueTypes = None,
    n_neighbors: o.NNeighbors = 10,
    max_issues: o.TypeMaxIssues = None,
    fail_under: o.TypeFailUnder = None,
    output: o.AuditOutput = None,
    fmt: o.Format = None,
    top: o.AuditTop = None,
    label_column: o.LabelColumn = None,
    prob_columns: o.ProbColumns = None,
    class_names: o.ClassNames = None,
    id_column: o.IdColumn = None,
    from_logits: o.FromLogits = False,
    n_jobs: o.NJobs = 1,
    quiet: o.Quiet = False,
) -> None:
    """Audit a dataset for every issue type its inputs allow: label, outlier, near_duplicate, non_iid,
    class_imbalance, underperforming_group and null.

    Without --features: label, outlier (scored from pred_probs), non_iid (on a graph of pred_probs) and
    class_imbalance. With --features, all seven, sharing one exact k-nearest-neighbour graph. Per example
    a score in [0, 1] (lower is worse) and a flag for each type; per type a dataset score; the health
    score is their mean. A type that cannot run on these data (e.g. N <= --n-neighbors) is reported on
    stderr and skipped. -o writes one row per example (.parquet, .csv, .tsv, .jsonl; .json: the report).
    """
    from labelaudit.cli.views import StageProgress
    from labelaudit.core.audit import audit as run_audit
    from labelaudit.core.audit import check_plan
    from labelaudit.core.context import Context
    from labelaudit.io import ReadOptions, load_task

    check_outputs(output, DOCUMENT_OUTPUTS, fmt)
    check_plan(issue_types, True, features is not None, max_issues, fail_under)  # before any file is read
    read = ReadOptions(label_column, prob_columns, class_names, id_column, from_logits)
    ds = load_task("multiclass", labels, o.one_model(pred_probs, "audit"), read)
    x = audit_features(ds, pred_probs[0], features, "audit")
    ctx = Context(ds.labels, ds.pred_probs, None, n_jobs, ds.self_conf)
    with StageProgress(quiet) as stage:
        report = run_audit(
            ds.labels,
            features=x,
            context=ctx,
            issue_types=issue_types,
            k=n_neighbors,
            n_jobs=n_jobs,
            class_names=ds.class_names,
            ids=ds.ids,
            max_issues=max_issues,
            fail_under=fail_under,
            top=top,
            source={"features": features or "", "labels": labels},
            stage=stage,
        )
    finish(report, ds.files, output=output, fmt=fmt, quiet=quiet, labels_path=labels, json_document=True)
