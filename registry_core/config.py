"""Where the registry lives and who is acting: from arguments, then the environment."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from registry_core.errors import InvalidParameterValue

ENV_URI = "MODEL_REGISTRY_URI"
ENV_ACTOR = "MODEL_REGISTRY_ACTOR"
ENV_IDLE_SECONDS = "MODEL_REGISTRY_IDLE_SECONDS"
ENV_LOCK_TIMEOUT = "MODEL_REGISTRY_LOCK_TIMEOUT"
ENV_TOKEN = "MODEL_REGISTRY_TOKEN"
ENV_DAGSTER_UI_URL = "DAGSTER_UI_URL"
DEFAULT_URI = "./.registry/"
DB_FILENAME = "registry.duckdb"
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
        return self.root / "artifacts"


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
    """A positive float from the environment, with a clear error when it is not one."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameterValue(f"{name}={raw!r} is not a number.") from None
    if value < 0:
        raise InvalidParameterValue(f"{name}={raw!r} must not be negative.")
    return value
