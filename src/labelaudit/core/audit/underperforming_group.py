"""The ``underperforming_group`` issue type (spec audit.md §9).

``underperforming_group(*, graph=None, features=None, labels, pred_probs, cluster_ids=None, k=10,
threshold=0.1, min_cluster_samples=5, eps=0.5, min_samples=5, n_jobs=1) -> IssueResult``

Clusters are ``cluster_ids`` when given, else DBSCAN (scikit-learn's labels, ``eps`` inclusive,
``min_samples`` counting the point itself) on the graph as a precomputed sparse distance matrix
(``clusters(graph)``, computed here over the graph's arrays).
Clusters with at least ``min_cluster_samples`` members are usable; with ``mu`` the mean self-confidence
``P[i, y_i]`` over their members, a cluster whose mean ``perf_c`` is below ``mu`` scores ``perf_c / mu``
(every member gets that score, everybody else 1). Scanning usable clusters in id order from ``w = 1``, a
cluster below ``mu`` whose raw ``perf_c`` is below the current ``w`` (the reference's comparison of a
performance with a ratio) sets ``w = perf_c / mu``; its members are flagged when the final ``w <
threshold``. Dataset score: ``w``. Raises ``ValueError`` when no cluster is usable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelaudit.core.audit.graph import KnnGraph, build_graph
from labelaudit.core.audit.result import IssueResult


def underperforming_group(
    *,
    labels: np.ndarray,
    pred_probs: np.ndarray,
    graph: KnnGraph | None = None,
    features: Any = None,
    cluster_ids: np.ndarray | None = None,
    k: int = 10,
    threshold: float = 0.1,
    min_cluster_samples: int = 5,
    eps: float = 0.5,
    min_samples: int = 5,
    n_jobs: int = 1,
) -> IssueResult:
    if cluster_ids is None:
        if graph is None:
            if features is None:
                raise ValueError("underperforming_group needs cluster_ids, a graph or features")
            graph = build_graph(features, k=k, n_jobs=n_jobs)
        cluster_ids = clusters(graph, eps=eps, min_samples=min_samples)
    ids = np.asarray(cluster_ids, dtype=np.int64)
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(pred_probs, dtype=np.float64)
    conf = p[np.arange(y.size), y]
    valid = ids >= 0
    shifted = np.where(valid, ids, 0)
    size = np.bincount(shifted, weights=valid, minlength=1)
    usable = np.flatnonzero(size >= min_cluster_samples)
    if usable.size == 0:
        raise ValueError("underperforming_group: no meaningful clusters (DBSCAN found none usable)")
    member = valid & np.isin(ids, usable)
    mu = conf[member].mean()
    # per-cluster means over index-ordered members, each with numpy's pairwise mean like the reference
    key = np.where(member, ids, -1)
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], usable, side="left").tolist()
    ends = (np.asarray(bounds) + size[usable].astype(np.int64)).tolist()
    sorted_conf = conf[order]
    perf = np.array([sorted_conf[a:b].mean() for a, b in zip(bounds, ends, strict=True)])
    below = perf < mu
    ratio = np.where(below, perf / mu, 1.0)
    w, worst = 1.0, int(usable[0]) - 1
    for c in np.flatnonzero(below):  # the reference's running minimum (over clusters, not examples)
        if perf[c] < w:
            w, worst = float(ratio[c]), int(usable[c])
    flagged = worst if w < threshold else -2
    per_cluster = np.ones(size.size)
    per_cluster[usable] = ratio
    scores = np.where(member, per_cluster[shifted], 1.0)
    return IssueResult(
        "underperforming_group",
        {"is_underperforming_group_issue": ids == flagged, "underperforming_group_score": scores},
        w,
        {
            "k": None if graph is None else graph.k,
            "metric": None if graph is None else graph.metric,
            "threshold": threshold,
            "clustering": {
                "algorithm": "DBSCAN" if graph is not None else None,
                "params": {"metric": "precomputed"},
                "stats": {"n_clusters": int(usable.size), "underperforming_cluster_id": flagged},
            },
        },
    )


def clusters(graph: KnnGraph, *, eps: float = 0.5, min_samples: int = 5) -> np.ndarray:
    """DBSCAN labels (-1 for noise) of the graph's rows, the graph read as a sparse distance matrix: the
    labels of scikit-learn's ``DBSCAN(eps, min_samples, metric="precomputed")`` on ``knn_csr(graph)``,
    computed over the graph's arrays.

    A row's neighbourhood is itself and its stored entries at distance ``<= eps`` (directed: row ``i``'s
    list); a core row has at least ``min_samples``. The reference grows clusters from the unlabelled core
    rows in index order, each through the neighbourhoods of its core rows. So a core row's cluster is the
    one of the smallest core row that reaches it through core rows (found by relaxing core-to-core edges
    and pointer jumping until nothing changes), numbered in index order of those seeds; a non-core row
    takes the smallest cluster among the core rows that list it, and is noise when none does."""
    ind, dist = graph.indices, graph.distances
    n = ind.shape[0]
    near = dist <= eps
    core = near.sum(axis=1) + 1 >= min_samples
    near &= core[:, None]  # only core rows spread their cluster
    index = np.int32 if n < 2**31 else np.int64  # the edges are the largest arrays here
    src, col = np.nonzero(near)
    dst = ind[src, col].astype(index)
    src = src.astype(index)
    del col
    to_core = core[dst]
    reach = np.where(core, np.arange(n), n)  # the smallest core row known to reach each core row
    es, ed = _by_target(src[to_core], dst[to_core])
    while True:
        before = reach.copy()
        if ed.size:
            heads = np.r_[0, np.flatnonzero(ed[1:] != ed[:-1]) + 1]
            targets = ed[heads]
            reach[targets] = np.minimum(reach[targets], np.minimum.reduceat(reach[es], heads))
        cores = np.flatnonzero(core)
        while True:  # pointer jumping: the row that reaches my smallest reacher reaches me
            jumped = np.minimum(reach[cores], reach[reach[cores]])
            if np.array_equal(jumped, reach[cores]):
                break
            reach[cores] = jumped
        if np.array_equal(reach, before):
            break
    seeds = np.flatnonzero(core & (reach == np.arange(n)))
    labels = np.full(n, -1, dtype=np.int64)
    labels[core] = np.searchsorted(seeds, reach[core])
    bs, bd = _by_target(src[~to_core], dst[~to_core])
    if bd.size:
        heads = np.r_[0, np.flatnonzero(bd[1:] != bd[:-1]) + 1]
        labels[bd[heads]] = np.minimum.reduceat(labels[bs], heads)
    return labels


def _by_target(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(dst, kind="stable")
    return src[order], dst[order]
