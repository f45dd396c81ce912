"""Model files: skops only, never pickle.

A pickle runs whatever code its author put in it when it is loaded. A skops file is a zip of JSON and
arrays that skops rebuilds from an explicit list of types; `load_model` first lists the types the file
needs that skops does not trust by default and refuses the file unless each is trusted here (the tree
storage of labelaudit's named tree models) or by the caller after reviewing it.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from typing import Any

from labelaudit.errors import InputError
from labelaudit.io.writers import atomic_path

EXTRA = "pip install 'labelaudit[learn]'"
# Types that skops does not trust by default but that the named models of labelaudit.learn.MODELS hold:
# scikit-learn's own tree storage of random_forest and of hist_gradient_boosting, and knn's search trees
# with its default (Euclidean) distance.
TRUSTED_TYPES = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
)
_PICKLE_OPCODES = (b"\x80", b"(", b"c", b"}", b"]")  # how a pickle stream of any protocol starts


def _skops_io(what: str) -> Any:
    try:
        import skops.io as sio
    except ImportError:
        raise InputError(f"{what} needs skops: {EXTRA}") from None
    return sio


def require_skops(what: str) -> None:
    """InputError naming the extra when skops is not installed."""
    _skops_io(what)


def save_model(path: str, model: object) -> None:
    """Write a fitted model to `path` in skops format; the file appears whole or not at all."""
    sio = _skops_io("save_model")
    with atomic_path(os.fspath(path)) as tmp:
        try:
            sio.dump(model, tmp)
        except (TypeError, NotImplementedError) as exc:
            raise InputError(f"{path}: skops cannot save {type(model).__name__}: {exc}") from None


def load_model(path: str, *, trusted: Sequence[str] = ()) -> Any:
    """The model in a skops file. Types that skops does not trust by default must be in TRUSTED_TYPES or
    in `trusted` (full names, e.g. 'mypackage.models.MyClassifier'); otherwise InputError names them.
    Anything that is not a skops file, a pickle included, is refused without being loaded."""
    sio = _skops_io("load_model")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            start = fh.read(1)
        kind = "a pickle" if start in _PICKLE_OPCODES else "not a skops file"
        raise InputError(
            f"{path}: {kind}; models are loaded only from skops files (save_model writes them), never "
            "unpickled"
        )
    try:
        untrusted = list(sio.get_untrusted_types(file=path))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputError(f"{path}: not a readable skops file: {exc}") from None
    allowed = set(TRUSTED_TYPES) | set(trusted)
    refused = [t for t in untrusted if t not in allowed]
    if refused:
        raise InputError(
            f"{path}: the model needs types that are not trusted: {', '.join(refused)}; review them and "
            "pass them as trusted= (labelaudit predict: --trust TYPE) if you trust the file's author"
        )
    try:
        return sio.load(path, trusted=untrusted)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a readable skops file: {exc}") from None
