"""Model serialisation: skops round trips, the loader's trust rule, and opt-in pickle."""

from __future__ import annotations

import os
import pickle
import re

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from registry_core.errors import InvalidParameterValue, UntrustedModelError
from registry_core.formats import (
    PICKLE,
    SKOPS,
    TRUSTED_TYPES_ENV,
    default_format,
    dump_model,
    env_trusted_types,
    find_untrusted_types,
    is_trusted_type,
    load_model_bytes,
)


def double(values: np.ndarray) -> np.ndarray:
    """A function outside every trusted package, used as a FunctionTransformer's func."""
    return values * 2


class Doubler(TransformerMixin, BaseEstimator):
    """A custom transformer class outside every trusted package."""

    def fit(self, features: np.ndarray, target: object = None) -> Doubler:
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        return features * 2


DOUBLE = f"{double.__module__}.{double.__qualname__}"
DOUBLER = f"{Doubler.__module__}.{Doubler.__qualname__}"


@pytest.fixture(autouse=True)
def no_env_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUSTED_TYPES_ENV, raising=False)


@pytest.fixture(scope="module")
def classification() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=60, n_features=4, random_state=0)


@pytest.fixture(scope="module")
def regression() -> tuple[np.ndarray, np.ndarray]:
    return make_regression(n_samples=60, n_features=4, random_state=0)


def test_linear_regression_round_trip(regression: tuple[np.ndarray, np.ndarray]) -> None:
    features, target = regression
    model = LinearRegression().fit(features, target)
    loaded = load_model_bytes(dump_model(model), SKOPS)
    assert isinstance(loaded, LinearRegression)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_random_forest_round_trip(classification: tuple[np.ndarray, np.ndarray]) -> None:
    features, target = classification
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(features, target)
    data = dump_model(model)
    assert "sklearn.tree._tree.Tree" not in find_untrusted_types(data)
    loaded = load_model_bytes(data, SKOPS)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))


def test_pipeline_round_trip(classification: tuple[np.ndarray, np.ndarray]) -> None:
    features, target = classification
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    model.fit(features, target)
    loaded = load_model_bytes(dump_model(model, SKOPS), SKOPS)
    assert [name for name, _ in loaded.steps] == ["scale", "clf"]
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))


def test_custom_class_is_refused_then_trusted(
    regression: tuple[np.ndarray, np.ndarray],
) -> None:
    features, target = regression
    model = make_pipeline(Doubler(), LinearRegression()).fit(features, target)
    data = dump_model(model)
    with pytest.raises(UntrustedModelError) as caught:
        load_model_bytes(data, SKOPS)
    message = str(caught.value)
    assert DOUBLER in message
    assert "trusted_types" in message and TRUSTED_TYPES_ENV in message
    loaded = load_model_bytes(data, SKOPS, trusted_types=[DOUBLER])
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_function_is_refused_then_trusted(regression: tuple[np.ndarray, np.ndarray]) -> None:
    features, target = regression
    model = make_pipeline(FunctionTransformer(func=double), LinearRegression())
    model.fit(features, target)
    data = dump_model(model)
    assert find_untrusted_types(data) == [DOUBLE]
    with pytest.raises(UntrustedModelError, match=re.escape(DOUBLE)):
        load_model_bytes(data, SKOPS)
    loaded = load_model_bytes(data, SKOPS, trusted_types=[DOUBLE])
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_every_offending_type_is_named() -> None:
    model = make_pipeline(Doubler(), FunctionTransformer(func=double))
    data = dump_model(model)
    with pytest.raises(UntrustedModelError) as caught:
        load_model_bytes(data, SKOPS, trusted_types=["some.other.Type"])
    assert DOUBLE in str(caught.value) and DOUBLER in str(caught.value)
    assert find_untrusted_types(data, trusted_types=[DOUBLE]) == [DOUBLER]


def test_environment_variable_extends_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    data = dump_model(make_pipeline(Doubler(), FunctionTransformer(func=double)))
    monkeypatch.setenv(TRUSTED_TYPES_ENV, f" {DOUBLER} ,, {DOUBLE} ")
    assert env_trusted_types() == {DOUBLER, DOUBLE}
    loaded = load_model_bytes(data, SKOPS)
    np.testing.assert_array_equal(loaded.transform(np.ones((1, 2))), np.full((1, 2), 4.0))


@pytest.mark.parametrize("func", [np.load, np.sum, eval, os.system])
def test_functions_stay_untrusted_even_in_trusted_packages(func: object) -> None:
    data = dump_model(FunctionTransformer(func=func))
    refused = find_untrusted_types(data)
    assert len(refused) == 1
    with pytest.raises(UntrustedModelError, match=re.escape(refused[0])):
        load_model_bytes(data, SKOPS)


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.linear_model.LinearRegression", True),
        ("sklearn.tree._tree.Tree", True),
        ("sklearn.neighbors._kd_tree.KDTree", True),
        ("numpy.dtype", True),
        ("scipy.sparse._csr.csr_matrix", True),
        ("collections.Counter", True),
        ("numpy.load", False),
        ("sklearn.base.clone", False),
        ("builtins.eval", False),
        ("os.system", False),
        ("posix.system", False),
        ("sklearn.utils._param_validation.Integral", False),
        ("sklearn.__class__", False),
        ("numpy.f2py.__main__.main", False),
        ("sklearn.no_such_module.Thing", False),
        ("sklearn_evil.Thing", False),
        ("sklearn", False),
    ],
)
def test_builtin_trust_rule(name: str, trusted: bool) -> None:
    assert is_trusted_type(name) is trusted


def test_explicit_trust_covers_any_name() -> None:
    assert is_trusted_type("os.system", trusted_types=["os.system"])


def test_pickle_needs_allow_pickle(classification: tuple[np.ndarray, np.ndarray]) -> None:
    features, target = classification
    model = LogisticRegression().fit(features, target)
    data = dump_model(model, PICKLE)
    with pytest.raises(UntrustedModelError, match="allow_pickle=True"):
        load_model_bytes(data, PICKLE)
    with pytest.raises(UntrustedModelError):
        load_model_bytes(data, PICKLE, trusted_types=["sklearn.linear_model.LogisticRegression"])
    loaded = load_model_bytes(data, PICKLE, allow_pickle=True)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidParameterValue, match=r"'onnx'.*skops, pickle"):
        dump_model(LinearRegression(), "onnx")
    with pytest.raises(InvalidParameterValue, match="'onnx'"):
        load_model_bytes(b"", "onnx")


def test_non_skops_bytes_are_refused() -> None:
    with pytest.raises(InvalidParameterValue, match="not a valid skops file"):
        load_model_bytes(pickle.dumps(LinearRegression()), SKOPS)


def test_default_format() -> None:
    assert default_format(make_pipeline(StandardScaler(), LinearRegression())) == SKOPS
    assert default_format({"weights": [1, 2]}) == PICKLE
