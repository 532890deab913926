"""`RegistryResource` pointed at a registry server with auth on: the steps write through the
server with the token from `MODEL_REGISTRY_TOKEN`, and the history names the token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from registry_core.client import RegistryClient
from registry_pipelines.definitions import SPECS
from registry_pipelines.lifecycle import build_lifecycle
from registry_pipelines.resources import RegistryResource
from tests.server_harness import running_server

MODEL = "HousePricePredictor"


@pytest.fixture
def served(registry_path: Path) -> Iterator[tuple[str, str]]:
    """A server with auth on and a writer token made before it starts: (url, secret)."""
    owner = RegistryClient(registry_path)
    secret = owner.create_token("dagster-ci", "writer")[1]
    owner.close()
    with running_server(registry_path, auth=True) as url:
        yield url, secret


def train(registry: RegistryResource) -> dg.ExecuteInProcessResult:
    lc = build_lifecycle(next(spec for spec in SPECS if spec.name == MODEL))
    with dg.instance_for_test() as instance:
        return dg.materialize(
            lc.assets,
            instance=instance,
            resources={"registry": registry},
            selection=lc.keys.training_chain,
            raise_on_error=False,
        )


def test_the_chain_writes_through_the_server_with_the_env_token(
    served: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, secret = served
    monkeypatch.setenv("MODEL_REGISTRY_TOKEN", secret)
    registry = RegistryResource(registry_uri=url, token=dg.EnvVar("MODEL_REGISTRY_TOKEN"))
    result = train(registry)
    assert result.success
    reader = RegistryClient(url, token=secret)
    mv = reader.get_model_version(MODEL, 1)
    assert (mv.current_stage, mv.tags["validation"]) == ("Staging", "passed")
    assert {event.actor for event in reader.get_model_version_history(MODEL, 1)} == {"dagster-ci"}


def test_without_a_token_the_step_fails_unauthenticated(
    served: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, secret = served
    monkeypatch.delenv("MODEL_REGISTRY_TOKEN", raising=False)
    result = train(RegistryResource(registry_uri=url))
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None and "UNAUTHENTICATED" in str(failure.to_string())
    assert RegistryClient(url, token=secret).search_model_versions() == []
