"""labelaudit clean: find label issues from features and fit the model on the examples that remain."""

from __future__ import annotations

from labelaudit.cli import options as o
from labelaudit.cli.app import app, command, err
from labelaudit.cli.common import check_outputs, finish
from labelaudit.cli.learning import FoldProgress, check_labels_for_folds, require_learn, run_params


@app.command("clean")
@command
def clean(
    features: o.Features,
    labels: o.Labels,
    model: o.ModelName = "logistic_regression",
    model_params: o.ModelParams = None,
    folds: o.Folds = 5,
    seed: o.LearnSeed = 0,
    pred_probs: o.CleanPredProbs = None,
    test_features: o.TestFeatures = None,
    test_labels: o.TestLabels = None,
    label_column: o.LabelColumn = None,
    output: o.ModelOut = None,
    cleaned_out: o.CleanedOut = None,
    fmt: o.LearnFmt = None,
    top: o.Top = None,
    n_jobs: o.FoldJobs = 1,
    quiet: o.Quiet = False,
) -> None:
    """Find label issues with out-of-sample pred_probs (cross-validated, or --pred-probs), then fit the
    model on the examples not flagged, weighting each class by the inverse of its estimated label
    accuracy when the model's fit takes sample weights.

    With a test set, both test accuracies are reported: the same model fitted on all examples, and the
    cleaned one. -o saves the cleaned model as .skops (never pickle) for `labelaudit predict`.
    """
    from labelaudit.io.training import load_test, load_training, write_cleaned
    from labelaudit.io.writers import ROW_FORMATS
    from labelaudit.learn import clean_fit, clean_report, model_spec, parse_model_params

    require_learn("clean", skops=output is not None)
    if output:
        check_outputs(output, (".skops",))
    if cleaned_out:
        check_outputs(cleaned_out, ROW_FORMATS)
    params = parse_model_params(model_params)
    model_spec(model, params, seed=seed)  # an unknown model or rejected keyword: before any input is read
    data = load_training(features, labels, label_column=label_column, pred_probs=pred_probs)
    if pred_probs is None:
        check_labels_for_folds(labels, data.labels, folds)
    test = load_test(test_features, test_labels, data, label_column=label_column)
    xt, yt = test if test is not None else (None, None)
    with FoldProgress(folds, quiet or pred_probs is not None) as bar:
        fit = clean_fit(
            data.features,
            data.labels,
            model=model,
            model_params=params,
            folds=folds,
            seed=seed,
            n_jobs=n_jobs,
            pred_probs=data.pred_probs,
            test_features=xt,
            test_labels=yt,
            progress=bar,
        )
    if output:
        from labelaudit.io.models import save_model

        save_model(output, fit.model)
    if cleaned_out:
        write_cleaned(cleaned_out, data, fit.issues["index"])
    run = {**run_params(model, params, folds, seed, n_jobs), "pred_probs_given": pred_probs is not None}
    report = clean_report(fit, {**run, "top": top}, data.class_names, top=top)
    finish(report, data.files, output=None, fmt=fmt, quiet=quiet, labels_path=labels)
    if not quiet:
        for path in (output, cleaned_out):
            if path:
                err(f"wrote {path}")
