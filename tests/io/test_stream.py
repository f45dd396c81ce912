"""Streamed reading (io.stream) through `batched`: tables stream like .npy, truncated files are named."""

from __future__ import annotations

import numpy as np
from golden_data import inputs

from labelaudit.cli import app


def test_cli_batched_tables_stream_like_npy(runner):
    base = ["--exact", "--format", "csv", "--batch-size", "700"]
    s = "sample_data/cifar10"
    npy = runner.invoke(app, ["batched", "-l", f"{s}/labels.npy", "-p", f"{s}/pred_probs.npy", *base])
    for table in ("cifar10.parquet", "cifar10.csv"):
        r = runner.invoke(app, ["batched", "-l", f"{s}/{table}", "-p", f"{s}/{table}", *base])
        assert r.exit_code == 0, r.stderr
        rows = [line.split(",") for line in r.stdout.splitlines()]
        assert rows[0][0] == "id"  # the table's id column leads, as in find-issues
        assert [row[1:6] for row in rows] == [line.split(",")[:5] for line in npy.stdout.splitlines()]


def test_cli_batched_truncated_npy(runner, tmp_path):
    labels, p = inputs("gen_k5")
    full = tmp_path / "p.npy"
    np.save(full, p)
    cut = tmp_path / "cut.npy"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) - 100 * p.shape[1] * 8 - 3])
    np.save(tmp_path / "l.npy", labels)
    out = tmp_path / "out.npy"
    r = runner.invoke(app, ["batched", "-l", str(tmp_path / "l.npy"), "-p", str(cut), "-o", str(out)])
    assert r.exit_code == 2
    assert "cut.npy" in r.stderr and "truncated" in r.stderr and f"row {len(labels) - 101}" in r.stderr
    assert not out.exists()
