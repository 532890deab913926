"""The other MLflow sources: a SQLite database and a local `mlruns` folder, read as MLflow
reads them (artifacts in local folders), and the server's own database file read directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import registry_core as rc
from registry_core.client import RegistryClient
from tests.mlflow_import.mlflow_harness import QUIET_MLFLOW, seed_small

pytest.importorskip("mlflow")
from mlflow import MlflowClient


@pytest.fixture(autouse=True)
def quiet_mlflow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key, value in QUIET_MLFLOW.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)


def check_small(client: RegistryClient, tracking_uri: str) -> None:
    """The small registry arrived whole: versions, stage, alias, runs and metric histories."""
    mlflow = MlflowClient(tracking_uri)
    versions = {mv.version: mv for mv in client.search_model_versions("name='small'")}
    assert sorted(versions) == ["1", "2"]
    assert versions["1"].current_stage == "Production"
    assert client.get_model_version_by_alias("small", "champion").version == "2"
    for mv in mlflow.search_model_versions("name='small'"):
        ours = versions[str(mv.version)]
        assert ours.creation_timestamp == mv.creation_timestamp
        run = client.get_run(mv.run_id)
        assert run.params == mlflow.get_run(mv.run_id).data.params
        expected = sorted((m.step, m.value) for m in mlflow.get_metric_history(mv.run_id, "loss"))
        got = sorted((m.step, m.value) for m in client.get_metric_history(mv.run_id, "loss"))
        assert got == expected
    model = rc.load_model("models:/small/Production", client=client, raw=True)
    assert model.predict(np.ones((1, 3))).shape == (1,)
    assert client.import_mlflow(tracking_uri).versions == 0
    assert client.check_consistency() == []


def test_import_from_a_sqlite_database(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seed_small(uri)
    client = RegistryClient(tmp_path / "registry")
    summary = client.import_mlflow(uri)
    assert (summary.models, summary.versions, summary.runs) == (1, 2, 2)
    check_small(client, uri)


def test_import_from_a_local_mlruns_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    folder = tmp_path / "mlruns"
    seed_small(folder.as_uri())
    client = RegistryClient(tmp_path / "registry")
    summary = client.import_mlflow(str(folder))
    assert (summary.models, summary.versions, summary.tracking_uri) == (1, 2, str(folder))
    check_small(client, str(folder))
