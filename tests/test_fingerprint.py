"""Data fingerprints: stable for equal data, different for any change that matters."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from registry_core.errors import InvalidParameterValue
from registry_core.fingerprint import DataFingerprint, fingerprint_data


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "z"]})


def test_frame_fingerprint_is_stable(frame: pd.DataFrame) -> None:
    first = fingerprint_data(frame)
    assert first == fingerprint_data(frame.copy())
    assert first.row_count == 3
    assert first.schema == (("a", "int64"), ("b", "float64"), ("c", "str"))
    assert len(first.sha256) == 64


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(b=[0.5, 1.5, 2.6]),
        lambda f: f.rename(columns={"a": "alpha"}),
        lambda f: f.astype({"a": "float64"}),
        lambda f: f.iloc[[1, 0, 2]].reset_index(drop=True),
        lambda f: f.iloc[[1, 0, 2]],
        lambda f: f.iloc[:2],
        lambda f: f.set_axis([10, 11, 12]),
        lambda f: f[["b", "a", "c"]],
    ],
    ids=["value", "column-name", "dtype", "row-order", "reindexed", "rows", "index", "col-order"],
)
def test_frame_changes_change_the_digest(
    frame: pd.DataFrame, change: Callable[[pd.DataFrame], pd.DataFrame]
) -> None:
    assert fingerprint_data(change(frame)).sha256 != fingerprint_data(frame).sha256


def test_series_is_fingerprinted_as_a_frame() -> None:
    series = pd.Series([1, 2], name="target")
    assert fingerprint_data(series) == fingerprint_data(series.to_frame())


def test_array_fingerprint() -> None:
    array = np.arange(12, dtype="float64").reshape(4, 3)
    fingerprint = fingerprint_data(array)
    assert fingerprint == fingerprint_data(array.copy())
    assert fingerprint.row_count == 4
    assert fingerprint.schema == (("0", "float64"), ("1", "float64"), ("2", "float64"))
    changed = array.copy()
    changed[3, 2] = -1
    variants = [changed, array.reshape(3, 4), array.astype("float32"), array.T.copy(), array[:3]]
    digests = {fingerprint_data(variant).sha256 for variant in variants}
    assert fingerprint.sha256 not in digests
    assert len(digests) == len(variants)


def test_array_views_hash_like_copies() -> None:
    array = np.arange(12, dtype="int64").reshape(3, 4)
    view = array[:, ::2]
    assert fingerprint_data(view) == fingerprint_data(view.copy())


def test_object_arrays_hash_by_value() -> None:
    first = np.array([["a", "b"], ["c", "d"]], dtype=object)
    second = np.array([["a", "b"], ["c", "d"]], dtype=object)
    assert fingerprint_data(first) == fingerprint_data(second)
    second[1, 1] = "e"
    assert fingerprint_data(first) != fingerprint_data(second)


def test_dict_round_trip(frame: pd.DataFrame) -> None:
    fingerprint = fingerprint_data(frame)
    stored = json.dumps(fingerprint.to_dict())
    assert DataFingerprint.from_dict(json.loads(stored)) == fingerprint


@pytest.mark.parametrize("data", [{}, {"sha256": "x", "row_count": "many", "schema": []}])
def test_from_dict_refuses_malformed(data: dict[str, object]) -> None:
    with pytest.raises(InvalidParameterValue):
        DataFingerprint.from_dict(data)


@pytest.mark.parametrize("data", [[1, 2, 3], np.float64(1.0), np.array(5)])
def test_unsupported_data_is_refused(data: object) -> None:
    with pytest.raises(InvalidParameterValue):
        fingerprint_data(data)
