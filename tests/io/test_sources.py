"""labelaudit.io.sources and the streamed readers built on it, below the command line.

One table parser counts rows as the whole-table reader does; Fortran-ordered and `.npz` arrays are read in
blocks equal to those of a C-ordered `.npy`; the column rule reads a whole column only when its first
rows look like an index or a constant; `.npy` headers are parsed without numpy's loader.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest

from labelaudit.errors import InputError, LabelauditWarning
from labelaudit.io import sources
from labelaudit.io.stream import BlockSource, NpyRows, parse_memory

RNG = np.random.default_rng(7)
P = RNG.dirichlet([1, 1, 1, 1], size=101)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.npy", ".npy"),
        ("A.NPZ", ".npz"),
        ("t.csv.gz", ".csv"),
        ("t.TSV.GZ", ".tsv"),
        ("s.jsonl.gz", ".jsonl"),
        ("x.gz", ".gz"),
        ("t.parquet", ".parquet"),
    ],
)
def test_kind_of_names(name, kind):
    assert sources.kind_of(name) == kind


@pytest.mark.parametrize(
    "text",
    [
        "label,p0,p1\n0,0.5,0.5\n\n1,0.2,0.8\n\n\n",
        'label,note,p0,p1\n0,"two\nlines",0.5,0.5\n1,"x\r\ny",0.2,0.8\n',
        "label,p0,p1\r\n0,0.5,0.5\r\n1,0.2,0.8",
        "label,p0,p1\n0,0.5,0.5\n   \n1,0.2,0.8\n",
    ],
    ids=["blank-lines", "quoted-newlines", "crlf-no-final-newline", "whitespace-line"],
)
def test_rows_are_counted_by_the_parser_that_reads_them(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode())
    whole = sources.read_table(str(path))
    assert sources.table_rows(str(path), "p0") == len(whole) == 2
    chunks = list(sources.table_chunks(str(path), ["p0", "p1"], 1))
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), whole["p0"].to_numpy())


@pytest.mark.parametrize(
    ("names", "is_header"),
    [
        (["0", "1", "2"], True),  # pandas' names for unnamed columns
        (["0"], True),  # a Series written without a name
        (["1", "2", "3"], True),  # classes numbered from 1
        (["0", "1", "1.1"], False),
        (["1"], False),
        (["label", "0.5"], True),
        (["0.7", "0.2", "0.1"], False),
        (["0.1", "0.1.1", "0.8"], False),  # pandas renamed a repeated value
        (["3"], False),
        (["-2.5e-3", "1"], False),
    ],
)
def test_header_that_is_data(tmp_path, names, is_header):
    path = tmp_path / "t.csv"
    path.write_text(",".join(names) + "\n")
    if is_header:
        sources.check_header(names, str(path), ".csv")
    else:
        with pytest.raises(InputError, match="needs a header row"):
            sources.check_header(names, str(path), ".csv")


def test_whole_columns_are_read_only_for_suspects():
    head = pd.DataFrame({"i": np.arange(5), "c": np.full(5, 2.0), "p0": P[:5, 0], "p1": P[:5, 1]})
    asked: list[list[str]] = []

    def whole(names):
        asked.append(names)
        full = pd.DataFrame({"i": np.r_[np.arange(5), 9], "c": np.full(6, 2.0)})
        return full[names]

    with pytest.warns(LabelauditWarning, match=r"'c' \(constant 2.0\)") as record:
        cols = sources.pick_prob_columns(head, None, set(), "t.csv", whole=whole)
    assert asked == [["i", "c"]]
    assert cols == ["i", "p0", "p1"]  # 'i' is 0..4 in the first rows only: not an index
    assert "'i'" not in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sources.pick_prob_columns(head[["p0", "p1"]], None, set(), "t.csv", whole=whole) == [
            "p0",
            "p1",
        ]
    assert len(asked) == 1


def test_short_tables_have_no_index_or_constant_columns():
    """One or two rows cannot tell an index or a constant from probabilities."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = pd.DataFrame({"p0": [0.0, 1.0], "p1": [1.0, 0.0], "p2": [0.0, 0.0]})
        assert sources.pick_prob_columns(df, None, set(), "t") == ["p0", "p1", "p2"]
        assert sources.pick_prob_columns(df.iloc[:1], None, set(), "t") == ["p0", "p1", "p2"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_fortran_blocks_equal_c_blocks(tmp_path, dtype):
    p = P.astype(dtype)
    np.save(tmp_path / "c.npy", p)
    np.save(tmp_path / "f.npy", np.asfortranarray(p))
    c, f = NpyRows(str(tmp_path / "c.npy")), NpyRows(str(tmp_path / "f.npy"))
    assert f.fortran and not c.fortran
    n = len(p)
    for rows in (1, 7, n - 1, n, n + 1):
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            block = f.read(start, stop)
            assert block.flags.c_contiguous
            np.testing.assert_array_equal(block, c.read(start, stop))
            np.testing.assert_array_equal(block, p[start:stop])


def test_npz_members(tmp_path):
    y = RNG.integers(0, 4, len(P))
    np.savez(tmp_path / "s.npz", labels=y, pred_probs=P)
    np.savez_compressed(tmp_path / "z.npz", labels=y, pred_probs=P)
    stored = sources.npy_layout(str(tmp_path / "s.npz"), "pred_probs")
    squeezed = sources.npy_layout(str(tmp_path / "z.npz"), "pred_probs")
    assert stored.positional and not squeezed.positional and stored.member == "pred_probs.npy"
    assert isinstance(sources.load_npy(str(tmp_path / "s.npz"), "labels"), np.memmap)
    np.testing.assert_array_equal(sources.load_npy(str(tmp_path / "z.npz"), "labels"), y)
    rows = NpyRows(str(tmp_path / "z.npz"))
    assert rows.sequential
    blocks = list(rows.blocks(10))
    assert [s for s, _ in blocks] == list(range(0, len(P), 10))
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), P)
    np.testing.assert_array_equal(NpyRows(str(tmp_path / "s.npz")).read(3, 50), P[3:50])


def test_compressed_fortran_member_is_refused_for_streaming(tmp_path):
    np.savez_compressed(tmp_path / "z.npz", np.asfortranarray(P))
    with pytest.raises(InputError, match="Fortran-ordered array in a compressed .npz"):
        NpyRows(str(tmp_path / "z.npz"))


def test_header_parser_matches_numpy(tmp_path):
    for array in (P, P.astype(np.float32).T, np.arange(5), np.zeros((0, 3)), np.array(3.5), P[:, :2].copy()):
        buf = io.BytesIO()
        np.save(buf, array)
        buf.seek(0)
        shape, fortran, dtype, header = sources.parse_npy_header(buf, "x.npy")
        assert (shape, dtype) == (array.shape, array.dtype)
        assert fortran == (array.flags.f_contiguous and not array.flags.c_contiguous)
        path = tmp_path / "a.npy"
        path.write_bytes(buf.getvalue())
        np.testing.assert_array_equal(sources.load_npy(str(path), "pred_probs"), array)


def test_block_source_lists_the_columns_it_reads(tmp_path):
    df = pd.DataFrame({"label": RNG.integers(0, 4, len(P)), **{f"p{j}": P[:, j] for j in range(4)}})
    df.to_parquet(tmp_path / "t.parquet")
    src = BlockSource(str(tmp_path / "t.parquet"), str(tmp_path / "t.parquet"))
    assert src.files[1].describe()["columns"] == ["p0", "p1", "p2", "p3"]
    assert (src.n, src.k) == (len(P), 4)


@pytest.mark.parametrize(("text", "limit"), [("1MB", 1 << 20), ("2G", 2 << 30), ("1.5 mb", 3 << 19)])
def test_memory_limits(text, limit):
    assert parse_memory(text) == limit
