"""Checks of webhook fields, raising INVALID_PARAMETER_VALUE with a message saying what to fix."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from registry_core.errors import InvalidParameterValue
from registry_core.validation import UNSAFE_IN_NAMES
from registry_core.webhooks.entities import DELIVERY_STATUSES, FORMATS, WEBHOOK_STATUSES
from registry_core.webhooks.signing import secret_key

ENV_ALLOW_HTTP = "MODEL_REGISTRY_WEBHOOK_ALLOW_HTTP"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_URL_LENGTH = 2048
MAX_LIMIT = 1000
# The userinfo of an authority: after `scheme://`, everything up to the last `@` before the path.
_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def http_allowed_by_env() -> bool:
    """True when `MODEL_REGISTRY_WEBHOOK_ALLOW_HTTP` allows plain-http URLs to any host."""
    return os.environ.get(ENV_ALLOW_HTTP, "").strip().lower() in ("1", "true", "yes")


def webhook_name(name: Any) -> str:
    """A name of letters, digits, `_`, `.` and `-` (at most 128), starting alphanumeric."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidParameterValue(
            f"Invalid webhook name {name!r}: use letters, digits, '_', '.' and '-' (up to 128)."
        )
    return name


def webhook_url(url: Any, allow_http: bool = False) -> str:
    """An https URL, or http to localhost, or any http URL when allowed explicitly; never with
    credentials in it (`user:password@`), which every listing would then show."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidParameterValue(f"Invalid webhook URL {url!r}.")
    shown = redacted(url)
    if UNSAFE_IN_NAMES.search(url):
        raise InvalidParameterValue(f"Webhook URL {shown!r} contains a control character.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise InvalidParameterValue(f"Invalid webhook URL {shown!r}.") from None
    if "@" in parts.netloc:
        raise InvalidParameterValue(
            f"Webhook URL {shown!r} carries credentials: remove them, and let the receiver "
            "check the signature of a webhook secret (--secret) instead."
        )
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidParameterValue(f"Webhook URL {shown!r} must be https://host/...")
    local = host in LOCAL_HOSTS
    if parts.scheme == "http" and not (local or allow_http or http_allowed_by_env()):
        raise InvalidParameterValue(
            f"Webhook URL {shown!r} is plain http: use https, or set {ENV_ALLOW_HTTP}=1 "
            "(or allow_http=True) for a trusted network."
        )
    return url


def redacted(url: str) -> str:
    """`url` with any credentials before its host replaced by `***`, for display."""
    return _CREDENTIALS.sub(r"\1***@", url)


def _choice(kind: str, value: Any, choices: tuple[str, ...]) -> str:
    if isinstance(value, str):
        for choice in choices:
            if choice.lower() == value.lower():
                return choice
    raise InvalidParameterValue(f"Invalid {kind} {value!r}: use one of {', '.join(choices)}.")


def webhook_status(status: Any) -> str:
    """ACTIVE or DISABLED (any case)."""
    return _choice("webhook status", status, WEBHOOK_STATUSES)


def webhook_format(value: Any) -> str:
    """json (the signed envelope) or slack (a readable Slack message)."""
    return _choice("webhook format", value, FORMATS)


def delivery_status(status: Any) -> str:
    """PENDING, DELIVERED, FAILED or DEAD_LETTER (any case)."""
    return _choice("delivery status", status, DELIVERY_STATUSES)


def webhook_secret(secret: Any) -> str | None:
    """None (no signature) or a non-empty secret; a `whsec_` secret must be valid base64."""
    if secret is None:
        return None
    if not isinstance(secret, str) or not secret:
        raise InvalidParameterValue("A webhook secret must be a non-empty string.")
    secret_key(secret)
    return secret


def limit(value: Any) -> int:
    """A page size between 1 and 1000."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InvalidParameterValue(f"limit must be an integer from 1 to {MAX_LIMIT}.")
    return value
