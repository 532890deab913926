"""A separate process that drives a registry, for the concurrency and crash-safety tests.

Run as `python -m tests.registry_worker MODE REGISTRY MODEL [COUNT]`. Every worker prints
`ready`, then waits for a line on stdin before starting, so the test starts them together.
"""

from __future__ import annotations

import sys
import time

from registry_core.client import RegistryClient
from registry_core.errors import RegistryError


def register(client: RegistryClient, model: str, count: int) -> None:
    """Register `count` versions, printing each version number as it is committed."""
    for _ in range(count):
        mv = client.create_model_version(model, "runs:/worker/model", tags={"writer": "w"})
        print(mv.version, flush=True)


def stream(client: RegistryClient, model: str) -> None:
    """Write forever (until killed): a version with tags, then a promotion that archives."""
    while True:
        mv = client.create_model_version(model, "runs:/worker/model", tags={"a": "1", "b": "2"})
        client.transition_model_version_stage(
            model, mv.version, "Production", archive_existing_versions=True
        )
        client.set_registered_model_alias(model, "champion", mv.version)
        print(mv.version, flush=True)


def log_models(registry: str, model: str) -> None:
    """Train, log and register models forever (until killed), printing each version."""
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor

    import registry_core as rc

    rc.set_registry_uri(registry)
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(300, 4))
    y = X @ np.array([1.0, 2.0, 3.0, 4.0])
    while True:
        with rc.start_run():
            estimator = RandomForestRegressor(n_estimators=30, random_state=0).fit(X, y)
            info = rc.log_model(estimator, "model", registered_model_name=model)
        print(info.registered_model_version, flush=True)


def read(client: RegistryClient, model: str, expected: int) -> None:
    """Poll until `expected` versions are visible (for at most two minutes); print the number
    of polls and of errors."""
    polls = errors = 0
    seen = 0
    deadline = time.monotonic() + 120
    while seen < expected and time.monotonic() < deadline:
        polls += 1
        try:
            seen = len(client.search_model_versions(f"name = '{model}'"))
            client.get_latest_versions(model)
        except RegistryError as error:
            errors += 1
            print(f"error {error}", file=sys.stderr, flush=True)
    print(f"polls={polls} errors={errors}", flush=True)


def main() -> None:
    mode, registry, model = sys.argv[1:4]
    client = RegistryClient(registry)
    print("ready", flush=True)
    sys.stdin.readline()
    if mode == "register":
        register(client, model, int(sys.argv[4]))
    elif mode == "stream":
        stream(client, model)
    elif mode == "log_models":
        log_models(registry, model)
    elif mode == "read":
        read(client, model, int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
