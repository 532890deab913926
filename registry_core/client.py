"""`RegistryClient`: MLflow's `MlflowClient` methods over a registry store, embedded or remote."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registry_core import config, validation
from registry_core.backends import open_store
from registry_core.entities import (
    ApiToken,
    Experiment,
    FileUsage,
    Metric,
    ModelVersion,
    PagedList,
    RegisteredModel,
    ResolvedModel,
    Run,
    RunArtifact,
    StageProtection,
    StageTransition,
    TransitionRequest,
    VersionComment,
    now_ms,
)
from registry_core.errors import InvalidParameterValue, ResourceDoesNotExist
from registry_core.store.base import Progress, RegistryStore
from registry_core.uris import ModelUri, parse_uri
from registry_core.webhooks.entities import Delivery, DeliveryAttempt, DeliverySummary, Webhook

if TYPE_CHECKING:
    from registry_core.fingerprint import DataFingerprint
    from registry_core.mlflow_import.bundle import ImportedModel, ModelImportResult
    from registry_core.mlflow_import.importer import MlflowImportSummary
    from registry_core.signature import ModelSignature
    from registry_core.transfer import ExportSummary, ImportSummary

__all__ = ["Lineage", "RegistryClient", "ResolvedModel", "to_epoch_ms"]


@dataclass(frozen=True)
class Lineage:
    """A model version beside the run that produced it (None when it has no known run)."""

    model_version: ModelVersion
    run: Run | None


def to_epoch_ms(when: int | float | datetime | str) -> int:
    """Milliseconds since the epoch from an int, a datetime or an ISO-8601 string."""
    if isinstance(when, int | float):
        return validation.timestamp(when)
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

    `registry_uri` is a folder (holding `registry.duckdb` and `artifacts/`), a `.duckdb` file
    path, `duckdb:///path`, or a registry server's `http(s)://host:port`; by default
    `MODEL_REGISTRY_URI`, else `./.registry/`. An embedded file is held only for `idle_timeout`
    seconds after a call (or for a `session()` block), and a locked file is waited for up to
    `lock_timeout` seconds. A server is sent `token` (default `MODEL_REGISTRY_TOKEN`).
    """

    def __init__(
        self,
        registry_uri: str | os.PathLike[str] | None = None,
        *,
        idle_timeout: float | None = None,
        lock_timeout: float | None = None,
        token: str | None = None,
        store: RegistryStore | None = None,
    ) -> None:
        self._store = store or open_store(
            registry_uri, idle_timeout=idle_timeout, lock_timeout=lock_timeout, token=token
        )
        self.artifacts = self._store.artifacts

    @property
    def registry_uri(self) -> str:
        return self._store.uri

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry_uri!r})"

    @contextmanager
    def session(self) -> Iterator[RegistryClient]:
        """Keep the registry open for a block of calls, then release it at once."""
        with self._store.session():
            yield self

    def close(self) -> None:
        """Release the registry now instead of at the end of the idle window."""
        self._store.close()

    def file_usage(self) -> FileUsage | None:
        """What this process has spent on an embedded registry file so far (opens, waiting for
        other processes, holding it); None behind a server, which holds the file itself."""
        return self._store.file_usage()

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
    ) -> PagedList[RegisteredModel]:
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
        *,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register a version; its source must be a run, model or stored-artifact URI, or a path
        inside the artifact store, and the artifact it names is recorded with the version."""
        return self._store.create_model_version(
            name, source, run_id, tags, run_link, description, actor or config.default_actor()
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
    ) -> PagedList[ModelVersion]:
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

    # -- transition requests, comments and protected stages (as Databricks' registry) ----

    def create_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        comment: str | None = None,
        *,
        actor: str | None = None,
    ) -> TransitionRequest:
        """Ask for a version to be moved into a stage; someone with the stage's role approves."""
        return self._store.create_transition_request(
            name, version, stage, comment, actor or config.default_actor()
        )

    def approve_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = True,
        comment: str | None = None,
        *,
        actor: str | None = None,
    ) -> TransitionRequest:
        """Approve the open request for this version and stage, making its transition."""
        return self._store.approve_transition_request(
            name,
            version,
            stage,
            archive_existing_versions,
            comment,
            actor or config.default_actor(),
        )

    def reject_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        comment: str | None = None,
        *,
        actor: str | None = None,
    ) -> TransitionRequest:
        return self._store.reject_transition_request(
            name, version, stage, comment, actor or config.default_actor()
        )

    def cancel_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        comment: str | None = None,
        *,
        actor: str | None = None,
    ) -> TransitionRequest:
        """Withdraw your own open request."""
        return self._store.cancel_transition_request(
            name, version, stage, comment, actor or config.default_actor()
        )

    def list_transition_requests(
        self,
        name: str | None = None,
        status: str | None = "open",
        *,
        version: int | str | None = None,
    ) -> list[TransitionRequest]:
        """Transition requests, newest first; `status` open (default), approved, rejected,
        cancelled, closed, or None for all."""
        return self._store.list_transition_requests(name, version, status or "all")

    def create_comment(
        self, name: str, version: int | str, comment: str, *, actor: str | None = None
    ) -> VersionComment:
        return self._store.create_comment(name, version, comment, actor or config.default_actor())

    def update_comment(
        self, comment_id: int, comment: str, *, actor: str | None = None
    ) -> VersionComment:
        """Edit your own comment."""
        return self._store.update_comment(comment_id, comment, actor or config.default_actor())

    def delete_comment(self, comment_id: int, *, actor: str | None = None) -> None:
        """Delete your own comment."""
        self._store.delete_comment(comment_id, actor or config.default_actor())

    def list_comments(self, name: str, version: int | str) -> list[VersionComment]:
        return self._store.list_comments(name, version)

    def set_stage_protection(
        self, name: str, stages: list[str], direct_roles: list[str] | None = None
    ) -> StageProtection:
        """Make `stages` of a model need an approved request; tokens of `direct_roles` may
        still transition directly. An empty list lifts the protection."""
        return self._store.set_stage_protection(name, stages, list(direct_roles or ()))

    def get_stage_protection(self, name: str) -> StageProtection:
        return self._store.get_stage_protection(name)

    def check_consistency(self) -> list[str]:
        """Broken registry invariants as sentences; empty when the registry is sound."""
        return self._store.check_consistency()

    def schema_version(self) -> int:
        """The schema version the registry's file is at."""
        return self._store.schema_version()

    def artifact_folder_problem(self) -> str | None:
        """Why the artifact folder belongs to another registry (gc and writes refuse), or None."""
        return self._store.artifact_folder_problem()

    def proxied_files(self) -> dict[str, str]:
        """Each path MLflow's client wrote through the artifact proxy, with its file's sha256."""
        return self._store.proxied_files()

    # -- experiments and runs: lineage ---------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: dict[str, Any] | None = None,
    ) -> str:
        """Create an experiment and return its id (runs default to `Default`, id 0)."""
        return self._store.create_experiment(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment of that name, or None (as MLflow)."""
        try:
            return self._store.get_experiment_by_name(name)
        except ResourceDoesNotExist:
            return None

    def search_experiments(
        self,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        return self._store.search_experiments(filter_string, max_results, order_by, page_token)

    def create_run(
        self,
        run_name: str | None = None,
        tags: dict[str, Any] | None = None,
        *,
        code_version: str | None = None,
        source_info: dict[str, Any] | None = None,
        start_time: int | None = None,
        experiment_id: str | None = None,
    ) -> Run:
        """Start a run: the record that params, metrics, data and models are logged to."""
        return self._store.create_run(
            run_name,
            tags,
            code_version,
            source_info,
            start_time,
            experiment_id,
            config.default_actor(),
        )

    def get_run(self, run_id: str) -> Run:
        return self._store.get_run(run_id)

    def search_runs(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs matching a filter over params, metrics (latest value), tags and attributes."""
        return self._store.search_runs(filter_string, max_results, order_by, page_token)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self._store.log_batch(run_id, (), {key: value}, None)

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        metric = Metric(key, value, step or 0, timestamp if timestamp is not None else now_ms())
        self._store.log_batch(run_id, [metric], None, None)

    def log_batch(
        self,
        run_id: str,
        metrics: list[Metric] | tuple[Metric, ...] = (),
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        self._store.log_batch(run_id, metrics, params, tags)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._store.log_batch(run_id, (), None, {key: value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.delete_run_tag(run_id, key)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> Run:
        """Change a run's status and name (as `MlflowClient.update_run`)."""
        return self._store.update_run(run_id, status, None, name)

    def set_terminated(
        self, run_id: str, status: str = "FINISHED", end_time: int | None = None
    ) -> None:
        self._store.update_run(run_id, status, end_time, None)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self._store.get_metric_history(run_id, key)

    def delete_run(self, run_id: str) -> None:
        """Delete a run; its artifacts stay until `gc()` finds nothing else references them."""
        self._store.delete_run(run_id)

    def log_input(self, run_id: str, data: Any, context: str = "training") -> DataFingerprint:
        """Record the fingerprint (content and schema hash, row count) of a run's data."""
        from registry_core.fingerprint import fingerprint_data

        fingerprint = fingerprint_data(data)
        self._store.update_lineage(run_id, {context: fingerprint.to_dict()}, None)
        return fingerprint

    def update_run_source_info(self, run_id: str, source_info: dict[str, Any]) -> None:
        """Merge free-form source info (e.g. the Dagster run id and asset key) into a run."""
        self._store.update_lineage(run_id, None, source_info)

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
        from registry_core import formats
        from registry_core.signature import infer_signature

        fmt = format or formats.default_format(model)
        if signature is None and input_example is not None:
            signature = infer_signature(input_example, model)
        ref = self.artifacts.put_bytes(formats.dump_model(model, fmt))
        return self._store.log_run_artifact(
            run_id, artifact_path, ref.sha256, fmt, signature.to_dict() if signature else None
        )

    # -- artifacts, URIs and lineage -----------------------------------------------------

    def resolve_model_uri(self, uri: str) -> ResolvedModel:
        """The stored artifact (and version) a `models:/` or `runs:/` URI points at."""
        return self._store.resolve_model_uri(uri)

    def copy_model_version(self, src_model_uri: str, dst_name: str) -> ModelVersion:
        """Copy a version (artifact, run, tags, description) to another model, creating it."""
        parsed = parse_uri(src_model_uri)
        if not isinstance(parsed, ModelUri):
            raise InvalidParameterValue(f"Expected a models:/ URI, got {src_model_uri!r}.")
        with self.session():
            src = self.resolve_model_uri(src_model_uri).model_version
            assert src is not None
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

    def get_model_version_lineage(self, name: str, version: int | str) -> Lineage:
        """A version and the run that produced it: params, metrics, data fingerprint, source."""
        with self.session():
            mv = self.get_model_version(name, version)
            run = None
            if mv.run_id:
                try:
                    run = self.get_run(mv.run_id)
                except (ResourceDoesNotExist, InvalidParameterValue):
                    run = None
        return Lineage(mv, run)

    def gc(self, dry_run: bool = False, grace_seconds: float = 3600.0) -> list[Any]:
        """Remove stored artifacts no version or run references (files younger than the grace
        period are kept: a writer stores its artifact before the row that points at it)."""
        return self._store.gc(dry_run, grace_seconds)

    def export_registry(
        self,
        directory: str | os.PathLike[str],
        progress: Progress | None = None,
        include_secrets: bool = False,
    ) -> ExportSummary:
        """Dump every model, version, run, history entry, artifact and webhook subscription into
        a new folder (signing secrets only with `include_secrets`); from a server, the dump is
        made there in one snapshot and streamed here."""
        return self._store.export_registry(os.fspath(directory), progress, include_secrets)

    def import_registry(
        self,
        directory: str | os.PathLike[str],
        on_conflict: str = "fail",
        progress: Progress | None = None,
    ) -> ImportSummary:
        """Load a dump: identical into an empty registry, merged into a non-empty one
        (`on_conflict`: fail, skip or overwrite)."""
        return self._store.import_registry(os.fspath(directory), on_conflict, progress)

    def import_mlflow(
        self,
        tracking_uri: str,
        *,
        on_conflict: str = "fail",
        dry_run: bool = False,
        convert: bool = False,
        progress: Progress | None = None,
    ) -> MlflowImportSummary:
        """Import a whole MLflow registry (server, `sqlite:///` file or `mlruns` folder): models,
        versions with their numbers, aliases, runs and artifacts, one model per transaction, so a
        second import is a no-op and an interrupted one resumes. Pickled models stay opaque
        (loadable only with `allow_pickle=True`) unless `convert`; a model name taken here is
        refused unless `on_conflict` is `skip` or `rename`. Needs the `[mlflow]` extra."""
        from registry_core.mlflow_import.importer import import_mlflow

        return import_mlflow(
            self,
            tracking_uri,
            on_conflict=on_conflict,
            dry_run=dry_run,
            convert=convert,
            progress=progress,
        )

    def import_mlflow_model(self, model: ImportedModel) -> ModelImportResult:
        """Write one model read from MLflow, its artifacts stored first (`import_mlflow`'s step)."""
        return self._store.import_model(model, config.default_actor())

    # -- access tokens (registry server) --------------------------------------------------

    def create_token(self, name: str, role: str) -> tuple[ApiToken, str]:
        """A new server token: its record and its secret, shown only now (stored hashed)."""
        return self._store.create_token(name, role, config.default_actor())

    def list_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones too, without secrets."""
        return self._store.list_tokens()

    def revoke_token(self, name: str) -> ApiToken:
        """Revoke a token: the server refuses it from now on."""
        return self._store.revoke_token(name, config.default_actor())

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
        return self._store.create_webhook(
            name, url, events, secret, description, status, format, allow_http
        )

    def get_webhook(self, name: str) -> Webhook:
        """A webhook without its secret (`has_secret` says whether it signs)."""
        return self._store.get_webhook(name)

    def list_webhooks(self) -> list[Webhook]:
        """Every webhook by name, without secrets."""
        return self._store.list_webhooks()

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
        return self._store.update_webhook(
            name, url, events, secret, description, status, format, allow_http
        )

    def delete_webhook(self, name: str) -> None:
        """Remove a webhook with its deliveries and their history."""
        self._store.delete_webhook(name)

    def test_webhook(self, name: str) -> DeliveryAttempt:
        """Send a `webhook.test` event to one webhook now and return the attempt."""
        return self._store.test_webhook(name)

    def list_webhook_deliveries(
        self, name: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries, newest event first, with every attempt (status code, latency, error)."""
        return self._store.list_deliveries(name, status, limit)

    def get_webhook_delivery(self, delivery_id: str) -> Delivery:
        """One delivery with its attempts."""
        return self._store.get_delivery(delivery_id)

    def redeliver(self, delivery_id: str) -> DeliveryAttempt:
        """Send a delivery again now, under the same id, with a fresh budget of retries."""
        return self._store.redeliver(delivery_id)

    def deliver_webhooks(self, max_seconds: float | None = None) -> DeliverySummary:
        """Send every webhook delivery due now; the Dagster sensor runs this on each tick."""
        return self._store.deliver_webhooks(max_seconds)
