"""Every query of access tokens and of idempotent-request records.

Tokens are random secrets shown once; the file keeps only their sha256, so a copy of the file
does not hand out access. Idempotent-request records keep the answer to a write under the key
its client sent, written in the same transaction as the write itself.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from typing import Any, NamedTuple

from registry_core.entities import ROLES, ApiToken, now_ms
from registry_core.errors import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from registry_core.store.connection import AppendOnly, ConnectionManager

TOKEN_PREFIX = "mr_"
_TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
_TOKEN_COLUMNS = "name, role, created_by, creation_timestamp, revoked_timestamp"
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
IDEMPOTENT = AppendOnly("INSERT INTO idempotent_requests VALUES ", "(?, ?, ?, ?, ?)")


class Answer(NamedTuple):
    """A write's answer kept under its idempotency key, with the fingerprint of its request."""

    fingerprint: str
    status: int
    response: str


def token_name(value: Any) -> str:
    """A token name: letters, digits and `_ . @ -`, at most 128 characters."""
    if not isinstance(value, str) or not _TOKEN_NAME.match(value):
        raise InvalidParameterValue(
            f"Invalid token name {value!r}: use letters, digits, '_', '.', '@' and '-' "
            "(at most 128 characters)."
        )
    return value


def token_role(value: Any) -> str:
    """One of the roles, in lower case."""
    if not isinstance(value, str) or value.lower() not in ROLES:
        raise InvalidParameterValue(f"Invalid role {value!r}: must be one of {', '.join(ROLES)}.")
    return value.lower()


def idempotency_key(value: Any) -> str:
    """A client's idempotency key: 8 to 128 characters of letters, digits and `_ . : -`."""
    if not isinstance(value, str) or not _KEY_PATTERN.match(value):
        raise InvalidParameterValue(
            "Invalid Idempotency-Key: use 8 to 128 letters, digits, '_', '.', ':' or '-'."
        )
    return value


def secret_digest(secret: str) -> str:
    """The sha256 a token is stored and looked up under."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _token_from_row(row: Sequence[Any]) -> ApiToken:
    return ApiToken(*row)


class DuckDBAdminStore:
    """Access tokens and idempotent-request records in the registry file."""

    manager: ConnectionManager

    def create_token(self, name: str, role: str, actor: str) -> tuple[ApiToken, str]:
        name, chosen = token_name(name), token_role(role)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        when = now_ms()
        with self.manager.transaction() as conn:
            if conn.execute("SELECT 1 FROM api_tokens WHERE name = ?", [name]).fetchone():
                raise ResourceAlreadyExists(f"Token (name={name}) already exists.")
            conn.execute(
                "INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, NULL)",
                [name, chosen, secret_digest(secret), actor, when],
            )
        return ApiToken(name, chosen, actor, when), secret

    def list_tokens(self) -> list[ApiToken]:
        with self.manager.connection() as conn:
            rows = conn.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens ORDER BY name").fetchall()
        return [_token_from_row(row) for row in rows]

    def revoke_token(self, name: str, actor: str) -> ApiToken:
        with self.manager.transaction() as conn:
            row = conn.execute(
                "UPDATE api_tokens SET revoked_timestamp = coalesce(revoked_timestamp, ?) "
                f"WHERE name = ? RETURNING {_TOKEN_COLUMNS}",
                [now_ms(), token_name(name)],
            ).fetchone()
        if row is None:
            raise ResourceDoesNotExist(f"Token with name={name} not found")
        return _token_from_row(row)

    def authenticate(self, secret: str) -> ApiToken | None:
        """The live token whose secret this is, or None."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        with self.manager.connection() as conn:
            row = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM api_tokens "
                "WHERE secret_sha256 = ? AND revoked_timestamp IS NULL",
                [secret_digest(secret)],
            ).fetchone()
        return _token_from_row(row) if row else None

    def recorded_answers(self, keys: Sequence[str]) -> dict[str, Answer]:
        """The answers recorded under any of `keys`, in one query (inside the caller's
        transaction, so that a write and its answer are on disk together or not at all)."""
        with self.manager.connection() as conn:
            self.manager.flush_appends()
            # A literal list lets the key's index serve the lookup; a join would scan them all.
            rows = conn.execute(
                "SELECT key, request_sha256, status, response FROM idempotent_requests "
                f"WHERE key IN ({', '.join('?' for _ in keys)})",
                list(keys),
            ).fetchall()
        return {key: Answer(*answer) for key, *answer in rows}

    def record_answer(self, key: str, request_sha256: str, status: int, response: str) -> Answer:
        """Keep a write's answer under its key, in the write's own transaction."""
        self.manager.append(IDEMPOTENT, (key, request_sha256, status, response, now_ms()))
        return Answer(request_sha256, status, response)

    def prune_idempotent_requests(self, before_ms: int) -> int:
        """Forget answers recorded before a time; returns how many were dropped."""
        with self.manager.transaction() as conn:
            self.manager.flush_appends()
            rows = conn.execute(
                "DELETE FROM idempotent_requests WHERE creation_timestamp < ? RETURNING key",
                [before_ms],
            ).fetchall()
        return len(rows)
