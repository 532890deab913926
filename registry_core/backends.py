"""Which store a registry URI names: a registry server for `http(s)://`, else an embedded file."""

from __future__ import annotations

import os

from registry_core import config
from registry_core.store.base import RegistryStore


def open_store(
    registry_uri: str | os.PathLike[str] | None = None,
    *,
    idle_timeout: float | None = None,
    lock_timeout: float | None = None,
    token: str | None = None,
) -> RegistryStore:
    """The store behind `registry_uri` (default `MODEL_REGISTRY_URI`, else `./.registry/`)."""
    uri = config.chosen_uri(registry_uri)
    if config.is_server_uri(uri):
        from registry_core.store.http_store import HttpStore

        return HttpStore(uri, token=token or os.environ.get(config.ENV_TOKEN) or None)
    from registry_core.store.embedded import EmbeddedStore

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
    return EmbeddedStore(config.resolve_location(uri), idle, lock)
