"""The health figure (`health --plot`), written atomically: an .svg is the HTML report's own charts
(labelaudit.html.svg, no dependency) up to SVG_MAX_K classes; a .png, or an .svg of more classes, is drawn
by matplotlib (`pip install 'labelaudit[plot]'`) in the same design.

The noise matrix of a usable dataset is nearly diagonal: on one linear scale its diagonal (0.9 and more)
leaves every confusion (a few percent at most) the colour of zero. So the diagonal is drawn in a neutral
grey, the off-diagonal cells get a colour scale of their own (0 to their own maximum), and each cell is
written out in percent; above ANNOTATE_ALL classes the cells are too small for that, and only the
ANNOTATE_TOP largest confusions are outlined and labelled beside their cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelaudit.io.writers import atomic_path

ANNOTATE_ALL = 20  # up to this many classes every cell carries its value
ANNOTATE_TOP = 12  # above, only this many of the largest off-diagonal cells do
TICK_NAMES = 30  # up to this many classes the axes name them
SVG_MAX_K = 60  # our SVG draws every cell up to this K; beyond, matplotlib's image of the matrix is smaller


def percent(value: float) -> str:
    return "0" if value == 0 else f"{100 * value:.1f}"


def write_health_plot(
    path: str, noise_matrix: np.ndarray | dict, scores: np.ndarray, class_names: list[str] | None
) -> None:
    """Two panels: the (K, K) noise matrix P(given label | true label) as an annotated heatmap (the
    off-diagonal on its own colour scale), and a histogram of the (N,) label-quality scores with a
    log-scaled count axis. `path` ends in .png or .svg (an SVG keeps its text as text)."""
    if isinstance(noise_matrix, dict):  # many classes: the report holds the matrix as its non-zero cells
        from labelaudit.errors import InputError

        k = noise_matrix["shape"][0]
        raise InputError(
            f"{path}: --plot draws a noise matrix of fewer than 1024 classes, this data has K={k}; "
            "--format json lists its non-zero cells and the terminal table its largest ones"
        )
    noise = np.asarray(noise_matrix, dtype=np.float64)
    k = len(noise)
    if path.lower().endswith(".svg") and k <= SVG_MAX_K:
        _write_svg(path, noise, scores, class_names)
        return
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        from labelaudit.errors import InputError

        raise InputError(
            f"{path}: --plot of a .png (or of K > {SVG_MAX_K} classes) needs matplotlib: "
            "pip install 'labelaudit[plot]'"
        ) from None

    off = np.ma.masked_array(noise, mask=np.eye(k, dtype=bool))
    top = float(off.max()) if off.count() else 0.0
    fig = Figure(figsize=(14, 6.5) if k > 10 else (13, 5.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.6 if k > 10 else 1.45, 1])
    cmap = matplotlib.colormaps["Reds"].with_extremes(bad="#d9d9d9")  # "bad": the masked diagonal
    im = ax1.imshow(100 * off, cmap=cmap, vmin=0, vmax=100 * top if top > 0 else 1, interpolation="nearest")
    ax1.set_title("Noise matrix P(given label | true label), in %", fontsize=11)
    ax1.set_xlabel("true label")
    ax1.set_ylabel("given label")
    size = 8 if k <= 10 else 6 if k <= ANNOTATE_ALL else 7
    if k <= TICK_NAMES:
        names = class_names if class_names else [str(i) for i in range(k)]
        ticks = np.arange(k)
        ax1.set_xticks(ticks, names, rotation=45, ha="right", rotation_mode="anchor", fontsize=size + 1)
        ax1.set_yticks(ticks, names, fontsize=size + 1)
    bar = fig.colorbar(im, ax=ax1, fraction=0.046, pad=0.03)
    bar.set_label(f"off-diagonal, % (own scale, 0 to {percent(top)}); diagonal in grey", fontsize=9)
    if k <= ANNOTATE_ALL:
        _annotate_every_cell(ax1, noise, top, size)
    else:
        _annotate_largest(ax1, noise, size)
    ax2.hist(np.asarray(scores, dtype=np.float64), bins=50, color="tab:blue", log=True)
    ax2.set_title("Label quality (self-confidence)", fontsize=11)
    ax2.set_xlabel("score (lower = more likely mislabelled)")
    ax2.set_ylabel("examples (log scale)")
    fmt = "svg" if path.lower().endswith(".svg") else "png"
    with atomic_path(path) as tmp, matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(tmp, format=fmt, dpi=130)


def _write_svg(path: str, noise: np.ndarray, scores: np.ndarray, class_names: list[str] | None) -> None:
    """The report's heatmap and histogram side by side in one SVG file with its own stylesheet."""
    from labelaudit.core.health import largest_off_diagonal
    from labelaudit.core.overview import histogram
    from labelaudit.html import svg
    from labelaudit.io.writers import write_text

    annotate = None
    if len(noise) > svg.ANNOTATE_ALL:
        top = largest_off_diagonal(noise, None, svg.ANNOTATE_TOP)
        annotate = [(int(g), int(t)) for g, t, v in zip(*top.values(), strict=True) if v > 0]
    scores = np.asarray(scores, dtype=np.float64)
    hist = histogram(scores, scores[:0], "self_confidence")
    charts = (
        svg.heatmap(noise, class_names, annotate),
        svg.histogram(hist.edges, hist.all, score=hist.score),
    )
    titles = ("Noise matrix P(given label | true label), in %", "Label quality (self-confidence)")
    write_text(path, svg.standalone(*charts, titles=titles))


def _annotate_every_cell(ax: Any, noise: np.ndarray, top: float, size: float) -> None:
    """The value of each cell in it: the diagonal in bold, white on the darkest off-diagonal cells."""
    k = len(noise)
    for i in range(k):
        for j in range(k):
            dark = i != j and top > 0 and noise[i, j] > 0.6 * top
            style = {"color": "white" if dark else "black", "fontweight": "bold" if i == j else "normal"}
            ax.text(
                j,
                i,
                percent(noise[i, j]),
                ha="center",
                va="center",
                fontsize=size,
                **style,
                gid=f"cell-{i}-{j}",
            )


def _annotate_largest(ax: Any, noise: np.ndarray, size: float) -> None:
    """The ANNOTATE_TOP largest off-diagonal cells outlined, each value in a box just beside its cell (so
    the cell's colour stays visible)."""
    from matplotlib.patches import Rectangle

    k = len(noise)
    ranked = np.argsort(np.where(np.eye(k, dtype=bool), -1.0, noise), axis=None, kind="stable")[::-1]
    for c in ranked[:ANNOTATE_TOP]:
        i, j = divmod(int(c), k)
        if noise[i, j] <= 0:
            break
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="black", lw=0.9))
        ax.annotate(
            percent(noise[i, j]),
            xy=(j + 0.5, i - 0.5),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=size,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.3", "lw": 0.5},
            gid=f"cell-{i}-{j}",
        )
