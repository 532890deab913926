"""A model's promotion sensor: one promotion run per version whose validation passed.

Under the `auto` policy it reads only Dagster's event log (registered-version materializations
and the check evaluations of the same run tied to them), never the registry file, so it does not
compete with runs for the file's lock; the promotion run itself writes the registry.

Under the `approval` policy the sensor also talks to the registry: for each version whose
validation passed it opens a transition request to Production (its comment holds the metrics and
the candidate-vs-champion table), and for each request to Production approved since its last
tick it launches the promotion run that materializes `production_version`. Approval can come
from anywhere (the CLI, the server's API, the web UI, a Launchpad job), so the sensor asks the
registry rather than each of them telling Dagster; the approval itself already made the
transition, in the approver's name, and the run only records it and moves @champion.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

import dagster as dg

from registry_core.client import RegistryClient
from registry_core.entities import STAGE_PRODUCTION
from registry_core.errors import InvalidState, ResourceAlreadyExists, ResourceDoesNotExist
from registry_pipelines.lifecycle import ModelLifecycle, PromotionConfig, check_names
from registry_pipelines.resources import RegistryResource
from registry_pipelines.specs import ModelSpec

_BATCH = 100


def _registrations(
    context: dg.SensorEvaluationContext, key: dg.AssetKey, after: int | None
) -> Sequence[dg.EventLogRecord]:
    """The registered versions materialized after storage id `after`, oldest first, a batch."""
    return context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=_BATCH, ascending=True
    ).records


def promotion_sensor_name(spec: ModelSpec) -> str:
    """The promotion sensor of one model: `<asset prefix>_promotion_sensor`."""
    return f"{spec.asset_prefix}_promotion_sensor"


def _metadata_value(event: dg.EventLogRecord | dg.EventLogEntry | None, key: str) -> object | None:
    """One metadata value of a materialization event, None when it has none."""
    materialization = event.asset_materialization if event else None
    entry = materialization.metadata.get(key) if materialization else None
    return entry.value if entry is not None else None


def validation_outcome(
    instance: dg.DagsterInstance, record: dg.EventLogRecord, expected_checks: Sequence[str]
) -> bool | None:
    """True when every expected check of this materialization passed, False when one failed or
    is missing from a finished run, None while its run may still record them."""
    key = record.asset_key
    evaluations = {}
    for entry in instance.all_logs(
        record.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ):
        evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
        target = getattr(evaluation, "target_materialization_data", None)
        if evaluation is None or evaluation.asset_key != key:
            continue
        if target is not None and target.storage_id != record.storage_id:
            continue
        evaluations[evaluation.check_name] = evaluation.passed
    if all(name in evaluations for name in expected_checks):
        return all(evaluations[name] for name in expected_checks)
    run = instance.get_run_by_id(record.run_id)
    return None if run is not None and not run.is_finished else False


def _production_version(instance: dg.DagsterInstance, key: dg.AssetKey) -> int:
    """The version the latest production_version materialization reported, 0 before any."""
    version = _metadata_value(instance.get_latest_materialization_event(key), "version")
    return int(version) if isinstance(version, int) else 0


def _reason(record: dg.EventLogRecord, spec: ModelSpec) -> str:
    """The history reason of a promotion: the validating run and the candidate's metrics."""
    metrics = ", ".join(
        f"{name}={value:.4f}"
        for name in spec.metric_names
        if isinstance(value := _metadata_value(record, name), float)
    )
    return f"validation passed in Dagster run {record.run_id}: {metrics}"


def _request_comment(record: dg.EventLogRecord, spec: ModelSpec) -> str:
    """A transition request's comment: the validating run, the metrics and the comparison."""
    comparison = _metadata_value(record, "comparison")
    table = f"\n\n{comparison}" if isinstance(comparison, str) and comparison else ""
    return f"{_reason(record, spec)}{table}"


def _open_request(
    client: RegistryClient, spec: ModelSpec, version: int, comment: str, actor: str
) -> None:
    """Ask for Production for a validated version newer than Production's; a repeat, a version
    already there or one deleted since is left alone."""
    current = client.get_latest_versions(spec.name, [STAGE_PRODUCTION])
    if current and int(current[0].version) >= version:
        return
    with contextlib.suppress(ResourceAlreadyExists, InvalidState, ResourceDoesNotExist):
        client.create_transition_request(spec.name, version, STAGE_PRODUCTION, comment, actor=actor)


def build_approval_sensor(
    lc: ModelLifecycle, minimum_interval_seconds: int = 5
) -> dg.SensorDefinition:
    """The sensor of a model whose promotion policy is `approval` (see the module's text)."""
    spec, keys = lc.spec, lc.keys
    expected = check_names(spec)
    op_name = keys.production_version.to_python_identifier()
    name = promotion_sensor_name(spec)

    @dg.sensor(
        name=name,
        description=(
            f"Opens a transition request to Production for each validated version of "
            f"{spec.name}, and promotes each version whose request is approved."
        ),
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        jobs=[lc.promotion_job],
    )
    def approval_sensor(
        context: dg.SensorEvaluationContext, registry: RegistryResource
    ) -> dg.SensorResult:
        cursor: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
        client = registry.client()
        records = _registrations(context, keys.registered_version, cursor.get(spec.asset_prefix))
        requests = []
        with client.session():
            for record in records:
                passed = validation_outcome(context.instance, record, expected)
                if passed is None:
                    break
                cursor[spec.asset_prefix] = record.storage_id
                version = _metadata_value(record, "version")
                if passed and isinstance(version, int):
                    comment = _request_comment(record, spec)
                    _open_request(client, spec, version, comment, f"dagster:{name}")
            since, seen = cursor.get("approved_after", 0), set(cursor.get("approved_at", []))
            for request in client.list_transition_requests(spec.name, "approved"):
                when = request.resolved_timestamp or 0
                if (
                    request.to_stage != STAGE_PRODUCTION
                    or when < since
                    or (when == since and request.id in seen)
                ):
                    continue
                if when > cursor.get("approved_after", 0):
                    cursor["approved_after"], cursor["approved_at"] = when, []
                cursor["approved_at"].append(request.id)
                config = PromotionConfig(
                    version=int(request.version),
                    reason=f"approved request #{request.id}",
                    request_id=request.id,
                )
                requests.append(
                    dg.RunRequest(
                        run_key=f"approved:{spec.name}:{request.id}",
                        job_name=lc.promotion_job.name,
                        run_config={"ops": {op_name: {"config": config.model_dump()}}},
                        tags={
                            "registry/model": spec.name,
                            "registry/version": request.version,
                            "registry/request": str(request.id),
                        },
                    )
                )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return approval_sensor


def build_promotion_sensor(
    lc: ModelLifecycle, minimum_interval_seconds: int = 5
) -> dg.SensorDefinition | None:
    """The sensor of a model whose promotion policy is `auto` or `approval`; None for another."""
    if lc.spec.promotion.policy == "approval":
        return build_approval_sensor(lc, minimum_interval_seconds)
    if lc.spec.promotion.policy != "auto":
        return None
    spec, keys = lc.spec, lc.keys
    expected = check_names(spec)
    op_name = keys.production_version.to_python_identifier()

    @dg.sensor(
        name=promotion_sensor_name(spec),
        description=f"Promotes each version of {spec.name} whose validation checks all passed.",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        jobs=[lc.promotion_job],
    )
    def promotion_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        in_production = _production_version(context.instance, keys.production_version)
        records = _registrations(context, keys.registered_version, cursor.get(spec.asset_prefix))
        requests = []
        for record in records:
            passed = validation_outcome(context.instance, record, expected)
            if passed is None:
                break
            cursor[spec.asset_prefix] = record.storage_id
            version = _metadata_value(record, "version")
            if not passed or not isinstance(version, int) or version <= in_production:
                continue
            config = PromotionConfig(version=version, reason=_reason(record, spec))
            requests.append(
                dg.RunRequest(
                    run_key=f"promote:{spec.name}:{version}",
                    job_name=lc.promotion_job.name,
                    run_config={"ops": {op_name: {"config": config.model_dump()}}},
                    tags={"registry/model": spec.name, "registry/version": str(version)},
                )
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return promotion_sensor
