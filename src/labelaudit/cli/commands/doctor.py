"""labelaudit doctor: check the inputs without judging any label, and say what to fix."""

from __future__ import annotations

from labelaudit import __version__
from labelaudit.cli import options as o
from labelaudit.cli import render
from labelaudit.cli.app import GateFailed, app, command


@app.command("doctor")
@command
def doctor(
    labels: o.Labels,
    pred_probs: o.PredProbs,
    fmt: o.Format = None,
    label_column: o.LabelColumn = None,
    prob_columns: o.ProbColumns = None,
    class_names: o.ClassNames = None,
    id_column: o.IdColumn = None,
    batch_size: o.BatchSize = None,
    quiet: o.Quiet = False,
) -> None:
    """Check the inputs without judging labels; exit 1 when something must be fixed.

    Checks: logits passed as probabilities, NaN/inf, row-sum drift, float16 precision, classes absent from
    labels or predictions, K mismatch, in-sample predictions."""
    from labelaudit.core.diagnose import diagnose
    from labelaudit.io.readers import read_inputs

    raw = read_inputs(
        labels,
        pred_probs,
        label_column=label_column,
        prob_columns=prob_columns,
        class_names_path=class_names,
        id_column=id_column,
    )
    findings = diagnose(raw.labels, raw.pred_probs, raw.class_names, batch_size)
    errors = [f for f in findings if f.severity == "error"]
    warnings_ = [f for f in findings if f.severity == "warning"]
    verdict = (
        f"{len(errors)} problem(s) to fix before auditing labels"
        if errors
        else f"ready to audit ({len(warnings_)} warning(s))"
        if warnings_
        else "ready to audit"
    )
    fmt_name = render.resolve_format(fmt)
    if fmt_name == "junit":
        render.print_findings_junit(findings, verdict)
    elif fmt_name == "github":
        render.print_findings_github(findings, verdict, labels)
    elif fmt_name == "json":
        render.print_json(
            {
                "version": __version__,
                "command": "doctor",
                "inputs": [f.describe() for f in raw.files],
                "verdict": verdict,
                "ok": not errors,
                "findings": [f.__dict__ for f in findings],
            }
        )
    elif fmt_name == "csv":
        render.print_csv(
            {k: [getattr(f, k) for f in findings] for k in ("check", "severity", "message", "fix")}
        )
    else:
        render.print_findings(findings, verdict)
    if errors:
        raise GateFailed(f"doctor: {verdict}: " + "; ".join(f.check for f in errors))
