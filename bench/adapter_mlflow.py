"""MLflow Model Registry behind `RegistryAdapter`: MlflowClient over one SQLite file that is
both the tracking and the registry store, with artifacts in a folder beside it."""

from __future__ import annotations

import os

# Telemetry would try the network from a background thread; keep timings local and quiet.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from registry_workloads import RegistryAdapter, VersionInfo


def _info(mv: ModelVersion) -> VersionInfo:
    return VersionInfo(mv.name, int(mv.version), mv.current_stage)


class MlflowAdapter(RegistryAdapter):
    name = "mlflow"
    backend_version = mlflow.__version__
    cold_import = "import mlflow; from mlflow import MlflowClient"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.uri = f"sqlite:///{self.root.resolve() / 'mlflow.db'}"
        # mlflow.sklearn / mlflow.pyfunc resolve runs and models:/ URIs through the globals.
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    @classmethod
    def environment(cls) -> dict[str, str]:
        dists = (
            "mlflow",
            "mlflow-skinny",
            "sqlalchemy",
            "alembic",
            "scikit-learn",
            "skops",
            "pandas",
            "numpy",
        )
        import sqlite3

        return {"packages": {d: _dist_version(d) for d in dists}, "sqlite": sqlite3.sqlite_version}

    def create_model(self, name: str) -> None:
        self.client.create_registered_model(name)

    def create_version(
        self, name: str, source_uri: str, run_id: str | None, tags: dict[str, str]
    ) -> int:
        return int(
            self.client.create_model_version(name, source_uri, run_id=run_id, tags=tags).version
        )

    def transition(self, name: str, version: int, stage: str, archive_existing: bool) -> None:
        self.client.transition_model_version_stage(
            name, str(version), stage, archive_existing_versions=archive_existing
        )

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))

    def search_versions(self, filter: str, max_results: int | None = None) -> list[VersionInfo]:
        kwargs = {} if max_results is None else {"max_results": max_results}
        return [_info(mv) for mv in self.client.search_model_versions(filter, **kwargs)]

    def search_models(self, filter: str | None) -> list[str]:
        return [rm.name for rm in self.client.search_registered_models(filter)]

    def latest_versions(self, name: str, stages: list[str]) -> list[VersionInfo]:
        return [_info(mv) for mv in self.client.get_latest_versions(name, stages)]

    def get_version(self, name: str, version: int) -> VersionInfo:
        return _info(self.client.get_model_version(name, str(version)))

    def log_sklearn_model(self, name: str, estimator: Any) -> int:
        import mlflow.sklearn

        exp = self.client.get_experiment_by_name("bench")
        exp_id = (
            exp.experiment_id
            if exp
            else self.client.create_experiment(
                "bench", artifact_location=(self.root.resolve() / "artifacts").as_uri()
            )
        )
        with mlflow.start_run(experiment_id=exp_id):
            info = mlflow.sklearn.log_model(estimator, name="model", registered_model_name=name)
        return int(info.registered_model_version)

    def load(self, uri: str, flavor: str = "pyfunc") -> Any:
        if flavor == "pyfunc":
            import mlflow.pyfunc

            return mlflow.pyfunc.load_model(uri)
        import mlflow.sklearn

        return mlflow.sklearn.load_model(uri)
