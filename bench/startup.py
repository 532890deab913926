"""Start-up times, side by side with MLflow in one sitting: each command runs as a fresh process,
round robin with its MLflow counterpart so a change in the machine's load hits both, and the
median of N runs (after one untimed run that warms the file cache) is reported with the median
CPU time of the process (user + system, less sensitive to a loaded machine than wall time).
Bytecode is cached for the children even where PYTHONDONTWRITEBYTECODE is set (see
`child_environment`), so no side pays for compiling its sources on every start.

    .venv/bin/python bench/startup.py               # 10 runs of each command
    .venv/bin/python bench/startup.py --runs 3 --out bench/results/startup.json

Both registries hold the same small registry: 10 models with 2 versions each, from one run. MLflow
uses one SQLite file as its tracking and registry store, created (and migrated) before timing.
MLflow has no CLI command that lists registered models, so `registry models list` is compared with
MLflow's one-liner to the same answer; `registry --help` is compared with `mlflow --help`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MODELS = 10
VERSIONS_PER_MODEL = 2
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}


@dataclass(frozen=True)
class Case:
    """One start-up: our command, its target, and what it is compared with."""

    label: str
    ours: list[str]
    target_s: float | None
    other_label: str
    other: list[str] | None


@dataclass(frozen=True)
class Timing:
    """Median wall and CPU seconds of a command's timed runs."""

    wall_s: float
    cpu_s: float


def executable(name: str) -> str:
    """An executable installed beside this interpreter (as `make install` puts them)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed beside {sys.executable}")
    return found


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def populate(folder: Path) -> tuple[Path, str]:
    """The same small registry in both: ours in `folder/registry`, MLflow's in a SQLite file."""
    os.environ.update(QUIET)
    from mlflow import MlflowClient

    from registry_core.client import RegistryClient

    ours = folder / "registry"
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = RegistryClient(ours)
    run = client.create_run("startup")
    client.log_model_artifact(run.run_id, {"weights": [0.5, 2.0]}, "model", format="pickle")
    theirs = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = theirs.create_experiment("startup", artifact_location=str(folder / "mlruns"))
    their_run = theirs.create_run(experiment).info.run_id
    for index in range(MODELS):
        name = f"model-{index:02d}"
        client.create_registered_model(name)
        theirs.create_registered_model(name)
        for _ in range(VERSIONS_PER_MODEL):
            client.create_model_version(name, f"runs:/{run.run_id}/model", run_id=run.run_id)
            theirs.create_model_version(name, f"runs:/{their_run}/model", run_id=their_run)
    client.close()
    return ours, uri


def cases(ours: Path, uri: str) -> list[Case]:
    """The start-ups compared, each with the target of issue 10 where it sets one."""
    registry = executable("registry")
    our_answer = (
        "import registry_core as rc; "
        f"print(len(rc.RegistryClient({str(ours)!r}).search_registered_models()))"
    )
    their_answer = (
        "from mlflow import MlflowClient; "
        f"print(len(MlflowClient(tracking_uri={uri!r}, registry_uri={uri!r})"
        ".search_registered_models()))"
    )
    return [
        Case(
            "import", python("import registry_core"), 0.3, "import mlflow", python("import mlflow")
        ),
        Case(
            "fresh process to its first answer (list models)",
            python(our_answer),
            None,
            "MlflowClient(sqlite).search_registered_models()",
            python(their_answer),
        ),
        Case(
            "`registry models list` (CLI, table)",
            [registry, "--registry-uri", str(ours), "models", "list"],
            0.6,
            "MlflowClient(sqlite).search_registered_models()",
            python(their_answer),
        ),
        Case(
            "`registry --help`",
            [registry, "--help"],
            None,
            "mlflow --help",
            [executable("mlflow"), "--help"],
        ),
        Case(
            "code location (`import registry_pipelines.definitions`)",
            python("import registry_pipelines.definitions"),
            2.0,
            "import dagster (the floor)",
            python("import dagster"),
        ),
    ]


def child_environment(cwd: Path) -> dict[str, str]:
    """This environment with bytecode caching on, in a cache of its own under `cwd`: the untimed
    run compiles every module once (ours and MLflow's alike), as an installed package has it."""
    env = {**os.environ, **QUIET, "PYTHONPYCACHEPREFIX": str(cwd / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process running `command` to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=child_environment(cwd), timeout=300
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(commands: list[list[str]], runs: int, cwd: Path) -> list[Timing]:
    """Each command once untimed, then `runs` rounds of every command in turn."""
    for command in commands:
        run_once(command, cwd)
    samples: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(runs):
        for index, command in enumerate(commands):
            samples[index].append(run_once(command, cwd))
    return [
        Timing(
            statistics.median(wall for wall, _ in taken),
            statistics.median(cpu for _, cpu in taken),
        )
        for taken in samples
    ]


def table(rows: list[tuple[Case, Timing, Timing | None]]) -> str:
    """The Markdown table: ours, the target, the other side, and other/ours (above 1: faster)."""
    lines = [
        "| start-up | ours wall (CPU) | target | compared with | its wall (CPU) | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for case, mine, other in rows:
        target = f"≤ {case.target_s:.1f} s" if case.target_s is not None else ""
        if case.target_s is not None:
            target += " PASS" if mine.wall_s <= case.target_s else " MISS"
        theirs = f"{other.wall_s:.2f} s ({other.cpu_s:.2f})" if other else "-"
        ratio = f"{other.wall_s / mine.wall_s:.1f}x" if other else "-"
        lines.append(
            f"| {case.label} | {mine.wall_s:.2f} s ({mine.cpu_s:.2f}) | {target} "
            f"| {case.other_label} | {theirs} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each command")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="startup-") as scratch:
        folder = Path(scratch)
        ours, uri = populate(folder)
        compared = cases(ours, uri)
        commands = [case.ours for case in compared]
        others = [case.other for case in compared if case.other is not None]
        unique = list({" ".join(command): command for command in [*commands, *others]}.values())
        timings = dict(
            zip(
                (" ".join(command) for command in unique),
                measure(unique, args.runs, folder),
                strict=True,
            )
        )
    rows = [
        (
            case,
            timings[" ".join(case.ours)],
            timings[" ".join(case.other)] if case.other else None,
        )
        for case in compared
    ]
    load_after = os.getloadavg()
    print(table(rows))
    print(
        f"\nmedian of {args.runs} fresh processes each; {os.cpu_count()} CPUs; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; "
        f"Python {platform.python_version()}"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "runs": args.runs,
            "load_average": {"before": list(load_before), "after": list(load_after)},
            "cpu_count": os.cpu_count(),
            "rows": [
                {
                    "startup": case.label,
                    "ours": {"wall_s": mine.wall_s, "cpu_s": mine.cpu_s},
                    "target_s": case.target_s,
                    "compared_with": case.other_label,
                    "other": {"wall_s": other.wall_s, "cpu_s": other.cpu_s} if other else None,
                }
                for case, mine, other in rows
            ],
        }
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
