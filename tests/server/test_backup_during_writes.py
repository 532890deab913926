"""`registry backup` through a running server while 3 writer processes keep registering versions
(until the backup is done): the copy is one consistent snapshot (versions 1..N, each as the
server has it) holding every write confirmed before the backup started, and not those made after
it; `registry restore` puts it into a new registry that `registry doctor` finds clean. Access
tokens are not part of a backup (the README says so): a restored server gets new ones."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from registry_core.client import RegistryClient
from tests.server.process_harness import REGISTRY, registry_server

WRITERS = 3
ENDLESS = 1_000_000  # writes per writer: they write until stopped
BACKUP_AFTER = 5  # confirmed writes per writer before the backup starts
DEADLINE_SECONDS = 120
WORKER = Path(__file__).with_name("writer_worker.py")

Confirmation = tuple[str, str, str]  # writer, sequence number, version


class Writers:
    """Writer processes, and a thread per writer passing on each `ok WRITER SEQ VERSION` line."""

    def __init__(self, url: str, token: str) -> None:
        env = {**os.environ, "MODEL_REGISTRY_TOKEN": token, "PYTHONPATH": os.getcwd()}
        self.processes = [
            subprocess.Popen(
                [sys.executable, str(WORKER), url, f"w{n}", str(ENDLESS)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
            )
            for n in range(WRITERS)
        ]
        self.lines: queue.Queue[Confirmation] = queue.Queue()
        for process in self.processes:
            threading.Thread(target=self._forward, args=(process,), daemon=True).start()

    def _forward(self, process: subprocess.Popen[str]) -> None:
        for line in process.stdout or ():
            _, writer, seq, version = line.split()
            self.lines.put((writer, seq, version))

    def confirmed(self) -> list[Confirmation]:
        """Every confirmation that arrived so far and was not taken yet."""
        taken = []
        while not self.lines.empty():
            taken.append(self.lines.get_nowait())
        return taken

    def until_each_confirmed(self, count: int) -> list[Confirmation]:
        """Confirmations until every writer has `count` more (polled, with a deadline)."""
        seen: list[Confirmation] = []
        deadline = time.monotonic() + DEADLINE_SECONDS
        while any(sum(1 for w, *_ in seen if w == f"w{n}") < count for n in range(WRITERS)):
            assert all(p.poll() is None for p in self.processes), "a writer stopped early"
            assert time.monotonic() < deadline, f"the writers confirmed only {len(seen)} writes"
            try:
                seen.append(self.lines.get(timeout=1))
            except queue.Empty:
                continue
        return seen

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=60)


def registry_cli(uri: str | Path, *args: str, token: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REGISTRY, "--registry-uri", str(uri), *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        env={**os.environ, "MODEL_REGISTRY_TOKEN": token},
    )


def test_a_backup_under_writes_is_consistent_and_restores_clean(tmp_path: Path) -> None:
    registry, copy, restored = tmp_path / "registry", tmp_path / "backup", tmp_path / "restored"
    owner = RegistryClient(registry)
    admin = owner.create_token("ops", "admin")[1]
    writer_token = owner.create_token("ci", "writer")[1]
    owner.create_registered_model("m", tags={"team": "growth"})
    owner.close()
    with registry_server(registry, tmp_path / "server.log") as url:
        writers = Writers(url, writer_token)
        try:
            before = writers.until_each_confirmed(BACKUP_AFTER)
            backup = registry_cli(url, "backup", str(copy), token=admin)
            assert backup.returncode == 0, backup.stderr
            during = writers.confirmed()
            after = writers.until_each_confirmed(1)
        finally:
            writers.stop()
        everything = {
            mv.version: mv.tags
            for mv in RegistryClient(url, token=admin).search_model_versions(max_results=1000)
        }

    restore = registry_cli(restored, "restore", str(copy))
    assert restore.returncode == 0, restore.stderr
    doctor = registry_cli(restored, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    copied = RegistryClient(restored)
    backed_up = {mv.version: mv.tags for mv in copied.search_model_versions(max_results=1000)}
    print(
        f"{len(before)} writes confirmed before the backup, {len(during)} while it ran, "
        f"{len(backed_up)} in it, {len(everything)} in the registry"
    )
    assert during, "the writers should keep writing while the backup runs"
    assert len(everything) >= len(before) + len(during) + len(after)
    assert len(before) <= len(backed_up) < len(everything)
    assert sorted(backed_up, key=int) == [str(n) for n in range(1, len(backed_up) + 1)]
    assert all(everything[version] == tags for version, tags in backed_up.items())
    for writer, seq, version in before:
        assert backed_up[version] == {"writer": writer, "seq": seq}
    assert copied.get_registered_model("m").tags == {"team": "growth"}
    assert copied.list_tokens() == [], "tokens stay with their server: a backup has none"
