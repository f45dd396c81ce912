"""Generate the golden fixtures of labelaudit.learn (cross-validated pred_probs and CleanLearning).

Like ``generate_golden.py`` (whose stable-sort patch and npz writer are imported from there, not copied),
this script is the only place that runs cleanlab for these fixtures. cleanlab is AGPL: it is used as a
black-box oracle from a throwaway virtualenv outside the repository, the resulting numbers are committed,
and neither labelaudit nor its tests import it (nor this script).

Regenerating (from the repository root)::

    /tmp/clenv/bin/python tests/golden/generate_golden_cleanlearning.py

What it writes:

* ``tests/golden/inputs_cleanlearning/<set>/``: ``train_labels.npy`` (the noisy training labels, int64),
  ``test_labels.npy`` (clean, int64), ``flipped.npy`` (training positions whose label was changed), and
  either ``train_index.npy`` / ``test_index.npy`` (rows of scikit-learn's bundled digits, which the tests
  load themselves) or ``train_features.npy`` / ``test_features.npy`` (float64).
* ``tests/golden/expected_cleanlearning/<set>.npz`` and ``<set>.json`` (what each array is), and
  ``_meta.json`` (versions, counts, tie sensitivity).

Sets:

* ``digits``: scikit-learn's ``load_digits`` (1797 images of 8 x 8 pixels, 64 float features). With
  ``numpy.random.default_rng(0)``: ``permutation(1797)``; its first 1300 positions train, the other 497
  test; then ``choice(1300, 130, replace=False)`` picks 10% of the training rows, whose label becomes
  ``(y + u) % 10`` with ``u = integers(1, 10)`` per row (never the true label).
* ``blobs4``: four 2-D Gaussian classes after the cleanlab tutorial's toy data: centres (3, 2), (7, 7),
  (0, 8), (0, 10), standard deviation 1 in each axis, 100/50/50/50 training and as many test points per
  class, drawn with ``numpy.random.default_rng(20240414)``; 20% of the training labels (50 rows, without
  replacement) are moved to ``(y + u) % 4`` with ``u = integers(1, 4)``. Test labels stay clean.

Reference calls, each with ``LogisticRegression()`` (scikit-learn defaults, ``max_iter=100``; its
ConvergenceWarning on the unscaled digits is expected and ignored) and one BLAS thread:

* ``pred_probs``: ``cleanlab.count.estimate_cv_predicted_probabilities(X, y, clf=LogisticRegression(),
  cv_n_folds=5, seed=0)``.
* ``issues``, ``label_quality``, ``predicted_label``: ``CleanLearning(LogisticRegression(),
  seed=0).find_label_issues(X, y)`` (flagged indices, and the two columns of the returned frame).
* ``fit_issues``, ``sample_weight``, ``coef``, ``intercept``, ``test_pred_probs``, ``test_accuracy_cleaned``:
  a fresh ``CleanLearning(LogisticRegression(), seed=0).fit(X, y)``, then ``cl.score(X_test, y_test)``.
* ``test_accuracy_plain``: ``LogisticRegression().fit(X, y).score(X_test, y_test)``.

Ties: as in ``generate_golden.py``, every call runs twice, with numpy's argsort forced stable (the stored
values: labelaudit breaks ties by index) and untouched; ``plain_equal`` in ``_meta.json`` says whether the
two agreed. The script is deterministic: two runs give byte-identical files.
"""

from __future__ import annotations

import os

# One BLAS thread, as in the reference environment of the specification: the solver's arithmetic then
# does not depend on the machine's core count.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from importlib.metadata import version as pkg_version  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cleanlab.count  # noqa: E402
import generate_golden as gg  # noqa: E402  (stable_sorting, save_npz_deterministic)
import numpy as np  # noqa: E402
from cleanlab.classification import CleanLearning  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs_cleanlearning"
EXPECTED = HERE / "expected_cleanlearning"
SETS = ("digits", "blobs4")


def make_digits() -> dict[str, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(y))
    train, test = perm[:1300], perm[1300:]
    y_train = y[train].astype(np.int64)
    flipped = rng.choice(1300, 130, replace=False)
    noisy = y_train.copy()
    noisy[flipped] = (y_train[flipped] + rng.integers(1, 10, size=130)) % 10
    flipped = np.sort(flipped)
    return {
        "train_index": train.astype(np.int64),
        "test_index": test.astype(np.int64),
        "train_labels": noisy,
        "test_labels": y[test].astype(np.int64),
        "flipped": flipped.astype(np.int64),
        "_x_train": x[train],
        "_x_test": x[test],
    }


def make_blobs4() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240414)
    centres = np.array([[3.0, 2.0], [7.0, 7.0], [0.0, 8.0], [0.0, 10.0]])
    sizes = (100, 50, 50, 50)

    def draw() -> tuple[np.ndarray, np.ndarray]:
        xs = [c + rng.standard_normal((m, 2)) for c, m in zip(centres, sizes, strict=True)]
        ys = [np.full(m, k, dtype=np.int64) for k, m in enumerate(sizes)]
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = draw()
    x_test, y_test = draw()
    n = len(y_train)
    flipped = rng.choice(n, n // 5, replace=False)
    noisy = y_train.copy()
    noisy[flipped] = (y_train[flipped] + rng.integers(1, 4, size=len(flipped))) % 4
    flipped = np.sort(flipped)
    return {
        "train_features": x_train,
        "test_features": x_test,
        "train_labels": noisy,
        "test_labels": y_test,
        "flipped": flipped.astype(np.int64),
        "_x_train": x_train,
        "_x_test": x_test,
    }


def reference(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray) -> dict[str, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        p = cleanlab.count.estimate_cv_predicted_probabilities(
            x, y, clf=LogisticRegression(), cv_n_folds=5, seed=0
        )
        df = CleanLearning(LogisticRegression(), seed=0).find_label_issues(x, y)
        cl = CleanLearning(LogisticRegression(), seed=0)
        cl.fit(x, y)
        cleaned = cl.score(xt, yt)
        plain = LogisticRegression().fit(x, y).score(xt, yt)
    return {
        "pred_probs": np.asarray(p, dtype=np.float64),
        "issues": np.flatnonzero(df["is_label_issue"].to_numpy()).astype(np.int64),
        "label_quality": df["label_quality"].to_numpy(np.float64),
        "predicted_label": df["predicted_label"].to_numpy(np.int64),
        "fit_issues": np.flatnonzero(cl.label_issues_mask).astype(np.int64),
        "sample_weight": np.asarray(cl.sample_weight, dtype=np.float64),
        "coef": cl.clf.coef_.astype(np.float64),
        "intercept": cl.clf.intercept_.astype(np.float64),
        "test_pred_probs": cl.predict_proba(xt).astype(np.float64),
        "test_accuracy_cleaned": np.float64(cleaned),
        "test_accuracy_plain": np.float64(plain),
    }


DESCRIPTIONS = {
    "pred_probs": "estimate_cv_predicted_probabilities(X, y, clf=LogisticRegression(), cv_n_folds=5, seed=0)",
    "issues": "CleanLearning(LogisticRegression(), seed=0).find_label_issues(X, y): flagged indices, ascending",
    "label_quality": "... its label_quality column",
    "predicted_label": "... its predicted_label column",
    "fit_issues": "CleanLearning(LogisticRegression(), seed=0).fit(X, y): label_issues_mask, as indices",
    "sample_weight": "... its sample_weight (0 for removed rows)",
    "coef": "... the final model's coef_",
    "intercept": "... the final model's intercept_",
    "test_pred_probs": "... cl.predict_proba(X_test)",
    "test_accuracy_cleaned": "... cl.score(X_test, y_test)",
    "test_accuracy_plain": "LogisticRegression().fit(X, y).score(X_test, y_test)",
}


def main() -> None:
    versions = {p: pkg_version(p) for p in ("cleanlab", "numpy", "scikit-learn", "scipy")}
    versions["python"] = sys.version.split()[0]
    for d in (INPUTS, EXPECTED):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    meta: dict = {"versions": versions, "sets": {}}
    for name in SETS:
        data = make_digits() if name == "digits" else make_blobs4()
        (INPUTS / name).mkdir()
        for key, arr in data.items():
            if not key.startswith("_"):
                np.save(INPUTS / name / f"{key}.npy", arr)
        x, xt = data["_x_train"], data["_x_test"]
        y, yt = data["train_labels"], data["test_labels"]
        with gg.stable_sorting(True):
            stored = reference(x, y, xt, yt)
        with gg.stable_sorting(False):
            plain = reference(x, y, xt, yt)
        gg.save_npz_deterministic(EXPECTED / f"{name}.npz", stored)
        (EXPECTED / f"{name}.json").write_text(json.dumps(DESCRIPTIONS, indent=1) + "\n")
        meta["sets"][name] = {
            "n_train": len(y),
            "n_test": len(yt),
            "n_features": x.shape[1],
            "k": int(y.max()) + 1,
            "n_flipped": len(data["flipped"]),
            "n_issues": len(stored["issues"]),
            "n_issues_among_flipped": int(np.isin(stored["issues"], data["flipped"]).sum()),
            "test_accuracy_cleaned": float(stored["test_accuracy_cleaned"]),
            "test_accuracy_plain": float(stored["test_accuracy_plain"]),
            "plain_equal": {k: bool(np.array_equal(stored[k], plain[k])) for k in stored},
        }
        print(name, json.dumps({k: v for k, v in meta["sets"][name].items() if k != "plain_equal"}))
        print("  tie-sensitive:", [k for k, v in meta["sets"][name]["plain_equal"].items() if not v])
    (EXPECTED / "_meta.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
