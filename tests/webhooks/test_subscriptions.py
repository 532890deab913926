"""Webhook subscriptions: create, read (never the secret), update, delete and their checks."""

from __future__ import annotations

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    RegistryError,
)
from registry_core.webhooks.signing import generate_secret
from registry_core.webhooks.validation import ENV_ALLOW_HTTP
from tests.webhooks.conftest import Receiver, promote

HTTPS = "https://ci.example.com/hooks/registry"


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(RegistryError) as caught:
        call(*args, **kwargs)
    return caught.value.error_code


def test_secrets_are_never_returned(client: RegistryClient) -> None:
    secret = generate_secret()
    created = client.create_webhook("ci", HTTPS, ["model_version.*"], secret=secret)
    client.create_webhook("slack", HTTPS, ["*"], format="slack", description="team channel")

    assert created.has_secret
    for webhook in [created, client.get_webhook("ci"), *client.list_webhooks()]:
        assert not hasattr(webhook, "secret")
        assert secret not in repr(webhook)
    assert [(w.name, w.has_secret, w.format) for w in client.list_webhooks()] == [
        ("ci", True, "json"),
        ("slack", False, "slack"),
    ]
    assert client.get_webhook("ci").events == ("model_version.*",)
    assert client.get_webhook("ci").status == "ACTIVE"


@pytest.mark.parametrize(
    "url",
    [
        "http://ci.example.com/hook",
        "ftp://ci.example.com/hook",
        "https:///no-host",
        "not a url",
        "",
        "https://ci.example.com:99999/hook",
    ],
)
def test_only_https_urls_except_localhost(client: RegistryClient, url: str) -> None:
    assert error_code(client.create_webhook, "ci", url, ["*"]) == INVALID_PARAMETER_VALUE


@pytest.mark.parametrize(
    "url", ["http://localhost:8080/h", "http://127.0.0.1/h", "http://[::1]:9000/h", HTTPS]
)
def test_https_and_local_http_are_accepted(client: RegistryClient, url: str) -> None:
    assert client.create_webhook("ci", url, ["*"]).url == url


def test_plain_http_elsewhere_needs_the_switch(
    client: RegistryClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "http://ci.internal:8080/hook"
    assert client.create_webhook("a", url, ["*"], allow_http=True).url == url
    assert error_code(client.update_webhook, "a", url=url) == INVALID_PARAMETER_VALUE
    monkeypatch.setenv(ENV_ALLOW_HTTP, "1")
    assert client.create_webhook("b", url, ["*"]).url == url


def test_names_events_status_and_format_are_checked(client: RegistryClient) -> None:
    bad_calls = [
        ("bad name!", HTTPS, ["*"], {}),
        ("ci", HTTPS, ["model_version.promoted"], {}),
        ("ci", HTTPS, "model_version.*", {}),
        ("ci", HTTPS, ["*"], {"status": "PAUSED"}),
        ("ci", HTTPS, ["*"], {"format": "xml"}),
        ("ci", HTTPS, ["*"], {"secret": ""}),
    ]
    for name, url, events, extra in bad_calls:
        assert error_code(client.create_webhook, name, url, events, **extra) == (
            INVALID_PARAMETER_VALUE
        )
    assert client.list_webhooks() == []


def test_duplicates_and_unknown_names(client: RegistryClient) -> None:
    client.create_webhook("ci", HTTPS, ["*"])
    assert error_code(client.create_webhook, "ci", HTTPS, ["*"]) == RESOURCE_ALREADY_EXISTS
    for call in (
        client.get_webhook,
        client.delete_webhook,
        client.test_webhook,
        client.list_webhook_deliveries,
        client.update_webhook,
    ):
        assert error_code(call, "nope") == RESOURCE_DOES_NOT_EXIST
    assert error_code(client.redeliver, "msg_nope") == RESOURCE_DOES_NOT_EXIST
    assert error_code(client.get_webhook_delivery, "msg_nope") == RESOURCE_DOES_NOT_EXIST
    assert error_code(client.list_webhook_deliveries, status="LOST") == INVALID_PARAMETER_VALUE
    assert error_code(client.list_webhook_deliveries, limit=0) == INVALID_PARAMETER_VALUE


def test_update_changes_only_what_is_given(client: RegistryClient) -> None:
    client.create_webhook("ci", HTTPS, ["*"], secret="s3cret", description="deploys")
    updated = client.update_webhook(
        "ci", events=["model_version.stage_transitioned"], status="disabled", format="SLACK"
    )
    assert updated.events == ("model_version.stage_transitioned",)
    assert (updated.status, updated.format) == ("DISABLED", "slack")
    assert (updated.url, updated.description, updated.has_secret) == (HTTPS, "deploys", True)
    assert updated.last_updated_timestamp >= updated.creation_timestamp
    assert not client.update_webhook("ci", secret="").has_secret


def test_delete_removes_the_webhook_and_its_history(
    client: RegistryClient, receiver: Receiver
) -> None:
    client.create_webhook("ci", receiver.url, ["*"])
    promote(client)
    assert client.deliver_webhooks().delivered > 0
    client.delete_webhook("ci")
    assert client.list_webhooks() == []
    assert client.list_webhook_deliveries() == []
    client.create_webhook("ci", receiver.url, ["*"])
    assert client.deliver_webhooks().attempts == 0
