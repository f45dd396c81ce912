"""`health` end to end: every number it prints or writes equals the library functions
(themselves checked against cleanlab 2.9.0 in test_golden_parity), plus outputs, terminal rendering,
the optional plot, and the --fail-under gate."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import GOLDEN, NAMES, NAMES_FILE, L, P, run

import labelaudit as la

CLASS_COLUMNS = ["class_index", "n_examples", "label_issues", "inverse_label_issues", "label_noise",
                 "inverse_label_noise", "label_quality_score"]  # fmt: skip


def paths(name: str) -> tuple[str, str]:
    return str(GOLDEN / name / "labels.npy"), str(GOLDEN / name / "pred_probs.npy")


@pytest.fixture(scope="module")
def cifar_score(cifar):
    return la.overall_label_health_score(*cifar)


def check_classes(records: list[dict], y, p, *, names=None, num_examples=None) -> None:
    """The class table of a report (list of row dicts, in order) against the library table."""
    lib = la.rank_classes_by_label_quality(y, p, num_examples=num_examples)
    want_keys = CLASS_COLUMNS[:1] + (["class_name"] if names is not None else []) + CLASS_COLUMNS[1:]
    assert [list(r) for r in records] == [want_keys] * len(records)
    df = pd.DataFrame(records)
    for col in lib:
        np.testing.assert_array_equal(df[col].to_numpy(), lib[col], err_msg=col)  # exact (floats too)
    counts = np.bincount(y, minlength=p.shape[1])
    np.testing.assert_array_equal(df["n_examples"].to_numpy(), counts[lib["class_index"]])
    if names is not None:
        assert df["class_name"].tolist() == [names[i] for i in lib["class_index"]]


# ---------------------------------------------------------------------------- health --format json


def test_health_json_equals_library(runner, cifar):
    y, p = cifar
    res = run(runner, "health", "-l", L, "-p", P, "--format", "json", "--class-names", NAMES_FILE)
    assert res.stderr == ""
    doc = json.loads(res.stdout)
    for key in (
        "version",
        "command",
        "params",
        "inputs",
        "n_examples",
        "n_classes",
        "class_names",
        "health_score",
        "classes",
        "confident_joint",
        "joint",
        "noise_matrix",
        "inverse_noise_matrix",
        "prior",
    ):
        assert key in doc, key
    assert doc["command"] == "health" and doc["n_examples"] == 10000 and doc["n_classes"] == 10
    assert doc["class_names"] == NAMES
    assert doc["health_score"] == la.overall_label_health_score(y, p)
    n_off = la.num_label_issues(y, p)
    assert doc["n_issues"] == n_off and doc["health_score"] == 1 - n_off / 10000
    # The score's count (off-diagonal of the confident joint) and the calibrated estimate: both are there
    # (on this set the calibrated estimate is also what find-issues flags).
    assert (
        doc["n_issues_calibrated"]
        == 284
        == len(la.find_label_issues(y, p, return_indices_ranked_by="self_confidence"))
    )
    assert sum(r["label_issues"] for r in doc["classes"]) == 284 != n_off == 244
    check_classes(doc["classes"], y, p, names=NAMES)
    py, nm, inv, cj = la.estimate_py_and_noise_matrices_from_probabilities(
        y, p, converge_latent_estimates=True
    )
    np.testing.assert_array_equal(np.array(doc["confident_joint"]), cj)
    np.testing.assert_array_equal(np.array(doc["confident_joint"]), la.compute_confident_joint(y, p))
    assert np.array(doc["confident_joint"]).sum() == 10000  # calibrated: sums to N
    np.testing.assert_array_equal(np.array(doc["joint"]), la.estimate_joint(y, p))
    np.testing.assert_array_equal(np.array(doc["noise_matrix"]), nm)
    np.testing.assert_array_equal(np.array(doc["inverse_noise_matrix"]), inv)
    np.testing.assert_array_equal(np.array(doc["prior"]), py)
    # P(given | true): columns sum to 1; rows of the confident joint sum to the class counts.
    np.testing.assert_allclose(np.array(doc["noise_matrix"]).sum(axis=0), 1, rtol=1e-12)
    np.testing.assert_array_equal(np.array(doc["confident_joint"]).sum(axis=1), np.bincount(y))


def test_health_json_without_class_names_has_no_name_column(runner, cifar):
    y, p = cifar
    doc = json.loads(run(runner, "health", "-l", L, "-p", P, "--format", "json").stdout)
    assert doc["class_names"] is None
    check_classes(doc["classes"], y, p)


def test_health_json_absent_classes(runner):
    lp, pp = paths("gen_absent")
    y, p = np.load(lp), np.load(pp)
    absent = np.flatnonzero(np.bincount(y, minlength=p.shape[1]) == 0)
    assert absent.tolist() == [2, 5]
    res = run(runner, "health", "-l", lp, "-p", pp, "--format", "json")
    assert "2 class(es) have no examples" in res.stderr and "[2, 5]" in res.stderr  # a warning, not an error
    doc = json.loads(res.stdout)
    check_classes(doc["classes"], y, p)
    by_class = {r["class_index"]: r for r in doc["classes"]}
    for k in absent:
        assert by_class[k]["n_examples"] == 0 and by_class[k]["label_issues"] == 0
    cj = np.array(doc["confident_joint"])
    assert (cj[absent] == 0).all()  # calibration empties the rows of absent classes
    py, nm, inv, _ = la.estimate_py_and_noise_matrices_from_probabilities(y, p)
    np.testing.assert_array_equal(np.array(doc["noise_matrix"]), nm)
    np.testing.assert_array_equal(np.array(doc["prior"]), py)
    assert doc["health_score"] == la.overall_label_health_score(y, p)
    assert "min_examples_per_class" not in res.stderr  # find-issues' warning: health only counts its flags
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert doc["n_issues_calibrated"] == int(la.rank_classes_by_label_quality(y, p)["label_issues"].sum())


def test_health_num_examples(runner, cifar):
    y, p = cifar
    doc = json.loads(
        run(runner, "health", "-l", L, "-p", P, "--format", "json", "--num-examples", 25000).stdout
    )
    assert doc["params"]["num_examples"] == 25000
    assert doc["health_score"] == la.overall_label_health_score(y, p, num_examples=25000)
    assert doc["health_score"] == pytest.approx(1 - la.num_label_issues(y, p) / 25000, abs=1e-15)
    check_classes(doc["classes"], y, p, num_examples=25000)
    # 2.5 times the examples: cat's 71 label issues (cifar10) become rint(0.0071 * 25000) = 178 (177.5, to even).
    plain = json.loads(run(runner, "health", "-l", L, "-p", P, "--format", "json").stdout)
    assert sum(r["label_issues"] for r in doc["classes"]) > 2 * sum(
        r["label_issues"] for r in plain["classes"]
    )


# ---------------------------------------------------------------------------- health -o


def test_health_output_json_is_the_report(runner, cifar, tmp_path):
    out = tmp_path / "report.json"
    res = run(runner, "health", "-l", L, "-p", P, "-o", out, "--class-names", NAMES_FILE)
    assert res.stdout == ""
    assert (
        res.stderr.strip()
        == f"label health score {la.overall_label_health_score(*cifar):.4f} (244 estimated issues in 10000 "
        f"examples, K=10; calibrated estimate 284); wrote {out}"
    )
    written = json.loads(out.read_text())
    printed = json.loads(
        run(runner, "health", "-l", L, "-p", P, "--format", "json", "--class-names", NAMES_FILE).stdout
    )
    assert written == printed


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_health_output_class_table(runner, cifar, tmp_path, suffix):
    y, p = cifar
    out = tmp_path / f"classes{suffix}"
    run(runner, "health", "-l", L, "-p", P, "-o", out, "--class-names", NAMES_FILE)
    df = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert len(df) == 10
    check_classes(df.to_dict(orient="records"), y, p, names=NAMES)


def test_health_output_refuses_npy(runner, tmp_path):
    res = run(runner, "health", "-l", L, "-p", P, "-o", tmp_path / "h.npy", code=2)
    assert "unsupported output format '.npy'" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_health_format_csv_is_the_class_table(runner, cifar):
    y, p = cifar
    df = pd.read_csv(io.StringIO(run(runner, "health", "-l", L, "-p", P, "--format", "csv").stdout))
    check_classes(df.to_dict(orient="records"), y, p)


# ---------------------------------------------------------------------------- terminal rendering


def test_health_table_k10_heatmap(runner, cifar, cifar_score):
    y, p = cifar
    out = run(runner, "health", "-l", L, "-p", P, "--format", "table", "--class-names", NAMES_FILE).stdout
    n_off = la.num_label_issues(y, p)
    calibrated = int(la.rank_classes_by_label_quality(y, p)["label_issues"].sum())
    assert (
        f"Label health score: {cifar_score:.4f} ({n_off} estimated issues in 10000 examples, K=10; "
        f"calibrated estimate {calibrated})" in out
    )
    total = int(la.rank_classes_by_label_quality(y, p)["label_issues"].sum())
    assert f"Classes, most problematic first (label issues: {total} in all, the calibrated estimate)" in out
    assert (
        "Noise matrix P(given | true), in percent" in out and "rows: given label, columns: true label" in out
    )
    lines = out.splitlines()
    # The class table: most problematic class first, with its row of numbers.
    lib = la.rank_classes_by_label_quality(y, p)
    worst = int(lib["class_index"][0])
    class_rows = [ln for ln in lines if ln.startswith("│ ")]
    cells = [c.strip() for c in class_rows[0].strip("│").split("│")]
    assert cells == [NAMES[worst], "1000", str(lib["label_issues"][0]), str(lib["inverse_label_issues"][0]),
                     f"{lib['label_noise'][0]:.4f}", f"{lib['inverse_label_noise'][0]:.4f}",
                     f"{lib['label_quality_score'][0]:.4f}"]  # fmt: skip
    # The heatmap row of that class (rows: given label): diagonal and off-diagonal cells in percent.
    nm = la.estimate_py_and_noise_matrices_from_probabilities(y, p)[1]
    heat = [ln for ln in lines if ln.startswith("│" + NAMES[worst])]
    assert len(heat) == 1
    cells = [c.strip() for c in heat[0].strip("│").split("│")][1:]
    assert cells == [f"{100 * v:.1f}" if v > 0 else "·" for v in nm[worst]]


def test_health_table_k50_summary(runner):
    lp, pp = paths("gen_k50")
    y, p = np.load(lp), np.load(pp)
    out = run(runner, "health", "-l", lp, "-p", pp, "--format", "table").stdout
    # (Rich wraps a title to the table's width.)
    assert "Noise matrix P(given | true): largest off-diagonal cells (K=50)" in " ".join(out.split())
    assert "in percent" not in out  # no 50 x 50 heatmap
    nm = la.estimate_py_and_noise_matrices_from_probabilities(y, p)[1]
    off = nm.copy()
    np.fill_diagonal(off, -np.inf)
    order = np.argsort(-off, axis=None, kind="stable")[:15]
    summary = out[out.index("(K=50)") :]
    got = [[c.strip() for c in ln.strip("│").split("│")] for ln in summary.splitlines() if ln.startswith("│")]
    want = [[str(a), str(b), f"{nm[a, b]:.4g}"] for a, b in (divmod(int(c), 50) for c in order)]
    assert got == want


# ---------------------------------------------------------------------------- --plot


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(
    _has_matplotlib(), reason="matplotlib is installed: the missing-extra message cannot show"
)
def test_plot_without_matplotlib(runner, tmp_path):
    res = run(
        runner, "health", "-l", L, "-p", P, "--plot", tmp_path / "x.png", "-o", tmp_path / "r.json", code=2
    )
    assert "pip install 'labelaudit[plot]'" in res.stderr
    assert res.stdout == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["x.txt", "x.pdf", "x"])
def test_plot_needs_png_or_svg(runner, tmp_path, name):
    res = run(
        runner, "health", "-l", L, "-p", P, "--plot", tmp_path / name, "-o", tmp_path / "r.json", code=2
    )
    assert ".png or .svg" in res.stderr and name in res.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not _has_matplotlib(), reason="needs matplotlib (labelaudit[plot])")
def test_plot_with_matplotlib(runner, tmp_path):
    run(runner, "health", "-l", L, "-p", P, "--plot", tmp_path / "x.png", "-o", tmp_path / "r.json")
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- health --fail-under


def test_fail_under_passes_at_exactly_the_score(runner, cifar_score):
    res = run(runner, "health", "-l", L, "-p", P, "--fail-under", repr(cifar_score), "--format", "json")
    doc = json.loads(res.stdout)
    assert doc["gates"] == [
        {
            "gate": "fail_under",
            "what": "health score",
            "limit": cifar_score,
            "value": cifar_score,
            "passed": True,
        }
    ]
    assert "Gate failed" not in res.stderr


def test_fail_under_fails_just_above_the_score(runner, cifar_score):
    above = float(np.nextafter(cifar_score, 1.0))
    res = run(runner, "health", "-l", L, "-p", P, "--fail-under", repr(above), "--format", "csv", code=1)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Gate failed: fail_under")
    # The two numbers are printed so that they differ (a plain 4-digit rounding would show them equal).
    assert repr(above) in lines[0]
    assert len(pd.read_csv(io.StringIO(res.stdout))) == 10  # the listing is still printed
    res = run(runner, "health", "-l", L, "-p", P, "--fail-under", "0.99", "--format", "json", code=1)
    assert json.loads(res.stdout)["gates"][0]["passed"] is False
    assert (
        res.stderr.strip()
        == f"Gate failed: fail_under: health score {cifar_score:.6g} is below the limit 0.99"
    )


def test_fail_under_failing_still_writes_the_report(runner, tmp_path):
    out = tmp_path / "report.json"
    run(runner, "health", "-l", L, "-p", P, "--fail-under", "1", "-o", out, code=1)
    assert json.loads(out.read_text())["gates"][0]["passed"] is False
