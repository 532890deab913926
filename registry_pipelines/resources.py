"""The registry as a Dagster resource: where it lives, a client for it, and what it cost."""

from __future__ import annotations

import dagster as dg

from registry_core.client import RegistryClient
from registry_core.entities import FileUsage


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


def log_file_cost(
    context: dg.AssetExecutionContext, client: RegistryClient, before: FileUsage | None
) -> None:
    """Log what an embedded registry file cost the step since `before` (`file_usage()` when
    the step began): opens, waits while other processes held it, time held."""
    after = client.file_usage()
    if before is None or after is None or after.opens == before.opens:
        return
    spent = after - before
    context.log.info(
        f"Registry file: opened {spent.opens} times ({spent.opening_seconds * 1e3:.0f} ms), "
        f"waited {spent.waited_seconds * 1e3:.0f} ms for other processes, "
        f"held {spent.held_seconds * 1e3:.0f} ms"
    )
