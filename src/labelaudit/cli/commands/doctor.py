"""labelaudit doctor: check the inputs without judging any label, and say what to fix."""

from __future__ import annotations

from labelaudit.cli import options as o
from labelaudit.cli.app import app, command
from labelaudit.cli.common import finish


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
    from labelaudit.core.diagnose import doctor as diagnose
    from labelaudit.io.readers import read_inputs

    raw = read_inputs(
        labels,
        o.one_model(pred_probs, "doctor"),
        label_column=label_column,
        prob_columns=prob_columns,
        class_names_path=class_names,
        id_column=id_column,
    )
    report = diagnose(raw.labels, raw.pred_probs, raw.class_names, batch_size)
    finish(report, raw.files, output=None, fmt=fmt, quiet=quiet, labels_path=labels)
