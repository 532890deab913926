"""A real registry server on a loopback port, in a thread of the test process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from registry_core.config import resolve_location
from registry_core.server.serve import ServerSettings, build_app
from registry_core.store.embedded import EmbeddedStore

_START_TIMEOUT = 30.0


@contextmanager
def running_server(registry: Path, *, auth: bool = False, **settings: object) -> Iterator[str]:
    """Serve the registry at `registry` until the block ends; yields the server's URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    store = EmbeddedStore(resolve_location(registry), idle_seconds=0.25, lock_timeout=30)
    options = ServerSettings(port=port, auth=auth, webhook_interval=0, **settings)  # type: ignore[arg-type]
    config = uvicorn.Config(build_app(store, options), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the registry server did not start")
        time.sleep(0.002)
    try:
        yield options.url
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
