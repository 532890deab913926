"""`registry server` as a process of its own, for tests that run long write streams."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.server.test_server_process import REGISTRY, free_port, wait_until_healthy

STOP_SECONDS = 60


@contextmanager
def registry_server(registry: Path, log: Path, *options: str) -> Iterator[str]:
    """Serve `registry` from a `registry server` process on a free loopback port until the block
    ends (SIGTERM, a graceful stop); yields its URL. The access log goes to the file `log`: a
    pipe nobody reads would fill up and stall the server."""
    port = free_port()
    with log.open("w") as sink:
        server = subprocess.Popen(
            [*REGISTRY, "--registry-uri", str(registry), "server", "--port", str(port), *options],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, server)
            yield url
        except BaseException:
            print(log.read_text()[-5000:])
            raise
        finally:
            server.terminate()
            server.wait(timeout=STOP_SECONDS)
