"""`audit` end to end: its JSON equals the library call, its three table outputs hold the library's
per-example table, its gates exit 1 with one line each, every bad input exits 2 with nothing written, and
its answers do not depend on memmap vs array, --n-jobs or the features' float width."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run

from labelaudit.cli import app
from labelaudit.core.audit import audit
from labelaudit.core.formats import document, to_json

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "inputs_audit"
DIGITS, BLOBS = GOLDEN / "digits", GOLDEN / "blobs"
OWN = "label,class_imbalance"  # the types that need neither features nor the neighbour graph


def paths(d: Path) -> tuple[str, str, str]:
    return str(d / "labels.npy"), str(d / "pred_probs.npy"), str(d / "features.npy")


def arrays(d: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.load(d / "labels.npy"), np.load(d / "pred_probs.npy"), np.load(d / "features.npy")


def library_doc(report, *files) -> dict:
    from labelaudit.io.readers import InputFile

    roles = ("labels", "pred_probs", "features")[: len(files)]
    described = [InputFile(r, f).describe() for r, f in zip(roles, files, strict=True)]
    return json.loads(to_json(document(report, described)))


def read_jsonl(path: Path) -> pd.DataFrame:
    """JSON lines parsed by json (pandas' reader rounds floats to about 15 digits)."""
    return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])


def quiet_audit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return audit(*args, **kwargs)


# ---------------------------------------------------------------------------- JSON == library


def test_json_equals_library_without_features(runner):
    lp, pp, _ = paths(DIGITS)
    y, p, _ = arrays(DIGITS)
    res = run(runner, "audit", "-l", lp, "-p", pp, "-t", OWN, "--format", "json")
    assert res.stderr == ""
    doc = json.loads(res.stdout)
    assert doc == library_doc(audit(y, p, issue_types=OWN), lp, pp)
    assert doc["command"] == "audit" and doc["n_examples"] == 1808 and doc["n_classes"] == 10
    assert [r["issue_type"] for r in doc["issue_summary"]] == ["label", "class_imbalance"]
    assert doc["issue_summary"][0] == {"issue_type": "label", "score": 1 - 151 / 1808, "num_issues": 190}
    assert doc["health_score"] == np.mean([1 - 151 / 1808, 171 / 1808])
    label = doc["details"]["label"]
    assert label["num_issues"] == len(label["issues"]) == 190
    scores = p[np.arange(len(y)), y]
    assert np.all(np.diff(scores[label["issues"]]) >= 0)  # worst first
    assert doc["gates"] == [] and doc["failed"] == {}


def test_json_equals_library_with_features(runner):
    lp, pp, fp = paths(BLOBS)
    y, p, x = arrays(BLOBS)
    res = run(runner, "audit", "-l", lp, "-p", pp, "--features", fp, "--format", "json")
    doc = json.loads(res.stdout)
    assert doc == library_doc(quiet_audit(y, p, x), lp, pp, fp)
    order = [
        "null",
        "label",
        "outlier",
        "near_duplicate",
        "non_iid",
        "class_imbalance",
        "underperforming_group",
    ]
    assert [r["issue_type"] for r in doc["issue_summary"]] == order
    assert doc["inputs"][2]["role"] == "features"


# ---------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_outputs_hold_the_per_example_table(runner, tmp_path, suffix):
    lp, pp, _ = paths(DIGITS)
    y, p, _ = arrays(DIGITS)
    out = tmp_path / f"audit{suffix}"
    res = run(runner, "audit", "-l", lp, "-p", pp, "-t", OWN, "-o", out)
    assert res.stdout == "" and f"wrote {out}" in res.stderr
    table = audit(y, p, issue_types=OWN).file_table
    assert table is not None
    got = {".parquet": pd.read_parquet, ".csv": pd.read_csv, ".jsonl": read_jsonl}[suffix](out)
    assert list(got.columns) == list(table) == [
        "index", "given_label", "predicted_label", "is_label_issue", "label_score",
        "is_class_imbalance_issue", "class_imbalance_score",
    ]  # fmt: skip
    assert len(got) == 1808
    for name, col in table.items():
        np.testing.assert_array_equal(got[name].to_numpy(), np.asarray(col), err_msg=name)


def test_output_with_class_names_and_ids(runner, tmp_path):
    y, p, _ = arrays(DIGITS)
    names = [f"digit {c}" for c in range(10)]
    df = pd.DataFrame({"id": [f"img{i}" for i in range(len(y))], "label": np.array(names)[y]})
    df[[f"p{c}" for c in range(10)]] = p
    table = tmp_path / "data.parquet"
    df.to_parquet(table)
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    out = tmp_path / "rows.parquet"
    run(
        runner,
        "audit",
        "-l",
        table,
        "-p",
        table,
        "--class-names",
        tmp_path / "names.txt",
        "-t",
        OWN,
        "-o",
        out,
    )
    got = pd.read_parquet(out)
    assert list(got.columns[:6]) == [
        "index",
        "id",
        "given_label",
        "predicted_label",
        "given_name",
        "predicted_name",
    ]
    assert got["id"].tolist() == df["id"].tolist()
    assert got["given_name"].tolist() == df["label"].tolist()
    np.testing.assert_array_equal(got["given_label"], y)


def test_json_file_output_is_the_document(runner, tmp_path):
    lp, pp, _ = paths(DIGITS)
    out = tmp_path / "audit.json"
    run(runner, "audit", "-l", lp, "-p", pp, "-t", OWN, "-o", out)
    doc = json.loads(out.read_text())
    stdout = json.loads(run(runner, "audit", "-l", lp, "-p", pp, "-t", OWN, "-f", "json").stdout)
    assert doc == stdout


def test_csv_on_stdout_is_the_summary(runner):
    lp, pp, _ = paths(DIGITS)
    res = run(runner, "audit", "-l", lp, "-p", pp, "-t", OWN, "-f", "csv")
    assert res.stdout.splitlines() == [
        "issue_type,score,num_issues",
        f"label,{1 - 151 / 1808!r},190",
        f"class_imbalance,{171 / 1808!r},0",
    ]


def test_terminal_view_escapes_names_and_lists_the_worst(runner, tmp_path):
    lp, pp, _ = paths(DIGITS)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(["[bold]zero[/bold]", "[/]", *map(str, range(2, 10))]) + "\n")
    res = run(
        runner, "audit", "-l", lp, "-p", pp, "-t", OWN, "-f", "table", "--class-names", names, "--top", 3
    )
    out = res.stdout
    assert "label" in out and "class_imbalance" in out and "0.9165" in out  # 1 - 151/1808, 4 digits
    assert "Health score (mean of the scores): 0.5055" in out
    assert "label: 190 issues, worst first" in out and "... 187 more" in out
    worst = out.split("worst first", 1)[1]
    assert worst.index("1803") < worst.index("1805") < worst.index("1804")
    assert "[bold]zero[/bold]" in out or "[/]" in out  # names print as themselves


# ---------------------------------------------------------------------------- gates


def test_gates_fail_with_one_line_each(runner, tmp_path):
    lp, pp, _ = paths(DIGITS)
    out = tmp_path / "rows.csv"
    args = ["audit", "-l", lp, "-p", pp, "-t", OWN, "-o", out, "--max-issues", "label=189"]
    res = run(runner, *args, "--max-issues", "class_imbalance=0", "--fail-under", "health=0.6", code=1)
    assert res.stderr.splitlines()[-2:] == [
        "Gate failed: max_issues: 190 label issues exceeds the limit 189",
        "Gate failed: fail_under: health score 0.505531 is below the limit 0.6",
    ]
    assert out.exists()  # a failing gate still publishes the outputs
    ok = run(runner, "audit", "-l", lp, "-p", pp, "-t", OWN, "-f", "json", "--max-issues", "label=190",
             "--fail-under", "class_imbalance=0.09")  # fmt: skip
    gates = json.loads(ok.stdout)["gates"]
    assert [(g["gate"], g["passed"]) for g in gates] == [("max_issues", True), ("fail_under", True)]


def test_fail_under_a_type_score(runner):
    lp, pp, _ = paths(DIGITS)
    res = run(
        runner,
        "audit",
        "-l",
        lp,
        "-p",
        pp,
        "-t",
        OWN,
        "-f",
        "csv",
        "--fail-under",
        "class_imbalance=0.1",
        code=1,
    )
    assert "Gate failed: fail_under: class_imbalance score 0.0945796 is below the limit 0.1" in res.stderr


@pytest.mark.parametrize("fmt", ["junit", "github"])
def test_ci_formats_report_the_failed_gate(runner, fmt):
    lp, pp, _ = paths(DIGITS)
    res = run(runner, "audit", "-l", lp, "-p", pp, "-t", OWN, "-f", fmt, "--max-issues", "label=10", code=1)
    assert "max_issues: 190 label issues exceeds the limit 10" in res.stdout
    assert "health score 0.5055" in res.stdout


def test_a_gate_on_a_type_that_failed_fails():
    # N = 8 <= k: the neighbour graph cannot be built, so every kNN type fails and its gate with it
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 4)
    p = np.full((8, 2), 0.5)
    x = rng.random((8, 5))
    report = quiet_audit(y, p, x, max_issues={"outlier": 3}, fail_under={"near_duplicate": 0.5})
    assert set(report.results["failed"]) == {"outlier", "near_duplicate", "non_iid", "underperforming_group"}
    assert [g.passed for g in report.gates] == [False, False]
    assert "issue type outlier failed on these data" in report.gates[0].message()


# ---------------------------------------------------------------------------- bad input


def expect_error(runner, args: list, *fragments: str, out: Path) -> str:
    target = out / "rows.parquet"
    result = runner.invoke(
        __import__("labelaudit.cli", fromlist=["app"]).app, [*map(str, args), "-o", str(target)]
    )
    assert result.exit_code == 2, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert os.listdir(out) == []
    return lines[0]


@pytest.fixture
def bad(tmp_path):
    """(folder for inputs, empty output folder, labels path, pred_probs path) of a small valid set."""
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    y, p, x = arrays(BLOBS)
    np.save(tmp_path / "in" / "labels.npy", y)
    np.save(tmp_path / "in" / "pred_probs.npy", p)
    return (
        tmp_path / "in",
        tmp_path / "out",
        str(tmp_path / "in" / "labels.npy"),
        str(tmp_path / "in" / "pred_probs.npy"),
    )


def features_file(folder: Path, array: np.ndarray, name: str = "features.npy") -> str:
    np.save(folder / name, array)
    return str(folder / name)


def test_features_of_another_n_name_both_files(runner, bad):
    d, out, lp, pp = bad
    fp = features_file(d, np.random.default_rng(0).random((249, 2)))
    expect_error(runner, ["audit", "-l", lp, "-p", pp, "--features", fp], fp, "249 rows", lp, "250", out=out)


def test_nan_features_name_the_first_row(runner, bad):
    d, out, lp, pp = bad
    x = np.random.default_rng(0).random((250, 3))
    x[17, 1] = np.nan
    x[40, 0] = np.inf
    fp = features_file(d, x)
    expect_error(
        runner, ["audit", "-l", lp, "-p", pp, "--features", fp], fp, "finite", "row 17", "nan", out=out
    )


@pytest.mark.parametrize("shape", [(250,), (250, 2, 2)])
def test_features_of_the_wrong_ndim(runner, bad, shape):
    d, out, lp, pp = bad
    fp = features_file(d, np.zeros(shape))
    expect_error(runner, ["audit", "-l", lp, "-p", pp, "--features", fp], fp, "2-D", str(shape), out=out)


def test_all_identical_features(runner, bad):
    d, out, lp, pp = bad
    fp = features_file(d, np.tile([1.5, -2.0, 3.0], (250, 1)))
    expect_error(
        runner,
        ["audit", "-l", lp, "-p", pp, "--features", fp],
        fp,
        "all 250 feature rows are identical",
        out=out,
    )


def test_unknown_issue_type(runner, bad):
    _, out, lp, pp = bad
    msg = expect_error(runner, ["audit", "-l", lp, "-p", pp, "-t", "label,outliers"], "'outliers'", out=out)
    assert "null, label, outlier, near_duplicate, non_iid, class_imbalance, underperforming_group" in msg


def test_issue_type_that_needs_features(runner, bad):
    _, out, lp, pp = bad
    expect_error(
        runner,
        ["audit", "-l", lp, "-p", pp, "-t", "near_duplicate"],
        "'near_duplicate' needs features",
        out=out,
    )


@pytest.mark.parametrize(
    "gate, fragments",
    [
        (["--max-issues", "label"], ("TYPE=VALUE", "'label'")),
        (["--max-issues", "labels=3"], ("unknown issue type 'labels'",)),
        (["--max-issues", "label=-1"], ("must be >= 0", "'-1'")),
        (["--max-issues", "label=2.5"], ("an integer >= 0", "'2.5'")),
        (["--fail-under", "label=1.5"], ("in [0, 1]", "'1.5'")),
        (["--fail-under", "health=x"], ("a number in [0, 1]", "'x'")),
        (["--fail-under", "near_duplicate=0.5"], ("'near_duplicate'", "does not run")),
    ],
)
def test_bad_gates(runner, bad, gate, fragments):
    _, out, lp, pp = bad
    expect_error(runner, ["audit", "-l", lp, "-p", pp, "-t", OWN, *gate], *fragments, out=out)


def test_output_may_not_overwrite_the_features(runner, bad):
    d, out, lp, pp = bad
    x = np.random.default_rng(0).random((250, 2))
    fp = d / "features.parquet"
    pd.DataFrame(x, columns=["a", "b"]).to_parquet(fp)
    before = fp.read_bytes()
    result = runner.invoke(app, ["audit", "-l", lp, "-p", pp, "--features", str(fp), "-o", str(fp)])
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr
    assert fp.read_bytes() == before


# ---------------------------------------------------------------------------- invariance


def test_memmap_equals_array_and_any_n_jobs(runner):
    lp, pp, _ = paths(DIGITS)
    y, p, _ = arrays(DIGITS)
    one = json.loads(run(runner, "audit", "-l", lp, "-p", pp, "-t", OWN, "-f", "json").stdout)
    two = json.loads(
        run(runner, "audit", "-l", lp, "-p", pp, "-t", OWN, "-f", "json", "--n-jobs", "2").stdout
    )
    assert one == two
    mm = np.load(pp, mmap_mode="r")
    a, b = audit(y, mm, issue_types=OWN), audit(y, np.array(p), issue_types=OWN)
    assert a.to_dict() == b.to_dict()


def test_features_invariance_memmap_n_jobs_and_float_width(runner, tmp_path):
    lp, pp, fp = paths(DIGITS)
    y, p, x = arrays(DIGITS)
    base = quiet_audit(y, p, x.astype(np.float64))
    assert quiet_audit(y, p, np.load(fp, mmap_mode="r")).to_dict() == base.to_dict()
    assert quiet_audit(y, p, x.astype(np.float64), n_jobs=2).to_dict() == base.to_dict()
    f32 = quiet_audit(y, p, x.astype(np.float32))
    t64, t32 = base.file_table, f32.file_table
    assert t64 is not None and t32 is not None
    for name in t64:
        a, b = np.asarray(t64[name]), np.asarray(t32[name])
        if name.startswith("is_"):
            np.testing.assert_array_equal(a, b, err_msg=name)
        elif a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5, err_msg=name)  # float32 cosine: ~1e-6
    s64, s32 = base.tables["issue_summary"], f32.tables["issue_summary"]
    np.testing.assert_array_equal(s64["num_issues"], s32["num_issues"])
    np.testing.assert_allclose(s32["score"], s64["score"], rtol=1e-5, atol=1e-6)
    np.save(tmp_path / "f32.npy", x.astype(np.float32))
    cli = json.loads(
        run(
            runner, "audit", "-l", lp, "-p", pp, "-x", tmp_path / "f32.npy", "-f", "json", "--n-jobs", 2
        ).stdout
    )
    assert cli["issue_summary"] == json.loads(to_json({"s": f32.to_dict()["issue_summary"]}))["s"]


# ---------------------------------------------------------------------------- progress


def test_stage_progress_names_each_stage(monkeypatch):
    import io

    from rich.console import Console

    from labelaudit.cli import render, views

    monkeypatch.setattr(render, "progress_enabled", lambda quiet, elements=None: not quiet)
    out = io.StringIO()
    with views.StageProgress(False, console=Console(file=out, force_terminal=True, width=80)) as stage:
        y, p, _ = arrays(DIGITS)
        audit(y, p, issue_types=OWN, stage=stage)
    text = out.getvalue()
    assert "label" in text and "class_imbalance" in text
    with views.StageProgress(True) as off:  # --quiet: nothing drawn, the callable still works
        off("label")
    assert off._bar is None


def test_option_errors_come_before_any_file_is_read(runner, tmp_path):
    (tmp_path / "out").mkdir()
    missing = str(tmp_path / "missing.npy")
    args = ["audit", "-l", missing, "-p", missing, "--max-issues", "near_duplicate=3"]
    msg = expect_error(runner, args, "'near_duplicate'", "does not run", out=tmp_path / "out")
    assert "missing.npy" not in msg
