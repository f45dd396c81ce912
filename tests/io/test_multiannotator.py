"""Multi-annotator readers (io.multiannotator): the wide and long layouts, string labels, and errors that
name the file. Parity through the long layout uses the golden set ma_k3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelaudit.core import multiannotator as ma
from labelaudit.errors import InputError
from labelaudit.io.multiannotator import load_annotations, read_long, read_wide

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "expected_multiannotator"
nan = np.nan
L = np.array([[0, 0, 0], [1, 1, 0], [0, 1, nan], [1, nan, 1], [nan, nan, 1]])
P = np.array([(0.8, 0.2), (0.3, 0.7), (0.6, 0.4), (0.5, 0.5), (0.1, 0.9)])


def wide_frame(labels: np.ndarray, names: list[str] | None = None) -> pd.DataFrame:
    cols = {}
    for j in range(labels.shape[1]):
        v = labels[:, j]
        if names is None:
            cols[f"a{j}"] = pd.array([None if np.isnan(x) else int(x) for x in v], dtype="Int64")
        else:
            cols[f"a{j}"] = [None if np.isnan(x) else names[int(x)] for x in v]
    return pd.DataFrame(cols)


def long_frame(labels: np.ndarray) -> pd.DataFrame:
    i, j = np.nonzero(~np.isnan(labels))
    return pd.DataFrame({"task": i, "annotator": [f"a{x:02d}" for x in j], "label": labels[i, j].astype(int)})


@pytest.fixture
def probs(tmp_path: Path) -> str:
    np.save(tmp_path / "p.npy", P)
    return str(tmp_path / "p.npy")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy"])
def test_wide_layouts(tmp_path, probs, suffix):
    path = tmp_path / f"wide{suffix}"
    if suffix == ".npy":
        np.save(path, L)
    elif suffix == ".csv":
        wide_frame(L).to_csv(path, index=False)
    else:
        wide_frame(L).to_parquet(path)
    data = load_annotations(str(path), probs)
    np.testing.assert_array_equal(data.labels, L)
    assert data.annotators == ([0, 1, 2] if suffix == ".npy" else ["a0", "a1", "a2"])
    assert data.n == 5 and data.k == 2 and data.class_names is None
    r = ma.get_label_quality_multiannotator(data.labels, data.pred_probs)
    np.testing.assert_array_equal(r.consensus_label, [0, 1, 0, 1, 1])


def test_wide_csv_with_ids_and_empty_cells(tmp_path, probs):
    path = tmp_path / "w.csv"
    path.write_text("id,ann,bo,cy\nx,0,0,0\ny,1,1,0\nz,0,1,\nu,1,,1\nv,,,1\n")
    data = load_annotations(str(path), probs)
    np.testing.assert_array_equal(data.labels, L)
    assert data.annotators == ["ann", "bo", "cy"] and data.ids is not None
    assert data.ids.tolist() == ["x", "y", "z", "u", "v"]


def test_string_labels_and_class_names(tmp_path):
    path = tmp_path / "w.csv"
    wide_frame(L, ["cat", "dog"]).to_csv(path, index=False)
    pd.DataFrame({"dog": P[:, 1], "cat": P[:, 0]}).to_csv(tmp_path / "p.csv", index=False)
    by_header = load_annotations(str(path), str(tmp_path / "p.csv"))  # headers name the classes
    assert by_header.class_names == ["dog", "cat"]
    np.testing.assert_array_equal(by_header.labels, np.where(np.isnan(L), nan, 1 - L))
    np.save(tmp_path / "p.npy", P)
    sorted_names = load_annotations(str(path), str(tmp_path / "p.npy"))
    assert sorted_names.class_names == ["cat", "dog"]
    np.testing.assert_array_equal(sorted_names.labels, L)
    (tmp_path / "names.txt").write_text("dog\ncat\n")
    named = load_annotations(str(path), str(tmp_path / "p.npy"), class_names_path=str(tmp_path / "names.txt"))
    assert named.class_names == ["dog", "cat"]
    wide_frame(L, ["cat", "bird"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(
        InputError, match=r"bad\.csv: label 'bird' at row 1, annotator 'a0', is not a known class name"
    ):
        load_annotations(
            str(tmp_path / "bad.csv"), str(tmp_path / "p.npy"), class_names_path=str(tmp_path / "names.txt")
        )


def test_long_layout_equals_wide_and_parity(tmp_path):
    with np.load(GOLDEN / "ma_k3.npz") as z:
        labels, p = z["labels"], z["pred_probs"]
        expected = z["default__consensus_quality_score"], z["default__annotator_quality"]
    frame = long_frame(labels).sample(frac=1.0, random_state=0)  # row order does not matter
    frame.to_csv(tmp_path / "long.csv", index=False)
    np.save(tmp_path / "p.npy", p)
    data = load_annotations(str(tmp_path / "long.csv"), str(tmp_path / "p.npy"), long=True)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.annotators == [f"a{j:02d}" for j in range(labels.shape[1])]
    assert data.ids is not None
    np.testing.assert_array_equal(data.ids, np.arange(len(labels)))
    r = ma.get_label_quality_multiannotator(data.labels, data.pred_probs)
    np.testing.assert_allclose(r.consensus_quality_score, expected[0], atol=1e-6)
    np.testing.assert_allclose(r.annotator_quality[r.annotator_order], expected[1], atol=1e-6)


def test_long_layout_names(tmp_path):
    path = tmp_path / "long.jsonl"
    pd.DataFrame(
        {"example": ["t2", "t1", "t1"], "who": ["z", "b", "z"], "label": ["dog", "cat", "dog"]}
    ).to_json(path, orient="records", lines=True)
    labels, annotators, ids, names = read_long(str(path), annotator_column="who")
    np.testing.assert_array_equal(labels, [[0, 1], [nan, 1]])
    assert annotators == ["b", "z"] and ids.tolist() == ["t1", "t2"] and names == ["cat", "dog"]


def test_read_wide_direct(tmp_path):
    path = tmp_path / "w.parquet"
    wide_frame(L).to_parquet(path)
    labels, annotators, ids, names = read_wide(str(path))
    np.testing.assert_array_equal(labels, L)
    assert ids is None and names is None and annotators == ["a0", "a1", "a2"]


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (
            lambda p: p.write_text("a,b\n0,1\n,\n1,0\n0,0\n1,1\n"),
            r"w\.csv: every example must have at least one label; example\(s\) \[1\]",
        ),
        (
            lambda p: p.write_text("a,b,c\n0,1,\n1,1,\n0,0,\n1,1,\n0,1,\n"),
            r"w\.csv: every annotator must label.*\['c'\] are entirely empty",
        ),
        (
            lambda p: p.write_text("a,b\n0,1\n1,3\n0,0\n1,1\n0,1\n"),
            r"w\.csv: labels must be in 0\.\.1 \(K=2 from pred_probs\); example 1, annotator 1 holds 3",
        ),
        (
            lambda p: p.write_text("a,b\n0,1\n1,0.5\n0,0\n1,1\n0,1\n"),
            r"w\.csv: labels must be integers.*holds 0\.5",
        ),
        (
            lambda p: p.write_text("a,b\n0,1\n1,1\n0,0\n1,1\n"),
            r"w\.csv: 4 rows but .*p\.npy has 5 rows \(N must match\)",
        ),
    ],
)
def test_wide_errors_name_the_file(tmp_path, probs, write, message):
    path = tmp_path / "w.csv"
    write(path)
    with pytest.raises(InputError, match=message):
        load_annotations(str(path), probs)


def test_npy_and_long_errors(tmp_path, probs):
    np.save(tmp_path / "one.npy", np.zeros(5))
    with pytest.raises(InputError, match=r"one\.npy: multi-annotator labels must be 2-D"):
        load_annotations(str(tmp_path / "one.npy"), probs)
    with pytest.raises(InputError, match=r"one\.npy: the long layout needs a table"):
        load_annotations(str(tmp_path / "one.npy"), probs, long=True)
    dup = tmp_path / "dup.csv"
    dup.write_text("task,annotator,label\n0,a,1\n1,a,0\n0,a,0\n")
    with pytest.raises(InputError, match=r"dup\.csv: example 0 has more than one label from annotator 'a'"):
        load_annotations(str(dup), probs, long=True)
    cols = tmp_path / "cols.csv"
    cols.write_text("task,rater,label\n0,a,1\n")
    with pytest.raises(InputError, match=r"cols\.csv: annotator column 'annotator' not found"):
        load_annotations(str(cols), probs, long=True)
    noid = tmp_path / "noid.csv"
    noid.write_text("row,annotator,label\n0,a,1\n")
    with pytest.raises(InputError, match=r"noid\.csv: a long table needs an example-id column"):
        load_annotations(str(noid), probs, long=True)
    short = tmp_path / "short.csv"
    long_frame(L[:4]).to_csv(short, index=False)
    with pytest.raises(InputError, match=r"short\.csv: 4 distinct example ids but .*p\.npy has 5 rows"):
        load_annotations(str(short), probs, long=True)


def test_pred_probs_errors_name_their_file(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, L)
    bad = P.copy()
    bad[2] = (nan, 0.5)
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(InputError, match=r"bad\.npy: pred_probs must be finite; row 2"):
        load_annotations(str(path), str(tmp_path / "bad.npy"))
