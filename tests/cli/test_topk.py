"""Top-k pred_probs on the command line (io.topk): an `.npz` with `indices`/`values` or a Parquet table with
`top_classes`/`top_probs` gives, for find-issues, rank, health and overlap, the `--format json` document of
the dense `.npy` holding the same implicit matrix (inputs aside); options that need whole rows are refused
with exit 2, one message and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import run

from labelaudit.cli import app
from labelaudit.core.topk import TopK
from tests import golden_data
from tests.cli.test_errors import Inputs, expect_error


def write_sets(folder: Path, name: str = "cifar10", k: int = 3) -> dict[str, str]:
    y, p = golden_data.inputs(name)
    idx = np.argsort(-p, axis=1, kind="stable")[:, :k]
    vals = np.take_along_axis(p, idx, axis=1)
    topk = TopK(idx, vals, p.shape[1])
    out = {"labels": str(folder / "labels.npy"), "dense": str(folder / "dense.npy")}
    np.save(out["labels"], y)
    np.save(out["dense"], topk.dense())
    out["npz"] = str(folder / "top.npz")
    np.savez(out["npz"], indices=idx, values=vals, num_classes=np.array(p.shape[1]))
    table = pa.table({"label": y, "top_classes": pa.array(list(idx)), "top_probs": pa.array(list(vals))})
    out["parquet"] = str(folder / "top.parquet")
    pq.write_table(table.replace_schema_metadata({b"num_classes": str(p.shape[1]).encode()}), out["parquet"])
    return out


def document(runner, *args: str) -> dict:
    doc = json.loads(run(runner, *args, "--format", "json").stdout)
    doc.pop("inputs")
    return doc


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, str]:
    return write_sets(tmp_path_factory.mktemp("topk"))


@pytest.mark.parametrize(
    "args",
    [
        ["find-issues"],
        ["find-issues", "--filter-by", "both", "--rank-by", "normalized_margin"],
        ["find-issues", "--filter-by", "predicted_neq_given"],
        ["find-issues", "--filter-by", "low_normalized_margin"],
        ["rank", "--method", "normalized_margin"],
        ["health"],
        ["overlap", "--asymmetric"],
    ],
)
def test_top_k_files_give_the_dense_documents(runner, sets, args):
    want = document(runner, *args, "-l", sets["labels"], "-p", sets["dense"])
    assert document(runner, *args, "-l", sets["labels"], "-p", sets["npz"]) == want
    assert document(runner, *args, "-l", sets["parquet"], "-p", sets["parquet"]) == want


def close(got: object, want: object) -> bool:
    """Equal documents but for floats within 1e-9 relative."""
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(close(got[k], want[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(close(a, b) for a, b in zip(got, want, strict=True))
    if isinstance(want, float) and isinstance(got, float):
        return abs(got - want) <= 1e-9 * abs(want) + 1e-15
    return got == want


def test_entropy_ranking_within_1e9(runner, sets):
    args = ["find-issues", "--rank-by", "confidence_weighted_entropy", "-l", sets["labels"]]
    want = document(runner, *args, "-p", sets["dense"])
    got = document(runner, *args, "-p", sets["npz"])
    assert close(got, want)
    assert [r["index"] for r in got["issues"]] == [r["index"] for r in want["issues"]]


def test_top_k_parquet_labels_from_their_own_file(runner, sets):
    want = document(runner, "find-issues", "-l", sets["labels"], "-p", sets["dense"])
    assert document(runner, "find-issues", "-l", sets["labels"], "-p", sets["parquet"]) == want


def test_residual_and_inferred_k(runner, tmp_path):
    y = np.array([0, 1, 2, 0, 1, 2])
    idx = np.array([[0], [1], [2], [1], [1], [2]])
    vals = np.array([[0.8], [0.7], [0.6], [0.5], [0.9], [0.4]])
    dense = TopK(idx, vals, 3, residual=1 - vals[:, 0]).dense()
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "dense.npy", dense)
    np.savez(tmp_path / "top.npz", indices=idx, values=vals, residual=1 - vals[:, 0])
    result = run(runner, "rank", "-l", tmp_path / "y.npy", "-p", tmp_path / "top.npz", "--format", "json")
    assert "the number of classes is not given; taken as the largest class id + 1 (K=3)" in result.stderr
    got = json.loads(result.stdout)
    got.pop("inputs")
    assert got == document(runner, "rank", "-l", tmp_path / "y.npy", "-p", tmp_path / "dense.npy")
    assert got["n_classes"] == 3


class TopKInputs(Inputs):
    """The error tests' inputs plus a valid top-k file (K = 3, k = 2) for their labels."""

    def __init__(self, tmp_path: Path):
        super().__init__(tmp_path)
        idx = np.array([[0, 1], [1, 2], [2, 0], [0, 2], [1, 0], [2, 1]])
        vals = np.array([[0.7, 0.2], [0.8, 0.1], [0.6, 0.2], [0.6, 0.3], [0.4, 0.3], [0.8, 0.1]])
        self.topk = str(self.dir / "top.npz")
        np.savez(self.topk, indices=idx, values=vals, num_classes=np.array(3))


@pytest.fixture
def inp(tmp_path) -> TopKInputs:
    return TopKInputs(tmp_path)


def topk_file(inp: Inputs, name: str, **arrays) -> str:
    path = inp.dir / name
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize(
    "extra,fragments",
    [
        (["--adjust-pred-probs"], ["adjust_pred_probs is not available with top-k"]),
        (["--from-logits"], ["top.npz: --from-logits needs every class's logit"]),
        (["--low-memory"], ["top.npz: top-k probabilities (arrays 'indices' and 'values')"]),
        (["--task", "multilabel"], ["top.npz: top-k probabilities (arrays 'indices' and 'values')"]),
    ],
)
def test_options_that_need_whole_rows_are_refused(runner, inp, extra, fragments):
    expect_error(runner, inp, ["find-issues", "-l", inp.labels, "-p", inp.topk, *extra], *fragments)


def test_top_k_models_are_not_averaged(runner, inp):
    args = ["find-issues", "-l", inp.labels, "-p", inp.probs, "-p", inp.topk]
    expect_error(runner, inp, args, "top-k probabilities (io.topk) are one model")


def test_batched_refuses_top_k(runner, inp):
    expect_error(runner, inp, ["batched", "-l", inp.labels, "-p", inp.topk], "top-k probabilities")


@pytest.mark.parametrize(
    "arrays,fragments",
    [
        (dict(indices=[[0, 3]], values=[[0.5, 0.2]]), ["labels.npy: 6 labels but"]),
        (
            dict(indices=[[0, 3]] * 6, values=[[0.5, 0.2]] * 6, num_classes=3),
            ["bad.npz: top-k class ids must be in 0..2; row 0 holds 3"],
        ),
        (
            dict(indices=[[0, 0]] * 6, values=[[0.5, 0.2]] * 6, num_classes=3),
            ["bad.npz: top-k class ids must be distinct within a row; row 0 lists 0 twice"],
        ),
        (
            dict(indices=[[0, 1]] * 6, values=[[0.9, 0.2]] * 6, num_classes=3),
            ["bad.npz: the top-k probabilities of a row must sum to at most 1", "row 0 sums to 1.1"],
        ),
        (
            dict(indices=[[0, 1]] * 6, values=[[0.5, 0.2]] * 6, num_classes=[3, 4]),
            ["bad.npz: num_classes must be one integer"],
        ),
    ],
)
def test_bad_top_k_files(runner, inp, arrays, fragments):
    path = topk_file(inp, "bad.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    expect_error(runner, inp, ["find-issues", "-l", inp.labels, "-p", path], *fragments)


def test_ragged_parquet_lists_are_refused(runner, inp):
    path = inp.dir / "ragged.parquet"
    table = pa.table(
        {"top_classes": pa.array([[0, 1], [1]] * 3), "top_probs": pa.array([[0.5, 0.2], [0.6]] * 3)}
    )
    pq.write_table(table, path)
    expect_error(
        runner,
        inp,
        ["rank", "-l", inp.labels, "-p", path],
        "ragged.parquet: every row must list the same number of classes; row 1 of 'top_classes' has 1",
    )


def test_plot_refused_for_many_classes(runner, inp):
    path = topk_file(
        inp,
        "many.npz",
        indices=np.arange(6)[:, None],
        values=np.full((6, 1), 0.5),
        num_classes=np.array(1024),
    )
    args = ["health", "-l", inp.labels, "-p", path, "--plot", str(inp.out / "plot.png")]
    expect_error(
        runner,
        inp,
        args,
        "plot.png: --plot draws a noise matrix of fewer than 1024 classes, this data has K=1024",
    )


def test_string_labels_and_k_from_class_names(runner, tmp_path):
    names = ["cat", "dog", "eel", "fox"]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    idx = np.array([[0, 1], [1, 3], [2, 0], [3, 2], [1, 0], [0, 3]])
    vals = np.array([[0.7, 0.2], [0.8, 0.1], [0.6, 0.2], [0.6, 0.3], [0.4, 0.3], [0.8, 0.1]])
    labels = ["cat", "dog", "cat", "fox", "eel", "cat"]
    table = pa.table({"label": labels, "top_classes": pa.array(list(idx)), "top_probs": pa.array(list(vals))})
    pq.write_table(table, tmp_path / "top.parquet")
    np.save(tmp_path / "y.npy", np.array([names.index(v) for v in labels]))
    np.save(tmp_path / "dense.npy", TopK(idx, vals, 4).dense())
    got = document(
        runner,
        "rank",
        "-l",
        tmp_path / "top.parquet",
        "-p",
        tmp_path / "top.parquet",
        "--class-names",
        tmp_path / "names.txt",
    )
    assert got == document(
        runner,
        "rank",
        "-l",
        tmp_path / "y.npy",
        "-p",
        tmp_path / "dense.npy",
        "--class-names",
        tmp_path / "names.txt",
    )
    assert got["n_classes"] == 4


def test_string_labels_need_class_names(runner, inp):
    path = inp.dir / "top.parquet"
    table = pa.table(
        {"label": ["a"] * 6, "top_classes": pa.array([[0, 1]] * 6), "top_probs": pa.array([[0.5, 0.2]] * 6)}
    )
    pq.write_table(table, path)
    expect_error(
        runner,
        inp,
        ["rank", "-l", path, "-p", path],
        "top.parquet: string labels with top-k input need --class-names",
    )


def test_report_page_from_top_k(runner, sets, tmp_path):
    """labelaudit report reads top-k input too: its summary is the dense input's."""
    lines = []
    for key in ("dense", "npz"):
        out = tmp_path / f"{key}.html"
        result = run(runner, "report", "-l", sets["labels"], "-p", sets[key], "-o", out)
        assert out.stat().st_size > 0
        lines.append(result.stderr.replace(str(out), "OUT"))
    assert lines[0] == lines[1]


@pytest.mark.parametrize("command", ["find-issues", "health"])
def test_top_k_runs_show_a_bar_per_pass(runner, sets, monkeypatch, command):
    """Large top-k runs draw one bar per pass over the rows (self-confidence, confident joint), each ending
    at 100% within 60 columns."""
    from labelaudit.cli import render
    from tests.cli.test_progress import check_final_lines, recording

    console = recording(60)
    monkeypatch.setattr(render, "progress_enabled", lambda quiet, elements=None: not quiet)
    monkeypatch.setattr(render.PassProgress, "console", console)
    run(runner, command, "-l", sets["labels"], "-p", sets["npz"], "--format", "json", "--batch-size", "700")
    check_final_lines(console, ["self-confidence", "confident joint"], 10_000, 60)


@pytest.mark.parametrize(
    "args,kinds",
    [
        (["batched"], ("npz", "parquet")),
        (["find-issues", "--task", "multilabel"], ("npz", "parquet")),
        (["rank", "--task", "token", "--sentence-lengths", "LEN"], ("npz",)),  # a token table wants a label
        (["doctor"], ("npz", "parquet")),
    ],
)
def test_commands_without_top_k_say_so(runner, inp, args, kinds):
    lengths = inp.npy("lengths.npy", np.array([3, 3]))
    argv = [a if a != "LEN" else lengths for a in args]
    for kind in kinds:
        path = inp.topk
        if kind == "parquet":
            path = str(inp.dir / "top.parquet")
            with np.load(inp.topk) as z:
                table = pa.table(
                    {"top_classes": pa.array(list(z["indices"])), "top_probs": pa.array(list(z["values"]))}
                )
            pq.write_table(table, path)
        fragment = f"{Path(path).name}: top-k probabilities"
        if args[0] == "doctor":  # doctor writes nothing: its exit code and message
            result = runner.invoke(app, [*argv, "-l", inp.labels, "-p", path])
            assert result.exit_code == 2 and fragment in result.stderr, result.stderr
        else:
            expect_error(runner, inp, [*argv, "-l", inp.labels, "-p", path], fragment)
