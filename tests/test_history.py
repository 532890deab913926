"""The audit trail: transitions and alias changes recorded, time travel and rollback."""

from __future__ import annotations

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import INVALID_STATE, RegistryError
from tests.conftest import next_millisecond


@pytest.fixture
def model(client: RegistryClient) -> str:
    client.create_registered_model("m")
    for _ in range(3):
        client.create_model_version("m", "runs:/r/model")
    return "m"


def test_archive_records_promoted_and_archived(client: RegistryClient, model: str) -> None:
    client.transition_model_version_stage(model, 1, "Production", actor="alice", reason="first")
    client.transition_model_version_stage(
        model, 2, "Production", archive_existing_versions=True, actor="bob", reason="better f1"
    )
    events = [
        (h.version, h.from_stage, h.to_stage, h.actor)
        for h in client.get_model_version_history(model)
        if h.event == "stage"
    ]
    assert events == [
        ("1", "None", "Production", "alice"),
        ("1", "Production", "Archived", "bob"),
        ("2", "None", "Production", "bob"),
    ]
    promoted = client.get_model_version_history(model, version=2)
    assert [(h.event, h.reason) for h in promoted] == [
        ("version_created", "registered from runs:/r/model"),
        ("stage", "better f1"),
    ]


def test_actor_defaults_from_environment(
    client: RegistryClient, model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_REGISTRY_ACTOR", "ci-bot")
    client.create_model_version(model, "runs:/r/model")
    client.transition_model_version_stage(model, 1, "Staging")
    client.set_registered_model_alias(model, "candidate", 1)
    history = client.get_model_version_history(model)
    assert {h.actor for h in history if h.event != "version_created" or h.version == "4"} == {
        "ci-bot"
    }


def test_alias_history_records_set_move_and_delete(client: RegistryClient, model: str) -> None:
    client.set_registered_model_alias(model, "champion", 1, actor="a", reason="r1")
    client.set_registered_model_alias(model, "champion", 2, actor="a")
    client.delete_registered_model_alias(model, "champion", actor="b", reason="retired")
    events = [
        (h.event, h.alias, h.version, h.from_version, h.actor, h.reason)
        for h in client.get_model_version_history(model)
        if h.event != "version_created"
    ]
    assert events == [
        ("alias_set", "champion", "1", None, "a", "r1"),
        ("alias_set", "champion", "2", "1", "a", None),
        ("alias_deleted", "champion", "2", None, "b", "retired"),
    ]


def test_version_at_before_between_and_after(client: RegistryClient, model: str) -> None:
    before = next_millisecond()
    next_millisecond()
    client.transition_model_version_stage(model, 1, "Production")
    client.set_registered_model_alias(model, "champion", 1)
    between = next_millisecond()
    next_millisecond()
    client.transition_model_version_stage(model, 2, "Production", archive_existing_versions=True)
    client.set_registered_model_alias(model, "champion", 2)
    after = next_millisecond()
    assert client.get_version_at(model, "Production", before) is None
    assert client.get_version_at(model, "Production", between).version == "1"
    assert client.get_version_at(model, "production", after).version == "2"
    assert client.get_version_at(model, "@champion", before) is None
    assert client.get_version_at(model, "@champion", between).version == "1"
    assert client.get_version_at(model, "@champion", after).version == "2"
    assert client.get_version_at(model, "Archived", after).version == "1"


def test_rollback_restores_previous_holder(client: RegistryClient, model: str) -> None:
    client.transition_model_version_stage(model, 1, "Production")
    client.transition_model_version_stage(model, 2, "Production", archive_existing_versions=True)
    restored = client.rollback(model, actor="oncall", reason="bad latency")
    assert restored.version == "1" and restored.current_stage == "Production"
    assert client.get_model_version(model, 2).current_stage == "Archived"
    last_two = client.get_model_version_history(model)[-2:]
    assert {(h.version, h.to_stage, h.actor, h.reason) for h in last_two} == {
        ("2", "Archived", "oncall", "bad latency"),
        ("1", "Production", "oncall", "bad latency"),
    }
    assert client.check_consistency() == []


def test_rollback_refused_when_nothing_to_roll_back(client: RegistryClient, model: str) -> None:
    with pytest.raises(RegistryError, match="no version of m is in Production") as caught:
        client.rollback(model)
    assert caught.value.error_code == INVALID_STATE
    client.transition_model_version_stage(model, 1, "Production")
    with pytest.raises(RegistryError, match="Nothing to roll back to") as caught:
        client.rollback(model)
    assert caught.value.error_code == INVALID_STATE
    assert client.get_model_version(model, 1).current_stage == "Production"


def test_rollback_skips_deleted_versions(client: RegistryClient, model: str) -> None:
    for version in (1, 2, 3):
        client.transition_model_version_stage(
            model, version, "Production", archive_existing_versions=True
        )
    client.delete_model_version(model, 2)
    assert client.rollback(model).version == "1"


def test_rollback_of_an_alias(client: RegistryClient, model: str) -> None:
    client.set_registered_model_alias(model, "champion", 1)
    client.set_registered_model_alias(model, "champion", 3)
    assert client.rollback(model, "@champion").version == "1"
    assert client.get_model_version_by_alias(model, "champion").version == "1"


def test_registration_and_validation_are_in_the_history(client: RegistryClient) -> None:
    client.create_registered_model("fresh")
    client.create_model_version("fresh", "runs:/r9/model", run_id="r9", actor="trainer")
    client.record_validation("fresh", 1, [], {"f1": 0.8125}, actor="validator")
    client.record_validation("fresh", 1, ["f1 0.81 < 0.9"], {"f1": 0.8125}, actor="validator")
    entries = [
        (h.event, h.actor, h.reason, h.change) for h in client.get_model_version_history("fresh")
    ]
    assert entries == [
        ("version_created", "trainer", "registered from run r9", "version registered"),
        ("validation_passed", "validator", "f1=0.8125", "validation passed"),
        ("validation_failed", "validator", "f1 0.81 < 0.9", "validation failed"),
    ]
