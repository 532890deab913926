"""Model URI parsing, as MLflow reads them."""

from __future__ import annotations

import pytest

from registry_core.errors import INVALID_PARAMETER_VALUE, RegistryError
from registry_core.uris import ModelUri, RunUri, parse_uri


@pytest.mark.parametrize(
    "uri,expected",
    [
        ("models:/churn/3", ModelUri("churn", version=3)),
        ("models:/churn/Production", ModelUri("churn", stage="Production")),
        ("models:/churn/production", ModelUri("churn", stage="Production")),
        ("models:/churn/latest", ModelUri("churn", latest=True)),
        ("models:/churn/LATEST", ModelUri("churn", latest=True)),
        ("models:/churn@champion", ModelUri("churn", alias="champion")),
        ("models:/my-model.v2@champion", ModelUri("my-model.v2", alias="champion")),
        ("runs:/abc123/model", RunUri("abc123", "model")),
        ("runs:/abc123/models/churn", RunUri("abc123", "models/churn")),
    ],
)
def test_parse(uri: str, expected: ModelUri | RunUri) -> None:
    assert parse_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "models:/churn",
        "models:/churn/3@champion",
        "models:/churn/Prod",
        "models:/@a",
        "runs:/abc",
        "models:/churn@latest",
        "s3://bucket/model",
        "",
        "models:/a/b/3",
    ],
)
def test_malformed(uri: str) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_uri(uri)
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
