"""`registry ui`, run as a user runs it: a local registry's UI on loopback, without sign-in, that
leaves the file free for Dagster and the CLI between requests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry_core.client import RegistryClient
from tests.server_harness import running_server
from tests.ui.conftest import csrf_of
from tests.ui.seed import CHURN, Seeded

EXECUTABLE = shutil.which("registry", path=str(Path(sys.executable).parent))


@pytest.fixture
def local_ui(seeded: Seeded, tmp_path: Path) -> Iterator[str]:
    """`registry ui --port 0` on the seeded registry; yields the URL it prints."""
    assert EXECUTABLE is not None
    env = {
        **os.environ,
        "MODEL_REGISTRY_ACTOR": "local-dana",
        "DAGSTER_UI_URL": "http://127.0.0.1:3000",
        "PYTHONUNBUFFERED": "1",
    }
    command = [EXECUTABLE, "--registry-uri", str(seeded.path), "ui", "--port", "0"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert " at http://127.0.0.1:" in line, process.stderr.read() if process.stderr else ""
        yield line.split(" at ", 1)[1].split()[0].rstrip("/")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_the_local_ui_needs_no_sign_in_and_records_the_local_user(
    local_ui: str, seeded: Seeded
) -> None:
    with httpx.Client(base_url=local_ui) as browser:
        page = browser.get(f"/models/{CHURN}/versions/3")
        assert page.status_code == 200
        assert "local-dana · local, every role" in page.text
        assert 'href="http://127.0.0.1:3000/runs/' in page.text
        refused = browser.post(f"/models/{CHURN}/versions/3/stage", data={"stage": "None"})
        assert refused.status_code == 403
        done = browser.post(
            f"/models/{CHURN}/versions/3/stage",
            data={"stage": "None", "reason": "rework", "csrf_token": csrf_of(page.text)},
        )
        assert done.status_code == 303
        # Between requests the file is free: an embedded client opens it while the UI runs.
        client = RegistryClient(seeded.path)
        last = client.get_model_version_history(CHURN, 3)[-1]
        client.set_model_version_tag(CHURN, 3, "reviewed", "yes")
        client.close()
        assert (last.actor, last.to_stage, last.reason) == ("local-dana", "None", "rework")
        assert "reviewed" in browser.get(f"/models/{CHURN}/versions/3").text


def test_the_local_ui_refuses_other_addresses_and_servers(seeded: Seeded, tmp_path: Path) -> None:
    assert EXECUTABLE is not None
    base = [EXECUTABLE, "--registry-uri", str(seeded.path), "ui"]
    exposed = subprocess.run(
        [*base, "--host", "0.0.0.0"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert exposed.returncode == 1
    assert exposed.stderr.startswith("INVALID_PARAMETER_VALUE: ")
    assert "loopback" in exposed.stderr
    with running_server(seeded.path, auth=True) as url:
        held = subprocess.run(base, capture_output=True, text=True, cwd=tmp_path, timeout=60)
        remote = subprocess.run(
            [EXECUTABLE, "--registry-uri", url, "ui"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    assert held.returncode == 1 and f"open {url}/" in held.stderr
    assert remote.returncode == 1 and "its UI is served at" in remote.stderr
