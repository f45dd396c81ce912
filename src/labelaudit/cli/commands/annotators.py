"""labelaudit annotators: consensus labels, their quality, and each annotator's quality (CROWDLAB)."""

from __future__ import annotations

from labelaudit.cli import options as o
from labelaudit.cli.app import app, command
from labelaudit.cli.common import LISTING_OUTPUTS, check_outputs, finish
from labelaudit.errors import InputError


@app.command("annotators")
@command
def annotators(
    labels: o.Annotations,
    pred_probs: o.PredProbs,
    long: o.Long = False,
    consensus_method: o.ConsensusMethodOpt = o.ConsensusMethod.best_quality,
    quality_method: o.QualityMethodOpt = o.QualityMethod.crowdlab,
    active_learning: o.ActiveLearning = False,
    min_annotator_quality: o.MinAnnotatorQuality = None,
    top: o.Top = None,
    output: o.Output = None,
    fmt: o.Format = None,
    id_column: o.IdColumn = None,
    annotator_column: o.AnnotatorColumn = "annotator",
    label_column: o.LabelColumn = None,
    prob_columns: o.ProbColumns = None,
    class_names: o.ClassNames = None,
    from_logits: o.FromLogits = False,
    quiet: o.Quiet = False,
) -> None:
    """Consensus labels from several annotators per example, their quality, and each annotator's quality
    (CROWDLAB: the annotators and the model, weighted by their estimated accuracy).

    Per example: consensus_label, consensus_quality_score, annotator_agreement, num_annotations and
    is_label_issue (confident learning on the consensus labels against pred_probs). Per annotator:
    annotator_quality, agreement_with_consensus, worst_class, num_examples_labeled. A .csv, .tsv,
    .parquet or .jsonl output holds every example in input order; .json the whole report; .npy the
    consensus labels.
    """
    from labelaudit.core.multiannotator import audit_annotators
    from labelaudit.io.multiannotator import load_annotations

    check_outputs(output, LISTING_OUTPUTS, fmt)
    if not long:
        for name in ("annotator_column", "label_column"):
            if o.given(name):
                raise InputError(
                    f"--{name.replace('_', '-')} needs --long (a wide table has one column per annotator)"
                )
    data = load_annotations(
        labels,
        o.one_model(pred_probs, "annotators"),
        long=long,
        id_column=id_column,
        annotator_column=annotator_column,
        label_column=label_column or "label",
        prob_columns=prob_columns,
        class_names_path=class_names,
        from_logits=from_logits,
    )
    report = audit_annotators(
        data.annotations,  # checked once, by load_annotations
        data.pred_probs,
        consensus_method=consensus_method.value,
        quality_method=quality_method.value,
        active_learning=active_learning,
        min_annotator_quality=min_annotator_quality,
        top=top,
        class_names=data.class_names,
        annotator_ids=data.annotators,
        ids=data.ids,
    )
    finish(report, data.files, output=output, fmt=fmt, quiet=quiet, labels_path=labels, json_document=True)
