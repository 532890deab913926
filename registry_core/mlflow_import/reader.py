"""Reading an MLflow registry through MLflow's own client: a server (`http://`), a database
(`sqlite:///`) or a local `mlruns` folder, as MLflow itself reads it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from registry_core.entities import Metric
from registry_core.errors import InvalidParameterValue, MissingDependency
from registry_core.mlflow_import.bundle import ImportedRun
from registry_core.mlmodel import MLMODEL, flavors, model_files

_PAGE = 1000
_FILE_STORE_ENV = "MLFLOW_ALLOW_FILE_STORE"
_PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
EXTRA = "pip install 'dagster-model-registry[mlflow]'"


@dataclass(frozen=True)
class SourceVersion:
    """One MLflow model version as MLflow holds it."""

    version: int
    current_stage: str
    status: str
    description: str | None
    tags: dict[str, str]
    source: str
    run_id: str | None
    run_link: str | None
    user_id: str | None
    creation_timestamp: int
    last_updated_timestamp: int


@dataclass(frozen=True)
class SourceModel:
    """One MLflow registered model with its versions, oldest first."""

    name: str
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, int]
    creation_timestamp: int
    last_updated_timestamp: int
    versions: tuple[SourceVersion, ...]


def public_uri(tracking_uri: str) -> str:
    """The tracking URI without a user name or password, as it may be recorded and shown."""
    parts = urlsplit(tracking_uri)
    if parts.username is None and parts.password is None:
        return tracking_uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _local_folder(tracking_uri: str) -> str:
    """A local `mlruns` folder as MLflow's `file://` URI; any other URI as it is. MLflow 3
    reads a folder only when told to (`MLFLOW_ALLOW_FILE_STORE`): reading one is the point."""
    if tracking_uri.startswith("file:"):
        os.environ.setdefault(_FILE_STORE_ENV, "true")
    if "://" in tracking_uri or tracking_uri.startswith(("sqlite:", "file:")):
        return tracking_uri
    folder = Path(tracking_uri).expanduser().resolve()
    if not folder.is_dir():
        raise InvalidParameterValue(
            f"Tracking URI {tracking_uri!r} is neither a URI nor an existing mlruns folder."
        )
    os.environ.setdefault(_FILE_STORE_ENV, "true")
    return folder.as_uri()


class MlflowReader:
    """An MLflow registry, read with `mlflow.MlflowClient` (from the `[mlflow]` extra)."""

    def __init__(self, tracking_uri: str) -> None:
        try:
            from mlflow import MlflowClient
        except ImportError as error:
            raise MissingDependency(
                f"Importing from MLflow needs MLflow's client: {EXTRA}."
            ) from error
        self.tracking_uri = _local_folder(tracking_uri)
        self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        self._experiments: dict[str, str] = {}

    def model_names(self) -> list[str]:
        """Every registered model's name, sorted."""
        names: list[str] = []
        token = None
        while True:
            page = self._client.search_registered_models(max_results=_PAGE, page_token=token)
            names.extend(model.name for model in page)
            token = page.token
            if not token:
                return sorted(names)

    def model(self, name: str) -> SourceModel:
        """A registered model with every version."""
        found = self._client.get_registered_model(name)
        return SourceModel(
            name=found.name,
            description=found.description or None,
            tags=dict(found.tags or {}),
            aliases={alias: int(v) for alias, v in (found.aliases or {}).items()},
            creation_timestamp=int(found.creation_timestamp or 0),
            last_updated_timestamp=int(found.last_updated_timestamp or 0),
            versions=tuple(sorted(self._versions(name), key=lambda mv: mv.version)),
        )

    def _versions(self, name: str) -> Iterator[SourceVersion]:
        quoted = name.replace("\\", "\\\\").replace("'", "\\'")
        token = None
        while True:
            page = self._client.search_model_versions(
                f"name='{quoted}'", max_results=_PAGE, page_token=token
            )
            for mv in page:
                yield SourceVersion(
                    version=int(mv.version),
                    current_stage=mv.current_stage or "None",
                    status=mv.status or "READY",
                    description=mv.description or None,
                    tags=dict(mv.tags or {}),
                    source=mv.source or "",
                    run_id=mv.run_id or None,
                    run_link=mv.run_link or None,
                    user_id=mv.user_id or None,
                    creation_timestamp=int(mv.creation_timestamp or 0),
                    last_updated_timestamp=int(
                        mv.last_updated_timestamp or mv.creation_timestamp or 0
                    ),
                )
            token = page.token
            if not token:
                return

    def run(self, run_id: str) -> ImportedRun | None:
        """A run with params, tags and every metric's full history; None if MLflow lacks it."""
        from mlflow.exceptions import MlflowException

        try:
            found = self._client.get_run(run_id)
        except MlflowException:
            return None
        info, data = found.info, found.data
        metrics = tuple(
            Metric(m.key, float(m.value), int(m.step or 0), int(m.timestamp or 0))
            for key in sorted(data.metrics)
            for m in self._client.get_metric_history(run_id, key)
        )
        return ImportedRun(
            run_id=info.run_id,
            run_name=info.run_name or None,
            status=info.status,
            start_time=int(info.start_time or 0),
            end_time=None if info.end_time is None else int(info.end_time),
            user_id=info.user_id or None,
            experiment_name=self._experiment_name(info.experiment_id),
            params=dict(data.params),
            tags=dict(data.tags),
            metrics=metrics,
        )

    def _experiment_name(self, experiment_id: str) -> str:
        if experiment_id not in self._experiments:
            self._experiments[experiment_id] = self._client.get_experiment(experiment_id).name
        return self._experiments[experiment_id]

    def download(self, version: SourceVersion, name: str, into: Path) -> Path:
        """The version's model folder (or file), downloaded under `into`; a source that names
        its artifacts itself is read as it is, a `models:/` one through MLflow's registry."""
        from mlflow.artifacts import download_artifacts

        uri = version.source
        if not uri or uri.startswith("models:/"):
            uri = self._client.get_model_version_download_uri(name, str(version.version))
        into.mkdir(parents=True, exist_ok=True)
        with _no_progress_bars():
            return Path(
                download_artifacts(
                    artifact_uri=uri,
                    dst_path=os.fspath(into),
                    tracking_uri=self.tracking_uri,
                    registry_uri=self.tracking_uri,
                )
            )


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """MLflow's per-download progress bars off: the import draws its own."""
    before = os.environ.get(_PROGRESS_BAR_ENV)
    os.environ[_PROGRESS_BAR_ENV] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_PROGRESS_BAR_ENV, None)
        else:
            os.environ[_PROGRESS_BAR_ENV] = before


def model_file(folder: Path) -> tuple[Path, str]:
    """The file of an MLflow model folder that holds the model itself, and its flavor: the
    scikit-learn, XGBoost or LightGBM flavor's file, else the pyfunc model's, else None."""
    mlmodel = folder / MLMODEL
    if not folder.is_dir() or not mlmodel.is_file():
        return folder, "none"
    for flavor, name in model_files(flavors(mlmodel.read_text())):
        if name and (folder / name).is_file():
            return folder / name, flavor
    return mlmodel, "none"
