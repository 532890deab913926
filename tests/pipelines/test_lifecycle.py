"""The model lifecycle as Dagster assets: real materializations, sensor evaluations and runs
against a real registry file and a real (temporary) Dagster instance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from registry_core.client import RegistryClient
from registry_pipelines.definitions import SPECS as SHIPPED
from registry_pipelines.jobs import promotion_job, rollback_job
from registry_pipelines.lifecycle import (
    ModelLifecycle,
    build_lifecycle,
    check_names,
    lifecycle_keys,
)
from registry_pipelines.resources import RegistryResource
from registry_pipelines.sensors import build_promotion_sensor, promotion_sensor_name
from registry_pipelines.specs import ModelSpec

SPECS = {spec.name: spec for spec in SHIPPED}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def registry(registry_path: Path) -> RegistryResource:
    return RegistryResource(registry_uri=str(registry_path))


def unreachable_threshold(spec: ModelSpec) -> ModelSpec:
    """The same model, with a threshold no candidate can reach."""
    metric = next(iter(spec.validation.thresholds))
    thresholds = {
        **spec.validation.thresholds,
        metric: spec.validation.thresholds[metric].model_copy(
            update={"min": 1.01, "max": None}
            if spec.task == "classification" or metric == "r2"
            else {"min": None, "max": 0.0}
        ),
    }
    validation = spec.validation.model_copy(update={"thresholds": thresholds})
    return spec.model_copy(update={"validation": validation})


def train(
    lc: ModelLifecycle, instance: dg.DagsterInstance, registry: RegistryResource
) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        lc.assets,
        instance=instance,
        resources={"registry": registry},
        selection=lc.keys.training_chain,
    )
    assert result.success
    return result


def promote_from(
    lc: ModelLifecycle,
    request: dg.RunRequest,
    instance: dg.DagsterInstance,
    registry: RegistryResource,
) -> dg.ExecuteInProcessResult:
    """Run a sensor's promotion request in process, as the daemon would launch it."""
    result = dg.materialize(
        lc.assets,
        instance=instance,
        resources={"registry": registry},
        selection=[lc.keys.production_version],
        run_config=request.run_config,
        tags={**request.tags, "dagster/sensor_name": promotion_sensor_name(lc.spec)},
    )
    assert result.success
    return result


def evaluate(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensor.evaluate_tick(context)
    return result.run_requests, result.cursor


@pytest.mark.parametrize("name", sorted(SPECS))
def test_whole_chain_registers_a_validated_staging_version(
    name: str, instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    lc = build_lifecycle(SPECS[name])
    result = train(lc, instance, registry)
    client = registry.client()
    mv = client.get_model_version(name, 1)
    assert mv.current_stage == "Staging"
    assert mv.tags["validation"] == "passed"
    assert mv.tags["dagster_run_id"] == result.run_id
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == dict.fromkeys(check_names(lc.spec), True)

    lineage = client.get_model_version_lineage(name, 1)
    run = lineage.run
    assert run is not None and run.status == "FINISHED"
    assert run.source_info["dagster_run_id"] == result.run_id
    assert run.params["estimator"] == lc.spec.training.estimator
    assert set(lc.spec.validation.thresholds) <= set(run.metrics)
    training = instance.get_latest_materialization_event(lc.keys.training_data)
    fingerprint = training.asset_materialization.metadata["fingerprint"].value
    assert run.data_fingerprint["training"]["sha256"] == fingerprint

    registered = instance.get_latest_materialization_event(lc.keys.registered_version)
    metadata = registered.asset_materialization.metadata
    assert metadata["version"].value == 1
    assert metadata["model_uri"].value == f"models:/{name}/1"
    assert metadata["sha256"].value == mv.artifact_sha256
    assert "| metric |" in metadata["comparison"].value


def test_sensor_promotes_passed_versions_once(
    instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    lc = build_lifecycle(SPECS["HousePricePredictor"])
    sensor = build_promotion_sensor(lc)
    train(lc, instance, registry)
    requests, cursor = evaluate(sensor, instance, None)
    assert [r.run_key for r in requests] == ["promote:HousePricePredictor:1"]
    assert evaluate(sensor, instance, cursor)[0] == []

    promote_from(lc, requests[0], instance, registry)
    client = registry.client()
    assert client.get_model_version("HousePricePredictor", 1).current_stage == "Production"
    assert client.get_model_version_by_alias("HousePricePredictor", "champion").version == "1"
    last = client.get_model_version_history("HousePricePredictor")[-1]
    assert last.actor == "dagster:house_price_predictor_promotion_sensor"
    assert "validation passed in Dagster run" in last.reason and "r2=" in last.reason

    train(lc, instance, registry)
    requests, cursor = evaluate(sensor, instance, cursor)
    assert [r.run_key for r in requests] == ["promote:HousePricePredictor:2"]
    promote_from(lc, requests[0], instance, registry)
    assert client.get_model_version("HousePricePredictor", 1).current_stage == "Archived"
    assert client.get_model_version("HousePricePredictor", 2).current_stage == "Production"
    evaluation = instance.get_latest_materialization_event(lc.keys.evaluation)
    assert "champion v1" in evaluation.asset_materialization.metadata["comparison"].value


def test_failed_validation_is_tagged_and_never_promoted(
    instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    lc = build_lifecycle(unreachable_threshold(SPECS["HousePricePredictor"]))
    result = train(lc, instance, registry)
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed == [check_names(lc.spec)[0]]
    mv = registry.client().get_model_version("HousePricePredictor", 1)
    assert mv.tags["validation"] == "failed"
    assert (
        "below the minimum" in mv.tags["validation_reasons"]
        or "above" in (mv.tags["validation_reasons"])
    )
    requests, _ = evaluate(build_promotion_sensor(lc), instance, None)
    assert requests == []
    assert mv.current_stage == "Staging"


def test_sensor_skips_versions_older_than_production(
    instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    lc = build_lifecycle(SPECS["HousePricePredictor"])
    sensor = build_promotion_sensor(lc)
    train(lc, instance, registry)
    train(lc, instance, registry)
    promote_from(
        lc,
        dg.RunRequest(
            run_config={
                "ops": {
                    lc.keys.production_version.to_python_identifier(): {"config": {"version": 2}}
                }
            }
        ),
        instance,
        registry,
    )
    requests, _ = evaluate(sensor, instance, None)
    assert requests == []


def test_promotion_asset_never_installs_an_older_version(
    instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    lc = build_lifecycle(SPECS["HousePricePredictor"])
    train(lc, instance, registry)
    train(lc, instance, registry)
    op = lc.keys.production_version.to_python_identifier()
    promote_from(
        lc, dg.RunRequest(run_config={"ops": {op: {"config": {"version": 2}}}}), instance, registry
    )
    result = promote_from(
        lc, dg.RunRequest(run_config={"ops": {op: {"config": {"version": 1}}}}), instance, registry
    )
    metadata = result.asset_materializations_for_node(op)[0].metadata
    assert metadata["promoted"].value is False
    assert registry.client().get_model_version("HousePricePredictor", 2).current_stage == (
        "Production"
    )


def test_manual_promotion_and_rollback_jobs(
    instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    lc = build_lifecycle(SPECS["HousePricePredictor"])
    train(lc, instance, registry)
    train(lc, instance, registry)
    resources = {"registry": registry}
    for version in (1, 2):
        config = {"model": "HousePricePredictor", "version": version, "reason": "release"}
        result = promotion_job.execute_in_process(
            run_config={"ops": {"promote_model_version": {"config": config}}},
            instance=instance,
            resources=resources,
        )
        assert result.success
    client = registry.client()
    assert client.get_model_version_by_alias("HousePricePredictor", "champion").version == "2"
    result = rollback_job.execute_in_process(
        run_config={
            "ops": {"rollback_model": {"config": {"model": "HousePricePredictor", "reason": "p99"}}}
        },
        instance=instance,
        resources=resources,
    )
    assert result.success
    assert client.get_model_version("HousePricePredictor", 1).current_stage == "Production"
    assert client.get_model_version("HousePricePredictor", 2).current_stage == "Archived"
    assert client.get_model_version_by_alias("HousePricePredictor", "champion").version == "1"
    assert client.get_model_version_history("HousePricePredictor")[-1].reason == "p99"


def test_schedules_target_each_training_chain() -> None:
    from registry_pipelines.definitions import defs

    for spec in SHIPPED:
        schedule = defs.resolve_schedule_def(f"{spec.asset_prefix}_retraining")
        assert spec.retrain is not None and schedule.cron_schedule == spec.retrain.cron
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        job = defs.resolve_job_def(schedule.job_name)
        assert set(job.asset_layer.executable_asset_keys) == set(
            lifecycle_keys(spec).training_chain
        )


def test_registry_left_consistent(instance: dg.DagsterInstance, registry: RegistryResource) -> None:
    lc = build_lifecycle(SPECS["wine-quality-classifier"])
    train(lc, instance, registry)
    assert RegistryClient(registry.registry_uri).check_consistency() == []
