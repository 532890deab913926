"""Browser sessions of the web UI: a random id in an HttpOnly, SameSite=Lax cookie, mapped in the
server's memory to the token the visitor signed in with and to a CSRF token.

The cookie carries nothing but the id, so it is worthless once the server forgets it (on sign
out, after `IDLE_SECONDS` without a request, or on restart). The token's secret stays in this
process's memory and is checked again on every request, so revoking the token ends its sessions
at once. Every form carries the session's CSRF token; a POST without the right one is refused.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

COOKIE = "registry_session"
CSRF_FIELD = "csrf_token"
IDLE_SECONDS = 8 * 3600.0
MAX_SESSIONS = 10_000


@dataclass
class Session:
    """One browser's session: its id, CSRF token, the signed-in token's secret (None before sign
    in, and with auth off) and the messages to show on the next page."""

    id: str
    csrf: str
    secret: str | None = None
    seen: float = field(default_factory=time.monotonic)
    flashes: list[tuple[str, str]] = field(default_factory=list)

    def csrf_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(self.csrf.encode(), sent.encode())

    def flash(self, kind: str, message: str) -> None:
        self.flashes.append((kind, message))

    def take_flashes(self) -> list[tuple[str, str]]:
        taken, self.flashes = self.flashes, []
        return taken


class SessionStore:
    """The live sessions, least recently used first; the oldest go beyond `MAX_SESSIONS`."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS, limit: int = MAX_SESSIONS) -> None:
        self.idle_seconds = idle_seconds
        self.limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        """The live session of a cookie's id, or None."""
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.seen > self.idle_seconds:
                del self._sessions[session_id]
                return None
            session.seen = now
            self._sessions.move_to_end(session_id)
            return session

    def new(self, secret: str | None = None) -> Session:
        """A fresh session under a new id (a new id on each sign-in, so an id seen before it
        is worth nothing after)."""
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secret)
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.limit:
                self._sessions.popitem(last=False)
        return session

    def drop(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)
