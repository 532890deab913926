"""Every registry change emits its event, in the change's own transaction, with the documented
data fields; a change that fails emits nothing."""

from __future__ import annotations

from collections import Counter

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import RegistryError
from registry_core.webhooks.events import EVENT_FIELDS
from tests.webhooks.conftest import Receiver

ALIAS_SET = ("model_version_alias", "set")


def test_each_change_emits_its_event_with_the_documented_fields(
    client: RegistryClient, receiver: Receiver
) -> None:
    client.create_webhook("all", receiver.url, ["*"])
    client.create_registered_model("m")
    client.create_model_version("m", "runs:/r1/model")
    client.create_model_version("m", "runs:/r2/model")
    client.set_model_version_tag("m", 1, "k", "v")
    client.delete_model_version_tag("m", 1, "k")
    client.set_registered_model_alias("m", "champion", 1, actor="bob")
    client.transition_model_version_stage("m", 1, "Production")
    client.transition_model_version_stage("m", 2, "Production", archive_existing_versions=True)
    client.delete_registered_model_alias("m", "champion")
    client.delete_model_version("m", 2)
    client.rename_registered_model("m", "m2")
    client.delete_registered_model("m2")

    assert client.deliver_webhooks().delivered == 13
    bodies = [request.json for request in receiver.accepted]
    names = Counter(f"{body['entity']}.{body['action']}" for body in bodies)
    assert names == Counter(
        {
            "registered_model.created": 1,
            "model_version.created": 2,
            "model_version_tag.set": 1,
            "model_version_tag.deleted": 1,
            "model_version_alias.set": 1,
            "model_version.stage_transitioned": 3,
            "model_version_alias.deleted": 1,
            "model_version.deleted": 1,
            "registered_model.renamed": 1,
            "registered_model.deleted": 1,
        }
    )
    for body in bodies:
        event = f"{body['entity']}.{body['action']}"
        assert sorted(body["data"]) == sorted(EVENT_FIELDS[event]), event
    transitions = sorted(
        (b["data"]["version"], b["data"]["from_stage"], b["data"]["to_stage"])
        for b in bodies
        if b["action"] == "stage_transitioned"
    )
    assert transitions == [
        ("1", "None", "Production"),
        ("1", "Production", "Archived"),
        ("2", "None", "Production"),
    ]
    (alias_set,) = [b["data"] for b in bodies if (b["entity"], b["action"]) == ALIAS_SET]
    assert alias_set == {
        "name": "m",
        "alias": "champion",
        "version": "1",
        "previous_version": None,
        "actor": "bob",
        "reason": None,
    }


def test_a_failed_change_emits_nothing(client: RegistryClient, receiver: Receiver) -> None:
    client.create_registered_model("m")
    client.create_webhook("all", receiver.url, ["*"])
    with pytest.raises(RegistryError):
        client.create_registered_model("m")
    with pytest.raises(RegistryError):
        client.transition_model_version_stage("m", 1, "Production")
    assert client.deliver_webhooks().attempts == 0
