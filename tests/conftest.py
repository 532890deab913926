"""Shared fixtures: every test gets its own real registry folder on disk."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from registry_core.client import RegistryClient


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def client(registry_path: Path) -> RegistryClient:
    return RegistryClient(registry_path)


def next_millisecond() -> int:
    """Wait for the wall clock to enter a new millisecond, so events get distinct timestamps."""
    start = time.time_ns() // 1_000_000
    while (now := time.time_ns() // 1_000_000) == start:
        pass
    return now
