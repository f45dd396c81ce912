"""`annotators` end to end: --format json equals the library call (core.multiannotator.audit_annotators,
itself checked against cleanlab 2.9.0 in tests/core/test_multiannotator.py), the wide and long layouts
give the same report, every output format holds the per-example table, the gate, string labels, and one
test per bad input (exit 2, one message naming the file, rule and value, nothing written)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run

from labelaudit.core import formats
from labelaudit.core import multiannotator as ma
from labelaudit.io.multiannotator import load_annotations
from tests.cli.test_errors import Inputs, error_line, expect_error

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "expected_multiannotator"
nan = np.nan
L41 = np.array([[0, 0, 0], [1, 1, 0], [0, 1, nan], [1, nan, 1], [nan, nan, 1]])
P41 = np.array([(0.8, 0.2), (0.3, 0.7), (0.6, 0.4), (0.5, 0.5), (0.1, 0.9)])
EXAMPLE_COLUMNS = ["index", "id", "consensus_label", "consensus_quality_score", "annotator_agreement",
                   "num_annotations", "is_label_issue"]  # fmt: skip


def golden(name: str) -> dict[str, np.ndarray]:
    with np.load(GOLDEN / f"{name}.npz") as z:
        return dict(z)


def wide(labels: np.ndarray, names: list[str] | None = None) -> pd.DataFrame:
    """One column per annotator (a00, a01, ...), an empty cell where it gave no label, and an id column."""
    cols: dict = {"id": np.arange(len(labels))}
    for j in range(labels.shape[1]):
        v = labels[:, j]
        if names is None:
            cols[f"a{j:02d}"] = pd.array([None if np.isnan(x) else int(x) for x in v], dtype="Int64")
        else:
            cols[f"a{j:02d}"] = [None if np.isnan(x) else names[int(x)] for x in v]
    return pd.DataFrame(cols)


def long(labels: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """One row per label, rows shuffled (the layout does not depend on their order)."""
    i, j = np.nonzero(~np.isnan(labels))
    order = np.random.default_rng(seed).permutation(len(i))
    i, j = i[order], j[order]
    return pd.DataFrame({"task": i, "annotator": [f"a{x:02d}" for x in j], "label": labels[i, j].astype(int)})


def doc_of(runner, *args, code: int = 0) -> dict:
    return json.loads(run(runner, "annotators", *args, "--format", "json", code=code).stdout)


def body(doc: dict) -> dict:
    """The document without its envelope (version, params, inputs differ between layouts)."""
    return {k: v for k, v in doc.items() if k not in ("version", "params", "inputs")}


@pytest.fixture(scope="module")
def k5(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    """The golden set ma_k5 (single-label examples, an isolated annotator) as files."""
    d = tmp_path_factory.mktemp("k5")
    z = golden("ma_k5")
    np.save(d / "labels.npy", z["labels"])
    np.save(d / "pred_probs.npy", z["pred_probs"])
    wide(z["labels"]).to_csv(d / "wide.csv", index=False)
    wide(z["labels"]).to_parquet(d / "wide.parquet")
    long(z["labels"]).to_csv(d / "long.csv", index=False)
    long(z["labels"], seed=1).to_parquet(d / "long.parquet")
    return d, z


def test_json_equals_the_library_call(runner, k5):
    d, z = k5
    lp, pp = str(d / "wide.csv"), str(d / "pred_probs.npy")
    doc = doc_of(runner, "-l", lp, "-p", pp, "--active-learning", "--top", "40")
    data = load_annotations(lp, pp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = ma.audit_annotators(
            data.labels,
            data.pred_probs,
            active_learning=True,
            top=40,
            annotator_ids=data.annotators,
            ids=data.ids,
        )
    want = json.loads(formats.to_json(formats.document(report, [f.describe() for f in data.files])))
    assert doc == want
    assert doc["command"] == "annotators" and doc["version"] and len(doc["examples"]) == 40
    assert [i["role"] for i in doc["inputs"]] == ["labels", "pred_probs"] and doc["inputs"][0]["sha256"]
    assert doc["params"]["consensus_method"] == "best_quality" and doc["params"]["active_learning"] is True
    assert list(doc["annotators"][0]) == ["annotator", "annotator_quality", "agreement_with_consensus",
                                          "worst_class", "num_examples_labeled"]  # fmt: skip
    # the reference's numbers (annotators worst first; the isolated annotator a14 last, quality null)
    assert [a["annotator"] for a in doc["annotators"]] == [f"a{j:02d}" for j in z["default__annotator_order"]]
    got = [a["annotator_quality"] for a in doc["annotators"]]
    want_q = z["default__annotator_quality"]
    assert got[-1] is None and np.isnan(want_q[-1])
    np.testing.assert_allclose(got[:-1], want_q[:-1], rtol=0, atol=1e-12)
    ex = pd.DataFrame(doc["examples"])
    np.testing.assert_allclose(
        ex["consensus_quality_score"], z["default__consensus_quality_score"][ex["index"]], atol=1e-12
    )
    assert doc["n_label_issues"] == int(z["issues_best_quality__mask"].sum())


@pytest.mark.parametrize("layout", ["wide.parquet", "labels.npy", "long.csv", "long.parquet"])
def test_wide_and_long_layouts_agree(runner, k5, layout):
    d, _ = k5
    pp = str(d / "pred_probs.npy")
    want = body(doc_of(runner, "-l", d / "wide.csv", "-p", pp))
    extra = ["--long"] if layout.startswith("long") else []
    got = body(doc_of(runner, "-l", d / layout, "-p", pp, *extra))
    if layout == "labels.npy":  # no id column and annotators numbered 0..M-1
        for row in want["examples"]:
            del row["id"]
        for row in want["annotators"]:
            row["annotator"] = int(row["annotator"][1:])
    assert got == want


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_table_outputs_hold_every_example_in_input_order(runner, k5, tmp_path, suffix):
    d, z = k5
    out = tmp_path / f"out{suffix}"
    res = run(runner, "annotators", "-l", d / "long.csv", "--long", "-p", d / "pred_probs.npy", "-o", out)
    assert res.stdout == "" and "consensus labels of 700 examples from 15 annotators" in res.stderr
    if suffix == ".parquet":
        df = pd.read_parquet(out)
    elif suffix == ".jsonl":
        df = pd.read_json(out, lines=True)
    else:
        df = pd.read_csv(out, sep="\t" if suffix == ".tsv" else ",")
    assert list(df.columns) == EXAMPLE_COLUMNS
    np.testing.assert_array_equal(df["index"], np.arange(700))
    np.testing.assert_array_equal(df["id"], np.arange(700))
    np.testing.assert_array_equal(df["consensus_label"], z["default__consensus_label"])
    np.testing.assert_array_equal(df["num_annotations"], z["default__num_annotations"])
    np.testing.assert_array_equal(df["is_label_issue"].astype(bool), z["issues_best_quality__mask"])
    for col in ("consensus_quality_score", "annotator_agreement"):
        np.testing.assert_allclose(df[col], z[f"default__{col}"], rtol=0, atol=1e-12)


def test_json_npy_and_csv_outputs(runner, k5, tmp_path):
    d, z = k5
    args = ["annotators", "-l", d / "labels.npy", "-p", d / "pred_probs.npy", "--consensus-method",
            "majority_vote"]  # fmt: skip
    run(runner, *args, "-o", tmp_path / "c.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), z["majority_vote__consensus_label"])
    run(runner, *args, "-o", tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc == doc_of(runner, *args[1:])  # -o FILE.json is the --format json document
    assert doc["n_label_issues"] == int(z["issues_majority_vote__mask"].sum())
    csv = run(runner, *args, "--format", "csv", "--top", "5").stdout.splitlines()
    assert (
        csv[0]
        == "index,consensus_label,consensus_quality_score,annotator_agreement,num_annotations,is_label_issue"
    )
    assert len(csv) == 6
    q = [float(line.split(",")[2]) for line in csv[1:]]
    assert q == sorted(q) and q[0] == pytest.approx(z["majority_vote__consensus_quality_score"].min())


def test_gate_names_the_annotators_below_the_limit(runner, tmp_path):
    np.save(tmp_path / "l.npy", L41)
    np.save(tmp_path / "p.npy", P41)
    out = tmp_path / "out.csv"
    args = ["annotators", "-l", tmp_path / "l.npy", "-p", tmp_path / "p.npy"]
    res = run(runner, *args, "--min-annotator-quality", "0.7", "-o", out, "--format", "json", code=1)
    assert (
        "Gate failed: min_annotator_quality: 2 annotator(s) below the limit 0.7: 1 (0.6423), 2 (0.6611)"
        in (res.stderr)
    )
    assert out.exists()  # a failed gate still publishes its outputs
    gate = json.loads(res.stdout)["gates"][0]
    assert gate["gate"] == "min_annotator_quality" and gate["passed"] is False
    ok = run(runner, *args, "--min-annotator-quality", "0.6", "--format", "json")
    assert json.loads(ok.stdout)["gates"][0]["passed"] is True


def test_string_labels_class_names_and_the_terminal(runner, tmp_path):
    path = tmp_path / "w.csv"
    wide(L41, ["cat", "dog"]).drop(columns="id").rename(columns=lambda c: {"a00": "ann", "a01": "bo",
                                                                           "a02": "cy"}[c]).to_csv(path, index=False)  # fmt: skip
    pd.DataFrame({"dog": P41[:, 1], "cat": P41[:, 0]}).to_csv(tmp_path / "p.csv", index=False)
    doc = doc_of(runner, "-l", path, "-p", tmp_path / "p.csv", "--active-learning")
    assert doc["class_names"] == ["dog", "cat"]  # from the pred_probs headers
    by_index = sorted(doc["examples"], key=lambda r: r["index"])
    assert [r["consensus_name"] for r in by_index] == ["cat", "dog", "cat", "dog", "dog"]
    assert [r["consensus_label"] for r in by_index] == [1, 0, 1, 0, 0]
    assert doc["annotators"][0]["annotator"] == "bo" and doc["annotators"][0]["worst_class_name"] == "dog"
    al, _ = ma.get_active_learning_scores(1 - L41, P41[:, ::-1])  # dog = class 0, cat = class 1
    np.testing.assert_allclose([r["active_learning_score"] for r in by_index], al, rtol=0, atol=1e-15)
    names = tmp_path / "names.txt"
    names.write_text("cat\ndog\n")
    np.save(tmp_path / "p.npy", P41)
    table = run(runner, "annotators", "-l", path, "-p", tmp_path / "p.npy", "--class-names", names,
                "--format", "table").stdout  # fmt: skip
    assert "Annotators, worst first" in table and "Consensus labels, lowest quality first" in table
    lines = table.splitlines()
    assert [ln.split()[1] for ln in lines if ln.startswith("│") and ln.split()[1] in ("ann", "bo", "cy")] == [
        "bo",
        "cy",
        "ann",
    ]
    assert "0.6423" in table and "dog" in table


def test_quality_method_agreement(runner, tmp_path):
    z = golden("ma_k3")
    np.save(tmp_path / "l.npy", z["labels"])
    np.save(tmp_path / "p.npy", z["pred_probs"])
    doc = doc_of(runner, "-l", tmp_path / "l.npy", "-p", tmp_path / "p.npy", "--quality-method", "agreement")
    assert doc["model_weight"] is None and doc["params"]["quality_method"] == "agreement"
    ex = sorted(doc["examples"], key=lambda r: r["index"])
    np.testing.assert_array_equal([r["consensus_label"] for r in ex], z["agreement__consensus_label"])


# ------------------------------------------------------------------------------------------- bad input


@pytest.fixture
def inp(tmp_path) -> Inputs:
    i = Inputs(tmp_path)
    i.probs = i.npy("p.npy", P41)
    return i


def annotators(inp: Inputs, labels: str, *extra: str) -> list:
    return ["annotators", "-l", labels, "-p", inp.probs, *extra]


def test_error_example_nobody_labelled(runner, inp):
    path = inp.text("w.csv", "a,b,c\n0,0,0\n1,1,0\n,,\n1,,1\n,,1\n")
    line = error_line(expect_error(runner, inp, annotators(inp, path), path))
    assert "every example must have at least one label" in line and "[2]" in line


def test_error_label_beyond_k(runner, inp):
    bad = L41.copy()
    bad[3, 2] = 2
    path = inp.npy("l.npy", bad)
    line = error_line(expect_error(runner, inp, annotators(inp, path), path, "0..1", "K=2"))
    assert "example 3, annotator 2 holds 2" in line


def test_error_label_not_an_integer(runner, inp):
    bad = L41.copy()
    bad[1, 0] = 0.5
    path = inp.npy("l.npy", bad)
    expect_error(runner, inp, annotators(inp, path), path, "integers", "example 1, annotator 0 holds 0.5")


def test_error_annotator_column_entirely_empty(runner, inp):
    path = inp.text("w.csv", "a,b,c,d\n0,0,0,\n1,1,0,\n0,1,,\n1,,1,\n,,1,\n")
    expect_error(runner, inp, annotators(inp, path), path, "annotator column(s) ['d'] are entirely empty")
    npy = inp.npy("l.npy", np.column_stack([L41, np.full(5, nan)]))
    expect_error(runner, inp, annotators(inp, npy), npy, "annotator column(s) [3] are entirely empty")


def test_error_n_differs_from_pred_probs(runner, inp):
    path = inp.npy("l.npy", L41[:4])
    expect_error(runner, inp, annotators(inp, path), path, "4 rows but", inp.probs, "has 5 rows")
    lp = inp.text("long.csv", "task,annotator,label\n0,a,0\n0,b,0\n1,a,1\n1,b,1\n")
    expect_error(runner, inp, annotators(inp, lp, "--long"), lp, "2 distinct example ids but")


def test_error_long_table_repeats_a_pair(runner, inp):
    lp = inp.text("long.csv", "task,annotator,label\n0,a,0\n0,b,0\n0,a,1\n")
    expect_error(
        runner, inp, annotators(inp, lp, "--long"), lp, "example 0 has more than one label from annotator 'a'"
    )


def test_error_long_options_need_long(runner, inp):
    path = inp.npy("l.npy", L41)
    expect_error(
        runner, inp, annotators(inp, path, "--annotator-column", "who"), "--annotator-column needs --long"
    )
    expect_error(runner, inp, annotators(inp, path, "--label-column", "y"), "--label-column needs --long")


def test_error_one_annotator_and_unknown_class_name(runner, inp):
    one = inp.npy("l.npy", L41[:, :1][[0, 1, 2, 3, 0]])
    expect_error(runner, inp, annotators(inp, one), one, "at least two annotator columns")
    names = inp.text("w.csv", "a,b\ncat,cat\ndog,cow\ncat,dog\ndog,dog\ncat,dog\n")
    classes = inp.text("names.txt", "cat\ndog\n")
    expect_error(runner, inp, annotators(inp, names, "--class-names", classes), names, "cow")


def test_ci_formats_and_stdout_rows(runner, tmp_path):
    np.save(tmp_path / "l.npy", L41)
    np.save(tmp_path / "p.npy", P41)
    args = [
        "annotators",
        "-l",
        tmp_path / "l.npy",
        "-p",
        tmp_path / "p.npy",
        "--min-annotator-quality",
        "0.7",
    ]
    junit = run(runner, *args, "--format", "junit", code=1).stdout
    assert '<testsuite name="labelaudit annotators gates" tests="1" failures="1">' in junit
    assert (
        'message="min_annotator_quality: 2 annotator(s) below the limit 0.7: 1 (0.6423), 2 (0.6611)"' in junit
    )
    github = run(runner, *args, "--format", "github", code=1).stdout.splitlines()
    assert github[0].startswith("::error title=labelaudit gate failed::min_annotator_quality: 2 annotator(s)")
    rows = run(runner, *args[:5], "-o", "-").stdout.splitlines()  # every example, in input order
    assert rows[0].startswith("index,consensus_label,") and [r.split(",")[0] for r in rows[1:]] == list(
        "01234"
    )


def test_long_layout_with_named_columns_and_string_labels(runner, tmp_path):
    rows = long(L41)
    rows = rows.assign(label=np.array(["cat", "dog"], dtype=object)[rows["label"]])
    rows.rename(columns={"task": "item", "annotator": "who", "label": "tag"}).to_csv(
        tmp_path / "l.csv", index=False
    )
    np.save(tmp_path / "p.npy", P41)
    (tmp_path / "names.txt").write_text("cat\ndog\n")
    args = [
        "-l",
        tmp_path / "l.csv",
        "--long",
        "-p",
        tmp_path / "p.npy",
        "--class-names",
        tmp_path / "names.txt",
    ]
    named = ["--id-column", "item", "--annotator-column", "who", "--label-column", "tag"]
    doc = doc_of(runner, *args, *named)
    np.save(tmp_path / "l.npy", L41)
    want = doc_of(
        runner, "-l", tmp_path / "l.npy", "-p", tmp_path / "p.npy", "--class-names", tmp_path / "names.txt"
    )
    for row in doc["examples"]:
        assert row.pop("id") == row["index"]
    for row in doc["annotators"]:
        row["annotator"] = int(row["annotator"][1:])
    assert body(doc) == body(want) and doc["class_names"] == ["cat", "dog"]
