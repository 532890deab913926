"""The store interface: what any registry backend must offer the client."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from registry_core.entities import ModelVersion, PagedList, RegisteredModel, StageTransition


class RegistryStore(ABC):
    """Registered models, versions, stages, aliases and their history; each change atomic."""

    @abstractmethod
    def session(self) -> AbstractContextManager[None]:
        """Keep the backend open for a block of calls."""

    @abstractmethod
    def create_registered_model(
        self, name: str, tags: dict[str, str] | None, description: str | None
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
    ) -> PagedList: ...

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
        tags: dict[str, str] | None,
        run_link: str | None,
        description: str | None,
        artifact: dict[str, Any] | None = None,
    ) -> ModelVersion: ...

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
    ) -> PagedList: ...

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
    def check_consistency(self) -> list[str]:
        """Every broken invariant as a sentence; empty when the registry is sound."""
