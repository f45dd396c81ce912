"""`.npy` inputs (issues 12 and 18): Fortran order streamed, corrupt headers and bad magic strings named.

A Fortran-ordered `.npy` (what `np.save` writes for a transposed array) streams like its C-ordered copy in
`batched` (both modes) and `find-issues --low-memory`, with byte-identical outputs. A header corrupted by
one byte, a file that is not a `.npy` (a pickle included) and an object array are one message naming the
file, the rule and the value, and never suggest `allow_pickle`.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from golden_data import inputs

from tests.cli.test_inputs_tables import STREAMED, fails, ok

# ---------------------------------------------------------------------------- Fortran order


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("command", STREAMED, ids=" ".join)
def test_fortran_npy_streams_like_c_order(runner, tmp_path, command, dtype):
    labels, p = inputs("gen_k5")
    p = p.astype(dtype)
    np.save(tmp_path / "y.npy", labels)
    np.save(tmp_path / "c.npy", np.ascontiguousarray(p))
    np.save(tmp_path / "f.npy", np.asfortranarray(p))
    assert np.load(tmp_path / "f.npy", mmap_mode="r").flags.f_contiguous
    outs = {}
    for order in ("c", "f"):
        for batch in ("777", "3000", "5000"):
            scores = tmp_path / f"s_{order}_{batch}.npy"
            args = [*command, "-l", tmp_path / "y.npy", "-p", tmp_path / f"{order}.npy", "--format", "json"]
            doc = ok(runner, [*args, "--batch-size", batch, "--top", "50"])
            if command[0] == "batched":
                ok(runner, [*args, "--batch-size", batch, "--scores-out", scores])
                doc["scores_out"] = scores.read_bytes()
            doc.pop("inputs")
            outs[order, batch] = doc
    first = outs["c", "777"]
    assert first["n_issues"] > 0
    assert all(doc == first for doc in outs.values())


def test_fortran_npy_in_memory_equals_c_order(runner, tmp_path):
    labels, p = inputs("gen_k5")
    np.save(tmp_path / "y.npy", labels)
    np.save(tmp_path / "c.npy", p)
    np.save(tmp_path / "f.npy", np.asfortranarray(p))
    docs = [
        ok(runner, ["find-issues", "-l", tmp_path / "y.npy", "-p", tmp_path / name, "--format", "json"])
        for name in ("c.npy", "f.npy")
    ]
    assert docs[0]["issues"] == docs[1]["issues"] and docs[0]["n_issues"] > 0


# ---------------------------------------------------------------------------- broken files

READERS = (["find-issues"], *STREAMED)


def saved(tmp_path, name="p.npy"):
    labels, p = inputs("gen_k5")
    np.save(tmp_path / "y.npy", labels)
    np.save(tmp_path / name, p)
    return tmp_path / "y.npy", tmp_path / name


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_header_corrupted_by_one_byte(runner, tmp_path, command):
    """Today: `Error: TokenError: ('EOF in multi-line statement', (2, 0))` from numpy's header parser."""
    y, path = saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[data.index(b"}")] = ord("(")
    path.write_bytes(bytes(data))
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3000, 5), ("
    fails(
        runner,
        [*command, "-l", y, "-p", path],
        f"{path}: unreadable .npy file ({len(data)} bytes): the header must be a Python dict literal; "
        f'it is "{header}"',
        tmp_path,
    )


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (
            lambda h: h.replace(b"'shape'", b"'shope'"),
            "the header must have the keys 'descr', "
            "'fortran_order' and 'shape'; it has ['descr', 'fortran_order', 'shope']",
        ),
        (lambda h: h.replace(b"'<f8'", b"'<q9'"), "the header's descr must be a numpy dtype; it is '<q9'"),
        (
            lambda h: h.replace(b"(3000, 5)", b"(3000, 5.)"),
            "the header's shape must be a tuple of sizes; it is (3000, 5.0)",
        ),
        (
            lambda h: h.replace(b"False", b"0    "),
            "the header's fortran_order must be True or False; it is 0",
        ),
    ],
    ids=["keys", "descr", "shape", "fortran_order"],
)
def test_header_fields_are_named(runner, tmp_path, edit, rule):
    y, path = saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(edit(data[:128]) + data[128:])
    size = path.stat().st_size
    for command in READERS:
        fails(
            runner,
            [*command, "-l", y, "-p", path],
            f"{path}: unreadable .npy file ({size} bytes): {rule}",
            tmp_path,
        )


@pytest.mark.parametrize(
    "data",
    [b"this is not a numpy file \x00\xff" * 8, pickle.dumps(np.arange(6)), b"\x93NUMP"],
    ids=["garbage", "pickle", "short"],
)
@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_bad_magic_never_suggests_unpickling(runner, tmp_path, command, data):
    y, _ = saved(tmp_path)
    path = tmp_path / "bad.npy"
    path.write_bytes(data)
    message = (
        f"{path}: unreadable .npy file ({len(data)} bytes): a .npy file starts with b'\\x93NUMPY'; "
        f"this one starts with {data[:6]!r}"
    )
    fails(runner, [*command, "-l", y, "-p", path], message, tmp_path)
    fails(runner, [*command, "-l", path, "-p", tmp_path / "p.npy"], message, tmp_path)


def test_unsupported_format_version(runner, tmp_path):
    y, path = saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[6] = 9
    path.write_bytes(bytes(data))
    for command in READERS:
        fails(
            runner,
            [*command, "-l", y, "-p", path],
            f"{path}: unreadable .npy file ({len(data)} bytes): .npy format version 9.0 is not 1.0, 2.0 or 3.0",
            tmp_path,
        )


def test_object_array_is_never_unpickled(runner, tmp_path):
    y, _ = saved(tmp_path)
    path = tmp_path / "objects.npy"
    np.save(path, np.array([0, 1, "cat"], dtype=object), allow_pickle=True)
    message = (
        f"{path}: unreadable .npy file ({path.stat().st_size} bytes): it holds Python objects (dtype object), "
        "and labelaudit never loads pickled data; save numbers, or strings with a fixed-width dtype such as '<U20'"
    )
    for command in READERS:
        fails(runner, [*command, "-l", path, "-p", tmp_path / "p.npy"], message, tmp_path)


def test_header_cut_short(runner, tmp_path):
    y, path = saved(tmp_path)
    data = path.read_bytes()[:40]
    path.write_bytes(data)
    for command in READERS:
        fails(
            runner,
            [*command, "-l", y, "-p", path],
            f"{path}: truncated .npy file (40 bytes): the header needs 118 bytes, the file ends after 30",
            tmp_path,
        )
