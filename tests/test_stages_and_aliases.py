"""Stages and aliases: MLflow's semantics 8, 9 and 13 against a real registry file."""

from __future__ import annotations

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, RegistryError
from tests.conftest import error_code


@pytest.fixture
def model(client: RegistryClient) -> str:
    client.create_registered_model("m")
    for _ in range(3):
        client.create_model_version("m", "runs:/r/model")
    return "m"


@pytest.mark.parametrize(
    "given,stored",
    [
        ("staging", "Staging"),
        ("PRODUCTION", "Production"),
        ("archived", "Archived"),
        ("none", "None"),
    ],
)
def test_stages_are_case_insensitive(
    client: RegistryClient, model: str, given: str, stored: str
) -> None:
    assert client.transition_model_version_stage(model, 1, given).current_stage == stored


def test_unknown_stage_names_allowed_values(client: RegistryClient, model: str) -> None:
    with pytest.raises(RegistryError, match="Production") as caught:
        client.transition_model_version_stage(model, 1, "Prod")
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
    assert "'Prod'" in caught.value.message


def test_archive_existing_versions(client: RegistryClient, model: str) -> None:
    client.transition_model_version_stage(model, 1, "Production")
    client.transition_model_version_stage(model, 2, "Production")
    client.transition_model_version_stage(model, 3, "Staging")
    client.transition_model_version_stage(model, 3, "Production", archive_existing_versions=True)
    stages = {mv.version: mv.current_stage for mv in client.search_model_versions("name='m'")}
    assert stages == {"1": "Archived", "2": "Archived", "3": "Production"}


@pytest.mark.parametrize("stage", ["None", "Archived"])
def test_archive_existing_refused_for_none_and_archived(
    client: RegistryClient, model: str, stage: str
) -> None:
    assert (
        error_code(
            lambda: client.transition_model_version_stage(
                model, 1, stage, archive_existing_versions=True
            )
        )
        == INVALID_PARAMETER_VALUE
    )
    assert client.get_model_version(model, 1).current_stage == "None"


def test_alias_is_unique_and_moves(client: RegistryClient, model: str) -> None:
    client.set_registered_model_alias(model, "champion", 1)
    client.set_registered_model_alias(model, "champion", 2)
    client.set_registered_model_alias(model, "stable", 2)
    assert client.get_model_version_by_alias(model, "champion").version == "2"
    assert client.get_model_version(model, 1).aliases == ()
    assert client.get_model_version(model, 2).aliases == ("champion", "stable")
    assert client.get_registered_model(model).aliases == {"champion": "2", "stable": "2"}
    client.delete_registered_model_alias(model, "stable")
    assert client.get_model_version(model, 2).aliases == ("champion",)


@pytest.mark.parametrize(
    "bad", ["latest", "LATEST", "v1", "v42", "has space", "a/b", "x" * 256, ""]
)
def test_bad_aliases(client: RegistryClient, model: str, bad: str) -> None:
    assert error_code(lambda: client.set_registered_model_alias(model, bad, 1)) == (
        INVALID_PARAMETER_VALUE
    )


def test_alias_target_must_exist(client: RegistryClient, model: str) -> None:
    assert error_code(lambda: client.set_registered_model_alias(model, "c", 9)) == (
        RESOURCE_DOES_NOT_EXIST
    )
    assert error_code(lambda: client.get_model_version_by_alias(model, "unknown")) == (
        RESOURCE_DOES_NOT_EXIST
    )
    assert error_code(lambda: client.delete_registered_model_alias(model, "unknown")) == (
        RESOURCE_DOES_NOT_EXIST
    )
