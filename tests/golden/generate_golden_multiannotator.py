"""Generate the multi-annotator golden fixtures (``tests/golden/expected_multiannotator/``).

Same licensing rules as ``generate_golden.py``: cleanlab is AGPL and is used here only as a black-box
oracle from a throwaway virtualenv outside the repository. Only the resulting ``.npz`` / ``.json`` files
are committed; labelaudit and its tests never import cleanlab or this script.

Regenerating (from the repository root)::

    /tmp/clenv/bin/python tests/golden/generate_golden_multiannotator.py

Every call runs with sorting forced stable (``generate_golden.stable_sorting``) and numpy's global
generator seeded, and once more without the patches (``plain_equal`` in the manifest).

What it writes, per set: ``<set>.npz`` holding the inputs (``labels``: (N, M) float64 with NaN where an
annotator gave no label; ``pred_probs`` (N, K); ``pred_probs_unlabeled`` (U, K); ``labels_single``: the
first label of each example only) and the outputs, named ``<call>__<output>``; ``<set>.json``: the
calls (function, keyword arguments, output names, warnings); ``_meta.json``: versions and data notes.
``issues_<consensus_method>__mask`` is ``cleanlab.filter.find_label_issues`` (defaults) with that
method's consensus labels as the given labels: labelaudit's ``is_label_issue`` of ``annotators``.

Data: true classes drawn from a prior; annotator j answers the true class with probability acc_j
(known, stored in the manifest) and a uniformly chosen wrong class otherwise; each example is labelled
by a random subset of annotators; pred_probs = softmax(1.6 * one-hot(true) + standard normal noise).
"""

from __future__ import annotations

import io
import json
import sys
import warnings
from importlib.metadata import version as pkg_version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cleanlab.filter as filter  # noqa: E402
import cleanlab.multiannotator as ma  # noqa: E402
import generate_golden as gg  # noqa: E402  (stable_sorting, npz writer)
import numpy as np  # noqa: E402

OUT = HERE / "expected_multiannotator"


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def annotate(rng, truth, acc, sizes, k):
    n, m = len(truth), len(acc)
    labels = np.full((n, m), np.nan)
    for i in range(n):  # the generator may loop: it is not the code under test
        who = rng.choice(m, size=sizes[i], replace=False)
        for j in who:
            if rng.random() < acc[j]:
                labels[i, j] = truth[i]
            else:
                labels[i, j] = rng.choice([c for c in range(k) if c != truth[i]])
    return labels


def model(rng, truth, k, n_extra=0):
    onehot = np.eye(k)[truth]
    p = softmax(1.6 * onehot + rng.standard_normal(onehot.shape))
    extra = softmax(1.6 * np.eye(k)[rng.integers(0, k, n_extra)] + rng.standard_normal((n_extra, k)))
    return p, extra


def set_k3():
    rng = np.random.default_rng(301)
    n, m, k = 500, 10, 3
    truth = rng.choice(k, n, p=[0.5, 0.3, 0.2])
    acc = np.linspace(0.5, 0.95, m)
    sizes = np.where(rng.random(n) < 0.1, 1, 3)
    labels = annotate(rng, truth, acc, sizes, k)
    p, u = model(rng, truth, k, 40)
    return labels, p, u, {"accuracies": acc.tolist(), "prior": [0.5, 0.3, 0.2]}


def set_k5():
    rng = np.random.default_rng(502)
    n, m, k = 700, 15, 5
    truth = rng.choice(k, n, p=[0.35, 0.25, 0.2, 0.12, 0.08])
    acc = np.linspace(0.4, 0.95, m - 1)
    sizes = rng.choice([1, 2, 3, 4, 5], n, p=[0.15, 0.25, 0.3, 0.2, 0.1])
    labels = np.full((n, m), np.nan)
    labels[:, : m - 1] = annotate(rng, truth, acc, sizes, k)
    # annotator m-1 labels only 4 examples that nobody else labelled: no agreement to learn from
    single = np.flatnonzero(sizes == 1)[:4]
    labels[single, :] = np.nan
    labels[single, m - 1] = truth[single]
    p, u = model(rng, truth, k, 30)
    return labels, p, u, {"accuracies": acc.tolist() + [1.0], "isolated_annotator": m - 1}


def set_ties():
    """Two or three labels per example and coarse pred_probs with exact ties. The second and third
    thirds repeat the first with classes shifted by 1 and 2 (labels and pred_probs columns), so every
    class has the same total of votes: majority-vote ties that pred_probs leave open reach the
    annotator-score tie-break, and worst_class ties reach its mean-quality step."""
    rng = np.random.default_rng(77)
    n, k = 60, 3
    truth = rng.choice(k, n)
    acc = np.array([0.55, 0.6, 0.75, 0.9])
    sizes = rng.choice([2, 3], n, p=[0.8, 0.2])
    base = annotate(rng, truth, acc, sizes, k)
    rows = np.array(
        [[0.4, 0.4, 0.2], [0.2, 0.4, 0.4], [0.4, 0.2, 0.4], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.2, 0.2]]
    )
    p0 = rows[rng.integers(0, len(rows), n)]
    good = rng.random(n) < 0.3
    p0[good] = np.eye(k)[truth[good]] * 0.5 + 0.5 / k
    labels = np.concatenate([base, (base + 1) % k, (base + 2) % k])
    p = np.concatenate([p0, np.roll(p0, 1, axis=1), np.roll(p0, 2, axis=1)])
    u = rows[rng.integers(0, len(rows), 10)]
    return labels, p, u, {"accuracies": acc.tolist(), "pred_probs": "coarse rows with exact ties"}


def set_spec():
    """The hand-checkable example of the specification (K = 2, M = 3)."""
    nan = np.nan
    labels = np.array([[0, 0, 0], [1, 1, 0], [0, 1, nan], [1, nan, 1], [nan, nan, 1]], dtype=float)
    p = np.array([(0.8, 0.2), (0.3, 0.7), (0.6, 0.4), (0.5, 0.5), (0.1, 0.9)])
    u = np.array([(0.7, 0.3), (0.5, 0.5)])
    return labels, p, u, {"note": "hand-checkable example"}


SETS = {"ma_k3": set_k3, "ma_k5": set_k5, "ma_ties": set_ties, "ma_spec": set_spec}

QUALITY_CALLS = {
    "default": {"return_weights": True},
    "majority_vote": {"consensus_method": "majority_vote", "return_weights": True},
    "agreement": {"quality_method": "agreement"},
    "calibrated": {"calibrate_probs": True, "return_weights": True},
    "normalized_margin": {
        "label_quality_score_kwargs": {"method": "normalized_margin"},
        "return_weights": True,
    },
}


def quality_outputs(res):
    lq = res["label_quality"]
    out = {
        "consensus_label": lq["consensus_label"].to_numpy(np.int64),
        "consensus_quality_score": lq["consensus_quality_score"].to_numpy(np.float64),
        "annotator_agreement": lq["annotator_agreement"].to_numpy(np.float64),
        "num_annotations": lq["num_annotations"].to_numpy(np.int64),
        "detailed_label_quality": res["detailed_label_quality"].to_numpy(np.float64),
    }
    st = res["annotator_stats"]
    out["annotator_order"] = st.index.to_numpy(np.int64)
    for col in ("annotator_quality", "agreement_with_consensus"):
        out[col] = st[col].to_numpy(np.float64)
    for col in ("worst_class", "num_examples_labeled"):
        out[col] = st[col].to_numpy(np.int64)
    if "model_weight" in res:
        out["model_weight"] = np.float64(res["model_weight"])
        out["annotator_weight"] = np.asarray(res["annotator_weight"], dtype=np.float64)
    return out


def run(fn, patched):
    np.random.seed(0)
    with gg.stable_sorting(patched), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with io.StringIO() as sink:
            stdout, sys.stdout = sys.stdout, sink
            try:
                out = fn()
            finally:
                sys.stdout = stdout
    return out, sorted({str(w.message)[:300] for w in caught})


def same(a, b):
    return all(np.array_equal(a[key], b[key], equal_nan=True) for key in a)


def process(name):
    labels, p, u, notes = SETS[name]()
    single = labels.copy()
    for i in range(len(single)):
        seen = np.flatnonzero(~np.isnan(single[i]))
        single[i, seen[1:]] = np.nan
    single = single[:, ~np.isnan(single).all(axis=0)]
    arrays = {"labels": labels, "pred_probs": p, "pred_probs_unlabeled": u, "labels_single": single}
    calls = []

    def record(call, func, kwargs, fn):
        out, warned = run(fn, True)
        plain, _ = run(fn, False)
        for key, value in out.items():
            arrays[f"{call}__{key}"] = value
        calls.append(
            {
                "call": call,
                "func": func,
                "kwargs": kwargs,
                "outputs": list(out),
                "plain_equal": same(out, plain),
                "warnings": warned,
            }
        )

    for call, kwargs in QUALITY_CALLS.items():

        def quality(kwargs=kwargs):
            return quality_outputs(ma.get_label_quality_multiannotator(labels, p, **kwargs))

        record(call, "get_label_quality_multiannotator", kwargs, quality)
    for method in ("best_quality", "majority_vote"):
        # labelaudit's is_label_issue of the consensus: confident learning (find_label_issues, defaults)
        # with the consensus labels as the given labels.
        def issues(method=method):
            res = ma.get_label_quality_multiannotator(labels, p, consensus_method=method, verbose=False)
            consensus = res["label_quality"]["consensus_label"].to_numpy(np.int64)
            return {"mask": np.asarray(filter.find_label_issues(consensus, p), dtype=bool)}

        record(
            f"issues_{method}",
            "filter.find_label_issues(consensus_label)",
            {"consensus_method": method},
            issues,
        )
    record(
        "mv_plain",
        "get_majority_vote_label",
        {},
        lambda: {"labels": ma.get_majority_vote_label(labels).astype(np.int64)},
    )
    record(
        "mv_probs",
        "get_majority_vote_label",
        {"pred_probs": True},
        lambda: {"labels": ma.get_majority_vote_label(labels, p).astype(np.int64)},
    )

    def active():
        a, b = ma.get_active_learning_scores(labels, p, u)
        return {"labeled": np.asarray(a, np.float64), "unlabeled": np.asarray(b, np.float64)}

    def active_single():
        a, b = ma.get_active_learning_scores(single, p, u)
        return {"labeled": np.asarray(a, np.float64), "unlabeled": np.asarray(b, np.float64)}

    record("active", "get_active_learning_scores", {"pred_probs_unlabeled": True}, active)
    record(
        "active_single",
        "get_active_learning_scores",
        {"labels": "labels_single", "pred_probs_unlabeled": True},
        active_single,
    )
    OUT.mkdir(exist_ok=True)
    gg.save_npz_deterministic(OUT / f"{name}.npz", arrays)
    manifest = {"set": name, "shape": list(labels.shape), "k": p.shape[1], "notes": notes, "calls": calls}
    (OUT / f"{name}.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return {
        "n": labels.shape[0],
        "m": labels.shape[1],
        "k": p.shape[1],
        "labels": int((~np.isnan(labels)).sum()),
    }


def main():
    meta = {
        "versions": {lib: pkg_version(lib) for lib in ("cleanlab", "numpy", "pandas")},
        "python": sys.version.split()[0],
        "sets": {name: process(name) for name in SETS},
    }
    (OUT / "_meta.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
