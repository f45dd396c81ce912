"""simulate (noise matrices, noisy labels, pred_probs), evaluate (metrics), and ensembles on the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from golden_data import inputs
from test_golden_parity import second_model

import labelaudit as la
from labelaudit.cli import app
from labelaudit.core import metrics
from labelaudit.core import simulate as sim
from labelaudit.errors import InputError


@pytest.mark.parametrize("k", [3, 5, 10])
@pytest.mark.parametrize("frac_zero", [0.0, 0.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_matrix_valid_with_trace(k, frac_zero, seed):
    py = np.random.default_rng(seed).dirichlet(np.full(k, 5.0))
    trace = 0.7 * k
    nm = sim.noise_matrix_from_trace(k, trace, py=py, frac_zero_noise_rates=frac_zero, seed=seed)
    np.testing.assert_allclose(nm.sum(axis=0), 1, atol=1e-9)
    assert abs(np.trace(nm) - trace) < 1e-6
    assert nm.min() >= 0
    assert sim.noise_matrix_is_valid(nm, py)
    off = nm[~np.eye(k, dtype=bool)]
    if frac_zero == 0.0:
        assert np.count_nonzero(off == 0) == 0
    else:  # the requested zeros, and every noisy column keeps a non-zero off-diagonal
        assert np.count_nonzero(off == 0) == int(k * (k - 1) * frac_zero)
        assert all(np.count_nonzero(np.delete(nm[:, b], b)) >= 1 for b in range(k))
    np.testing.assert_array_equal(
        nm, sim.noise_matrix_from_trace(k, trace, py=py, frac_zero_noise_rates=frac_zero, seed=seed)
    )


def test_noise_matrix_validity_rule_by_hand():
    py = np.array([0.5, 0.5])
    assert sim.noise_matrix_is_valid(np.array([[0.8, 0.3], [0.2, 0.7]]), py)
    assert not sim.noise_matrix_is_valid(np.array([[0.4, 0.6], [0.6, 0.4]]), py)  # more noise than signal
    assert not sim.noise_matrix_is_valid(
        np.array([[0.8, 0.3], [0.2, 0.7]]), np.array([0.7, 0.7])
    )  # joint != 1
    with pytest.raises(InputError):
        sim.noise_matrix_from_trace(3, 1.0, py=np.full(3, 1 / 3))  # a valid matrix needs trace > 1


def test_noisy_labels_flip_exact_counts():
    rng = np.random.default_rng(0)
    true = np.repeat([0, 1, 2], [200, 300, 500])
    nm = np.array([[0.8, 0.1, 0.05], [0.15, 0.7, 0.05], [0.05, 0.2, 0.9]])
    noisy = sim.noisy_labels(rng, true, nm)
    py = np.array([0.2, 0.3, 0.5])
    for a in range(3):
        for b in range(3):
            if a != b:
                want = int(np.trunc(nm[a, b] * py[b] * 1000))
                assert np.count_nonzero((true == b) & (noisy == a)) == want


def test_metrics_by_hand():
    is_error = np.array([True, False, True, False, False])
    m = metrics.set_metrics(np.array([0, 1]), is_error)
    assert (m["precision"], m["recall"]) == (0.5, 0.5) and m["f1"] == 0.5
    # errors at scores 0.1 and 0.3; clean at 0.2, 0.3 (tie with an error), 0.9 -> pairs won: 3 + 1.5 = 4.5 of 6
    assert metrics.auroc(np.array([0.1, 0.2, 0.3, 0.3, 0.9]), is_error) == pytest.approx(4.5 / 6)
    assert metrics.auroc(np.array([0.1, 0.9, 0.2, 0.8, 0.7]), is_error) == 1.0


def test_ensemble_worked_example_e():
    y = np.array([0, 1, 1, 0])
    p1 = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.8, 0.2]])
    p2 = np.array([[0.6, 0.4], [0.45, 0.55], [0.2, 0.8], [0.55, 0.45]])
    f = la.get_label_quality_ensemble_scores
    np.testing.assert_allclose(
        f(y, [p1, p2], weight_ensemble_members_by="uniform"), [0.75, 0.625, 0.6, 0.675]
    )
    np.testing.assert_allclose(f(y, [p1, p2]), [0.72857143, 0.61428571, 0.62857143, 0.65714286], rtol=1e-7)
    np.testing.assert_allclose(
        f(y, [p1, p2], weight_ensemble_members_by="log_loss_search"),
        [0.89991798, 0.69995899, 0.40010936, 0.79993165],
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        f(y, [p1, p2], weight_ensemble_members_by="custom", custom_weights=[2, 1]), [2.4, 1.95, 1.6, 2.15]
    )


def test_log_loss_search_does_not_underflow():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    bad = [np.full((200, 3), 1e-9) + np.eye(3)[(y + 1) % 3] for _ in range(2)]  # confidently wrong models
    bad = [b / b.sum(axis=1, keepdims=True) for b in bad]
    s = la.get_label_quality_ensemble_scores(y, bad, weight_ensemble_members_by="log_loss_search")
    assert np.isfinite(s).all()


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


def test_cli_rank_ensemble_equals_library(runner, tmp_path):
    labels, p = inputs("gen_k5")
    np.save(tmp_path / "m0.npy", p)
    np.save(tmp_path / "m1.npy", second_model(p))
    np.save(tmp_path / "l.npy", labels)
    for weight_by, extra, kw in (
        ("accuracy", [], {}),
        ("log_loss_search", [], {}),
        ("custom", ["--weights", "0.25,0.5"], {"custom_weights": [0.25, 0.5]}),
    ):
        r = runner.invoke(
            app,
            [
                "rank",
                "-l",
                str(tmp_path / "l.npy"),
                "-p",
                str(tmp_path / "m*.npy"),
                "--weight-by",
                weight_by,
                *extra,
                "--method",
                "normalized_margin",
                "--format",
                "json",
            ],
        )
        assert r.exit_code == 0, r.stderr
        doc = json.loads(r.stdout)
        want = la.get_label_quality_ensemble_scores(
            labels,
            [p, second_model(p)],
            method="normalized_margin",
            weight_ensemble_members_by=weight_by,
            **kw,
        )
        np.testing.assert_array_equal(np.array(doc["scores"]), want)
        assert len(doc["model_scores"]) == 2 and len(doc["params"]["models"]["paths"]) == 2
        assert "score_model_1" in doc["issues"][0]


def test_cli_ensemble_model_mismatch(runner, tmp_path):
    labels, p = inputs("gen_k5")
    np.save(tmp_path / "a.npy", p)
    np.save(tmp_path / "b.npy", p[:, :4] / p[:, :4].sum(axis=1, keepdims=True))
    np.save(tmp_path / "l.npy", labels)
    out = tmp_path / "o.npy"
    r = runner.invoke(
        app,
        [
            "find-issues",
            "-l",
            str(tmp_path / "l.npy"),
            "-p",
            str(tmp_path / "a.npy"),
            "-p",
            str(tmp_path / "b.npy"),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 2 and "b.npy" in r.stderr
    assert not out.exists()
