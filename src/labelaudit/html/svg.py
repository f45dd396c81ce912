"""The two charts of a report as inline SVG strings: the noise-matrix heatmap and the label-quality
histogram. Our own ~200 lines instead of a plotting library: the CIFAR-10 figure (heatmap and
histogram) is 25 kB of SVG, matplotlib's of the same design 84 kB (and matplotlib is an optional
dependency); and one stylesheet colours it for light and dark mode alike.

The noise matrix of a usable dataset is nearly diagonal: on one linear scale its diagonal (0.9 and more)
leaves every confusion (a few percent at most) the colour of zero. So the diagonal is drawn in a neutral
grey, the off-diagonal cells get a colour scale of their own (0 to their own maximum, LEVELS steps) and
each cell carries its value in percent; above ANNOTATE_ALL classes the cells are too small for that, and
only the largest confusions (`annotate`) are outlined and labelled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from labelaudit.html.text import esc

ANNOTATE_ALL = 20  # up to this many classes every cell carries its value
ANNOTATE_TOP = 12  # above, only this many of the largest off-diagonal cells do
TICK_NAMES = 30  # up to this many classes the axes name them
LEVELS = 9  # colour steps of the off-diagonal scale

# Colours as classes, so one stylesheet serves light and dark mode (prefers-color-scheme); a standalone
# SVG file carries it in its own <style>.
CSS = (
    ":root{--fg:#1f2328;--muted:#59636e;--bg:#fff;--grid:#d0d7de;--diag:#d9d9d9;--heat:#c4161c;"
    "--bar:#4c78a8;--flag:#e45756}"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;"
    "--grid:#3d444d;--diag:#3a3f46;--heat:#ff5a52;--bar:#6ea8e0;--flag:#ff7b72}}"
    "svg.chart{font:11px system-ui,sans-serif;fill:var(--fg)}svg.chart text{fill:var(--fg)}"
    "svg.chart .m{fill:var(--muted)}svg.chart .bg{fill:var(--bg)}svg.chart .d{fill:var(--diag)}"
    "svg.chart .ax{stroke:var(--grid);fill:none}svg.chart .o{fill:none;stroke:var(--fg);stroke-width:1.2}"
    "svg.chart text.w{fill:#fff}svg.chart text.b{font-weight:bold}"
    "svg.chart .bar{fill:var(--bar)}svg.chart .fl{fill:var(--flag)}"
    + "".join(
        f"svg.chart .h{n}{{fill:var(--heat);fill-opacity:{n / LEVELS:.3g}}}" for n in range(1, LEVELS + 1)
    )
)


def percent(value: float) -> str:
    return "0" if value == 0 else f"{100 * value:.1f}"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def heatmap(
    noise: np.ndarray,
    class_names: Sequence[str] | None,
    annotate: Sequence[tuple[int, int]] | None = None,
    *,
    title: str = "",
) -> str:
    """The (K, K) noise matrix P(given label | true label) (rows: given) as an SVG heatmap. `annotate`:
    the cells to label when K > ANNOTATE_ALL (every cell is labelled below). Labelled cells are
    `<g id="cell-GIVEN-TRUE">` holding their value in percent."""
    noise = np.asarray(noise, dtype=np.float64)
    k = len(noise)
    off = noise[~np.eye(k, dtype=bool)]
    top = float(off.max()) if off.size else 0.0
    cell = max(10, min(44, 520 // k))
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(k)]
    named = k <= TICK_NAMES
    short = [n if len(n) <= 14 else n[:13] + "…" for n in names]
    left = (12 + 7 * max(len(n) for n in short) if named else 20) + 18
    head = 28 if title else 6
    bottom = (12 + 6 * max(len(n) for n in short) if named else 20) + 20
    side, size = cell * k, 11 if cell >= 36 else 9 if cell >= 24 else 8
    width, height = left + side + 90, head + side + bottom
    out = [
        f'<svg class="chart heatmap" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="noise matrix heatmap">'
    ]
    if title:
        out.append(f'<text x="{left}" y="16" class="b">{esc(title)}</text>')
    level = np.zeros((k, k), dtype=np.int64)
    if top > 0:
        level = np.ceil(noise / top * LEVELS - 1e-9).clip(0, LEVELS).astype(np.int64)
    labelled = None if k <= ANNOTATE_ALL else {tuple(map(int, c)) for c in (annotate or ())}
    for i in range(k):
        y = head + i * cell
        for j in range(k):
            x = left + j * cell
            v = float(noise[i, j])
            cls = "d" if i == j else f"h{level[i, j]}" if level[i, j] else "bg"
            rect = f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" class="{cls}"/>'
            if labelled is not None and (i, j) not in labelled:  # its value on hover only
                tip = f"given {names[i]}, true {names[j]}: {percent(v)}%"
                out.append(rect.replace("/>", f"><title>{esc(tip)}</title></rect>"))
                continue
            if labelled is None:
                tcls = "b" if i == j else "w" if level[i, j] > 0.6 * LEVELS else ""
                text = (
                    f'<text x="{x + cell / 2:g}" y="{y + cell / 2 + size / 3:g}" text-anchor="middle" '
                    f'font-size="{size}"{f" class={chr(34)}{tcls}{chr(34)}" if tcls else ""}>{percent(v)}</text>'
                )
            else:  # small cells: outlined, the value in a label just above-right (the colour stays visible)
                rect += f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" class="o"/>'
                text = (
                    f'<text x="{x + cell + 2}" y="{y - 2}" font-size="{size}" class="b">{percent(v)}</text>'
                )
            out.append(f'<g id="cell-{i}-{j}">{rect}{text}</g>')
    out.append(f'<rect x="{left}" y="{head}" width="{side}" height="{side}" class="ax"/>')
    if named:
        for i, n in enumerate(short):
            c = head + i * cell + cell / 2 + 4
            out.append(f'<text x="{left - 6}" y="{c:g}" text-anchor="end">{esc(n)}</text>')
            tx = left + i * cell + cell / 2
            out.append(
                f'<text transform="translate({tx:g},{head + side + 10}) rotate(-45)" text-anchor="end">{esc(n)}</text>'
            )
    out.append(
        f'<text transform="translate(12,{head + side / 2:g}) rotate(-90)" text-anchor="middle" class="m">'
        "given label</text>"
    )
    out.append(
        f'<text x="{left + side / 2:g}" y="{height - 4}" text-anchor="middle" class="m">true label</text>'
    )
    out.append(_legend(left + side + 16, head, side, top))
    out.append("</svg>")
    return "".join(out)


def _legend(x: int, y: int, side: int, top: float) -> str:
    """The off-diagonal colour scale, 0 at the bottom to the largest confusion at the top."""
    h = max(60, min(side, 240))
    step = h / LEVELS
    parts = [
        f'<rect x="{x}" y="{y + h - (n + 1) * step:.1f}" width="14" height="{step:.1f}" class="h{n + 1}"/>'
        for n in range(LEVELS)
    ]
    parts.append(f'<rect x="{x}" y="{y}" width="14" height="{h}" class="ax"/>')
    parts.append(f'<text x="{x + 18}" y="{y + 9}">{percent(top)}%</text>')
    parts.append(f'<text x="{x + 18}" y="{y + h}">0</text>')
    parts.append(f'<rect x="{x}" y="{y + h + 10}" width="14" height="14" class="d"/>')
    parts.append(f'<text x="{x + 18}" y="{y + h + 21}">diagonal</text>')
    parts.append(
        f'<text transform="translate({x + 52},{y + h / 2:g}) rotate(90)" text-anchor="middle" class="m">'
        "off-diagonal, own scale</text>"
    )
    return "".join(parts)


def histogram(
    edges: np.ndarray, counts: np.ndarray, flagged: np.ndarray | None = None, *, score: str = ""
) -> str:
    """Bars of (B,) `counts` over the (B + 1,) bin `edges`, on a log-scaled count axis; `flagged` (B,)
    drawn over them in the flag colour."""
    edges, counts = np.asarray(edges, dtype=np.float64), np.asarray(counts, dtype=np.int64)
    width, height, left, right, top, bottom = 560, 300, 58, 14, 14, 46
    pw, ph = width - left - right, height - top - bottom
    peak = int(counts.max()) if counts.size else 0
    decades = max(1, math.ceil(math.log10(peak + 1)))

    def y(c: np.ndarray) -> np.ndarray:
        return ph * np.log10(np.asarray(c, dtype=np.float64) + 1) / decades

    lo, span = float(edges[0]), float(edges[-1] - edges[0]) or 1.0
    xs = left + (edges - lo) / span * pw
    out = [
        f'<svg class="chart histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="label quality histogram">'
    ]
    for series, cls in ((counts, "bar"), (flagged, "fl")):
        if series is None:
            continue
        hs = y(series)
        for b in np.nonzero(np.asarray(series) > 0)[0]:
            w = max(float(xs[b + 1] - xs[b]) - 1, 1)
            out.append(
                f'<rect x="{_num(xs[b])}" y="{_num(top + ph - hs[b])}" width="{_num(w)}" height="{_num(hs[b])}" '
                f'class="{cls}"><title>{edges[b]:.2f}-{edges[b + 1]:.2f}: {int(series[b])}</title></rect>'
            )
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="ax"/>')
    for d in range(decades + 1):
        ty = top + ph - ph * math.log10(10**d + 1) / decades if d else top + ph - ph * math.log10(2) / decades
        out.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{10**d:,}</text>')
    for t in np.linspace(lo, lo + span, 5):
        tx = left + (t - lo) / span * pw
        out.append(f'<text x="{tx:.1f}" y="{top + ph + 16}" text-anchor="middle">{t:g}</text>')
    what = f"{score.replace('_', '-')} score" if score else "score"
    out.append(
        f'<text x="{left + pw / 2:g}" y="{height - 8}" text-anchor="middle" class="m">'
        f"{esc(what)} (lower = more likely mislabelled)</text>"
    )
    out.append(
        f'<text transform="translate(14,{top + ph / 2:g}) rotate(-90)" text-anchor="middle" class="m">'
        "examples (log scale)</text>"
    )
    if flagged is not None:
        lx = left + pw - 150
        out.append(f'<rect x="{lx}" y="{top + 8}" width="10" height="10" class="bar"/>')
        out.append(f'<text x="{lx + 14}" y="{top + 17}">all examples</text>')
        out.append(f'<rect x="{lx}" y="{top + 24}" width="10" height="10" class="fl"/>')
        out.append(f'<text x="{lx + 14}" y="{top + 33}">flagged issues</text>')
    out.append("</svg>")
    return "".join(out)


def standalone(*charts: str, titles: Sequence[str] = ()) -> str:
    """Charts side by side in one SVG document with its own stylesheet (health --plot FILE.svg)."""
    import re

    sizes = [tuple(int(v) for v in re.search(r'width="(\d+)" height="(\d+)"', c).groups()) for c in charts]  # type: ignore[union-attr]
    head = 24 if titles else 0
    width, height = sum(w for w, _ in sizes) + 20 * (len(charts) - 1), max(h for _, h in sizes) + head
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><style>{CSS}</style>'
        f'<rect width="{width}" height="{height}" class="bg"/>'
    ]
    x = 0
    for i, (chart, (w, _)) in enumerate(zip(charts, sizes, strict=True)):
        if i < len(titles):
            out.append(f'<text x="{x + 10}" y="16" class="b" font-size="13">{esc(titles[i])}</text>')
        out.append(chart.replace("<svg ", f'<svg x="{x}" y="{head}" ', 1))
        x += w + 20
    out.append("</svg>\n")
    return "".join(out)
