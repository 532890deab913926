"""SIGKILL the server in the middle of a stream of writes from 4 client processes, restart it:
the registry opens and is sound, every write a client saw succeed is there, and the clients that
lost a reply and retried with the same idempotency key wrote nothing twice."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
from collections import Counter
from pathlib import Path

from registry_core.client import RegistryClient
from registry_core.doctor import examine
from tests.server.process_harness import free_port, start_server

WRITERS = 4
WRITES = 60
KILL_AFTER = 15  # confirmed writes per writer before the kill
WORKER = Path(__file__).with_name("writer_worker.py")


def test_a_killed_server_loses_no_confirmed_write_and_doubles_none(tmp_path: Path) -> None:
    registry, port = tmp_path / "registry", free_port()
    url = f"http://127.0.0.1:{port}"
    RegistryClient(registry).create_registered_model("m")
    RegistryClient(registry).close()
    server = start_server(registry, port, tmp_path / "server.log", "--no-auth")
    env = {**os.environ, "MODEL_REGISTRY_HTTP_RETRIES": "60", "PYTHONPATH": os.getcwd()}
    writers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, f"w{n}", str(WRITES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(WRITERS)
    ]
    confirmed: list[tuple[str, str, str]] = []
    try:
        # Read the writers' confirmations until each has KILL_AFTER, then kill mid-stream.
        watch = selectors.DefaultSelector()
        for writer in writers:
            watch.register(writer.stdout, selectors.EVENT_READ)
        per_writer: Counter[str] = Counter()
        while min(per_writer[f"w{n}"] for n in range(WRITERS)) < KILL_AFTER:
            for key, _ in watch.select(timeout=60):
                line = key.fileobj.readline()
                assert line, "a writer stopped before the kill"
                _, name, seq, version = line.split()
                confirmed.append((name, seq, version))
                per_writer[name] += 1
        server.kill()
        server.wait()
        server = start_server(registry, port, tmp_path / "server.log", "--no-auth")
        for writer in writers:
            out, err = writer.communicate(timeout=300)
            assert writer.returncode == 0, err
            confirmed += [tuple(line.split()[1:]) for line in out.splitlines()]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
        server.terminate()
        server.wait()

    client = RegistryClient(registry)
    assert examine(client).ok
    versions = client.search_model_versions("name = 'm'", max_results=1000)
    stored = Counter((mv.tags["writer"], mv.tags["seq"]) for mv in versions)
    assert len(confirmed) == WRITERS * WRITES
    for name, seq, version in confirmed:
        assert client.get_model_version("m", version).tags == {"writer": name, "seq": seq}
    assert all(count == 1 for count in stored.values()), stored.most_common(3)
    assert len(versions) == WRITERS * WRITES
