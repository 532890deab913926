"""Running the registry server: hold the registry for the server's whole life, serve it on
uvicorn, deliver webhooks in the background, and stop cleanly.

On start the server opens the registry once and keeps it open, and writes `<db>.server` naming
its URL, so an embedded client that tries the same file is told where the server is. On SIGTERM
or SIGINT uvicorn stops accepting connections and lets in-flight requests finish; then the
deliverer stops, the database is checkpointed and closed, and the note is removed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from registry_core.config import RegistryLocation
from registry_core.errors import InvalidParameterValue
from registry_core.server.limits import ServerLimits
from registry_core.store.connection import server_note
from registry_core.store.embedded import EmbeddedStore

_log = logging.getLogger("registry.server")


def is_loopback(host: str) -> bool:
    """True for a loopback address or `localhost`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServerSettings:
    """How the server listens and what it allows."""

    host: str = "127.0.0.1"
    port: int = 5050
    auth: bool = True
    limits: ServerLimits = field(default_factory=ServerLimits)
    webhook_interval: float = 5.0
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def check(self) -> None:
        if not self.auth and not is_loopback(self.host):
            raise InvalidParameterValue(
                f"--no-auth serves anyone who can reach the server: it is refused on {self.host}; "
                "listen on 127.0.0.1 (or ::1), or create tokens with `registry tokens create`."
            )

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_certfile else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


class _Deliverer(threading.Thread):
    """Sends due webhook deliveries every `interval` seconds until stopped."""

    def __init__(self, store: EmbeddedStore, interval: float) -> None:
        super().__init__(name="registry-webhooks", daemon=True)
        self.store = store
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.store.deliver_webhooks(max_seconds=self.interval)
            except Exception:
                _log.exception("webhook delivery failed")


@contextlib.contextmanager
def holding(store: EmbeddedStore, settings: ServerSettings) -> Iterator[None]:
    """Hold the registry open, with the note naming this server and the webhook deliverer."""
    note = server_note(store.location.db_path)
    with store.session():
        note.write_text(json.dumps({"url": settings.url, "pid": os.getpid()}))
        deliverer = _Deliverer(store, settings.webhook_interval)
        if settings.webhook_interval > 0:
            deliverer.start()
        try:
            yield
        finally:
            deliverer.stopping.set()
            if deliverer.is_alive():
                deliverer.join()
            store.checkpoint()
            note.unlink(missing_ok=True)
    store.close()


def build_app(store: EmbeddedStore, settings: ServerSettings) -> Any:
    """The ASGI app with the registry held for the app's lifespan."""
    from registry_core.server.app import create_app

    app = create_app(store, auth=settings.auth, limits=settings.limits)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        with holding(store, settings):
            _log.info("registry %s served at %s", store.uri, settings.url)
            try:
                yield
            finally:
                app.state.commits.close()

    app.router.lifespan_context = lifespan
    return app


def run_server(location: RegistryLocation, settings: ServerSettings) -> None:
    """Serve the registry until SIGTERM or SIGINT (blocking)."""
    import uvicorn

    settings.check()
    store = EmbeddedStore(location, idle_seconds=0, lock_timeout=10)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(
        build_app(store, settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="info",
        timeout_graceful_shutdown=30,
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
    )
