"""A registry folder the user cannot write: reads work (DuckDB opened read-only, no lock file),
and a change fails with a clear PERMISSION_DENIED instead of an I/O error on the lock file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_core.client import RegistryClient
from tests.cli.conftest import build_registry

EXECUTABLE = shutil.which("registry", path=str(Path(sys.executable).parent))


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A populated registry whose folder and files are read-only, lock file included."""
    path = tmp_path / "registry"
    build_registry(path)
    RegistryClient(path).close()
    (path / "registry.duckdb.lock").unlink()
    (path / "registry.duckdb.waiters").unlink()
    places = [path, *(p for p in path.rglob("*"))]
    modes = {place: place.stat().st_mode for place in places}
    for place in sorted(places, reverse=True):
        place.chmod(0o500 if place.is_dir() else 0o400)
    yield path
    for place, mode in modes.items():
        place.chmod(mode)


def registry(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real executable, as a user without write access: root keeps its uid but loses the
    capabilities that let it write anywhere, so CI (root) sees what a user sees."""
    assert EXECUTABLE is not None
    command = [EXECUTABLE, *args]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


def test_reads_work_on_a_read_only_registry(read_only: Path) -> None:
    uri = ["--registry-uri", str(read_only)]
    listed = registry(*uri, "--json", "models", "list")
    assert listed.returncode == 0, listed.stderr
    assert {m["name"] for m in json.loads(listed.stdout)["registered_models"]} == {
        "churn",
        "empty",
        "legacy",
    }
    doctor = registry(*uri, "doctor")
    assert doctor.returncode == 0, doctor.stderr + doctor.stdout
    checked = registry(*uri, "--json", "load-check", "models:/churn/Production")
    assert checked.returncode == 0, checked.stderr
    assert sorted(p.name for p in read_only.iterdir()) == ["artifacts", "registry.duckdb"]


def test_a_change_says_the_registry_is_read_only(read_only: Path) -> None:
    before = (read_only / "registry.duckdb").read_bytes()
    refused = registry("--registry-uri", str(read_only), "models", "create", "new")
    assert refused.returncode == 1
    assert refused.stderr.startswith("PERMISSION_DENIED: "), refused.stderr
    assert "read-only" in refused.stderr and str(read_only) in refused.stderr
    assert (read_only / "registry.duckdb").read_bytes() == before
