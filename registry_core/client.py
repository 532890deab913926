"""`RegistryClient`: MLflow's `MlflowClient` registry methods over an embedded DuckDB registry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry_core import config, formats
from registry_core.artifacts import ArtifactRef, ArtifactStore, is_sha256, validate_source
from registry_core.entities import (
    Metric,
    ModelVersion,
    PagedList,
    RegisteredModel,
    Run,
    RunArtifact,
    StageTransition,
    now_ms,
)
from registry_core.errors import InvalidParameterValue, ResourceDoesNotExist
from registry_core.fingerprint import DataFingerprint, fingerprint_data
from registry_core.signature import ModelSignature, infer_signature
from registry_core.store.connection import shared_manager
from registry_core.store.duckdb_store import DuckDBStore
from registry_core.store.outbox import OutboxStore
from registry_core.store.run_store import DuckDBRunStore
from registry_core.uris import ModelUri, RunUri, parse_uri
from registry_core.webhooks.delivery import WebhookDeliverer
from registry_core.webhooks.entities import Delivery, DeliveryAttempt, DeliverySummary, Webhook


@dataclass(frozen=True)
class ResolvedModel:
    """What a model URI points at: the stored artifact and, for `models:/`, the version."""

    uri: str
    sha256: str
    format: str
    signature: dict[str, Any] | None
    model_version: ModelVersion | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Lineage:
    """A model version beside the run that produced it (None when it has no known run)."""

    model_version: ModelVersion
    run: Run | None


def to_epoch_ms(when: int | float | datetime | str) -> int:
    """Milliseconds since the epoch from an int, a datetime or an ISO-8601 string."""
    if isinstance(when, bool):
        raise InvalidParameterValue(f"Not a timestamp: {when!r}.")
    if isinstance(when, int | float):
        return int(when)
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            raise InvalidParameterValue(
                f"Not an ISO-8601 time or epoch milliseconds: {when!r}."
            ) from None
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.astimezone()
        return int(when.timestamp() * 1000)
    raise InvalidParameterValue(f"Not a timestamp: {when!r}.")


class RegistryClient:
    """The registry, with the method names and keyword arguments of `mlflow.MlflowClient`.

    `registry_uri` is a folder (holding `registry.duckdb` and `artifacts/`), a `.duckdb` file path
    or `duckdb:///path`; by default `MODEL_REGISTRY_URI`, else `./.registry/`. The file is held
    only for `idle_timeout` seconds after a call (or for a `session()` block), and a locked file
    is waited for up to `lock_timeout` seconds.
    """

    def __init__(
        self,
        registry_uri: str | os.PathLike[str] | None = None,
        *,
        idle_timeout: float | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.location = config.resolve_location(registry_uri)
        idle = (
            idle_timeout
            if idle_timeout is not None
            else config.env_float(config.ENV_IDLE_SECONDS, config.DEFAULT_IDLE_SECONDS)
        )
        lock = (
            lock_timeout
            if lock_timeout is not None
            else config.env_float(config.ENV_LOCK_TIMEOUT, config.DEFAULT_LOCK_TIMEOUT)
        )
        manager = shared_manager(self.location.db_path, idle, lock)
        self._store = DuckDBStore(manager)
        self._runs = DuckDBRunStore(manager)
        self._webhooks = OutboxStore(manager)
        self.artifacts = ArtifactStore(self.location.artifact_root)

    @property
    def registry_uri(self) -> str:
        return str(self.location.root)

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry_uri!r})"

    @contextmanager
    def _one_open(self) -> Iterator[None]:
        """Hold the file across the store calls of one client call, so it is opened once."""
        with self._store.manager.connection():
            yield

    @contextmanager
    def session(self) -> Iterator[RegistryClient]:
        """Keep the registry file open for a block of calls, then release it at once."""
        with self._store.session():
            yield self

    def close(self) -> None:
        """Release the registry file now instead of at the end of the idle window."""
        self._store.manager.close()

    # -- registered models ---------------------------------------------------------------

    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        return self._store.create_registered_model(name, tags, description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._store.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self._store.rename_registered_model(name, new_name)

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        return self._store.update_registered_model(name, description)

    def delete_registered_model(self, name: str) -> None:
        self._store.delete_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        return self._store.search_registered_models(
            filter_string, max_results, order_by, page_token
        )

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self._store.set_registered_model_tag(name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._store.delete_registered_model_tag(name, key)

    # -- model versions ------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """Register a version; its source must be a run, model or stored-artifact URI, or a path
        inside the artifact store, and the artifact it names is recorded with the version."""
        source = validate_source(source, self.artifacts.root)
        with self._one_open():
            artifact = self._artifact_for_source(source)
            return self._store.create_model_version(
                name, source, run_id, tags, run_link, description, artifact
            )

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self._store.get_model_version(name, version)

    def update_model_version(
        self, name: str, version: int | str, description: str | None = None
    ) -> ModelVersion:
        return self._store.update_model_version(name, version, description)

    def delete_model_version(self, name: str, version: int | str, actor: str | None = None) -> None:
        self._store.delete_model_version(name, version, actor or config.default_actor())

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        return self._store.search_model_versions(filter_string, max_results, order_by, page_token)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        self._store.set_model_version_tag(name, version, key, value)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self._store.delete_model_version_tag(name, version, key)

    def record_validation(
        self,
        name: str,
        version: int | str,
        failures: list[str],
        metrics: dict[str, float] | None = None,
        actor: str | None = None,
    ) -> None:
        """Record a validation outcome: tag `validation=passed|failed` (and the reasons) and
        emit `model_version.validation_passed|failed` to webhooks, in one transaction."""
        self._store.record_validation(
            name, version, failures, metrics or {}, actor or config.default_actor()
        )

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return self._store.get_model_version(name, version).source

    # -- stages --------------------------------------------------------------------------

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        return self._store.transition_model_version_stage(
            name,
            version,
            stage,
            archive_existing_versions,
            actor or config.default_actor(),
            reason,
        )

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        return self._store.get_latest_versions(name, stages)

    # -- aliases -------------------------------------------------------------------------

    def set_registered_model_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        self._store.set_registered_model_alias(
            name, alias, version, actor or config.default_actor(), reason
        )

    def delete_registered_model_alias(
        self, name: str, alias: str, *, actor: str | None = None, reason: str | None = None
    ) -> None:
        self._store.delete_registered_model_alias(
            name, alias, actor or config.default_actor(), reason
        )

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._store.get_model_version_by_alias(name, alias)

    # -- history (beyond MLflow) ---------------------------------------------------------

    def get_model_version_history(
        self, name: str, version: int | str | None = None
    ) -> list[StageTransition]:
        """Every stage transition and alias change of a model (or one version), oldest first."""
        return self._store.get_model_version_history(name, version)

    def get_version_at(
        self, name: str, stage_or_alias: str, timestamp: int | float | datetime | str
    ) -> ModelVersion | None:
        """The version that held a stage (`Production`) or alias (`@champion`) at a time."""
        return self._store.get_version_at(name, stage_or_alias, to_epoch_ms(timestamp))

    def rollback(
        self,
        name: str,
        stage: str = "Production",
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Give a stage (or `@alias`) back to its previous holder and archive the current one."""
        return self._store.rollback(name, stage, actor or config.default_actor(), reason)

    def check_consistency(self) -> list[str]:
        """Broken registry invariants as sentences; empty when the registry is sound."""
        return self._store.check_consistency()

    # -- runs: lineage -------------------------------------------------------------------

    def create_run(
        self,
        run_name: str | None = None,
        tags: dict[str, Any] | None = None,
        *,
        code_version: str | None = None,
        source_info: dict[str, Any] | None = None,
        start_time: int | None = None,
    ) -> Run:
        """Start a run: the record that params, metrics, data and models are logged to."""
        return self._runs.create_run(run_name, tags, code_version, source_info, start_time)

    def get_run(self, run_id: str) -> Run:
        return self._runs.get_run(run_id)

    def search_runs(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Runs matching a filter over params, metrics (latest value), tags and attributes."""
        return self._runs.search_runs(filter_string, max_results, order_by, page_token)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self._runs.log_batch(run_id, params={key: value})

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        metric = Metric(key, value, step or 0, timestamp if timestamp is not None else now_ms())
        self._runs.log_batch(run_id, metrics=[metric])

    def log_batch(
        self,
        run_id: str,
        metrics: list[Metric] | tuple[Metric, ...] = (),
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        self._runs.log_batch(run_id, metrics, params, tags)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._runs.log_batch(run_id, tags={key: value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self._runs.delete_run_tag(run_id, key)

    def set_terminated(
        self, run_id: str, status: str = "FINISHED", end_time: int | None = None
    ) -> None:
        self._runs.set_terminated(run_id, status, end_time)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self._runs.get_metric_history(run_id, key)

    def delete_run(self, run_id: str) -> None:
        """Delete a run; its artifacts stay until `gc()` finds nothing else references them."""
        self._runs.delete_run(run_id)

    def log_input(self, run_id: str, data: Any, context: str = "training") -> DataFingerprint:
        """Record the fingerprint (content and schema hash, row count) of a run's data."""
        fingerprint = fingerprint_data(data)
        self._runs.update_lineage(run_id, data_fingerprint={context: fingerprint.to_dict()})
        return fingerprint

    def update_run_source_info(self, run_id: str, source_info: dict[str, Any]) -> None:
        """Merge free-form source info (e.g. the Dagster run id and asset key) into a run."""
        self._runs.update_lineage(run_id, source_info=source_info)

    def log_model_artifact(
        self,
        run_id: str,
        model: Any,
        artifact_path: str,
        *,
        input_example: Any = None,
        signature: ModelSignature | None = None,
        format: str | None = None,
    ) -> RunArtifact:
        """Serialize a model (skops for scikit-learn), store it, then record it under the run."""
        fmt = format or formats.default_format(model)
        if signature is None and input_example is not None:
            signature = infer_signature(input_example, model)
        path = validate_source(f"runs:/{run_id}/{artifact_path}", self.artifacts.root)
        ref = self.artifacts.put_bytes(formats.dump_model(model, fmt))
        artifact = RunArtifact(
            path=parse_uri(path).path,
            sha256=ref.sha256,
            size=ref.size,
            format=fmt,
            signature=signature.to_dict() if signature else None,
        )
        self._runs.log_artifact(run_id, artifact)
        return artifact

    # -- artifacts, URIs and lineage -----------------------------------------------------

    def resolve_model_uri(self, uri: str) -> ResolvedModel:
        """The stored artifact (and version) a `models:/` or `runs:/` URI points at."""
        parsed = parse_uri(uri)
        if isinstance(parsed, RunUri):
            artifact = self._runs.get_run_artifact(parsed.run_id, parsed.path)
            if artifact is None:
                raise ResourceDoesNotExist(f"No artifact {parsed.path!r} in run {parsed.run_id}.")
            return ResolvedModel(
                uri, artifact.sha256, artifact.format, artifact.signature, None, parsed.run_id
            )
        mv = self._model_version_for(parsed)
        if mv.artifact_sha256 is None or mv.artifact_format is None:
            raise ResourceDoesNotExist(
                f"Version {mv.version} of {mv.name} has no stored artifact (source {mv.source})."
            )
        return ResolvedModel(
            uri, mv.artifact_sha256, mv.artifact_format, mv.signature, mv, mv.run_id
        )

    def _model_version_for(self, parsed: ModelUri) -> ModelVersion:
        if parsed.version is not None:
            return self.get_model_version(parsed.name, parsed.version)
        if parsed.alias is not None:
            return self.get_model_version_by_alias(parsed.name, parsed.alias)
        stages = [parsed.stage] if parsed.stage else None
        found = self.get_latest_versions(parsed.name, stages)
        if not found:
            raise ResourceDoesNotExist(f"No version of {parsed.name} is in stage {parsed.stage}.")
        return max(found, key=lambda mv: int(mv.version))

    def _artifact_for_source(self, source: str) -> dict[str, Any] | None:
        """The artifact record a validated source points at; None for a run we do not hold."""
        if source.startswith(("runs:/", "models:/")):
            try:
                resolved = self.resolve_model_uri(source)
            except ResourceDoesNotExist:
                if source.startswith("models:/") or self._run_exists(parse_uri(source).run_id):
                    raise
                return None
            digest, fmt, signature = resolved.sha256, resolved.format, resolved.signature
            missing = f"The artifact {digest} of {source!r} is missing."
        else:
            digest, fmt, signature = source.rsplit("/", 1)[-1], None, None
            missing = f"No stored artifact at {source!r}."
            if not is_sha256(digest):
                raise ResourceDoesNotExist(missing)
        path = self.artifacts.path_for(digest)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ResourceDoesNotExist(missing) from None
        if fmt is None:
            with path.open("rb") as handle:
                fmt = formats.detect_format(handle.read(16))
        return {"sha256": digest, "size": size, "format": fmt, "signature": signature}

    def _run_exists(self, run_id: str) -> bool:
        try:
            self.get_run(run_id)
        except ResourceDoesNotExist:
            return False
        return True

    def copy_model_version(self, src_model_uri: str, dst_name: str) -> ModelVersion:
        """Copy a version (artifact, run, tags, description) to another model, creating it."""
        parsed = self._require_model_uri(src_model_uri)
        with self._one_open():
            src = self._model_version_for(parsed)
            try:
                self.get_registered_model(dst_name)
            except ResourceDoesNotExist:
                self.create_registered_model(dst_name)
            return self.create_model_version(
                dst_name,
                src.uri,
                run_id=src.run_id,
                tags=src.tags,
                description=src.description,
            )

    @staticmethod
    def _require_model_uri(uri: str) -> ModelUri:
        parsed = parse_uri(uri)
        if not isinstance(parsed, ModelUri):
            raise InvalidParameterValue(f"Expected a models:/ URI, got {uri!r}.")
        return parsed

    def get_model_version_lineage(self, name: str, version: int | str) -> Lineage:
        """A version and the run that produced it: params, metrics, data fingerprint, source."""
        with self._one_open():
            mv = self.get_model_version(name, version)
            run = None
            if mv.run_id:
                try:
                    run = self.get_run(mv.run_id)
                except (ResourceDoesNotExist, InvalidParameterValue):
                    run = None
        return Lineage(mv, run)

    def gc(self, dry_run: bool = False, grace_seconds: float = 3600.0) -> list[ArtifactRef]:
        """Remove stored artifacts no version or run references (files younger than the grace
        period are kept: a writer stores its artifact before the row that points at it)."""
        return self.artifacts.gc(
            self._runs.referenced_digests(), dry_run=dry_run, grace_seconds=grace_seconds
        )

    # -- webhooks ------------------------------------------------------------------------

    def create_webhook(
        self,
        name: str,
        url: str,
        events: list[str],
        secret: str | None = None,
        description: str | None = None,
        status: str = "ACTIVE",
        format: str = "json",
        *,
        allow_http: bool = False,
    ) -> Webhook:
        """Subscribe a URL to registry events: exact names or wildcards like `model_version.*`."""
        return self._webhooks.create_webhook(
            name, url, events, secret, description, status, format, allow_http
        )

    def get_webhook(self, name: str) -> Webhook:
        """A webhook without its secret (`has_secret` says whether it signs)."""
        return self._webhooks.get_webhook(name)

    def list_webhooks(self) -> list[Webhook]:
        """Every webhook by name, without secrets."""
        return self._webhooks.list_webhooks()

    def update_webhook(
        self,
        name: str,
        url: str | None = None,
        events: list[str] | None = None,
        secret: str | None = None,
        description: str | None = None,
        status: str | None = None,
        format: str | None = None,
        *,
        allow_http: bool = False,
    ) -> Webhook:
        """Change the given fields of a webhook (None keeps one; `secret=""` removes it)."""
        return self._webhooks.update_webhook(
            name, url, events, secret, description, status, format, allow_http
        )

    def delete_webhook(self, name: str) -> None:
        """Remove a webhook with its deliveries and their history."""
        self._webhooks.delete_webhook(name)

    def test_webhook(self, name: str) -> DeliveryAttempt:
        """Send a `webhook.test` event to one webhook now and return the attempt."""
        return WebhookDeliverer(self._webhooks).send_test(name)

    def list_webhook_deliveries(
        self, name: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries, newest event first, with every attempt (status code, latency, error)."""
        return self._webhooks.list_deliveries(name, status, limit)

    def get_webhook_delivery(self, delivery_id: str) -> Delivery:
        """One delivery with its attempts."""
        return self._webhooks.get_delivery(delivery_id)

    def redeliver(self, delivery_id: str) -> DeliveryAttempt:
        """Send a delivery again now, under the same id, with a fresh budget of retries."""
        return WebhookDeliverer(self._webhooks).redeliver(delivery_id)

    def deliver_webhooks(self, max_seconds: float | None = None) -> DeliverySummary:
        """Send every webhook delivery due now; the Dagster sensor runs this on each tick."""
        return WebhookDeliverer(self._webhooks).deliver_pending(max_seconds)
