"""Per-example rows for reports: given label, predicted label and label quality of chosen examples."""

from __future__ import annotations

import numpy as np

from labelaudit.core.context import Context
from labelaudit.core.rank import scores_for_rows


def example_rows(
    ctx: Context, rows: np.ndarray, *, method: str = "self_confidence", adjust_pred_probs: bool = False
) -> dict[str, np.ndarray]:
    """Columns index, given_label, predicted_label (first argmax), label_quality (float64) for `rows`,
    in the order given."""
    rows = np.asarray(rows, dtype=np.int64)
    return {
        "index": rows,
        "given_label": ctx.labels[rows].astype(np.int64),
        "predicted_label": ctx.predicted(rows),
        "label_quality": np.asarray(scores_for_rows(ctx, rows, method, adjust_pred_probs), dtype=np.float64),
    }
