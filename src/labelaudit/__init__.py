"""labelaudit: find label errors in classification datasets with confident learning.

The library API mirrors the command line: `find_label_issues`, `get_label_quality_scores`,
`order_label_issues` and the counting functions all take labels (N,) and pred_probs (N, K) arrays.
Attributes are loaded on first use so that `labelaudit --help` does not pay for numpy.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Static, so that type checkers and IDEs see the API that __getattr__ loads on first use.
__all__ = [
    "__version__",
    "FILTERS",
    "SCORE_METHODS",
    "calibrate_confident_joint",
    "compute_confident_joint",
    "estimate_joint",
    "estimate_latent",
    "estimate_py_and_noise_matrices_from_probabilities",
    "find_label_issues",
    "find_overlapping_classes",
    "overall_label_health_score",
    "rank_classes_by_label_quality",
    "find_top_issues",
    "get_confident_thresholds",
    "get_label_quality_ensemble_scores",
    "get_label_quality_multiannotator",
    "get_majority_vote_label",
    "get_active_learning_scores",
    "get_label_quality_scores",
    "num_label_issues",
    "order_label_issues",
]

if TYPE_CHECKING:
    from labelaudit.core import (
        FILTERS,
        SCORE_METHODS,
        calibrate_confident_joint,
        compute_confident_joint,
        estimate_joint,
        estimate_latent,
        estimate_py_and_noise_matrices_from_probabilities,
        find_label_issues,
        find_overlapping_classes,
        find_top_issues,
        get_active_learning_scores,
        get_confident_thresholds,
        get_label_quality_ensemble_scores,
        get_label_quality_multiannotator,
        get_label_quality_scores,
        get_majority_vote_label,
        num_label_issues,
        order_label_issues,
        overall_label_health_score,
        rank_classes_by_label_quality,
    )

_CORE = frozenset(__all__) - {"__version__"}

if not TYPE_CHECKING:  # type checkers use the imports above, so that a misspelt name is an error

    def __getattr__(name: str) -> Any:
        if name in _CORE:
            from labelaudit import core

            return getattr(core, name)
        raise AttributeError(f"module 'labelaudit' has no attribute {name!r}")
