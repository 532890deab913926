"""The server's API fuzzed from its own OpenAPI schema with schemathesis: whatever a caller sends
(valid or not), the answer is never a server error, and every error body is MLflow's JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from registry_core.client import RegistryClient
from tests.server_harness import running_server

EXAMPLES = 30


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One server for the module (auth on, an admin token), with a model and versions in it."""
    path: Path = tmp_path_factory.mktemp("fuzz") / "registry"
    owner = RegistryClient(path)
    _, secret = owner.create_token("fuzzer", "admin")
    owner.create_registered_model("m", tags={"team": "x"})
    owner.create_model_version("m", "runs:/r1/model")
    owner.close()
    with running_server(path, auth=True) as url:
        yield url, secret


def test_no_request_makes_the_server_fail(served: tuple[str, str]) -> None:
    url, secret = served
    api = schemathesis.openapi.from_url(f"{url}/openapi.json")
    headers = {"authorization": f"Bearer {secret}"}
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 60

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def survives(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                assert set(response.json()) == {"error_code", "message"}, response.text

        survives()
