"""`overlap` end to end: every number it prints or writes equals the library functions
(themselves checked against cleanlab 2.9.0 in test_golden_parity), plus outputs, terminal rendering
and the --fail-over gate."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
from helpers import NAMES, NAMES_FILE, L, P, run

import labelaudit as la

PAIR_COLUMNS = ["class_a", "class_b", "n_overlapping", "joint_probability"]


def test_overlap_table(runner, cifar):
    y, p = cifar
    out = run(
        runner, "overlap", "-l", L, "-p", P, "--format", "table", "--class-names", NAMES_FILE, "--top", 3
    ).stdout
    assert "Most confused unordered class pairs" in out
    lib = la.find_overlapping_classes(y, p)
    got = [[c.strip() for c in ln.strip("│").split("│")] for ln in out.splitlines() if ln.startswith("│")]
    want = [[NAMES[a], NAMES[b], str(n), f"{j:.6f}"] for a, b, n, j in
            zip(lib["class_a"][:3], lib["class_b"][:3], lib["n_overlapping"][:3], lib["joint_probability"][:3], strict=True)]  # fmt: skip
    assert got == want


# ---------------------------------------------------------------------------- overlap


def check_pairs(records: list[dict], lib: dict, names=None) -> None:
    keys = PAIR_COLUMNS[:2] + (["name_a", "name_b"] if names is not None else []) + PAIR_COLUMNS[2:]
    assert [list(r) for r in records] == [keys] * len(records)
    df = pd.DataFrame(records, columns=keys)
    for col in PAIR_COLUMNS:
        np.testing.assert_array_equal(df[col].to_numpy(), lib[col][: len(df)], err_msg=col)
    if names is not None:
        assert df["name_a"].tolist() == [names[i] for i in df["class_a"]]
        assert df["name_b"].tolist() == [names[i] for i in df["class_b"]]


def test_overlap_json_equals_library(runner, cifar):
    y, p = cifar
    res = run(runner, "overlap", "-l", L, "-p", P, "--format", "json", "--class-names", NAMES_FILE)
    doc = json.loads(res.stdout)
    assert doc["command"] == "overlap" and doc["class_names"] == NAMES
    lib = la.find_overlapping_classes(y, p)
    assert len(doc["pairs"]) == 45
    check_pairs(doc["pairs"], lib, NAMES)
    assert doc["largest_joint_probability"] == lib["joint_probability"][0]
    # Hand check of the first pair on this set: cat/dog, the classic CIFAR-10 confusion.
    assert (doc["pairs"][0]["name_a"], doc["pairs"][0]["name_b"]) == ("cat", "dog")
    j = la.estimate_joint(y, p)
    assert doc["pairs"][0]["joint_probability"] == j[3, 5] + j[5, 3]


def test_overlap_asymmetric(runner, cifar):
    y, p = cifar
    doc = json.loads(run(runner, "overlap", "-l", L, "-p", P, "--format", "json", "--asymmetric").stdout)
    lib = la.find_overlapping_classes(y, p, asymmetric=True)
    assert len(doc["pairs"]) == 90 and doc["params"]["asymmetric"] is True
    check_pairs(doc["pairs"], lib)
    j = la.estimate_joint(y, p)
    first = doc["pairs"][0]
    assert first["joint_probability"] == j[first["class_a"], first["class_b"]]


def test_overlap_top_and_num_examples(runner, cifar):
    y, p = cifar
    doc = json.loads(run(runner, "overlap", "-l", L, "-p", P, "--format", "json", "--top", 4,
                         "--num-examples", 1000).stdout)  # fmt: skip
    lib = la.find_overlapping_classes(y, p, num_examples=1000)
    assert len(doc["pairs"]) == 4
    check_pairs(doc["pairs"], lib)
    assert doc["largest_joint_probability"] == lib["joint_probability"][0]


def test_overlap_top_keeps_gate_on_the_largest(runner, cifar):
    # --top 0 lists nothing, but the gate still sees the largest joint probability.
    largest = la.find_overlapping_classes(*cifar)["joint_probability"][0]
    res = run(
        runner, "overlap", "-l", L, "-p", P, "--format", "json", "--top", 0, "--fail-over", 0.001, code=1
    )
    doc = json.loads(res.stdout)
    assert doc["pairs"] == [] and doc["gates"][0]["value"] == largest


def test_overlap_example_a_by_hand(runner, example_a, save_npy):
    y, p = example_a
    lp, pp = save_npy("y.npy", y), save_npy("p.npy", p)
    doc = json.loads(run(runner, "overlap", "-l", lp, "-p", pp, "--format", "json").stdout)
    got = [(r["class_a"], r["class_b"], r["n_overlapping"]) for r in doc["pairs"]]
    assert got == [(0, 1, 5), (0, 2, 0), (1, 2, 0)]
    assert doc["pairs"][0]["joint_probability"] == pytest.approx(5 / 12, abs=1e-15)
    doc = json.loads(run(runner, "overlap", "-l", lp, "-p", pp, "--format", "json", "--asymmetric").stdout)
    assert [(r["class_a"], r["class_b"], r["n_overlapping"]) for r in doc["pairs"][:2]] == [
        (1, 0, 3),
        (0, 1, 2),
    ]
    doc = json.loads(run(runner, "health", "-l", lp, "-p", pp, "--format", "json").stdout)
    assert doc["health_score"] == pytest.approx(1 - 2 / 12, abs=1e-15)
    assert [(r["class_index"], r["n_examples"], r["label_issues"], r["inverse_label_issues"]) for r in doc["classes"]] == [
        (0, 4, 2, 3), (1, 6, 3, 2), (2, 2, 0, 0)
    ]  # fmt: skip


def test_overlap_fail_over(runner, cifar):
    largest = float(la.find_overlapping_classes(*cifar)["joint_probability"][0])
    res = run(runner, "overlap", "-l", L, "-p", P, "--format", "csv", "--fail-over", repr(largest))
    assert "Gate failed" not in res.stderr
    below = float(np.nextafter(largest, 0.0))
    res = run(runner, "overlap", "-l", L, "-p", P, "--format", "csv", "--fail-over", repr(below), code=1)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Gate failed: fail_over")
    assert repr(below) in lines[0]


def test_overlap_csv_parses_back(runner, cifar):
    y, p = cifar
    text = run(runner, "overlap", "-l", L, "-p", P, "--format", "csv", "--class-names", NAMES_FILE).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["class_a", "class_b", "name_a", "name_b", "n_overlapping", "joint_probability"]
    lib = la.find_overlapping_classes(y, p)
    assert [int(r["class_a"]) for r in rows] == lib["class_a"].tolist()
    assert [int(r["class_b"]) for r in rows] == lib["class_b"].tolist()
    assert [int(r["n_overlapping"]) for r in rows] == lib["n_overlapping"].tolist()
    assert [float(r["joint_probability"]) for r in rows] == lib[
        "joint_probability"
    ].tolist()  # exact round trip
    assert [r["name_a"] for r in rows] == [NAMES[a] for a in lib["class_a"]]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_overlap_outputs(runner, cifar, tmp_path, suffix):
    y, p = cifar
    out = tmp_path / f"pairs{suffix}"
    res = run(runner, "overlap", "-l", L, "-p", P, "-o", out, "--asymmetric")
    assert res.stdout == "" and "wrote" in res.stderr
    lib = la.find_overlapping_classes(y, p, asymmetric=True)
    if suffix == ".json":
        check_pairs(json.loads(out.read_text())["pairs"], lib)
    else:
        df = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
        check_pairs(df.to_dict(orient="records"), lib)
