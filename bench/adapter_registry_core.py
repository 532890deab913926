"""This project's registry behind `RegistryAdapter`: `registry_core.RegistryClient` over one registry folder
(DuckDB file plus artifacts)."""

from __future__ import annotations

import os
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

from registry_workloads import RegistryAdapter, VersionInfo

import registry_core as rc


def _info(mv: Any) -> VersionInfo:
    return VersionInfo(mv.name, int(mv.version), mv.current_stage)


class RegistryCoreAdapter(RegistryAdapter):
    name = "registry_core"
    backend_version = getattr(rc, "__version__", "dev")
    cold_import = "import registry_core as rc; rc.RegistryClient"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        os.environ["MODEL_REGISTRY_URI"] = str(self.root.resolve() / "registry")
        self.client = rc.RegistryClient(str(self.root.resolve() / "registry"))

    @classmethod
    def environment(cls) -> dict[str, str]:
        dists = ("duckdb", "scikit-learn", "skops", "pandas", "numpy")
        return {"packages": {d: _dist_version(d) for d in dists}}

    def create_model(self, name: str) -> None:
        self.client.create_registered_model(name)

    def create_version(
        self, name: str, source_uri: str, run_id: str | None, tags: dict[str, str]
    ) -> int:
        # The registry accepts only runs:/, models:/ and artifacts:/ sources (or paths inside its store).
        source = f"runs:/{run_id}/model" if run_id else source_uri
        return int(self.client.create_model_version(name, source, run_id=run_id, tags=tags).version)

    def transition(self, name: str, version: int, stage: str, archive_existing: bool) -> None:
        self.client.transition_model_version_stage(
            name, version, stage, archive_existing_versions=archive_existing
        )

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def search_versions(self, filter: str, max_results: int | None = None) -> list[VersionInfo]:
        kwargs = {} if max_results is None else {"max_results": max_results}
        return [_info(mv) for mv in self.client.search_model_versions(filter, **kwargs)]

    def search_models(self, filter: str | None) -> list[str]:
        return [rm.name for rm in self.client.search_registered_models(filter)]

    def latest_versions(self, name: str, stages: list[str]) -> list[VersionInfo]:
        return [_info(mv) for mv in self.client.get_latest_versions(name, stages)]

    def get_version(self, name: str, version: int) -> VersionInfo:
        return _info(self.client.get_model_version(name, version))

    def log_sklearn_model(self, name: str, estimator: Any) -> int:
        with rc.start_run():
            info = rc.log_model(estimator, artifact_path="model", registered_model_name=name)
        v = getattr(info, "registered_model_version", None) or getattr(info, "version", None)
        return (
            int(v)
            if v is not None
            else max(int(mv.version) for mv in self.client.search_model_versions(f"name='{name}'"))
        )

    def load(self, uri: str, flavor: str = "pyfunc") -> Any:
        return rc.load_model(uri) if flavor == "pyfunc" else rc.load_model(uri, raw=True)
