"""`labelaudit doctor`: each input problem gets its finding (check, severity, what to do); exit 1 when
something must be fixed, 0 otherwise (warnings allowed), 2 when the files cannot be read. It never writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from labelaudit import __version__
from labelaudit.cli import app

TESTS = Path(__file__).resolve().parent.parent
CIFAR = TESTS / "golden" / "inputs" / "cifar10"
L, P = str(CIFAR / "labels.npy"), str(CIFAR / "pred_probs.npy")

CHECKS = [
    "shape",
    "label range",
    "finite",
    "row sums",
    "classes in labels",
    "classes in predictions",
    "out-of-sample",
]


def doctor(runner, labels, probs, *extra, code: int = 0) -> dict:
    res = runner.invoke(
        app, ["doctor", "-l", str(labels), "-p", str(probs), "--format", "json", *map(str, extra)]
    )
    assert res.exit_code == code, f"exit {res.exit_code}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    assert "Traceback" not in res.stderr
    doc = json.loads(res.stdout)
    doc["_stderr"] = res.stderr
    return doc


def finding(doc: dict, check: str) -> dict:
    found = [f for f in doc["findings"] if f["check"] == check]
    assert len(found) == 1, [f["check"] for f in doc["findings"]]
    return found[0]


def severities(doc: dict) -> dict[str, str]:
    return {f["check"]: f["severity"] for f in doc["findings"]}


@pytest.fixture
def data(example_a):
    """Example A (N=12, K=3): out-of-sample looking, every class given and predicted; accuracy 7/12."""
    return example_a[0].copy(), example_a[1].copy()


def test_clean_input_every_finding_ok(runner, data, save_npy):
    y, p = data
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p.npy", p))
    assert [f["check"] for f in doc["findings"]] == CHECKS
    assert set(severities(doc).values()) == {"ok"}
    assert doc["ok"] is True and doc["verdict"] == "ready to audit"
    assert "N=12 examples, K=3 classes" in finding(doc, "shape")["message"]
    assert finding(doc, "out-of-sample")["message"].startswith("accuracy 58.33%")  # 7 of 12 argmax == label


def test_clean_real_data(runner):
    doc = doctor(runner, L, P)
    assert set(severities(doc).values()) == {"ok"} and doc["ok"] is True


def test_json_document(runner, data, save_npy):
    y, p = data
    lp, pp = save_npy("y.npy", y), save_npy("p.npy", p)
    doc = doctor(runner, lp, pp)
    assert doc["version"] == __version__ and doc["command"] == "doctor"
    assert {"version", "verdict", "ok", "findings", "inputs"} <= set(doc)
    assert [i["path"] for i in doc["inputs"]] == [lp, pp]
    for f in doc["findings"]:
        assert set(f) == {"check", "severity", "message", "fix"}
        assert f["severity"] in ("ok", "warning", "error")


def test_logits_range_error(runner, data, save_npy):
    y, p = data
    logits = np.log(p + 0.01) * 3 + 1  # from about -12.8 to 1.8
    doc = doctor(runner, save_npy("y.npy", y), save_npy("logits.npy", logits), code=1)
    f = finding(doc, "range")
    assert f["severity"] == "error" and "--from-logits" in f["fix"]
    assert f"{logits.min():.4g}" in f["message"] and f"{logits.max():.4g}" in f["message"]
    assert doc["ok"] is False and doc["verdict"].startswith("1 problem(s) to fix")
    assert "Gate failed: doctor:" in doc["_stderr"] and "range" in doc["_stderr"]


def test_unnormalised_rows(runner, data, save_npy):
    y, p = data
    p[4] = [0.35, 0.50, 0.35]  # sums to 1.2; values stay within [0, 1]
    p[7] = [0.05, 0.70, 0.20]  # 0.95
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p.npy", p), code=1)
    f = finding(doc, "row sums")
    assert f["severity"] == "error"
    assert "between 0.95 and 1.2" in f["message"]
    assert severities(doc)["finite"] == "ok"


def test_small_drift_is_a_warning(runner, data, save_npy):
    y, p = data
    p[2] = [0.40, 0.25, 0.3505]  # off by 5e-4: repaired by find-issues, so only a warning
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p.npy", p))
    assert finding(doc, "row sums")["severity"] == "warning" and doc["ok"] is True


def test_nan_rows(runner, data, save_npy):
    y, p = data
    p[5, 1] = np.nan
    p[9, 0] = np.inf
    p[10, 2] = np.nan
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p.npy", p), code=1)
    f = finding(doc, "finite")
    assert f["severity"] == "error"
    assert "3 rows contain NaN or inf (first at row 5)" in f["message"]
    assert severities(doc)["row sums"] == "ok"  # the finite rows are judged on their own


def test_float16_precision_warning(runner, data, save_npy):
    y, _ = data
    # Exactly representable float16 rows summing to 1; accuracy 9/12, every class given and predicted.
    rows = {0: [0.75, 0.125, 0.125], 1: [0.25, 0.5, 0.25], 2: [0.125, 0.125, 0.75]}
    p16 = np.array([rows[c] for c in y], dtype=np.float16)
    p16[0], p16[1], p16[2] = rows[1], rows[2], rows[0]
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p16.npy", p16))
    f = finding(doc, "precision")
    assert f["severity"] == "warning" and "float16" in f["message"] and "float32" in f["fix"]
    assert doc["ok"] is True and doc["verdict"] == "ready to audit (1 warning(s))"
    assert "float16" in finding(doc, "shape")["message"]


def test_absent_class_warning(runner, data, save_npy):
    y, p = data
    # Four classes, class 3 never given (and never predicted: a column of small values).
    p4 = np.column_stack([p * 0.98, np.full(len(y), 0.02)])
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p4.npy", p4))
    f = finding(doc, "classes in labels")
    assert f["severity"] == "warning" and "1 classes have no examples: 3" in f["message"]
    assert finding(doc, "classes in predictions")["severity"] == "warning"
    assert doc["ok"] is True


def test_absent_class_with_names(runner, data, save_npy, tmp_path):
    y, p = data
    names = tmp_path / "names.txt"
    names.write_text("cat\ndog\nbird\nfish\n")
    p4 = np.column_stack([p * 0.98, np.full(len(y), 0.02)])
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p4.npy", p4), "--class-names", names)
    assert finding(doc, "classes in labels")["message"].endswith(": fish")


def test_labels_beyond_k(runner, data, save_npy):
    y, p = data
    y[6], y[9] = 3, 5
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p.npy", p), code=1)
    f = finding(doc, "label range")
    assert f["severity"] == "error"
    assert "2 labels outside 0..2 (first at row 6: 3)" in f["message"] and "labels reach 5" in f["message"]


def test_in_sample_predictions(runner, save_npy):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=400)
    p = np.full((400, 4), 0.001)
    p[np.arange(400), y] = 0.997  # every prediction right and near one-hot
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p.npy", p), code=1)
    f = finding(doc, "out-of-sample")
    assert (
        f["severity"] == "error" and "accuracy 100.0000%" in f["message"] and "cross-validation" in f["fix"]
    )


IN_SAMPLE = (
    "these look like in-sample predictions (the model was trained on these examples), which hide label errors"
)


def test_in_sample_predictions_below_near_certainty(runner, save_npy):
    # Every label agreed with at mean confidence 0.991 (the near-certainty rule wants 0.995): a calibrated
    # held-out model this confident would disagree with about 18 of 2000 labels, even if all were right.
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, size=2000)
    p = np.full((2000, 4), 0.003)
    p[np.arange(2000), y] = 0.991
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p.npy", p), code=1)
    f = finding(doc, "out-of-sample")
    assert f["severity"] == "error" and doc["ok"] is False
    assert f["message"] == (
        "accuracy 100.0000% with mean top probability 0.9910: 0 of 2000 labels disagree with the prediction, "
        "where a calibrated model this confident would miss about 18 even were every label right (chance "
        f"2e-08); {IN_SAMPLE}"
    )
    assert "cross-validation" in f["fix"]
    assert (
        doc["_stderr"] == "Gate failed: doctor: 1 problem(s) to fix before auditing labels: out-of-sample\n"
    )


def test_out_of_sample_real_predictions_are_ok(runner):
    # Cross-validated CIFAR-10 (a little overconfident) and 20 Newsgroups (underconfident: 577 disagreements
    # where its confidence implies 2092): neither agrees near-perfectly, so neither looks in-sample.
    sample = Path(__file__).resolve().parents[2] / "sample_data" / "cifar10"
    doc = doctor(runner, sample / "labels.npy", sample / "pred_probs.npy")
    assert finding(doc, "out-of-sample") == {
        "check": "out-of-sample",
        "severity": "ok",
        "message": "accuracy 92.94%, mean top probability 0.9615: 706 labels disagree with the prediction "
        "(its confidence implies about 385), not the near-total agreement of in-sample predictions",
        "fix": "",
    }
    news = TESTS / "golden" / "inputs" / "20news"
    doc = doctor(runner, news / "labels.npy", news / "pred_probs.npy")
    assert finding(doc, "out-of-sample")["severity"] == "ok" and doc["ok"] is True


def test_confident_but_not_perfect_is_fine(runner, save_npy):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=400)
    p = np.full((400, 4), 0.001)
    p[np.arange(400), y] = 0.997
    p[:5] = p[:5][:, ::-1]  # 5 wrong of 400: accuracy 98.75%, below the in-sample threshold
    y[:5] = np.where(y[:5] == 0, 1, y[:5])  # keep those 5 wrong after the flip (argmax 3 - y != y)
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p.npy", p))
    assert finding(doc, "out-of-sample")["severity"] == "ok"


def test_near_chance_accuracy_warns(runner, save_npy):
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    p = np.tile([[0.2, 0.3, 0.5], [0.5, 0.2, 0.3], [0.3, 0.5, 0.2]], (3, 1))  # argmax never equals the label
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p.npy", p))
    assert finding(doc, "out-of-sample")["severity"] == "warning"


def test_several_errors_counted(runner, data, save_npy):
    y, p = data
    y[0] = 7
    p[3, 0] = np.nan
    doc = doctor(runner, save_npy("y.npy", y), save_npy("p.npy", p), code=1)
    assert doc["verdict"].startswith("2 problem(s) to fix")
    assert {c for c, s in severities(doc).items() if s == "error"} == {"label range", "finite"}


def test_doctor_never_writes_files(runner, data, save_npy, tmp_path):
    y, p = data
    p[0] = [2.0, 3.0, 4.0]
    lp, pp = save_npy("y.npy", y), save_npy("p.npy", p)
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(os.listdir(tmp_path))
    cwd = os.getcwd()
    os.chdir(work)
    try:
        for fmt in ("json", "csv", "table"):
            res = runner.invoke(app, ["doctor", "-l", lp, "-p", pp, "--format", fmt])
            assert res.exit_code == 1
        res = runner.invoke(app, ["doctor", "-l", lp, "-p", pp, "-o", "report.json"])
        assert res.exit_code == 2 and "-o" in res.stderr  # no such option
    finally:
        os.chdir(cwd)
    assert os.listdir(work) == [] and sorted(os.listdir(tmp_path)) == before


def test_table_and_csv_formats(runner, data, save_npy):
    y, p = data
    y[1] = 9
    lp, pp = save_npy("y.npy", y), save_npy("p.npy", p)
    res = runner.invoke(app, ["doctor", "-l", lp, "-p", pp, "--format", "table"])
    assert res.exit_code == 1
    assert (
        "FIX" in res.stdout and "label range" in res.stdout and "Verdict: 1 problem(s) to fix" in res.stdout
    )
    res = runner.invoke(app, ["doctor", "-l", lp, "-p", pp, "--format", "csv"])
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert lines[0] == "check,severity,message,fix" and len(lines) == 1 + len(CHECKS)
    assert any(ln.startswith("label range,error,") for ln in lines)


def test_missing_file_exit_2(runner, data, save_npy, tmp_path):
    y, _ = data
    missing = tmp_path / "nope.npy"
    res = runner.invoke(app, ["doctor", "-l", save_npy("y.npy", y), "-p", str(missing)])
    assert res.exit_code == 2 and res.stdout == ""
    assert f"{missing}: pred_probs file not found" in res.stderr and "Traceback" not in res.stderr


def test_doctor_junit_and_github(runner, tmp_path):
    import xml.etree.ElementTree as ET

    rng = np.random.default_rng(0)
    np.save(tmp_path / "l.npy", rng.integers(0, 4, 300))
    np.save(tmp_path / "p.npy", rng.normal(size=(300, 4)) * 3)  # logits passed as probabilities
    base = ["doctor", "-l", str(tmp_path / "l.npy"), "-p", str(tmp_path / "p.npy")]
    r = runner.invoke(app, [*base, "--format", "junit"])
    assert r.exit_code == 1
    suite = ET.fromstring(r.stdout).find("testsuite")
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == ["range"] and suite.get("failures") == "1"
    r = runner.invoke(app, [*base, "--format", "github"])
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert any(
        line.startswith("::error file=") and "doctor%3A range" in line and "--from-logits" in line
        for line in lines
    )
    assert lines[-1].startswith("::notice title=labelaudit doctor::")


def test_id_column_missing_is_an_error(runner, tmp_path):
    import pandas as pd

    pd.DataFrame({"label": [0, 1, 0, 1], "a": [0.9, 0.2, 0.8, 0.3], "b": [0.1, 0.8, 0.2, 0.7]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    out = tmp_path / "o.csv"
    r = runner.invoke(
        app,
        [
            "find-issues",
            "-l",
            str(tmp_path / "t.csv"),
            "-p",
            str(tmp_path / "t.csv"),
            "--id-column",
            "nope",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 2 and "--id-column 'nope' not found" in r.stderr and not out.exists()
