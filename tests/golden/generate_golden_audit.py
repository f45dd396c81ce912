"""Generate the golden fixtures of ``labelaudit audit`` (the Datalab-style multi-issue audit).

Like ``generate_golden.py`` (whose stable-sort patch is imported from there, not copied), this script is the
only place that runs cleanlab for these fixtures. cleanlab is AGPL: it is used as a black-box oracle from a
throwaway virtualenv outside the repository, the resulting numbers are committed, and neither labelaudit nor
its tests import it (nor this script).

Regenerating (from the repository root)::

    /tmp/clenv/bin/pip install 'cleanlab[datalab]==2.9.0' pyarrow
    /tmp/clenv/bin/python tests/golden/generate_golden_audit.py

Inputs, under ``tests/golden/inputs_audit/<set>/``: ``labels.npy`` (int64), ``pred_probs.npy`` (float64),
``features.npy`` and ``truth.npy`` (what was injected: the clean label, and a code per row: 0 clean,
1 flipped label, 2 exact copy of an earlier row, 3 random outlier row).

* ``digits``: scikit-learn's bundled ``load_digits`` (1797 images of 8 x 8 integer pixels 0..16). With
  ``numpy.random.default_rng(13)``: 10% of the labels (``choice(1797, 180, replace=False)``) become
  ``(y + u) % 10`` with ``u = integers(1, 10)``; then 6 copies of random rows are appended (label and
  features of the copied row) and 5 random integer rows (``integers(0, 17, (5, 64))``, random labels):
  N = 1808, d = 64 (cosine metric). Features stored as uint8 (exact; the reference gets them as float64).
  pred_probs: 5-fold stratified (shuffled, seed 0) cross-validated ``StandardScaler() +
  LogisticRegression(max_iter=1000)``.
* ``blobs``: the tutorial-like 4-class 2-D data (``make_blobs(250, seed=250)``): 246 rows from Gaussian blobs
  with means (3, 2), (7, 7), (0, 8), (0, 10), standard deviation 0.9, sizes 2/5, 1/5, 1/5 and the rest,
  shuffled, 8% of the labels moved to another class (``(y + u) % 4``), then 2 exact copies of random rows
  and 2 far points (12, -3), (-6, 16) with random labels: N = 250, euclidean (KD-tree).
* ``small``: the same construction with N = 60 (``make_blobs(60, seed=60)``; N <= 100: the scipy-callable
  euclidean metric, ball tree).
* ``tiny15`` and ``tiny11``: the same with N = 15 (brute force, ``k >= N // 2``) and N = 11 (``k = N - 1``:
  non_iid fails on degenerate permutations); pred_probs ``0.6 * onehot(y) + 0.4 * Dirichlet(0.5)`` rows
  (``default_rng(N)``), as there are too few rows to cross-validate.

Runs (``tests/golden/expected_audit/<run>/``), each ``Datalab(data={"y": labels}, label_name="y")
.find_issues(pred_probs=..., features=...)`` with no ``issue_types`` (the default run):

* ``digits``: float64 features; ``digits_f32``: the same features as float32; ``digits_pp``: pred_probs only;
* ``blobs``, ``blobs_pp`` (pred_probs only), ``small``, ``tiny15``, ``tiny11``.

Files per run:

* ``issues.parquet``: ``get_issues()`` plus the extra columns of ``get_issues(name)`` (``given_label``,
  ``predicted_label``, ``near_duplicate_sets`` as lists of int64, ``distance_to_nearest_neighbor``), in
  that order, and every per-example info list under ``info.<type>.<key>`` (e.g. ``info.outlier.nearest_neighbor``,
  ``info.underperforming_group.cluster_ids``).
* ``summary.csv``: ``get_issue_summary()``.
* ``info.json``: every other info value of each type (p-value, thresholds, scaling factor, median distance,
  clustering stats, confident joint, ...) made JSON-safe (DataFrames as lists of records, the metric as its
  name), ``health_score``, the types that failed (``failed``) and ``plain_equal`` (per column: whether an
  unpatched run, cleanlab's own tie order, gave the same values).
* ``graph.npz``: the stored kNN graph (``indices`` int64, ``distances`` float64 or float32, both (N, k)),
  when the run stored one.

Ties: as in ``generate_golden.py``, the stored run has numpy's argsort forced stable (labelaudit breaks ties
by index), except inside scikit-learn's neighbour search and DBSCAN, which keep their own order (the
specification's rule: where a library call decides an order, the implementation uses that call). One BLAS
thread. The script is deterministic: two runs give identical files.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from importlib.metadata import version as pkg_version  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate_golden as gg  # noqa: E402  (stable_sorting, the untouched argsort)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sklearn.cluster  # noqa: E402
import sklearn.neighbors  # noqa: E402
from cleanlab import Datalab  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs_audit"
EXPECTED = HERE / "expected_audit"
TYPES = ("null", "label", "outlier", "near_duplicate", "non_iid", "class_imbalance", "underperforming_group")


# ----------------------------------------------------------------------------------------------------------
# scikit-learn keeps its own (default) argsort inside the neighbour search and DBSCAN
# ----------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _library_order():
    saved = np.argsort
    np.argsort = gg._ORIG_ARGSORT
    try:
        yield
    finally:
        np.argsort = saved


def _wrap(cls, name):
    orig = getattr(cls, name)

    def wrapper(self, *args, **kwargs):
        with _library_order():
            return orig(self, *args, **kwargs)

    setattr(cls, name, wrapper)


_wrap(sklearn.neighbors.NearestNeighbors, "kneighbors")
_wrap(sklearn.neighbors.NearestNeighbors, "kneighbors_graph")
_wrap(sklearn.neighbors.NearestNeighbors, "radius_neighbors")
_wrap(sklearn.cluster.DBSCAN, "fit")


# ----------------------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------------------
def cv_pred_probs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    return cross_val_predict(model, x, y, cv=folds, method="predict_proba").astype(np.float64)


def toy_pred_probs(y: np.ndarray, seed: int) -> np.ndarray:
    """Too few rows to cross-validate: 0.6 on the given label plus 0.4 of a Dirichlet(0.5) row."""
    noise = np.random.default_rng(seed).dirichlet(np.full(4, 0.5), size=len(y))
    return 0.6 * np.eye(4)[y] + 0.4 * noise


def make_digits() -> dict[str, np.ndarray]:
    x, t = load_digits(return_X_y=True)
    x = x.astype(np.uint8)
    t = t.astype(np.int64)
    rng = np.random.default_rng(13)
    n = len(t)
    y = t.copy()
    flip = rng.choice(n, 180, replace=False)
    y[flip] = (t[flip] + rng.integers(1, 10, size=180)) % 10
    code = np.zeros(n, dtype=np.int64)
    code[flip] = 1
    src = rng.choice(n, 6, replace=False)
    rand = rng.integers(0, 17, size=(5, 64)).astype(np.uint8)
    rand_y = rng.integers(0, 10, size=5)
    x = np.concatenate([x, x[src], rand])
    y = np.concatenate([y, y[src], rand_y])
    t = np.concatenate([t, t[src], rand_y])
    code = np.concatenate([code, np.full(6, 2), np.full(5, 3)])
    return {"features": x, "labels": y, "clean_labels": t, "truth": code}


def make_blobs(n: int, seed: int) -> dict[str, np.ndarray]:
    """4 Gaussian blobs after the tutorial's toy data; n - 4 drawn rows, then 2 copies and 2 outliers."""
    rng = np.random.default_rng(seed)
    centres = np.array([[3.0, 2.0], [7.0, 7.0], [0.0, 8.0], [0.0, 10.0]])
    m = n - 4
    sizes = np.array([m * 2 // 5, m // 5, m // 5, 0])
    sizes[3] = m - sizes.sum()
    xs = [c + 0.9 * rng.standard_normal((s, 2)) for c, s in zip(centres, sizes, strict=True)]
    t = np.concatenate([np.full(s, c, dtype=np.int64) for c, s in enumerate(sizes)])
    order = rng.permutation(m)
    x = np.concatenate(xs)[order]
    t = t[order]
    y = t.copy()
    flip = rng.choice(m, int(round(0.08 * m)), replace=False)
    y[flip] = (t[flip] + rng.integers(1, 4, size=len(flip))) % 4
    code = np.zeros(m, dtype=np.int64)
    code[flip] = 1
    src = rng.choice(m, 2, replace=False)
    out = np.array([[12.0, -3.0], [-6.0, 16.0]])
    out_y = rng.integers(0, 4, size=2)
    x = np.concatenate([x, x[src], out])
    y = np.concatenate([y, y[src], out_y])
    t = np.concatenate([t, t[src], out_y])
    code = np.concatenate([code, np.full(2, 2), np.full(2, 3)])
    return {"features": x, "labels": y, "clean_labels": t, "truth": code}


# ----------------------------------------------------------------------------------------------------------
# Reference run
# ----------------------------------------------------------------------------------------------------------
def _jsonable(v):
    if isinstance(v, pd.DataFrame):
        return [{str(k): _jsonable(x) for k, x in row.items()} for row in v.to_dict(orient="records")]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if callable(v):
        return getattr(v, "__name__", type(v).__name__)
    return f"<{type(v).__name__}>"


def reference(features: np.ndarray | None, labels: np.ndarray, pred_probs: np.ndarray) -> dict:
    lab = Datalab(data={"y": labels}, label_name="y", verbosity=0)
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        lab.find_issues(pred_probs=pred_probs, features=features)
    n = len(labels)
    issues = lab.get_issues().copy()
    ran = [t for t in TYPES if f"is_{t}_issue" in issues.columns]
    extra = {
        "label": ("given_label", "predicted_label"),
        "near_duplicate": ("near_duplicate_sets", "distance_to_nearest_neighbor"),
    }
    for t, cols in extra.items():
        if t in ran:
            sub = lab.get_issues(t)
            for c in cols:
                issues[c] = sub[c].to_numpy()
    if "near_duplicate_sets" in issues:
        issues["near_duplicate_sets"] = [
            np.asarray(s, dtype=np.int64).tolist() for s in issues["near_duplicate_sets"]
        ]
    infos: dict = {}
    for t in ran:
        info = lab.get_info(t)
        kept = {}
        for key, v in info.items():
            if key in ("knn", "find_issues_inputs", "ood", "statistics"):
                continue
            if key == "clustering":
                v = dict(v)
                stats = dict(v.get("stats", {}))
                ids = stats.pop("cluster_ids", None)
                if ids is not None:
                    issues[f"info.{t}.cluster_ids"] = np.asarray(ids, dtype=np.int64)
                v["stats"] = stats
            elif (
                isinstance(v, np.ndarray | list)
                and len(v) == n
                and key not in ("given_label", "predicted_label")
            ):
                first = v[0] if len(v) else None
                if isinstance(first, np.ndarray | list):
                    col = pd.Series([np.asarray(x, dtype=np.int64).tolist() for x in v], dtype=object)
                else:
                    col = pd.Series(np.asarray(v))
                # a list equal to a column already stored (e.g. the same nearest_neighbor of three types) is
                # stored once: its first occurrence
                if not any(_same(col, issues[c]) for c in issues.columns if issues[c].dtype == col.dtype):
                    issues[f"info.{t}.{key}"] = col.to_numpy()
                continue
            elif key in ("given_label", "predicted_label"):
                continue
            kept[key] = _jsonable(v)
        infos[t] = kept
    stats = lab.get_info("statistics")
    graph = stats.get("weighted_knn_graph")
    out = {
        "issues": issues.reset_index(drop=True),
        "summary": lab.get_issue_summary().reset_index(drop=True),
        "info": infos,
        "health_score": float(stats["health_score"]),
        "failed": [t for t in TYPES if t not in ran],
        "log": log.getvalue(),
    }
    if graph is not None:
        k = graph.nnz // n
        out["graph"] = {
            "indices": np.asarray(graph.indices, dtype=np.int64).reshape(n, k),
            "distances": np.asarray(graph.data).reshape(n, k),
        }
    return out


def _same(a: pd.Series, b: pd.Series) -> bool:
    if a.dtype == object or b.dtype == object:
        if a.dtype != b.dtype:
            return False
        return all(list(x) == list(y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=True))


def main() -> None:
    versions = {p: pkg_version(p) for p in ("cleanlab", "numpy", "scikit-learn", "scipy", "pandas")}
    versions["python"] = sys.version.split()[0]
    for d in (INPUTS, EXPECTED):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    sets = {
        "digits": make_digits(),
        "blobs": make_blobs(250, 250),
        "small": make_blobs(60, 60),
        "tiny15": make_blobs(15, 15),
        "tiny11": make_blobs(11, 11),
    }
    for name, data in sets.items():
        if name.startswith("tiny"):
            data["pred_probs"] = toy_pred_probs(data["labels"], int(name[4:]))
        else:
            data["pred_probs"] = cv_pred_probs(data["features"].astype(np.float64), data["labels"])
        (INPUTS / name).mkdir()
        for key, arr in data.items():
            np.save(INPUTS / name / f"{key}.npy", arr)
    runs = {
        "digits": ("digits", np.float64),
        "digits_f32": ("digits", np.float32),
        "digits_pp": ("digits", None),
        "blobs": ("blobs", np.float64),
        "blobs_pp": ("blobs", None),
        "small": ("small", np.float64),
        "tiny15": ("tiny15", np.float64),
        "tiny11": ("tiny11", np.float64),
    }
    meta: dict = {"versions": versions, "runs": {}}
    for run, (name, dtype) in runs.items():
        data = sets[name]
        x = None if dtype is None else data["features"].astype(dtype)
        with gg.stable_sorting(True):
            ref = reference(x, data["labels"], data["pred_probs"])
        with gg.stable_sorting(False):
            plain = reference(x, data["labels"], data["pred_probs"])
        d = EXPECTED / run
        d.mkdir()
        ref["issues"].to_parquet(d / "issues.parquet", index=False)
        ref["summary"].to_csv(d / "summary.csv", index=False, float_format="%.17g")
        plain_equal = {c: _same(ref["issues"][c], plain["issues"][c]) for c in ref["issues"].columns}
        info = {
            "set": name,
            "features": None if dtype is None else np.dtype(dtype).name,
            "health_score": ref["health_score"],
            "failed": ref["failed"],
            "plain_equal": plain_equal,
            "info": ref["info"],
        }
        (d / "info.json").write_text(json.dumps(info, indent=1, sort_keys=False) + "\n")
        if "graph" in ref:
            gg.save_npz_deterministic(d / "graph.npz", ref["graph"])
        meta["runs"][run] = {
            "summary": ref["summary"].to_dict(orient="records"),
            "health_score": ref["health_score"],
            "failed": ref["failed"],
            "all_plain_equal": all(plain_equal.values()),
        }
        print(run, ref["summary"].to_dict(orient="records"), ref["failed"], flush=True)
    (EXPECTED / "_meta.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
