"""The deployment files under deploy/ are written down, not run here (that needs Docker or a
cluster): this checks that they parse, name the services the README lists, wire the code
location to the registry server with a token, and that dagster.yaml is a valid instance
config for Postgres. tests/e2e/test_postgres_lifecycle.py runs the same shape for real."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from dagster._core.instance.config import dagster_instance_config

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
SERVER_URI = "http://registry:5050"


def load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


def test_compose_runs_the_registry_postgres_and_dagster() -> None:
    services = load("docker-compose.yaml")["services"]
    assert set(services) == {"registry", "postgres", "code", "webserver", "daemon"}
    registry = services["registry"]
    assert registry["command"][:2] == ["registry", "server"]
    assert "--no-auth" not in registry["command"]
    assert registry["environment"]["MODEL_REGISTRY_URI"] == "/registry"
    assert registry["volumes"] == ["registry-data:/registry"]
    code = services["code"]
    assert code["environment"]["MODEL_REGISTRY_URI"] == SERVER_URI
    assert "MODEL_REGISTRY_TOKEN" in code["environment"]
    assert "registry_pipelines.definitions" in code["command"]
    for name in ("code", "webserver", "daemon"):
        assert services[name]["environment"]["DAGSTER_POSTGRES_HOST"] == "postgres"
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
    workspace = load("workspace.yaml")["load_from"][0]["grpc_server"]
    assert (workspace["host"], str(workspace["port"])) == ("code", code["command"][-1])


def test_dagster_yaml_is_a_valid_postgres_instance_config() -> None:
    config, _ = dagster_instance_config(str(DEPLOY))
    assert set(config["storage"]) == {"postgres"}
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"


def test_dockerfile_copies_what_exists() -> None:
    root = DEPLOY.parent
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (root / source).exists(), source


def test_helm_values_point_user_code_at_the_server_with_a_secret() -> None:
    deployment = load("helm-values.yaml")["dagster-user-deployments"]["deployments"][0]
    assert {"name": "MODEL_REGISTRY_URI", "value": SERVER_URI} in deployment["env"]
    assert deployment["envSecrets"] == [{"name": "model-registry-token"}]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    kinds = {
        doc["kind"]: doc
        for doc in yaml.safe_load_all((DEPLOY / "registry-server.yaml").read_text())
    }
    assert set(kinds) == {"PersistentVolumeClaim", "Deployment", "Service"}
    assert kinds["Deployment"]["spec"]["replicas"] == 1
    assert kinds["Service"]["metadata"]["name"] == SERVER_URI.split("//")[1].split(":")[0]
