"""Who a caller is, from their bearer token, and whether their role allows a call.

Roles are ordered (reader < writer < promoter < admin): each may do what the ones before it
may. Identity comes from the token alone; with auth off (loopback only), every caller is an
anonymous admin and the actor a client names is taken as given.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from registry_core.entities import ROLES
from registry_core.errors import PermissionDenied, Unauthenticated
from registry_core.store.embedded import EmbeddedStore

ANONYMOUS = "anonymous"
_BEARER = "bearer "


@dataclass(frozen=True)
class Principal:
    """The caller: the token's name and role, or the anonymous caller of an open server."""

    name: str
    role: str
    authenticated: bool


class Authenticator:
    """Checks bearer tokens against the hashes in the registry; remembers the answers until a
    token is created or revoked (which only this server can do while it holds the file)."""

    def __init__(self, store: EmbeddedStore, enabled: bool) -> None:
        self.store = store
        self.enabled = enabled
        self._known: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def remembered(self, authorization: str | None) -> Principal | None:
        """The caller when no lookup is needed (auth off, or a token seen before), else None."""
        if not self.enabled:
            return Principal(ANONYMOUS, ROLES[-1], authenticated=False)
        if not authorization or not authorization.lower().startswith(_BEARER):
            return None
        with self._lock:
            return self._known.get(authorization[len(_BEARER) :].strip())

    def principal(self, authorization: str | None) -> Principal:
        """The caller behind an `Authorization` header; UNAUTHENTICATED without a valid token."""
        if not self.enabled:
            return Principal(ANONYMOUS, ROLES[-1], authenticated=False)
        if not authorization or not authorization.lower().startswith(_BEARER):
            raise Unauthenticated(
                "This registry server needs a token: send 'Authorization: Bearer <token>' "
                "(set MODEL_REGISTRY_TOKEN, or MLFLOW_TRACKING_TOKEN for MLflow's client)."
            )
        secret = authorization[len(_BEARER) :].strip()
        with self._lock:
            known = self._known.get(secret)
        if known is not None:
            return known
        token = self.store.authenticate(secret)
        if token is None:
            raise Unauthenticated("The token is not valid, or it was revoked.")
        principal = Principal(token.name, token.role, authenticated=True)
        with self._lock:
            self._known[secret] = principal
        return principal

    @staticmethod
    def require(principal: Principal, role: str) -> None:
        """PERMISSION_DENIED unless the caller's role reaches `role`."""
        if ROLES.index(principal.role) < ROLES.index(role):
            raise PermissionDenied(
                f"Token {principal.name!r} has role {principal.role}; this call needs {role}."
            )

    def forget(self) -> None:
        """Drop remembered tokens, after one was created or revoked."""
        with self._lock:
            self._known.clear()
