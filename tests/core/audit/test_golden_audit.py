"""Golden parity of the graph and the four graph-based types with the reference (cleanlab 2.9.0
``Datalab.find_issues``, fixtures made by tests/golden/generate_golden_audit.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelaudit.core.audit.graph import build_graph
from labelaudit.core.audit.near_duplicate import near_duplicate
from labelaudit.core.audit.non_iid import non_iid
from labelaudit.core.audit.outlier import outlier
from labelaudit.core.audit.underperforming_group import clusters, underperforming_group

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
FEATURE_RUNS = {
    "digits": np.float64,
    "digits_f32": np.float32,
    "blobs": np.float64,
    "small": np.float64,
    "tiny15": np.float64,  # brute force (k >= N // 2); underperforming_group fails in the reference
    "tiny11": np.float64,  # k = N - 1: non_iid fails too (degenerate permutations)
}
PP_RUNS = ("digits_pp", "blobs_pp")
RTOL = 1e-9  # the issue asks 1e-6; on these fixtures every value is in fact bit-identical


def _load(run: str) -> tuple[dict, pd.DataFrame, dict, pd.DataFrame]:
    exp = GOLDEN / "expected_audit" / run
    meta = json.loads((exp / "info.json").read_text())
    src = GOLDEN / "inputs_audit" / meta["set"]
    inputs = {p.stem: np.load(p) for p in src.glob("*.npy")}
    return inputs, pd.read_parquet(exp / "issues.parquet"), meta, pd.read_csv(exp / "summary.csv")


def _summary_score(summary: pd.DataFrame, issue_type: str) -> float:
    return float(summary.loc[summary.issue_type == issue_type, "score"].iloc[0])


@pytest.fixture(scope="module", params=sorted(FEATURE_RUNS))
def feature_run(request: pytest.FixtureRequest) -> tuple:
    run = request.param
    inputs, issues, meta, summary = _load(run)
    x = inputs["features"].astype(FEATURE_RUNS[run])
    return run, inputs, issues, meta, summary, build_graph(x)


def test_graph(feature_run: tuple) -> None:
    run, _, _, _, _, g = feature_run
    want = np.load(GOLDEN / "expected_audit" / run / "graph.npz")
    np.testing.assert_array_equal(g.indices, want["indices"])
    np.testing.assert_array_equal(g.distances, want["distances"])
    assert g.distances.dtype == want["distances"].dtype


def test_outlier(feature_run: tuple) -> None:
    _, _, issues, meta, summary, g = feature_run
    r = outlier(graph=g)
    info = meta["info"]["outlier"]
    np.testing.assert_array_equal(r.flags, issues["is_outlier_issue"])
    np.testing.assert_allclose(r.scores, issues["outlier_score"], rtol=RTOL, atol=0)
    assert r.score == pytest.approx(_summary_score(summary, "outlier"), rel=RTOL)
    for key in ("issue_threshold", "scaling_factor", "threshold", "k", "t"):
        assert r.info[key] == pytest.approx(info[key], rel=RTOL), key
    assert r.info["metric"] == info["metric"]
    np.testing.assert_array_equal(g.indices[:, 0], issues["info.outlier.nearest_neighbor"])


def test_near_duplicate(feature_run: tuple) -> None:
    _, _, issues, meta, summary, g = feature_run
    r = near_duplicate(graph=g)
    np.testing.assert_array_equal(r.flags, issues["is_near_duplicate_issue"])
    np.testing.assert_allclose(r.scores, issues["near_duplicate_score"], rtol=RTOL, atol=0)
    got = [s.tolist() for s in r.columns["near_duplicate_sets"]]
    assert got == [list(s) for s in issues["near_duplicate_sets"]]
    np.testing.assert_array_equal(
        r.columns["distance_to_nearest_neighbor"], issues["distance_to_nearest_neighbor"]
    )
    assert r.score == pytest.approx(_summary_score(summary, "near_duplicate"), rel=RTOL)
    want = meta["info"]["near_duplicate"]["median_distance_to_nearest_neighbor"]
    assert r.info["median_distance_to_nearest_neighbor"] == pytest.approx(want, rel=RTOL)


def test_non_iid(feature_run: tuple) -> None:
    _, _, issues, meta, summary, g = feature_run
    if "non_iid" in meta["failed"]:
        with pytest.raises(ValueError, match="all equal"):
            non_iid(graph=g)
        return
    r = non_iid(graph=g)
    np.testing.assert_array_equal(r.flags, issues["is_non_iid_issue"])
    np.testing.assert_allclose(r.scores, issues["non_iid_score"], rtol=RTOL, atol=0)
    assert r.score == pytest.approx(meta["info"]["non_iid"]["p-value"], rel=RTOL, abs=1e-300)
    assert r.score == pytest.approx(_summary_score(summary, "non_iid"), rel=RTOL, abs=1e-300)


def test_underperforming_group(feature_run: tuple) -> None:
    _, inputs, issues, meta, summary, g = feature_run
    if "underperforming_group" in meta["failed"]:
        with pytest.raises(ValueError, match="no meaningful clusters"):
            underperforming_group(graph=g, labels=inputs["labels"], pred_probs=inputs["pred_probs"])
        return
    np.testing.assert_array_equal(clusters(g), issues["info.underperforming_group.cluster_ids"])
    r = underperforming_group(graph=g, labels=inputs["labels"], pred_probs=inputs["pred_probs"])
    np.testing.assert_array_equal(r.flags, issues["is_underperforming_group_issue"])
    np.testing.assert_allclose(r.scores, issues["underperforming_group_score"], rtol=RTOL, atol=0)
    assert r.score == pytest.approx(_summary_score(summary, "underperforming_group"), rel=RTOL)
    assert r.info["clustering"]["stats"] == meta["info"]["underperforming_group"]["clustering"]["stats"]


@pytest.mark.parametrize("run", PP_RUNS)
def test_pred_probs_only(run: str) -> None:
    inputs, issues, meta, summary = _load(run)
    y, p = inputs["labels"], inputs["pred_probs"]
    r = outlier(labels=y, pred_probs=p)
    np.testing.assert_array_equal(r.flags, issues["is_outlier_issue"])
    np.testing.assert_allclose(r.scores, issues["outlier_score"], rtol=1e-12, atol=0)  # entropy: ~1e-14 apart
    assert r.info["issue_threshold"] == pytest.approx(meta["info"]["outlier"]["issue_threshold"], rel=1e-12)
    assert r.score == pytest.approx(_summary_score(summary, "outlier"), rel=1e-12)
    n = non_iid(pred_probs=p)
    np.testing.assert_array_equal(n.flags, issues["is_non_iid_issue"])
    np.testing.assert_allclose(n.scores, issues["non_iid_score"], rtol=RTOL, atol=0)
    assert n.score == pytest.approx(meta["info"]["non_iid"]["p-value"], rel=RTOL, abs=1e-300)
    assert {"near_duplicate", "underperforming_group"} <= set(meta["failed"])


def test_float32_matches_float64_within_tolerance() -> None:
    inputs, *_ = _load("digits")
    x = inputs["features"]
    g64, g32 = build_graph(x.astype(np.float64)), build_graph(x.astype(np.float32))
    for kind in (outlier, near_duplicate):
        a, b = kind(graph=g64), kind(graph=g32)
        np.testing.assert_array_equal(a.flags, b.flags)
        np.testing.assert_allclose(a.scores, b.scores, rtol=0, atol=1e-5)  # float32 distances: ~1e-7 absolute
    np.testing.assert_allclose(non_iid(graph=g64).scores, non_iid(graph=g32).scores, rtol=1e-12)
