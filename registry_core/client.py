"""`RegistryClient`: MLflow's `MlflowClient` registry methods over an embedded DuckDB registry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from registry_core import config
from registry_core.entities import ModelVersion, PagedList, RegisteredModel, StageTransition
from registry_core.errors import InvalidParameterValue
from registry_core.store.connection import shared_manager
from registry_core.store.duckdb_store import DuckDBStore


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
        self._store = DuckDBStore(shared_manager(self.location.db_path, idle, lock))

    @property
    def registry_uri(self) -> str:
        return str(self.location.root)

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry_uri!r})"

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
        return self._store.create_model_version(name, source, run_id, tags, run_link, description)

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
