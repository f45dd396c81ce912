"""Pure numpy kernels of confident learning: no files, no printing, no global state.

Every public function takes labels (N,) int and pred_probs (N, K) float arrays (an ndarray or a
read-only memmap, never copied whole) and returns arrays or scalars.
"""

from labelaudit.core.checks import ProbStats, check_inputs, check_labels, scan_pred_probs
from labelaudit.core.context import Context
from labelaudit.core.count import (
    calibrate_confident_joint,
    compute_confident_joint,
    estimate_joint,
    estimate_latent,
    estimate_py_and_noise_matrices_from_probabilities,
    get_confident_thresholds,
    num_label_issues,
)
from labelaudit.core.ensemble import EnsembleScores, average_pred_probs, get_label_quality_ensemble_scores
from labelaudit.core.filter import FILTERS, find_label_issues, issue_rows, prune_counts
from labelaudit.core.health import (
    HealthReport,
    class_table,
    find_overlapping_classes,
    overall_label_health_score,
    pair_table,
    rank_classes_by_label_quality,
)
from labelaudit.core.multiannotator import (
    MultiannotatorResult,
    get_active_learning_scores,
    get_label_quality_multiannotator,
    get_majority_vote_label,
)
from labelaudit.core.rank import (
    SCORE_METHODS,
    find_top_issues,
    get_label_quality_scores,
    order_label_issues,
    order_rows,
    scores_for_rows,
)

__all__ = [
    "FILTERS",
    "SCORE_METHODS",
    "Context",
    "EnsembleScores",
    "average_pred_probs",
    "get_label_quality_ensemble_scores",
    "HealthReport",
    "MultiannotatorResult",
    "get_active_learning_scores",
    "get_label_quality_multiannotator",
    "get_majority_vote_label",
    "ProbStats",
    "calibrate_confident_joint",
    "check_inputs",
    "class_table",
    "find_overlapping_classes",
    "overall_label_health_score",
    "pair_table",
    "rank_classes_by_label_quality",
    "check_labels",
    "compute_confident_joint",
    "estimate_joint",
    "estimate_latent",
    "estimate_py_and_noise_matrices_from_probabilities",
    "find_label_issues",
    "find_top_issues",
    "get_confident_thresholds",
    "get_label_quality_scores",
    "issue_rows",
    "num_label_issues",
    "order_label_issues",
    "order_rows",
    "prune_counts",
    "scan_pred_probs",
    "scores_for_rows",
]
