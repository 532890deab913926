"""The registry as a Dagster resource: where it lives, a client for it, and what it cost."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from registry_core.client import RegistryClient
from registry_core.entities import FileUsage


class RegistryResource(dg.ConfigurableResource):
    """The model registry. `registry_uri` defaults to `MODEL_REGISTRY_URI`, then `./.registry/`,
    exactly as `RegistryClient` does, and may be a registry server (`http://registry:5050`);
    `token` is sent to a server (default `MODEL_REGISTRY_TOKEN`; give it as
    `dg.EnvVar("MODEL_REGISTRY_TOKEN")` so it stays out of run configs and the UI);
    `lock_timeout` is how long a step waits for an embedded file.

    On an embedded file, each step (each run, under the in-process executor) logs what the file
    cost it: how often it was opened, how long the step waited while other processes held it,
    and how long it held it."""

    registry_uri: str | None = None
    token: str | None = None
    lock_timeout: float = 120.0
    _usage_before: FileUsage | None = PrivateAttr(default=None)

    def client(self) -> RegistryClient:
        return RegistryClient(self.registry_uri, lock_timeout=self.lock_timeout, token=self.token)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._usage_before = self.client().file_usage()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        usage = self.client().file_usage()
        if usage is None or self._usage_before is None:
            return
        spent = usage - self._usage_before
        if spent.opens:
            context.log.info(
                f"Registry file: opened {spent.opens} times "
                f"({spent.opening_seconds * 1e3:.0f} ms), waited "
                f"{spent.waited_seconds * 1e3:.0f} ms for other processes, "
                f"held {spent.held_seconds * 1e3:.0f} ms"
            )
