"""The embedded registry: one DuckDB file and its artifact folder, opened by this process.

`EmbeddedStore` joins the SQL of models, runs, webhooks and tokens over one connection manager,
and adds the rules that need the artifact folder: what a version's source points at, verified
artifacts before the rows that point at them, and garbage collection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from registry_core.artifacts import ArtifactRef, ArtifactStore, is_sha256, validate_source
from registry_core.config import RegistryLocation
from registry_core.entities import FileUsage, ModelVersion, ResolvedModel, RunArtifact
from registry_core.errors import InvalidParameterValue, ResourceDoesNotExist
from registry_core.mlflow_artifacts import artifact_uri, logged_model_folder, logged_model_id
from registry_core.mlflow_import.bundle import ImportedModel, ModelImportResult
from registry_core.store.admin_sql import DuckDBAdminStore
from registry_core.store.approval_sql import DuckDBApprovalStore
from registry_core.store.base import Progress, RegistryStore
from registry_core.store.connection import shared_manager
from registry_core.store.logged_model_sql import DuckDBLoggedModelStore
from registry_core.store.migrations import current_version
from registry_core.store.mlflow_artifact_sql import DuckDBMlflowArtifactStore
from registry_core.store.outbox import OutboxStore
from registry_core.store.run_store import DuckDBRunStore
from registry_core.uris import ModelUri, RunUri, parse_uri
from registry_core.webhooks.entities import DeliveryAttempt, DeliverySummary

if TYPE_CHECKING:
    from registry_core.transfer import ExportSummary, ImportSummary


class EmbeddedStore(
    DuckDBApprovalStore,
    DuckDBRunStore,
    DuckDBLoggedModelStore,
    DuckDBMlflowArtifactStore,
    OutboxStore,
    DuckDBAdminStore,
    RegistryStore,
):
    """A registry in a DuckDB file and an artifact folder, held by this process on demand."""

    def __init__(
        self, location: RegistryLocation, idle_seconds: float, lock_timeout: float
    ) -> None:
        self.location = location
        self.manager = shared_manager(location.db_path, idle_seconds, lock_timeout)
        self.artifacts = ArtifactStore(
            location.artifact_root, location.artifact_owner(self.manager.registry_id)
        )

    @property
    def uri(self) -> str:
        return str(self.location.root)

    @contextmanager
    def session(self) -> Iterator[None]:
        with self.manager.session():
            yield

    def close(self) -> None:
        self.manager.close()

    def file_usage(self) -> FileUsage:
        return self.manager.usage()

    # -- versions and their artifacts ----------------------------------------------------

    def create_model_versions(self, calls: Sequence[Mapping[str, Any]]) -> list[ModelVersion]:
        """Each version's source is checked and its artifact found here, not taken from the
        caller."""
        with self.manager.connection():
            sources = [validate_source(call["source"], self.artifacts.root) for call in calls]
            named = [parse_uri(source) for source in sources if source.startswith("runs:/")]
            runs = [(uri.run_id, uri.path) for uri in named if isinstance(uri, RunUri)]
            logged = self.find_run_artifacts(runs) if runs else {}
            checked = [
                self._with_artifact(call, source, logged)
                for call, source in zip(calls, sources, strict=True)
            ]
            return super().create_model_versions(checked)

    def _with_artifact(
        self,
        call: Mapping[str, Any],
        source: str,
        runs: dict[tuple[str, str], tuple[bool, RunArtifact | None]],
    ) -> dict[str, Any]:
        """A version's call with its checked source and the artifact that names; a version of
        an MLflow logged model takes the model's run as its lineage too."""
        model_id = logged_model_id(source)
        if model_id is None:
            return {**call, "source": source, "artifact": self._artifact_for_source(source, runs)}
        run_id, artifact = self._logged_model_lineage(model_id, call.get("run_id"))
        return {**call, "source": source, "run_id": run_id, "artifact": artifact}

    def _logged_model_lineage(
        self, model_id: str, run_id: str | None
    ) -> tuple[str | None, dict[str, Any] | None]:
        """For a version of an MLflow logged model: its run (the one that logged it, unless the
        caller names one) and the artifact its folder holds in a safe format, if any."""
        from registry_core.mlflow_conversion import safe_artifact

        logged = self.get_logged_model(model_id)
        artifact = safe_artifact(self, logged_model_folder(logged.experiment_id, model_id))
        return run_id or logged.source_run_id, artifact

    def model_version_download_uri(self, name: str, version: int | str) -> str:
        """Where MLflow's client downloads a version from: the proxy folder of the logged model
        its source names (`models:/<id>`, or `runs:/<run>/<name>` of a model the run logged),
        else its source."""
        source = self.get_model_version(name, version).source
        model_id = logged_model_id(source)
        if model_id is not None:
            return self.get_logged_model(model_id).artifact_uri
        if source.startswith("runs:/"):
            run = parse_uri(source)
            assert isinstance(run, RunUri)
            folder = self.run_model_folder(run.run_id, run.path)
            if folder is not None:
                return artifact_uri(folder)
        return source

    def resolve_model_uri(self, uri: str) -> ResolvedModel:
        parsed = parse_uri(uri)
        if isinstance(parsed, RunUri):
            artifact = self.get_run_artifact(parsed.run_id, parsed.path)
            if artifact is None:
                raise ResourceDoesNotExist(f"No artifact {parsed.path!r} in run {parsed.run_id}.")
            return ResolvedModel(
                uri, artifact.sha256, artifact.format, artifact.signature, None, parsed.run_id
            )
        mv = self._model_version_for(parsed)
        if mv.artifact_sha256 is None or mv.artifact_format is None:
            if logged_model_id(mv.source) is not None:
                raise ResourceDoesNotExist(
                    f"Version {mv.version} of {mv.name} is the MLflow model {mv.source}, which "
                    "keeps its model in no format this registry loads safely (a pickle, or a "
                    f"flavor it does not know): load it with MLflow's client, "
                    f"mlflow.pyfunc.load_model('{mv.uri}')."
                )
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

    def _artifact_for_source(
        self, source: str, runs: dict[tuple[str, str], tuple[bool, RunArtifact | None]]
    ) -> dict[str, Any] | None:
        """The artifact record a validated source points at (`runs` holds what
        `find_run_artifacts` found of the runs sources name); None for a run we do not hold, or
        for a model MLflow's client logged in a run that keeps it in no safe format."""
        if source.startswith("runs:/"):
            run = parse_uri(source)
            assert isinstance(run, RunUri)
            held, logged = runs[run.run_id, run.path]
            if logged is None:
                if not held:
                    return None
                folder = self.run_model_folder(run.run_id, run.path)
                if folder is None:
                    raise ResourceDoesNotExist(f"No artifact {run.path!r} in run {run.run_id}.")
                from registry_core.mlflow_conversion import safe_artifact

                return safe_artifact(self, folder)
            digest, fmt, signature = logged.sha256, logged.format, logged.signature
            missing = f"The artifact {digest} of {source!r} is missing."
        elif source.startswith("models:/"):
            resolved = self.resolve_model_uri(source)
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
            from registry_core import formats

            with path.open("rb") as handle:
                fmt = formats.detect_format(handle.read(16))
        return {"sha256": digest, "size": size, "format": fmt, "signature": signature}

    def log_run_artifact(
        self,
        run_id: str,
        path: str,
        sha256: str,
        format: str,
        signature: dict[str, Any] | None = None,
    ) -> RunArtifact:
        where = parse_uri(validate_source(f"runs:/{run_id}/{path}", self.artifacts.root))
        try:
            size = self.artifacts.path_for(sha256).stat().st_size
        except FileNotFoundError:
            raise ResourceDoesNotExist(
                f"No stored artifact {sha256}: upload it before logging it."
            ) from None
        if not isinstance(format, str) or not format:
            raise InvalidParameterValue(f"An artifact format must be a name, got {format!r}.")
        artifact = RunArtifact(where.path, sha256, size, format, signature)
        self._log_artifact(run_id, artifact)
        return artifact

    def import_model(self, model: ImportedModel, actor: str) -> ModelImportResult:
        from registry_core.store.mlflow_import_sql import import_model

        sizes = {}
        for digest in {mv.artifact_sha256 for mv in model.versions}:
            try:
                sizes[digest] = self.artifacts.path_for(digest).stat().st_size
            except FileNotFoundError:
                raise ResourceDoesNotExist(
                    f"No stored artifact {digest}: upload it before importing {model.name}."
                ) from None
        with self.manager.transaction() as conn:
            self.manager.flush_appends()
            return import_model(conn, model, sizes, actor)

    # -- upkeep --------------------------------------------------------------------------

    def gc(self, dry_run: bool = False, grace_seconds: float = 3600.0) -> list[ArtifactRef]:
        return self.artifacts.gc(
            self.referenced_digests(), dry_run=dry_run, grace_seconds=grace_seconds
        )

    def checkpoint(self) -> None:
        """Write the WAL into the database file, as a clean shutdown or a backup needs."""
        with self.manager.connection() as conn:
            conn.execute("CHECKPOINT")

    def export_registry(
        self, directory: str, progress: Progress | None = None, include_secrets: bool = False
    ) -> ExportSummary:
        from registry_core.client import RegistryClient
        from registry_core.transfer import export_registry

        return export_registry(RegistryClient(store=self), directory, progress, include_secrets)

    def import_registry(
        self, directory: str, on_conflict: str = "fail", progress: Progress | None = None
    ) -> ImportSummary:
        from registry_core.client import RegistryClient
        from registry_core.transfer import import_registry

        return import_registry(RegistryClient(store=self), directory, on_conflict, progress)

    def artifact_folder_problem(self) -> str | None:
        return self.artifacts.ownership_problem()

    def schema_version(self) -> int:
        with self.manager.connection() as conn:
            return current_version(conn)

    # -- webhook delivery ----------------------------------------------------------------

    def test_webhook(self, name: str) -> DeliveryAttempt:
        from registry_core.webhooks.delivery import WebhookDeliverer

        return WebhookDeliverer(self).send_test(name)

    def redeliver(self, delivery_id: str) -> DeliveryAttempt:
        from registry_core.webhooks.delivery import WebhookDeliverer

        return WebhookDeliverer(self).redeliver(delivery_id)

    def deliver_webhooks(self, max_seconds: float | None = None) -> DeliverySummary:
        from registry_core.webhooks.delivery import WebhookDeliverer

        return WebhookDeliverer(self).deliver_pending(max_seconds)
