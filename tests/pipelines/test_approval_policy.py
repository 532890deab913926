"""The `approval` promotion policy end to end: real materializations and sensor evaluations
against a real registry file: a validated version becomes a transition request, a newer one
supersedes it, and the approved one is promoted with the approver as the history's actor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from registry_core.client import RegistryClient
from registry_core.errors import PERMISSION_DENIED
from registry_pipelines.definitions import SPECS as SHIPPED
from registry_pipelines.jobs import approval_job
from registry_pipelines.lifecycle import ModelLifecycle, build_lifecycle
from registry_pipelines.resources import RegistryResource
from registry_pipelines.sensors import build_promotion_sensor, promotion_sensor_name
from registry_pipelines.specs import PromotionSpec
from tests.conftest import error_code

NAME = "HousePricePredictor"
SENSOR_ACTOR = "dagster:house_price_predictor_promotion_sensor"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def registry(registry_path: Path) -> RegistryResource:
    return RegistryResource(registry_uri=str(registry_path))


@pytest.fixture
def lc() -> ModelLifecycle:
    spec = next(spec for spec in SHIPPED if spec.name == NAME)
    promotion = PromotionSpec(policy="approval", protected_stages=["Production"])
    return build_lifecycle(spec.model_copy(update={"promotion": promotion}))


def train(lc: ModelLifecycle, instance: dg.DagsterInstance, registry: RegistryResource) -> None:
    result = dg.materialize(
        lc.assets,
        instance=instance,
        resources={"registry": registry},
        selection=lc.keys.training_chain,
    )
    assert result.success


def evaluate(
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    registry: RegistryResource,
    cursor: str | None,
) -> tuple[list[dg.RunRequest], str | None]:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"registry": registry}
    )
    result = sensor.evaluate_tick(context)
    return list(result.run_requests or []), result.cursor


def test_validated_versions_wait_for_approval_then_the_approver_promotes(
    lc: ModelLifecycle, instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    sensor = build_promotion_sensor(lc)
    assert sensor is not None and sensor.name == promotion_sensor_name(lc.spec)
    client = RegistryClient(registry.registry_uri)

    train(lc, instance, registry)
    runs, cursor = evaluate(sensor, instance, registry, None)
    assert runs == []
    (first,) = client.list_transition_requests(NAME)
    assert (first.version, first.to_stage, first.requested_by) == ("1", "Production", SENSOR_ACTOR)
    assert "validation passed in Dagster run" in (first.comment or "")
    assert "r2=" in (first.comment or "") and "| metric |" in (first.comment or "")
    assert client.get_stage_protection(NAME).stages == ("Production",)
    assert error_code(lambda: client.transition_model_version_stage(NAME, 1, "Production")) == (
        PERMISSION_DENIED
    )
    assert evaluate(sensor, instance, registry, cursor)[0] == []

    train(lc, instance, registry)
    runs, cursor = evaluate(sensor, instance, registry, cursor)
    assert runs == []
    (second,) = client.list_transition_requests(NAME)
    assert second.version == "2"
    (closed,) = client.list_transition_requests(NAME, "closed")
    assert closed.id == first.id and "superseded" in (closed.resolution or "")

    client.approve_transition_request(NAME, 2, "Production", comment="ship it", actor="pat")
    assert client.get_model_version(NAME, 2).current_stage == "Production"
    runs, cursor = evaluate(sensor, instance, registry, cursor)
    assert [r.run_key for r in runs] == [f"approved:{NAME}:{second.id}"]
    assert evaluate(sensor, instance, registry, cursor)[0] == []

    result = dg.materialize(
        lc.assets,
        instance=instance,
        resources={"registry": registry},
        selection=[lc.keys.production_version],
        run_config=runs[0].run_config,
        tags={**runs[0].tags, "dagster/sensor_name": sensor.name},
    )
    assert result.success
    event = instance.get_latest_materialization_event(lc.keys.production_version)
    metadata = event.asset_materialization.metadata
    assert metadata["version"].value == 2 and metadata["promoted"].value is True
    assert metadata["approved_by"].value == "pat"
    assert metadata["requested_by"].value == SENSOR_ACTOR
    assert client.get_model_version_by_alias(NAME, "champion").version == "2"
    promotion = [
        (h.event, h.actor)
        for h in client.get_model_version_history(NAME, 2)
        if h.event in ("request_created", "request_approved", "stage", "alias_set")
    ]
    assert promotion[1:] == [
        ("request_created", SENSOR_ACTOR),
        ("request_approved", "pat"),
        ("stage", "pat"),
        ("alias_set", "pat"),
    ]


def test_the_launchpad_job_approves_in_the_launchers_name(
    lc: ModelLifecycle, instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    train(lc, instance, registry)
    evaluate(build_promotion_sensor(lc), instance, registry, None)
    config = {"model": NAME, "version": 1, "comment": "reviewed"}
    result = approval_job.execute_in_process(
        run_config={"ops": {"settle_transition_request": {"config": config}}},
        instance=instance,
        resources={"registry": registry},
    )
    assert result.success
    client = RegistryClient(registry.registry_uri)
    (approved,) = client.list_transition_requests(NAME, "approved")
    assert approved.resolved_by.startswith("dagster:") and approved.resolution == "reviewed"
    assert client.get_model_version(NAME, 1).current_stage == "Production"
