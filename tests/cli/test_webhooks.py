"""`registry webhooks ...` against a real registry and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.cli.conftest import MODEL, Outcome
from tests.webhooks.conftest import Receiver

SECRET = "whsec-cli-test"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.secret = SECRET
    yield server
    server.stop()


def test_subscribe_deliver_inspect_redeliver(
    cli: Callable[..., Outcome], receiver: Receiver
) -> None:
    created = cli(
        "webhooks",
        "create",
        "deploy",
        receiver.url,
        "--event",
        "model_version.stage_transitioned",
        "--secret",
        SECRET,
        json_output=True,
    )
    assert created.exit_code == 0, created.stderr
    assert created.json["has_secret"] is True
    listed = cli("webhooks", "list", json_output=True)
    assert [hook["name"] for hook in listed.json] == ["deploy"]
    assert SECRET not in listed.stdout and SECRET not in created.stdout

    assert cli("transition", MODEL, "3", "Production", "--archive-existing").exit_code == 0
    drained = cli("webhooks", "deliver", json_output=True)
    assert drained.exit_code == 0, drained.stderr
    assert drained.json["delivered"] == 2
    moves = {(r.json["data"]["version"], r.json["data"]["to_stage"]) for r in receiver.accepted}
    assert moves == {("3", "Production"), ("2", "Archived")}

    deliveries = cli("webhooks", "deliveries", "deploy", json_output=True).json
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("DELIVERED", 1)] * 2
    assert deliveries[0]["history"][0]["status_code"] == 200
    delivery_id = deliveries[0]["id"]
    assert delivery_id in {r.delivery_id for r in receiver.accepted}

    shown = cli("webhooks", "show", delivery_id)
    assert shown.exit_code == 0 and "DELIVERED" in shown.stdout

    again = cli("webhooks", "redeliver", delivery_id, json_output=True)
    assert again.exit_code == 0, again.stderr
    assert [r.delivery_id for r in receiver.accepted].count(delivery_id) == 2


def test_failed_test_send_exits_1_with_the_answer(
    cli: Callable[..., Outcome], receiver: Receiver
) -> None:
    assert cli("webhooks", "create", "wrong", receiver.url, "--secret", "nope").exit_code == 0
    sent = cli("webhooks", "test", "wrong")
    assert sent.exit_code == 1
    assert sent.stderr.startswith("DELIVERY_FAILED: ")
    assert "401" in sent.stderr + sent.stdout
    assert receiver.received[0].status == 401

    receiver.secret = None
    assert cli("webhooks", "test", "wrong").exit_code == 0


def test_bad_input_is_a_registry_error(cli: Callable[..., Outcome]) -> None:
    plain = cli("webhooks", "create", "remote", "http://example.com/hook")
    assert plain.exit_code == 1
    assert plain.stderr.startswith("INVALID_PARAMETER_VALUE: ")
    unknown_event = cli("webhooks", "create", "x", "https://example.com", "-e", "model.exploded")
    assert unknown_event.exit_code == 1
    assert unknown_event.stderr.startswith("INVALID_PARAMETER_VALUE: ")
    missing = cli("webhooks", "show", "no-such-delivery")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("RESOURCE_DOES_NOT_EXIST: ")
    assert cli("webhooks", "list", json_output=True).json == []


def test_update_and_delete(cli: Callable[..., Outcome]) -> None:
    assert cli("webhooks", "create", "slack", "https://hooks.example.com/x").exit_code == 0
    updated = cli(
        "webhooks", "update", "slack", "--format", "slack", "--status", "DISABLED", json_output=True
    )
    assert (updated.json["format"], updated.json["status"]) == ("slack", "DISABLED")
    assert cli("webhooks", "delete", "slack", "--yes").exit_code == 0
    gone = cli("webhooks", "delete", "slack", "--yes")
    assert gone.exit_code == 1 and gone.stderr.startswith("RESOURCE_DOES_NOT_EXIST: ")
