"""The Dagster sensor drains the outbox on each tick and runs by default."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from registry_core.client import RegistryClient
from registry_pipelines.resources import RegistryResource
from registry_pipelines.webhook_sensor import webhook_sensor
from tests.webhooks.conftest import Receiver, promote


def test_sensor_tick_delivers_pending_events(registry_path: Path, receiver: Receiver) -> None:
    client = RegistryClient(registry_path)
    client.create_webhook("ci", receiver.url, ["model_version.stage_transitioned"])
    promote(client)
    resources = {"registry": RegistryResource(registry_uri=str(registry_path))}

    with dg.instance_for_test() as instance:
        first = webhook_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources)
        )
        second = webhook_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources)
        )

    assert webhook_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert first.run_requests == []
    assert "1 delivered" in (first.skip_message or "")
    assert second.skip_message == "no webhook delivery was due"
    assert [r.json["action"] for r in receiver.accepted] == ["stage_transitioned"]


def test_sensor_loads_in_a_definitions_object() -> None:
    defs = dg.Definitions(sensors=[webhook_sensor], resources={"registry": RegistryResource()})
    assert defs.resolve_sensor_def("registry_webhooks").default_status == (
        dg.DefaultSensorStatus.RUNNING
    )
