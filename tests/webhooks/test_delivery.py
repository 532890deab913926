"""Deliveries to a real HTTP receiver: signatures, failures, retries, outages and formats."""

from __future__ import annotations

import threading
from email.utils import formatdate
from pathlib import Path

import pytest

from registry_core.client import RegistryClient
from registry_core.webhooks.entities import (
    DELIVERY_DEAD_LETTER,
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    OUTCOME_DEAD_LETTER,
    OUTCOME_DELIVERED,
    OUTCOME_RETRY,
)
from registry_core.webhooks.signing import generate_secret, verify
from tests.webhooks.conftest import Clock, Receiver, Reply, deliverer, promote

SECRET = generate_secret()
TRANSITIONS = ["model_version.stage_transitioned"]


@pytest.fixture
def client(embedded_client: RegistryClient) -> RegistryClient:
    """These tests drive the embedded deliverer and artifact folder directly."""
    return embedded_client


def test_production_transition_reaches_the_receiver_signed(
    client: RegistryClient, receiver: Receiver
) -> None:
    receiver.secret = SECRET
    client.create_webhook("deploy", receiver.url, TRANSITIONS, secret=SECRET)
    promote(client)

    summary = client.deliver_webhooks()

    assert summary.delivered == 1
    (request,) = receiver.received
    assert request.status == 200
    assert verify(SECRET, request.headers, request.body)
    assert request.json["entity"] == "model_version"
    assert request.json["action"] == "stage_transitioned"
    assert request.json["timestamp"].endswith("Z")
    assert request.json["data"] == {
        "name": "churn",
        "version": "1",
        "from_stage": "None",
        "to_stage": "Production",
        "actor": "alice",
        "reason": "beats the champion",
        "run_id": "r1",
    }
    (delivery,) = client.list_webhook_deliveries("deploy")
    assert delivery.id == request.delivery_id
    assert delivery.status == DELIVERY_DELIVERED
    assert delivery.event == "model_version.stage_transitioned"


def test_wrong_secret_is_a_401_in_the_history_while_the_change_succeeded(
    client: RegistryClient, receiver: Receiver
) -> None:
    receiver.secret = SECRET
    client.create_webhook("deploy", receiver.url, TRANSITIONS, secret=generate_secret())
    promote(client)
    assert client.get_model_version("churn", 1).current_stage == "Production"

    summary = client.deliver_webhooks()

    assert (summary.failed, summary.retrying) == (1, 0)
    (delivery,) = client.list_webhook_deliveries("deploy")
    assert delivery.status == DELIVERY_FAILED
    assert delivery.last_status_code == 401
    assert [a.status_code for a in delivery.history] == [401]
    assert client.deliver_webhooks().attempts == 0
    assert client.list_webhook_deliveries(status="failed") == [delivery]

    client.update_webhook("deploy", secret=SECRET)
    assert client.redeliver(delivery.id).status_code == 200
    history = client.get_webhook_delivery(delivery.id).history
    assert [a.status_code for a in history] == [401, 200]
    assert [r.delivery_id for r in receiver.accepted] == [delivery.id]


def test_500_twice_then_200_is_delivered_once_after_backoff(
    client: RegistryClient, receiver: Receiver, clock: Clock
) -> None:
    receiver.script(500, 500)
    client.create_webhook("ci", receiver.url, TRANSITIONS)
    promote(client)
    sender = deliverer(client, clock)

    assert sender.deliver_pending().retrying == 1
    (delivery,) = client.list_webhook_deliveries("ci")
    now_ms = int(clock() * 1000)
    assert delivery.status == DELIVERY_PENDING
    assert now_ms + 500 <= delivery.next_attempt_at <= now_ms + 1000
    assert sender.deliver_pending().attempts == 0
    clock.advance(1)
    assert sender.deliver_pending().retrying == 1
    clock.advance(4)
    assert sender.deliver_pending().delivered == 1
    clock.advance(3600)
    assert sender.deliver_pending().attempts == 0

    assert [r.status for r in receiver.received] == [500, 500, 200]
    assert len({r.delivery_id for r in receiver.received}) == 1
    assert len(receiver.accepted) == 1
    (delivery,) = client.list_webhook_deliveries("ci")
    assert delivery.status == DELIVERY_DELIVERED
    assert [a.status_code for a in delivery.history] == [500, 500, 200]
    outcomes = [a.outcome for a in delivery.history]
    assert outcomes == [OUTCOME_RETRY, OUTCOME_RETRY, OUTCOME_DELIVERED]
    assert [a.number for a in delivery.history] == [1, 2, 3]
    assert all(a.latency_ms is not None and a.latency_ms >= 0 for a in delivery.history)


@pytest.mark.parametrize("kind", ["seconds", "http-date"])
def test_429_retry_after_is_honoured(
    client: RegistryClient, receiver: Receiver, clock: Clock, kind: str
) -> None:
    wait = 120 if kind == "seconds" else 300
    value = str(wait) if kind == "seconds" else formatdate(clock() + wait, usegmt=True)
    receiver.script(Reply(429, {"Retry-After": value}))
    client.create_webhook("ci", receiver.url, TRANSITIONS)
    promote(client)
    sender = deliverer(client, clock)

    assert sender.deliver_pending().retrying == 1
    (delivery,) = client.list_webhook_deliveries("ci")
    delay_ms = delivery.next_attempt_at - int(clock() * 1000)
    assert (wait - 1) * 1000 <= delay_ms <= wait * 1000
    assert delivery.last_status_code == 429
    clock.advance(wait - 1.5)
    assert sender.deliver_pending().attempts == 0
    clock.advance(2)
    assert sender.deliver_pending().delivered == 1
    assert [r.status for r in receiver.received] == [429, 200]


def test_receiver_down_during_the_change_gets_the_event_when_back(
    client: RegistryClient, receiver: Receiver, clock: Clock
) -> None:
    client.create_webhook("ci", receiver.url, TRANSITIONS)
    receiver.stop()
    promote(client)
    assert client.get_model_version("churn", 1).current_stage == "Production"
    sender = deliverer(client, clock)

    assert sender.deliver_pending().retrying == 1
    (waiting,) = client.list_webhook_deliveries("ci")
    assert waiting.status == DELIVERY_PENDING
    assert waiting.last_status_code is None
    assert "Connect" in (waiting.last_error or "")

    receiver.start()
    clock.advance(1)
    assert sender.deliver_pending().delivered == 1
    assert [r.delivery_id for r in receiver.accepted] == [waiting.id]


def test_a_registry_change_never_waits_for_a_hanging_receiver(
    client: RegistryClient, receiver: Receiver, registry_path: Path, clock: Clock
) -> None:
    hold = threading.Event()
    receiver.script(Reply(200, hold=hold))
    client.create_webhook("ci", receiver.url, ["model_version.*"])
    promote(client)
    sender = threading.Thread(target=deliverer(client, clock).deliver_pending)
    sender.start()
    receiver.wait_for(1)
    try:
        other_process_view = RegistryClient(registry_path, lock_timeout=2.0)
        other_process_view.transition_model_version_stage("churn", 1, "Archived")
        other_process_view.close()
    finally:
        hold.set()
        sender.join()
    assert client.get_model_version("churn", 1).current_stage == "Archived"


def test_a_timeout_is_retried(client: RegistryClient, receiver: Receiver, clock: Clock) -> None:
    hold = threading.Event()
    receiver.script(Reply(200, hold=hold))
    client.create_webhook("ci", receiver.url, TRANSITIONS)
    promote(client)
    try:
        assert deliverer(client, clock, timeout=0.3).deliver_pending().retrying == 1
    finally:
        hold.set()
    (delivery,) = client.list_webhook_deliveries("ci")
    assert "timed out" in (delivery.last_error or "")
    clock.advance(1)
    assert deliverer(client, clock).deliver_pending().delivered == 1


def test_dead_letter_after_max_attempts_then_redeliver(
    client: RegistryClient, receiver: Receiver, clock: Clock
) -> None:
    receiver.script(503, 503, 503)
    client.create_webhook("ci", receiver.url, TRANSITIONS)
    promote(client)
    sender = deliverer(client, clock, max_attempts=3)

    assert sender.deliver_pending().retrying == 1
    clock.advance(1)
    assert sender.deliver_pending().retrying == 1
    clock.advance(4)
    assert sender.deliver_pending().dead_lettered == 1
    clock.advance(86_400)
    assert sender.deliver_pending().attempts == 0
    (delivery,) = client.list_webhook_deliveries("ci", status="DEAD_LETTER")
    assert delivery.status == DELIVERY_DEAD_LETTER
    assert delivery.history[-1].outcome == OUTCOME_DEAD_LETTER

    assert client.redeliver(delivery.id).status_code == 200
    assert client.get_webhook_delivery(delivery.id).status == DELIVERY_DELIVERED
    assert [r.status for r in receiver.received] == [503, 503, 503, 200]


def test_redirects_are_failures_never_followed(client: RegistryClient, receiver: Receiver) -> None:
    receiver.script(Reply(302, {"Location": "https://elsewhere.example/hook"}))
    client.create_webhook("ci", receiver.url, TRANSITIONS)
    promote(client)

    assert client.deliver_webhooks().failed == 1
    (delivery,) = client.list_webhook_deliveries("ci")
    assert delivery.last_status_code == 302
    assert "not followed" in (delivery.last_error or "")
    assert len(receiver.received) == 1


def test_slack_format_sends_a_readable_message(client: RegistryClient, receiver: Receiver) -> None:
    client.create_webhook("slack", receiver.url, TRANSITIONS, format="slack")
    promote(client)

    assert client.deliver_webhooks().delivered == 1
    message = receiver.received[0].json
    assert "entity" not in message
    assert message["text"] == (
        ":rocket: *churn* version *1* moved from *None* to *Production* by alice: "
        "_beats the champion_"
    )
    assert message["blocks"][0]["text"]["text"] == message["text"]


def test_test_webhook_sends_to_that_webhook_only(
    client: RegistryClient, receiver: Receiver
) -> None:
    receiver.secret = SECRET
    client.create_webhook("ci", receiver.url, ["*"], secret=SECRET)
    client.create_webhook("everything", receiver.url, ["*"], secret=SECRET)

    attempt = client.test_webhook("ci")

    assert attempt.succeeded
    assert (attempt.status_code, attempt.outcome) == (200, OUTCOME_DELIVERED)
    assert client.deliver_webhooks().attempts == 0
    (request,) = receiver.received
    assert (request.json["entity"], request.json["action"]) == ("webhook", "test")
    assert request.json["data"]["webhook"] == "ci"
    assert client.list_webhook_deliveries("everything") == []


def test_disabled_webhooks_get_nothing_until_enabled(
    client: RegistryClient, receiver: Receiver
) -> None:
    client.create_webhook("ci", receiver.url, ["model_version.*"], status="DISABLED")
    promote(client)
    assert client.deliver_webhooks().attempts == 0

    client.update_webhook("ci", status="ACTIVE")
    client.transition_model_version_stage("churn", 1, "Archived")
    assert client.deliver_webhooks().delivered == 1
    assert receiver.received[0].json["data"]["to_stage"] == "Archived"


def test_only_events_after_the_subscription_are_sent(
    client: RegistryClient, receiver: Receiver
) -> None:
    promote(client)
    client.create_webhook("ci", receiver.url, ["*"])
    assert client.deliver_webhooks().attempts == 0

    client.transition_model_version_stage("churn", 1, "Archived")
    assert client.deliver_webhooks().delivered == 1
    assert len(receiver.received) == 1


def test_transition_request_and_comment_events_reach_a_subscriber(
    client: RegistryClient, receiver: Receiver
) -> None:
    client.create_webhook(
        "approvals", receiver.url, ["transition_request.*", "model_version_comment.created"]
    )
    promote(client)
    client.create_model_version("churn", "runs:/r2/model", run_id="r2")
    client.create_transition_request("churn", 2, "Production", "f1 up", actor="wanda")
    client.create_comment("churn", 2, "checked latency", actor="pat")
    client.approve_transition_request("churn", 2, "Production", actor="pat")

    assert client.deliver_webhooks().delivered == 3
    events = sorted((r.json["entity"], r.json["action"]) for r in receiver.received)
    assert events == [
        ("model_version_comment", "created"),
        ("transition_request", "approved"),
        ("transition_request", "created"),
    ]
    (approved,) = [r.json["data"] for r in receiver.received if r.json["action"] == "approved"]
    assert (approved["requested_by"], approved["actor"], approved["to_stage"]) == (
        "wanda",
        "pat",
        "Production",
    )
