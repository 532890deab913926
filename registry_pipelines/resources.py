"""The registry as a Dagster resource: where it lives, and a client for it."""

from __future__ import annotations

import dagster as dg

from registry_core.client import RegistryClient


class RegistryResource(dg.ConfigurableResource):
    """The model registry. `registry_uri` defaults to `MODEL_REGISTRY_URI`, then `./.registry/`,
    exactly as `RegistryClient` does; `lock_timeout` is how long a step waits for the file."""

    registry_uri: str | None = None
    lock_timeout: float = 120.0

    def client(self) -> RegistryClient:
        return RegistryClient(self.registry_uri, lock_timeout=self.lock_timeout)
