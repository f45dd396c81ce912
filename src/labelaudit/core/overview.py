"""Everything one HTML report shows, from the core entry points: `health`, `overlap` and `find_issues`
(with a baseline when given) on one validated Context, plus the label-quality histogram.

Nothing here is new arithmetic: the three Reports are those the commands print, and the histogram counts
the scores `find-issues` ranks by (every example, and the flagged ones). The renderer (labelaudit.html)
only lays these out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labelaudit.core.baseline import Baseline
from labelaudit.core.context import BaseContext
from labelaudit.core.health import health, overlap
from labelaudit.core.issues import find_issues
from labelaudit.core.rank import scores_for_rows
from labelaudit.core.report import Detection, Listing, Report

BINS = 50  # histogram bins over [0, 1]
TOP_PAIRS = 20  # overlapping class pairs the page lists


@dataclass(frozen=True)
class Histogram:
    """Counts of scores in `bins` equal bins over [0, 1]: `all` (every example) and `flagged` (the
    flagged examples), each (bins,) int64; `edges` (bins + 1,) float64; `score` names the score."""

    edges: np.ndarray
    all: np.ndarray
    flagged: np.ndarray
    score: str


@dataclass(frozen=True)
class Overview:
    """The Reports of one HTML page. `audit` is the `audit` command's Report when features were given."""

    health: Report
    overlap: Report
    issues: Report
    histogram: Histogram
    audit: Report | None = None


def histogram(scores: np.ndarray, flagged_scores: np.ndarray, score: str, bins: int = BINS) -> Histogram:
    """Histogram of (N,) scores in [0, 1] and of the (M,) flagged examples' scores, same bins (NaN left out)."""
    edges = np.linspace(0.0, 1.0, bins + 1)

    def count(s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, dtype=np.float64)
        return np.histogram(s[np.isfinite(s)], bins=edges)[0].astype(np.int64)

    return Histogram(edges, count(scores), count(flagged_scores), score)


def overview(
    ctx: BaseContext,
    detection: Detection = Detection(),
    *,
    baseline: Baseline | None = None,
    class_names: Sequence[str] | None = None,
    ids: np.ndarray | None = None,
    top_pairs: int = TOP_PAIRS,
    audit: Report | None = None,
) -> Overview:
    """The health, overlap (the `top_pairs` largest) and find-issues Reports of `ctx` (every flagged row
    listed, most severe first; the renderer decides how many a page holds) and the score histogram."""
    names = list(class_names) if class_names is not None else None
    issues = find_issues(ctx, detection, Listing(), baseline=baseline, class_names=names, ids=ids)
    scores = scores_for_rows(ctx, None, detection.rank_by, detection.adjust_pred_probs)
    hist = histogram(scores, issues.listing["label_quality"], detection.rank_by)
    return Overview(
        health=health(ctx, class_names=names),
        overlap=overlap(ctx, top=top_pairs, class_names=names),
        issues=issues,
        histogram=hist,
        audit=audit,
    )
