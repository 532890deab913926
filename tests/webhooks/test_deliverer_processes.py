"""Deliverers as real processes: killed mid-way, or two draining the outbox at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from registry_core.client import RegistryClient
from registry_core.webhooks.delivery import DeliveryConfig
from registry_core.webhooks.entities import (
    DELIVERY_DELIVERED,
    OUTCOME_ABANDONED,
    OUTCOME_DELIVERED,
)
from tests.webhooks.conftest import Clock, Receiver, Reply, deliverer, promote

ROOT = Path(__file__).resolve().parents[2]
TRANSITIONS = ["model_version.stage_transitioned"]
WORKER_LEASE_SECONDS = DeliveryConfig().lease_seconds


@pytest.fixture
def client(embedded_client: RegistryClient) -> RegistryClient:
    """These tests drive the embedded deliverer and artifact folder directly."""
    return embedded_client


def start_workers(mode: str, registry_path: Path, count: int = 1) -> list[subprocess.Popen[str]]:
    """Start `count` deliverer processes together and wait until each is ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_REGISTRY_WEBHOOK_")}
    command = [sys.executable, "-m", "tests.webhooks.deliverer_worker", mode, str(registry_path)]
    processes = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    return processes


def go(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()


def kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


def test_deliverer_killed_after_claiming_leaves_the_event_to_the_next(
    client: RegistryClient, receiver: Receiver, registry_path: Path, clock: Clock
) -> None:
    client.create_webhook("ci", receiver.url, TRANSITIONS)
    promote(client)
    client.close()
    (worker,) = start_workers("claim", registry_path)
    go(worker)
    assert worker.stdout is not None
    claimed = json.loads(worker.stdout.readline())
    kill(worker)
    assert len(claimed) == 1

    clock.now = time.time()
    sender = deliverer(client, clock)
    assert sender.deliver_pending().attempts == 0, "the lease still holds"
    clock.advance(WORKER_LEASE_SECONDS + 1)
    assert sender.deliver_pending().delivered == 1

    assert [r.delivery_id for r in receiver.received] == claimed
    delivery = client.get_webhook_delivery(claimed[0])
    assert delivery.status == DELIVERY_DELIVERED
    assert [a.outcome for a in delivery.history] == [OUTCOME_ABANDONED, OUTCOME_DELIVERED]


def test_deliverer_killed_while_sending_leaves_the_event_to_the_next(
    client: RegistryClient, receiver: Receiver, registry_path: Path, clock: Clock
) -> None:
    hold = threading.Event()
    receiver.script(Reply(200, hold=hold))
    client.create_webhook("ci", receiver.url, TRANSITIONS)
    promote(client)
    client.close()
    (worker,) = start_workers("drain", registry_path)
    go(worker)
    (unanswered,) = receiver.wait_for(1)
    kill(worker)
    hold.set()

    clock.now = time.time()
    sender = deliverer(client, clock)
    assert sender.deliver_pending().attempts == 0, "the lease still holds"
    clock.advance(WORKER_LEASE_SECONDS + 1)
    assert sender.deliver_pending().delivered == 1

    assert unanswered.status is None
    assert [r.delivery_id for r in receiver.accepted] == [unanswered.delivery_id]


def test_two_deliverers_draining_at_once_send_each_event_once(
    client: RegistryClient, receiver: Receiver, registry_path: Path
) -> None:
    receiver.latency = 0.02
    client.create_webhook("all", receiver.url, ["*"])
    client.create_webhook("versions", receiver.url, ["model_version.*"])
    client.create_registered_model("m")
    for _ in range(20):
        client.create_model_version("m", "runs:/r/model")
    client.close()
    workers = start_workers("drain", registry_path, 2)
    go(*workers)
    outputs = [worker.communicate(timeout=60) for worker in workers]

    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    summaries = [json.loads(out) for out, _ in outputs]
    assert sum(s["delivered"] for s in summaries) == 41
    assert all(s["delivered"] > 0 for s in summaries), "both deliverers took part"
    ids = [r.delivery_id for r in receiver.received]
    assert len(ids) == len(set(ids)) == 41
    deliveries = client.list_webhook_deliveries(limit=1000)
    assert sorted(d.id for d in deliveries) == sorted(ids)
    assert {d.status for d in deliveries} == {DELIVERY_DELIVERED}
    assert {len(d.history) for d in deliveries} == {1}
