"""Generate the multi-label and token-classification golden fixtures.

Companion of ``generate_golden.py`` (same licensing rules, same conventions,
and its helpers are imported from there rather than copied): cleanlab is AGPL
and is used here only as a black-box oracle from a throwaway virtualenv
outside the repository.  Only the resulting ``.npy`` / ``.npz`` / ``.json``
files are committed; labelaudit and its tests never import cleanlab.

Regenerating (from the repository root)::

    /tmp/clenv/bin/python tests/golden/generate_golden_ml_token.py

What it writes (everything below ``tests/golden/``):

* ``inputs_ml/<set>/labels.json``         list of lists of class ids (the form cleanlab takes)
* ``inputs_ml/<set>/labels_onehot.npy``   (N, K) int8 0/1, the same labels one-hot
* ``inputs_ml/<set>/pred_probs.npy``      (N, K) float64, independent per-class probabilities
* ``inputs_token/<set>/labels.json``      list of sentences, each a list of tag ids
* ``inputs_token/<set>/tokens.json``      list of sentences, each a list of token strings
* ``inputs_token/<set>/pred_probs.npz``   arrays s0, s1, ... (one (T_s, K) array per sentence)
* ``inputs_token/<set>/labels_flat.npy``, ``pred_probs_flat.npy``, ``sentence_lengths.npy``
  (the same data concatenated in reading order, for convenience)
* ``inputs_token/<set>/class_names.txt``  (only tok_k9_f32) one tag name per line
* ``expected_ml/<set>.npz|.json``, ``expected_token/<set>.npz|.json`` and ``_meta.json`` in each

Tie handling and the plain/patched double run are exactly those of
``generate_golden.py`` (its ``stable_sorting`` context manager is reused).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import shutil
import sys
import warnings
from importlib.metadata import version as pkg_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cleanlab.count  # noqa: E402
import cleanlab.multilabel_classification.dataset as ml_dataset  # noqa: E402
import cleanlab.multilabel_classification.filter as ml_filter  # noqa: E402
import cleanlab.multilabel_classification.rank as ml_rank  # noqa: E402
import cleanlab.token_classification.filter as tok_filter  # noqa: E402
import cleanlab.token_classification.rank as tok_rank  # noqa: E402
import cleanlab.token_classification.summary as tok_summary  # noqa: E402
import generate_golden as gg  # noqa: E402  (stable_sorting, npz writer, noise helpers)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

INPUTS_ML = HERE / "inputs_ml"
INPUTS_TOK = HERE / "inputs_token"
EXPECTED_ML = HERE / "expected_ml"
EXPECTED_TOK = HERE / "expected_token"

RANK_METHODS = gg.RANK_METHODS
FILTER_BYS = gg.FILTER_BYS
PRUNE_FILTERS = gg.PRUNE_FILTERS
LOW_FILTERS = ["low_normalized_margin", "low_self_confidence"]

ML_SETS = ["ml_k5", "ml_k12", "ml_absent", "ml_example_m"]
TOK_SETS = ["tok_k5", "tok_k9_f32", "tok_empty", "tok_example_t", "tok_example_t2"]
TOK_FILTER_ONLY = {"tok_empty"}  # has empty sentences: the rank/summary calls are skipped


# --------------------------------------------------------------------------------------
# Multi-label inputs
# --------------------------------------------------------------------------------------
def _ml_probs(rng, z, y):
    """Independent per-class probabilities from a model of the TRUE indicators z.

    Each cell is a Beta draw (ratio of two gamma variates) whose mean is high
    where the class truly applies and low where it does not.  On part of the
    flipped cells the model has partly memorised the noisy indicator, and a few
    cells are genuinely ambiguous (mean near 0.5).
    """
    n, k = z.shape
    mu = np.where(z, rng.uniform(0.6, 0.95, size=(n, k)), rng.uniform(0.05, 0.35, size=(n, k)))
    memorised = (z != y) & (rng.random((n, k)) < 0.4)
    mu = np.where(memorised, 0.5 * (mu + np.where(y, 0.8, 0.2)), mu)
    ambiguous = rng.random((n, k)) < 0.05
    mu = np.where(ambiguous, rng.uniform(0.3, 0.7, size=(n, k)), mu)
    conc = np.exp(rng.uniform(1.5, 3.5, size=(n, 1)))  # per-row sharpness
    ga = rng.gamma(conc * mu)
    gb = rng.gamma(conc * (1.0 - mu))
    p = ga / (ga + gb)
    assert np.isfinite(p).all() and p.min() >= 0.0 and p.max() <= 1.0
    return p.astype(np.float64)


def gen_ml(name):
    """Return (one-hot labels (N,K) int8, pred_probs (N,K) float64)."""
    if name == "ml_example_m":  # docs/algorithms.md, token/multi-label §3.7, example M
        labels = [[0], [0, 1], [1], [2], [0, 2], []]
        p = np.array(
            [
                [0.9, 0.2, 0.1],
                [0.8, 0.1, 0.2],
                [0.3, 0.7, 0.6],
                [0.1, 0.2, 0.9],
                [0.7, 0.3, 0.2],
                [0.2, 0.1, 0.8],
            ]
        )
        y = np.zeros((6, 3), dtype=np.int8)
        for i, row in enumerate(labels):
            y[i, row] = 1
        return y, p
    if name == "ml_k5":
        rng = np.random.default_rng(20260105)
        n, k = 1500, 5
        prev = np.array([0.45, 0.35, 0.3, 0.2, 0.12])
        absent = []
    elif name == "ml_k12":
        rng = np.random.default_rng(20260212)
        n, k = 2000, 12
        prev = rng.uniform(0.05, 0.4, size=k)
        absent = []
    elif name == "ml_absent":
        rng = np.random.default_rng(20260306)
        n, k = 800, 6
        prev = np.array([0.4, 0.3, 0.25, 0.2, 0.1, 0.15])
        absent = [4]  # the model knows class 4, the annotators never used it
    else:
        raise KeyError(name)
    z = rng.random((n, k)) < prev
    flip = rng.random((n, k)) < 0.10
    y = z ^ flip
    y[:, absent] = False
    p = _ml_probs(rng, z, y)
    counts = y.sum(axis=0)
    for c in range(k):
        if c in absent:
            assert counts[c] == 0
        else:
            assert 0 < counts[c] < n, (name, c, counts[c])
    return y.astype(np.int8), p


def onehot_to_lists(y):
    return [[int(c) for c in np.flatnonzero(row)] for row in y]


def build_ml_inputs():
    if INPUTS_ML.exists():
        shutil.rmtree(INPUTS_ML)
    for name in ML_SETS:
        y, p = gen_ml(name)
        d = INPUTS_ML / name
        d.mkdir(parents=True)
        np.save(d / "labels_onehot.npy", y)
        np.save(d / "pred_probs.npy", p)
        (d / "labels.json").write_text(json.dumps(onehot_to_lists(y)) + "\n")


# --------------------------------------------------------------------------------------
# Token inputs
# --------------------------------------------------------------------------------------
K5_VOCAB = [
    ["the", "The", "a", "of", "and", "to", "in", ",", "."],
    ["bank", "Bank", "river", "loan", "money"],
    ["Paris", "paris", "London", "Rome"],
    ["run", "runs", "ran", "walk"],
    ["red", "Red", "blue", "green"],
]
K9_NAMES = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
K9_VOCAB = {
    "O": ["the", "The", "a", "of", "in", "said", "on", "to", ",", ".", "and", "was"],
    "PER": ["John", "Mary", "Smith", "Lee", "Obama", "Jordan"],
    "LOC": ["Paris", "London", "New", "York", "Jordan", "France"],
    "ORG": ["Google", "UN", "Apple", "Bank", "Reuters", "United"],
    "MISC": ["English", "French", "Olympic", "Euro", "Cup"],
}


def _draw_token(rng, vocab):
    # Zipf-like weights so that some tokens repeat a lot
    w = 1.0 / np.arange(1, len(vocab) + 1)
    return vocab[int(rng.choice(len(vocab), p=w / w.sum()))]


def _bio_tags(rng, length):
    tags = []
    while len(tags) < length:
        if rng.random() < 0.7:
            tags.append(0)
            continue
        e = int(rng.integers(4))
        tags.append(1 + 2 * e)  # B-
        while len(tags) < length and rng.random() < 0.5:
            tags.append(2 + 2 * e)  # I-
    return tags


def gen_tok(name):
    """Return (labels list of lists, pred_probs list of arrays, tokens list of lists, class names or None)."""
    if name in ("tok_example_t", "tok_example_t2"):  # docs/algorithms.md, token/multi-label §2.1
        labels = [[0, 1, 2], [1, 1], [0, 2, 0]]
        last = [0.35, 0.55, 0.10] if name == "tok_example_t" else [0.28, 0.62, 0.10]
        probs = [
            np.array([[0.80, 0.10, 0.10], [0.20, 0.70, 0.10], [0.60, 0.10, 0.30]]),
            np.array([[0.10, 0.85, 0.05], [0.25, 0.15, 0.60]]),
            np.array([[0.70, 0.20, 0.10], [0.10, 0.10, 0.80], last]),
        ]
        tokens = [["The", "Bank", "of"], ["bank", "robbery"], ["Paris", "Hilton", "bank"]]
        return labels, probs, tokens, None
    if name == "tok_k5":
        rng = np.random.default_rng(20260405)
        k, n_sent = 5, 300
        lengths = rng.integers(1, 21, size=n_sent)
        t = rng.choice(k, size=int(lengths.sum()), p=[0.5, 0.15, 0.15, 0.1, 0.1])
        noise, dtype, names = 0.08, np.float64, None
        vocab = K5_VOCAB
    elif name == "tok_k9_f32":
        rng = np.random.default_rng(20260509)
        k, n_sent = 9, 400
        lengths = rng.integers(1, 21, size=n_sent)
        t = np.concatenate([np.asarray(_bio_tags(rng, int(m)), dtype=np.int64) for m in lengths])
        noise, dtype, names = 0.08, np.float32, K9_NAMES
        vocab = [K9_VOCAB["O"]] + [K9_VOCAB[nm[2:]] for nm in K9_NAMES[1:]]
    elif name == "tok_empty":
        rng = np.random.default_rng(20260604)
        k, n_sent = 4, 40
        lengths = rng.integers(1, 9, size=n_sent)
        lengths[[0, 7, 8, 19, 39]] = 0  # empty sentences, first and last included
        t = rng.choice(k, size=int(lengths.sum()), p=[0.4, 0.3, 0.2, 0.1])
        noise, dtype, names = 0.15, np.float64, None
        vocab = K5_VOCAB[:4]
    else:
        raise KeyError(name)
    y = gg._flip_labels(rng, t, k, noise, np.arange(k))
    p = gg._model_probs(rng, t, y, k, dtype)
    toks = [_draw_token(rng, vocab[c]) for c in t]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    labels, probs, tokens = [], [], []
    for s in range(n_sent):
        a, b = int(bounds[s]), int(bounds[s + 1])
        labels.append([int(v) for v in y[a:b]])
        probs.append(np.ascontiguousarray(p[a:b]))
        tokens.append(toks[a:b])
    return labels, probs, tokens, names


def build_tok_inputs():
    if INPUTS_TOK.exists():
        shutil.rmtree(INPUTS_TOK)
    for name in TOK_SETS:
        labels, probs, tokens, names = gen_tok(name)
        k = probs[0].shape[1]
        dtype = probs[0].dtype
        probs = [q.reshape(-1, k) for q in probs]
        d = INPUTS_TOK / name
        d.mkdir(parents=True)
        (d / "labels.json").write_text(json.dumps(labels) + "\n")
        (d / "tokens.json").write_text(json.dumps(tokens) + "\n")
        gg.save_npz_deterministic(d / "pred_probs.npz", {f"s{i}": q for i, q in enumerate(probs)})
        np.save(d / "labels_flat.npy", np.array([v for row in labels for v in row], dtype=np.int64))
        np.save(d / "pred_probs_flat.npy", np.concatenate(probs, axis=0).astype(dtype))
        np.save(d / "sentence_lengths.npy", np.array([len(r) for r in labels], dtype=np.int64))
        if names is not None:
            (d / "class_names.txt").write_text("\n".join(names) + "\n")


def load_tok(name):
    d = INPUTS_TOK / name
    labels = json.loads((d / "labels.json").read_text())
    tokens = json.loads((d / "tokens.json").read_text())
    with np.load(d / "pred_probs.npz") as z:
        probs = [z[f"s{i}"] for i in range(len(labels))]
    names = None
    if (d / "class_names.txt").exists():
        names = (d / "class_names.txt").read_text().split()
    return labels, probs, tokens, names


def load_ml(name):
    d = INPUTS_ML / name
    return json.loads((d / "labels.json").read_text()), np.load(d / "pred_probs.npy")


# --------------------------------------------------------------------------------------
# Derived reference: multi-label Path A ordered by the aggregated score
# (docs/algorithms.md, token/multi-label §3.7)
# --------------------------------------------------------------------------------------
def find_label_issues__stable_sorted(labels, pred_probs, *, filter_by, return_indices_ranked_by, **kwargs):
    """cleanlab's flagged set (mask call), ordered by cleanlab's own aggregated score
    computed on the flagged rows only, taken in increasing index order (q2 of token/multi-label §3.7)."""
    rank_by_kwargs = kwargs.pop("rank_by_kwargs", {})
    mask = ml_filter.find_label_issues(labels, pred_probs, filter_by=filter_by, **kwargs)
    idx = np.flatnonzero(mask)
    q2 = ml_rank.get_label_quality_scores(
        [labels[i] for i in idx], pred_probs[idx], method=return_indices_ranked_by, **rank_by_kwargs
    )
    return idx[gg._ORIG_ARGSORT(q2, kind="stable")]


class _Derived:
    find_label_issues__stable_sorted = staticmethod(find_label_issues__stable_sorted)


MODULES = {
    "count": cleanlab.count,
    "multilabel_classification.rank": ml_rank,
    "multilabel_classification.filter": ml_filter,
    "multilabel_classification.dataset": ml_dataset,
    "token_classification.filter": tok_filter,
    "token_classification.rank": tok_rank,
    "token_classification.summary": tok_summary,
}


# --------------------------------------------------------------------------------------
# Call lists
# --------------------------------------------------------------------------------------
class Specs(list):
    def add(
        self,
        module,
        func,
        kwargs,
        output,
        args=("labels", "pred_probs"),
        items=None,
        array_kwargs=None,
        **extra,
    ):
        self.append(
            dict(
                module=module,
                func=func,
                kwargs=kwargs,
                output=output,
                args=list(args),
                items=items,
                array_kwargs=array_kwargs,
                **extra,
            )
        )


def ml_call_specs(k):
    s = Specs()
    R, F, D = (
        "multilabel_classification.rank",
        "multilabel_classification.filter",
        "multilabel_classification.dataset",
    )
    aggs = [
        {"method": "exponential_moving_average", "alpha": 0.5},
        {"method": "exponential_moving_average"},
        {"method": "softmin"},
        {"method": "softmin", "temperature": 0.5},
    ]
    for m in RANK_METHODS:
        s.add(R, "get_label_quality_scores", {"method": m}, "scores")
        if m != "confidence_weighted_entropy":
            s.add(R, "get_label_quality_scores", {"method": m, "adjust_pred_probs": True}, "scores")
        for a in aggs:
            s.add(R, "get_label_quality_scores", {"method": m, "aggregator_kwargs": a}, "scores")
    for m in RANK_METHODS:
        s.add(R, "get_label_quality_scores_per_class", {"method": m}, "matrix")
        if m != "confidence_weighted_entropy":
            s.add(R, "get_label_quality_scores_per_class", {"method": m, "adjust_pred_probs": True}, "matrix")
    for f in FILTER_BYS:
        s.add(F, "find_label_issues", {"filter_by": f, "n_jobs": 1}, "mask_indices")
    ranked = []
    for f in FILTER_BYS:
        for r in RANK_METHODS:
            ranked.append({"filter_by": f, "return_indices_ranked_by": r, "n_jobs": 1})
        for r in ("self_confidence", "normalized_margin"):
            ranked.append(
                {
                    "filter_by": f,
                    "return_indices_ranked_by": r,
                    "rank_by_kwargs": {"adjust_pred_probs": True},
                    "n_jobs": 1,
                }
            )
    for kw in ranked:
        s.add(F, "find_label_issues", kw, "indices")
        if kw["filter_by"] in LOW_FILTERS:
            s.add(F, "find_label_issues__stable_sorted", dict(kw), "indices", derived=True)
    nrem = [1 + (c % 3) for c in range(k)]
    for f in PRUNE_FILTERS:
        s.add(F, "find_label_issues", {"filter_by": f, "frac_noise": 0.5, "n_jobs": 1}, "mask_indices")
        s.add(
            F, "find_label_issues", {"filter_by": f, "min_examples_per_class": 5, "n_jobs": 1}, "mask_indices"
        )
    s.add(
        F,
        "find_label_issues",
        {"filter_by": "prune_by_class", "num_to_remove_per_class": nrem, "n_jobs": 1},
        "mask_indices",
    )
    for f in ("prune_by_noise_rate", "prune_by_class", "confident_learning"):
        s.add(F, "find_multilabel_issues_per_class", {"filter_by": f, "n_jobs": 1}, "mask_matrix")
    for f in ("prune_by_class", "prune_by_noise_rate"):
        s.add(
            F,
            "find_multilabel_issues_per_class",
            {"filter_by": f, "num_to_remove_per_class": nrem, "n_jobs": 1},
            "mask_matrix",
        )
    s.add(D, "common_multilabel_issues", {}, "table")
    s.add(D, "rank_classes_by_multilabel_quality", {}, "table")
    s.add(D, "overall_multilabel_health_score", {}, "scalar")
    for cal in (False, True):
        s.add("count", "compute_confident_joint", {"multi_label": True, "calibrate": cal}, "matrix")
    return s


def tok_call_specs(name, has_names):
    s = Specs()
    F, R, S = "token_classification.filter", "token_classification.rank", "token_classification.summary"
    s.add(F, "find_label_issues", {"n_jobs": 1}, "pairs")
    for r in RANK_METHODS:
        s.add(F, "find_label_issues", {"return_indices_ranked_by": r, "n_jobs": 1}, "pairs")
    for f in FILTER_BYS:
        s.add(F, "find_label_issues", {"filter_by": f, "n_jobs": 1}, "pairs")
    for r in RANK_METHODS:
        s.add(F, "find_label_issues", {"return_indices_ranked_by": r, "low_memory": True}, "pairs")
    s.add(
        F, "find_label_issues", {"filter_by": "prune_by_noise_rate", "frac_noise": 0.5, "n_jobs": 1}, "pairs"
    )
    s.add(
        F,
        "find_label_issues",
        {"filter_by": "prune_by_noise_rate", "min_examples_per_class": 5, "n_jobs": 1},
        "pairs",
    )
    if name in TOK_FILTER_ONLY:
        return s
    items = [("sentence_scores", "vector"), ("token_scores", "flat_token_scores")]
    for m in RANK_METHODS:
        for sm, skw in (("min", None), ("softmin", None), ("softmin", {"temperature": 0.5})):
            kw = {"token_score_method": m, "sentence_score_method": sm}
            if skw is not None:
                kw["sentence_score_kwargs"] = skw
            s.add(R, "get_label_quality_scores", kw, "tuple", items=items)
    issues = "@issues:default"
    s.add(
        S,
        "common_label_issues",
        {"verbose": False},
        "rows",
        args=(issues, "tokens"),
        array_kwargs={"labels": "labels", "pred_probs": "pred_probs"},
    )
    if has_names:
        s.add(
            S,
            "common_label_issues",
            {"verbose": False},
            "rows",
            args=(issues, "tokens"),
            array_kwargs={"labels": "labels", "pred_probs": "pred_probs", "class_names": "class_names"},
        )
    s.add(S, "common_label_issues", {"verbose": False}, "rows", args=(issues, "tokens"))
    s.add(
        S,
        "filter_by_token",
        {"token": "@frequent"},
        "pairs",
        args=(),
        array_kwargs={"issues": issues, "tokens": "tokens"},
    )
    s.add(
        S,
        "filter_by_token",
        {"token": "@frequent_upper"},
        "pairs",
        args=(),
        array_kwargs={"issues": issues, "tokens": "tokens"},
    )
    return s


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------
def _fresh(v):
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, list):
        return [_fresh(x) for x in v]
    return copy.deepcopy(v)


def _to_outputs(spec, result):
    out = spec["output"]
    if out == "tuple":
        assert isinstance(result, tuple) and len(result) == len(spec["items"])
        res = []
        for i, ((iname, ikind), val) in enumerate(zip(spec["items"], result, strict=True)):
            if ikind == "flat_token_scores":
                assert all(isinstance(x, pd.Series) for x in val)
                arr = np.concatenate([x.to_numpy() for x in val])
            else:
                arr = np.asarray(val)
            res.append((arr, {"output": "tuple_item", "item": i, "item_name": iname, "item_output": ikind}))
        return res
    if out == "pairs":
        assert isinstance(result, list)
        arr = np.array([[int(a), int(b)] for a, b in result], dtype=np.int64).reshape(-1, 2)
        return [(arr, {"output": out})]
    if out == "mask_matrix":
        mask = np.asarray(result)
        assert mask.dtype == bool and mask.ndim == 2
        return [(mask.astype(np.int8), {"output": out})]
    if out == "rows":
        assert isinstance(result, pd.DataFrame)
        rows = [[_py(v) for v in row] for row in result.itertuples(index=False, name=None)]
        return [(None, {"output": out, "columns": [str(c) for c in result.columns], "rows": rows})]
    if out == "scalar":
        return [(np.asarray(result, dtype=np.float64), {"output": out})]
    return gg._to_outputs(spec, result)


def _py(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def run_call(spec, env, patched):
    if spec.get("derived"):
        fn = getattr(_Derived, spec["func"])
    else:
        fn = getattr(MODULES[spec["module"]], spec["func"])
    args = [env.resolve(a) for a in spec["args"]]
    kwargs = json.loads(json.dumps(spec["kwargs"]))
    for kk, vv in list(kwargs.items()):
        if isinstance(vv, str) and vv.startswith("@"):
            kwargs[kk] = env.resolve(vv)
    if spec["array_kwargs"]:
        for kk, vv in spec["array_kwargs"].items():
            kwargs[kk] = env.resolve(vv)
    with gg.stable_sorting(patched), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
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


class Env:
    def __init__(self, arrays):
        self.arrays = arrays  # name -> input object (kept pristine)
        self.refs = {}  # "@..." -> value

    def resolve(self, name):
        if name.startswith("@"):
            return _fresh(self.refs[name])
        return _fresh(self.arrays[name])


def _same_out(a, b):
    if a is None or b is None:
        return a is None and b is None
    return gg._same(a, b)


def run_specs(specs, env, on_result=None):
    stored, manifest = {}, []
    for spec in specs:
        res_p, err_p, warns = run_call(spec, env, patched=True)
        res_u, err_u, _ = run_call(spec, env, patched=False)
        base = {"func": spec["func"], "module": spec["module"], "args": spec["args"]}
        if spec["array_kwargs"]:
            base["array_kwargs"] = spec["array_kwargs"]
        base["kwargs"] = spec["kwargs"]
        if spec.get("derived"):
            base["derived"] = True
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
        outs_u = _to_outputs(spec, res_u) if err_u is None else [(None, {"rows": object()})] * len(outs_p)
        first_key = f"r{len(stored)}"
        for (arr_p, extra), (arr_u, extra_u) in zip(outs_p, outs_u, strict=True):
            if spec["output"] == "rows":
                entry = {"key": None, **base, **extra, "plain_equal": extra_u.get("rows") == extra["rows"]}
            else:
                key = f"r{len(stored)}"
                stored[key] = arr_p
                entry = {
                    "key": key,
                    **base,
                    **extra,
                    "dtype": str(arr_p.dtype),
                    "shape": list(arr_p.shape),
                    "plain_equal": err_u is None and _same_out(arr_p, arr_u),
                }
            if warns:
                entry["warnings"] = warns
            manifest.append(entry)
        if on_result is not None:
            on_result(spec, res_p, first_key, manifest)
    return stored, manifest


def _link_derived(manifest):
    """Point every derived Path-A entry at the cleanlab entry it re-orders."""
    by_kwargs = {}
    for e in manifest:
        if e["func"] == "find_label_issues" and not e.get("derived"):
            by_kwargs[json.dumps(e["kwargs"], sort_keys=True)] = e
    for e in manifest:
        if e.get("derived"):
            src = by_kwargs[json.dumps(e["kwargs"], sort_keys=True)]
            e["derived_from"] = src["key"]


def process_ml(name):
    labels, p = load_ml(name)
    n, k = p.shape
    env = Env({"labels": labels, "pred_probs": p})
    pristine = copy.deepcopy(labels), p.copy()
    stored, manifest = run_specs(ml_call_specs(k), env)
    _link_derived(manifest)
    assert labels == pristine[0] and np.array_equal(p, pristine[1]), f"{name}: cleanlab mutated an input"
    # sanity: a derived entry re-orders exactly cleanlab's flagged set, and it
    # reproduces cleanlab's own (misaligned) permutation when q2's order is applied
    # to the flagged set in default-score order -- so q2 is the score cleanlab uses.
    q = next(
        stored[e["key"]]
        for e in manifest
        if e["func"] == "get_label_quality_scores" and e["kwargs"] == {"method": "self_confidence"}
    )
    for e in manifest:
        if e.get("derived") and e["key"] is not None and e["derived_from"] is not None:
            a, b = stored[e["key"]], stored[e["derived_from"]]
            idx = np.sort(a)
            assert np.array_equal(idx, np.sort(b)), (name, e["kwargs"])
            f_score = idx[gg._ORIG_ARGSORT(q[idx], kind="stable")]
            assert np.array_equal(f_score[np.searchsorted(idx, a)], b), (name, e["kwargs"])
    return stored, manifest, (n, k, str(p.dtype))


def process_tok(name):
    labels, probs, tokens, names = load_tok(name)
    k = probs[0].shape[1]
    arrays = {"labels": labels, "pred_probs": probs, "tokens": tokens}
    if names is not None:
        arrays["class_names"] = names
    env = Env(arrays)
    pristine = copy.deepcopy(labels), [q.copy() for q in probs], copy.deepcopy(tokens)

    def on_result(spec, res, key, manifest):
        if spec["func"] == "find_label_issues" and spec["kwargs"] == {"n_jobs": 1}:
            issues = [(int(a), int(b)) for a, b in res]
            env.refs["@issues:default"] = issues
            # most frequently flagged token string (ties -> first seen)
            counts = {}
            for s_, j_ in issues:
                counts[tokens[s_][j_]] = counts.get(tokens[s_][j_], 0) + 1
            best = max(counts, key=counts.get) if counts else tokens[0][0]
            env.refs["@frequent"] = best
            env.refs["@frequent_upper"] = best.upper()
            env.issues_key = key

    specs = tok_call_specs(name, names is not None)
    stored, manifest = run_specs(specs, env, on_result)
    # write the resolved references into the manifest (tests need no re-derivation)
    ikey = f"@issues:{env.issues_key}"
    for e in manifest:
        e["args"] = [ikey if a == "@issues:default" else a for a in e["args"]]
        if e.get("array_kwargs"):
            e["array_kwargs"] = {
                kk: (ikey if vv == "@issues:default" else vv) for kk, vv in e["array_kwargs"].items()
            }
        e["kwargs"] = {
            kk: (env.refs[vv] if vv in ("@frequent", "@frequent_upper") else vv)
            for kk, vv in e["kwargs"].items()
        }
    assert labels == pristine[0] and tokens == pristine[2], f"{name}: mutated input"
    assert all(np.array_equal(a, b) for a, b in zip(probs, pristine[1], strict=True)), (
        f"{name}: mutated pred_probs"
    )
    n_tok = sum(len(r) for r in labels)
    return stored, manifest, (n_tok, k, str(probs[0].dtype), len(labels))


def write_set(outdir, name, stored, manifest):
    gg.save_npz_deterministic(outdir / f"{name}.npz", stored)
    (outdir / f"{name}.json").write_text(json.dumps(manifest, indent=1) + "\n")


def summarize(manifest, stored, extra):
    errors = [e for e in manifest if "error" in e]
    tie = [e for e in manifest if not e["plain_equal"]]
    return {
        **extra,
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


def main():
    versions = {p_: pkg_version(p_) for p_ in ("cleanlab", "numpy", "pandas", "scikit-learn", "scipy")}
    versions["python"] = sys.version.split()[0]
    for p_, want in gg.EXPECTED_VERSIONS.items():
        if versions[p_] != want:
            print(f"WARNING: {p_} {versions[p_]} != pinned {want}", file=sys.stderr)
    build_ml_inputs()
    build_tok_inputs()
    all_summary = {}
    for outdir, sets, proc in ((EXPECTED_ML, ML_SETS, "ml"), (EXPECTED_TOK, TOK_SETS, "tok")):
        if outdir.exists():
            shutil.rmtree(outdir)
        outdir.mkdir(parents=True)
        summary = {}
        for name in sets:
            if proc == "ml":
                stored, manifest, (n, k, dt) = process_ml(name)
                extra = {"n": n, "k": k, "pred_probs_dtype": dt}
            else:
                stored, manifest, (n, k, dt, ns) = process_tok(name)
                extra = {"sentences": ns, "n_tokens": n, "k": k, "pred_probs_dtype": dt}
            write_set(outdir, name, stored, manifest)
            summary[name] = summarize(manifest, stored, extra)
        (outdir / "_meta.json").write_text(
            json.dumps({"versions": versions, "summary": summary}, indent=1) + "\n"
        )
        all_summary.update(summary)

    print("versions:", versions)
    print(f"{'set':<16}{'N':>7}{'K':>4} {'dtype':<8}{'entries':>8}{'errors':>7}{'ties':>6}")
    for name, s in all_summary.items():
        n = s.get("n", s.get("n_tokens"))
        print(
            f"{name:<16}{n:>7}{s['k']:>4} {s['pred_probs_dtype']:<8}{s['entries']:>8}"
            f"{len(s['errors']):>7}{len(s['plain_equal_false']):>6}"
        )
    for name, s in all_summary.items():
        for e in s["errors"]:
            print(f"ERROR [{name}] {e['func']} {json.dumps(e['kwargs'])}: {e['error']}")
    for name, s in all_summary.items():
        for e in s["plain_equal_false"]:
            extra = f" [{e['item_name']}]" if "item_name" in e else ""
            print(f"TIE-SENSITIVE [{name}] {e['key']} {e['func']}{extra} {json.dumps(e['kwargs'])}")
    total = 0
    for d in (INPUTS_ML, INPUTS_TOK, EXPECTED_ML, EXPECTED_TOK):
        total += sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
    print(f"total size of the ml/token fixtures: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
