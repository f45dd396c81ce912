"""rank on the CLI: ensembles of models equal the library."""

from __future__ import annotations

import json

import numpy as np
from golden_data import inputs
from test_golden_parity import second_model

import labelaudit as la
from labelaudit.cli import app


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
