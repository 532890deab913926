"""Model signatures: inference from examples, JSON round trips and enforcement at predict time."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from registry_core.errors import InvalidParameterValue
from registry_core.signature import (
    ColumnSpec,
    ModelSignature,
    enforce_signature,
    infer_signature,
)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.array([30, 40, 50], dtype="int64"),
            "income": [1.5, 2.5, 3.5],
            "city": pd.array(["a", "b", "c"], dtype="str"),
        }
    )


@pytest.fixture
def signature(frame: pd.DataFrame) -> ModelSignature:
    return infer_signature(frame)


def test_infer_from_dataframe(frame: pd.DataFrame) -> None:
    signature = infer_signature(frame)
    assert signature.inputs == (
        ColumnSpec("age", "int64"),
        ColumnSpec("income", "float64"),
        ColumnSpec("city", "str"),
    )
    assert signature.input_kind == "dataframe"
    assert signature.output_kind == "unknown"
    assert signature.column_names == ["age", "income", "city"]


def test_infer_from_ndarray() -> None:
    signature = infer_signature(np.zeros((2, 3), dtype="float32"))
    assert signature.input_kind == "ndarray"
    assert signature.inputs == tuple(ColumnSpec(str(i), "float32") for i in range(3))


def test_output_kind_from_model() -> None:
    example = np.zeros((2, 2))
    assert infer_signature(example, LogisticRegression()).output_kind == "classification"
    assert infer_signature(example, LinearRegression()).output_kind == "regression"
    pipeline = make_pipeline(StandardScaler(), LogisticRegression())
    assert infer_signature(example, pipeline).output_kind == "classification"
    assert infer_signature(example, KMeans()).output_kind == "unknown"


@pytest.mark.parametrize(
    "example",
    [[[1, 2]], np.zeros(3), pd.DataFrame({0: [1]}), pd.DataFrame([[1, 2]], columns=["a", "a"])],
)
def test_infer_refuses_unusable_examples(example: object) -> None:
    with pytest.raises(InvalidParameterValue):
        infer_signature(example)


def test_dict_round_trip_is_json_safe(signature: ModelSignature) -> None:
    stored = json.dumps(signature.to_dict())
    assert ModelSignature.from_dict(json.loads(stored)) == signature
    array_signature = infer_signature(np.zeros((1, 2)), LinearRegression())
    assert ModelSignature.from_dict(json.loads(json.dumps(array_signature.to_dict()))) == (
        array_signature
    )


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"inputs": [{"name": "a"}], "output_kind": "unknown"},
        {"inputs": [], "output_kind": "clustering"},
        {"inputs": [], "output_kind": "unknown", "input_kind": "tensor"},
    ],
)
def test_from_dict_refuses_malformed(data: dict[str, object]) -> None:
    with pytest.raises(InvalidParameterValue):
        ModelSignature.from_dict(data)


def test_matching_input_passes_unchanged(signature: ModelSignature, frame: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = enforce_signature(signature, frame)
    pd.testing.assert_frame_equal(result, frame)


def test_missing_columns_are_named(signature: ModelSignature, frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidParameterValue, match=r"missing column.*age, city"):
        enforce_signature(signature, frame[["income"]])


def test_extra_columns_are_dropped_with_a_warning(
    signature: ModelSignature, frame: pd.DataFrame
) -> None:
    with pytest.warns(UserWarning, match="not in the model signature: extra"):
        result = enforce_signature(signature, frame.assign(extra=1))
    assert list(result.columns) == ["age", "income", "city"]


def test_column_order_is_restored(signature: ModelSignature, frame: pd.DataFrame) -> None:
    result = enforce_signature(signature, frame[["city", "income", "age"]])
    pd.testing.assert_frame_equal(result, frame)


def test_int_is_upcast_to_float(signature: ModelSignature, frame: pd.DataFrame) -> None:
    result = enforce_signature(signature, frame.assign(income=[1, 2, 3]))
    assert result["income"].dtype == np.float64
    assert result["income"].tolist() == [1.0, 2.0, 3.0]
    narrow = enforce_signature(signature, frame.assign(age=np.array([1, 2, 3], dtype="int8")))
    assert narrow["age"].dtype == np.int64


@pytest.mark.parametrize(
    ("column", "values", "actual"),
    [
        ("income", ["1.5", "x", "3"], "str"),
        ("income", pd.Series(["1.5", "x", "3"], dtype=object), "object"),
        ("age", [1.5, 2.0, 3.0], "float64"),
        ("age", pd.array([1, None, 3], dtype="Int64"), "Int64"),
        ("city", [1, 2, 3], "int64"),
        ("city", pd.Series([1, "b", 3], dtype=object), "object"),
    ],
)
def test_unsafe_dtypes_are_refused(
    signature: ModelSignature, frame: pd.DataFrame, column: str, values: object, actual: str
) -> None:
    expected = next(spec.dtype for spec in signature.inputs if spec.name == column)
    with pytest.raises(InvalidParameterValue) as caught:
        enforce_signature(signature, frame.assign(**{column: values}))
    assert f"column '{column}' expects {expected} but got {actual}" in str(caught.value)


def test_every_bad_column_is_reported(signature: ModelSignature, frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        enforce_signature(signature, frame.assign(age=[1.5, 2, 3], income=["x", "y", "z"]))
    assert "'age'" in str(caught.value) and "'income'" in str(caught.value)


def test_object_strings_fit_a_string_column(signature: ModelSignature, frame: pd.DataFrame) -> None:
    strings = frame.assign(city=pd.Series(["x", "y", None], dtype=object))
    assert strings["city"].dtype == object
    result = enforce_signature(signature, strings)
    assert str(result["city"].dtype) == "str"


def test_records_are_accepted(signature: ModelSignature) -> None:
    records = [{"city": "a", "age": 1, "income": 2.0}]
    result = enforce_signature(signature, records)
    assert list(result.columns) == ["age", "income", "city"]


def test_dataframe_signature_refuses_arrays(signature: ModelSignature) -> None:
    with pytest.raises(InvalidParameterValue, match="expects a pandas DataFrame"):
        enforce_signature(signature, np.zeros((1, 3)))


def test_categorical_column_matches_itself() -> None:
    frame = pd.DataFrame({"colour": pd.Categorical(["red", "blue"])})
    signature = infer_signature(frame)
    assert signature.inputs == (ColumnSpec("colour", "category"),)
    pd.testing.assert_frame_equal(enforce_signature(signature, frame), frame)


def test_ndarray_signature() -> None:
    signature = infer_signature(np.zeros((2, 3)))
    result = enforce_signature(signature, np.ones((4, 3), dtype="int64"))
    assert result.dtype == np.float64
    with pytest.raises(InvalidParameterValue, match=r"2 column.*expects 3"):
        enforce_signature(signature, np.ones((4, 2)))
    with pytest.raises(InvalidParameterValue, match=r"dtype <U1 .*expects float64"):
        enforce_signature(signature, np.array([["a", "b", "c"]]))
    with pytest.raises(InvalidParameterValue, match="2-D"):
        enforce_signature(signature, np.ones(3))


def test_ndarray_int_signature_refuses_floats() -> None:
    signature = infer_signature(np.zeros((2, 2), dtype="int64"))
    with pytest.raises(InvalidParameterValue, match=r"dtype float64 .*expects int64"):
        enforce_signature(signature, np.ones((1, 2)))
