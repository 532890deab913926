"""This project's registry server behind `RegistryAdapter`: `RegistryClient("http://...")` over
a `registry server` process that holds the registry folder.

The first adapter made for a folder starts the server (a subprocess on a free loopback port, no
auth) and writes its URL to `<root>/server.url`; adapters made later for the same folder, in
this or a fresh process (W0, W5), read the URL and connect. The server stops when the process
that started it exits.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

import httpx
from adapter_registry_core import RegistryCoreAdapter
from registry_workloads import RegistryAdapter, VersionInfo

import registry_core as rc

_STARTED: list[subprocess.Popen[bytes]] = []


def _stop_servers() -> None:
    for server in _STARTED:
        server.terminate()
        server.wait(timeout=60)


atexit.register(_stop_servers)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(registry: Path) -> str:
    """Start `registry server` on `registry`, wait for /health, return its URL."""
    port = _free_port()
    command = Path(sys.executable).parent / "registry"
    server = subprocess.Popen(
        [str(command), "--registry-uri", str(registry), "server", "--no-auth", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _STARTED.append(server)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the registry server did not start")


class RegistryServerAdapter(RegistryCoreAdapter):
    name = "registry_server"
    backend_version = getattr(rc, "__version__", "dev")
    cold_import = "import registry_core as rc; rc.RegistryClient"

    def __init__(self, root: Path) -> None:
        RegistryAdapter.__init__(self, root)
        note = self.root / "server.url"
        if not note.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            note.write_text(serve(self.root.resolve() / "registry"))
        url = note.read_text().strip()
        os.environ["MODEL_REGISTRY_URI"] = url
        self.client = rc.RegistryClient(url)

    @classmethod
    def environment(cls) -> dict[str, str]:
        dists = ("duckdb", "fastapi", "uvicorn", "httpx", "scikit-learn", "skops")
        return {"packages": {d: _dist_version(d) for d in dists}}

    def load(self, uri: str, flavor: str = "pyfunc") -> Any:
        return rc.load_model(uri, client=self.client, raw=flavor != "pyfunc")


__all__ = ["RegistryServerAdapter", "VersionInfo"]
