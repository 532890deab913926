"""The store interface: everything a registry backend offers the client, by area.

Two implementations: `EmbeddedStore` (a DuckDB file and an artifact folder in this process) and
`HttpStore` (a registry server). The client is a thin layer over either, and the server is a thin
layer over an `EmbeddedStore`, so every registry rule lives behind this interface once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, BinaryIO, Protocol

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
)
from registry_core.mlflow_import.bundle import ImportedModel, ModelImportResult
from registry_core.webhooks.entities import Delivery, DeliveryAttempt, DeliverySummary, Webhook

Progress = Callable[[str, int, int], None]
"""A progress callback: (task, done, total)."""


class ArtifactRef(Protocol):
    sha256: str
    size: int


class Artifacts(Protocol):
    """The content-addressed artifact folder, local or behind a server: bytes by sha256."""

    def put_bytes(self, data: bytes) -> Any:
        """Store bytes under their sha256 and return the reference (sha256, size)."""

    def put_file(self, path: Any) -> Any:
        """Stream a file into the store and return its reference."""

    def put_stream(self, stream: BinaryIO, expected_sha256: str | None = None) -> Any:
        """Stream bytes into the store; refused unless they hash to `expected_sha256`."""

    def read_verified(self, sha256: str) -> bytes:
        """The bytes of an artifact, checked against its digest (DATA_LOSS if they differ)."""

    def verify(self, sha256: str) -> str | None:
        """What is wrong with a stored artifact (missing, altered), or None."""

    def exists(self, sha256: str) -> bool:
        """True when an artifact is stored under this digest."""


class ModelRegistryStore(ABC):
    """Registered models, versions, stages, aliases and their history; each change atomic."""

    @abstractmethod
    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None, description: str | None
    ) -> RegisteredModel: ...

    @abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel: ...

    @abstractmethod
    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel: ...

    @abstractmethod
    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel: ...

    @abstractmethod
    def delete_registered_model(self, name: str) -> None: ...

    @abstractmethod
    def search_registered_models(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> PagedList[RegisteredModel]: ...

    @abstractmethod
    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None: ...

    @abstractmethod
    def delete_registered_model_tag(self, name: str, key: str) -> None: ...

    @abstractmethod
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: dict[str, Any] | None,
        run_link: str | None,
        description: str | None,
        actor: str,
    ) -> ModelVersion:
        """Register a version; its source must be a run, model or stored-artifact URI (or a path
        inside the artifact store), and the artifact it names is recorded with the version; the
        history records who registered it from which run."""

    @abstractmethod
    def get_model_version(self, name: str, version: int | str) -> ModelVersion: ...

    @abstractmethod
    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion: ...

    @abstractmethod
    def delete_model_version(self, name: str, version: int | str, actor: str) -> None: ...

    @abstractmethod
    def search_model_versions(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> PagedList[ModelVersion]: ...

    @abstractmethod
    def set_model_version_tag(
        self, name: str, version: int | str, key: str, value: Any
    ) -> None: ...

    @abstractmethod
    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None: ...

    @abstractmethod
    def record_validation(
        self,
        name: str,
        version: int | str,
        failures: Sequence[str],
        metrics: dict[str, float],
        actor: str,
    ) -> None:
        """Tag a version with its validation outcome and emit it, in one transaction."""

    @abstractmethod
    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool,
        actor: str,
        reason: str | None,
    ) -> ModelVersion: ...

    @abstractmethod
    def get_latest_versions(self, name: str, stages: list[str] | None) -> list[ModelVersion]: ...

    @abstractmethod
    def set_registered_model_alias(
        self, name: str, alias: str, version: int | str, actor: str, reason: str | None
    ) -> None: ...

    @abstractmethod
    def delete_registered_model_alias(
        self, name: str, alias: str, actor: str, reason: str | None
    ) -> None: ...

    @abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    @abstractmethod
    def get_model_version_history(
        self, name: str, version: int | str | None
    ) -> list[StageTransition]: ...

    @abstractmethod
    def get_version_at(
        self, name: str, stage_or_alias: str, timestamp: int
    ) -> ModelVersion | None: ...

    @abstractmethod
    def rollback(self, name: str, stage: str, actor: str, reason: str | None) -> ModelVersion: ...

    @abstractmethod
    def resolve_model_uri(self, uri: str) -> ResolvedModel:
        """The stored artifact (and version) a `models:/` or `runs:/` URI points at."""

    @abstractmethod
    def import_model(self, model: ImportedModel, actor: str) -> ModelImportResult:
        """Write a model read from MLflow (its artifacts stored first) in one transaction: what
        the registry lacks of it, so a repeated or resumed import writes nothing twice."""

    @abstractmethod
    def check_consistency(self) -> list[str]:
        """Every broken invariant as a sentence; empty when the registry is sound."""


class ApprovalStore(ABC):
    """Human approval: transition requests, comments on versions and protected stages."""

    @abstractmethod
    def create_transition_request(
        self, name: str, version: int | str, stage: str, comment: str | None, actor: str
    ) -> TransitionRequest:
        """Open a request to move a version into a stage (one open per version and stage);
        it closes the open requests of older versions for that stage."""

    @abstractmethod
    def approve_transition_request(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool,
        comment: str | None,
        actor: str,
    ) -> TransitionRequest:
        """Approve the open request and make its transition, in one transaction."""

    @abstractmethod
    def reject_transition_request(
        self, name: str, version: int | str, stage: str, comment: str | None, actor: str
    ) -> TransitionRequest: ...

    @abstractmethod
    def cancel_transition_request(
        self, name: str, version: int | str, stage: str, comment: str | None, actor: str
    ) -> TransitionRequest:
        """Withdraw an open request; only its author may."""

    @abstractmethod
    def list_transition_requests(
        self, name: str | None, version: int | str | None, status: str | None
    ) -> list[TransitionRequest]:
        """Requests, newest first: of one model (or version) or all, in one status or any."""

    @abstractmethod
    def create_comment(
        self, name: str, version: int | str, comment: str, actor: str
    ) -> VersionComment: ...

    @abstractmethod
    def update_comment(self, comment_id: int, comment: str, actor: str) -> VersionComment:
        """Edit a comment; only its author may."""

    @abstractmethod
    def delete_comment(self, comment_id: int, actor: str) -> None:
        """Delete a comment; only its author may."""

    @abstractmethod
    def list_comments(self, name: str, version: int | str) -> list[VersionComment]:
        """A version's comments, oldest first."""

    @abstractmethod
    def set_stage_protection(
        self, name: str, stages: list[str], direct_roles: list[str]
    ) -> StageProtection:
        """Which stages of a model need an approved request, and which roles may skip one."""

    @abstractmethod
    def get_stage_protection(self, name: str) -> StageProtection: ...


class RunStore(ABC):
    """Experiments and runs, the lineage record: params, metric histories, tags, artifacts."""

    @abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None, tags: dict[str, Any] | None
    ) -> str: ...

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment: ...

    @abstractmethod
    def search_experiments(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> PagedList[Experiment]: ...

    @abstractmethod
    def create_run(
        self,
        run_name: str | None,
        tags: dict[str, Any] | None,
        code_version: str | None,
        source_info: dict[str, Any] | None,
        start_time: int | None,
        experiment_id: str | None,
        user_id: str | None,
    ) -> Run: ...

    @abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abstractmethod
    def search_runs(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> PagedList[Run]: ...

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: dict[str, Any] | None,
        tags: dict[str, Any] | None,
    ) -> None:
        """Params, metrics and tags of a run in one transaction; a param never changes value."""

    @abstractmethod
    def delete_run_tag(self, run_id: str, key: str) -> None: ...

    @abstractmethod
    def update_run(
        self, run_id: str, status: str | None, end_time: int | None, run_name: str | None
    ) -> Run:
        """Set a run's status (ending it stamps `end_time`, default now) and its name."""

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...

    @abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abstractmethod
    def update_lineage(
        self,
        run_id: str,
        data_fingerprint: dict[str, Any] | None,
        source_info: dict[str, Any] | None,
    ) -> None:
        """Merge data fingerprints (by context) and source info into the run's record."""

    @abstractmethod
    def log_run_artifact(
        self,
        run_id: str,
        path: str,
        sha256: str,
        format: str,
        signature: dict[str, Any] | None,
    ) -> RunArtifact:
        """Record a stored artifact under a path of the run (its size is read from the store)."""

    @abstractmethod
    def get_run_artifact(self, run_id: str, path: str) -> RunArtifact | None: ...


class WebhookStore(ABC):
    """Webhook subscriptions, their delivery history, and sending what the outbox holds."""

    @abstractmethod
    def create_webhook(
        self,
        name: str,
        url: str,
        events: list[str],
        secret: str | None,
        description: str | None,
        status: str,
        format: str,
        allow_http: bool,
    ) -> Webhook: ...

    @abstractmethod
    def get_webhook(self, name: str) -> Webhook: ...

    @abstractmethod
    def list_webhooks(self) -> list[Webhook]: ...

    @abstractmethod
    def update_webhook(
        self,
        name: str,
        url: str | None,
        events: list[str] | None,
        secret: str | None,
        description: str | None,
        status: str | None,
        format: str | None,
        allow_http: bool,
    ) -> Webhook: ...

    @abstractmethod
    def delete_webhook(self, name: str) -> None: ...

    @abstractmethod
    def list_deliveries(
        self, name: str | None, status: str | None, limit: int
    ) -> list[Delivery]: ...

    @abstractmethod
    def get_delivery(self, delivery_id: str) -> Delivery: ...

    @abstractmethod
    def test_webhook(self, name: str) -> DeliveryAttempt:
        """Send a `webhook.test` event to one webhook now and return the attempt."""

    @abstractmethod
    def redeliver(self, delivery_id: str) -> DeliveryAttempt:
        """Send a delivery again now, under the same id, with a fresh budget of retries."""

    @abstractmethod
    def deliver_webhooks(self, max_seconds: float | None) -> DeliverySummary:
        """Send every webhook delivery due now."""


class AdminStore(ABC):
    """Access tokens and upkeep: garbage collection, schema and integrity."""

    @abstractmethod
    def create_token(self, name: str, role: str, actor: str) -> tuple[ApiToken, str]:
        """A new token: its record and the secret, which is shown once and stored hashed."""

    @abstractmethod
    def list_tokens(self) -> list[ApiToken]: ...

    @abstractmethod
    def revoke_token(self, name: str, actor: str) -> ApiToken: ...

    @abstractmethod
    def gc(self, dry_run: bool, grace_seconds: float) -> list[Any]:
        """Remove stored artifacts no version or run references (younger files are kept)."""

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def artifact_folder_problem(self) -> str | None:
        """Why the artifact folder is not this registry's to write or collect in, or None."""

    @abstractmethod
    def proxied_files(self) -> dict[str, str]:
        """Each path of MLflow's artifact proxy with the sha256 of the file it holds."""

    @abstractmethod
    def export_registry(
        self, directory: str, progress: Progress | None = None, include_secrets: bool = False
    ) -> Any:
        """Dump every row, every artifact they reference and the webhook subscriptions (their
        signing secrets only with `include_secrets`) into a new folder, in one snapshot."""

    @abstractmethod
    def import_registry(
        self, directory: str, on_conflict: str = "fail", progress: Progress | None = None
    ) -> Any:
        """Load a dump: artifacts first (verified), then every row in one transaction."""


class RegistryStore(ModelRegistryStore, ApprovalStore, RunStore, WebhookStore, AdminStore):
    """A whole registry backend: what `RegistryClient` talks to."""

    artifacts: Artifacts

    @property
    @abstractmethod
    def uri(self) -> str:
        """Where this registry is: a folder path, or the server's URL."""

    @abstractmethod
    def session(self) -> AbstractContextManager[None]:
        """Keep the backend open for a block of calls."""

    @abstractmethod
    def close(self) -> None:
        """Release what the store holds now (it reopens on the next call)."""

    def file_usage(self) -> FileUsage | None:
        """What this process has spent on the registry file; None where a server holds it."""
        return None
