"""labelaudit.io readers: .npy (memory-mapped), .csv/.tsv/.parquet tables, drift repair, logits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from labelaudit.errors import InputError, LabelauditWarning
from labelaudit.io import load_dataset, read_issue_set

P3 = np.array(
    [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.6, 0.3, 0.1], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]]
)
Y3 = np.array([0, 1, 2, 1, 2, 0])
NAMES = ["cat", "dog", "bird"]


def load(*args, **kwargs):
    """load_dataset, failing the test on any unexpected warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_dataset(*args, **kwargs)


# ---------------------------------------------------------------------------- .npy


def test_npy_pred_probs_stay_memory_mapped(save_npy):
    ds = load(save_npy("y.npy", Y3), save_npy("p.npy", P3))
    assert isinstance(ds.pred_probs, np.memmap)
    assert not ds.pred_probs.flags.writeable
    np.testing.assert_array_equal(ds.pred_probs, P3)
    np.testing.assert_array_equal(ds.labels, Y3)
    assert ds.labels.dtype == np.int32  # compact, and no file pages of the labels stay mapped
    assert (ds.n, ds.k, ds.class_names) == (6, 3, None)
    assert [f.role for f in ds.files] == ["labels", "pred_probs"]


def test_npy_float32_memmap_kept_as_float32(save_npy):
    ds = load(save_npy("y.npy", Y3.astype(np.int32)), save_npy("p.npy", P3.astype(np.float32)))
    assert isinstance(ds.pred_probs, np.memmap) and ds.pred_probs.dtype == np.float32


def test_npy_labels_column_vector_accepted(save_npy):
    ds = load(save_npy("y.npy", Y3.reshape(-1, 1)), save_npy("p.npy", P3))
    np.testing.assert_array_equal(ds.labels, Y3)


def test_input_file_description(save_npy):
    import hashlib

    path = save_npy("p.npy", P3)
    ds = load(save_npy("y.npy", Y3), path)
    d = ds.files[1].describe()
    with open(path, "rb") as f:
        raw = f.read()
    assert d == {
        "role": "pred_probs",
        "path": path,
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }


def test_absent_class_warns(save_npy):
    with pytest.warns(LabelauditWarning, match=r"1 class\(es\) have no examples"):
        ds = load_dataset(save_npy("y.npy", np.array([0, 1, 1, 0, 1, 0])), save_npy("p.npy", P3))
    assert ds.k == 3


# ---------------------------------------------------------------------------- drift repair


def test_values_slightly_outside_range_are_clipped(save_npy):
    p = P3.copy()
    p[1] = [-5e-4, 0.9005, 0.1]  # sums to 1, one value 5e-4 below 0
    p[4] = [0.3, 0.7, 0.0]
    p[5] = [1.0004, -4e-4, 0.0]
    with pytest.warns(LabelauditWarning, match="clipped into") as rec:
        ds = load_dataset(save_npy("y.npy", Y3), save_npy("p.npy", p))
    assert any("by up to 0.0005" in str(w.message) for w in rec)  # reports the largest drift
    assert not isinstance(ds.pred_probs, np.memmap)  # repaired: a copy
    assert ds.pred_probs.min() == 0.0 and ds.pred_probs.max() == 1.0
    np.testing.assert_array_equal(ds.pred_probs[1], [0.0, 0.9005, 0.1])
    np.testing.assert_array_equal(ds.pred_probs[5], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(ds.pred_probs[[0, 2, 3]], P3[[0, 2, 3]])


def test_row_sum_drift_within_tolerance_is_accepted(save_npy):
    p = P3.copy()
    p[2] = [0.2, 0.2, 0.6008]  # row sum 1.0008
    p[3] = [0.6, 0.3, 0.0993]  # row sum 0.9993
    with pytest.warns(LabelauditWarning, match="row sums drift from 1 by up to 0.0008"):
        ds = load_dataset(save_npy("y.npy", Y3), save_npy("p.npy", p))
    assert isinstance(ds.pred_probs, np.memmap)  # accepted as is, not copied
    np.testing.assert_array_equal(ds.pred_probs, p)


def test_tiny_row_sum_drift_passes_silently(save_npy):
    p = P3.astype(np.float32)  # float32 rows sum to 1 within ~1e-7
    p[0, 0] += np.float32(5e-5)
    ds = load(save_npy("y.npy", Y3), save_npy("p.npy", p))
    assert isinstance(ds.pred_probs, np.memmap)


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ([-0.002, 0.902, 0.1], "must be in \\[0, 1\\]; row 3 has -0.002"),
        ([0.6, 0.3, 0.1015], r"must sum to 1 .*row 3 sums to 1\.001(5|49)"),
    ],
)
def test_drift_beyond_tolerance_is_rejected(save_npy, row, match):
    p = P3.copy()
    p[3] = row
    with pytest.raises(InputError, match=match):
        load(save_npy("y.npy", Y3), save_npy("p.npy", p))


def test_out_of_range_message_names_a_value_of_the_named_row(save_npy):
    # Row 1 is the first bad row (above 1); the most negative value sits in a later row (4). The message
    # must not pair row 1 with row 4's value.
    p = P3.copy()
    p[1] = [1.5, -0.25, -0.25]
    p[4] = [-0.5, 0.9, 0.6]
    with pytest.raises(InputError, match="row 1 has (1.5|-0.25)") as exc:
        load(save_npy("y.npy", Y3), save_npy("p.npy", p))
    assert "-0.5" not in str(exc.value)


# ---------------------------------------------------------------------------- logits


def test_from_logits_softmax(save_npy):
    logits = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0], [-1.0, 3.0, 1000.0], [5.0, -5.0, 0.0]])
    y = np.array([0, 1, 2, 0])
    ds = load(save_npy("y.npy", y), save_npy("z.npy", logits), from_logits=True)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    want = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ds.pred_probs, want, rtol=1e-15, atol=0)
    np.testing.assert_allclose(ds.pred_probs[0], [0.659001, 0.242433, 0.098566], atol=1e-6)
    np.testing.assert_allclose(ds.pred_probs[1], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_array_equal(ds.pred_probs[2], [0.0, 0.0, 1.0])  # no overflow
    assert ds.pred_probs.dtype == np.float64


def test_logits_without_flag_suggest_from_logits(save_npy):
    logits = np.array([[2.0, 1.0, 0.1], [0.0, 0.3, -2.0], [-1.0, 3.0, 1.0], [5.0, -5.0, 0.0]])
    with pytest.raises(InputError, match="--from-logits"):
        load(save_npy("y.npy", [0, 1, 2, 0]), save_npy("z.npy", logits))


# ---------------------------------------------------------------------------- tables


def _table(labels=None, cols=NAMES, with_id=True) -> pd.DataFrame:
    data = {}
    if with_id:
        data["id"] = [f"img{i}" for i in range(len(P3))]
    if labels is not None:
        data["label"] = labels
    for j, c in enumerate(cols):
        data[c] = P3[:, j]
    return pd.DataFrame(data)


def _write(df: pd.DataFrame, path) -> str:
    path = str(path)
    if path.endswith(".parquet"):
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False, sep="\t" if path.endswith(".tsv") else ",")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_one_table_string_labels_names_from_headers(tmp_path, suffix):
    labels = [NAMES[i] for i in Y3]
    path = _write(_table(labels), tmp_path / f"t{suffix}")
    ds = load(path, path)
    assert ds.class_names == NAMES  # header order, not sorted order
    np.testing.assert_array_equal(ds.labels, Y3)
    np.testing.assert_array_equal(ds.pred_probs, P3)  # the string id column is not a probability
    assert ds.ids.tolist() == [f"img{i}" for i in range(6)]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_one_table_integer_labels(tmp_path, suffix):
    path = _write(_table(Y3.tolist(), cols=["p0", "p1", "p2"], with_id=False), tmp_path / f"t{suffix}")
    ds = load(path, path)
    np.testing.assert_array_equal(ds.labels, Y3)
    np.testing.assert_array_equal(ds.pred_probs, P3)  # the integer label column is excluded
    assert ds.class_names is None


def test_class_names_file_overrides_headers(tmp_path):
    labels = ["b", "c", "a", "c", "a", "b"]  # with names c, b, a -> codes 1, 0, 2, 0, 2, 1
    path = _write(_table(labels, cols=["p0", "p1", "p2"]), tmp_path / "t.csv")
    names = tmp_path / "names.txt"
    names.write_text("c\nb\na\n")
    ds = load(path, path, class_names_path=str(names))
    assert ds.class_names == ["c", "b", "a"]
    np.testing.assert_array_equal(ds.labels, [1, 0, 2, 0, 2, 1])


def test_class_names_sorted_unique_when_nothing_names_them(tmp_path, save_npy):
    lab = tmp_path / "labels.csv"
    pd.DataFrame({"label": ["dog", "cat", "bird", "dog", "bird", "cat"]}).to_csv(lab, index=False)
    ds = load(str(lab), save_npy("p.npy", P3))
    assert ds.class_names == ["bird", "cat", "dog"]
    np.testing.assert_array_equal(ds.labels, [2, 1, 0, 2, 0, 1])


def test_class_names_with_integer_npy_labels(tmp_path, save_npy):
    names = tmp_path / "names.txt"
    names.write_text("x\n\ny\nz\n")  # blank lines ignored
    ds = load(save_npy("y.npy", Y3), save_npy("p.npy", P3), class_names_path=str(names))
    assert ds.class_names == ["x", "y", "z"]


def test_label_column_option_and_single_column(tmp_path, save_npy):
    path = tmp_path / "t.csv"
    pd.DataFrame({"target": Y3, "other": Y3[::-1]}).to_csv(path, index=False)
    ds = load(str(path), save_npy("p.npy", P3), label_column="target")
    np.testing.assert_array_equal(ds.labels, Y3)
    only = tmp_path / "only.csv"
    pd.DataFrame({"whatever": Y3}).to_csv(only, index=False)
    np.testing.assert_array_equal(load(str(only), save_npy("p2.npy", P3)).labels, Y3)


def test_prob_columns_list_and_glob(tmp_path):
    df = pd.DataFrame(
        {
            "label": Y3,
            "score_extra": np.arange(6.0),
            "prob_a": P3[:, 0],
            "prob_b": P3[:, 1],
            "prob_c": P3[:, 2],
        }
    )
    path = _write(df, tmp_path / "t.parquet")
    ds = load(path, path, prob_columns="prob_a, prob_b,prob_c")
    np.testing.assert_array_equal(ds.pred_probs, P3)
    ds = load(path, path, prob_columns="prob_*")
    np.testing.assert_array_equal(ds.pred_probs, P3)
    # The list order is the class order.
    ds = load(path, path, prob_columns="prob_c,prob_b,prob_a", label_column="label")
    np.testing.assert_array_equal(ds.pred_probs, P3[:, ::-1])
    with pytest.raises(InputError, match="prob_z"):
        load(path, path, prob_columns="prob_a,prob_z")
    with pytest.raises(InputError, match="nothing_\\*"):
        load(path, path, prob_columns="nothing_*")


def test_labels_and_pred_probs_from_separate_tables(tmp_path):
    lab = _write(pd.DataFrame({"label": [NAMES[i] for i in Y3]}), tmp_path / "labels.csv")
    prob = _write(_table(None, with_id=False), tmp_path / "probs.parquet")
    ds = load(lab, prob)
    assert ds.class_names == NAMES
    np.testing.assert_array_equal(ds.labels, Y3)
    np.testing.assert_array_equal(ds.pred_probs, P3)


def test_sample_cifar10_tables_match_npy():
    from conftest import SAMPLE

    d = SAMPLE / "cifar10"
    if not (d / "cifar10.parquet").exists():
        pytest.skip("sample_data/cifar10 tables not present")
    y = np.load(d / "labels.npy")
    p = np.load(d / "pred_probs.npy")
    names = (d / "class_names.txt").read_text().split()
    for table in ("cifar10.parquet", "cifar10.csv"):
        path = str(d / table)
        ds = load(path, path)
        assert ds.class_names == names
        np.testing.assert_array_equal(ds.labels, y)
        np.testing.assert_array_equal(ds.pred_probs, p)  # shortest-repr floats read back bit-identical


def test_table_rewritten_between_loads_is_reread(tmp_path):
    """A library user who rewrites a table and loads it again must see the new contents."""
    path = tmp_path / "t.csv"
    _write(_table(Y3.tolist(), cols=["p0", "p1", "p2"], with_id=False), path)
    first = load(str(path), str(path))
    np.testing.assert_array_equal(first.labels, Y3)
    y2 = np.array([2, 2, 2, 1, 1, 0])
    _write(_table(y2.tolist(), cols=["p0", "p1", "p2"], with_id=False), path)
    np.testing.assert_array_equal(load(str(path), str(path)).labels, y2)


# ---------------------------------------------------------------------------- issue sets


def test_read_issue_set(tmp_path, save_npy):
    mask = np.array([True, False, True, False, False, False])
    np.testing.assert_array_equal(read_issue_set(save_npy("m.npy", mask), 6), mask)
    np.testing.assert_array_equal(read_issue_set(save_npy("i.npy", np.array([4, 1])), 6), [4, 1])
    table = tmp_path / "issues.csv"
    pd.DataFrame({"index": [5, 0], "label_quality": [0.1, 0.2]}).to_csv(table, index=False)
    np.testing.assert_array_equal(read_issue_set(str(table), 6), [5, 0])
    with pytest.raises(InputError, match="length N=6"):
        read_issue_set(save_npy("m5.npy", mask[:5]), 6)
    no_index = tmp_path / "noindex.csv"
    pd.DataFrame({"row": [1]}).to_csv(no_index, index=False)
    with pytest.raises(InputError, match="'index' column"):
        read_issue_set(str(no_index), 6)
