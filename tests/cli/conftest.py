"""A real registry for the CLI tests: built once through the public client (runs, scikit-learn
models, stages, aliases, a rename and a deleted model), then copied for each test."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import registry_core as rc
from registry_core.cli import app
from registry_core.client import RegistryClient
from registry_core.entities import Metric
from registry_core.loading import clear_cache
from tests.server_harness import running_server

MODEL = "churn"


@dataclass(frozen=True)
class Outcome:
    """What one CLI invocation printed and returned."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({"age": rng.normal(40, 10, 120), "spend": rng.uniform(0, 100, 120)})


def _train(frame: pd.DataFrame, c: float) -> LogisticRegression:
    return LogisticRegression(C=c).fit(frame, (frame.spend > 50).astype(int))


def build_registry(path: Path) -> None:
    """Three runs of `churn` (one in Production, one @champion, one in Staging), a pickled
    `legacy` model that was renamed, a model without versions, and a deleted model."""
    frame = _frame()
    rc.set_registry_uri(path)
    try:
        for index, c in enumerate((0.1, 1.0, 10.0), start=1):
            with rc.start_run(f"train-{index}", source_info={"dagster_run_id": f"dagster-{index}"}):
                rc.log_params({"C": c, "solver": "lbfgs"})
                rc.log_metrics({"accuracy": 0.80 + index * 0.05, "log_loss": 0.6 - index * 0.1})
                rc.log_metric("custom_score", float(index), step=2)
                rc.log_input(frame)
                rc.log_model(
                    _train(frame, c), "model", registered_model_name=MODEL, input_example=frame[:3]
                )
    finally:
        rc.set_registry_uri(None)
    client = RegistryClient(path)
    client.set_registered_model_tag(MODEL, "team", "growth")
    client.update_registered_model(MODEL, "Predicts churn.")
    client.set_model_version_tag(MODEL, 2, "validated", "true")
    client.transition_model_version_stage(MODEL, 1, "Production", reason="first release")
    client.transition_model_version_stage(
        MODEL, 2, "Production", archive_existing_versions=True, reason="better", actor="alice"
    )
    client.set_registered_model_alias(MODEL, "champion", 2, actor="alice")
    client.transition_model_version_stage(MODEL, 3, "Staging")

    run = client.create_run("legacy", source_info={"asset_key": "legacy/model"})
    client.log_batch(run.run_id, [Metric("accuracy", 0.7, 0, 1_700_000_000_000)], {"C": "2"})
    client.log_model_artifact(run.run_id, _train(frame, 2.0), "model", format="pickle")
    client.set_terminated(run.run_id)
    client.create_registered_model("legacy-old")
    client.create_model_version("legacy-old", f"runs:/{run.run_id}/model", run_id=run.run_id)
    client.transition_model_version_stage("legacy-old", 1, "Staging")
    client.rename_registered_model("legacy-old", "legacy")

    client.create_registered_model("gone")
    client.create_model_version("gone", f"runs:/{run.run_id}/model")
    client.transition_model_version_stage("gone", 1, "Production")
    client.delete_registered_model("gone")

    client.create_registered_model("empty", tags={"owner": "ml"}, description="No versions yet.")
    client.close()


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "registry"
    build_registry(path)
    return path


@pytest.fixture
def registry(template: Path, tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the built registry for one test."""
    path = tmp_path / "registry"
    shutil.copytree(template, path)
    clear_cache()
    yield path
    RegistryClient(path).close()


@pytest.fixture
def client(registry: Path) -> RegistryClient:
    return RegistryClient(registry)


def invoke_cli(
    registry: Path | str,
    *args: str,
    json_output: bool = False,
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Run `registry --registry-uri REGISTRY [--json] ARGS...` in this process."""
    options = ["--registry-uri", str(registry), *(["--json"] if json_output else [])]
    result = CliRunner().invoke(app, [*options, *args], input=input, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def target(registry: Path, backend: str) -> Iterator[str]:
    """What the CLI is pointed at: the registry's folder, or a server over it."""
    if backend == "embedded":
        yield str(registry)
        return
    with running_server(registry) as url:
        yield url


@pytest.fixture
def cli(target: str) -> Callable[..., Outcome]:
    """`invoke_cli` bound to this test's registry (embedded, or through a server)."""
    return partial(invoke_cli, target)
