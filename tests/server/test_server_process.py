"""`registry server` as a real process: it holds the file, tells embedded clients where it is,
refuses anonymous access off loopback, logs one line per request and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from registry_core.client import RegistryClient
from tests.server.process_harness import REGISTRY, server_process


def registry_cli(registry: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REGISTRY, "--registry-uri", registry, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_the_server_holds_the_file_names_itself_and_stops_cleanly(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    created = registry_cli(str(registry), "tokens", "create", "ops", "--role", "admin")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    with server_process(registry) as (url, server, server_log):
        remote = RegistryClient(url, token=secret)
        remote.create_registered_model("churn", tags={"team": "growth"})
        remote.create_model_version("churn", "runs:/r1/model")

        # An embedded client is told at once where the server is, instead of waiting.
        started = time.monotonic()
        embedded = registry_cli(str(registry), "models", "list", MODEL_REGISTRY_LOCK_TIMEOUT="30")
        assert embedded.returncode == 1
        assert f"held by the registry server at {url}" in embedded.stderr
        assert time.monotonic() - started < 20

        # The CLI works through the server with the token.
        listed = registry_cli(url, "--json", "models", "list", MODEL_REGISTRY_TOKEN=secret)
        assert listed.returncode == 0, listed.stderr
        assert '"churn"' in listed.stdout

        server.send_signal(signal.SIGTERM)
        # uvicorn finishes in-flight requests, then exits by the signal it was sent.
        assert server.wait(timeout=60) in (0, -signal.SIGTERM)
        log = server_log.read_text()
    assert '"POST /api/2.0/mlflow/registered-models/create" 200' in log
    assert secret not in log
    assert not (registry / "registry.duckdb.server").exists()
    assert not (registry / "registry.duckdb.wal").exists()  # checkpointed on the way out
    after = RegistryClient(registry)
    assert after.get_model_version("churn", 1).source == "runs:/r1/model"


def test_anonymous_access_is_only_for_loopback(tmp_path: Path) -> None:
    refused = registry_cli(str(tmp_path / "r"), "server", "--host", "0.0.0.0", "--no-auth")
    assert refused.returncode == 1
    assert "--no-auth" in refused.stderr and "refused" in refused.stderr


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_an_open_server_serves_anonymous_calls_and_stops_on_signals(
    tmp_path: Path, signal_number: int
) -> None:
    with server_process(tmp_path / "registry", "--no-auth") as (url, server, _):
        RegistryClient(url).create_registered_model("m")
        server.send_signal(signal_number)
        assert server.wait(timeout=60) in (0, -signal_number)
    assert RegistryClient(tmp_path / "registry").get_registered_model("m").name == "m"
