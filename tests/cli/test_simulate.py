"""simulate and evaluate on the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labelaudit import __version__
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


# ---------------------------------------------------------------------------- simulate --format


@pytest.mark.parametrize("fmt", ["csv", "junit", "github"])
def test_cli_simulate_offers_only_table_and_json(runner, tmp_path, fmt):
    r = runner.invoke(app, ["simulate", "-o", str(tmp_path), "--n", "50", "--format", fmt])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '--format' / '-f': Value error, '{fmt}' is not one of 'table', 'json'."
    )
    assert list(tmp_path.iterdir()) == []


def test_cli_simulate_json_envelope(runner, tmp_path):
    args = ["simulate", "-o", str(tmp_path), "--n", "500", "--k", "3", "--noise-rate", "0.1", "--seed", "2"]
    r = runner.invoke(app, [*args, "--format", "json"])
    assert r.exit_code == 0 and r.stderr == ""
    doc = json.loads(r.stdout)
    assert list(doc)[:7] == [
        "version",
        "command",
        "params",
        "inputs",
        "n_examples",
        "n_classes",
        "class_names",
    ]
    assert (doc["version"], doc["command"], doc["n_examples"], doc["n_classes"]) == (
        __version__,
        "simulate",
        500,
        3,
    )
    drawn = {"noise_rate": 0.1, "trace": None, "frac_zero_noise_rates": 0.0, "seed": 2}
    assert doc["params"] == {
        "n": 500,
        "k": 3,
        **drawn,
        "prior": "uniform",
        "sharpness": 4.0,
        "dtype": "float32",
    }
    labels, true = np.load(tmp_path / "labels.npy"), np.load(tmp_path / "true_labels.npy")
    assert (
        doc["n_label_errors"] == int((labels != true).sum())
        and doc["error_rate"] == doc["n_label_errors"] / 500
    )
    assert doc["out_dir"] == str(tmp_path) and sorted(doc["files"]) == sorted(
        p.name for p in tmp_path.iterdir()
    )
    assert doc["gates"] == []
    r = runner.invoke(app, [*args, "--format", "table"])  # table: the summary on stderr, as without --format
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr == (
        f"wrote 500 examples x 3 classes to {tmp_path}: {doc['n_label_errors']} wrong labels "
        f"({doc['error_rate']:.2%}), noise matrix trace {doc['trace']:.4g}\n"
    )
