"""health --plot: the noise-matrix heatmap with every cell annotated and the off-diagonal on its own colour
scale, beside the label-quality histogram, written as PNG and SVG through the CLI on the CIFAR-10 sample."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from labelaudit.cli import app

pytest.importorskip("matplotlib")

from conftest import SAMPLE  # noqa: E402

CIFAR = SAMPLE / "cifar10"
SVG = "{http://www.w3.org/2000/svg}"


def health(runner, plot, *extra):
    args = ["health", "-l", CIFAR / "labels.npy", "-p", CIFAR / "pred_probs.npy"]
    args += ["--class-names", CIFAR / "class_names.txt", "--plot", plot, "--format", "json", *extra]
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def svg_texts(path) -> tuple[list[str], dict[str, str]]:
    """Every text of the SVG, and the cell annotations by id ("cell-<given>-<true>")."""
    root = ET.parse(path).getroot()  # raises unless the SVG is well-formed XML
    assert root.tag == SVG + "svg"
    texts = ["".join(t.itertext()).strip() for t in root.iter(SVG + "text")]
    cells = {g.get("id"): "".join(g.itertext()).strip() for g in root.iter(SVG + "g")}
    return texts, {key: v for key, v in cells.items() if key and key.startswith("cell-")}


def test_png_and_svg_are_valid_and_annotate_the_largest_confusion(runner, tmp_path):
    doc = health(runner, tmp_path / "health.png")
    assert (tmp_path / "health.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    health(runner, tmp_path / "health.svg")
    texts, cells = svg_texts(tmp_path / "health.svg")

    noise = np.array(doc["noise_matrix"])
    off = noise.copy()
    np.fill_diagonal(off, 0)
    given, true = np.unravel_index(off.argmax(), off.shape)
    assert (doc["class_names"][given], doc["class_names"][true]) == ("cat", "dog")  # 3.9% of dogs
    assert cells[f"cell-{given}-{true}"] == f"{100 * off.max():.1f}" == "3.9"
    assert len(cells) == 100  # every cell carries its value in percent (K <= 20), the diagonal too
    assert cells["cell-3-3"] == f"{100 * noise[3, 3]:.1f}"
    assert any("off-diagonal" in t for t in texts)  # the colour bar says which scale it shows
    assert any(t.startswith("examples") for t in texts)  # the histogram beside it


def test_many_classes_annotate_only_the_largest_off_diagonal_cells(tmp_path):
    from labelaudit.io.plots import ANNOTATE_TOP, write_health_plot

    k = 40
    rng = np.random.default_rng(0)
    noise = np.full((k, k), 0.001)
    np.fill_diagonal(noise, 0.9)
    noise[7, 3] = 0.061  # the largest confusion
    noise[2, 30] = 0.052
    noise /= noise.sum(axis=0, keepdims=True)
    write_health_plot(str(tmp_path / "h.svg"), noise, rng.random(5000), None)
    _, cells = svg_texts(tmp_path / "h.svg")
    assert len(cells) == ANNOTATE_TOP  # the largest off-diagonal cells only, no diagonal one
    assert not any(key == f"cell-{i}-{i}" for i in range(k) for key in cells)
    assert (
        cells["cell-7-3"] == f"{100 * noise[7, 3]:.1f}" and cells["cell-2-30"] == f"{100 * noise[2, 30]:.1f}"
    )


def test_plot_refused_for_many_classes(tmp_path, monkeypatch):
    """Above the sparse threshold the report holds the noise matrix as cells: --plot says why it cannot draw."""
    from typer.testing import CliRunner

    from labelaudit.cli import app
    from labelaudit.core import confident

    monkeypatch.setattr(confident, "SPARSE_MIN_K", 4)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, 300)
    p = rng.dirichlet(np.ones(6), 300)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "p.npy", p)
    out = tmp_path / "p.png"
    res = CliRunner().invoke(
        app, ["health", "-l", str(tmp_path / "y.npy"), "-p", str(tmp_path / "p.npy"), "--plot", str(out)]
    )
    assert res.exit_code == 2
    assert res.stderr.startswith(
        f"Error: {out}: --plot draws a noise matrix of fewer than 1024 classes, this data has K=6"
    )
    assert not out.exists()
