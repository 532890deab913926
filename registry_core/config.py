"""Where the registry lives and who is acting: from arguments, then the environment."""

from __future__ import annotations

import getpass
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from registry_core.artifacts import ArtifactOwner
from registry_core.errors import InvalidParameterValue

ENV_URI = "MODEL_REGISTRY_URI"
ENV_ACTOR = "MODEL_REGISTRY_ACTOR"
ENV_IDLE_SECONDS = "MODEL_REGISTRY_IDLE_SECONDS"
ENV_LOCK_TIMEOUT = "MODEL_REGISTRY_LOCK_TIMEOUT"
ENV_TOKEN = "MODEL_REGISTRY_TOKEN"
ENV_DAGSTER_UI_URL = "DAGSTER_UI_URL"
DEFAULT_URI = "./.registry/"
DB_FILENAME = "registry.duckdb"
DEFAULT_ARTIFACTS_DIRNAME = "artifacts"
ARTIFACTS_SUFFIX = ".artifacts"
DEFAULT_IDLE_SECONDS = 0.25
DEFAULT_LOCK_TIMEOUT = 30.0


_default_uri: str | None = None


def set_registry_uri(uri: str | os.PathLike[str] | None) -> None:
    """Set this process's default registry, ahead of `MODEL_REGISTRY_URI` (None clears it)."""
    global _default_uri
    _default_uri = os.fspath(uri) if uri is not None else None


@dataclass(frozen=True)
class RegistryLocation:
    """The registry folder, its DuckDB file and its artifact folder."""

    root: Path
    db_path: Path

    @property
    def artifact_root(self) -> Path:
        """`artifacts/` beside the default `registry.duckdb`, `<name>.artifacts/` beside any
        other `<name>.duckdb`: every registry file has a folder of its own."""
        if self.db_path.name == DB_FILENAME:
            return self.root / DEFAULT_ARTIFACTS_DIRNAME
        return self.root / (self.db_path.stem + ARTIFACTS_SUFFIX)

    def artifact_owner(self, registry_id: Callable[[], str]) -> ArtifactOwner:
        """What the artifact folder checks before a write or a gc: which registry it belongs to,
        and, from before each file had its own folder, who may share it."""
        default = self.db_path.name == DB_FILENAME
        return ArtifactOwner(
            registry_file=self.db_path,
            registry_id=registry_id,
            legacy_root=None if default else self.root / DEFAULT_ARTIFACTS_DIRNAME,
            legacy_sharers=self._legacy_sharers if default else list,
        )

    def _legacy_sharers(self) -> list[Path]:
        """The other `.duckdb` files of the folder without an artifact folder of their own: until
        each file had one, every `.duckdb` file of a folder kept its artifacts in `artifacts/`."""
        return sorted(
            path
            for path in self.root.glob("*.duckdb")
            if path != self.db_path and not (self.root / (path.stem + ARTIFACTS_SUFFIX)).is_dir()
        )


def chosen_uri(registry_uri: str | os.PathLike[str] | None = None) -> str:
    """The registry a call means: the argument, else `set_registry_uri`, else
    `MODEL_REGISTRY_URI`, else `./.registry/`."""
    raw = os.fspath(registry_uri) if registry_uri is not None else _default_uri
    return raw or os.environ.get(ENV_URI) or DEFAULT_URI


def is_server_uri(uri: str) -> bool:
    """True for a registry server's `http://` or `https://` URL."""
    return uri.lower().startswith(("http://", "https://"))


def resolve_location(registry_uri: str | os.PathLike[str] | None = None) -> RegistryLocation:
    """Resolve a plain path, `file://` or `duckdb:///path` URI (default as `chosen_uri`); a
    path ending in `.duckdb` names the file."""
    raw = chosen_uri(registry_uri)
    if "://" in raw:
        parsed = urlparse(raw)
        if parsed.scheme not in ("duckdb", "file") or parsed.netloc not in ("", "localhost"):
            raise InvalidParameterValue(
                f"Unsupported registry URI {raw!r}: use a path, file:///path or duckdb:///path."
            )
        raw = unquote(parsed.path)
    if not raw:
        raise InvalidParameterValue("The registry URI is empty.")
    path = Path(raw).expanduser().resolve()
    if path.suffix == ".duckdb":
        return RegistryLocation(root=path.parent, db_path=path)
    return RegistryLocation(root=path, db_path=path / DB_FILENAME)


def default_actor() -> str:
    """Who a change is recorded as: `MODEL_REGISTRY_ACTOR`, else the operating-system user."""
    actor = os.environ.get(ENV_ACTOR)
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def env_float(name: str, default: float) -> float:
    """A finite, non-negative float from the environment, with a clear error when it is not."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameterValue(f"{name}={raw!r} is not a number.") from None
    return setting(name, value)


def setting(name: str, value: object) -> float:
    """A numeric setting (a timeout, a size limit): a finite number, not negative (NaN and
    infinity would make every comparison with it false, or wait forever)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterValue(f"{name} must be a number, got {value!r}.")
    if not math.isfinite(value):
        raise InvalidParameterValue(f"{name}={value!r} must be a finite number.")
    if value < 0:
        raise InvalidParameterValue(f"{name}={value!r} must not be negative.")
    return float(value)
