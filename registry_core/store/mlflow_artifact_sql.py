"""The artifact proxy's table: each path MLflow's client wrote, the digest of the stored bytes
it holds and their size. A path is written once: a version registered from a folder must find
the same files whenever it is loaded."""

from __future__ import annotations

from registry_core.artifacts import ArtifactRef
from registry_core.entities import ArtifactFile, now_ms
from registry_core.errors import ResourceAlreadyExists
from registry_core.mlflow_artifacts import safe_path
from registry_core.store.connection import ConnectionManager


class DuckDBMlflowArtifactStore:
    """Paths of the artifact proxy in the registry's DuckDB file."""

    manager: ConnectionManager

    def record_mlflow_artifact(self, path: str, ref: ArtifactRef) -> None:
        """Point `path` at stored bytes; again with the same bytes is a no-op (a retried upload),
        with other bytes RESOURCE_ALREADY_EXISTS."""
        path = safe_path(path)
        with self.manager.transaction() as conn:
            held = conn.execute(
                "SELECT sha256 FROM mlflow_artifacts WHERE path = ?", [path]
            ).fetchone()
            if held is None:
                conn.execute(
                    "INSERT INTO mlflow_artifacts VALUES (?, ?, ?, ?)",
                    [path, ref.sha256, ref.size, now_ms()],
                )
            elif held[0] != ref.sha256:
                raise ResourceAlreadyExists(
                    f"Artifact {path!r} already holds other content: artifacts are written once."
                )

    def mlflow_artifact(self, path: str) -> ArtifactRef | None:
        """The stored bytes at a proxy path, None when nothing was written there."""
        with self.manager.connection() as conn:
            row = conn.execute(
                "SELECT sha256, size FROM mlflow_artifacts WHERE path = ?", [safe_path(path)]
            ).fetchone()
        return ArtifactRef(row[0], row[1]) if row else None

    def proxied_files(self) -> dict[str, str]:
        with self.manager.connection() as conn:
            rows = conn.execute("SELECT path, sha256 FROM mlflow_artifacts ORDER BY path")
            return dict(rows.fetchall())

    def list_mlflow_artifacts(self, folder: str | None = None) -> list[ArtifactFile]:
        """The files and folders directly inside a proxy folder (the root when None), by name;
        empty for a file or a folder that holds nothing, as MLflow's server answers."""
        prefix = f"{safe_path(folder)}/" if folder else ""
        with self.manager.connection() as conn:
            rows = conn.execute(
                "SELECT path, size FROM mlflow_artifacts WHERE starts_with(path, ?) ORDER BY path",
                [prefix],
            ).fetchall()
        entries: dict[str, ArtifactFile] = {}
        for path, size in rows:
            name, nested, _ = path[len(prefix) :].partition("/")
            entry = ArtifactFile(name, True) if nested else ArtifactFile(name, False, size)
            entries.setdefault(name, entry)
        return list(entries.values())
