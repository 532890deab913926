"""End to end, as a user would: `make dev` (the registry server beside `dagster dev`, the code
location pointed at the server) on free localhost ports, one model's chain launched through the
web server's GraphQL API the way the UI's "Materialize all" does, then the daemon's promotion
sensor launches the promotion run and the version lands in Production, written through the
registry server into the registry file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from registry_core.client import RegistryClient
from registry_pipelines.promotion import CHAMPION_ALIAS

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
MODEL = "HousePricePredictor"
PREFIX = "house_price_predictor"
PROMOTION_SENSOR_NAME = f"{PREFIX}_promotion_sensor"
CHAIN = [
    [PREFIX, name]
    for name in ("training_data", "trained_model", "evaluation", "registered_version")
]
BUDGET_SECONDS = 360
STOP_GRACE_SECONDS = 30
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

T = TypeVar("T")

REPOSITORIES = """
query {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } } }
    ... on Error { message }
  }
}
"""

ASSET_CHECKS = """
query ($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
}
"""

LAUNCH = """
mutation ($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""

RUN = """
query ($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status }
    ... on Error { message }
  }
}
"""

RUNS_BY_TAG = """
query ($key: String!, $value: String!) {
  runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
    __typename
    ... on Runs { results { runId status jobName tags { key value } } }
    ... on Error { message }
  }
}
"""


def free_port() -> int:
    """A localhost TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def make_dev(
    tmp_path: Path, port: int, registry_port: int, registry: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`make dev` in its own process group, with this test's venv (never reinstalled); the whole
    group is stopped on the way out."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_DISABLE_TELEMETRY": "yes",
        "MODEL_REGISTRY_URI": str(registry),
    }
    log_path = tmp_path / "dagster_dev.log"
    command = [
        "make",
        "--no-print-directory",
        f"VENV={VENV}",
        f"--old-file={VENV}/.installed",
        f"DAGSTER_PORT={port}",
        f"REGISTRY_PORT={registry_port}",
        "dev",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    except BaseException:
        print(f"---- make dev log ({log_path}) ----")
        print(log_path.read_text(errors="replace")[-40_000:])
        raise
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group, SIGKILL to whatever is left after a bounded wait."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_GRACE_SECONDS)


class Dagster:
    """The web server's GraphQL API, polled until conditions hold or the deadline passes."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, deadline: float) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(timeout=30)
        self.deadline = deadline
        self.started = time.monotonic()

    def query(self, document: str, **variables: Any) -> dict[str, Any]:
        response = self.http.post(
            f"{self.base}/graphql", json={"query": document, "variables": variables}
        )
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def wait_for(self, what: str, probe: Callable[[], T | None], interval: float = 0.5) -> T:
        """Poll `probe` until it returns something, failing once `make dev` dies or time's up."""
        while True:
            value = probe()
            if value is not None:
                print(f"{what}: after {time.monotonic() - self.started:.1f} s")
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"make dev exited ({self.process.returncode}): {what}")
            if time.monotonic() > self.deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(interval)

    def server_info(self) -> dict[str, Any] | None:
        try:
            response = self.http.get(f"{self.base}/server_info")
        except httpx.TransportError:
            return None
        return response.json() if response.status_code == 200 else None

    def repository_location(self) -> str | None:
        result = self.query(REPOSITORIES)["repositoriesOrError"]
        assert result["__typename"] == "RepositoryConnection", result
        names = [n["location"]["name"] for n in result["nodes"] if n["name"] == "__repository__"]
        return names[0] if names else None

    def finished_run(self, run_id: str) -> dict[str, Any] | None:
        run = self.query(RUN, runId=run_id)["runOrError"]
        assert run["__typename"] == "Run", run
        return run if run["status"] in TERMINAL else None

    def finished_runs_tagged(self, key: str, value: str) -> list[dict[str, Any]] | None:
        result = self.query(RUNS_BY_TAG, key=key, value=value)["runsOrError"]
        assert result["__typename"] == "Runs", result
        runs = result["results"]
        return runs if runs and all(r["status"] in TERMINAL for r in runs) else None


@pytest.mark.timeout(BUDGET_SECONDS + 2 * STOP_GRACE_SECONDS + 30)
def test_ui_launch_then_sensor_promotes_to_production(tmp_path: Path) -> None:
    """Materialize all from the UI's mutation, then the daemon promotes version 1."""
    port, registry_port = free_port(), free_port()
    registry = tmp_path / "registry"
    with make_dev(tmp_path, port, registry_port, registry) as process:
        dagster = Dagster(process, port, time.monotonic() + BUDGET_SECONDS)
        dagster.wait_for("the web server", dagster.server_info)
        location = dagster.wait_for("the code location", dagster.repository_location)

        nodes = dagster.query(ASSET_CHECKS, keys=[{"path": path} for path in CHAIN])["assetNodes"]
        assert sorted(n["assetKey"]["path"] for n in nodes) == sorted(CHAIN)
        checks = [
            {"assetKey": {"path": node["assetKey"]["path"]}, "name": check["name"]}
            for node in nodes
            for check in node["assetChecksOrError"].get("checks", [])
        ]
        assert checks, "the registered version should carry its validation checks"
        launched = dagster.query(
            LAUNCH,
            executionParams={
                "selector": {
                    "repositoryLocationName": location,
                    "repositoryName": "__repository__",
                    "pipelineName": "__ASSET_JOB",
                    "assetSelection": [{"path": path} for path in CHAIN],
                    "assetCheckSelection": checks,
                },
                "runConfigData": {},
                "executionMetadata": {"tags": []},
            },
        )["launchPipelineExecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        training_run = launched["run"]["runId"]

        run = dagster.wait_for("the training run", lambda: dagster.finished_run(training_run))
        assert run["status"] == "SUCCESS", run

        promotions = dagster.wait_for(
            "the sensor's promotion run",
            lambda: dagster.finished_runs_tagged("registry/model", MODEL),
        )
        assert len(promotions) == 1, promotions
        promotion = promotions[0]
        tags = {tag["key"]: tag["value"] for tag in promotion["tags"]}
        assert promotion["status"] == "SUCCESS", promotion
        assert promotion["jobName"] == f"{PREFIX}_promotion"
        assert tags["dagster/sensor_name"] == PROMOTION_SENSOR_NAME
        assert tags["registry/version"] == "1"

        client = RegistryClient(f"http://127.0.0.1:{registry_port}")
        version = client.get_model_version(MODEL, 1)
        assert version.current_stage == "Production"
        assert version.tags["validation"] == "passed"
        assert version.tags["dagster_run_id"] == training_run
        assert client.get_model_version_by_alias(MODEL, CHAMPION_ALIAS).version == "1"
        history = client.get_model_version_history(MODEL, 1)
        production = [h for h in history if h.event == "stage" and h.to_stage == "Production"]
        assert len(production) == 1
        assert production[0].actor == f"dagster:{PROMOTION_SENSOR_NAME}"
        assert promotion["runId"] in (production[0].reason or "")
        assert history[-1].actor == f"dagster:{PROMOTION_SENSOR_NAME}"

    written = RegistryClient(registry, idle_timeout=0, lock_timeout=60)
    assert written.get_model_version(MODEL, 1).current_stage == "Production"
    assert written.check_consistency() == []
