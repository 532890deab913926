"""Forged page tokens: every search refuses a token it did not issue, with a clear error."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import INVALID_PARAMETER_VALUE, RegistryError
from registry_core.search_filter import decode_page_token, encode_page_token
from tests.cli.conftest import invoke_cli


def _token(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


FORGED = [
    "eyJvZmZzZXQiOiAxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDB9",  # {"offset": 10**26}, from the report
    _token(json.dumps({"offset": 2**63}).encode()),
    _token(json.dumps({"offset": 2**63 - 1}).encode()),
    _token(b'{"offset": 2}'),  # not how we write it
    _token(b'{"offset":2,"as":"admin"}'),
    _token(b'{"offset":02}'),
    encode_page_token(2) + "==",
]


@pytest.mark.parametrize("token", FORGED)
def test_every_search_refuses_a_forged_token(client: RegistryClient, token: str) -> None:
    client.create_registered_model("m")
    client.create_model_version("m", "runs:/r1/model")
    client.create_run("r")
    for search in (
        client.search_registered_models,
        client.search_model_versions,
        client.search_runs,
    ):
        with pytest.raises(RegistryError, match="Invalid page_token") as caught:
            search(page_token=token)
        assert caught.value.error_code == INVALID_PARAMETER_VALUE


def test_the_cli_reports_a_forged_token(client: RegistryClient, registry_path: Path) -> None:
    client.create_model_version(client.create_registered_model("m").name, "runs:/r1/model")
    client.close()
    for command in (["models", "list"], ["versions", "list", "m"]):
        refused = invoke_cli(registry_path, *command, "--page-token", FORGED[0])
        assert refused.exit_code == 1
        assert refused.stderr.startswith("INVALID_PARAMETER_VALUE: Invalid page_token"), command


def test_issued_tokens_page_through_the_results(client: RegistryClient) -> None:
    for name in ("a", "b", "c"):
        client.create_registered_model(name)
    first = client.search_registered_models(max_results=2, order_by=["name"])
    rest = client.search_registered_models(max_results=2, order_by=["name"], page_token=first.token)
    assert [m.name for m in [*first, *rest]] == ["a", "b", "c"]
    assert decode_page_token(first.token) == 2 and rest.token is None
