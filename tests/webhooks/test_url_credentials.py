"""Webhook URLs never carry credentials: refused on the way in, hidden on the way out."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from registry_core.client import RegistryClient
from registry_core.errors import INVALID_PARAMETER_VALUE, RegistryError
from tests.cli.conftest import invoke_cli

PASSWORD = "hunter2-secret"
WITH_CREDENTIALS = [
    f"https://user:{PASSWORD}@ci.example.com/x",
    f"https://{PASSWORD}@ci.example.com/x",
    f"http://user:{PASSWORD}@127.0.0.1:9/x",
    f"https://user:{PASSWORD}@ci.example.com:99999/x",  # and a bad port: still not quoted
    f"http://user:{PASSWORD}@ci.internal/x",  # and plain http: still not quoted
]


@pytest.mark.parametrize("url", WITH_CREDENTIALS)
def test_urls_with_credentials_are_refused_without_quoting_them(
    client: RegistryClient, url: str
) -> None:
    client.create_webhook("ok", "https://ci.example.com/x", ["*"])
    for call in (
        lambda: client.create_webhook("h1", url, ["*"]),
        lambda: client.update_webhook("ok", url=url),
    ):
        with pytest.raises(RegistryError) as caught:
            call()
        assert caught.value.error_code == INVALID_PARAMETER_VALUE
        assert PASSWORD not in str(caught.value)
    assert [hook.url for hook in client.list_webhooks()] == ["https://ci.example.com/x"]


def test_a_url_with_control_characters_is_refused(client: RegistryClient) -> None:
    with pytest.raises(RegistryError):
        client.create_webhook("h1", "https://ci.example.com/x\r\nX-Injected: 1", ["*"])


def test_credentials_stored_before_the_rule_are_never_shown(
    embedded_client: RegistryClient,
) -> None:
    embedded_client.create_webhook("old", "https://ci.example.com/x", ["*"])
    registry = Path(embedded_client.registry_uri)
    embedded_client.close()
    with duckdb.connect(str(registry / "registry.duckdb")) as conn:
        conn.execute("UPDATE webhooks SET url = ?", [WITH_CREDENTIALS[0]])
    for json_output in (False, True):
        shown = invoke_cli(registry, "webhooks", "list", json_output=json_output)
        assert shown.exit_code == 0, shown.stderr
        assert PASSWORD not in shown.stdout and "https://***@ci.example.com/x" in shown.stdout
    assert RegistryClient(registry).get_webhook("old").url == "https://***@ci.example.com/x"
