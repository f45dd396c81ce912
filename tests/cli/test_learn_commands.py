"""labelaudit cross-val, clean and predict: the JSON is the library call, the numbers are the reference's
(tests/golden/expected_cleanlearning, the 4-class 2-D set), the model file round-trips through predict,
and every bad input exits 2 with one message and nothing written."""

from __future__ import annotations

import json
import os
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelaudit import learn
from labelaudit.cli import app
from labelaudit.io.models import load_model

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SET = GOLDEN / "inputs_cleanlearning" / "blobs4"
X, Y = np.load(SET / "train_features.npy"), np.load(SET / "train_labels.npy")
XT, YT = np.load(SET / "test_features.npy"), np.load(SET / "test_labels.npy")
with np.load(GOLDEN / "expected_cleanlearning" / "blobs4.npz") as _z:
    WANT = {k: _z[k] for k in _z.files}


class Files:
    """The blobs4 inputs in tmp_path/in; outputs go to tmp_path/out."""

    def __init__(self, tmp_path: Path):
        self.dir, self.out = tmp_path / "in", tmp_path / "out"
        self.dir.mkdir()
        self.out.mkdir()
        self.x, self.y = self.npy("x.npy", X), self.npy("y.npy", Y)
        self.xt, self.yt = self.npy("xt.npy", XT), self.npy("yt.npy", YT)

    def npy(self, name: str, array) -> str:
        np.save(self.dir / name, np.asarray(array), allow_pickle=False)
        return str(self.dir / name)

    def o(self, name: str) -> str:
        return str(self.out / name)


@pytest.fixture
def f(tmp_path) -> Files:
    return Files(tmp_path)


def ok(runner, args: list) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def expect_error(runner, f: Files, args: list, *fragments: str) -> None:
    """Exit 2, nothing on stdout, one `Error:` line holding every fragment, no traceback, nothing written."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    assert "Traceback" not in result.stderr
    assert os.listdir(f.out) == [], "an output or temporary file was left behind"


# ---------------------------------------------------------------------------------------------- cross-val


def test_cross_val_writes_the_reference_pred_probs_and_json_is_the_library_call(runner, f):
    doc = json.loads(ok(runner, ["cross-val", "-x", f.x, "-l", f.y, "-o", f.o("p.npy"), "--format", "json"]))
    p = np.load(f.o("p.npy"))
    np.testing.assert_allclose(p, WANT["pred_probs"], rtol=0, atol=1e-6)
    lib = learn.cross_val_pred_probs(X, Y, model="logistic_regression", folds=5, seed=0)
    assert np.array_equal(p, lib)
    params = {"model": "logistic_regression", "model_params": {}, "folds": 5, "seed": 0, "n_jobs": 1}
    body = learn.cross_val_report(lib, Y, {**params, "dtype": "float64"}).to_dict()
    assert {k: doc[k] for k in body} == json.loads(json.dumps(body))
    assert doc["params"] == {**params, "dtype": "float64"} and doc["command"] == "cross-val"
    assert [i["role"] for i in doc["inputs"]] == ["features", "labels"]
    assert (doc["n_examples"], doc["n_classes"]) == (250, 4)
    assert doc["accuracy"] == float(np.mean(lib.argmax(axis=1) == Y))


def test_cross_val_same_file_for_any_n_jobs_and_float32(runner, f):
    ok(runner, ["cross-val", "-x", f.x, "-l", f.y, "-o", f.o("one.npy"), "-q"])
    ok(runner, ["cross-val", "-x", f.x, "-l", f.y, "-o", f.o("two.npy"), "--n-jobs", "2", "-q"])
    assert Path(f.o("one.npy")).read_bytes() == Path(f.o("two.npy")).read_bytes()
    ok(runner, ["cross-val", "-x", f.x, "-l", f.y, "-o", f.o("p32.npy"), "--dtype", "float32", "-q"])
    p32 = np.load(f.o("p32.npy"))
    assert p32.dtype == np.float32
    np.testing.assert_array_equal(p32, np.load(f.o("one.npy")).astype(np.float32))


def test_cross_val_named_model_params_seed_and_folds(runner, f):
    args = [
        "--model",
        "random_forest",
        "--model-params",
        '{"n_estimators": 5}',
        "--folds",
        "3",
        "--seed",
        "7",
    ]
    ok(runner, ["cross-val", "-x", f.x, "-l", f.y, "-o", f.o("p.npy"), "-q", *args])
    lib = learn.cross_val_pred_probs(
        X, Y, model="random_forest", model_params={"n_estimators": 5}, folds=3, seed=7
    )
    assert np.array_equal(np.load(f.o("p.npy")), lib)


def test_cross_val_imported_model_class(runner, f):
    ok(
        runner,
        ["cross-val", "-x", f.x, "-l", f.y, "-o", f.o("p.npy"), "-q", "-m", "sklearn.naive_bayes:GaussianNB"],
    )
    lib = learn.cross_val_pred_probs(X, Y, model="sklearn.naive_bayes:GaussianNB")
    assert np.array_equal(np.load(f.o("p.npy")), lib)


def test_cross_val_reads_a_parquet_list_column_and_a_label_table(runner, f, tmp_path):
    path = str(f.dir / "x.parquet")
    pq.write_table(pa.table({"emb": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), 2)}), path)
    (f.dir / "y.csv").write_text("label\n" + "\n".join(map(str, Y)) + "\n")
    ok(runner, ["cross-val", "-x", path, "-l", f.dir / "y.csv", "-o", f.o("p.npy"), "-q"])
    np.testing.assert_allclose(np.load(f.o("p.npy")), WANT["pred_probs"], rtol=0, atol=1e-6)


def test_cross_val_summary_line_on_stderr(runner, f):
    result = runner.invoke(app, ["cross-val", "-x", f.x, "-l", f.y, "-o", f.o("p.npy")])
    assert result.exit_code == 0 and result.stdout == ""
    accuracy = float(np.mean(WANT["pred_probs"].argmax(axis=1) == Y))
    line = f"out-of-sample pred_probs of 250 examples, 4 classes (5 folds): accuracy {accuracy:.4f}; wrote"
    assert line in result.stderr


def test_fold_progress_advances_once_per_fold(monkeypatch):
    from rich.console import Console

    from labelaudit.cli import learning

    monkeypatch.setattr(learning.render, "progress_enabled", lambda quiet, elements=None: not quiet)
    out = StringIO()
    monkeypatch.setattr(learning, "_console", lambda: Console(file=out, width=80, force_terminal=True))
    with learning.FoldProgress(5, quiet=False) as bar:
        learn.cross_val_pred_probs(X, Y, folds=5, n_jobs=2, progress=bar)
        assert bar._bar.tasks[0].completed == 5
    assert "cross-val folds" in out.getvalue() and "5/5" in out.getvalue()
    with learning.FoldProgress(5, quiet=True) as bar:
        bar(0, 5)  # disabled: a no-op
        assert bar._bar is None


# ---------------------------------------------------------------------------------------------- clean


def test_clean_json_is_the_library_call_and_the_reference(runner, f):
    args = ["clean", "-x", f.x, "-l", f.y, "--test-features", f.xt, "--test-labels", f.yt]
    args += ["-o", f.o("m.skops"), "--cleaned-out", f.o("kept.parquet"), "--format", "json"]
    doc = json.loads(ok(runner, args))
    fit = learn.clean_fit(X, Y, seed=0, test_features=XT, test_labels=YT)
    lib = json.loads(json.dumps(fit.to_dict()))
    for key in ("issues", "n_removed", "n_test", "test_accuracy_plain", "test_accuracy_cleaned"):
        assert doc[key] == lib[key], key
    assert sorted(r["index"] for r in doc["issues"]) == WANT["issues"].tolist()
    assert doc["test_accuracy_cleaned"] == float(WANT["test_accuracy_cleaned"])
    assert doc["test_accuracy_plain"] == float(WANT["test_accuracy_plain"])
    assert {"version", "params", "inputs"} <= set(doc)
    roles = [i["role"] for i in doc["inputs"]]
    assert roles == ["features", "labels", "test_features", "test_labels"]
    assert doc["params"]["model"] == "logistic_regression" and doc["params"]["seed"] == 0
    model = load_model(f.o("m.skops"))
    np.testing.assert_array_equal(model.coef_, fit.model.coef_)
    kept = pq.read_table(f.o("kept.parquet")).to_pandas()
    keep = np.flatnonzero(~fit.is_label_issue)
    assert kept.columns.tolist() == ["index", "label", "x0", "x1"]
    np.testing.assert_array_equal(kept["index"], keep)
    np.testing.assert_array_equal(kept["label"], Y[keep])
    np.testing.assert_array_equal(kept[["x0", "x1"]].to_numpy(), X[keep])


def test_clean_with_given_pred_probs_and_top(runner, f):
    p = f.npy("p.npy", WANT["pred_probs"])
    doc = json.loads(ok(runner, ["clean", "-x", f.x, "-l", f.y, "-p", p, "--top", "3", "--format", "json"]))
    fit = learn.clean_fit(X, Y, pred_probs=WANT["pred_probs"])
    assert doc["n_removed"] == fit.n_removed == len(WANT["issues"])
    assert doc["issues"] == json.loads(json.dumps(fit.to_dict()["issues"][:3]))
    assert doc["test_accuracy_plain"] is None and doc["params"]["pred_probs_given"] is True
    assert [i["role"] for i in doc["inputs"]] == ["features", "labels", "pred_probs"]


def test_clean_tables_on_a_terminal(runner, f):
    args = [
        "clean",
        "-x",
        f.x,
        "-l",
        f.y,
        "--test-features",
        f.xt,
        "--test-labels",
        f.yt,
        "-f",
        "table",
        "-q",
    ]
    out = ok(runner, args)
    fit = learn.clean_fit(X, Y, test_features=XT, test_labels=YT)
    assert f"{fit.n_removed} label issues removed from 250 examples" in out
    assert "Test accuracy on 250 examples" in out and "cleaned (issues removed)" in out
    assert f"{fit.test_accuracy_cleaned:.4g}" in out and "label quality" in out


def test_clean_class_names_from_text_labels(runner, f):
    names = np.array(["ant", "bee", "cat", "dog"])
    (f.dir / "y.csv").write_text("label\n" + "\n".join(names[Y]) + "\n")
    doc = json.loads(ok(runner, ["clean", "-x", f.x, "-l", f.dir / "y.csv", "--format", "json", "-q"]))
    assert doc["class_names"] == names.tolist()
    first = doc["issues"][0]
    assert first["given_name"] == names[first["given_label"]]


# ---------------------------------------------------------------------------------------------- predict


@pytest.mark.parametrize("model", ["logistic_regression", "random_forest", "hist_gradient_boosting", "knn"])
def test_model_file_round_trips_through_predict(runner, f, model):
    small = {"random_forest": '{"n_estimators": 5}', "hist_gradient_boosting": '{"max_iter": 5}'}
    params = small.get(model, "{}")
    ok(
        runner,
        ["clean", "-x", f.x, "-l", f.y, "-m", model, "--model-params", params, "-o", f.o("m.skops"), "-q"],
    )
    fitted = load_model(f.o("m.skops"))
    ok(runner, ["predict", "-m", f.o("m.skops"), "-x", f.xt, "-o", f.o("c.npy"), "-q"])
    ok(runner, ["predict", "-m", f.o("m.skops"), "-x", f.xt, "-o", f.o("p.npy"), "--proba", "-q"])
    classes, proba = np.load(f.o("c.npy")), np.load(f.o("p.npy"))
    assert classes.dtype == np.int64 and proba.dtype == np.float64 and proba.shape == (250, 4)
    np.testing.assert_array_equal(classes, fitted.predict(XT))
    np.testing.assert_array_equal(proba, fitted.predict_proba(XT))
    fit = learn.clean_fit(X, Y, model=model, model_params=json.loads(params))
    np.testing.assert_array_equal(classes, fit.model.predict(XT))


def test_predict_json(runner, f):
    ok(runner, ["clean", "-x", f.x, "-l", f.y, "-o", f.o("m.skops"), "-q"])
    doc = json.loads(
        ok(runner, ["predict", "-m", f.o("m.skops"), "-x", f.xt, "-o", f.o("c.npy"), "-f", "json"])
    )
    counts = np.bincount(np.load(f.o("c.npy")), minlength=4)
    assert [r["predicted"] for r in doc["classes"]] == counts.tolist()
    assert doc["command"] == "predict" and [i["role"] for i in doc["inputs"]] == ["model", "features"]


# ---------------------------------------------------------------------------------------------- bad input


def cv(f: Files, *extra) -> list:
    return ["cross-val", "-x", f.x, "-l", f.y, "-o", f.o("p.npy"), *extra]


def test_features_with_another_n(runner, f):
    x = f.npy("short.npy", X[:-1])
    expect_error(
        runner, f, ["cross-val", "-x", x, "-l", f.y, "-o", f.o("p.npy")], "short.npy", "249 rows", "250"
    )
    expect_error(runner, f, ["clean", "-x", x, "-l", f.y, "-o", f.o("m.skops")], "short.npy", "249 rows")


@pytest.mark.parametrize(("value", "shown"), [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_features(runner, f, value, shown):
    bad = X.copy()
    bad[7, 1] = value
    x = f.npy("bad.npy", bad)
    expect_error(
        runner,
        f,
        ["cross-val", "-x", x, "-l", f.y, "-o", f.o("p.npy")],
        "bad.npy",
        "finite",
        f"row 7, column 1 holds {shown}",
    )
    xt, yt = f.npy("xt_bad.npy", np.r_[XT[:7], bad[7:8]]), f.npy("yt8.npy", YT[:8])
    args = [
        "clean",
        "-x",
        f.x,
        "-l",
        f.y,
        "--test-features",
        xt,
        "--test-labels",
        yt,
        "--cleaned-out",
        f.o("k.csv"),
    ]
    expect_error(runner, f, args, "xt_bad.npy", "row 7, column 1")


def test_unknown_model(runner, f):
    expect_error(
        runner, f, cv(f, "--model", "svm"), "unknown model 'svm'", "logistic_regression", "module:Class"
    )
    expect_error(
        runner, f, cv(f, "--model", "no_such_module_x:Thing"), "cannot import module 'no_such_module_x'"
    )
    expect_error(runner, f, cv(f, "--model", "sklearn.svm:LinearSVC"), "has no predict_proba")


@pytest.mark.parametrize(
    ("params", "fragments"),
    [
        ("{C: 1}", ("--model-params must be a JSON object", "{C: 1}")),
        ("[1, 2]", ("--model-params must be a JSON object of keyword arguments", "[1, 2]")),
        ('{"colour": 1}', ("model_params are not accepted by logistic_regression", "colour")),
        ('{"C": -1}', ("model logistic_regression rejects its parameters", "'C'")),
    ],
)
def test_bad_model_params(runner, f, params, fragments):
    expect_error(runner, f, cv(f, "--model-params", params), *fragments)
    expect_error(
        runner, f, ["clean", "-x", f.x, "-l", f.y, "--model-params", params, "-o", f.o("m.skops")], *fragments
    )


def test_test_set_with_another_feature_count(runner, f):
    xt = f.npy("xt3.npy", np.c_[XT, XT[:, 0]])
    args = ["clean", "-x", f.x, "-l", f.y, "--test-features", xt, "--test-labels", f.yt, "-o", f.o("m.skops")]
    expect_error(runner, f, args, "xt3.npy", "test features have 3 columns", "have 2")
    args = ["clean", "-x", f.x, "-l", f.y, "--test-features", f.xt, "-o", f.o("m.skops")]
    expect_error(runner, f, args, "--test-features and --test-labels go together")


def test_class_with_fewer_examples_than_folds(runner, f):
    y = Y.copy()
    y[np.flatnonzero(Y == 3)[2:]] = 2  # class 3 keeps 2 examples
    labels = f.npy("few.npy", y)
    for command in (["cross-val", "-o", f.o("p.npy")], ["clean", "-o", f.o("m.skops")]):
        args = [*command, "-x", f.x, "-l", labels]
        expect_error(
            runner,
            f,
            args,
            "few.npy: every class needs at least folds=5",
            "class 3 has 2",
            "use folds=2 or fewer",
        )
    gap = f.npy("gap.npy", np.where(Y == 3, 4, Y))  # no example of class 3
    expect_error(
        runner,
        f,
        ["cross-val", "-x", f.x, "-l", gap, "-o", f.o("p.npy")],
        "gap.npy: labels must use every class 0..4",
    )


def test_bad_outputs_and_dtype(runner, f):
    expect_error(
        runner, f, ["cross-val", "-x", f.x, "-l", f.y, "-o", f.o("p.csv")], "unsupported output format '.csv'"
    )
    expect_error(
        runner,
        f,
        ["clean", "-x", f.x, "-l", f.y, "-o", f.o("m.pkl")],
        "unsupported output format '.pkl'",
        ".skops",
    )
    expect_error(runner, f, cv(f, "--dtype", "float16"), "--dtype must be float64 or float32", "float16")
    args = ["clean", "-x", f.x, "-l", f.y, "--cleaned-out", f.o("kept.npy")]
    expect_error(runner, f, args, "kept.npy: unsupported output format '.npy'", ".parquet")
    expect_error(runner, f, ["cross-val", "-x", f.x, "-l", f.y, "-o", f.x], "would overwrite the input")
    expect_error(
        runner, f, ["cross-val", "-x", f.x, "-l", f.y, "-o", "-"], "-o - is not available: cross-val"
    )
    expect_error(runner, f, ["predict", "-m", f.x, "-x", f.x, "-o", "-"], "-o - is not available: predict")


def test_gate_formats_not_offered(runner, f):
    expect_error(runner, f, cv(f, "--format", "junit"), "Invalid value for '--format'", "'junit'")


def test_predict_bad_inputs(runner, f):
    ok(runner, ["clean", "-x", f.x, "-l", f.y, "-o", f.o("m.skops"), "-q"])
    model = f.dir / "m.skops"
    os.replace(f.o("m.skops"), model)
    wide = f.npy("x3.npy", np.c_[XT, XT[:, 0]])
    expect_error(
        runner,
        f,
        ["predict", "-m", model, "-x", wide, "-o", f.o("c.npy")],
        "x3.npy",
        "3 columns",
        "fitted on 2",
    )
    bad = XT.copy()
    bad[3, 0] = np.nan
    expect_error(
        runner,
        f,
        ["predict", "-m", model, "-x", f.npy("nan.npy", bad), "-o", f.o("c.npy")],
        "nan.npy",
        "row 3, column 0",
    )
    pickle = f.dir / "m2.skops"
    pickle.write_bytes(b"\x80\x04\x95" + b"\x00" * 20)
    expect_error(
        runner,
        f,
        ["predict", "-m", pickle, "-x", f.xt, "-o", f.o("c.npy")],
        "m2.skops",
        "a pickle",
        "never unpickled",
    )
    expect_error(
        runner, f, ["predict", "-m", f.dir / "none.skops", "-x", f.xt, "-o", f.o("c.npy")], "none.skops"
    )


def test_missing_scikit_learn_names_the_extra(runner, f, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    for args in (cv(f), ["clean", "-x", f.x, "-l", f.y]):
        expect_error(runner, f, args, "needs scikit-learn: pip install 'labelaudit[learn]'")


def test_missing_skops_names_the_extra(runner, f, monkeypatch):
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    expect_error(
        runner,
        f,
        ["clean", "-x", f.x, "-l", f.y, "-o", f.o("m.skops")],
        "needs skops: pip install 'labelaudit[learn]'",
    )
    expect_error(
        runner,
        f,
        ["predict", "-m", f.x, "-x", f.xt, "-o", f.o("c.npy")],
        "needs skops: pip install 'labelaudit[learn]'",
    )


def test_predict_refuses_an_untrusted_type_unless_trusted(runner, f):
    knn = ["-m", "knn", "--model-params", '{"metric": "manhattan"}']
    ok(runner, ["clean", "-x", f.x, "-l", f.y, *knn, "-o", f.o("m.skops"), "-q"])
    model = f.dir / "m.skops"
    os.replace(f.o("m.skops"), model)
    needed = "sklearn.metrics._dist_metrics.ManhattanDistance64"
    args = ["predict", "-m", model, "-x", f.xt, "-o", f.o("c.npy")]
    expect_error(runner, f, args, "m.skops", f"not trusted: {needed}", "--trust TYPE")
    ok(runner, [*args, "--trust", needed, "-q"])
    fit = learn.clean_fit(X, Y, model="knn", model_params={"metric": "manhattan"})
    np.testing.assert_array_equal(np.load(f.o("c.npy")), fit.model.predict(XT))
