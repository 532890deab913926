"""What one model's import hands the store: the model, its versions and their runs, as read
from MLflow, with the artifacts already stored here (each version names its stored digest)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from registry_core.entities import Metric

IMPORT_SOURCE_TAG = "mlflow.import.source"
"""On a model: the MLflow tracking URI it came from; on a version: MLflow's own source URI."""
IMPORT_NAME_TAG = "mlflow.import.name"
"""On a model: its name in MLflow, which says a model here is that MLflow model (also renamed)."""
IMPORT_USER_TAG = "mlflow.import.user"
IMPORT_ARTIFACT_TAG = "mlflow.import.artifact_sha256"
IMPORT_CONVERTED_TAG = "mlflow.import.converted"
IMPORT_FLAVOR_TAG = "mlflow.import.flavor"
IMPORTED_EVENT = "imported"
"""The history event each imported version starts with: MLflow keeps no stage history."""


@dataclass(frozen=True)
class ImportedRun:
    """An MLflow run, under its MLflow run id: params, every metric's full history, tags."""

    run_id: str
    run_name: str | None
    status: str
    start_time: int
    end_time: int | None
    user_id: str | None
    experiment_name: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = ()


@dataclass(frozen=True)
class ImportedVersion:
    """An MLflow model version with its number, stage, times and user; `artifact_sha256` is the
    stored file here (MLflow's own source is kept in the `mlflow.import.source` tag)."""

    version: int
    current_stage: str
    status: str
    description: str | None
    tags: dict[str, str]
    run_id: str | None
    run_link: str | None
    user_id: str | None
    creation_timestamp: int
    last_updated_timestamp: int
    artifact_sha256: str
    artifact_format: str
    signature: dict[str, Any] | None = None


@dataclass(frozen=True)
class ImportedModel:
    """A registered model as one unit of import: written whole, or (when it fails) not at all.

    `name` is the name here (MLflow's, or a renamed one); the `mlflow.import.name` tag holds
    MLflow's. A model already here under that identity only gains the versions, runs and
    aliases it lacks, so a repeated or resumed import writes nothing twice.
    """

    name: str
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, int]
    creation_timestamp: int
    last_updated_timestamp: int
    versions: tuple[ImportedVersion, ...]
    runs: tuple[ImportedRun, ...]
    reason: str


@dataclass(frozen=True)
class ModelImportResult:
    """What the store wrote for one model: counts of new rows (zero when all were there)."""

    name: str
    created: bool
    versions: int
    runs: int
    metrics: int
    aliases: int
