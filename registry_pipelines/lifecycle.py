"""One model's lifecycle as software-defined assets, built from its spec.

[upstream asset ->] training_data -> trained_model -> evaluation -> registered_version (with
validation checks) -> production_version, plus its jobs, schedule and promotion sensor.
Materializations write the registry through `RegistryResource`; bad input fails the step with
`model 'name': field: why` before anything is written.
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from registry_core.client import RegistryClient
from registry_core.entities import STAGE_PRODUCTION, STAGE_STAGING, Metric, ModelVersion, now_ms
from registry_core.errors import RegistryError, ResourceAlreadyExists, ResourceDoesNotExist
from registry_core.fingerprint import fingerprint_data
from registry_core.loading import load_model
from registry_core.tracking import git_commit
from registry_pipelines.datasets import snapshot_seed, split
from registry_pipelines.evaluation import (
    check_regression,
    comparison_markdown,
    model_metrics,
    threshold_failures,
)
from registry_pipelines.promotion import (
    approved_request,
    complete_approval,
    promote,
    promotion_actor,
)
from registry_pipelines.resources import RegistryResource, log_file_cost
from registry_pipelines.sources import from_upstream, read_source, training_table
from registry_pipelines.specs import FieldProblem, ModelSpec
from registry_pipelines.training import fit_candidate

ARTIFACT_PATH = "model"
CHECK_NO_REGRESSION = "no_regression"
CHECK_ARTIFACT_LOADS = "artifact_loads"
CHECK_SIGNATURE = "signature_matches"
LIFECYCLE_TAG = "registry/lifecycle"
MODEL_METADATA_KEY = "registry/model"


@dataclass(frozen=True)
class LifecycleKeys:
    """The asset keys of one model's lifecycle, under its asset prefix."""

    training_data: dg.AssetKey
    trained_model: dg.AssetKey
    evaluation: dg.AssetKey
    registered_version: dg.AssetKey
    production_version: dg.AssetKey

    @property
    def training_chain(self) -> list[dg.AssetKey]:
        """What a retraining run materializes: everything up to the validated version."""
        return [self.training_data, self.trained_model, self.evaluation, self.registered_version]


@dataclass(frozen=True)
class ModelLifecycle:
    """Everything Dagster needs for one model."""

    spec: ModelSpec
    keys: LifecycleKeys
    assets: list[dg.AssetsDefinition]
    training_job: UnresolvedAssetJobDefinition
    promotion_job: UnresolvedAssetJobDefinition
    schedule: dg.ScheduleDefinition | None


class PromotionConfig(dg.Config):
    """Which version to promote; by default the newest one that passed validation. With
    `request_id`, the approved request that already moved the version to Production."""

    version: int | None = None
    reason: str = ""
    request_id: int | None = None


def lifecycle_keys(spec: ModelSpec) -> LifecycleKeys:
    """The five asset keys of a model, under its asset prefix."""
    prefix = spec.asset_prefix
    return LifecycleKeys(
        *(
            dg.AssetKey([prefix, name])
            for name in (
                "training_data",
                "trained_model",
                "evaluation",
                "registered_version",
                "production_version",
            )
        )
    )


def threshold_check_name(metric: str) -> str:
    """The name of the check that holds one metric to its threshold."""
    return f"threshold_{metric}"


def _check_descriptions(spec: ModelSpec) -> dict[str, str]:
    """Every validation check of the registered version, in report order, with what it checks."""
    return {
        **{
            threshold_check_name(m): f"{m} on the holdout within the spec's bounds"
            for m in spec.validation.thresholds
        },
        CHECK_NO_REGRESSION: "no worse than the current champion beyond the tolerance",
        CHECK_ARTIFACT_LOADS: "the stored artifact verifies, loads and predicts",
        CHECK_SIGNATURE: "the stored signature matches the training features",
    }


def check_names(spec: ModelSpec) -> list[str]:
    """Every validation check of the registered version, in the order they are reported."""
    return list(_check_descriptions(spec))


def holdout_split(
    spec: ModelSpec, frame: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """The snapshot's train/test split, seeded by its fingerprint so every step agrees."""
    return split(frame, spec.data, spec.task, snapshot_seed(fingerprint_data(frame).sha256))


@contextlib.contextmanager
def bad_input(spec: ModelSpec, section: tuple[str, ...] = ()) -> Iterator[None]:
    """Turn a FieldProblem into a step failure that names the model and the field."""
    try:
        yield
    except FieldProblem as problem:
        raise dg.Failure(
            description=f"model {spec.name!r}: {_dotted((*section, *problem.loc))}: "
            f"{problem.detail}"
        ) from problem


def _dotted(loc: tuple[str | int, ...]) -> str:
    """`data.target`, `metrics[2].function`."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _library(spec: ModelSpec) -> str:
    """The kind tag for the model's library: xgboost, lightgbm or sklearn."""
    path = spec.training.estimator or ""
    return path.split(".")[0] if path.startswith(("xgboost.", "lightgbm.")) else "sklearn"


def _source_description(spec: ModelSpec) -> str:
    """Where the training data comes from, for the asset's description."""
    data = spec.data
    if data.demo:
        return f"a fresh seeded snapshot of the demo dataset {data.demo}"
    if data.asset:
        return f"the upstream asset {data.asset}"
    if data.path:
        return f"the files {data.path}"
    assert data.sql is not None
    return f"a read-only query on {data.sql.database}"


def _float_metadata(metrics: dict[str, float], prefix: str = "") -> dict[str, dg.MetadataValue]:
    """Metrics as float metadata, so Dagster plots them across materializations."""
    return {
        f"{prefix}{name}": dg.MetadataValue.float(float(value)) for name, value in metrics.items()
    }


def _run_metrics(metrics: dict[str, float], prefix: str = "") -> list[Metric]:
    """Metrics as one batch for the registry run: step 0, one timestamp."""
    when = now_ms()
    return [Metric(f"{prefix}{name}", value, 0, when) for name, value in metrics.items()]


def _champion_label(version: str | None) -> str:
    """The champion column's heading in the comparison table."""
    return f"champion v{version}" if version else "champion"


def _ensure_registered_model(client: RegistryClient, spec: ModelSpec) -> None:
    """Create the spec's registered model on its first registration (one call, race-safe),
    and give it the spec's protected stages when they differ (which needs an admin)."""
    with contextlib.suppress(ResourceAlreadyExists):
        client.create_registered_model(
            spec.name,
            tags={"task": spec.task, "dagster_asset_prefix": spec.asset_prefix},
            description=spec.description,
        )
    wanted = spec.promotion
    held = client.get_stage_protection(spec.name)
    if set(held.stages) != set(wanted.protected_stages) or (
        wanted.protected_stages and set(held.direct_roles) != set(wanted.direct_roles)
    ):
        client.set_stage_protection(spec.name, wanted.protected_stages, wanted.direct_roles)


def build_lifecycle(spec: ModelSpec) -> ModelLifecycle:
    """The assets, jobs and schedule (when it retrains) of one model, under its asset prefix."""
    keys = lifecycle_keys(spec)
    group = spec.asset_prefix
    task_kind = {_library(spec), "duckdb"}
    training_tags = {LIFECYCLE_TAG: "training"}

    def snapshot(context: dg.AssetExecutionContext, frame: pd.DataFrame) -> dg.Output:
        seed = snapshot_seed(context.run.run_id)
        with bad_input(spec, ("data",)):
            table = training_table(frame, spec.data)
        fingerprint = fingerprint_data(table)
        schema = dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in table.dtypes.items()]
        )
        metadata: dict[str, Any] = {
            "dagster/row_count": dg.MetadataValue.int(len(table)),
            "dagster/column_schema": schema,
            "fingerprint": dg.MetadataValue.text(fingerprint.sha256),
            "source": dg.MetadataValue.text(spec.data.source),
        }
        if spec.data.demo:
            metadata["snapshot_seed"] = dg.MetadataValue.int(seed)
        return dg.Output(table, metadata=metadata)

    training_data_options: dict[str, Any] = {
        "key": keys.training_data,
        "group_name": group,
        "kinds": {"pandas"},
        "tags": training_tags,
        "description": f"The training table of {spec.name}: {_source_description(spec)}.",
    }
    upstream = spec.data.asset_key
    if upstream is not None:
        upstream_name = upstream.to_user_string()

        @dg.asset(ins={"upstream": dg.AssetIn(upstream)}, **training_data_options)
        def training_data(context: dg.AssetExecutionContext, upstream: Any) -> dg.Output:
            with bad_input(spec, ("data",)):
                frame = from_upstream(upstream, upstream_name)
            return snapshot(context, frame)

    else:

        @dg.asset(**training_data_options)
        def training_data(context: dg.AssetExecutionContext) -> dg.Output:
            with bad_input(spec, ("data",)):
                frame = read_source(spec.data, snapshot_seed(context.run.run_id))
            return snapshot(context, frame)

    @dg.asset(
        key=keys.trained_model,
        group_name=group,
        kinds=task_kind,
        tags=training_tags,
        ins={"training_data": dg.AssetIn(keys.training_data)},
        description=f"A {spec.training.label} candidate, logged as a registry run.",
    )
    def trained_model(
        context: dg.AssetExecutionContext, training_data: pd.DataFrame, registry: RegistryResource
    ) -> dg.Output[dict[str, str]]:
        x_train, _, y_train, _ = holdout_split(spec, training_data)
        with bad_input(spec):
            estimator, fmt = fit_candidate(spec, x_train, y_train)
            train_metrics = model_metrics(spec, estimator, x_train, y_train)
        client = registry.client()
        before = client.file_usage()
        run = client.create_run(
            run_name=f"{spec.name}-{context.run.run_id[:8]}",
            tags={"model": spec.name, "estimator": spec.training.label},
            code_version=git_commit(),
            source_info={
                "dagster_run_id": context.run.run_id,
                "dagster_job": context.job_name,
                "asset_key": keys.trained_model.to_user_string(),
            },
        )
        client.log_batch(
            run.run_id,
            metrics=_run_metrics(train_metrics, "train_"),
            params={"estimator": spec.training.label, **spec.training.params},
        )
        client.log_input(run.run_id, training_data, context="training")
        artifact = client.log_model_artifact(
            run.run_id, estimator, ARTIFACT_PATH, input_example=x_train.head(5), format=fmt
        )
        client.set_terminated(run.run_id)
        log_file_cost(context, client, before)
        model_uri = f"runs:/{run.run_id}/{artifact.path}"
        return dg.Output(
            {"run_id": run.run_id, "model_uri": model_uri, "sha256": artifact.sha256},
            metadata={
                "registry_run_id": dg.MetadataValue.text(run.run_id),
                "model_uri": dg.MetadataValue.text(model_uri),
                "sha256": dg.MetadataValue.text(artifact.sha256),
                "format": dg.MetadataValue.text(fmt),
                **_float_metadata(train_metrics, "train_"),
            },
        )

    @dg.asset(
        key=keys.evaluation,
        group_name=group,
        kinds=task_kind,
        tags=training_tags,
        ins={
            "training_data": dg.AssetIn(keys.training_data),
            "trained_model": dg.AssetIn(keys.trained_model),
        },
        description="Holdout metrics of the candidate and of the current Production version.",
    )
    def evaluation(
        context: dg.AssetExecutionContext,
        training_data: pd.DataFrame,
        trained_model: dict[str, str],
        registry: RegistryResource,
    ) -> dg.Output[dict[str, Any]]:
        _, x_test, _, y_test = holdout_split(spec, training_data)
        client = registry.client()
        before = client.file_usage()
        candidate = load_model(trained_model["model_uri"], client=client)
        metrics = model_metrics(spec, candidate, x_test, y_test)
        client.log_batch(trained_model["run_id"], metrics=_run_metrics(metrics))
        champion_version, champion_metrics, note = None, None, "no Production version yet"
        try:
            production = client.get_latest_versions(spec.name, [STAGE_PRODUCTION])
        except ResourceDoesNotExist:
            production = []
        if production:
            champion_version = production[0].version
            try:
                champion = load_model(production[0].uri, client=client)
                champion_metrics = model_metrics(spec, champion, x_test, y_test)
                note = f"version {champion_version} scored on the candidate's holdout"
            except RegistryError as error:
                note = f"version {champion_version} could not be scored: {error}"
                context.log.warning(note)
        log_file_cost(context, client, before)
        return dg.Output(
            {
                "metrics": metrics,
                "champion_version": champion_version,
                "champion_metrics": champion_metrics,
            },
            metadata={
                **_float_metadata(metrics),
                "comparison": dg.MetadataValue.md(
                    comparison_markdown(
                        metrics,
                        champion_metrics,
                        _champion_label(champion_version),
                        spec.directions,
                    )
                ),
                "champion": dg.MetadataValue.text(note),
                "holdout_rows": dg.MetadataValue.int(len(x_test)),
            },
        )

    check_specs = [
        dg.AssetCheckSpec(name, asset=keys.registered_version, description=description)
        for name, description in _check_descriptions(spec).items()
    ]

    @dg.asset(
        key=keys.registered_version,
        group_name=group,
        kinds=task_kind,
        tags=training_tags,
        metadata={MODEL_METADATA_KEY: spec.name},
        ins={
            "training_data": dg.AssetIn(keys.training_data),
            "trained_model": dg.AssetIn(keys.trained_model),
            "evaluation": dg.AssetIn(keys.evaluation),
        },
        check_specs=check_specs,
        description=f"The candidate registered as a new version of {spec.name}, in Staging.",
    )
    def registered_version(
        context: dg.AssetExecutionContext,
        training_data: pd.DataFrame,
        trained_model: dict[str, str],
        evaluation: dict[str, Any],
        registry: RegistryResource,
    ) -> dg.MaterializeResult:
        client = registry.client()
        before = client.file_usage()
        actor = promotion_actor(context)
        _ensure_registered_model(client, spec)
        mv = client.create_model_version(
            spec.name,
            trained_model["model_uri"],
            run_id=trained_model["run_id"],
            tags={"dagster_run_id": context.run.run_id, "dagster_asset": spec.asset_prefix},
            description=f"Trained and registered by Dagster run {context.run.run_id}.",
        )
        client.transition_model_version_stage(
            spec.name,
            mv.version,
            STAGE_STAGING,
            actor=actor,
            reason=f"registered by Dagster run {context.run.run_id}",
        )
        results = validate(spec, client, mv, training_data, evaluation)
        reasons = [
            str(r.metadata["reason"].value)
            for r in results
            if not r.passed and "reason" in r.metadata
        ]
        metrics = evaluation["metrics"]
        client.record_validation(spec.name, mv.version, reasons, metrics, actor=actor)
        log_file_cost(context, client, before)
        return dg.MaterializeResult(
            metadata={
                "version": dg.MetadataValue.int(int(mv.version)),
                "model_uri": dg.MetadataValue.text(mv.uri),
                "registry_run_id": dg.MetadataValue.text(trained_model["run_id"]),
                "sha256": dg.MetadataValue.text(mv.artifact_sha256 or ""),
                "stage": dg.MetadataValue.text(STAGE_STAGING),
                "validation": dg.MetadataValue.text("passed" if not reasons else "failed"),
                **_float_metadata(metrics),
                "comparison": dg.MetadataValue.md(
                    comparison_markdown(
                        metrics,
                        evaluation["champion_metrics"],
                        _champion_label(evaluation["champion_version"]),
                        spec.directions,
                    )
                ),
            },
            check_results=results,
        )

    @dg.asset(
        key=keys.production_version,
        group_name=group,
        kinds=task_kind,
        tags={LIFECYCLE_TAG: "promotion"},
        deps=[keys.registered_version],
        description=(
            f"The version of {spec.name} in Production (and @champion). Materializing it "
            "promotes a validated version; the promotion sensor does so automatically."
        ),
    )
    def production_version(
        context: dg.AssetExecutionContext, config: PromotionConfig, registry: RegistryResource
    ) -> dg.MaterializeResult:
        client = registry.client()
        approved_by: dict[str, dg.MetadataValue] = {}
        if config.request_id is not None and config.version is not None:
            request = approved_request(client, spec.name, config.version, config.request_id)
            outcome = complete_approval(client, spec.name, request)
            approved_by = {
                "request_id": dg.MetadataValue.int(request.id),
                "requested_by": dg.MetadataValue.text(request.requested_by),
                "approved_by": dg.MetadataValue.text(request.resolved_by or ""),
            }
        else:
            outcome = promote(
                client,
                spec.name,
                config.version,
                actor=promotion_actor(context),
                reason=" ".join(
                    filter(None, [config.reason, f"(promotion run {context.run.run_id})"])
                ),
            )
        context.log.info(outcome.message)
        return dg.MaterializeResult(
            metadata={
                **approved_by,
                "version": dg.MetadataValue.int(int(outcome.production_version or 0)),
                "model_uri": dg.MetadataValue.text(
                    f"models:/{spec.name}/{outcome.production_version}"
                    if outcome.production_version
                    else ""
                ),
                "promoted": dg.MetadataValue.bool(outcome.promoted),
                "previous_version": dg.MetadataValue.text(outcome.previous_version or "none"),
                "outcome": dg.MetadataValue.text(outcome.message),
            }
        )

    training_job = dg.define_asset_job(
        f"{spec.asset_prefix}_training",
        selection=keys.training_chain,
        description=f"Retrain {spec.name}: snapshot, train, evaluate, register and validate.",
    )
    promotion_job = dg.define_asset_job(
        f"{spec.asset_prefix}_promotion",
        selection=[keys.production_version],
        description=f"Promote a validated version of {spec.name} to Production.",
    )
    schedule = (
        dg.ScheduleDefinition(
            name=f"{spec.asset_prefix}_retraining",
            cron_schedule=spec.retrain.cron,
            execution_timezone=spec.retrain.timezone,
            job=training_job,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"Retrain {spec.name} on fresh training data ({spec.retrain.cron}).",
        )
        if spec.retrain
        else None
    )
    return ModelLifecycle(
        spec=spec,
        keys=keys,
        assets=[training_data, trained_model, evaluation, registered_version, production_version],
        training_job=training_job,
        promotion_job=promotion_job,
        schedule=schedule,
    )


def validate(
    spec: ModelSpec,
    client: RegistryClient,
    mv: ModelVersion,
    training_data: pd.DataFrame,
    evaluation: dict[str, Any],
) -> list[dg.AssetCheckResult]:
    """Run every validation check of a registered version; failed results carry a `reason`."""
    metrics = evaluation["metrics"]
    results = []
    for metric, bound in spec.validation.thresholds.items():
        results.append(
            _result(
                threshold_check_name(metric),
                threshold_failures(spec, metric, metrics),
                value=float(metrics.get(metric, float("nan"))),
                min=bound.min,
                max=bound.max,
            )
        )
    regressions = check_regression(spec, metrics, evaluation["champion_metrics"])
    results.append(
        _result(
            CHECK_NO_REGRESSION,
            regressions,
            champion_version=evaluation["champion_version"] or "none",
        )
    )
    x_train, x_test, _, y_test = holdout_split(spec, training_data)
    load_problems: list[str] = []
    problem = client.artifacts.verify(mv.artifact_sha256) if mv.artifact_sha256 else "no artifact"
    if problem:
        load_problems.append(problem)
    else:
        try:
            loaded = load_model(mv.uri, client=client)
            reloaded = model_metrics(spec, loaded, x_test, y_test)
            if not all(np.isclose(reloaded[k], metrics[k]) for k in reloaded if k in metrics):
                load_problems.append("the stored artifact scores differently from the candidate")
        except RegistryError as error:
            load_problems.append(f"loading failed: {error}")
    results.append(_result(CHECK_ARTIFACT_LOADS, load_problems, sha256=mv.artifact_sha256 or ""))
    expected = [[name, str(dtype)] for name, dtype in x_train.dtypes.items()]
    stored = [[c["name"], c["dtype"]] for c in (mv.signature or {}).get("inputs", [])]
    signature_problems = (
        [] if stored == expected else [f"stored signature {stored} differs from {expected}"]
    )
    results.append(_result(CHECK_SIGNATURE, signature_problems, columns=len(expected)))
    return results


def _result(name: str, failures: list[str], **facts: Any) -> dg.AssetCheckResult:
    """An error-severity check result; its `reason` metadata joins the failures."""
    metadata: dict[str, Any] = {k: v for k, v in facts.items() if v is not None}
    if failures:
        metadata["reason"] = "; ".join(failures)
    return dg.AssetCheckResult(
        check_name=name,
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
