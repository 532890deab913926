"""The registry as a Dagster resource: where it lives, and a client for it."""

from __future__ import annotations

import dagster as dg

from registry_core.client import RegistryClient


class RegistryResource(dg.ConfigurableResource):
    """The model registry. `registry_uri` defaults to `MODEL_REGISTRY_URI`, then `./.registry/`,
    exactly as `RegistryClient` does, and may be a registry server (`http://registry:5050`);
    `token` is sent to a server (default `MODEL_REGISTRY_TOKEN`; give it as
    `dg.EnvVar("MODEL_REGISTRY_TOKEN")` so it stays out of run configs and the UI);
    `lock_timeout` is how long a step waits for an embedded file."""

    registry_uri: str | None = None
    token: str | None = None
    lock_timeout: float = 120.0

    def client(self) -> RegistryClient:
        return RegistryClient(self.registry_uri, lock_timeout=self.lock_timeout, token=self.token)
