"""Shared fixtures: every test gets its own real registry folder on disk."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry_core.artifacts import ArtifactStore
from registry_core.client import RegistryClient
from registry_core.config import resolve_location
from registry_core.errors import RegistryError
from tests.server_harness import running_server

BACKENDS = ("embedded", "server")


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that asks for `client` runs on the embedded file and through a real server."""
    return str(request.param)


@pytest.fixture
def registry_uri(registry_path: Path, backend: str) -> Iterator[str]:
    """A fresh registry: the file's folder, or the URL of a server on a loopback port over it."""
    if backend == "embedded":
        yield str(registry_path)
        return
    with running_server(registry_path) as url:
        yield url


@pytest.fixture
def client(registry_uri: str) -> Iterator[RegistryClient]:
    """A client of a fresh registry, embedded or through a real server (see `backend`)."""
    opened = RegistryClient(registry_uri)
    yield opened
    opened.close()


def stored_file(registry_path: Path, sha256: str) -> Path:
    """Where an artifact's bytes lie on disk (the server's files are these files too)."""
    return ArtifactStore(resolve_location(registry_path).artifact_root).path_for(sha256)


@pytest.fixture
def embedded_client(registry_path: Path) -> RegistryClient:
    """A client of the file itself, for tests of what only an embedded registry has (its files,
    locks and connection)."""
    return RegistryClient(registry_path)


def error_code(call: Callable[[], object]) -> str:
    """The error code of the RegistryError that `call` raises (the test fails if it does not)."""
    with pytest.raises(RegistryError) as caught:
        call()
    return caught.value.error_code


def next_millisecond() -> int:
    """Wait for the wall clock to enter a new millisecond, so events get distinct timestamps."""
    start = time.time_ns() // 1_000_000
    while (now := time.time_ns() // 1_000_000) == start:
        pass
    return now
