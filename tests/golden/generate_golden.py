"""Generate the committed golden fixtures under ``tests/golden/``.

This script is the ONLY place in the labelaudit repository that touches
cleanlab.  cleanlab is licensed under the AGPL, so it must never become a
dependency of labelaudit (not in pyproject, not in CI, not imported by any
test).  It is used here purely as a black-box oracle, inside a throwaway
virtual environment that lives outside the repository, to produce reference
outputs.  Those outputs (plain ``.npy`` / ``.npz`` / ``.json`` files) are
committed; the test-suite only reads them and never needs cleanlab.

Creating the throwaway environment (outside the repo)::

    python3 -m venv /tmp/clenv
    /tmp/clenv/bin/pip install cleanlab==2.9.0 numpy==2.4.6 scikit-learn pandas

Regenerating (from the repository root)::

    /tmp/clenv/bin/python tests/golden/generate_golden.py

What it writes:

* ``tests/golden/inputs/<set>/labels.npy``       int64 labels
* ``tests/golden/inputs/<set>/pred_probs.npy``   float64 (float32 for gen_f32)
* the second "model" of the ensemble-scoring calls is not stored: it is
  clip(0.7*P + 0.3*roll(P, 1, axis=1), 0, 1) in P's dtype (``second_model``)
* ``tests/golden/expected/<set>.npz``  arrays r0, r1, ... (zip/deflate, written
  with fixed timestamps so that re-running yields byte-identical files)
* ``tests/golden/expected/<set>.json`` manifest: one entry per stored array
* ``tests/golden/expected/_meta.json`` library versions and run summary

Tie handling: labelaudit always sorts stably (ties go to the lower index).
cleanlab mostly calls ``np.argsort`` with the default (unstable) quicksort,
so every call is executed twice: once with sorting forced to be stable (that
result is the stored golden value) and once untouched.  ``plain_equal`` in the
manifest says whether both runs agreed, i.e. ``false`` marks outputs that depend
on the order in which ties are broken.  "Forced stable" means:

* the module attribute ``numpy.argsort`` is replaced by a wrapper passing
  ``kind="stable"`` (cleanlab looks it up as ``np.argsort`` at call time);
* ``pandas.DataFrame.sort_values`` gets ``kind="stable"`` (used by the
  ``dataset`` table functions);
* the batched finder's top-k helper (which calls the ``ndarray.argsort``
  method, unreachable by the first patch) is swapped for a stable equivalent.

The script is deterministic: inputs come from fixed seeds, nothing depends on
wall-clock time or on the number of CPUs (``n_jobs=1`` is passed everywhere it
exists).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import warnings
import zipfile
from importlib.metadata import version as pkg_version
from pathlib import Path

import cleanlab
import cleanlab.count
import cleanlab.dataset
import cleanlab.experimental.label_issues_batched as cl_batched
import cleanlab.filter
import cleanlab.rank
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"
EXPECTED = HERE / "expected"
REAL_DATA = Path("/work/shared/data/real")
REAL_SETS = ["mnist", "cifar10", "imdb", "20news"]
EXPECTED_VERSIONS = {"cleanlab": "2.9.0", "numpy": "2.4.6"}

RANK_METHODS = ["self_confidence", "normalized_margin", "confidence_weighted_entropy"]
FILTER_BYS = [
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
]
PRUNE_FILTERS = ["prune_by_noise_rate", "prune_by_class", "both"]


# --------------------------------------------------------------------------------------
# Stable-sort patching
# --------------------------------------------------------------------------------------
_ORIG_ARGSORT = np.argsort
_ORIG_SORT_VALUES = pd.DataFrame.sort_values
_ORIG_TOP_ISSUES = cl_batched.find_top_issues


def _stable_argsort(a, axis=-1, kind=None, order=None, **kwargs):
    kwargs.pop("stable", None)
    return _ORIG_ARGSORT(a, axis=axis, kind="stable", order=order, **kwargs)


def _stable_sort_values(self, *args, **kwargs):
    kwargs["kind"] = "stable"
    return _ORIG_SORT_VALUES(self, *args, **kwargs)


def _stable_top_issues(quality_scores, *, top=10):
    scores = np.asarray(quality_scores)
    if top is None or top > len(scores):
        top = len(scores)
    return _ORIG_ARGSORT(scores, kind="stable")[:top]


@contextlib.contextmanager
def stable_sorting(enabled: bool):
    if not enabled:
        yield
        return
    np.argsort = _stable_argsort
    pd.DataFrame.sort_values = _stable_sort_values
    cl_batched.find_top_issues = _stable_top_issues
    try:
        # sanity: cleanlab sees the wrapper through its module-level `np`
        assert cleanlab.filter.np.argsort is _stable_argsort
        yield
    finally:
        np.argsort = _ORIG_ARGSORT
        pd.DataFrame.sort_values = _ORIG_SORT_VALUES
        cl_batched.find_top_issues = _ORIG_TOP_ISSUES


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def _flip_labels(rng, t, k, noise, allowed):
    """Noisy labels: flip ~noise of rows to another allowed class (half to a 'neighbour')."""
    n = len(t)
    allowed = np.asarray(allowed)
    y = t.copy()
    flip = (rng.random(n) < noise) | ~np.isin(t, allowed)
    neighbour_pref = rng.random(n) < 0.5
    for i in np.flatnonzero(flip):
        choices = allowed[allowed != t[i]]
        nb = (t[i] + 1) % k
        if neighbour_pref[i] and nb in choices:
            y[i] = nb
        else:
            y[i] = choices[rng.integers(len(choices))]
    return y


def _model_probs(rng, t, y, k, dtype):
    """Dirichlet rows shaped like out-of-sample softmax outputs of a decent model."""
    n = len(t)
    rows = np.arange(n)
    a0 = max(0.1, 2.0 / k)
    base = a0 * rng.uniform(0.5, 1.5, size=n)
    total = base * k
    alpha = np.repeat(base[:, None], k, axis=1)
    alpha[rows, t] += total * np.exp(rng.uniform(-1.0, 4.0, size=n))
    # on part of the mislabeled rows the model has partly memorised the noisy label
    fooled = (y != t) & (rng.random(n) < 0.5)
    alpha[rows[fooled], y[fooled]] += total[fooled] * np.exp(rng.uniform(-1.0, 3.0, size=fooled.sum()))
    # genuinely ambiguous examples: extra mass on some other class
    hard = rng.random(n) < 0.1
    other = rng.integers(0, k, size=n)
    alpha[rows[hard], other[hard]] += total[hard] * np.exp(rng.uniform(-1.0, 3.0, size=hard.sum()))
    g = rng.gamma(alpha)
    p = g / g.sum(axis=1, keepdims=True)
    if dtype == np.float32:
        p = p.astype(np.float32)
        p = p / p.sum(axis=1, keepdims=True)  # float32 arithmetic only
        assert p.dtype == np.float32
    else:
        p = p.astype(np.float64)
    return p


def gen_set(name):
    if name == "gen_k5":
        rng = np.random.default_rng(20250105)
        k, n = 5, 3000
        t = rng.choice(k, size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
        y = _flip_labels(rng, t, k, 0.15, np.arange(k))
        return y, _model_probs(rng, t, y, k, np.float64)
    if name == "gen_absent":
        rng = np.random.default_rng(20250206)
        k, n = 6, 2000
        t = rng.choice(k, size=n, p=[0.25, 0.25, 0.03, 0.22, 0.22, 0.03])
        y = _flip_labels(rng, t, k, 0.12, [0, 1, 3, 4])
        assert not np.isin(y, [2, 5]).any()
        return y, _model_probs(rng, t, y, k, np.float64)
    if name == "gen_singleton":
        rng = np.random.default_rng(20250305)
        k, n = 5, 1500
        t = rng.choice(k, size=n, p=[0.33, 0.33, 0.32, 0.01, 0.01])
        y = _flip_labels(rng, t, k, 0.15, [0, 1, 2])
        i3 = np.flatnonzero(t == 3)
        i4 = np.flatnonzero(t == 4)
        i0 = np.flatnonzero((t == 0) & (y == 0))
        assert len(i3) >= 1 and len(i4) >= 1 and len(i0) >= 1
        y[i3[0]] = 3  # correctly labeled singleton
        y[i4[0]] = 4  # correctly labeled
        y[i0[0]] = 4  # a class-0 example mislabeled as 4
        counts = np.bincount(y, minlength=k)
        assert counts[3] == 1 and counts[4] == 2, counts
        return y, _model_probs(rng, t, y, k, np.float64)
    if name == "gen_k2":
        rng = np.random.default_rng(20250402)
        k, n = 2, 4000
        t = rng.choice(k, size=n, p=[0.6, 0.4])
        y = _flip_labels(rng, t, k, 0.12, np.arange(k))
        return y, _model_probs(rng, t, y, k, np.float64)
    if name == "gen_f32":
        rng = np.random.default_rng(20250508)
        k, n = 8, 3000
        t = rng.choice(k, size=n)
        y = _flip_labels(rng, t, k, 0.18, np.arange(k))
        return y, _model_probs(rng, t, y, k, np.float32)
    if name == "gen_k50":
        rng = np.random.default_rng(20250650)
        k, n = 50, 5000
        prior = rng.dirichlet(np.full(k, 20.0))
        t = rng.choice(k, size=n, p=prior)
        y = _flip_labels(rng, t, k, 0.15, np.arange(k))
        return y, _model_probs(rng, t, y, k, np.float64)
    raise KeyError(name)


GEN_SETS = ["gen_k5", "gen_absent", "gen_singleton", "gen_k2", "gen_f32", "gen_k50"]


def second_model(p):
    """Deterministic perturbation of P used as the 2nd ensemble member (same dtype)."""
    a = p.dtype.type(0.7)
    b = p.dtype.type(0.3)
    p2 = a * p + b * np.roll(p, 1, axis=1)
    p2 = np.clip(p2, p.dtype.type(0.0), p.dtype.type(1.0))
    assert p2.dtype == p.dtype
    return p2


def build_inputs():
    notes = {}
    if INPUTS.exists():
        shutil.rmtree(INPUTS)
    for name in REAL_SETS + GEN_SETS:
        if name in REAL_SETS:
            labels = np.load(REAL_DATA / name / "labels.npy").astype(np.int64)
            p = np.load(REAL_DATA / name / "pred_probs.npy").astype(np.float64)
            n_out = int(((p < 0.0) | (p > 1.0)).sum())
            if n_out:
                notes[name] = (
                    f"clipped {n_out} values outside [0,1] (max was {p.max()!r}) via np.clip(P, 0, 1)"
                )
                p = np.clip(p, 0.0, 1.0)
        else:
            labels, p = gen_set(name)
            labels = labels.astype(np.int64)
        assert p.min() >= 0.0 and p.max() <= 1.0
        assert labels.min() >= 0 and labels.max() < p.shape[1]
        d = INPUTS / name
        d.mkdir(parents=True)
        np.save(d / "labels.npy", labels)
        np.save(d / "pred_probs.npy", p)
    return notes


# --------------------------------------------------------------------------------------
# Calls
# --------------------------------------------------------------------------------------
def remove_per_class(labels, k):
    counts = np.bincount(labels, minlength=k)
    return [0 if c == 0 else int(min(max(1, c // 20), c - 1)) for c in counts]


def call_specs(labels, k):
    """Yield dicts describing each call. 'args' names positional inputs."""
    specs = []

    def add(module, func, kwargs, output, args=("labels", "pred_probs"), items=None, array_kwargs=None):
        specs.append(
            dict(
                module=module,
                func=func,
                kwargs=kwargs,
                output=output,
                args=list(args),
                items=items,
                array_kwargs=array_kwargs,
            )
        )

    add("count", "get_confident_thresholds", {}, "vector")
    for cal in (False, True):
        add(
            "count",
            "compute_confident_joint",
            {"calibrate": cal, "return_indices_of_off_diagonals": True},
            "tuple",
            items=[("confident_joint", "matrix"), ("indices_of_off_diagonals", "indices")],
        )
    add("count", "estimate_joint", {}, "matrix")
    py_items = [
        ("py", "vector"),
        ("noise_matrix", "matrix"),
        ("inverse_noise_matrix", "matrix"),
        ("confident_joint", "matrix"),
    ]
    add("count", "estimate_py_and_noise_matrices_from_probabilities", {}, "tuple", items=py_items)
    add(
        "count",
        "estimate_py_and_noise_matrices_from_probabilities",
        {"converge_latent_estimates": False},
        "tuple",
        items=py_items,
    )
    for m in ("off_diagonal", "off_diagonal_calibrated"):
        add("count", "num_label_issues", {"estimation_method": m}, "scalar")
    for m in RANK_METHODS:
        for a in (False, True):
            if m == "confidence_weighted_entropy" and a:
                continue  # raises in cleanlab by design
            add("rank", "get_label_quality_scores", {"method": m, "adjust_pred_probs": a}, "scores")
    for f in FILTER_BYS:
        add("filter", "find_label_issues", {"filter_by": f, "n_jobs": 1}, "mask_indices")
    for f in FILTER_BYS:
        for r in RANK_METHODS:
            add(
                "filter",
                "find_label_issues",
                {"filter_by": f, "return_indices_ranked_by": r, "n_jobs": 1},
                "indices",
            )
        for r in ("self_confidence", "normalized_margin"):
            add(
                "filter",
                "find_label_issues",
                {
                    "filter_by": f,
                    "return_indices_ranked_by": r,
                    "rank_by_kwargs": {"adjust_pred_probs": True},
                    "n_jobs": 1,
                },
                "indices",
            )
    nrem = remove_per_class(labels, k)
    for f in PRUNE_FILTERS:
        add("filter", "find_label_issues", {"filter_by": f, "frac_noise": 0.5, "n_jobs": 1}, "mask_indices")
        add(
            "filter",
            "find_label_issues",
            {"filter_by": f, "min_examples_per_class": 5, "n_jobs": 1},
            "mask_indices",
        )
        add(
            "filter",
            "find_label_issues",
            {"filter_by": f, "num_to_remove_per_class": nrem, "n_jobs": 1},
            "mask_indices",
        )
    for r in RANK_METHODS:
        add(
            "rank",
            "order_label_issues",
            {"rank_by": r},
            "indices",
            args=("@mask:prune_by_noise_rate", "labels", "pred_probs"),
        )
    add("dataset", "rank_classes_by_label_quality", {}, "table")
    add("dataset", "find_overlapping_classes", {}, "table")
    add("dataset", "find_overlapping_classes", {"asymmetric": True}, "table")
    add("dataset", "overall_label_health_score", {"verbose": False}, "scalar")
    batched = [
        {"batch_size": 1000, "n_jobs": 1, "verbose": False, "return_mask": True},
        {"batch_size": 100000, "n_jobs": 1, "verbose": False, "return_mask": True},
        {
            "batch_size": 1000,
            "n_jobs": 1,
            "verbose": False,
            "return_mask": True,
            "num_issue_kwargs": {"estimation_method": "off_diagonal_calibrated"},
        },
        {
            "batch_size": 100000,
            "n_jobs": 1,
            "verbose": False,
            "return_mask": True,
            "num_issue_kwargs": {"estimation_method": "off_diagonal_calibrated"},
        },
    ]
    for kw in batched:
        add(
            "experimental.label_issues_batched",
            "find_label_issues_batched",
            kw,
            "mask_indices",
            args=(),
            array_kwargs={"labels": "labels", "pred_probs": "pred_probs"},
        )
    for w in ("uniform", "accuracy", "log_loss_search", "custom"):
        for m in ("self_confidence", "normalized_margin"):
            kw = {"method": m, "weight_ensemble_members_by": w, "verbose": False}
            if w == "custom":
                kw["custom_weights"] = [0.25, 0.5]
            add(
                "rank",
                "get_label_quality_ensemble_scores",
                kw,
                "scores",
                args=("labels", ["pred_probs", "pred_probs_2"]),
            )
    return specs


MODULES = {
    "count": cleanlab.count,
    "rank": cleanlab.rank,
    "filter": cleanlab.filter,
    "dataset": cleanlab.dataset,
    "experimental.label_issues_batched": cl_batched,
}


def _resolve(name, arrays, masks):
    if isinstance(name, list):
        return [_resolve(x, arrays, masks) for x in name]
    if name.startswith("@mask:"):  # boolean mask rebuilt from a stored mask_indices entry
        return masks[name[len("@mask:") :]].copy()
    return arrays[name].copy()


def _to_outputs(spec, result):
    """Convert a raw cleanlab result to a list of (array, extra-manifest-fields)."""
    out = spec["output"]
    if out == "tuple":
        assert isinstance(result, tuple) and len(result) == len(spec["items"])
        res = []
        for i, ((iname, ikind), val) in enumerate(zip(spec["items"], result, strict=True)):
            arr = np.asarray(val)
            if ikind == "indices":
                arr = arr.astype(np.int64)
            res.append((arr, {"output": "tuple_item", "item": i, "item_name": iname, "item_output": ikind}))
        return res
    if out == "mask_indices":
        mask = np.asarray(result)
        assert mask.dtype == bool
        return [(np.flatnonzero(mask).astype(np.int64), {"output": out})]
    if out == "indices":
        return [(np.asarray(result).astype(np.int64), {"output": out})]
    if out == "table":
        assert isinstance(result, pd.DataFrame)
        cols = [str(c) for c in result.columns]
        arr = result.to_numpy(dtype=np.float64)
        return [(arr, {"output": out, "columns": cols})]
    if out == "scalar":
        return [(np.asarray(result), {"output": out})]
    return [(np.asarray(result), {"output": out})]


def _same(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def run_call(spec, arrays, masks, patched):
    fn = getattr(MODULES[spec["module"]], spec["func"])
    args = [_resolve(a, arrays, masks) for a in spec["args"]]
    kwargs = json.loads(json.dumps(spec["kwargs"]))  # fresh copy, JSON types only
    if spec["array_kwargs"]:
        for k, v in spec["array_kwargs"].items():
            kwargs[k] = _resolve(v, arrays, masks)
    with stable_sorting(patched), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                result = fn(*args, **kwargs)
                err = None
            except Exception as e:  # noqa: BLE001 - recorded in the manifest
                result = None
                err = f"{type(e).__name__}: {e}".strip()
    msgs = []
    for w in caught:
        m = f"{w.category.__name__}: {str(w.message).strip()}"
        if m not in msgs:
            msgs.append(m)
    return result, err, msgs


def process_set(name):
    d = INPUTS / name
    arrays = {
        "labels": np.load(d / "labels.npy"),
        "pred_probs": np.load(d / "pred_probs.npy"),
    }
    # The second ensemble member is derived, not stored: tests rebuild it with the same three numpy ops.
    arrays["pred_probs_2"] = second_model(arrays["pred_probs"])
    pristine = {k: v.copy() for k, v in arrays.items()}
    n, k = arrays["pred_probs"].shape
    masks = {}  # manifest key -> boolean mask (for calls taking a mask argument)
    masks_key = {}
    stored = {}
    manifest = []
    for spec in call_specs(arrays["labels"], k):
        # point mask arguments at the manifest key of the stored mask they come from
        spec["args"] = [
            f"@mask:{masks_key[a[6:]]}" if isinstance(a, str) and a.startswith("@mask:") else a
            for a in spec["args"]
        ]
        res_p, err_p, warns = run_call(spec, arrays, masks, patched=True)
        res_u, err_u, _ = run_call(spec, arrays, masks, patched=False)
        base = {"func": spec["func"], "module": spec["module"], "args": spec["args"]}
        if spec["array_kwargs"]:
            base["array_kwargs"] = spec["array_kwargs"]
        base["kwargs"] = spec["kwargs"]
        if err_p is not None:
            entry = {
                "key": None,
                **base,
                "output": spec["output"] if spec["output"] != "tuple" else "tuple_item",
                "plain_equal": err_u == err_p,
                "error": err_p,
            }
            if warns:
                entry["warnings"] = warns
            manifest.append(entry)
            continue
        outs_p = _to_outputs(spec, res_p)
        outs_u = _to_outputs(spec, res_u) if err_u is None else [(None, {})] * len(outs_p)
        if (
            spec["func"] == "find_label_issues"
            and spec["kwargs"].keys() == {"filter_by", "n_jobs"}
            and spec["kwargs"]["filter_by"] == "prune_by_noise_rate"
        ):
            masks_key["prune_by_noise_rate"] = f"r{len(stored)}"
            masks[f"r{len(stored)}"] = np.asarray(res_p).copy()
        for (arr_p, extra), (arr_u, _) in zip(outs_p, outs_u, strict=True):
            key = f"r{len(stored)}"
            stored[key] = arr_p
            entry = {
                "key": key,
                **base,
                **extra,
                "dtype": str(arr_p.dtype),
                "shape": list(arr_p.shape),
                "plain_equal": arr_u is not None and _same(arr_p, arr_u),
            }
            if warns:
                entry["warnings"] = warns
            manifest.append(entry)
    for kname, v in pristine.items():
        assert np.array_equal(arrays[kname], v), f"{name}: cleanlab mutated input {kname}"
    return stored, manifest, (n, k, str(arrays["pred_probs"].dtype))


def save_npz_deterministic(path, arrays):
    """Same layout as np.savez_compressed, but with fixed zip timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def main():
    versions = {p: pkg_version(p) for p in ("cleanlab", "numpy", "pandas", "scikit-learn", "scipy")}
    versions["python"] = sys.version.split()[0]
    for p, want in EXPECTED_VERSIONS.items():
        if versions[p] != want:
            print(f"WARNING: {p} {versions[p]} != pinned {want}", file=sys.stderr)
    notes = build_inputs()
    if EXPECTED.exists():
        shutil.rmtree(EXPECTED)
    EXPECTED.mkdir(parents=True)
    summary = {}
    for name in REAL_SETS + GEN_SETS:
        stored, manifest, (n, k, dt) = process_set(name)
        save_npz_deterministic(EXPECTED / f"{name}.npz", stored)
        (EXPECTED / f"{name}.json").write_text(json.dumps(manifest, indent=1) + "\n")
        errors = [e for e in manifest if "error" in e]
        tie = [e for e in manifest if not e["plain_equal"]]
        summary[name] = {
            "n": n,
            "k": k,
            "pred_probs_dtype": dt,
            "entries": len(manifest),
            "arrays": len(stored),
            "errors": [{"func": e["func"], "kwargs": e["kwargs"], "error": e["error"]} for e in errors],
            "plain_equal_false": [
                {
                    "key": e["key"],
                    "func": e["func"],
                    "kwargs": e["kwargs"],
                    **({"item_name": e["item_name"]} if "item_name" in e else {}),
                }
                for e in tie
            ],
        }
    meta = {"versions": versions, "input_notes": notes, "summary": summary}
    (EXPECTED / "_meta.json").write_text(json.dumps(meta, indent=1) + "\n")

    print("versions:", versions)
    for k_, v in notes.items():
        print(f"input note [{k_}]: {v}")
    print(f"{'set':<14}{'N':>7}{'K':>4} {'dtype':<8}{'entries':>8}{'errors':>7}{'ties':>6}")
    for name, s in summary.items():
        print(
            f"{name:<14}{s['n']:>7}{s['k']:>4} {s['pred_probs_dtype']:<8}{s['entries']:>8}"
            f"{len(s['errors']):>7}{len(s['plain_equal_false']):>6}"
        )
    for name, s in summary.items():
        for e in s["errors"]:
            print(f"ERROR [{name}] {e['func']} {json.dumps(e['kwargs'])}: {e['error']}")
    for name, s in summary.items():
        for e in s["plain_equal_false"]:
            extra = f" [{e['item_name']}]" if "item_name" in e else ""
            print(f"TIE-SENSITIVE [{name}] {e['key']} {e['func']}{extra} {json.dumps(e['kwargs'])}")
    total = sum(f.stat().st_size for f in HERE.rglob("*") if f.is_file() and f.parent != HERE)
    print(f"total size of inputs/ + expected/: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
