"""Model versions: MLflow's semantics 5, 6, 10, 11 and 12 against a real registry file."""

from __future__ import annotations

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
from tests.conftest import error_code


@pytest.fixture
def model(client: RegistryClient) -> str:
    client.create_registered_model("m")
    return "m"


def test_new_version_defaults(client: RegistryClient, model: str) -> None:
    mv = client.create_model_version(model, "runs:/abc/model")
    assert (mv.version, mv.current_stage, mv.status, mv.tags) == ("1", "None", "READY", {})
    assert mv.run_id is None and mv.run_link is None and mv.aliases == ()
    assert mv.creation_timestamp == mv.last_updated_timestamp
    full = client.create_model_version(
        model, "runs:/def/model", run_id="def", tags={"k": 1}, run_link="http://x", description="d"
    )
    assert (full.version, full.run_id, full.run_link, full.description) == (
        "2",
        "def",
        "http://x",
        "d",
    )
    assert full.tags == {"k": "1"}
    assert client.get_model_version(model, "2") == full


def test_version_numbers_never_reused(client: RegistryClient, model: str) -> None:
    for _ in range(3):
        client.create_model_version(model, "runs:/r/model")
    client.delete_model_version(model, 3)
    assert client.create_model_version(model, "runs:/r/model").version == "4"


def test_missing_model_or_version(client: RegistryClient, model: str) -> None:
    assert error_code(lambda: client.create_model_version("ghost", "runs:/r/m")) == (
        RESOURCE_DOES_NOT_EXIST
    )
    assert error_code(lambda: client.get_model_version(model, 7)) == RESOURCE_DOES_NOT_EXIST
    for bad in ("x", 0, -1, True, 1.5):
        assert error_code(lambda bad=bad: client.get_model_version(model, bad)) == (
            INVALID_PARAMETER_VALUE
        )


def test_latest_versions_fall_back_after_delete(client: RegistryClient, model: str) -> None:
    for _ in range(3):
        client.create_model_version(model, "runs:/r/model")
    client.transition_model_version_stage(model, 1, "Production")
    client.transition_model_version_stage(model, 2, "Production")
    assert [mv.version for mv in client.get_latest_versions(model, ["Production"])] == ["2"]
    client.delete_model_version(model, 2)
    assert [mv.version for mv in client.get_latest_versions(model, ["production"])] == ["1"]
    assert [(mv.current_stage, mv.version) for mv in client.get_latest_versions(model)] == [
        ("None", "3"),
        ("Production", "1"),
    ]
    assert client.get_latest_versions(model, ["Staging"]) == []


def test_deleted_version_is_gone(client: RegistryClient, model: str) -> None:
    client.create_model_version(model, "runs:/r/model")
    client.create_model_version(model, "runs:/r/model")
    client.set_registered_model_alias(model, "champion", 1)
    client.set_registered_model_alias(model, "backup", 1)
    client.delete_model_version(model, 1)
    for call in (
        lambda: client.get_model_version(model, 1),
        lambda: client.update_model_version(model, 1, "d"),
        lambda: client.delete_model_version(model, 1),
        lambda: client.get_model_version_download_uri(model, 1),
        lambda: client.get_model_version_by_alias(model, "champion"),
    ):
        assert error_code(call) == RESOURCE_DOES_NOT_EXIST
    assert [mv.version for mv in client.search_model_versions(f"name = '{model}'")] == ["2"]
    assert client.get_registered_model(model).aliases == {}


def test_download_uri_is_stable(client: RegistryClient, model: str) -> None:
    client.create_model_version(model, "runs:/abc/model")
    client.update_model_version(model, 1, "new description")
    client.transition_model_version_stage(model, 1, "Staging")
    assert client.get_model_version_download_uri(model, 1) == "runs:/abc/model"


def test_version_tags(client: RegistryClient, model: str) -> None:
    client.create_model_version(model, "runs:/r/model")
    client.set_model_version_tag(model, 1, "validation", "passed")
    client.set_model_version_tag(model, "1", "validation", "failed")
    client.set_model_version_tag(model, 1, "n", 3.5)
    assert client.get_model_version(model, 1).tags == {"validation": "failed", "n": "3.5"}
    client.delete_model_version_tag(model, 1, "n")
    client.delete_model_version_tag(model, 1, "missing")
    assert client.get_model_version(model, 1).tags == {"validation": "failed"}
    assert error_code(lambda: client.set_model_version_tag(model, 9, "k", "v")) == (
        RESOURCE_DOES_NOT_EXIST
    )
    assert error_code(lambda: client.delete_model_version_tag(model, 9, "k")) == (
        RESOURCE_DOES_NOT_EXIST
    )


def test_update_description_touches_timestamp(client: RegistryClient, model: str) -> None:
    mv = client.create_model_version(model, "runs:/r/model")
    updated = client.update_model_version(model, 1, "described")
    assert updated.description == "described"
    assert updated.last_updated_timestamp >= mv.last_updated_timestamp


def test_empty_source_refused(client: RegistryClient, model: str) -> None:
    assert error_code(lambda: client.create_model_version(model, "")) == INVALID_PARAMETER_VALUE


def test_record_validation_refuses_a_non_numeric_metric(client: RegistryClient, model: str) -> None:
    client.create_model_version(model, "runs:/r/model")
    client.record_validation(model, 1, [], {"f1": 0.9})
    assert client.get_model_version(model, 1).tags == {"validation": "passed"}
    bad = {"f1": "high"}
    assert error_code(lambda: client.record_validation(model, 1, ["f1"], bad)) == (
        INVALID_PARAMETER_VALUE
    )
    assert client.get_model_version(model, 1).tags == {"validation": "passed"}
