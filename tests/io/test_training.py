"""labelaudit.io.training: labels on their own, the training and test inputs, and the kept rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelaudit.errors import InputError
from labelaudit.io.training import load_test, load_training, read_labels, write_cleaned

X = np.arange(12, dtype=np.float64).reshape(6, 2)
Y = np.array([0, 1, 2, 0, 1, 2])


def test_npy_labels_as_int64(save_npy):
    y, names = read_labels(save_npy("y.npy", Y.astype(np.int8)))
    assert y.dtype == np.int64 and names is None
    np.testing.assert_array_equal(y, Y)
    y, _ = read_labels(
        save_npy("col.npy", Y.reshape(-1, 1).astype(np.float32))
    )  # a column of integral floats
    np.testing.assert_array_equal(y, Y)


def test_text_labels_give_sorted_class_names_or_the_training_ones(tmp_path):
    path = tmp_path / "y.csv"
    pd.DataFrame({"label": ["dog", "cat", "dog", "bird"]}).to_csv(path, index=False)
    y, names = read_labels(str(path))
    assert names == ["bird", "cat", "dog"] and y.tolist() == [2, 1, 2, 0]
    y, names = read_labels(str(path), class_names=["dog", "cat", "bird"])
    assert names == ["dog", "cat", "bird"] and y.tolist() == [0, 1, 0, 2]


@pytest.mark.parametrize(
    ("array", "pattern"),
    [
        (np.array([0, 1, -1]), r"y\.npy: labels must be class ids 0\.\.K-1; row 2 holds -1"),
        (np.array([0.0, 1.5]), r"y\.npy: labels must be class ids 0\.\.K-1; row 1 holds 1\.5"),
        (np.zeros((2, 2), dtype=int), r"y\.npy: labels must be 1-D, got shape \(2, 2\)"),
        (np.array([], dtype=int), r"y\.npy: labels are empty \(0 rows\)"),
        (np.array([0j, 1j]), r"y\.npy: labels must be class ids 0\.\.K-1; the array's dtype is complex128"),
    ],
)
def test_bad_labels(save_npy, array, pattern):
    with pytest.raises(InputError, match=pattern):
        read_labels(save_npy("y.npy", array))


def test_unsupported_label_format_and_role_in_messages(tmp_path, save_npy):
    (tmp_path / "y.txt").write_text("0\n1\n")
    with pytest.raises(InputError, match=r"y\.txt: unsupported labels format"):
        read_labels(str(tmp_path / "y.txt"))
    with pytest.raises(InputError, match=r"test labels must be class ids"):
        read_labels(save_npy("yt.npy", np.array([-2])), role="test labels")


def test_training_and_test_inputs(save_npy):
    data = load_training(save_npy("x.npy", X), save_npy("y.npy", Y))
    assert [f.role for f in data.files] == ["features", "labels"] and data.pred_probs is None
    xt, yt = load_test(save_npy("xt.npy", X[:3]), save_npy("yt.npy", Y[:3]), data)
    np.testing.assert_array_equal(xt, X[:3])
    assert [f.role for f in data.files] == ["features", "labels", "test_features", "test_labels"]
    assert load_test(None, None, data) is None


def test_training_with_pred_probs_reads_them_as_a_dataset(save_npy):
    p = np.full((6, 3), 1 / 3)
    data = load_training(save_npy("x.npy", X), save_npy("y.npy", Y), pred_probs=save_npy("p.npy", p))
    assert [f.role for f in data.files] == ["features", "labels", "pred_probs"]
    np.testing.assert_array_equal(data.pred_probs, p)
    with pytest.raises(InputError, match=r"x\.npy: features have 6 rows but the labels have 5"):
        load_training(save_npy("x.npy", X), save_npy("y5.npy", Y[:5]))


def test_test_set_rules(save_npy):
    data = load_training(save_npy("x.npy", X), save_npy("y.npy", Y))
    with pytest.raises(
        InputError,
        match=r"xt\.npy: test features have 3 columns but the training features \(.*x\.npy\) have 2",
    ):
        load_test(save_npy("xt.npy", np.c_[X, X[:, 0]]), save_npy("yt.npy", Y), data)
    with pytest.raises(InputError, match=r"--test-features and --test-labels go together"):
        load_test(None, save_npy("yt.npy", Y), data)
    with pytest.raises(InputError, match=r"xt\.npy: features have 6 rows but the labels have 2"):
        load_test(save_npy("xt.npy", X), save_npy("yt2.npy", Y[:2]), data)


def test_write_cleaned_keeps_the_other_rows(tmp_path, save_npy):
    data = load_training(save_npy("x.npy", X), save_npy("y.npy", Y))
    write_cleaned(str(tmp_path / "kept.csv"), data, np.array([4, 1]))
    kept = pd.read_csv(tmp_path / "kept.csv")
    assert kept.columns.tolist() == ["index", "label", "x0", "x1"]
    assert kept["index"].tolist() == [0, 2, 3, 5] and kept["label"].tolist() == Y[[0, 2, 3, 5]].tolist()
    np.testing.assert_array_equal(kept[["x0", "x1"]].to_numpy(), X[[0, 2, 3, 5]])
