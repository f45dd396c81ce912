"""`find-issues` and `rank` end to end: every result the CLI prints or writes equals the library call."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labelaudit as la
from labelaudit.cli import app

TESTS = Path(__file__).resolve().parent.parent
CIFAR = TESTS / "golden" / "inputs" / "cifar10"
L, P = str(CIFAR / "labels.npy"), str(CIFAR / "pred_probs.npy")
SAMPLE = TESTS.parent / "sample_data" / "cifar10"
NAMES_FILE = SAMPLE / "class_names.txt"
BASE_COLUMNS = ["index", "given_label", "predicted_label", "label_quality", "is_label_issue"]


@pytest.fixture(scope="module")
def cifar():
    return np.load(L), np.load(P)


def run(runner, *args, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (
        f"exit {result.exit_code}\nstdout: {result.stdout[:2000]}\nstderr: {result.stderr}"
    )
    return result


def ranked_issues(y, p, filter_by="prune_by_noise_rate", rank_by="self_confidence", adjust=False, **kw):
    return la.find_label_issues(
        y,
        p,
        filter_by=filter_by,
        return_indices_ranked_by=rank_by,
        rank_by_kwargs={"adjust_pred_probs": adjust},
        **kw,
    )


def check_rows(df: pd.DataFrame, y, p, idx, scores, is_issue=None) -> None:
    """The per-example columns of a listing, against the library, in the listed order."""
    assert set(BASE_COLUMNS) <= set(df.columns), list(df.columns)
    np.testing.assert_array_equal(df["index"].to_numpy(), idx)
    np.testing.assert_array_equal(df["given_label"].to_numpy(), y[idx])
    np.testing.assert_array_equal(df["predicted_label"].to_numpy(), p[idx].argmax(axis=1))
    np.testing.assert_array_equal(df["label_quality"].to_numpy(dtype=np.float64), scores[idx])  # exact
    want = np.ones(len(idx), dtype=bool) if is_issue is None else is_issue
    np.testing.assert_array_equal(df["is_label_issue"].to_numpy().astype(bool), want)


def records_frame(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(records, columns=list(records[0]) if records else BASE_COLUMNS)


# ---------------------------------------------------------------------------- JSON report == library

FIND_CASES = [
    ([], {}),
    (["--filter-by", "prune_by_class", "--rank-by", "normalized_margin"],
     {"filter_by": "prune_by_class", "rank_by": "normalized_margin"}),
    (["--filter-by", "confident_learning", "--adjust-pred-probs"], {"filter_by": "confident_learning", "adjust": True}),
    (["--filter-by", "low_self_confidence", "--rank-by", "confidence_weighted_entropy"],
     {"filter_by": "low_self_confidence", "rank_by": "confidence_weighted_entropy"}),
    (["--filter-by", "both", "--frac-noise", "0.5", "--min-examples-per-class", "5"],
     {"filter_by": "both", "frac_noise": 0.5, "min_examples_per_class": 5}),
    (["--num-to-remove-per-class", "1,2,3,4,5,6,7,8,9,10"], {"num_to_remove_per_class": list(range(1, 11))}),
]  # fmt: skip


@pytest.mark.parametrize(("args", "lib"), FIND_CASES, ids=[" ".join(a) or "defaults" for a, _ in FIND_CASES])
def test_find_issues_json_equals_library(runner, cifar, args, lib):
    y, p = cifar
    res = run(runner, "find-issues", "-l", L, "-p", P, "--format", "json", *args)
    assert res.stderr == ""
    doc = json.loads(res.stdout)
    lib = dict(lib)
    rank_by, adjust = lib.pop("rank_by", "self_confidence"), lib.pop("adjust", False)
    want = ranked_issues(y, p, rank_by=rank_by, adjust=adjust, **lib)
    assert len(want) > 0
    scores = la.get_label_quality_scores(y, p, method=rank_by, adjust_pred_probs=adjust).astype(np.float64)
    assert doc["command"] == "find-issues"
    assert doc["version"] == la.__version__
    assert doc["n_examples"] == 10000 and doc["n_classes"] == 10
    assert doc["n_issues"] == len(want)
    assert doc["params"]["filter_by"] == lib.get("filter_by", "prune_by_noise_rate")
    assert doc["params"]["rank_by"] == rank_by
    check_rows(records_frame(doc["issues"]), y, p, want, scores)


def test_json_report_describes_inputs(runner):
    import hashlib

    doc = json.loads(run(runner, "find-issues", "-l", L, "-p", P, "--format", "json", "--top", "0").stdout)
    by_role = {d["role"]: d for d in doc["inputs"]}
    for role, path in (("labels", L), ("pred_probs", P)):
        raw = Path(path).read_bytes()
        assert by_role[role]["path"] == path
        assert by_role[role]["bytes"] == len(raw)
        assert by_role[role]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert doc["issues"] == [] and doc["n_issues"] > 0


@pytest.mark.parametrize(
    ("method", "adjust"),
    [("self_confidence", False), ("normalized_margin", True), ("confidence_weighted_entropy", False)],
)
def test_rank_json_equals_library(runner, cifar, method, adjust):
    y, p = cifar
    args = ["--method", method] + (["--adjust-pred-probs"] if adjust else [])
    doc = json.loads(run(runner, "rank", "-l", L, "-p", P, "--format", "json", *args).stdout)
    scores = la.get_label_quality_scores(y, p, method=method, adjust_pred_probs=adjust).astype(np.float64)
    assert doc["command"] == "rank"
    np.testing.assert_array_equal(np.array(doc["scores"], dtype=np.float64), scores)
    want = la.order_label_issues(
        la.find_label_issues(y, p), y, p, rank_by=method, rank_by_kwargs={"adjust_pred_probs": adjust}
    )
    check_rows(records_frame(doc["issues"]), y, p, want, scores)


# ---------------------------------------------------------------------------- output files


def test_npy_ranked_indices_and_mask(runner, cifar, tmp_path):
    y, p = cifar
    out = tmp_path / "issues.npy"
    run(runner, "find-issues", "-l", L, "-p", P, "-o", out, "--rank-by", "normalized_margin")
    got = np.load(out)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, ranked_issues(y, p, rank_by="normalized_margin"))
    run(runner, "find-issues", "-l", L, "-p", P, "-o", out, "--mask")
    got = np.load(out)
    assert got.dtype == bool and got.shape == (10000,)
    np.testing.assert_array_equal(got, la.find_label_issues(y, p))
    assert os.listdir(tmp_path) == ["issues.npy"]  # overwritten in place, no temp files left


def read_table(path: Path) -> pd.DataFrame:
    s = path.suffix
    if s == ".parquet":
        return pd.read_parquet(path)
    if s == ".json":
        return records_frame(json.loads(path.read_text()))
    if s == ".jsonl":
        return records_frame([json.loads(line) for line in path.read_text().splitlines()])
    return pd.read_csv(path, sep="\t" if s == ".tsv" else ",")


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".json", ".jsonl"])
def test_find_issues_table_outputs(runner, cifar, tmp_path, suffix):
    y, p = cifar
    out = tmp_path / f"issues{suffix}"
    run(runner, "find-issues", "-l", L, "-p", P, "-o", out)
    df = read_table(out)
    check_rows(df, y, p, ranked_issues(y, p), la.get_label_quality_scores(y, p))
    assert "given_name" not in df.columns  # no names known


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_find_issues_table_outputs_with_class_names(runner, cifar, tmp_path, suffix):
    y, p = cifar
    names = np.array(NAMES_FILE.read_text().split())
    out = tmp_path / f"issues{suffix}"
    run(runner, "find-issues", "-l", L, "-p", P, "-o", out, "--class-names", NAMES_FILE, "--top", "20")
    df = read_table(out)
    want = ranked_issues(y, p)[:20]
    check_rows(df, y, p, want, la.get_label_quality_scores(y, p))
    np.testing.assert_array_equal(df["given_name"].to_numpy(dtype=str), names[y[want]])
    np.testing.assert_array_equal(df["predicted_name"].to_numpy(dtype=str), names[p[want].argmax(axis=1)])


def test_rank_outputs(runner, cifar, tmp_path):
    y, p = cifar
    scores = la.get_label_quality_scores(y, p, method="normalized_margin")
    run(runner, "rank", "-l", L, "-p", P, "--method", "normalized_margin", "-o", tmp_path / "s.npy")
    got = np.load(tmp_path / "s.npy")
    assert got.dtype == np.float64 and got.shape == (10000,)
    np.testing.assert_array_equal(got, scores)  # input order, every example
    run(runner, "rank", "-l", L, "-p", P, "--method", "normalized_margin", "-o", tmp_path / "s.parquet")
    df = pd.read_parquet(tmp_path / "s.parquet")
    check_rows(df, y, p, np.arange(10000), scores, is_issue=la.find_label_issues(y, p))


@pytest.mark.parametrize("kind", ["mask", "indices", "table"])
def test_rank_order_issues(runner, cifar, tmp_path, kind):
    y, p = cifar
    mask = la.find_label_issues(y, p, filter_by="confident_learning")
    if kind == "mask":
        path = tmp_path / "flagged.npy"
        np.save(path, mask)
    elif kind == "indices":
        path = tmp_path / "flagged.npy"
        np.save(path, np.flatnonzero(mask)[::-1].copy())  # any order
    else:
        path = tmp_path / "flagged.csv"
        pd.DataFrame({"index": np.flatnonzero(mask)}).to_csv(path, index=False)
    want = la.order_label_issues(mask, y, p, rank_by="normalized_margin")
    out = tmp_path / "ordered.npy"
    res = run(
        runner,
        "rank",
        "-l",
        L,
        "-p",
        P,
        "--order-issues",
        path,
        "--method",
        "normalized_margin",
        "-o",
        out,
        "--format",
        "json",
    )
    np.testing.assert_array_equal(np.load(out), want)
    assert np.load(out).dtype == np.int64
    doc = json.loads(res.stdout)
    scores = la.get_label_quality_scores(y, p, method="normalized_margin")
    check_rows(records_frame(doc["issues"]), y, p, want, scores)


# ---------------------------------------------------------------------------- stdout


def test_format_csv_parses_back(runner, cifar):
    y, p = cifar
    res = run(runner, "find-issues", "-l", L, "-p", P, "--format", "csv", "--rank-by", "normalized_margin")
    df = pd.read_csv(io.StringIO(res.stdout))
    check_rows(
        df,
        y,
        p,
        ranked_issues(y, p, rank_by="normalized_margin"),
        la.get_label_quality_scores(y, p, method="normalized_margin"),
    )
    assert res.stderr == ""


def test_default_stdout_when_not_a_terminal_is_csv(runner, cifar):
    y, p = cifar
    res = run(runner, "find-issues", "-l", L, "-p", P, "--top", "5")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [int(r["index"]) for r in rows] == ranked_issues(y, p)[:5].tolist()


def test_output_dash_writes_listing_to_stdout_only(runner, cifar, tmp_path):
    y, p = cifar
    res = run(runner, "find-issues", "-l", L, "-p", P, "-o", "-")
    df = pd.read_csv(io.StringIO(res.stdout))  # nothing but the listing on stdout
    check_rows(df, y, p, ranked_issues(y, p), la.get_label_quality_scores(y, p))
    res = run(runner, "find-issues", "-l", L, "-p", P, "-o", "-", "--format", "json", "--top", "3")
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    check_rows(records_frame(lines), y, p, ranked_issues(y, p)[:3], la.get_label_quality_scores(y, p))
    assert not (Path.cwd() / "-").exists()


def test_top(runner, cifar, tmp_path):
    y, p = cifar
    want = ranked_issues(y, p)
    doc = json.loads(run(runner, "find-issues", "-l", L, "-p", P, "--format", "json", "--top", "7").stdout)
    assert [r["index"] for r in doc["issues"]] == want[:7].tolist()
    assert doc["n_issues"] == len(want)  # counts use every issue
    run(runner, "find-issues", "-l", L, "-p", P, "--top", "7", "-o", tmp_path / "top.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "top.npy"), want[:7])
    big = json.loads(
        run(runner, "find-issues", "-l", L, "-p", P, "--format", "json", "--top", "100000").stdout
    )
    assert len(big["issues"]) == len(want)


# ---------------------------------------------------------------------------- gates


@pytest.fixture(scope="module")
def n_issues(cifar):
    return int(la.find_label_issues(*cifar).sum())


def gate_line(stderr: str, gate: str) -> str:
    lines = [ln for ln in stderr.splitlines() if gate in ln]
    assert len(lines) == 1, stderr
    return lines[0]


def test_gate_max_issues(runner, n_issues, tmp_path):
    res = run(
        runner, "find-issues", "-l", L, "-p", P, "--max-issues", n_issues - 1, "--format", "json", code=1
    )
    line = gate_line(res.stderr, "max_issues")
    assert str(n_issues) in line and str(n_issues - 1) in line
    assert json.loads(res.stdout)["n_issues"] == n_issues  # the report is still printed
    run(runner, "find-issues", "-l", L, "-p", P, "--max-issues", n_issues, "--format", "json")  # at the limit
    res = run(
        runner, "find-issues", "-l", L, "-p", P, "--max-issues", 10 * n_issues, "-o", tmp_path / "a.npy"
    )
    assert "Gate failed" not in res.stderr
    # A failing gate still writes the requested output (CI keeps the report).
    run(runner, "find-issues", "-l", L, "-p", P, "--max-issues", 0, "-o", tmp_path / "b.csv", code=1)
    assert len(pd.read_csv(tmp_path / "b.csv")) == n_issues


def test_gate_max_issue_rate(runner, n_issues):
    rate = n_issues / 10000
    res = run(
        runner, "find-issues", "-l", L, "-p", P, "--max-issue-rate", rate / 2, "--format", "csv", code=1
    )
    line = gate_line(res.stderr, "max_issue_rate")
    assert f"{rate:.6g}" in line
    run(runner, "find-issues", "-l", L, "-p", P, "--max-issue-rate", rate, "--format", "csv")
    run(runner, "find-issues", "-l", L, "-p", P, "--max-issue-rate", 1.0, "--format", "csv")


def test_both_gates_one_failing(runner, n_issues):
    res = run(
        runner,
        "find-issues",
        "-l",
        L,
        "-p",
        P,
        "--max-issues",
        n_issues,
        "--max-issue-rate",
        0.001,
        "--format",
        "csv",
        code=1,
    )
    gate_line(res.stderr, "max_issue_rate")
    assert "max_issues:" not in res.stderr


# ---------------------------------------------------------------------------- table inputs, logits, warnings


@pytest.mark.parametrize("table", ["cifar10.csv", "cifar10.parquet"])
def test_table_input_equals_npy(runner, cifar, table):
    path = SAMPLE / table
    if not path.exists():
        pytest.skip(f"sample_data/cifar10/{table} not present")
    y, p = cifar
    doc = json.loads(run(runner, "find-issues", "-l", path, "-p", path, "--format", "json").stdout)
    want = ranked_issues(y, p)
    df = records_frame(doc["issues"])
    check_rows(df, y, p, want, la.get_label_quality_scores(y, p))
    names = np.array(NAMES_FILE.read_text().split())
    assert doc["class_names"] == names.tolist()  # from the probability column headers
    np.testing.assert_array_equal(df["given_name"].to_numpy(dtype=str), names[y[want]])


def test_from_logits(runner, tmp_path):
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, size=(300, 4))
    y = np.argmax(logits + rng.normal(0, 1.5, size=logits.shape), axis=1)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "z.npy", logits)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    run(
        runner,
        "find-issues",
        "-l",
        tmp_path / "y.npy",
        "-p",
        tmp_path / "z.npy",
        "--from-logits",
        "-o",
        tmp_path / "out.npy",
    )
    want = ranked_issues(y, p)
    assert len(want) > 0
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), want)


def test_absent_class_warns_on_stderr_only(runner, tmp_path):
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1]] * 2)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "p.npy", p)
    res = run(runner, "find-issues", "-l", tmp_path / "y.npy", "-p", tmp_path / "p.npy", "--format", "json")
    assert "no examples" in res.stderr and "Warning" in res.stderr
    json.loads(res.stdout)  # stdout stays a clean document
    quiet = run(
        runner, "find-issues", "-l", tmp_path / "y.npy", "-p", tmp_path / "p.npy", "--format", "json", "-q"
    )
    assert quiet.stderr == ""
    assert quiet.stdout == res.stdout


def test_batch_size_never_changes_output(runner, tmp_path):
    for bs in (None, 7, 9999):
        extra = [] if bs is None else ["--batch-size", bs]
        run(
            runner,
            "find-issues",
            "-l",
            L,
            "-p",
            P,
            "-o",
            tmp_path / f"out_{bs}.csv",
            "--rank-by",
            "normalized_margin",
            *extra,
        )
    ref = (tmp_path / "out_None.csv").read_bytes()
    assert (tmp_path / "out_7.csv").read_bytes() == ref
    assert (tmp_path / "out_9999.csv").read_bytes() == ref


def test_version(runner):
    res = run(runner, "--version")
    assert la.__version__ in res.stdout


# ---------------------------------------------------------------------------- subprocesses


def test_python_m_help_smoke():
    res = subprocess.run(
        [sys.executable, "-m", "labelaudit", "--help"], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert "find-issues" in res.stdout and "rank" in res.stdout


NO_PANDAS = r"""
import json, sys
sys.argv = ["labelaudit", *json.loads(sys.argv[1])]
code = 0
try:
    from labelaudit.cli import main
    main()
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\nRESULT " + json.dumps({"code": code, "pandas": "pandas" in sys.modules,
                                           "pyarrow": "pyarrow" in sys.modules}) + "\n")
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["find-issues", "--help"],
        ["find-issues", "-l", L, "-p", P, "--format", "json"],
        ["find-issues", "-l", L, "-p", P, "-o", "{tmp}/out.npy", "--mask"],
        ["find-issues", "-l", L, "-p", P, "--format", "csv", "--top", "3"],
        ["rank", "-l", L, "-p", P, "-o", "{tmp}/scores.npy"],
    ],
    ids=["help", "find-issues-help", "json", "npy-out", "csv", "rank-npy"],
)
def test_npy_runs_never_import_pandas(tmp_path, args):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    res = subprocess.run(
        [sys.executable, "-c", NO_PANDAS, json.dumps(args)], capture_output=True, text=True, timeout=120
    )
    result = json.loads(res.stderr.rsplit("RESULT ", 1)[1])
    assert result == {"code": 0, "pandas": False, "pyarrow": False}, res.stderr
