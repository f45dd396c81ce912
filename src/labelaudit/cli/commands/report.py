"""labelaudit report: one self-contained HTML page of the whole audit, readable offline."""

from __future__ import annotations

from labelaudit.cli import options as o
from labelaudit.cli.app import app, command, err
from labelaudit.cli.common import audit_features, load_baseline
from labelaudit.errors import InputError

HTML_OUTPUTS = (".html", ".htm")


@app.command("report")
@command
def report(
    labels: o.Labels,
    pred_probs: o.PredProbs,
    output: o.HtmlOutput,
    features: o.AuditFeatures = None,
    n_neighbors: o.NNeighbors = 10,
    filter_by: o.FilterByOpt = o.FilterBy.prune_by_noise_rate,
    rank_by: o.RankBy = o.ScoreMethod.self_confidence,
    baseline: o.Baseline = None,
    baseline_any_data: o.BaselineAnyData = False,
    rows: o.ReportRows = 10_000,
    label_column: o.LabelColumn = None,
    prob_columns: o.ProbColumns = None,
    class_names: o.ClassNames = None,
    id_column: o.IdColumn = None,
    from_logits: o.FromLogits = False,
    batch_size: o.BatchSize = None,
    n_jobs: o.NJobs = 1,
    quiet: o.Quiet = False,
) -> None:
    """One self-contained HTML page (inline CSS, JS and SVG; no network resource; light and dark mode):
    the inputs with their sha256, the health score, the per-class table, the noise-matrix heatmap, the
    label-quality histogram, the overlapping class pairs and the ranked issues with a search box (and
    with --baseline, the new, persisting and fixed issues). With --features, the audit's issue types
    (those of labelaudit audit) and the worst examples of each.

    The numbers are those of health, overlap and find-issues with the same options.
    """
    from labelaudit.core.overview import overview
    from labelaudit.core.report import Detection
    from labelaudit.core.topk import context
    from labelaudit.html import render
    from labelaudit.io import ReadOptions, check_output_path, load_task, write_text

    if output == "-":
        raise InputError("-o -: the report is a file; give it a name ending in .html")
    check_output_path(output, HTML_OUTPUTS)
    read = ReadOptions(label_column, prob_columns, class_names, id_column, from_logits)
    ds = load_task("multiclass", labels, o.one_model(pred_probs, "report"), read)
    x = audit_features(ds, pred_probs[0], features, "report") if features is not None else None
    base = load_baseline(baseline, ds, id_column, baseline_any_data)
    ctx = context(ds.labels, ds.pred_probs, batch_size, n_jobs, ds.self_conf)  # top-k input too
    detection = Detection(filter_by.value, rank_by.value)
    audit = None
    if x is not None:  # the audit's types, as labelaudit audit runs them on the same context
        from labelaudit.core.audit import audit as run_audit
        from labelaudit.core.context import Context

        assert isinstance(ctx, Context)  # audit_features refused top-k input
        source = {"features": str(features), "labels": labels}
        audit = run_audit(
            ds.labels,
            features=x,
            context=ctx,
            k=n_neighbors,
            n_jobs=n_jobs,
            source=source,
            class_names=ds.class_names,
            ids=ds.ids,
        )
    ov = overview(ctx, detection, baseline=base, class_names=ds.class_names, ids=ds.ids, audit=audit)
    write_text(output, render(ov, [f.describe() for f in ds.files], rows=rows))
    if not quiet:
        err(f"{ov.health.headline}; {ov.issues.headline}; wrote {output}")
