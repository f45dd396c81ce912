"""Multi-annotator consensus, annotator quality and active learning (core.multiannotator): golden parity
with cleanlab 2.9.0 (tests/golden/expected_multiannotator, made by generate_golden_multiannotator.py),
the worked examples of the specification, the input rules, invariances and the Report."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from labelaudit.core import multiannotator as ma
from labelaudit.core.formats import to_json
from labelaudit.core.report import Report
from labelaudit.errors import InputError, LabelauditWarning

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "expected_multiannotator"
SETS = ("ma_k3", "ma_k5", "ma_ties", "ma_spec")
TOL = 1e-6  # the parity target; the stored values are matched within 1e-15 (see test_parity_is_tight)

# The reference's keyword arguments of each stored call, as labelaudit spells them.
CALLS = {
    "default": {},
    "majority_vote": {"consensus_method": "majority_vote"},
    "agreement": {"quality_method": "agreement"},
    "calibrated": {"calibrate_probs": True},
    "normalized_margin": {"score_method": "normalized_margin"},
}

nan = np.nan
L41 = np.array([[0, 0, 0], [1, 1, 0], [0, 1, nan], [1, nan, 1], [nan, nan, 1]])
P41 = np.array([(0.8, 0.2), (0.3, 0.7), (0.6, 0.4), (0.5, 0.5), (0.1, 0.9)])


def load(name: str) -> dict[str, np.ndarray]:
    with np.load(GOLDEN / f"{name}.npz") as z:
        return dict(z)


def outputs(r: ma.MultiannotatorResult) -> dict[str, np.ndarray]:
    """The result in the layout of the stored reference (annotator rows worst first)."""
    o = r.annotator_order
    out = {
        "consensus_label": r.consensus_label,
        "consensus_quality_score": r.consensus_quality_score,
        "annotator_agreement": r.annotator_agreement,
        "num_annotations": r.num_annotations,
        "annotator_order": o,
        "annotator_quality": r.annotator_quality[o],
        "agreement_with_consensus": r.agreement_with_consensus[o],
        "worst_class": r.worst_class[o],
        "num_examples_labeled": r.num_examples_labeled[o],
    }
    if r.detailed_label_quality is not None:
        out["detailed_label_quality"] = r.detailed_label_quality
    if r.model_weight is not None:
        assert r.annotator_weight is not None
        out["model_weight"] = np.float64(r.model_weight)
        out["annotator_weight"] = r.annotator_weight
    return out


def assert_matches(got: dict[str, np.ndarray], z: dict[str, np.ndarray], call: str, tol: float = TOL) -> None:
    for key, value in got.items():
        expected = z[f"{call}__{key}"]
        assert value.shape == expected.shape, key
        if expected.dtype.kind in "iu":
            np.testing.assert_array_equal(value, expected, err_msg=f"{call}: {key}")
        else:
            np.testing.assert_allclose(value, expected, rtol=0, atol=tol, err_msg=f"{call}: {key}")


@pytest.fixture(scope="module", params=SETS)
def golden(request: pytest.FixtureRequest) -> tuple[str, dict[str, np.ndarray]]:
    return request.param, load(request.param)


@pytest.mark.parametrize("call", list(CALLS))
def test_golden_quality(golden, call):
    name, z = golden
    manifest = json.loads((GOLDEN / f"{name}.json").read_text())
    assert call in [c["call"] for c in manifest["calls"]]
    r = ma.get_label_quality_multiannotator(
        z["labels"], z["pred_probs"], return_detailed_quality=True, **CALLS[call]
    )
    got = outputs(r)
    if call == "agreement":
        assert r.model_weight is None and r.annotator_weight is None
    assert_matches(got, z, call)


def test_golden_majority_vote_and_active_learning(golden):
    _, z = golden
    L, P, U = z["labels"], z["pred_probs"], z["pred_probs_unlabeled"]
    np.testing.assert_array_equal(ma.get_majority_vote_label(L), z["mv_plain__labels"])
    np.testing.assert_array_equal(ma.get_majority_vote_label(L, P), z["mv_probs__labels"])
    for call, labels in (("active", L), ("active_single", z["labels_single"])):
        a, b = ma.get_active_learning_scores(labels, P, U)
        np.testing.assert_allclose(a, z[f"{call}__labeled"], rtol=0, atol=TOL)
        np.testing.assert_allclose(b, z[f"{call}__unlabeled"], rtol=0, atol=TOL)


def test_parity_is_tight():
    """The largest difference over every stored float output: a few ulps, far inside 1e-6."""
    worst = 0.0
    for name in SETS:
        z = load(name)
        for call, kwargs in CALLS.items():
            r = ma.get_label_quality_multiannotator(
                z["labels"], z["pred_probs"], return_detailed_quality=True, **kwargs
            )
            for key, value in outputs(r).items():
                if value.dtype.kind == "f":
                    worst = max(worst, float(np.nanmax(np.abs(value - z[f"{call}__{key}"]), initial=0.0)))
    assert worst < 1e-15


def test_golden_sets_cover_the_cases():
    z = load("ma_k5")
    num = (~np.isnan(z["labels"])).sum(axis=1)
    assert (num == 1).any() and (num >= 3).any()
    assert np.isnan(z["default__annotator_quality"][-1])  # the isolated annotator: NaN, listed last
    t = load("ma_ties")
    votes = ma.check_annotations(t["labels"], 3).votes
    assert ((votes == votes.max(axis=1, keepdims=True)).sum(axis=1) > 1).sum() > 50  # majority ties
    assert load("ma_k3")["pred_probs"].shape[1] == 3 and z["pred_probs"].shape[1] == 5


# --------------------------------------------------------------------------- worked examples (hand-checked: consensus, quality, weights)


def test_worked_example_crowdlab():
    r = ma.get_label_quality_multiannotator(L41, P41)
    np.testing.assert_array_equal(r.consensus_label, [0, 1, 0, 1, 1])
    np.testing.assert_allclose(
        r.consensus_quality_score, [0.795857, 0.666477, 0.588671, 0.622009, 0.876990], atol=1e-6
    )
    np.testing.assert_allclose(r.annotator_agreement, [1, 2 / 3, 0.5, 1, 1])
    np.testing.assert_array_equal(r.num_annotations, [3, 3, 2, 2, 1])
    assert r.model_weight == pytest.approx(0.7416198487095663, abs=1e-15)
    np.testing.assert_allclose(r.annotator_weight, [1 / 3, 0.2, 0.2])
    np.testing.assert_allclose(r.annotator_quality, [0.807699, 0.642256, 0.661118], atol=1e-6)
    np.testing.assert_allclose(r.agreement_with_consensus, [1, 2 / 3, 0.75])
    np.testing.assert_array_equal(r.worst_class, [0, 1, 0])
    np.testing.assert_array_equal(r.annotator_order, [1, 2, 0])
    np.testing.assert_array_equal(r.num_examples_labeled, [4, 3, 4])


def test_worked_example_model_overrides_single_label():
    p = P41.copy()
    p[4] = (0.95, 0.05)
    best = ma.get_label_quality_multiannotator(L41, p)
    assert best.consensus_label[4] == 0 and best.annotator_agreement[4] == 0
    assert best.consensus_quality_score[4] == pytest.approx(0.792470, abs=1e-6)
    assert best.annotator_quality[2] == pytest.approx(0.564103, abs=1e-6)
    vote = ma.get_label_quality_multiannotator(L41, p, consensus_method="majority_vote")
    assert vote.consensus_label[4] == 1 and vote.consensus_quality_score[4] == pytest.approx(
        0.207530, abs=1e-6
    )


def test_worked_example_agreement_packs_vote_fractions():
    r = ma.get_label_quality_multiannotator(L41, P41, quality_method="agreement")
    np.testing.assert_array_equal(r.consensus_label, [0, 1, 0, 0, 0])
    np.testing.assert_allclose(r.consensus_quality_score, [1, 2 / 3, 0.5, 0, 0])


def test_worked_example_majority_vote_tie_breaks():
    L = np.array([[0, 0, 1], [0, 0, 2], [1, 1, 2], [0, 2, nan], [1, nan, 2]])
    np.testing.assert_array_equal(ma.get_majority_vote_label(L), [0, 0, 1, 2, 1])
    p = np.full((5, 3), 1 / 3)
    p[3] = p[4] = (0.3, 0.3, 0.4)
    np.testing.assert_array_equal(ma.get_majority_vote_label(L, p), [0, 0, 1, 2, 2])


def test_tie_past_every_rule_goes_to_the_smallest_class():
    L = np.array([[0, 1], [1, 0]], dtype=float)  # two annotators who never agree, equal totals
    with (
        pytest.warns(LabelauditWarning, match="do not agree"),
        pytest.warns(LabelauditWarning, match="2 majority"),
    ):
        np.testing.assert_array_equal(ma.get_majority_vote_label(L), [0, 0])


def test_temperature_grid_and_scaling():
    p = np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5]])
    np.testing.assert_allclose(
        ma.temp_scale(p, 1.0), np.maximum(p, 1e-30) / np.maximum(p, 1e-30).sum(1)[:, None]
    )
    hot = ma.temp_scale(p, 0.5)
    assert hot[0, 0] > p[0, 0] and np.allclose(hot.sum(axis=1), 1)


def test_active_learning_unlabelled_only_and_errors():
    u = np.array([[0.9, 0.1], [0.5, 0.5]])
    a, b = ma.get_active_learning_scores(pred_probs_unlabeled=u)
    assert a.shape == (0,)
    np.testing.assert_allclose(b, [(0.9 + 0.5) / 2, (0.5 + 0.5) / 2])
    with pytest.raises(InputError, match="needs pred_probs"):
        ma.get_active_learning_scores(L41)
    with pytest.raises(InputError, match="need labels_multiannotator"):
        ma.get_active_learning_scores(None, P41)
    with pytest.raises(InputError, match="same K"):
        ma.get_active_learning_scores(L41, P41, np.full((2, 3), 1 / 3))


# ---------------------------------------------------------------------------------------- input rules


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([[0, 1], [nan, nan], [1, 1]]), r"example\(s\) \[1\] were labelled by nobody"),
        (
            np.array([[0, 2], [1, 1], [1, 0]]),
            r"labels must be in 0\.\.1 \(K=2 from pred_probs\); example 0, annotator 1 holds 2",
        ),
        (np.array([[0, -1], [1, 1], [1, 0]]), r"must be in 0\.\.1.*holds -1"),
        (np.array([[0, 0.5], [1, 1], [1, 0]]), r"labels must be integers.*example 0, annotator 1 holds 0\.5"),
        (
            np.array([[0, 1, nan], [1, 1, nan], [1, 0, nan]]),
            r"annotator column\(s\) \[2\] are entirely empty",
        ),
        (np.array([[0, 1], [1, 1]]), r"labels_multiannotator has 2 rows but pred_probs has 3 \(N must match"),
        (np.array([[0], [1], [1]]), "at least two annotator columns"),
        (np.array([[0, nan], [nan, 1], [1, nan]]), "every example has only one label"),
        (np.array([["a", "b"], ["a", "a"], ["b", "b"]]), "not strings"),
        (np.array([0, 1, 1]), "must be 2-D"),
    ],
)
def test_input_rules(labels, message):
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    with pytest.raises(InputError, match=message):
        ma.get_label_quality_multiannotator(labels, p)


def test_pred_probs_policy_and_options():
    L = np.array([[0, 0], [1, 1], [1, 0]], dtype=float)
    p = np.array([[0.9, 0.1], [0.2, 0.8], [nan, 0.4]])
    with pytest.raises(InputError, match="pred_probs must be finite; row 2"):
        ma.get_label_quality_multiannotator(L, p)
    with pytest.raises(InputError, match="row 0 sums to"):
        ma.get_label_quality_multiannotator(L, np.array([[0.9, 0.3], [0.2, 0.8], [0.6, 0.4]]))
    good = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    with pytest.raises(InputError, match="consensus_method must be one of best_quality, majority_vote"):
        ma.get_label_quality_multiannotator(L, good, consensus_method="vote")
    with pytest.raises(InputError, match="quality_method must be one of"):
        ma.get_label_quality_multiannotator(L, good, quality_method="x")
    with pytest.raises(InputError, match="score_method must be one of"):
        ma.get_label_quality_multiannotator(L, good, score_method="x")


def test_no_agreement_warns():
    L = np.array([[0, 1], [1, 0], [0, nan]], dtype=float)
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    with pytest.warns(LabelauditWarning, match="do not agree on any example"):
        ma.get_label_quality_multiannotator(L, p)


# ----------------------------------------------------------------------------------------- invariance


def test_invariance_dtype_memmap_layout_and_column_order(tmp_path):
    z = load("ma_k5")
    L, P = z["labels"], z["pred_probs"]
    base = ma.get_label_quality_multiannotator(L, P, return_detailed_quality=True)
    np.save(tmp_path / "L.npy", L)
    np.save(tmp_path / "P.npy", P)
    mm = ma.get_label_quality_multiannotator(
        np.load(tmp_path / "L.npy", mmap_mode="r"), np.load(tmp_path / "P.npy", mmap_mode="r")
    )
    for key in ("consensus_label", "consensus_quality_score", "annotator_quality", "worst_class"):
        np.testing.assert_array_equal(getattr(mm, key), getattr(base, key))
    f32 = ma.get_label_quality_multiannotator(L.astype(np.float32), P.astype(np.float32))
    np.testing.assert_array_equal(f32.consensus_label, base.consensus_label)
    np.testing.assert_allclose(f32.consensus_quality_score, base.consensus_quality_score, atol=1e-6)
    np.testing.assert_allclose(f32.annotator_quality, base.annotator_quality, atol=1e-6)
    fortran = ma.get_label_quality_multiannotator(np.asfortranarray(L), P)
    np.testing.assert_array_equal(fortran.consensus_quality_score, base.consensus_quality_score)
    perm = np.random.default_rng(3).permutation(L.shape[1])
    sh = ma.get_label_quality_multiannotator(L[:, perm], P, return_detailed_quality=True)
    np.testing.assert_array_equal(sh.consensus_label, base.consensus_label)
    np.testing.assert_allclose(sh.consensus_quality_score, base.consensus_quality_score, atol=1e-12)
    for key in ("annotator_quality", "agreement_with_consensus", "annotator_weight"):
        np.testing.assert_allclose(getattr(sh, key), getattr(base, key)[perm], atol=1e-12)
    for key in ("worst_class", "num_examples_labeled"):
        np.testing.assert_array_equal(getattr(sh, key), getattr(base, key)[perm])
    np.testing.assert_array_equal(perm[sh.annotator_order], base.annotator_order)
    np.testing.assert_allclose(sh.detailed_label_quality, base.detailed_label_quality[:, perm], atol=1e-12)


def test_integer_matrix_and_lists_are_accepted():
    L = np.array([[0, 0, 1], [1, 1, 1], [0, 1, 0]])
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    a = ma.get_label_quality_multiannotator(L, p)
    b = ma.get_label_quality_multiannotator(L.astype(float).tolist(), p)
    np.testing.assert_array_equal(a.consensus_quality_score, b.consensus_quality_score)
    np.testing.assert_array_equal(a.num_annotations, [3, 3, 3])


def test_inputs_are_not_modified():
    L, p = L41.copy(), P41.copy()
    ma.get_label_quality_multiannotator(L, p, calibrate_probs=True)
    ma.get_active_learning_scores(L, p, p)
    np.testing.assert_array_equal(L, L41)
    np.testing.assert_array_equal(p, P41)


# --------------------------------------------------------------------------------------------- report


def test_annotators_report():
    r = ma.get_label_quality_multiannotator(L41, P41)
    al, _ = ma.get_active_learning_scores(L41, P41)
    rep = ma.annotators_report(
        r,
        top=2,
        class_names=["cat", "dog"],
        annotator_ids=["ann", "bo", "cy"],
        active_learning_scores=al,
        k=2,
    )
    assert isinstance(rep, Report) and rep.command == "annotators" and not rep.gates
    ex = rep.tables["examples"]
    np.testing.assert_array_equal(ex["index"], [2, 3])  # lowest consensus quality first, cut to --top
    assert list(ex) == [
        "index",
        "consensus_label",
        "consensus_name",
        "consensus_quality_score",
        "annotator_agreement",
        "num_annotations",
        "active_learning_score",
    ]
    assert rep.file_table is not None
    np.testing.assert_array_equal(rep.file_table["index"], np.arange(5))
    doc = rep.to_dict()
    assert [a["annotator"] for a in doc["annotators"]] == ["bo", "cy", "ann"]
    assert doc["annotators"][0] == {
        "annotator": "bo",
        "annotator_quality": pytest.approx(0.642256, abs=1e-6),
        "agreement_with_consensus": pytest.approx(2 / 3),
        "worst_class": 1,
        "worst_class_name": "dog",
        "num_examples_labeled": 3,
    }
    assert doc["model_weight"] == pytest.approx(0.7416198487095663) and doc["gates"] == []
    assert (
        rep.headline
        == "consensus labels of 5 examples from 3 annotators; worst annotator bo (quality 0.6423)"
    )
    np.testing.assert_array_equal(rep.npy, [0, 1, 0, 1, 1])


def test_min_annotator_quality_gate():
    r = ma.get_label_quality_multiannotator(L41, P41)
    ok = ma.annotators_report(r, min_annotator_quality=0.6).gates[0]
    assert (
        ok.passed
        and ok.message()
        == "min_annotator_quality: lowest annotator quality 0.642256 is at or above the limit 0.6"
    )
    bad = ma.annotators_report(r, min_annotator_quality=0.7, annotator_ids=["a", "b", "c"])
    gate = bad.failed[0]
    assert (
        gate.message() == "min_annotator_quality: 2 annotator(s) below the limit 0.7: b (0.6423), c (0.6611)"
    )
    assert gate.to_dict()["value"] == pytest.approx(0.642256, abs=1e-6)


def test_gate_ignores_undefined_quality():
    z = load("ma_k5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = ma.get_label_quality_multiannotator(z["labels"], z["pred_probs"])
    assert np.isnan(r.annotator_quality[-1]) and r.annotator_order[-1] == 14
    gate = ma.annotators_report(r, min_annotator_quality=0.0).gates[0]
    assert gate.passed


@pytest.mark.parametrize("method", ["best_quality", "majority_vote"])
def test_golden_consensus_label_issues(golden, method):
    """is_label_issue: the reference's find_label_issues with the consensus labels as the given labels."""
    _, z = golden
    r = ma.get_label_quality_multiannotator(z["labels"], z["pred_probs"], consensus_method=method)
    got = ma.consensus_label_issues(r.consensus_label, z["pred_probs"])
    assert got.dtype == bool
    np.testing.assert_array_equal(got, z[f"issues_{method}__mask"])


def test_audit_annotators_is_the_library_calls():
    z = load("ma_k5")
    L, P = z["labels"], z["pred_probs"]
    rep = ma.audit_annotators(L, P, consensus_method="majority_vote", active_learning=True, top=7)
    r = ma.get_label_quality_multiannotator(L, P, consensus_method="majority_vote")
    al, _ = ma.get_active_learning_scores(L, P)
    issues = ma.consensus_label_issues(r.consensus_label, P)
    want = ma.annotators_report(r, top=7, active_learning_scores=al, label_issues=issues, k=5)
    assert to_json(rep.to_dict()) == to_json(want.to_dict()) and rep.params == want.params  # NaN: null
    assert rep.file_table is not None and want.file_table is not None
    for key, col in want.file_table.items():
        np.testing.assert_array_equal(rep.file_table[key], col)
    assert int(rep.file_table["is_label_issue"].sum()) == int(z["issues_majority_vote__mask"].sum())
    assert rep.results["n_label_issues"] == int(issues.sum())
    assert "consensus label issues" in rep.headline and len(rep.to_dict()["examples"]) == 7


def test_checked_annotations_are_taken_as_they_are():
    z = load("ma_k3")
    L, P = z["labels"], z["pred_probs"]
    ann = ma.check_annotations(L, 3, n=len(L))
    assert ma.check_annotations(ann, 3, n=len(L)) is ann
    a, b = ma.get_label_quality_multiannotator(ann, P), ma.get_label_quality_multiannotator(L, P)
    for key in ("consensus_label", "consensus_quality_score", "annotator_quality", "worst_class"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    np.testing.assert_array_equal(
        ma.get_active_learning_scores(ann, P)[0], ma.get_active_learning_scores(L, P)[0]
    )
    np.testing.assert_array_equal(ma.get_majority_vote_label(ann), ma.get_majority_vote_label(L))
    with pytest.raises(InputError, match="checked for N=500, K=3; pred_probs has N=500, K=4"):
        ma.get_label_quality_multiannotator(ann, np.full((500, 4), 0.25))
    with pytest.raises(InputError, match="at least two annotator columns"):
        ma.get_label_quality_multiannotator(
            ma.check_annotations(L[:, :1][~np.isnan(L[:, 0])], 3, allow_single=True), P[~np.isnan(L[:, 0])]
        )
