"""The installed `registry` executable, run as a user (or a CI/CD job) would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from subprocess import PIPE

from registry_core.client import RegistryClient
from tests.cli.conftest import MODEL

EXECUTABLE = shutil.which("registry", path=str(Path(sys.executable).parent))


def test_installed_executable_gates_a_deployment(registry: Path, tmp_path: Path) -> None:
    assert EXECUTABLE is not None, "`make install` puts `registry` beside the interpreter"
    RegistryClient(registry).close()
    env = {**os.environ, "MODEL_REGISTRY_URI": str(registry)}
    commands = (
        [EXECUTABLE, "--json", "load-check", f"models:/{MODEL}/Production"],
        [EXECUTABLE, "--registry-uri", str(registry), "which", MODEL, "@nobody"],
    )
    # Both start at once: most of each run is importing scikit-learn.
    running = [
        subprocess.Popen(command, stdout=PIPE, stderr=PIPE, text=True, env=env, cwd=tmp_path)
        for command in commands
    ]
    (gate_out, gate_err), (miss_out, miss_err) = (job.communicate(timeout=120) for job in running)
    gate, missing = running

    assert gate.returncode == 0, gate_err
    loaded = json.loads(gate_out)
    assert (loaded["name"], loaded["version"], loaded["format"]) == (MODEL, "2", "skops")
    assert missing.returncode == 1
    assert miss_err.startswith("RESOURCE_DOES_NOT_EXIST: ")
    assert miss_out == ""
