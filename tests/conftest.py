"""Shared fixtures: every test gets its own real registry folder on disk."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import RegistryError


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def client(registry_path: Path) -> RegistryClient:
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
