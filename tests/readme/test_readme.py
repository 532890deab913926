"""The README, run as written: every ```python and ```bash block, in order, in a fresh folder laid
out like a clone (the tracked files, with `.venv` pointing at the venv running this test), so the
README and the program cannot drift apart unnoticed. The venv is not put on PATH: a README that
calls `registry` before it says to activate `.venv` fails here as it would for a newcomer.

A ```python block runs as a script of its own; a ```bash block runs under `set -euo pipefail`,
and what it exports carries over to the blocks after it, as in one terminal session. Fences of
any other language (```text, ```yaml, ...) are not run. Model the tour on a fresh clone where
`make demo` ran once; the registry is `./.registry`, the Dagster instance `./.dagster_home`.

A block that must not run as it stands gets one annotation, an HTML comment (invisible on
GitHub) on the line right before its fence; give the reason in `reason=` and keep these rare:

    <!-- readme-test: skip reason="..." -->
        not run at all.
    <!-- readme-test: instead cmd="..." reason="..." -->
        runs the bash command `cmd` in place of the block.
    <!-- readme-test: write path=FILE -->
        saves the block to FILE in the folder instead of running it (a module a later block
        imports or serves).
    <!-- readme-test: background port=N ready=/PATH [timeout=SECONDS] -->
        starts the bash block in the background, in its own process group, and waits (up to
        `timeout`, default 120 s) until http://127.0.0.1:N/PATH answers; N is replaced by a free
        port, as a whole number, in this block and every later one. The process group is
        stopped (SIGTERM, then SIGKILL) once the README has run.

The whole README also must not print the Dagster banners that `make demo` used to show.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
VENV = Path(sys.executable).parent.parent
RUN_LANGUAGES = {"python", "bash"}
ACTIONS = {"skip", "instead", "write", "background"}
BLOCK_TIMEOUT_SECONDS = 300
STOP_GRACE_SECONDS = 10
BANNERS = ("No dagster instance configuration file", "Telemetry:", "SupersessionWarning")
_FENCE = re.compile(r"^```([\w+-]*)\s*$")
_ANNOTATION = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """A fenced code block of the README, with its annotation if it has one."""

    language: str
    code: str
    line: int
    action: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"README.md line {self.line}"


def parse_annotation(text: str, line: int) -> tuple[str, dict[str, str]]:
    """`ACTION key=value ...` from a `<!-- readme-test: ... -->` comment."""
    words = shlex.split(text)
    if not words or words[0] not in ACTIONS:
        raise AssertionError(f"README.md line {line}: unknown readme-test annotation {text!r}")
    options = dict(word.split("=", 1) for word in words[1:] if "=" in word)
    if len(options) != len(words) - 1:
        raise AssertionError(f"README.md line {line}: write options as key=value: {text!r}")
    required = {"skip": {"reason"}, "instead": {"cmd", "reason"}, "write": {"path"}}
    required["background"] = {"port", "ready"}
    missing = required[words[0]] - set(options)
    if missing:
        raise AssertionError(f"README.md line {line}: {words[0]} needs {', '.join(missing)}")
    return words[0], options


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block in document order, each with the annotation right above it."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index])
            index += 1
        index += 1
        action, options = None, {}
        previous = lines[start - 1] if start > 0 else ""
        annotation = _ANNOTATION.match(previous)
        if annotation:
            action, options = parse_annotation(annotation.group(1), start)
        blocks.append(Block(match.group(1), "\n".join(body) + "\n", start + 1, action, options))
    return blocks


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clone_like(target: Path) -> None:
    """The tracked files of the checkout (as they are now) and `.venv` pointing at this venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(VENV, target_is_directory=True)


def base_environment(home: Path) -> dict[str, str]:
    """This process's environment without registry, Dagster or virtualenv settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MODEL_REGISTRY_", "DAGSTER_", "MODEL_SPECS_", "PYTEST_"))
        and key != "VIRTUAL_ENV"
    }
    venv_bin = str(VENV / "bin")
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if part != venv_bin
    )
    env["HOME"] = str(home)
    env["COLUMNS"] = "120"
    return env


class Session:
    """The folder, the environment the bash blocks build up, and the background processes."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.state = folder.parent / "exported.sh"
        self.state.write_text("")
        self.ports: dict[str, str] = {}
        self.background: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.output: list[str] = []

    def substitute(self, code: str) -> str:
        for old, new in self.ports.items():
            code = re.sub(rf"\b{old}\b", new, code)
        return code

    def _check(self, block: Block, done: subprocess.CompletedProcess[str]) -> None:
        self.output.append(done.stdout + done.stderr)
        if done.returncode != 0:
            raise AssertionError(
                f"{block.where} ({block.language}) exited {done.returncode}\n"
                f"---- code ----\n{block.code}---- stdout ----\n{done.stdout[-8000:]}\n"
                f"---- stderr ----\n{done.stderr[-8000:]}"
            )

    def bash(self, block: Block, code: str) -> None:
        script = (
            f"set -euo pipefail\nsource {shlex.quote(str(self.state))}\n{code}\n"
            f"export -p > {shlex.quote(str(self.state))}\n"
        )
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_SECONDS,
        )
        self._check(block, done)

    def exported_env(self) -> dict[str, str]:
        """The environment with what the bash blocks exported so far."""
        done = subprocess.run(
            ["bash", "-c", f"source {shlex.quote(str(self.state))}; env -0"],
            env=self.env,
            capture_output=True,
            check=True,
        )
        pairs = (item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)
        return dict(pairs)

    def python(self, block: Block, code: str) -> None:
        done = subprocess.run(
            [str(VENV / "bin" / "python"), "-"],
            input=code,
            cwd=self.folder,
            env=self.exported_env(),
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_SECONDS,
        )
        self._check(block, done)

    def start(self, block: Block) -> None:
        port = str(free_port())
        self.ports[block.options["port"]] = port
        log = self.folder.parent / f"background-{block.line}.log"
        script = f"source {shlex.quote(str(self.state))}\n{self.substitute(block.code)}"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", script],
                cwd=self.folder,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append((process, log))
        url = f"http://127.0.0.1:{port}{block.options['ready']}"
        deadline = time.monotonic() + float(block.options.get("timeout", 120))
        while not self._answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{block.where}: {url} never answered\n{log.read_text(errors='replace')}"
                )
            time.sleep(0.1)

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            return httpx.get(url, timeout=2).status_code < 500
        except httpx.TransportError:
            return False

    def stop_all(self) -> None:
        for process, log in self.background:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_GRACE_SECONDS)
            self.output.append(log.read_text(errors="replace"))

    def run(self, block: Block) -> None:
        if block.action == "skip" or block.language not in RUN_LANGUAGES:
            return
        if block.action == "write":
            path = self.folder / block.options["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.substitute(block.code))
        elif block.action == "instead":
            self.bash(block, block.options["cmd"])
        elif block.action == "background":
            self.start(block)
        elif block.language == "bash":
            self.bash(block, self.substitute(block.code))
        else:
            self.python(block, self.substitute(block.code))


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    folder = tmp_path / "dagster-model-registry"
    folder.mkdir()
    clone_like(folder)
    (tmp_path / "home").mkdir()
    running = Session(folder, base_environment(tmp_path / "home"))
    try:
        yield running
    finally:
        running.stop_all()


def test_annotations_parse_and_every_skip_says_why() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    run = [block for block in blocks if block.language in RUN_LANGUAGES]
    assert len(run) >= 8
    skipped = [block for block in run if block.action == "skip"]
    assert len(skipped) <= 2, [block.where for block in skipped]
    with pytest.raises(AssertionError, match="unknown readme-test annotation"):
        readme_blocks("<!-- readme-test: sometimes -->\n```bash\ntrue\n```\n")
    with pytest.raises(AssertionError, match="skip needs reason"):
        readme_blocks("<!-- readme-test: skip -->\n```bash\ntrue\n```\n")


def test_a_failing_block_fails_and_exports_carry_over(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    session = Session(folder, base_environment(tmp_path))
    text = (
        "```bash\nexport GREETING=hello\n```\n\n```python\nimport os\n"
        "assert os.environ['GREETING'] == 'hello'\n```\n\n```bash\n"
        'test "$GREETING" = hello\nfalse\necho never\n```\n'
    )
    first, second, third = readme_blocks(text)
    session.run(first)
    session.run(second)
    with pytest.raises(AssertionError, match=r"README.md line 10 \(bash\) exited 1"):
        session.run(third)
    assert "never" not in "".join(session.output)


@pytest.mark.timeout(1500)  # the whole tour, make demo included: about 5 minutes on 2 cores
def test_the_readme_runs_as_written(session: Session) -> None:
    started = time.monotonic()
    for block in readme_blocks(README.read_text(encoding="utf-8")):
        began = time.monotonic()
        session.run(block)
        print(f"{block.where} ({block.language}, {block.action}): {time.monotonic() - began:.1f} s")
    printed = "\n".join(session.output)
    for banner in BANNERS:
        assert banner not in printed, banner
    print(f"README ran in {time.monotonic() - started:.1f} s")
