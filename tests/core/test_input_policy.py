"""One input policy: the library, the in-memory reader, the streamed reader and the multi-label and token
readers accept and reject exactly the same pred_probs, with the same words (a reader puts the file name
in front of the library's message)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

import labelaudit as la
from labelaudit.cli import app
from labelaudit.core.checks import DRIFT_TOL, check_labels, check_pred_probs
from labelaudit.errors import InputError, LabelauditWarning

BASE = np.array(
    [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.6, 0.3, 0.1], [0.3, 0.4, 0.3], [0.1, 0.1, 0.8]]
)
LABELS = np.array([0, 1, 2, 0, 1, 2])


def _with(row: int, values: list[float], dtype=np.float64) -> np.ndarray:
    p = BASE.copy()
    p[row] = values
    return p.astype(dtype)


# name -> pred_probs; every case of the issue's drift battery
BATTERY = {
    "above_one_1.00001": _with(2, [1.00001, 0.0, 0.0]),
    "negative_-1e-4": _with(3, [-1e-4, 0.5, 0.5001]),
    "row_sum_0.5": _with(1, [0.2, 0.2, 0.1]),
    "nan": _with(4, [np.nan, 0.5, 0.5]),
    "inf": _with(0, [np.inf, 0.0, 0.0]),
    "logits": _with(5, [2.0, -1.0, 0.5]),
    "float16_drift": (BASE + np.array([0.0, 0.0, 4e-4])).astype(np.float16),
    "clean": BASE,
}


def library_verdict(p: np.ndarray) -> tuple[str, str, list[str]]:
    """("ok" | "error", error message, warning messages) of a library call."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            la.find_label_issues(LABELS, p)
        except InputError as exc:
            return "error", str(exc), []
    return "ok", "", sorted({str(w.message) for w in caught if issubclass(w.category, LabelauditWarning)})


def cli_verdict(tmp_path, p: np.ndarray, command: str) -> tuple[str, str, list[str]]:
    lp, pp = tmp_path / "labels.npy", tmp_path / "pred_probs.npy"
    np.save(lp, LABELS)
    np.save(pp, p)
    res = CliRunner().invoke(app, [command, "-l", str(lp), "-p", str(pp), "--format", "json"])
    stderr = res.stderr.replace(f"{pp}: ", "")
    if res.exit_code == 2:
        (line,) = stderr.splitlines()
        assert line.startswith("Error: "), stderr
        return "error", line.removeprefix("Error: "), []
    assert res.exit_code == 0, stderr
    found = sorted({line.removeprefix("Warning: ") for line in stderr.splitlines() if "pred_probs" in line})
    return "ok", "", found


@pytest.mark.parametrize("name", list(BATTERY))
@pytest.mark.parametrize("command", ["find-issues", "batched", "rank", "health"])
def test_library_and_cli_agree(tmp_path, name, command):
    p = BATTERY[name]
    assert cli_verdict(tmp_path, p, command) == library_verdict(p)


@pytest.mark.parametrize(
    ("name", "verdict", "fragment"),
    [
        ("above_one_1.00001", "ok", "clipped into [0, 1]"),
        ("negative_-1e-4", "ok", "clipped into [0, 1]"),
        ("row_sum_0.5", "error", "each pred_probs row must sum to 1 (±0.001); row 1 sums to 0.5"),
        ("nan", "error", "pred_probs must be finite; row 4 contains NaN or inf"),
        ("inf", "error", "pred_probs must be finite; row 0 contains NaN or inf"),
        ("logits", "error", "pred_probs must be in [0, 1]; row 5 has 2.0; if these are logits"),
        ("float16_drift", "ok", "row sums drift from 1"),
        ("clean", "ok", ""),
    ],
)
def test_battery_verdicts(name, verdict, fragment):
    got, message, warned = library_verdict(BATTERY[name])
    assert got == verdict
    assert fragment in (message if verdict == "error" else " ".join(warned) if fragment else "")
    if name == "clean":
        assert warned == []


def test_the_logits_hint_only_when_values_look_like_logits():
    _, message, _ = library_verdict(BATTERY["row_sum_0.5"])
    assert "--from-logits" not in message
    _, message, _ = library_verdict(BATTERY["logits"])
    assert "--from-logits" in message


def test_strict_rejects_what_the_default_repairs():
    p = BATTERY["above_one_1.00001"]
    with pytest.raises(InputError, match=r"pred_probs must be in \[0, 1\] \(strict\); row 2 has 1.00001"):
        check_pred_probs(p, strict=True)
    with pytest.warns(LabelauditWarning, match="clipped"):
        fixed = check_pred_probs(p)
    assert fixed.max() == 1.0 and p.max() > 1  # a repaired copy; the input is untouched


def test_strict_rejects_the_row_sum_drift_the_default_warns_about():
    p = np.full((4, 4), 0.25)
    p[1] = [0.25, 0.25, 0.25, 0.2505]  # sums to 1.0005: inside DRIFT_TOL, past ROW_SUM_WARN
    with pytest.raises(InputError, match=r"must sum to 1 \(±0.0001, strict\); row 1 sums to 1.0005"):
        check_pred_probs(p, strict=True)
    with pytest.warns(LabelauditWarning, match="row sums drift from 1 by up to 0.0005; accepted as is"):
        check_pred_probs(p)
    p[1] = [0.25, 0.25, 0.25, 0.25 + 5e-8]  # float round-off: passes either way
    check_pred_probs(p, strict=True)


def test_clipping_keeps_the_answer_of_the_clipped_input():
    p = BATTERY["negative_-1e-4"]
    with pytest.warns(LabelauditWarning):
        got = la.get_label_quality_scores(LABELS, p)
    np.testing.assert_array_equal(got, la.get_label_quality_scores(LABELS, np.clip(p, 0, 1)))


def test_multilabel_rows_need_not_sum_to_one_but_values_follow_the_policy():
    p = np.array([[0.9, 0.8], [0.1, 0.95], [1.0004, 0.2]])
    with pytest.warns(LabelauditWarning, match="clipped"):
        out = check_pred_probs(p, row_sums=False)
    assert out.max() == 1.0
    with pytest.raises(InputError, match=r"row 0 has 1.5"):
        check_pred_probs(np.array([[1.5, 0.0], [0.2, 0.3]]), row_sums=False)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0.0, 1.5, 2.0]), "labels must be integers; row 1 holds 1.5 (1 such rows)"),
        (np.array([0.0, 1e10, 2.0]), "labels must be in 0..2: 1 outside (first at row 1: 10000000000)"),
        (np.array([0, 5, -1]), "labels must be in 0..2: 2 outside (first at row 1: 5)"),
    ],
)
def test_label_messages_name_row_and_value(labels, message):
    with pytest.raises(InputError) as exc:
        check_labels(labels, n_classes=3)
    assert str(exc.value) == message


def test_tolerance_is_the_documented_one():
    assert DRIFT_TOL == 1e-3
