"""Registry entities: frozen dataclasses shaped as MLflow's, so ported code reads the same."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

STAGE_NONE = "None"
STAGE_STAGING = "Staging"
STAGE_PRODUCTION = "Production"
STAGE_ARCHIVED = "Archived"
STAGES: tuple[str, ...] = (STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED)

STATUS_READY = "READY"


def now_ms() -> int:
    """Milliseconds since the epoch, the registry's unit of time (as MLflow's)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ModelVersion:
    """One numbered version of a registered model."""

    name: str
    version: str
    source: str
    run_id: str | None
    run_link: str | None
    current_stage: str
    status: str
    description: str | None
    tags: dict[str, str]
    aliases: tuple[str, ...]
    creation_timestamp: int
    last_updated_timestamp: int
    artifact_sha256: str | None = None
    artifact_size: int | None = None
    artifact_format: str | None = None
    signature: dict[str, Any] | None = None

    @property
    def uri(self) -> str:
        """The `models:/` URI that pins this exact version."""
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class RegisteredModel:
    """A named model: its description, tags, aliases and the latest version in each stage."""

    name: str
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, str]
    latest_versions: tuple[ModelVersion, ...]
    creation_timestamp: int
    last_updated_timestamp: int


REQUEST_OPEN = "open"
REQUEST_APPROVED = "approved"
REQUEST_REJECTED = "rejected"
REQUEST_CANCELLED = "cancelled"
REQUEST_CLOSED = "closed"
REQUEST_STATUSES: tuple[str, ...] = (
    REQUEST_OPEN,
    REQUEST_APPROVED,
    REQUEST_REJECTED,
    REQUEST_CANCELLED,
    REQUEST_CLOSED,
)
REQUEST_EVENTS: dict[str, str] = {
    "request_created": "opened",
    "request_approved": "approved",
    "request_rejected": "rejected",
    "request_cancelled": "cancelled",
    "request_closed": "closed",
}


@dataclass(frozen=True)
class TransitionRequest:
    """A request to move a version into a stage, and what became of it.

    `status` is open, approved, rejected, cancelled (by its author) or closed (the version was
    deleted, or another version entered the stage); `resolved_by` and `resolution` say who
    settled it and why."""

    id: int
    name: str
    version: str
    to_stage: str
    status: str
    requested_by: str
    comment: str | None
    creation_timestamp: int
    resolved_by: str | None = None
    resolution: str | None = None
    resolved_timestamp: int | None = None


@dataclass(frozen=True)
class VersionComment:
    """A comment on a model version, editable and deletable by its author only."""

    id: int
    name: str
    version: str
    author: str
    comment: str
    creation_timestamp: int
    last_updated_timestamp: int


@dataclass(frozen=True)
class StageProtection:
    """Which stages of a model need an approved transition request, and which token roles may
    still move a version into them directly (none by default)."""

    name: str
    stages: tuple[str, ...] = ()
    direct_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageTransition:
    """One entry of the append-only history: a stage change, an alias change, a deletion, a
    version's registration or validation, or a step of a transition request.

    `event` is `stage` (from_stage -> to_stage), `alias_set`, `alias_deleted`,
    `version_deleted`, `version_created`, `validation_passed|failed`, `request_created|
    approved|rejected|cancelled|closed` (to_stage is the requested stage, `request_id` the
    request) or `imported` (a version's first entry when it came from MLflow, with the stage it
    held there as `to_stage`); `alias` is set for alias events, and `from_version` names the
    version an alias was moved away from.
    """

    id: int
    model: str
    version: str
    event: str
    from_version: str | None
    from_stage: str | None
    to_stage: str | None
    alias: str | None
    actor: str
    reason: str | None
    timestamp: int
    request_id: int | None = None

    @property
    def change(self) -> str:
        """What this entry changed, in words (`Staging -> Production`, `@champion set`)."""
        if self.event in REQUEST_EVENTS:
            return f"request #{self.request_id} to {self.to_stage} {REQUEST_EVENTS[self.event]}"
        if self.event == "version_created":
            return "version registered"
        if self.event in ("validation_passed", "validation_failed"):
            return self.event.replace("_", " ")
        if self.event == "stage":
            return f"{self.from_stage} -> {self.to_stage}"
        if self.event == "alias_set":
            moved = f" (from v{self.from_version})" if self.from_version else ""
            return f"@{self.alias} set{moved}"
        if self.event == "alias_deleted":
            return f"@{self.alias} removed"
        if self.event == "imported":
            return f"imported from MLflow in {self.to_stage}"
        if self.event == "version_deleted":
            return f"version deleted (was {self.from_stage})"
        return self.event


class PagedList(list[T], Generic[T]):
    """A page of search results; `token` fetches the next page and is None on the last one."""

    def __init__(self, items: Any = (), token: str | None = None) -> None:
        super().__init__(items)
        self.token = token


@dataclass(frozen=True)
class Metric:
    """One logged value of a metric; a metric's history is several of these with rising steps."""

    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class RunArtifact:
    """A file logged by a run: where it sits in the run, its digest, size, format and signature."""

    path: str
    sha256: str
    size: int
    format: str
    signature: dict[str, Any] | None = None


@dataclass(frozen=True)
class ModelOutput:
    """A logged model a run output (MLflow's LoggedModelOutput), at a step of the run."""

    model_id: str
    step: int


@dataclass(frozen=True)
class Run:
    """The lineage record of one training run."""

    run_id: str
    run_name: str | None
    status: str
    start_time: int
    end_time: int | None
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    code_version: str | None
    data_fingerprint: dict[str, Any] | None
    source_info: dict[str, Any]
    artifacts: tuple[RunArtifact, ...] = field(default=())
    experiment_id: str = "0"
    user_id: str | None = None
    model_outputs: tuple[ModelOutput, ...] = ()


LOGGED_MODEL_PENDING = "LOGGED_MODEL_PENDING"
LOGGED_MODEL_READY = "LOGGED_MODEL_READY"
LOGGED_MODEL_FAILED = "LOGGED_MODEL_UPLOAD_FAILED"
LOGGED_MODEL_STATUSES: tuple[str, ...] = (
    LOGGED_MODEL_PENDING,
    LOGGED_MODEL_READY,
    LOGGED_MODEL_FAILED,
)


@dataclass(frozen=True)
class LoggedModel:
    """A model MLflow 3's client logged (`mlflow.<flavor>.log_model`): its MLflow model folder
    sits in the artifact proxy at `artifact_uri`, and a version registered from it has the source
    `models:/<model_id>`. Its status is MLflow's: pending until its files are up."""

    model_id: str
    experiment_id: str
    name: str
    artifact_uri: str
    status: str
    creation_timestamp: int
    last_updated_timestamp: int
    source_run_id: str | None = None
    model_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactFile:
    """One entry of an artifact-proxy folder listing: a file and its size, or a folder."""

    path: str
    is_dir: bool
    file_size: int | None = None


DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"


@dataclass(frozen=True)
class Experiment:
    """A named group of runs, as MLflow's; every registry has the `Default` experiment, id 0."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str]
    creation_time: int
    last_update_time: int


@dataclass(frozen=True)
class ResolvedModel:
    """What a model URI points at: the stored artifact and, for `models:/`, the version."""

    uri: str
    sha256: str
    format: str
    signature: dict[str, Any] | None
    model_version: ModelVersion | None = None
    run_id: str | None = None


ROLES: tuple[str, ...] = ("reader", "writer", "promoter", "admin")


@dataclass(frozen=True)
class ApiToken:
    """A registry server access token: who it stands for and what it may do (never the secret).

    Roles are ordered: each of reader, writer, promoter and admin may do what the ones before
    it may."""

    name: str
    role: str
    created_by: str
    creation_timestamp: int
    revoked_timestamp: int | None = None


@dataclass(frozen=True)
class FileUsage:
    """What one process has spent on the registry file: how often it opened it, how long it
    waited for its turn while other processes held it, how long the opens took, and how long
    it held the file open."""

    opens: int
    waited_seconds: float
    opening_seconds: float
    held_seconds: float

    def __sub__(self, earlier: FileUsage) -> FileUsage:
        return FileUsage(
            self.opens - earlier.opens,
            self.waited_seconds - earlier.waited_seconds,
            self.opening_seconds - earlier.opening_seconds,
            self.held_seconds - earlier.held_seconds,
        )
