"""LoadedModel: predictions go through the signature, the raw model stays reachable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from registry_core.artifacts import ArtifactStore
from registry_core.errors import InvalidParameterValue
from registry_core.formats import SKOPS, dump_model, load_model_bytes
from registry_core.loaded_model import LoadedModel, ModelInfo
from registry_core.signature import infer_signature

COLUMNS = ["f0", "f1", "f2"]


@pytest.fixture(scope="module")
def training() -> tuple[pd.DataFrame, np.ndarray]:
    features, target = make_classification(
        n_samples=40, n_features=3, n_informative=2, n_redundant=0, random_state=0
    )
    return pd.DataFrame(features, columns=COLUMNS), target


@pytest.fixture
def loaded(tmp_path: Path, training: tuple[pd.DataFrame, np.ndarray]) -> LoadedModel:
    """A classifier stored in a real artifact store and loaded back, as the client will do."""
    features, target = training
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, target)
    store = ArtifactStore(tmp_path / "artifacts")
    ref = store.put_bytes(dump_model(model))
    raw = load_model_bytes(store.read_verified(ref.sha256), SKOPS)
    info = ModelInfo(
        uri="models:/churn/2", name="churn", version="2", sha256=ref.sha256, format=SKOPS
    )
    return LoadedModel(raw, infer_signature(features, model), info)


def test_predict_matches_the_raw_model(
    loaded: LoadedModel, training: tuple[pd.DataFrame, np.ndarray]
) -> None:
    features, _ = training
    np.testing.assert_array_equal(loaded.predict(features), loaded.raw_model.predict(features))
    np.testing.assert_array_equal(
        loaded.predict_proba(features), loaded.raw_model.predict_proba(features)
    )
    assert loaded.supports_predict_proba


def test_predict_reorders_columns_and_upcasts(
    loaded: LoadedModel, training: tuple[pd.DataFrame, np.ndarray]
) -> None:
    features, _ = training
    rounded = features.round().astype("int64")
    shuffled = rounded[["f2", "f0", "f1"]]
    expected = loaded.raw_model.predict(rounded.astype("float64"))
    np.testing.assert_array_equal(loaded.predict(shuffled), expected)


def test_predict_enforces_the_signature(
    loaded: LoadedModel, training: tuple[pd.DataFrame, np.ndarray]
) -> None:
    features, _ = training
    with pytest.raises(InvalidParameterValue, match="f1"):
        loaded.predict(features.drop(columns=["f1"]))
    with pytest.raises(InvalidParameterValue, match="'f0' expects float64"):
        loaded.predict_proba(features.assign(f0="high"))
    with pytest.warns(UserWarning, match="extra"):
        loaded.predict(features.assign(extra=1.0))


def test_without_signature_input_passes_through(
    training: tuple[pd.DataFrame, np.ndarray],
) -> None:
    features, target = training
    model = LinearRegression().fit(features.to_numpy(), target)
    info = ModelInfo(
        uri="runs:/abc/model", name="plain", version="1", sha256="0" * 64, format=SKOPS
    )
    loaded = LoadedModel(model, None, info)
    np.testing.assert_array_equal(
        loaded.predict(features.to_numpy()), model.predict(features.to_numpy())
    )
    assert not loaded.supports_predict_proba
    with pytest.raises(InvalidParameterValue, match=r"'plain' version 1.*predict_proba"):
        loaded.predict_proba(features.to_numpy())
    assert loaded.signature is None
    assert "signature=none" in repr(loaded)


def test_model_without_predict_is_refused() -> None:
    info = ModelInfo(
        uri="runs:/abc/model", name="scaler", version="1", sha256="0" * 64, format=SKOPS
    )
    with pytest.raises(InvalidParameterValue, match="no predict method"):
        LoadedModel(StandardScaler(), None, info)


def test_accessors_and_repr(loaded: LoadedModel) -> None:
    assert loaded.info.name == "churn"
    assert loaded.signature is not None and loaded.signature.output_kind == "classification"
    assert type(loaded.raw_model).__name__ == "Pipeline"
    text = repr(loaded)
    assert text.startswith("LoadedModel(name='churn', version=2, model=Pipeline, format=skops")
    assert loaded.info.sha256[:12] in text
    assert "3 dataframe input(s) -> classification" in text
