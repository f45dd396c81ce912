"""Inputs in parts for `batched` (io.shards): .npy shards of unequal sizes (glob or folder), a Parquet
dataset (row groups as chunks), a Zarr array, file:// URLs; each gives the single-file result, with
either engine; a missing or malformed shard is exit 2 naming the shard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labelaudit.cli import app

GOLDEN = "tests/golden/inputs"
SIZES = (1234, 5000, 3766)  # cifar10's 10,000 rows in shards of unequal sizes


def golden(name="cifar10"):
    d = f"{GOLDEN}/{name}"
    return np.load(f"{d}/labels.npy"), np.load(f"{d}/pred_probs.npy")


def shards(folder, p, sizes=SIZES, prefix="part"):
    folder.mkdir(exist_ok=True)
    edges = np.cumsum((0, *sizes))
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        np.save(folder / f"{prefix}-{i:03d}.npy", p[a:b])
    return folder


def run_json(runner, labels, probs, *extra):
    r = runner.invoke(app, ["batched", "-l", str(labels), "-p", str(probs), "--format", "json", *extra])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["issues"] is not None and doc["n_examples"] > 0
    return {k: v for k, v in doc.items() if k != "inputs"}  # the inputs differ in name and size only


@pytest.fixture
def single(runner):
    d = f"{GOLDEN}/cifar10"

    def want(*extra):
        return run_json(runner, f"{d}/labels.npy", f"{d}/pred_probs.npy", *extra)

    return want


MODES = [[], ["--exact", "--filter-by", "both", "--rank-by", "normalized_margin"]]


@pytest.mark.parametrize("mode", MODES)
def test_npy_shards_glob_and_folder_equal_one_file(runner, tmp_path, single, mode):
    y, p = golden()
    folder = shards(tmp_path / "probs", p)
    want = single(*mode)
    assert run_json(runner, f"{GOLDEN}/cifar10/labels.npy", f"{folder}/part-*.npy", *mode) == want
    assert run_json(runner, f"{GOLDEN}/cifar10/labels.npy", folder, *mode, "--batch-size", "700") == want
    # labels in shards of other sizes
    lab = tmp_path / "labels"
    lab.mkdir()
    for i, (a, b) in enumerate(((0, 10), (10, 7000), (7000, 10000))):
        np.save(lab / f"y{i}.npy", y[a:b])
    assert run_json(runner, lab, folder, *mode) == want


def test_npy_shards_with_dask_equal_local(runner, tmp_path, single):
    pytest.importorskip("distributed")
    folder = shards(tmp_path / "probs", golden()[1])
    args = (f"{GOLDEN}/cifar10/labels.npy", folder, "--exact", "--filter-by", "prune_by_class")
    local = run_json(runner, *args)
    assert local == single("--exact", "--filter-by", "prune_by_class")
    assert run_json(runner, *args, "--engine", "dask", "--workers", "2") == local


def test_parquet_dataset_row_groups_equal_one_file(runner, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    y, p = golden("20news")
    cols = {f"p{j}": p[:, j] for j in range(p.shape[1])}
    table = pa.table({"label": y, **cols})
    pq.write_table(table, tmp_path / "whole.parquet")
    ds = tmp_path / "ds"
    ds.mkdir()
    pq.write_table(table.slice(0, 3000), ds / "a.parquet", row_group_size=700)
    pq.write_table(table.slice(3000), ds / "b.parquet", row_group_size=1999)
    whole = tmp_path / "whole.parquet"
    for mode in MODES:
        want = run_json(runner, whole, whole, *mode)
        assert run_json(runner, ds, ds, *mode) == want
        assert run_json(runner, f"{ds}/*.parquet", f"{ds}/*.parquet", *mode) == want


def test_zarr_array_equals_npy(runner, tmp_path, single):
    zarr = pytest.importorskip("zarr")
    y, p = golden()
    z = zarr.create_array(str(tmp_path / "p.zarr"), shape=p.shape, chunks=(900, p.shape[1]), dtype=p.dtype)
    z[:] = p
    zl = zarr.create_array(str(tmp_path / "y.zarr"), shape=y.shape, chunks=(4000,), dtype=y.dtype)
    zl[:] = y
    for mode in MODES:
        assert run_json(runner, tmp_path / "y.zarr", tmp_path / "p.zarr", *mode) == single(*mode)


def test_file_urls_with_storage_options(runner, tmp_path, single):
    pytest.importorskip("fsspec")
    folder = shards(tmp_path / "probs", golden()[1])
    got = run_json(
        runner, f"{GOLDEN}/cifar10/labels.npy", f"file://{folder}/part-*.npy", "--storage-options", "{}"
    )
    assert got == single()


def error(runner, labels, probs, *extra):
    r = runner.invoke(app, ["batched", "-l", str(labels), "-p", str(probs), *extra])
    assert r.exit_code == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    return r.stderr


def test_malformed_shard_is_named(runner, tmp_path):
    folder = shards(tmp_path / "probs", golden()[1])
    bad = folder / "part-001.npy"
    bad.write_bytes(b"not an array at all")
    assert f"Error: {bad}: unreadable .npy file" in error(runner, f"{GOLDEN}/cifar10/labels.npy", folder)


def test_truncated_shard_is_named(runner, tmp_path):
    folder = shards(tmp_path / "probs", golden()[1])
    bad = folder / "part-002.npy"
    bad.write_bytes(bad.read_bytes()[:-100])
    assert f"Error: {bad}: truncated .npy shard" in error(runner, f"{GOLDEN}/cifar10/labels.npy", folder)


def test_shard_of_other_width_is_named(runner, tmp_path):
    folder = shards(tmp_path / "probs", golden()[1])
    np.save(folder / "part-003.npy", np.full((5, 3), 1 / 3))
    msg = error(runner, f"{GOLDEN}/cifar10/labels.npy", folder)
    assert f"{folder}/part-003.npy: pred_probs shard has shape (5, 3)" in msg


def test_no_shard_matches(runner, tmp_path):
    msg = error(runner, f"{GOLDEN}/cifar10/labels.npy", f"{tmp_path}/nothing-*.npy")
    assert "no pred_probs shards match" in msg


def test_missing_zarr_labels_and_bad_storage_options(runner, tmp_path):
    folder = shards(tmp_path / "probs", golden()[1])
    missing = tmp_path / "nope.zarr"
    assert f"Error: {missing}: Zarr array not found" in error(runner, missing, folder)
    msg = error(runner, f"{GOLDEN}/cifar10/labels.npy", folder, "--storage-options", "[1]")
    assert "Error: --storage-options must be a JSON object, got '[1]'" in msg


def test_shard_rows_must_match_labels(runner, tmp_path):
    folder = shards(tmp_path / "probs", golden()[1], sizes=(1234, 5000))
    msg = error(runner, f"{GOLDEN}/cifar10/labels.npy", folder)
    assert "10000 labels but" in msg and "has 6234 rows" in msg
