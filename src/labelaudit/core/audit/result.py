"""What one issue type of the audit returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class IssueResult:
    """One issue type's result, every column in input order (length N).

    ``columns`` holds ``is_<type>_issue`` (bool), ``<type>_score`` (float64 in [0, 1], lower is worse) and the
    type's extra columns (e.g. ``near_duplicate_sets``, ``distance_to_nearest_neighbor``). ``score`` is the
    type's dataset score; ``info`` its JSON-safe details (p-value, thresholds, counts, ...).
    """

    issue_type: str
    columns: dict[str, np.ndarray]
    score: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def flags(self) -> np.ndarray:
        return self.columns[f"is_{self.issue_type}_issue"]

    @property
    def scores(self) -> np.ndarray:
        return self.columns[f"{self.issue_type}_score"]

    @property
    def num_issues(self) -> int:
        return int(np.count_nonzero(self.flags))
