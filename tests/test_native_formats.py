"""XGBoost's and LightGBM's own formats: chosen by default for their estimators, verified before
reading, loaded without pickle as the same wrapper class, behind the signature check."""

from __future__ import annotations

import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import make_classification, make_regression

from registry_core import formats
from registry_core.client import RegistryClient
from registry_core.errors import (
    ArtifactIntegrityError,
    InvalidParameterValue,
    MissingDependency,
)
from registry_core.loading import clear_cache, load_model
from registry_core.native_formats import LIGHTGBM_TEXT, XGBOOST_JSON, XGBOOST_UBJ
from tests.conftest import stored_file


def _frame(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])


@pytest.fixture(scope="module")
def binary() -> tuple[pd.DataFrame, np.ndarray]:
    features, target = make_classification(n_samples=120, n_features=4, random_state=0)
    return _frame(features), target


@pytest.fixture(scope="module")
def multiclass() -> tuple[pd.DataFrame, np.ndarray]:
    features, target = make_classification(
        n_samples=150, n_features=5, n_informative=3, n_classes=3, random_state=0
    )
    return _frame(features), target


@pytest.fixture(scope="module")
def regression() -> tuple[pd.DataFrame, np.ndarray]:
    features, target = make_regression(n_samples=100, n_features=3, random_state=0)
    return _frame(features), target


def tiny_models(binary, multiclass, regression):
    """One tiny model per library, task and class count, with the data it was fitted on."""
    xgb_args = {"n_estimators": 4, "max_depth": 2, "n_jobs": 1}
    lgb_args = {"n_estimators": 4, "num_leaves": 4, "verbose": -1, "n_jobs": 1}
    cases = []
    for data, kind in ((binary, "classifier"), (multiclass, "classifier"), (regression, "reg")):
        features, target = data
        for library, args, classes in (
            (xgb, xgb_args, (xgb.XGBClassifier, xgb.XGBRegressor)),
            (lgb, lgb_args, (lgb.LGBMClassifier, lgb.LGBMRegressor)),
        ):
            cls = classes[0] if kind == "classifier" else classes[1]
            cases.append((cls(**args).fit(features, target), features, library.__name__))
    return cases


def test_default_formats_and_detection(binary, multiclass, regression) -> None:
    for model, _, library in tiny_models(binary, multiclass, regression):
        fmt = formats.default_format(model)
        assert fmt == (XGBOOST_UBJ if library == "xgboost" else LIGHTGBM_TEXT)
        assert formats.detect_format(formats.dump_model(model, fmt)[:16]) == fmt
    model = tiny_models(binary, multiclass, regression)[0][0]
    assert formats.detect_format(formats.dump_model(model, XGBOOST_JSON)[:16]) == XGBOOST_JSON
    assert formats.detect_format(b"PK\x03\x04....") == formats.SKOPS
    assert formats.detect_format(b"\x80\x04\x95") == formats.PICKLE


@pytest.mark.parametrize("fmt", [XGBOOST_UBJ, XGBOOST_JSON, LIGHTGBM_TEXT])
def test_round_trips_give_the_same_class_and_predictions(binary, multiclass, regression, fmt):
    library = "lightgbm" if fmt == LIGHTGBM_TEXT else "xgboost"
    for model, features, owner in tiny_models(binary, multiclass, regression):
        if owner != library:
            continue
        loaded = formats.load_model_bytes(formats.dump_model(model, fmt), fmt)
        assert type(loaded) is type(model)
        np.testing.assert_allclose(loaded.predict(features), model.predict(features), rtol=1e-6)
        if hasattr(model, "predict_proba"):
            np.testing.assert_allclose(
                loaded.predict_proba(features), model.predict_proba(features), rtol=1e-6
            )
            np.testing.assert_array_equal(loaded.classes_, model.classes_)


def test_registry_stores_verifies_and_loads_each_format(
    client: RegistryClient, registry_path: Path, binary, multiclass, regression
) -> None:
    for index, (model, features, _) in enumerate(tiny_models(binary, multiclass, regression)):
        run = client.create_run()
        artifact = client.log_model_artifact(
            run.run_id, model, "model", input_example=features.head(3)
        )
        assert artifact.format == formats.default_format(model)
        name = f"m{index}"
        client.create_registered_model(name)
        mv = client.create_model_version(name, f"runs:/{run.run_id}/model", run_id=run.run_id)
        assert mv.artifact_format == artifact.format
        loaded = load_model(f"models:/{name}/1", client=client)
        assert type(loaded.raw_model) is type(model)
        np.testing.assert_allclose(loaded.predict(features), model.predict(features), rtol=1e-6)
        with pytest.raises(InvalidParameterValue, match="missing column"):
            loaded.predict(features.drop(columns=["x0"]))
        with pytest.raises(InvalidParameterValue, match="expects float64"):
            loaded.predict(features.assign(x1="text"))
        assert client.artifacts.verify(artifact.sha256) is None

    clear_cache()
    stored = stored_file(registry_path, artifact.sha256)
    stored.write_bytes(stored.read_bytes()[:-8] + b"tampered")
    assert client.artifacts.verify(artifact.sha256)
    with pytest.raises(ArtifactIntegrityError):
        load_model(f"models:/{name}/1", client=client)


def test_class_labels_other_than_0_to_n_are_refused(binary) -> None:
    features, target = binary
    labels = np.where(target == 1, "yes", "no")
    model = lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(features, labels)
    with pytest.raises(InvalidParameterValue, match=r"encode the target as 0\.\.n-1"):
        formats.dump_model(model, LIGHTGBM_TEXT)


def test_corrupt_files_are_invalid_parameter_values() -> None:
    with pytest.raises(InvalidParameterValue, match="not a valid XGBoost model"):
        formats.load_model_bytes(b"{Lnot a model", XGBOOST_UBJ)
    with pytest.raises(InvalidParameterValue, match="not a valid LightGBM model"):
        formats.load_model_bytes(b"tree\nversion=v4\nbroken", LIGHTGBM_TEXT)


@pytest.mark.parametrize(
    ("fmt", "library"), [(XGBOOST_UBJ, "xgboost"), (LIGHTGBM_TEXT, "lightgbm")]
)
def test_a_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, binary, fmt: str, library: str
) -> None:
    features, target = binary
    model = (
        xgb.XGBClassifier(n_estimators=2)
        if library == "xgboost"
        else lgb.LGBMClassifier(n_estimators=2, verbose=-1)
    ).fit(features, target)
    data = formats.dump_model(model, fmt)
    monkeypatch.setitem(sys.modules, library, None)  # what `import` sees when it is not installed
    with pytest.raises(
        MissingDependency, match=rf"pip install 'dagster-model-registry\[{library}\]'"
    ):
        formats.load_model_bytes(data, fmt)
    assert MissingDependency("x").error_code == "FEATURE_DISABLED"
