"""Moving in from a real MLflow: its tracking server on SQLite, the seed workflows run with
MLflow itself, then imported here and compared field by field."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import registry_core as rc
from registry_core.client import RegistryClient
from registry_core.errors import ResourceAlreadyExists, UntrustedModelError
from registry_core.mlflow_import.bundle import (
    IMPORT_ARTIFACT_TAG,
    IMPORT_CONVERTED_TAG,
    IMPORT_NAME_TAG,
    IMPORT_SOURCE_TAG,
)
from registry_core.mlflow_import.importer import KILL_AFTER_ENV
from tests.mlflow_import.mlflow_harness import QUIET_MLFLOW, mlflow_server, seed
from tests.server_harness import running_server

pytest.importorskip("mlflow")
from mlflow import MlflowClient

MODELS = ["HousePricePredictor", "churn-predictor", "wine-quality-classifier"]
REGISTRY_CLI = str(Path(sys.executable).with_name("registry"))


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server, seeded with the seed documents' workflows."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in QUIET_MLFLOW.items():
            patch.setenv(key, value)
        with mlflow_server(tmp_path_factory.mktemp("mlflow")) as url:
            seed(url)
            yield url


@pytest.fixture(scope="module")
def imported(mlflow_uri: str, tmp_path_factory: pytest.TempPathFactory) -> RegistryClient:
    """A registry that imported the seeded MLflow once, without converting."""
    client = RegistryClient(tmp_path_factory.mktemp("imported") / "registry")
    client.import_mlflow(mlflow_uri)
    return client


def versions_of(client: Any, name: str) -> dict[str, Any]:
    return {mv.version: mv for mv in client.search_model_versions(f"name='{name}'")}


def without_import_tags(tags: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in tags.items() if not key.startswith("mlflow.import.")}


def snapshot(client: RegistryClient) -> dict[str, Any]:
    """Everything an import writes, minus the times of the import's own alias entries."""
    state: dict[str, Any] = {}
    for model in client.search_registered_models():
        versions = sorted(versions_of(client, model.name).values(), key=lambda mv: int(mv.version))
        runs = {mv.run_id: client.get_run(mv.run_id) for mv in versions if mv.run_id}
        state[model.name] = {
            "model": (model.description, model.tags, model.aliases, model.creation_timestamp),
            "versions": versions,
            "runs": runs,
            "history": [
                (entry.version, entry.event, entry.to_stage, entry.alias, entry.actor)
                for entry in client.get_model_version_history(model.name)
            ],
        }
    return state


def test_every_model_version_and_run_field_matches_mlflow(
    mlflow_uri: str, imported: RegistryClient
) -> None:
    mlflow = MlflowClient(mlflow_uri)
    assert sorted(m.name for m in imported.search_registered_models()) == MODELS
    for name in MODELS:
        theirs, ours = mlflow.get_registered_model(name), imported.get_registered_model(name)
        assert ours.description == (theirs.description or None)
        assert without_import_tags(ours.tags) == theirs.tags
        assert ours.tags[IMPORT_NAME_TAG] == name
        assert ours.tags[IMPORT_SOURCE_TAG] == mlflow_uri
        assert ours.aliases == theirs.aliases
        assert ours.creation_timestamp == theirs.creation_timestamp
        here = versions_of(imported, name)
        there = mlflow.search_model_versions(f"name='{name}'")
        assert sorted(here) == sorted(mv.version for mv in there)
        for mv in there:
            got = here[mv.version]
            assert got.current_stage == mv.current_stage
            assert got.status == mv.status
            assert got.description == (mv.description or None)
            assert without_import_tags(got.tags) == mv.tags
            assert got.tags[IMPORT_SOURCE_TAG] == mv.source
            assert got.run_id == mv.run_id
            assert got.creation_timestamp == mv.creation_timestamp
            assert got.last_updated_timestamp == mv.last_updated_timestamp
            assert got.source == f"artifacts:/{got.artifact_sha256}"
            assert imported.artifacts.verify(got.artifact_sha256) is None
            assert got.tags[IMPORT_ARTIFACT_TAG] == got.artifact_sha256
            run, theirs_run = imported.get_run(mv.run_id), mlflow.get_run(mv.run_id)
            assert run.run_name == theirs_run.info.run_name
            assert run.status == theirs_run.info.status
            assert run.start_time == theirs_run.info.start_time
            assert run.end_time == theirs_run.info.end_time
            assert run.user_id == theirs_run.info.user_id
            assert run.params == theirs_run.data.params
            assert without_import_tags(run.tags) == theirs_run.data.tags
            assert run.metrics == theirs_run.data.metrics
            assert imported.get_experiment(run.experiment_id).name == (
                mlflow.get_experiment(theirs_run.info.experiment_id).name
            )
            for key in theirs_run.data.metrics:
                expected = sorted(
                    (m.key, m.value, m.step, m.timestamp)
                    for m in mlflow.get_metric_history(mv.run_id, key)
                )
                history = imported.get_metric_history(mv.run_id, key)
                assert sorted((m.key, m.value, m.step, m.timestamp) for m in history) == expected
    house_run = versions_of(imported, "HousePricePredictor")["1"].run_id
    assert [m.step for m in imported.get_metric_history(house_run, "rmse")] == [0, 1, 2]
    assert imported.get_model_version_by_alias("wine-quality-classifier", "champion").version == "1"
    assert imported.check_consistency() == []


def test_each_version_starts_with_one_imported_event(
    mlflow_uri: str, imported: RegistryClient
) -> None:
    mlflow = MlflowClient(mlflow_uri)
    for name in MODELS:
        events = [e for e in imported.get_model_version_history(name) if e.event == "imported"]
        there = {mv.version: mv for mv in mlflow.search_model_versions(f"name='{name}'")}
        assert sorted(e.version for e in events) == sorted(there)
        for event in events:
            mv = there[event.version]
            assert event.to_stage == mv.current_stage
            assert event.actor == (mv.user_id or "mlflow")
            assert event.timestamp == mv.last_updated_timestamp
    assert imported.get_version_at("HousePricePredictor", "Production", rc_now()).version == "2"
    assert imported.get_latest_versions("churn-predictor", ["Archived"])[0].version == "1"


def rc_now() -> int:
    from registry_core.entities import now_ms

    return now_ms()


def test_pickles_stay_opaque_and_skops_loads_safely(imported: RegistryClient) -> None:
    house = imported.get_model_version("HousePricePredictor", 2)
    assert house.artifact_format == "pickle"
    with pytest.raises(UntrustedModelError):
        rc.load_model("models:/HousePricePredictor/Production", client=imported)
    model = rc.load_model("models:/HousePricePredictor/2", client=imported, allow_pickle=True)
    assert model.predict(np.ones((1, 3))).shape == (1,)
    churn = imported.get_model_version("churn-predictor", 3)
    assert churn.artifact_format == "skops"
    assert rc.load_model("models:/churn-predictor/Production", client=imported, raw=True)


def test_a_second_import_changes_nothing(mlflow_uri: str, imported: RegistryClient) -> None:
    before = snapshot(imported)
    summary = imported.import_mlflow(mlflow_uri)
    assert (summary.models, summary.versions, summary.runs, summary.artifacts) == (0, 0, 0, 0)
    assert {plan.action for plan in summary.plans} == {"up to date"}
    assert snapshot(imported) == before


def test_dry_run_says_what_would_come_and_writes_nothing(mlflow_uri: str, tmp_path: Path) -> None:
    client = RegistryClient(tmp_path / "registry")
    summary = client.import_mlflow(mlflow_uri, dry_run=True)
    assert (summary.dry_run, summary.models, summary.versions, summary.runs) == (True, 3, 7, 7)
    assert [plan.action for plan in summary.plans] == ["import"] * 3
    assert client.search_registered_models() == []


def test_a_taken_name_is_refused_skipped_or_renamed(mlflow_uri: str, tmp_path: Path) -> None:
    client = RegistryClient(tmp_path / "registry")
    client.create_registered_model("churn-predictor", description="ours")
    with pytest.raises(ResourceAlreadyExists, match="churn-predictor"):
        client.import_mlflow(mlflow_uri)
    assert [m.name for m in client.search_registered_models()] == ["churn-predictor"]
    skipped = client.import_mlflow(mlflow_uri, on_conflict="skip")
    assert (skipped.models, skipped.skipped) == (2, 1)
    assert client.get_registered_model("churn-predictor").description == "ours"
    renamed = client.import_mlflow(mlflow_uri, on_conflict="rename")
    assert (renamed.models, renamed.versions) == (1, 3)
    assert client.get_registered_model("churn-predictor-mlflow").tags[IMPORT_NAME_TAG] == (
        "churn-predictor"
    )
    assert sorted(versions_of(client, "churn-predictor-mlflow")) == ["1", "2", "3"]
    again = client.import_mlflow(mlflow_uri)
    assert again.versions == 0
    assert {p.mlflow_name: p.name for p in again.plans}["churn-predictor"] == (
        "churn-predictor-mlflow"
    )


def test_convert_saves_safely_and_predicts_as_mlflow(mlflow_uri: str, tmp_path: Path) -> None:
    import mlflow

    client = RegistryClient(tmp_path / "registry")
    summary = client.import_mlflow(mlflow_uri, convert=True)
    assert (summary.converted, summary.opaque) == (4, 0)
    mv = client.get_model_version("HousePricePredictor", 2)
    assert mv.artifact_format == "skops"
    assert mv.tags[IMPORT_CONVERTED_TAG] == "pickle -> skops (predictions checked)"
    assert mv.tags[IMPORT_ARTIFACT_TAG] != mv.artifact_sha256
    ours = rc.load_model("models:/HousePricePredictor/Production", client=client)
    mlflow.set_tracking_uri(mlflow_uri)
    theirs = mlflow.sklearn.load_model("models:/HousePricePredictor/Production")
    frame = mlflow.pyfunc.load_model("models:/HousePricePredictor/Production")
    example = frame.input_example
    np.testing.assert_allclose(ours.predict(example), theirs.predict(example))
    np.testing.assert_allclose(ours.predict(example), frame.predict(example))


def run_cli(registry: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [REGISTRY_CLI, "--registry-uri", str(registry), "--json", "import-mlflow", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_an_import_killed_half_way_resumes_to_the_same_registry(
    mlflow_uri: str, imported: RegistryClient, tmp_path: Path
) -> None:
    registry = tmp_path / "registry"
    killed = run_cli(registry, "--tracking-uri", mlflow_uri, env={KILL_AFTER_ENV: "1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    half = RegistryClient(registry)
    assert [m.name for m in half.search_registered_models()] == ["HousePricePredictor"]
    assert half.check_consistency() == []
    half.close()
    resumed = run_cli(registry, "--tracking-uri", mlflow_uri)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["models"], summary["versions"]) == (2, 5)
    assert [p["action"] for p in summary["plans"]] == ["up to date", "import", "import"]
    whole = RegistryClient(registry)
    assert snapshot(whole) == snapshot(imported)
    assert whole.check_consistency() == []


def test_import_through_a_registry_server(mlflow_uri: str, tmp_path: Path) -> None:
    with running_server(tmp_path / "registry") as url:
        client = RegistryClient(url)
        summary = client.import_mlflow(mlflow_uri)
        assert (summary.models, summary.versions, summary.runs) == (3, 7, 7)
        assert client.get_model_version("churn-predictor", 2).tags["validation"] == "failed"
        assert client.get_model_version_by_alias("wine-quality-classifier", "champion").version
        assert client.import_mlflow(mlflow_uri).versions == 0
        client.transition_model_version_stage("wine-quality-classifier", 2, "Staging")
        history = client.get_model_version_history("wine-quality-classifier", 2)
        assert [e.change for e in history] == ["imported from MLflow in None", "None -> Staging"]
        model = rc.load_model("models:/churn-predictor/Production", client=client, raw=True)
        assert model.predict(np.ones((1, 3))).shape == (1,)


def test_the_cli_prints_each_model_and_the_totals(mlflow_uri: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from registry_core.cli import app

    registry = str(tmp_path / "registry")
    args = ["--registry-uri", registry, "import-mlflow", "--tracking-uri", mlflow_uri]
    dry = CliRunner().invoke(app, [*args, "--dry-run"], env={"COLUMNS": "200"})
    assert dry.exit_code == 0, dry.output
    assert "Would import from " + mlflow_uri in dry.stdout
    assert "churn-predictor" in dry.stdout
    assert RegistryClient(registry).search_registered_models() == []
    done = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    header = ["Models", "Versions", "Runs", "Artifacts", "Bytes", "Converted", "Opaque", "Skipped"]
    assert all(word in done.stdout for word in header)
    assert "4 version(s) hold pickled models, loadable only with allow_pickle=True" in done.stdout
    refused = CliRunner().invoke(
        app, ["--registry-uri", str(tmp_path / "other"), "models", "create", "churn-predictor"]
    )
    assert refused.exit_code == 0, refused.output
    conflict = CliRunner().invoke(
        app,
        ["--registry-uri", str(tmp_path / "other"), "import-mlflow", "--tracking-uri", mlflow_uri],
    )
    assert conflict.exit_code == 1
    assert "RESOURCE_ALREADY_EXISTS" in conflict.stderr
