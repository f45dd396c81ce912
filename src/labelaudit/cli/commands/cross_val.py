"""labelaudit cross-val: out-of-sample pred_probs from features, by stratified K-fold cross-validation."""

from __future__ import annotations

from labelaudit.cli import options as o
from labelaudit.cli.app import app, command
from labelaudit.cli.common import finish
from labelaudit.cli.learning import (
    FoldProgress,
    check_labels_for_folds,
    check_npy_output,
    require_learn,
    run_params,
)
from labelaudit.errors import InputError


@app.command("cross-val")
@command
def cross_val(
    features: o.Features,
    labels: o.Labels,
    output: o.PredProbsOut,
    model: o.ModelName = "logistic_regression",
    model_params: o.ModelParams = None,
    folds: o.Folds = 5,
    seed: o.LearnSeed = 0,
    dtype: o.LearnDtype = "float64",
    label_column: o.LabelColumn = None,
    fmt: o.LearnFmt = None,
    n_jobs: o.FoldJobs = 1,
    quiet: o.Quiet = False,
) -> None:
    """Out-of-sample predicted probabilities from features: each row predicted by a model fitted on the
    other folds (stratified, shuffled, seeded K-fold), written as the (N, K) pred_probs .npy that
    find-issues, rank and health read.

    Models are scikit-learn's, with its defaults unless --model-params sets them; each fit uses one
    thread, and --n-jobs fits folds side by side, so the numbers never depend on --n-jobs or the machine.
    """
    from labelaudit.io.training import load_training
    from labelaudit.learn import (
        DTYPES,
        cross_val_pred_probs,
        cross_val_report,
        model_spec,
        parse_model_params,
    )

    require_learn("cross-val")
    check_npy_output("cross-val", output, fmt)
    if dtype not in DTYPES:
        raise InputError(f"--dtype must be float64 or float32, got {dtype!r}")
    params = parse_model_params(model_params)
    model_spec(model, params, seed=seed)  # an unknown model or rejected keyword: before any input is read
    data = load_training(features, labels, label_column=label_column)
    check_labels_for_folds(labels, data.labels, folds)
    with FoldProgress(folds, quiet) as bar:
        p = cross_val_pred_probs(
            data.features,
            data.labels,
            model=model,
            model_params=params,
            folds=folds,
            seed=seed,
            n_jobs=n_jobs,
            dtype=dtype,
            progress=bar,
        )
    run = {**run_params(model, params, folds, seed, n_jobs), "dtype": dtype}
    report = cross_val_report(p, data.labels, run, data.class_names)
    finish(report, data.files, output=output, fmt=fmt, quiet=quiet, labels_path=labels)
