"""Standard Webhooks signatures: the three headers a sender adds and the check a receiver runs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

from registry_core.errors import InvalidParameterValue

SECRET_PREFIX = "whsec_"
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
DEFAULT_TOLERANCE_SECONDS = 300


def generate_secret() -> str:
    """A fresh `whsec_` secret (32 random bytes, base64), as Standard Webhooks libraries expect."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key: the decoded bytes of a `whsec_` secret, else the secret's UTF-8 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise InvalidParameterValue(
            f"A secret starting with {SECRET_PREFIX!r} must continue with base64."
        ) from None


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    message_id: str, timestamp: int, body: bytes, secret: str | None
) -> dict[str, str]:
    """The Standard Webhooks headers; without a secret there is no signature header."""
    headers = {HEADER_ID: message_id, HEADER_TIMESTAMP: str(timestamp)}
    if secret:
        headers[HEADER_SIGNATURE] = sign(secret, message_id, timestamp, body)
    return headers


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when one `v1` signature matches and the timestamp is within the tolerance."""
    lowered = {key.lower(): value for key, value in headers.items()}
    message_id = lowered.get(HEADER_ID)
    raw_timestamp = lowered.get(HEADER_TIMESTAMP, "")
    if not message_id or not raw_timestamp.isdigit():
        return False
    timestamp = int(raw_timestamp)
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    payload = body.encode() if isinstance(body, str) else body
    expected = sign(secret, message_id, timestamp, payload)
    return any(
        hmac.compare_digest(candidate, expected)
        for candidate in lowered.get(HEADER_SIGNATURE, "").split()
    )
