"""Models from features: out-of-sample pred_probs by cross-validation, and a model fitted without the
examples whose labels look wrong (the reference library's `estimate_cv_predicted_probabilities` and
`CleanLearning(clf, seed=S).fit(X, y)` with their defaults).

Why this is not in `core`: `core` holds numpy kernels on labels and pred_probs and has no optional
dependency. This module drives scikit-learn estimators (objects that it builds, clones, fits in worker
threads, and whose BLAS and OpenMP thread counts it sets), may import a user's `module:Class`, and
returns fitted models. It builds on `core` for everything confident learning computes, the way `io` and
`cli` do, and imports scikit-learn (the `learn` extra) only inside the functions that need it.

Folds are scikit-learn's `StratifiedKFold(folds, shuffle=True, random_state=seed)` split on the labels
alone, visited in order, each model fitted on its training rows in increasing index order: the reference's
fold assignment and order of rows, so the default logistic regression gives its probabilities to rounding.
Every fit runs with one BLAS and one OpenMP thread (the reference's numbers were made with one BLAS
thread; with more, sums are split differently and the last bits depend on the core count); `n_jobs` runs
folds side by side in threads instead, so a result never depends on `n_jobs` or on the machine.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core.batching import resolve_n_jobs
from labelaudit.core.checks import check_labels
from labelaudit.core.count import estimate_py_and_noise_matrices_from_probabilities
from labelaudit.core.filter import find_label_issues
from labelaudit.core.rank import order_label_issues
from labelaudit.core.report import Columns, Report, head, named, named_classes, records
from labelaudit.errors import InputError

# Named models: scikit-learn's classes with their own defaults (model_params override them).
MODELS: dict[str, str] = {
    "logistic_regression": "sklearn.linear_model:LogisticRegression",
    "hist_gradient_boosting": "sklearn.ensemble:HistGradientBoostingClassifier",
    "random_forest": "sklearn.ensemble:RandomForestClassifier",
    "knn": "sklearn.neighbors:KNeighborsClassifier",
}
DTYPES = ("float64", "float32")
# CleanLearning's issue filter: classes with at most this many examples are never pruned.
MIN_EXAMPLES_PER_CLASS = 10
# Lower clip of a noise-matrix diagonal entry before it is inverted into a class weight.
WEIGHT_CLIP = 1e-3
EXTRA = "pip install 'labelaudit[learn]'"

Progress = Callable[[int, int], None]  # (fold index just finished, number of folds)


def require_sklearn(what: str) -> None:
    """Raise InputError naming the extra when scikit-learn is not installed."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise InputError(f"{what} needs scikit-learn: {EXTRA}") from None


# ---------------------------------------------------------------------------------------------- inputs


def check_features(
    features: object, *, name: str = "features", n: int | None = None, labels_name: str = "labels"
) -> np.ndarray:
    """features as a 2-D numeric (N, n_features) array (not copied when already one): finite, and with
    `n` rows (the length of `labels_name`) when `n` is given."""
    if hasattr(features, "to_numpy"):
        features = features.to_numpy()
    try:
        x = np.asarray(features)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a 2-D numeric array: {exc}") from None
    if x.ndim != 2:
        hint = "; flatten each example, e.g. x.reshape(len(x), -1)" if x.ndim > 2 else ""
        raise InputError(f"{name} must be 2-D (N, n_features), got shape {x.shape}{hint}")
    if x.dtype.kind not in "biuf":
        raise InputError(f"{name} must be numeric, got dtype {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(f"{name} are empty (shape {x.shape})")
    if n is not None and x.shape[0] != n:
        raise InputError(f"{name} have {x.shape[0]} rows but {labels_name} have {n}")
    if x.dtype.kind == "f":
        finite = np.isfinite(x).all(axis=1)
        if not finite.all():
            r = int(np.argmin(finite))
            bad = x[r][~np.isfinite(x[r])]
            raise InputError(
                f"{name} must be finite; row {r} holds {float(bad[0])!r} "
                f"({int((~finite).sum())} rows hold NaN or inf)"
            )
    return x


def class_labels(labels: object, *, what: str = "labels") -> np.ndarray:
    """labels as int64 class ids 0..K-1 with every class present and K >= 2 (integral floats accepted)."""
    y = _integer_labels(labels, what)
    counts = np.bincount(y)
    k = len(counts)
    if k < 2:
        raise InputError(f"{what} must hold at least 2 classes, got only class {k - 1}")
    absent = np.flatnonzero(counts == 0)
    if len(absent):
        raise InputError(
            f"{what} must use every class 0..{k - 1} (K = {k} from the largest label): "
            f"{len(absent)} class(es) have no example ({_listed(absent)}); renumber the classes 0..K-1"
        )
    return y


def _integer_labels(labels: object, what: str) -> np.ndarray:
    if hasattr(labels, "to_numpy"):
        labels = labels.to_numpy()
    arr = np.asarray(labels)
    if arr.dtype.kind in "iuf" and arr.ndim == 1 and len(arr) and np.nanmin(arr) < 0:
        r = int(np.argmax(arr < 0))
        raise InputError(f"{what} must be class ids 0..K-1; row {r} holds {arr[r].item()!r}")
    try:
        return check_labels(arr, n_classes=np.iinfo(np.int32).max).astype(np.int64)
    except InputError as exc:
        raise InputError(str(exc).replace("labels", what, 1)) from None


def _listed(values: ArrayLike, limit: int = 10) -> str:
    v = np.asarray(values).tolist()
    shown = ", ".join(str(x) for x in v[:limit])
    return shown + (f", ... ({len(v) - limit} more)" if len(v) > limit else "")


def _check_folds(counts: np.ndarray, folds: object, n: int) -> int:
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise InputError(f"folds must be an integer >= 2, got {folds!r}")
    folds = int(folds)
    if folds > n:
        raise InputError(f"folds={folds} is more than the {n} examples")
    few = np.flatnonzero(counts < folds)
    if len(few):
        smallest = int(counts.min())
        detail = ", ".join(f"class {c} has {int(counts[c])}" for c in few[:10])
        more = f", ... ({len(few) - 10} more)" if len(few) > 10 else ""
        hint = f"use folds={smallest} or fewer, " if smallest >= 2 else ""
        raise InputError(
            f"every class needs at least folds={folds} examples, so that each fold holds out some of it: "
            f"{detail}{more}; {hint}add examples to those classes, or merge or drop them"
        )
    return folds


def check_class_sizes(labels: ArrayLike, folds: int) -> None:
    """InputError unless the labels use every class 0..K-1 (K >= 2) and each class has at least `folds`
    examples (what cross-validation needs; the same rules `cross_val_pred_probs` applies)."""
    y = class_labels(labels)
    _check_folds(np.bincount(y), folds, len(y))


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"seed must be an integer in 0..2**32-1, got {seed!r}")
    return int(seed)


# ---------------------------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelSpec:
    """How to build one fresh, unfitted estimator: `build()` is called once per fit."""

    name: str
    build: Callable[[], Any]


def model_spec(
    model: object = "logistic_regression", model_params: Mapping[str, Any] | None = None, *, seed: int = 0
) -> ModelSpec:
    """A named model (`MODELS`), an importable `module:Class`, or an unfitted scikit-learn-style estimator
    (cloned for every fit). `model_params` are keyword arguments of the class (not with an estimator).
    A model that takes `random_state` and is given none gets `random_state=seed`, so that folds fitted in
    any order or in parallel give the same models."""
    require_sklearn("fitting a model")
    params = dict(model_params or {})
    if isinstance(model, str):
        return _class_spec(model, params, seed)
    if model is None or isinstance(model, type):
        raise InputError(f"model must be a name, 'module:Class' or an estimator instance, got {model!r}")
    if params:
        raise InputError("model_params apply to a model given by name; set them on the estimator instead")
    from sklearn.base import clone

    _check_methods(model, type(model).__name__)
    try:
        template = clone(model)
    except (TypeError, RuntimeError) as exc:
        raise InputError(f"model {type(model).__name__} cannot be cloned for each fold: {exc}") from None
    if "random_state" in template.get_params(deep=False) and template.get_params()["random_state"] is None:
        template.set_params(random_state=seed)
    return ModelSpec(type(model).__name__, lambda: clone(template))


def _class_spec(model: str, params: dict[str, Any], seed: int) -> ModelSpec:
    target = MODELS.get(model, model)
    if ":" not in target:
        raise InputError(
            f"unknown model {model!r}: use one of {', '.join(MODELS)}, or an importable module:Class "
            "that has fit and predict_proba"
        )
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise InputError(f"model {model!r}: cannot import module {module_name!r}: {exc}") from None
    except AttributeError:
        raise InputError(f"model {model!r}: module {module_name!r} has no {class_name!r}") from None
    if not isinstance(cls, type):
        raise InputError(f"model {model!r} is not a class")
    try:
        accepted = set(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        accepted = set()
    if "random_state" in accepted and "random_state" not in params:
        params["random_state"] = seed
    try:
        probe = cls(**params)
    except TypeError as exc:
        raise InputError(f"model_params are not accepted by {model}: {exc}") from None
    _check_methods(probe, model)
    return ModelSpec(model, lambda: cls(**params))


def _check_methods(estimator: object, name: str) -> None:
    for method in ("fit", "predict_proba"):
        if not callable(getattr(estimator, method, None)):
            raise InputError(
                f"model {name} has no {method}: out-of-sample probabilities need a classifier with "
                "fit and predict_proba"
            )


def _single_threaded() -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _fit(spec: ModelSpec, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Any:
    """A fresh estimator fitted on (x, y); one BLAS and one OpenMP thread (OpenMP's count is per thread,
    so it is set in the thread that fits)."""
    estimator = spec.build()
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    with _single_threaded():
        try:
            estimator.fit(x, y, **kwargs)
        except (ValueError, TypeError) as exc:
            rejected = type(exc).__name__ == "InvalidParameterError"
            what = "rejects its parameters" if rejected else "could not be fitted"
            raise InputError(f"model {spec.name} {what}: {exc}") from None
    return estimator


def _probabilities(estimator: Any, x: np.ndarray, k: int, name: str) -> np.ndarray:
    with _single_threaded():
        q = np.asarray(estimator.predict_proba(x))
    classes = getattr(estimator, "classes_", None)
    if classes is not None and not np.array_equal(np.asarray(classes), np.arange(k)):
        raise InputError(f"model {name} learnt classes {list(classes)}, expected 0..{k - 1}")
    if q.shape != (len(x), k):
        raise InputError(f"model {name}'s predict_proba gave shape {q.shape}, expected {(len(x), k)}")
    return q


def accepts_sample_weight(estimator: object) -> bool:
    """Whether the estimator's fit has a parameter named sample_weight."""
    try:
        return "sample_weight" in inspect.signature(estimator.fit).parameters  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------- folds


def stratified_folds(labels: ArrayLike, folds: int = 5, seed: int = 0) -> NDArray[np.int64]:
    """(N,) int64 fold of each example: scikit-learn's StratifiedKFold(folds, shuffle=True,
    random_state=seed) split on the labels alone (the reference's assignment)."""
    require_sklearn("stratified_folds")
    y = class_labels(labels)
    folds = _check_folds(np.bincount(y), folds, len(y))
    return _folds(y, folds, _check_seed(seed))


def _folds(y: np.ndarray, folds: int, seed: int) -> NDArray[np.int64]:
    from sklearn.model_selection import StratifiedKFold

    fold = np.empty(len(y), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for f, (_, holdout) in enumerate(splitter.split(y, y)):
        fold[holdout] = f
    return fold


def cross_val_pred_probs(
    features: ArrayLike,
    labels: ArrayLike,
    *,
    model: object = "logistic_regression",
    model_params: Mapping[str, Any] | None = None,
    folds: int = 5,
    seed: int = 0,
    n_jobs: int | None = 1,
    dtype: str = "float64",
    progress: Progress | None = None,
) -> NDArray[np.floating[Any]]:
    """Out-of-sample predicted probabilities (N, K) in `dtype`, each row from the model of the one fold
    that held its example out.

    features (N, n_features) numeric; labels (N,) class ids 0..K-1, each class with at least `folds`
    examples. model: a name of `MODELS`, `module:Class` or an unfitted estimator (see `model_spec`).
    `n_jobs` folds run at once in threads (-1: one per core) and never change the result. `progress` is
    called in the calling thread as `progress(fold, folds)` when each fold is done.
    """
    require_sklearn("cross_val_pred_probs")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = _cross_val(features, labels, model, model_params, folds, seed, n_jobs, dtype, progress)
    _reissue(caught)
    return out


def _cross_val(
    features: ArrayLike,
    labels: ArrayLike,
    model: object,
    model_params: Mapping[str, Any] | None,
    folds: int,
    seed: int,
    n_jobs: int | None,
    dtype: str,
    progress: Progress | None,
) -> NDArray[np.floating[Any]]:
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    y = class_labels(labels)
    x = check_features(features, n=len(y))
    k = int(y.max()) + 1
    folds = _check_folds(np.bincount(y), folds, len(y))
    seed = _check_seed(seed)
    spec = model_spec(model, model_params, seed=seed)
    jobs = resolve_n_jobs(n_jobs)
    fold = _folds(y, folds, seed)
    out = np.empty((len(y), k), dtype=np.float64)

    def run(f: int) -> tuple[int, np.ndarray]:
        train, holdout = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        estimator = _fit(spec, x[train], y[train])
        return f, _probabilities(estimator, x[holdout], k, spec.name)

    def store(f: int, q: np.ndarray) -> None:
        out[fold == f] = q
        if progress is not None:
            progress(f, folds)

    with _single_threaded():  # BLAS: one thread for the whole process while folds run
        if jobs == 1:
            for f in range(folds):
                store(*run(f))
        else:
            _run_parallel(run, store, folds, jobs)
    return out.astype(dtype, copy=False)


def _run_parallel(
    run: Callable[[int], tuple[int, np.ndarray]],
    store: Callable[[int, np.ndarray], None],
    folds: int,
    jobs: int,
) -> None:
    """run(f) for every fold in `jobs` threads, store() in this thread as each finishes. On the first
    error (or an interrupt) the folds not yet started are cancelled, the running ones finish, and the
    error rises."""
    pool = ThreadPoolExecutor(max_workers=min(jobs, folds))
    try:
        pending: set[Future[tuple[int, np.ndarray]]] = {pool.submit(run, f) for f in range(folds)}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                store(*future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _reissue(caught: list[warnings.WarningMessage] | None) -> None:
    """Issue each distinct warning gathered from the fits once, in the calling thread, with how many
    fits raised it: a model that warns in every fold (scikit-learn's ConvergenceWarning) is then one
    warning rather than one per fold and thread. `warnings.catch_warnings` is process-wide, so the
    calling thread's block also gathers what the worker threads raise."""
    counts: dict[tuple[type[Warning], str], int] = {}
    for w in caught or []:
        key = (w.category, str(w.message))
        counts[key] = counts.get(key, 0) + 1
    for (category, text), count in counts.items():
        warnings.warn(text if count == 1 else f"{text} [{count} times]", category, stacklevel=3)


# ---------------------------------------------------------------------------------------------- cleaning


@dataclass(frozen=True, eq=False)
class CleanFit:
    """What `clean_fit` found and fitted.

    model: the estimator fitted on the examples not flagged. issues: columns `index`, `given_label`,
    `predicted_label`, `label_quality` (P[i, given]) of the flagged examples, most severe first (lowest
    label quality, ties by index). pred_probs: the (N, K) float64 out-of-sample probabilities used.
    sample_weight: (N,) float64 weight of each example in the final fit (0 for a removed one), or None when
    the model's fit takes no sample_weight. Test accuracies (None without a test set): the same model
    fitted on all N examples (`plain`) and the returned model (`cleaned`), on the test set.
    """

    model: Any
    issues: Columns
    n_examples: int
    n_classes: int
    n_removed: int
    pred_probs: NDArray[np.float64]
    sample_weight: NDArray[np.float64] | None
    n_test: int | None = None
    test_accuracy_plain: float | None = None
    test_accuracy_cleaned: float | None = None

    @property
    def is_label_issue(self) -> NDArray[np.bool_]:
        """(N,) bool mask of the removed examples."""
        mask = np.zeros(self.n_examples, dtype=bool)
        mask[np.asarray(self.issues["index"], dtype=np.int64)] = True
        return mask

    def to_dict(self) -> dict[str, Any]:
        """Counts, accuracies and issue rows as plain Python values (no model, no arrays)."""
        return {
            "n_examples": self.n_examples,
            "n_classes": self.n_classes,
            "n_removed": self.n_removed,
            "n_test": self.n_test,
            "test_accuracy_plain": self.test_accuracy_plain,
            "test_accuracy_cleaned": self.test_accuracy_cleaned,
            "issues": records(self.issues),
        }


def clean_fit(
    features: ArrayLike,
    labels: ArrayLike,
    *,
    model: object = "logistic_regression",
    model_params: Mapping[str, Any] | None = None,
    folds: int = 5,
    seed: int = 0,
    n_jobs: int | None = 1,
    pred_probs: ArrayLike | None = None,
    test_features: ArrayLike | None = None,
    test_labels: ArrayLike | None = None,
    progress: Progress | None = None,
) -> CleanFit:
    """Find label issues with out-of-sample probabilities and fit the model on the other examples: the
    reference's `CleanLearning(clf, seed=seed).fit(X, y)` with its defaults.

    1. pred_probs: `cross_val_pred_probs(features, labels, model=..., folds, seed)`, or the (N, K) ones
       given (as the reference's `fit(X, y, pred_probs=P)`).
    2. issues: `find_label_issues(labels, pred_probs, min_examples_per_class=10)`, the default
       prune_by_noise_rate filter on the calibrated confident joint; a class with at most 10 examples
       is never pruned (with a warning).
    3. the final model: a fresh one fitted on the kept rows in index order, with sample weight
       1 / max(NM[k, k], 1e-3) for a kept example of given class k when its fit takes sample_weight
       (NM: the noise matrix P(given | true) of the same confident joint).
    With test_features and test_labels, both accuracies are measured (`CleanFit`). The model given as an
    estimator instance is never fitted itself: fits use clones (the reference fits the instance).
    """
    require_sklearn("clean_fit")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _clean_fit(
            features,
            labels,
            model,
            model_params,
            folds,
            seed,
            n_jobs,
            pred_probs,
            test_features,
            test_labels,
            progress,
        )
    _reissue(caught)
    return result


def _clean_fit(
    features: ArrayLike,
    labels: ArrayLike,
    model: object,
    model_params: Mapping[str, Any] | None,
    folds: int,
    seed: int,
    n_jobs: int | None,
    pred_probs: ArrayLike | None,
    test_features: ArrayLike | None,
    test_labels: ArrayLike | None,
    progress: Progress | None,
) -> CleanFit:
    seed = _check_seed(seed)
    if pred_probs is None:
        y = class_labels(labels)
        _check_folds(np.bincount(y), folds, len(y))
    else:
        y = _integer_labels(labels, "labels")
    x = check_features(features, n=len(y))
    test = _test_set(test_features, test_labels, x.shape[1])
    spec = model_spec(model, model_params, seed=seed)
    p: NDArray[np.float64]
    if pred_probs is None:
        p = _cross_val(x, y, model, model_params, folds, seed, n_jobs, "float64", progress).astype(
            np.float64, copy=False
        )
    else:
        p = np.asarray(pred_probs, dtype=np.float64)
        if p.ndim != 2 or len(p) != len(y):
            raise InputError(f"pred_probs must be (N, K) with N = {len(y)} rows, got shape {p.shape}")
    k = p.shape[1]

    mask = find_label_issues(y, p, min_examples_per_class=MIN_EXAMPLES_PER_CLASS)
    order = order_label_issues(mask, y, p)
    keep = np.flatnonzero(~mask)
    weights = None
    if accepts_sample_weight(spec.build()):
        _, noise_matrix, _, _ = estimate_py_and_noise_matrices_from_probabilities(
            y, p, converge_latent_estimates=False
        )
        class_weight = 1.0 / np.maximum(np.diagonal(noise_matrix), WEIGHT_CLIP)
        weights = np.where(mask, 0.0, class_weight[y])
    final = _fit(spec, x[keep], y[keep], None if weights is None else weights[keep])

    plain_acc = cleaned_acc = None
    if test is not None:
        xt, yt = test
        plain = _fit(spec, x, y)
        plain_acc, cleaned_acc = _accuracy(plain, xt, yt), _accuracy(final, xt, yt)
    issues: Columns = {
        "index": order,
        "given_label": y[order],
        "predicted_label": np.argmax(p[order], axis=1).astype(np.int64),
        "label_quality": p[order, y[order]],
    }
    return CleanFit(
        model=final,
        issues=issues,
        n_examples=len(y),
        n_classes=k,
        n_removed=int(mask.sum()),
        pred_probs=p,
        sample_weight=weights,
        n_test=None if test is None else len(test[1]),
        test_accuracy_plain=plain_acc,
        test_accuracy_cleaned=cleaned_acc,
    )


def _test_set(
    test_features: ArrayLike | None, test_labels: ArrayLike | None, n_features: int
) -> tuple[np.ndarray, np.ndarray] | None:
    if test_features is None and test_labels is None:
        return None
    if test_features is None or test_labels is None:
        raise InputError("test_features and test_labels go together: give both or neither")
    yt = _integer_labels(test_labels, "test_labels")
    xt = check_features(test_features, name="test_features", n=len(yt), labels_name="test_labels")
    if xt.shape[1] != n_features:
        raise InputError(f"test_features have {xt.shape[1]} columns but features have {n_features}")
    return xt, yt


def _accuracy(estimator: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of test examples whose predicted class is the label (the classifiers' own score)."""
    with _single_threaded():
        predicted = np.asarray(estimator.predict(x))
    return float(np.count_nonzero(predicted == y) / len(y))


# ---------------------------------------------------------------------------------------------- reports


def parse_model_params(text: str | None, option: str = "--model-params") -> dict[str, Any]:
    """A JSON object of keyword arguments for the model class ({} when not given)."""
    import json

    if text is None:
        return {}
    try:
        params = json.loads(text)
    except ValueError as exc:
        raise InputError(
            f"{option} must be a JSON object such as '{{\"C\": 0.5}}'; {exc}: {text!r}"
        ) from None
    if not isinstance(params, dict):
        raise InputError(f"{option} must be a JSON object of keyword arguments, got {text!r}")
    return params


def cross_val_report(
    pred_probs: NDArray[np.floating[Any]],
    labels: ArrayLike,
    params: Mapping[str, Any],
    class_names: list[str] | None = None,
) -> Report:
    """The `cross-val` report: the pred_probs as its .npy, and the out-of-sample accuracy overall and per
    class (the share of each class's examples whose largest probability is their label)."""
    y = np.asarray(labels, dtype=np.int64)
    n, k = pred_probs.shape
    right = np.argmax(pred_probs, axis=1) == y
    examples = np.bincount(y, minlength=k)
    correct = np.bincount(y, weights=right, minlength=k)
    accuracy = float(np.count_nonzero(right) / n)
    classes: Columns = {
        "class_index": np.arange(k),
        "examples": examples,
        "accuracy": np.divide(correct, examples, out=np.full(k, np.nan), where=examples > 0),
    }
    folds = params.get("folds")
    headline = (
        f"out-of-sample pred_probs of {n} examples, {k} classes ({folds} folds): accuracy {accuracy:.4f}"
    )
    return Report(
        command="cross-val",
        params=params,
        n=n,
        k=k,
        class_names=class_names,
        headline=headline,
        tables={"classes": named_classes(classes, class_names)},
        results={"folds": folds, "accuracy": accuracy},
        npy=pred_probs,
        views=("plain:classes:Out-of-sample accuracy per class",),
    )


def clean_report(
    fit: CleanFit, params: Mapping[str, Any], class_names: list[str] | None = None, *, top: int | None = None
) -> Report:
    """The `clean` report: CleanFit.to_dict()'s counts and accuracies, its issue rows (with class names
    when known) most severe first (the `top` first only), and a table of the two test accuracies when
    there is a test set."""
    body = fit.to_dict()
    tables: dict[str, Columns] = {"issues": head(named(fit.issues, class_names), top)}
    headline = f"{fit.n_removed} label issues removed from {fit.n_examples} examples"
    views: tuple[str, ...] = ("issues",)
    if fit.test_accuracy_plain is not None and fit.test_accuracy_cleaned is not None:
        headline += f"; test accuracy {fit.test_accuracy_plain:.4f} -> {fit.test_accuracy_cleaned:.4f}"
        tables["test_accuracy"] = {
            "model": ["plain (all examples)", "cleaned (issues removed)"],
            "trained_on": [fit.n_examples, fit.n_examples - fit.n_removed],
            "accuracy": [fit.test_accuracy_plain, fit.test_accuracy_cleaned],
        }
        views += (f"plain:test_accuracy:Test accuracy on {fit.n_test} examples",)
    results = {k: v for k, v in body.items() if k not in ("issues", "n_examples", "n_classes")}
    return Report(
        command="clean",
        params=params,
        n=fit.n_examples,
        k=fit.n_classes,
        class_names=class_names,
        headline=headline,
        tables=tables,
        results=results,
        views=views,
        total=fit.n_removed,
    )


def predict(model: Any, features: ArrayLike, *, proba: bool = False) -> np.ndarray:
    """The fitted model's (N,) int64 predicted classes, or with `proba` its (N, K) float64 probabilities;
    features (N, D) must have the D columns the model was fitted on."""
    x = check_features(features)
    expected = getattr(model, "n_features_in_", None)
    if expected is not None and x.shape[1] != expected:
        raise InputError(f"features have {x.shape[1]} columns but the model was fitted on {expected}")
    method = "predict_proba" if proba else "predict"
    if not callable(getattr(model, method, None)):
        raise InputError(f"model {type(model).__name__} has no {method}")
    with _single_threaded():
        out = np.asarray(getattr(model, method)(x))
    return out.astype(np.float64 if proba else np.int64, copy=False)


def predict_report(out: np.ndarray, model: Any, params: Mapping[str, Any]) -> Report:
    """The `predict` report: the predictions as its .npy, and how many examples each class got (K: the
    model's classes, else the probabilities' columns or the largest class predicted + 1)."""
    n_classes = len(getattr(model, "classes_", ())) or (out.shape[1] if out.ndim == 2 else int(out.max()) + 1)
    predicted = np.argmax(out, axis=1) if out.ndim == 2 else out
    counts = np.bincount(predicted, minlength=n_classes)
    what = "probabilities" if out.ndim == 2 else "predicted classes"
    return Report(
        command="predict",
        params=params,
        n=len(out),
        k=n_classes,
        class_names=None,
        headline=f"{what} of {len(out)} examples ({n_classes} classes)",
        tables={"classes": {"class_index": np.arange(len(counts)), "predicted": counts}},
        npy=out,
        views=("plain:classes:Predicted examples per class",),
    )
