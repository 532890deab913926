"""Registered models: MLflow's semantics 1-4, 7 and 14 against a real registry file."""

from __future__ import annotations

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    RegistryError,
)
from tests.conftest import error_code


def test_create_and_get(client: RegistryClient) -> None:
    created = client.create_registered_model("churn", tags={"team": "growth"}, description="d")
    assert created.name == "churn"
    assert created.tags == {"team": "growth"}
    assert created.description == "d"
    assert created.latest_versions == ()
    assert created.aliases == {}
    assert created.creation_timestamp == created.last_updated_timestamp
    assert client.get_registered_model("churn") == created


def test_duplicate_and_bad_names(client: RegistryClient) -> None:
    client.create_registered_model("churn")
    assert error_code(lambda: client.create_registered_model("churn")) == RESOURCE_ALREADY_EXISTS
    for bad in ("", "   ", None, "a/b", "a@b"):
        assert error_code(lambda bad=bad: client.create_registered_model(bad)) == (
            INVALID_PARAMETER_VALUE
        )
    assert error_code(lambda: client.get_registered_model("nope")) == RESOURCE_DOES_NOT_EXIST


def test_error_message_names_the_model(client: RegistryClient) -> None:
    with pytest.raises(RegistryError, match="ghost"):
        client.get_registered_model("ghost")


def test_rename_moves_versions(client: RegistryClient) -> None:
    client.create_registered_model("old")
    client.create_model_version("old", "runs:/r1/model")
    client.create_model_version("old", "runs:/r2/model")
    client.set_registered_model_alias("old", "champion", 2)
    renamed = client.rename_registered_model("old", "new")
    assert renamed.name == "new"
    assert renamed.aliases == {"champion": "2"}
    assert [mv.version for mv in client.search_model_versions("name = 'new'")] == ["2", "1"]
    assert error_code(lambda: client.get_registered_model("old")) == RESOURCE_DOES_NOT_EXIST
    assert client.get_model_version("new", 1).name == "new"
    client.create_registered_model("other")
    assert error_code(lambda: client.rename_registered_model("new", "other")) == (
        RESOURCE_ALREADY_EXISTS
    )


def test_update_description(client: RegistryClient) -> None:
    client.create_registered_model("m")
    updated = client.update_registered_model("m", description="better")
    assert updated.description == "better"
    assert updated.last_updated_timestamp >= updated.creation_timestamp


def test_delete_removes_everything_and_name_is_reusable(client: RegistryClient) -> None:
    client.create_registered_model("m", tags={"a": "1"})
    client.create_model_version("m", "runs:/r/model", tags={"t": "v"})
    client.set_registered_model_alias("m", "champion", 1)
    client.delete_registered_model("m")
    assert error_code(lambda: client.delete_registered_model("m")) == RESOURCE_DOES_NOT_EXIST
    assert error_code(lambda: client.get_model_version("m", 1)) == RESOURCE_DOES_NOT_EXIST
    assert list(client.search_model_versions("name = 'm'")) == []
    again = client.create_registered_model("m")
    assert again.tags == {} and again.aliases == {}
    assert client.create_model_version("m", "runs:/r/model").version == "1"
    assert client.check_consistency() == []


def test_tags_are_strings_overwritten_and_deletable(client: RegistryClient) -> None:
    client.create_registered_model("m")
    client.set_registered_model_tag("m", "n", 12345)
    assert client.get_registered_model("m").tags == {"n": "12345"}
    client.set_registered_model_tag("m", "n", "new")
    assert client.get_registered_model("m").tags == {"n": "new"}
    client.delete_registered_model_tag("m", "n")
    client.delete_registered_model_tag("m", "missing")
    assert client.get_registered_model("m").tags == {}
    assert error_code(lambda: client.set_registered_model_tag("ghost", "k", "v")) == (
        RESOURCE_DOES_NOT_EXIST
    )
    assert error_code(lambda: client.delete_registered_model_tag("ghost", "k")) == (
        RESOURCE_DOES_NOT_EXIST
    )


def test_tag_limits(client: RegistryClient) -> None:
    client.create_registered_model("m")
    client.set_registered_model_tag("m", "k" * 250, "v" * 5000)
    assert error_code(lambda: client.set_registered_model_tag("m", "k" * 251, "v")) == (
        INVALID_PARAMETER_VALUE
    )
    assert error_code(lambda: client.set_registered_model_tag("m", "k", "v" * 5001)) == (
        INVALID_PARAMETER_VALUE
    )
    assert error_code(lambda: client.set_registered_model_tag("m", "", "v")) == (
        INVALID_PARAMETER_VALUE
    )


def test_registered_model_shows_aliases_and_latest_per_stage(client: RegistryClient) -> None:
    client.create_registered_model("m")
    for _ in range(4):
        client.create_model_version("m", "runs:/r/model")
    client.transition_model_version_stage("m", 1, "Production")
    client.transition_model_version_stage("m", 2, "Staging")
    client.transition_model_version_stage("m", 3, "Staging")
    client.set_registered_model_alias("m", "champion", 1)
    client.set_registered_model_alias("m", "challenger", 3)
    model = client.get_registered_model("m")
    assert model.aliases == {"challenger": "3", "champion": "1"}
    assert [(mv.current_stage, mv.version) for mv in model.latest_versions] == [
        ("None", "4"),
        ("Staging", "3"),
        ("Production", "1"),
    ]
    assert client.get_model_version("m", 1).aliases == ("champion",)
