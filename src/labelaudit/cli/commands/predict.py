"""labelaudit predict: classes or probabilities from a model file written by `labelaudit clean -o`."""

from __future__ import annotations

from labelaudit.cli import options as o
from labelaudit.cli.app import app, command
from labelaudit.cli.common import finish
from labelaudit.cli.learning import check_npy_output, require_learn
from labelaudit.errors import InputError


@app.command("predict")
@command
def predict(
    model_file: o.ModelFile,
    features: o.Features,
    output: o.PredictionsOut,
    proba: o.Proba = False,
    trust: o.Trust = None,
    fmt: o.LearnFmt = None,
    quiet: o.Quiet = False,
) -> None:
    """Predict with a saved model: int64 classes, or with --proba the (N, K) float64 probabilities, as .npy.

    The model file is loaded through skops' trusted-types check: a file that needs any other type than
    scikit-learn's own is refused unless each such type is named with --trust.
    """
    from labelaudit.io import InputFile
    from labelaudit.io.features import read_features
    from labelaudit.io.models import load_model
    from labelaudit.learn import predict as run_model
    from labelaudit.learn import predict_report

    require_learn("predict", skops=True)
    check_npy_output("predict", output, fmt)
    fitted = load_model(model_file, trusted=trust or ())
    x = read_features(features)
    try:
        out = run_model(fitted, x, proba=proba)
    except InputError as exc:
        raise InputError(f"{features}: {exc}") from None
    report = predict_report(out, fitted, {"proba": proba, "model": type(fitted).__name__})
    files = [InputFile("model", model_file), InputFile("features", features)]
    finish(report, files, output=output, fmt=fmt, quiet=quiet, labels_path=features)
