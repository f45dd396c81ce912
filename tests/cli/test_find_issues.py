"""find-issues on the CLI: models of an ensemble that do not match."""

from __future__ import annotations

import numpy as np
from golden_data import inputs

from labelaudit.cli import app


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
