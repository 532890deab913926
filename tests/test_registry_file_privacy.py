"""The registry's files are owner-only, and the lock file names a process, never its arguments."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import TEMPORARILY_UNAVAILABLE, RegistryError
from registry_core.store.connection import process_description

ROOT = Path(__file__).resolve().parent.parent
SECRET = "TOPSECRET123"
# A holder that takes its turn through the lock file, and one that opens DuckDB directly; both
# short, so that their command lines, secret included, fit what the lock file used to show.
HOLDERS = {
    "turn-taking": (
        "import sys,registry_core.client as r;c=r.RegistryClient(sys.argv[2]);"
        "s=c.session();s.__enter__();print('held',flush=True);input()"
    ),
    "duckdb": (
        "import sys,duckdb;c=duckdb.connect(sys.argv[2]+'/registry.duckdb');"
        "print('held',flush=True);input()"
    ),
}


@pytest.mark.parametrize("kind", sorted(HOLDERS))
def test_a_holders_arguments_reach_neither_the_lock_file_nor_the_error(
    registry_path: Path, kind: str
) -> None:
    RegistryClient(registry_path).create_registered_model("m")
    RegistryClient(registry_path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDERS[kind], SECRET, str(registry_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = (registry_path / "registry.duckdb.lock").read_text()
        assert SECRET not in lock
        with pytest.raises(RegistryError) as caught:
            RegistryClient(registry_path, lock_timeout=0.2).get_registered_model("m")
        assert caught.value.error_code == TEMPORARILY_UNAVAILABLE
        assert f"process {holder.pid}" in str(caught.value)
        assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
        if kind == "turn-taking":
            assert re.fullmatch(rf"process {holder.pid} \(\S+\)", lock)
    finally:
        holder.communicate("release\n", timeout=30)


def test_the_cli_leaves_no_secret_in_the_lock_file(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    executable = shutil.which("registry", path=str(Path(sys.executable).parent))
    assert executable is not None
    command = "registry --registry-uri registry webhooks create h1 https://127.0.0.1:9/x --event *"
    created = subprocess.run(
        [*command.split(), "--secret", SECRET],
        executable=executable,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    lock = (registry / "registry.duckdb.lock").read_text()
    assert SECRET not in lock
    assert lock.startswith("process ") and "registry" in lock


def test_a_process_that_is_gone_is_described_by_its_pid() -> None:
    assert process_description(2**22 + 1) == f"process {2**22 + 1}"  # above Linux's pid_max


CREATE_WITH_OPEN_UMASK = """
import json, os, sys
from pathlib import Path
os.umask(0)
from registry_core.client import RegistryClient
client = RegistryClient(sys.argv[1])
with client.session():
    client.create_registered_model("m")
    folder = Path(sys.argv[1])
    print(json.dumps({p.name: p.stat().st_mode & 0o777 for p in folder.iterdir() if p.is_file()}))
"""


def test_registry_files_are_created_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    made = subprocess.run(
        [sys.executable, "-c", CREATE_WITH_OPEN_UMASK, str(registry)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    modes = json.loads(made.stdout)
    names = ("registry.duckdb", "registry.duckdb.wal", "registry.duckdb.lock")
    assert set(names) | {"registry.duckdb.waiters"} == set(modes)
    assert {name: oct(mode) for name, mode in modes.items()} == dict.fromkeys(modes, "0o600")
    assert not [path for path in registry.iterdir() if path.name.startswith(".")]
