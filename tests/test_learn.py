"""labelaudit.learn: cross-validated pred_probs and the cleaned fit, against the reference's outputs
(tests/golden/expected_cleanlearning, made by tests/golden/generate_golden_cleanlearning.py), and the
rules its inputs follow.

The reference numbers come from scikit-learn's LogisticRegression with its defaults, max_iter=100
included, which stops before converging on the unscaled digits pixels: parity needs that same stopping
point, so those tests ignore scikit-learn's ConvergenceWarning (and only it) on purpose.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from labelaudit import learn
from labelaudit.errors import InputError, LabelauditWarning

GOLDEN = Path(__file__).parent / "golden"
SETS = ("digits", "blobs4")
CONVERGENCE = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@cache
def data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features, noisy labels, test features, clean test labels) of a golden set."""
    d = GOLDEN / "inputs_cleanlearning" / name
    y, yt = np.load(d / "train_labels.npy"), np.load(d / "test_labels.npy")
    if name == "digits":
        x, _ = load_digits(return_X_y=True)
        return x[np.load(d / "train_index.npy")], y, x[np.load(d / "test_index.npy")], yt
    return np.load(d / "train_features.npy"), y, np.load(d / "test_features.npy"), yt


@cache
def expected(name: str) -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "expected_cleanlearning" / f"{name}.npz") as z:
        return {k: z[k] for k in z.files}


@cache
def cleaned(name: str) -> learn.CleanFit:
    x, y, xt, yt = data(name)
    return learn.clean_fit(x, y, seed=0, test_features=xt, test_labels=yt)


# ---------------------------------------------------------------------------------------------- parity


@CONVERGENCE
@pytest.mark.parametrize("name", SETS)
def test_cross_val_pred_probs_match_reference(name):
    x, y, _, _ = data(name)
    p = learn.cross_val_pred_probs(x, y, model="logistic_regression", folds=5, seed=0)
    assert p.dtype == np.float64 and p.shape == expected(name)["pred_probs"].shape
    np.testing.assert_allclose(p, expected(name)["pred_probs"], rtol=0, atol=1e-6)


@CONVERGENCE
def test_cross_val_same_for_any_n_jobs():
    x, y, _, _ = data("digits")
    one = learn.cross_val_pred_probs(x, y, n_jobs=1)
    assert np.array_equal(learn.cross_val_pred_probs(x, y, n_jobs=2), one)
    assert np.array_equal(learn.cross_val_pred_probs(x, y, n_jobs=-1), one)


def test_fold_warnings_are_issued_once_with_a_count():
    x, y, _, _ = data("digits")
    with pytest.warns(ConvergenceWarning) as record:
        learn.cross_val_pred_probs(x, y, n_jobs=2)
    assert len(record) == 1 and str(record[0].message).endswith("[5 times]")
    assert record[0].filename == __file__  # issued at the caller's line
    with pytest.warns(ConvergenceWarning, match=r"\[7 times\]"):  # 5 folds, the cleaned and the plain fit
        learn.clean_fit(x, y, test_features=x[:10], test_labels=y[:10])


@CONVERGENCE
@pytest.mark.parametrize("name", SETS)
def test_clean_fit_flags_the_reference_set(name):
    fit, want = cleaned(name), expected(name)
    # CleanLearning.find_label_issues and the mask that CleanLearning.fit removes are the same set here.
    assert np.array_equal(want["issues"], want["fit_issues"])
    assert np.array_equal(np.sort(fit.issues["index"]), want["issues"])
    assert fit.n_removed == len(want["issues"]) and fit.n_examples == len(data(name)[1])
    assert np.array_equal(np.flatnonzero(fit.is_label_issue), want["issues"])
    rows = fit.issues["index"]
    np.testing.assert_allclose(fit.issues["label_quality"], want["label_quality"][rows], rtol=1e-9)
    assert np.array_equal(fit.issues["predicted_label"], want["predicted_label"][rows])
    assert np.array_equal(fit.issues["given_label"], data(name)[1][rows])
    # most severe first: label quality increasing, ties by index
    assert np.array_equal(rows, rows[np.lexsort((rows, fit.issues["label_quality"]))])


@CONVERGENCE
@pytest.mark.parametrize("name", SETS)
def test_clean_fit_model_and_accuracies_match_reference(name):
    fit, want = cleaned(name), expected(name)
    assert fit.test_accuracy_cleaned == float(want["test_accuracy_cleaned"])
    assert fit.test_accuracy_plain == float(want["test_accuracy_plain"])
    assert fit.n_test == len(data(name)[3])
    assert fit.sample_weight is not None
    np.testing.assert_allclose(fit.sample_weight, want["sample_weight"], rtol=1e-12)
    np.testing.assert_allclose(fit.model.coef_, want["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.model.intercept_, want["intercept"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.model.predict_proba(data(name)[2]), want["test_pred_probs"], atol=1e-6)


def test_digits_numbers():
    """The figures the README quotes (and the specification's verification section)."""
    want = expected("digits")
    assert len(want["issues"]) == 177
    assert round(float(want["test_accuracy_plain"]) * 497) == 438
    assert round(float(want["test_accuracy_cleaned"]) * 497) == 459


@CONVERGENCE
def test_clean_fit_with_given_pred_probs_skips_cross_validation():
    x, y, xt, yt = data("digits")
    p = expected("digits")["pred_probs"]
    calls = []
    fit = learn.clean_fit(
        x, y, pred_probs=p, test_features=xt, test_labels=yt, progress=lambda f, n: calls.append(f)
    )
    assert calls == []
    assert np.array_equal(np.sort(fit.issues["index"]), expected("digits")["issues"])
    assert fit.test_accuracy_cleaned == float(expected("digits")["test_accuracy_cleaned"])
    assert np.array_equal(fit.pred_probs, p)


def test_clean_fit_worked_example_weights(example_a):
    """Specification §6.5: every class has at most 10 examples, so nothing is removed, and the weights are
    1 / NM[k, k] of the given class."""
    labels, probs = example_a
    x = np.arange(24, dtype=np.float64).reshape(12, 2)
    with pytest.warns(LabelauditWarning, match="min_examples_per_class=10"):
        fit = learn.clean_fit(x, labels, pred_probs=probs)
    assert fit.n_removed == 0 and len(fit.issues["index"]) == 0
    w = {0: 2.5, 1: 1 / 0.6, 2: 1.0}
    np.testing.assert_allclose(fit.sample_weight, [w[int(c)] for c in labels], rtol=1e-12)
    assert fit.test_accuracy_plain is None and fit.test_accuracy_cleaned is None
    assert fit.to_dict()["issues"] == [] and fit.to_dict()["n_removed"] == 0


def test_stratified_folds_worked_example():
    """Specification §2.5."""
    y = [2, 0, 2, 1, 0, 0, 2, 1, 0, 0, 1, 0]
    assert learn.stratified_folds(y, folds=3, seed=0).tolist() == [2, 2, 1, 2, 1, 0, 0, 0, 1, 0, 1, 2]


# ---------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("logistic_regression", {"max_iter": 1000}),
        ("hist_gradient_boosting", {"max_iter": 10}),
        ("random_forest", {"n_estimators": 10}),
        ("knn", {"n_neighbors": 7}),
        ("sklearn.naive_bayes:GaussianNB", None),
    ],
)
def test_named_and_imported_models(model, params):
    x, y, _, _ = data("blobs4")
    p = learn.cross_val_pred_probs(x, y, model=model, model_params=params, folds=3, dtype="float32")
    assert p.dtype == np.float32 and p.shape == (len(y), 4)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    again = learn.cross_val_pred_probs(x, y, model=model, model_params=params, folds=3, n_jobs=2)
    assert np.array_equal(again.astype(np.float32), p)
    assert (np.argmax(p, axis=1) == y).mean() > 0.6


def test_random_state_comes_from_seed():
    x, y, _, _ = data("blobs4")
    kw = {"model": "random_forest", "folds": 3}
    p = learn.cross_val_pred_probs(x, y, model_params={"n_estimators": 5}, seed=3, **kw)
    same = learn.cross_val_pred_probs(x, y, model_params={"n_estimators": 5, "random_state": 3}, seed=3, **kw)
    other = learn.cross_val_pred_probs(
        x, y, model_params={"n_estimators": 5, "random_state": 4}, seed=3, **kw
    )
    assert np.array_equal(p, same) and not np.array_equal(p, other)


def test_estimator_instance_is_cloned_not_fitted():
    x, y, xt, yt = data("blobs4")
    given = LogisticRegression(max_iter=1000)
    fit = learn.clean_fit(x, y, model=given, folds=3, test_features=xt, test_labels=yt)
    assert not hasattr(given, "coef_") and fit.model is not given and hasattr(fit.model, "coef_")
    by_name = learn.clean_fit(x, y, model_params={"max_iter": 1000}, folds=3)
    assert np.array_equal(fit.issues["index"], by_name.issues["index"])


def test_model_without_sample_weight_gets_none():
    x, y, xt, yt = data("blobs4")
    fit = learn.clean_fit(x, y, model="knn", folds=3, test_features=xt, test_labels=yt)
    assert fit.sample_weight is None and fit.n_removed > 0
    assert 0.5 < fit.test_accuracy_cleaned <= 1 and 0.5 < fit.test_accuracy_plain <= 1
    # GaussianNB's fit takes sample_weight, so it is weighted like the logistic regression
    assert learn.clean_fit(x, y, model="sklearn.naive_bayes:GaussianNB", folds=3).sample_weight is not None


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_progress_once_per_fold(n_jobs):
    x, y, _, _ = data("blobs4")
    calls: list[tuple[int, int]] = []
    learn.cross_val_pred_probs(
        x, y, model="knn", folds=4, n_jobs=n_jobs, progress=lambda f, n: calls.append((f, n))
    )
    assert sorted(calls) == [(0, 4), (1, 4), (2, 4), (3, 4)]


def test_features_may_be_integers_or_a_table():
    pd = pytest.importorskip("pandas")
    x, y, _, _ = data("blobs4")
    xi = np.round(x * 10).astype(np.int64)
    p = learn.cross_val_pred_probs(xi, y, model="knn", folds=3)
    frame = pd.DataFrame(xi, columns=["a", "b"])
    assert np.array_equal(learn.cross_val_pred_probs(frame, pd.Series(y), model="knn", folds=3), p)


# ---------------------------------------------------------------------------------------------- errors

X4 = np.random.default_rng(0).standard_normal((40, 3))
Y4 = np.arange(40) % 4


def _raises(match: str, **kwargs):
    args = {"features": X4, "labels": Y4, "model": "knn", "folds": 3, **kwargs}
    with pytest.raises(InputError, match=match):
        learn.cross_val_pred_probs(args.pop("features"), args.pop("labels"), **args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"features": X4[:30]}, r"features have 30 rows but labels have 40"),
        ({"features": X4[:, 0]}, r"features must be 2-D \(N, n_features\), got shape \(40,\)"),
        ({"features": X4.reshape(40, 3, 1)}, r"got shape \(40, 3, 1\); flatten each example"),
        ({"features": X4.astype(str)}, r"features must be numeric, got dtype <U"),
        (
            {"features": np.where(np.arange(120).reshape(40, 3) == 37, np.nan, X4)},
            r"row 12 holds nan \(1 rows",
        ),
        (
            {"features": np.where(np.arange(120).reshape(40, 3) >= 60, np.inf, X4)},
            r"row 20 holds inf \(20 rows",
        ),
        (
            {"labels": np.where(Y4 == 3, 5, Y4)},
            r"every class 0\.\.5 .*2 class\(es\) have no example \(3, 4\)",
        ),
        ({"labels": np.zeros(40, dtype=int)}, r"at least 2 classes"),
        ({"labels": Y4 - 1}, r"labels must be class ids 0\.\.K-1; row 0 holds -1"),
        ({"labels": Y4 + 0.5}, r"labels must be integers; row 0 holds 0\.5"),
        ({"folds": 1}, r"folds must be an integer >= 2, got 1"),
        ({"folds": 41}, r"folds=41 is more than the 40 examples"),
        ({"seed": -1}, r"seed must be an integer in 0\.\.2\*\*32-1, got -1"),
        ({"dtype": "float16"}, r"dtype must be one of float64, float32, got 'float16'"),
        ({"n_jobs": 0}, r"n_jobs must be >= 1, got 0"),
        ({"model": "xgboost"}, r"unknown model 'xgboost': use one of logistic_regression, hist_gradient"),
        ({"model": "no_such_module_x:Model"}, r"cannot import module 'no_such_module_x'"),
        (
            {"model": "sklearn.linear_model:NoSuchModel"},
            r"module 'sklearn.linear_model' has no 'NoSuchModel'",
        ),
        ({"model": "sklearn.svm:LinearSVC"}, r"model sklearn.svm:LinearSVC has no predict_proba"),
        ({"model": "numpy:mean"}, r"model 'numpy:mean' is not a class"),
        ({"model_params": {"n_neighbours": 3}}, r"model_params are not accepted by knn: .*n_neighbours"),
        ({"model_params": {"n_neighbors": -3}}, r"model knn rejects its parameters: .*n_neighbors"),
        ({"model_params": {"n_neighbors": -3}, "n_jobs": 2}, r"model knn rejects its parameters"),
        (
            {"model": GaussianNB(), "model_params": {"var_smoothing": 1.0}},
            r"model_params apply to a model given by name",
        ),
        ({"model": GaussianNB}, r"model must be a name, 'module:Class' or an estimator instance"),
    ],
)
def test_bad_inputs(kwargs, match):
    _raises(match, **kwargs)


def test_class_smaller_than_folds_says_what_to_do():
    y = np.r_[np.zeros(20, dtype=int), np.ones(17, dtype=int), 2, 2, 2]
    msg = (
        r"every class needs at least folds=5 examples, so that each fold holds out some of it: class 2 has 3; "
        r"use folds=3 or fewer, add examples to those classes, or merge or drop them"
    )
    with pytest.raises(InputError, match=msg):
        learn.cross_val_pred_probs(X4, y, folds=5)
    with pytest.raises(InputError, match=msg):
        learn.clean_fit(X4, y, folds=5)
    one = np.r_[np.zeros(39, dtype=int), 1]
    with pytest.raises(InputError, match=r"class 1 has 1; add examples"):
        learn.cross_val_pred_probs(X4, one, folds=2)


def test_clean_fit_test_set_rules():
    x, y, xt, yt = data("blobs4")
    with pytest.raises(InputError, match=r"test_features and test_labels go together"):
        learn.clean_fit(x, y, test_features=xt)
    with pytest.raises(InputError, match=r"test_features have 3 columns but features have 2"):
        learn.clean_fit(x, y, test_features=np.c_[xt, xt[:, 0]], test_labels=yt)
    with pytest.raises(InputError, match=r"test_features have 249 rows but test_labels have 250"):
        learn.clean_fit(x, y, test_features=xt[1:], test_labels=yt)
    with pytest.raises(InputError, match=r"test_labels must be integers"):
        learn.clean_fit(x, y, test_features=xt, test_labels=yt + 0.5)
    with pytest.raises(
        InputError, match=r"pred_probs must be \(N, K\) with N = 250 rows, got shape \(249, 4\)"
    ):
        learn.clean_fit(x, y, pred_probs=np.full((249, 4), 0.25))


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(
        InputError, match=r"cross_val_pred_probs needs scikit-learn: pip install 'labelaudit\[learn\]'"
    ):
        learn.cross_val_pred_probs(X4, Y4)
    with pytest.raises(InputError, match=r"clean_fit needs scikit-learn: pip install 'labelaudit\[learn\]'"):
        learn.clean_fit(X4, Y4)


def test_import_is_lazy():
    """Importing labelaudit.learn does not import scikit-learn (the CLI's start-up stays fast)."""
    import subprocess

    code = "import sys, labelaudit.learn; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
