"""Optional matplotlib figures (`pip install 'labelaudit[plot]'`), written atomically."""

from __future__ import annotations

import numpy as np

from labelaudit.io.writers import atomic_path


def write_health_plot(
    path: str, noise_matrix: np.ndarray, scores: np.ndarray, class_names: list[str] | None
) -> None:
    """Two panels: the noise matrix P(given | true) as a heatmap, and a histogram of label quality."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(noise_matrix)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    im = ax1.imshow(noise_matrix, cmap="viridis", vmin=0, vmax=1)
    ax1.set_title("Noise matrix P(given label | true label)")
    ax1.set_xlabel("true label")
    ax1.set_ylabel("given label")
    if k <= 30:
        ticks = np.arange(k)
        names = class_names if class_names else [str(i) for i in ticks]
        ax1.set_xticks(ticks, names, rotation=90, fontsize=7)
        ax1.set_yticks(ticks, names, fontsize=7)
    fig.colorbar(im, ax=ax1, fraction=0.046)
    ax2.hist(np.asarray(scores, dtype=np.float64), bins=50, color="tab:blue")
    ax2.set_yscale("log")
    ax2.set_title("Label quality (self-confidence)")
    ax2.set_xlabel("score (lower = more likely mislabelled)")
    ax2.set_ylabel("examples")
    fig.tight_layout()
    fmt = "svg" if path.lower().endswith(".svg") else "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=110)
    plt.close(fig)
