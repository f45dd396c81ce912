"""`batched -o DIR/`: the flagged rows as Parquet parts (PART_ROWS each, most severe first) plus
summary.json, written by the engine's workers into a temporary folder renamed at the end; the same
rows as `-o issues.parquet`, with either engine; a non-empty DIR is refused before anything is read."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from labelaudit.cli import app
from labelaudit.io import shards

D = "tests/golden/inputs/cifar10"
ARGS = ["batched", "-l", f"{D}/labels.npy", "-p", f"{D}/pred_probs.npy", "--exact", "--filter-by", "both"]


def parts_of(folder):
    summary = json.loads((folder / "summary.json").read_text())
    frames = [pd.read_parquet(folder / p["path"]) for p in summary["parts"]]
    assert [len(f) for f in frames] == [p["rows"] for p in summary["parts"]]
    return summary, pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_out_dir_parts_equal_the_table_output(runner, tmp_path, monkeypatch, engine):
    if engine == "dask":
        pytest.importorskip("distributed")
    monkeypatch.setattr(shards, "PART_ROWS", 100)
    table = tmp_path / "issues.parquet"
    r = runner.invoke(app, [*ARGS, "-o", str(table)])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(runner.invoke(app, [*ARGS, "--format", "json"]).stdout)
    out = tmp_path / "out"
    r = runner.invoke(app, [*ARGS, "-o", f"{out}/", "--engine", engine])
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "" and f"wrote {out}/" in r.stderr
    summary, rows = parts_of(out)
    pd.testing.assert_frame_equal(rows, pd.read_parquet(table))
    assert len(summary["parts"]) == -(-doc["n_issues"] // 100) > 1
    assert summary == {k: v for k, v in doc.items() if k != "issues"} | {"parts": summary["parts"]}
    assert sorted(os.listdir(tmp_path)) == ["issues.parquet", "out"]  # no temporary folder left


def test_out_dir_may_exist_empty_and_gates_still_apply(runner, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = runner.invoke(app, [*ARGS, "-o", f"{out}/", "--max-issues", "3"])
    assert r.exit_code == 1 and "Gate failed: max_issues:" in r.stderr and "exceeds the limit 3" in r.stderr
    summary, rows = parts_of(out)
    assert len(rows) == summary["n_issues"] > 3 and len(summary["parts"]) == 1


def test_non_empty_out_dir_is_refused_before_reading(runner, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = runner.invoke(app, [*ARGS, "-o", f"{out}/"])
    assert r.exit_code == 2
    assert f"Error: {out}/: -o DIR/ must name a new or empty folder" in r.stderr
    assert os.listdir(out) == ["keep.txt"] and sorted(os.listdir(tmp_path)) == ["out"]


def test_out_dir_in_a_missing_folder_is_refused(runner, tmp_path):
    r = runner.invoke(app, [*ARGS, "-o", f"{tmp_path}/no/such/"])
    assert r.exit_code == 2 and "-o DIR/ needs an existing, writable folder" in r.stderr
