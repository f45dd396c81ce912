"""simulate and evaluate on the CLI."""

from __future__ import annotations

import json

import numpy as np

from labelaudit.cli import app
from labelaudit.core import metrics

# ---------------------------------------------------------------------------- CLI


def test_cli_simulate_find_evaluate(runner, tmp_path):
    r = runner.invoke(
        app,
        [
            "simulate",
            "-o",
            str(tmp_path),
            "--n",
            "3000",
            "--k",
            "4",
            "--noise-rate",
            "0.2",
            "--seed",
            "3",
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    info = json.loads(r.stdout)
    labels, true = np.load(tmp_path / "labels.npy"), np.load(tmp_path / "true_labels.npy")
    p = np.load(tmp_path / "pred_probs.npy")
    assert p.shape == (3000, 4) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    assert info["n_label_errors"] == int((labels != true).sum()) > 0 and info["noise_matrix_valid"]
    again = tmp_path / "again"
    again.mkdir()
    assert (
        runner.invoke(
            app,
            ["simulate", "-o", str(again), "--n", "3000", "--k", "4", "--noise-rate", "0.2", "--seed", "3"],
        ).exit_code
        == 0
    )
    for name in ("labels.npy", "true_labels.npy", "pred_probs.npy", "noise_matrix.npy"):
        assert (tmp_path / name).read_bytes() == (again / name).read_bytes()
    base = ["-l", str(tmp_path / "labels.npy"), "-p", str(tmp_path / "pred_probs.npy")]
    assert runner.invoke(app, ["find-issues", *base, "-o", str(tmp_path / "i.npy")]).exit_code == 0
    assert runner.invoke(app, ["rank", *base, "-o", str(tmp_path / "s.npy")]).exit_code == 0
    r = runner.invoke(
        app,
        [
            "evaluate",
            "-l",
            str(tmp_path / "labels.npy"),
            "-t",
            str(tmp_path / "true_labels.npy"),
            "--issues",
            str(tmp_path / "i.npy"),
            "--scores",
            str(tmp_path / "s.npy"),
            "--format",
            "json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    ev = json.loads(r.stdout)
    flagged = np.load(tmp_path / "i.npy")
    want = metrics.set_metrics(flagged, labels != true)
    assert ev["issues"] == want and want["precision"] > 0.8
    assert ev["scores"]["auroc"] == metrics.auroc(np.load(tmp_path / "s.npy"), labels != true) > 0.9


def test_cli_simulate_errors(runner, tmp_path):
    r = runner.invoke(app, ["simulate", "-o", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "does not exist" in r.stderr
    r = runner.invoke(app, ["simulate", "-o", str(tmp_path), "--k", "3", "--prior", "0.5,0.5"])
    assert r.exit_code == 2 and "--prior" in r.stderr
    assert not list(tmp_path.iterdir())


def test_cli_evaluate_needs_something(runner):
    d = "tests/golden/inputs/gen_k5"
    r = runner.invoke(app, ["evaluate", "-l", f"{d}/labels.npy", "-t", f"{d}/labels.npy"])
    assert r.exit_code == 2 and "--issues" in r.stderr
