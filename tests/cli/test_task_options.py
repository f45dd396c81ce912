"""Every option of find-issues, rank and health, with every --task: honoured, or refused with exit 2 naming
the option and the task. Never accepted and ignored.

An option is honoured when giving it changes the report (effect), leaves the results identical where the
option promises that (same: --n-jobs, --batch-size, --low-memory, --quiet), is needed to read the input at
all (needed: the run without it fails), makes its gate fail (gate), or writes its file (file)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from labelaudit.cli import app
from labelaudit.cli.options import NOT_FOR_TASK

COMMANDS = ("find-issues", "rank", "health")
TASKS = ("multiclass", "multilabel", "token")
META = {"labels", "pred_probs", "task", "fmt"}  # given in every run


def options_of(command: str) -> list[str]:
    return [p.name for p in get_command(app).commands[command].params if p.name not in META]


def is_flag(command: str, name: str) -> bool:
    return next(p for p in get_command(app).commands[command].params if p.name == name).is_flag


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("task_options")
    rng = np.random.default_rng(3)
    n, k = 300, 4
    true = rng.integers(0, k, n)
    y = np.where(rng.random(n) < 0.15, rng.integers(0, k, n), true)
    logits = rng.normal(size=(n, k)) + 2.5 * np.eye(k)[true]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.save(d / "y.npy", y)
    np.save(d / "p.npy", p)
    np.save(d / "p2.npy", (p + np.roll(p, 1, axis=1)) / 2)
    np.save(d / "logits.npy", logits)
    np.save(d / "flagged.npy", np.array([5, 1, 3]))
    (d / "names.txt").write_text("cat\ndog\nfox\nowl\n")
    (d / "ml_names.txt").write_text("red\ngreen\nblue\n")
    # a numeric column that is not a class (neither an index nor constant, which are skipped): it breaks
    # the input unless --prob-columns leaves it out
    table = pd.DataFrame({"key": [f"e{i}" for i in range(n)], "y": y, "fold": np.arange(n) % 5})
    for j in range(k):
        table[f"prob_{j}"] = p[:, j]
    table.to_csv(d / "t.csv", index=False)
    # multi-label: (N, K) 0/1 and independent probabilities; a table with class lists as well
    true_ml = (rng.random((n, 3)) < 0.4).astype(int)
    pml = np.clip(true_ml * 0.7 + rng.random((n, 3)) * 0.3, 0, 1)
    yml = np.where(rng.random((n, 3)) < 0.1, 1 - true_ml, true_ml)  # 10% of the class labels flipped
    yml[0] = [1, 1, 1]
    np.save(d / "yml.npy", yml)
    np.save(d / "pml.npy", pml)
    ml = pd.DataFrame({"y": [",".join(map(str, np.flatnonzero(r))) for r in yml], "fold": np.arange(n) % 5})
    for j in range(3):
        ml[f"prob_{j}"] = pml[:, j]
    ml.to_csv(d / "ml.csv", index=False)
    # token: flat tokens with sentence lengths, and one row per sentence with the words
    lengths = np.full(60, 5)
    np.save(d / "len.npy", lengths)
    rows = [
        {"words": [f"w{i}" for i in range(s * 5, s * 5 + 5)], "tags": y[s * 5 : s * 5 + 5].tolist(),
         "pred_probs": p[s * 5 : s * 5 + 5].tolist()}
        for s in range(60)
    ]  # fmt: skip
    with open(d / "s.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    np.save(d / "tlogits.npy", logits)
    base = CliRunner().invoke(
        app, ["find-issues", "-l", str(d / "y.npy"), "-p", str(d / "p.npy"), "--format", "json"]
    )
    (d / "base.json").write_text(base.stdout)
    np.save(d / "y200.npy", y[:200])  # another dataset (its first 200 rows): --baseline-any-data is needed
    np.save(d / "p200.npy", p[:200])
    other = CliRunner().invoke(
        app, ["find-issues", "-l", str(d / "y200.npy"), "-p", str(d / "p200.npy"), "--format", "json"]
    )
    (d / "base_other.json").write_text(other.stdout)
    return d


def inputs(d, task: str) -> list[str]:
    if task == "multilabel":
        return ["-l", str(d / "yml.npy"), "-p", str(d / "pml.npy")]
    if task == "token":
        return ["-l", str(d / "y.npy"), "-p", str(d / "p.npy"), "--sentence-lengths", str(d / "len.npy")]
    return ["-l", str(d / "y.npy"), "-p", str(d / "p.npy")]


def cases(d, task: str, command: str) -> dict:
    """option -> (inputs and supporting args, the option's own args, kind)."""
    io = inputs(d, task)
    k = 3 if task == "multilabel" else 4
    two = [*io, "-p", str(d / "p2.npy")]
    table = {"multilabel": ["-l", str(d / "ml.csv"), "-p", str(d / "ml.csv")]}.get(
        task, ["-l", str(d / "t.csv"), "-p", str(d / "t.csv")]
    )
    token_table = ["-l", str(d / "s.jsonl"), "-p", str(d / "s.jsonl")]
    soft = ["--aggregator", "softmin"] if task == "multilabel" else ["--sentence-method", "softmin"]
    return {
        "filter_by": (io, ["--filter-by", "confident_learning"], "effect"),
        "rank_by": (io, ["--rank-by", "normalized_margin"], "effect"),
        "method": (io, ["--method", "normalized_margin"], "effect"),
        "adjust_pred_probs": (io, ["--adjust-pred-probs"], "effect"),
        "frac_noise": (io, ["--frac-noise", "0.3"], "effect"),
        "num_to_remove_per_class": (io, ["--num-to-remove-per-class", ",".join(["2"] * k)], "effect"),
        "min_examples_per_class": (io, ["--min-examples-per-class", "90"], "effect"),
        "max_issues": (io, ["--max-issues", "0"], "gate"),
        "max_issue_rate": (io, ["--max-issue-rate", "0"], "gate"),
        "fail_under": (io, ["--fail-under", "1"], "gate"),
        "baseline": (io, ["--baseline", str(d / "base.json")], "effect"),
        "baseline_any_data": (
            [*io, "--baseline", str(d / "base_other.json")],
            ["--baseline-any-data"],
            "needed",
        ),
        "output": (io, ["-o", "OUT.csv"], "file"),
        "mask": (io, ["--mask", "-o", "OUT.npy"], "mask"),
        "top": (io, ["--top", "1"], "effect"),
        "label_column": ([*table, "--prob-columns", "prob_*"], ["--label-column", "y"], "needed")
        if task != "token"
        else (token_table, ["--label-column", "tags"], "needed"),
        "prob_columns": ([*table, "--label-column", "y"], ["--prob-columns", "prob_*"], "needed"),
        "class_names": (
            io,
            ["--class-names", str(d / ("ml_names.txt" if task == "multilabel" else "names.txt"))],
            "effect",
        ),
        "id_column": (
            [*table, "--label-column", "y", "--prob-columns", "prob_*"],
            ["--id-column", "key"],
            "effect",
        ),
        "from_logits": ([*io[:2], "-p", str(d / "logits.npy"), *io[4:]], ["--from-logits"], "needed"),
        "per_class": (io, ["--per-class"], "effect"),
        "sentence_lengths": (io[:4], io[4:], "needed"),
        "tokens": ([*token_table, "--label-column", "tags"], ["--tokens", "words"], "effect"),
        "by": (io, ["--by", "sentence"], "effect"),
        "low_memory": (io, ["--low-memory"], "same"),
        "weight_by": (two, ["--weight-by", "uniform"], "effect"),
        "weights": (two, ["--weights", "1,3"], "effect"),
        "batch_size": (io, ["--batch-size", "7"], "same"),
        "n_jobs": (io, ["--n-jobs", "2"], "same"),
        "quiet": (io, ["--quiet"], "same"),
        "order_issues": (io, ["--order-issues", str(d / "flagged.npy")], "effect"),
        "aggregator": (io, ["--aggregator", "min"], "effect"),
        "alpha": (io, ["--alpha", "0.2"], "effect"),
        "temperature": ([*io, *soft], ["--temperature", "3"], "effect"),
        "sentence_method": (io, ["--sentence-method", "softmin"], "effect"),
        "num_examples": (io, ["--num-examples", "600"], "effect"),
        "plot": (io, ["--plot", "OUT.png"], "file"),
    }


def run(command: str, task: str, args: list[str], tmp_path) -> tuple[int, str, str]:
    argv = [
        command,
        "--task",
        task,
        "--format",
        "json",
        *[a.replace("OUT", str(tmp_path / "out")) for a in args],
    ]
    res = CliRunner().invoke(app, argv)
    return res.exit_code, res.stdout, res.stderr


def body(stdout: str) -> dict:
    doc = json.loads(stdout)
    doc.pop("inputs")
    return doc


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("task", TASKS)
def test_every_option_is_honoured_or_refused(data, tmp_path, command, task):
    refused = NOT_FOR_TASK[(command, task)]
    table = cases(data, task, command)
    unknown = [name for name in options_of(command) if name not in refused and name not in table]
    assert unknown == [], f"options of {command} --task {task} with no check: {unknown}"
    for name in options_of(command):
        base, extra, kind = table.get(name, (inputs(data, task), None, None))
        if name in refused:
            flag = "--" + name.replace("_", "-")
            if is_flag(command, name):
                given = [flag]
            else:
                given = [flag, extra[extra.index(flag) + 1] if extra and flag in extra else "x"]
            code, _, err = run(command, task, [*inputs(data, task), *given], tmp_path)
            assert (code, err) == (2, f"Error: {flag} is not available with --task {task} ({command})\n"), (
                name
            )
            continue
        code, out, err = run(command, task, [*base, *extra], tmp_path)
        if kind == "gate":
            assert code == 1 and "Gate failed" in err, (name, err)
            continue
        assert code == 0, (name, err)
        if kind == "needed":
            code0, _, _ = run(command, task, base, tmp_path)
            assert code0 == 2, f"{name}: the input reads without it"
        elif kind in ("file", "mask"):
            path = tmp_path / ("out.npy" if kind == "mask" else "out" + extra[-1][3:])
            assert path.exists(), name
            if kind == "mask":
                assert np.load(path).dtype == bool, name
            path.unlink()
        else:
            code0, out0, err0 = run(command, task, base, tmp_path)
            assert code0 == 0, (name, err0)
            a, b = body(out), body(out0)
            if kind == "same":
                a.pop("params"), b.pop("params")
                assert a == b, name
            else:
                assert a != b, f"{name} changes nothing in {command} --task {task}"


def test_refusal_message_names_option_and_task(data, tmp_path):
    code, _, err = run("find-issues", "multilabel", [*inputs(data, "multilabel"), "--n-jobs", "2"], tmp_path)
    assert code == 2
    assert err == "Error: --n-jobs is not available with --task multilabel (find-issues)\n"


def test_a_second_model_where_one_is_meant_is_refused(data, tmp_path):
    for command in ("health", "overlap", "doctor", "batched"):
        res = CliRunner().invoke(app, [command, *inputs(data, "multiclass"), "-p", str(data / "p2.npy")])
        assert res.exit_code == 2
        assert f"{command} takes one --pred-probs model, got 2" in res.stderr


def test_a_refused_option_given_at_its_default_value_is_refused(data, tmp_path):
    # Given on the command line is given, whatever its value: --n-jobs 1 is --n-jobs's default.
    code, _, err = run("find-issues", "multilabel", [*inputs(data, "multilabel"), "--n-jobs", "1"], tmp_path)
    assert code == 2
    assert err == "Error: --n-jobs is not available with --task multilabel (find-issues)\n"
    code, _, _ = run("find-issues", "multilabel", inputs(data, "multilabel"), tmp_path)
    assert code == 0
