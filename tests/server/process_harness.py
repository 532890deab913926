"""`registry server` as a process of its own: started on a free loopback port with its log in a
file (a pipe nobody reads would fill up and stall it), polled until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REGISTRY = [str(Path(sys.executable).parent / "registry")]
START_SECONDS = 60
STOP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(registry: Path, port: int, log: Path, *options: str) -> subprocess.Popen[str]:
    """`registry server` on `port`, once /health answers (the process is polled, never slept on
    blindly); its output is appended to `log`."""
    with log.open("a") as sink:
        server = subprocess.Popen(
            [*REGISTRY, "--registry-uri", str(registry), "server", "--port", str(port), *options],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    raise AssertionError("the server did not answer /health")


@contextmanager
def server_process(
    registry: Path, *options: str
) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    """A server, its URL and its log file; killed at the end if the block left it running."""
    port = free_port()
    log = registry.parent / f"server-{port}.log"
    server = start_server(registry, port, log, *options)
    try:
        yield f"http://127.0.0.1:{port}", server, log
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@contextmanager
def registry_server(registry: Path, log: Path, *options: str) -> Iterator[str]:
    """Serve `registry` until the block ends (SIGTERM, a graceful stop); yields its URL and
    prints the end of its log if the block fails."""
    port = free_port()
    server = start_server(registry, port, log, *options)
    try:
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        print(log.read_text()[-5000:])
        raise
    finally:
        server.terminate()
        server.wait(timeout=STOP_SECONDS)
