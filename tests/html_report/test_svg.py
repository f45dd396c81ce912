"""The SVG charts (labelaudit.html.svg) and `health --plot FILE.svg`, which draws them without matplotlib."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from labelaudit.html import svg

NS = "{http://www.w3.org/2000/svg}"


def noise_matrix(k: int) -> np.ndarray:
    m = np.full((k, k), 0.002)
    np.fill_diagonal(m, 0.9)
    m[0, 1], m[2, 0] = 0.08, 0.04
    m[1, 2] = 0.0
    return m / m.sum(axis=0, keepdims=True)


def test_heatmap_colours_the_off_diagonal_on_its_own_scale():
    m = noise_matrix(4)
    text = svg.heatmap(m, ["a", "b", "c", "d"])
    root = ET.fromstring(text)  # well-formed
    rects = {g.get("id"): g.find(NS + "rect").get("class") for g in root.iter(NS + "g")}
    assert rects["cell-0-1"] == f"h{svg.LEVELS}"  # the largest confusion: the darkest step
    assert rects["cell-2-0"] == f"h{int(np.ceil(m[2, 0] / m[0, 1] * svg.LEVELS))}"
    assert rects["cell-1-2"] == "bg" and rects["cell-0-0"] == "d"
    low = rects["cell-3-0"]  # 0.2%: still a coloured step, unlike the zero cell
    assert low.startswith("h") and low != "bg"
    assert f"{100 * m[0, 1]:.1f}%" in text  # the scale's top is the largest off-diagonal value


def test_histogram_log_axis_and_bars():
    edges = np.linspace(0, 1, 11)
    counts = np.array([0, 1, 10, 100, 1000, 0, 0, 5, 50, 9000])
    text = svg.histogram(edges, counts, np.array([0, 1, 3, 0, 0, 0, 0, 0, 0, 0]), score="self_confidence")
    ET.fromstring(text)
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" class="bar"', text)]
    assert len(heights) == np.count_nonzero(counts) + 1  # + the legend swatch
    bars = heights[:-1]  # the non-empty bins, in bin order
    shown = counts[counts > 0]
    # log-scaled: each bar's height is log10(count + 1), on one scale for all bars (one decimal drawn)
    scale = bars[-1] / np.log10(shown[-1] + 1)
    np.testing.assert_allclose(bars, scale * np.log10(shown + 1), atol=0.06)
    assert ">10,000<" in text and "self-confidence score" in text


def test_plot_svg_needs_no_matplotlib(tmp_path, monkeypatch):
    from labelaudit.io.plots import write_health_plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # any import of it fails
    out = tmp_path / "h.svg"
    write_health_plot(str(out), noise_matrix(5), np.random.default_rng(0).random(300), list("vwxyz"))
    root = ET.parse(out).getroot()
    assert root.tag == NS + "svg" and root.find(NS + "style").text.startswith(":root{")
    assert "prefers-color-scheme:dark" in root.find(NS + "style").text
    with pytest.raises(Exception, match=r"needs matplotlib: pip install 'labelaudit\[plot\]'"):
        write_health_plot(str(tmp_path / "h.png"), noise_matrix(5), np.zeros(3), None)
    assert not (tmp_path / "h.png").exists()


def test_plot_svg_above_60_classes_is_matplotlibs(tmp_path):
    pytest.importorskip("matplotlib")
    from labelaudit.io.plots import SVG_MAX_K, write_health_plot

    out = tmp_path / "big.svg"
    write_health_plot(str(out), noise_matrix(SVG_MAX_K + 1), np.zeros(10), None)
    assert "Matplotlib" in out.read_text()[:2000]
