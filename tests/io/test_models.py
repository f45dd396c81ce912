"""labelaudit.io.models: skops model files, loaded through skops' trusted-types check, never unpickled."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from labelaudit import learn
from labelaudit.errors import InputError
from labelaudit.io.models import load_model, save_model

RNG = np.random.default_rng(0)
X = RNG.standard_normal((60, 3))
Y = (X[:, 0] + 0.3 * RNG.standard_normal(60) > 0).astype(np.int64)


class Planted:
    """Unpickling this creates the file it names: proof that a pickle ran code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


class Custom:
    """An object skops does not trust by default."""

    def __init__(self) -> None:
        self.weights = np.arange(3.0)


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("logistic_regression", None),
        ("random_forest", {"n_estimators": 3}),
        ("hist_gradient_boosting", {"max_iter": 3}),
    ],
)
def test_round_trip(tmp_path, model, params):
    fitted = learn.clean_fit(X, Y, model=model, model_params=params, folds=3).model
    path = tmp_path / "model.skops"
    save_model(str(path), fitted)
    assert sorted(os.listdir(tmp_path)) == ["model.skops"]  # no temporary left beside it
    loaded = load_model(str(path))
    assert type(loaded) is type(fitted)
    assert np.array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_pickle_is_refused_without_running_it(tmp_path):
    planted = tmp_path / "planted"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(Planted(planted)))
    with pytest.raises(InputError, match=r"model.pkl: a pickle; models are loaded only from skops files"):
        load_model(str(path))
    assert not planted.exists()
    path.write_bytes(pickle.dumps(LogisticRegression().fit(X, Y), protocol=0))
    with pytest.raises(InputError, match=r"a pickle"):
        load_model(str(path))


def test_other_files_are_refused(tmp_path):
    junk = tmp_path / "model.skops"
    junk.write_text("not a model\n")
    with pytest.raises(InputError, match=r"model.skops: not a skops file"):
        load_model(str(junk))
    with pytest.raises(InputError, match=r"missing.skops: no such model file"):
        load_model(str(tmp_path / "missing.skops"))


def test_untrusted_types_are_named_and_can_be_trusted(tmp_path):
    path = tmp_path / "custom.skops"
    save_model(str(path), Custom())
    name = f"{Custom.__module__}.Custom"
    with pytest.raises(InputError, match=rf"types that are not trusted: {name}; review them"):
        load_model(str(path))
    assert np.array_equal(load_model(str(path), trusted=[name]).weights, np.arange(3.0))


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(InputError, match=r"output folder .* does not exist"):
        save_model(str(tmp_path / "nope" / "m.skops"), LogisticRegression())


def test_missing_extra_names_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(InputError, match=r"save_model needs skops: pip install 'labelaudit\[learn\]'"):
        save_model(str(tmp_path / "m.skops"), LogisticRegression())
    with pytest.raises(InputError, match=r"load_model needs skops: pip install 'labelaudit\[learn\]'"):
        load_model(str(tmp_path / "m.skops"))
