"""Several processes and threads share one registry file without errors or lost writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from registry_core.client import RegistryClient
from registry_core.errors import TEMPORARILY_UNAVAILABLE, RegistryError

ROOT = Path(__file__).resolve().parent.parent


def start_worker(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.registry_worker", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def go(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()


def test_four_writers_and_a_reader(registry_path: Path) -> None:
    client = RegistryClient(registry_path)
    client.create_registered_model("shared")
    client.close()
    writers = [start_worker("register", str(registry_path), "shared", "50") for _ in range(4)]
    reader = start_worker("read", str(registry_path), "shared", "200")
    go(*writers, reader)
    try:
        outputs = [process.communicate(timeout=240) for process in [*writers, reader]]
    finally:
        for process in [*writers, reader]:
            process.kill()
    for process, (_out, err) in zip([*writers, reader], outputs, strict=True):
        assert process.returncode == 0, err
        assert "error" not in err.lower(), err
    assert outputs[-1][0].strip().endswith("errors=0")
    numbers = sorted(int(line) for out, _ in outputs[:4] for line in out.split())
    assert numbers == list(range(1, 201))
    versions = client.search_model_versions("name = 'shared'", max_results=1000)
    assert sorted(int(mv.version) for mv in versions) == list(range(1, 201))
    assert client.check_consistency() == []


def test_sigkill_mid_write_loses_at_most_the_transaction_in_flight(registry_path: Path) -> None:
    client = RegistryClient(registry_path, idle_timeout=0)
    client.create_registered_model("crash")
    writer = start_worker("stream", str(registry_path), "crash")
    go(writer)
    assert writer.stdout is not None
    lines = [writer.stdout.readline() for _ in range(25)]
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    lines += writer.stdout.read().split()
    assert writer.stderr is not None
    errors = writer.stderr.read()
    assert all(line.strip().isdigit() for line in lines), (lines, errors)
    committed = [int(line) for line in lines]
    assert client.check_consistency() == [], errors
    versions = sorted(int(mv.version) for mv in client.search_model_versions("name = 'crash'"))
    assert versions == list(range(1, len(versions) + 1))
    assert len(versions) in (committed[-1], committed[-1] + 1)
    production = client.get_latest_versions("crash", ["Production"])
    assert len(production) == 1
    assert len(client.search_model_versions("name = 'crash' AND current_stage = 'Production'")) == 1


def test_lock_timeout_names_the_holder(registry_path: Path) -> None:
    RegistryClient(registry_path).create_registered_model("m")
    RegistryClient(registry_path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.readline()",
            str(registry_path / "registry.duckdb"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        waiting = RegistryClient(registry_path, lock_timeout=0.3)
        with pytest.raises(RegistryError, match=f"process {holder.pid}") as caught:
            waiting.get_registered_model("m")
        assert caught.value.error_code == TEMPORARILY_UNAVAILABLE
    finally:
        holder.communicate("release\n", timeout=30)
    assert RegistryClient(registry_path, lock_timeout=5).get_registered_model("m").name == "m"


def test_connection_released_after_idle_window(registry_path: Path) -> None:
    client = RegistryClient(registry_path, idle_timeout=0.05)
    client.create_registered_model("m")
    manager = client._store.manager
    done = threading.Event()

    def watch() -> None:
        with manager._cond:
            while manager.is_open:
                manager._cond.wait()
        done.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    watcher.join(timeout=10)
    assert done.is_set()
    duckdb.connect(str(registry_path / "registry.duckdb")).close()


def test_session_keeps_one_connection(registry_path: Path) -> None:
    client = RegistryClient(registry_path, idle_timeout=0)
    client.create_registered_model("m")
    opens = client._store.manager.opens
    with client.session():
        for _ in range(20):
            client.get_registered_model("m")
        assert client._store.manager.is_open
    assert client._store.manager.opens == opens + 1
    assert not client._store.manager.is_open


def test_threads_share_a_client(registry_path: Path) -> None:
    client = RegistryClient(registry_path)
    client.create_registered_model("m")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                client.create_model_version("m", "runs:/t/model")
                client.get_latest_versions("m")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = client.search_model_versions("name = 'm'")
    assert sorted(int(mv.version) for mv in versions) == list(range(1, 101))


def test_sigkill_while_logging_models_leaves_no_dangling_version(registry_path: Path) -> None:
    writer = start_worker("log_models", str(registry_path), "forest")
    go(writer)
    assert writer.stdout is not None
    for _ in range(3):
        writer.stdout.readline()
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    client = RegistryClient(registry_path)
    assert client.check_consistency() == []
    versions = client.search_model_versions("name = 'forest'")
    assert len(versions) >= 3
    for mv in versions:
        assert mv.artifact_sha256 is not None
        assert client.artifacts.verify(mv.artifact_sha256) is None
    stored = client.artifacts.digests()
    assert {mv.artifact_sha256 for mv in versions} <= stored
    assert not any(client.artifacts.root.glob("*/*.part"))
