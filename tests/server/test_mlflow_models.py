"""MLflow 3's own client, unchanged, logs, registers and loads models through the registry server:
`mlflow.sklearn.log_model(..., registered_model_name=...)` (a logged model, its files through
the artifact proxy, a version whose run is the training run), `mlflow.register_model` from a run
or a logged model, and `mlflow.pyfunc.load_model("models:/...")` by stage, alias and number. A
version whose model is in skops is this registry's artifact too, so its own loader reads it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

from registry_core import load_model
from registry_core.api.endpoints import MLFLOW_ARTIFACTS
from registry_core.client import RegistryClient
from registry_core.doctor import examine
from registry_core.errors import DATA_LOSS, InvalidParameterValue, ResourceAlreadyExists
from registry_core.server.limits import ServerLimits
from tests.conftest import stored_file
from tests.server_harness import running_server

X = [[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]]
Y = [0, 0, 0, 1, 1, 1]
PROBE = [[0.5], [2.4], [2.6], [4.5]]
UNKNOWN_MODEL = "m-" + "0" * 32
FILES = MLFLOW_ARTIFACTS


@dataclass(frozen=True)
class Served:
    url: str
    admin: str
    reader: str
    registry: Path
    estimator: LogisticRegression
    run_id: str
    model_id: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server with auth on, and a model MLflow's client logged and registered as `churn` v1
    in a run that logged a metric first; MLflow's client sends the admin token."""
    registry = tmp_path_factory.mktemp("mlflow-models") / "registry"
    owner = RegistryClient(registry)
    _, admin = owner.create_token("trainer", "admin")
    _, reader = owner.create_token("viewer", "reader")
    owner.close()
    estimator = LogisticRegression().fit(X, Y)
    with running_server(registry, auth=True) as url, pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_TOKEN", admin)
        env.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        env.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        # MLflow's setters export these too; the context takes them back out after the module.
        env.setenv("MLFLOW_TRACKING_URI", url)
        env.setenv("MLFLOW_REGISTRY_URI", url)
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        mlflow.set_experiment(experiment_id="0")  # an earlier test may have left another active
        with mlflow.start_run() as run:
            mlflow.log_metric("accuracy", 1.0)
            info = mlflow.sklearn.log_model(estimator, name="model", registered_model_name="churn")
        try:
            yield Served(url, admin, reader, registry, estimator, run.info.run_id, info.model_id)
        finally:
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)


def predictions(model: object) -> np.ndarray:
    return np.asarray(model.predict(np.asarray(PROBE)))  # type: ignore[attr-defined]


def proxy(served: Served, token: str | None = None) -> httpx.Client:
    """A plain HTTP client of the server, with the admin token unless told otherwise."""
    headers = {"authorization": f"Bearer {token or served.admin}"}
    return httpx.Client(base_url=served.url, headers=headers)


def test_log_model_registers_a_version_whose_run_is_the_training_run(served: Served) -> None:
    ml = MlflowClient()
    mv = ml.get_model_version("churn", "1")
    assert (mv.source, mv.run_id) == (f"models:/{served.model_id}", served.run_id)
    logged = ml.get_logged_model(served.model_id)
    assert logged.status.name == "READY" and logged.source_run_id == served.run_id
    assert logged.artifact_location == f"mlflow-artifacts:/0/models/{served.model_id}/artifacts"
    assert json.loads(logged.tags["mlflow.modelVersions"]) == [{"name": "churn", "version": "1"}]
    assert ml.get_model_version_download_uri("churn", "1") == logged.artifact_location
    files = {f.path for f in ml.list_logged_model_artifacts(served.model_id)}
    assert {"MLmodel", "model.skops", "requirements.txt"} <= files
    run = ml.get_run(served.run_id)
    assert [m.model_id for m in run.outputs.model_outputs] == [served.model_id]
    # MLflow's client logs the run's metrics again for the model: the history keeps one value.
    assert [m.value for m in ml.get_metric_history(served.run_id, "accuracy")] == [1.0]
    found = ml.search_logged_models(experiment_ids=["0"], filter_string="name = 'model'")
    assert [m.model_id for m in found] == [served.model_id]


def test_mlflow_loads_the_version_by_stage_alias_and_number(served: Served) -> None:
    ml = MlflowClient()
    ml.transition_model_version_stage("churn", "1", "Production")
    ml.set_registered_model_alias("churn", "champion", "1")
    expected = predictions(served.estimator)
    for model in (
        mlflow.pyfunc.load_model("models:/churn/Production"),
        mlflow.pyfunc.load_model("models:/churn@champion"),
        mlflow.sklearn.load_model("models:/churn/1"),
    ):
        assert np.array_equal(predictions(model), expected)


def test_register_model_from_the_run_and_from_the_logged_model(served: Served) -> None:
    from_run = mlflow.register_model(f"runs:/{served.run_id}/model", "churn-from-run")
    from_model = mlflow.register_model(f"models:/{served.model_id}", "churn-from-model")
    for mv in (from_run, from_model):
        assert (mv.version, mv.source, mv.run_id) == (
            "1",
            f"models:/{served.model_id}",
            served.run_id,
        )
    loaded = mlflow.sklearn.load_model("models:/churn-from-run/1")
    assert np.array_equal(predictions(loaded), predictions(served.estimator))
    # MlflowClient's own call keeps the run URI as the source; MLflow's client finds the run's
    # logged model behind it when loading, and this registry takes its skops file.
    direct = MlflowClient().create_model_version(
        "churn-from-run", f"runs:/{served.run_id}/model", run_id=served.run_id
    )
    assert direct.source == f"runs:/{served.run_id}/model"
    ours = RegistryClient(served.url, token=served.admin).get_model_version("churn-from-run", 2)
    assert ours.artifact_format == "skops"
    loaded = mlflow.pyfunc.load_model("models:/churn-from-run/2")
    assert np.array_equal(predictions(loaded), predictions(served.estimator))


def test_this_registry_loads_the_version_from_its_skops_file(served: Served) -> None:
    ours = RegistryClient(served.url, token=served.admin)
    mv = ours.get_model_version("churn", 1)
    assert mv.artifact_format == "skops" and mv.run_id == served.run_id
    with proxy(served) as http:
        skops = http.get(f"{FILES}/0/models/{served.model_id}/artifacts/model.skops")
    assert mv.artifact_sha256 == hashlib.sha256(skops.content).hexdigest()
    loaded = load_model("models:/churn/1", client=ours)
    assert np.array_equal(predictions(loaded), predictions(served.estimator))
    assert ours.get_run(served.run_id).model_outputs[0].model_id == served.model_id


def test_an_xgboost_model_becomes_an_artifact_in_xgboost_format(served: Served) -> None:
    xgboost = pytest.importorskip("xgboost")
    booster = xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(np.asarray(X), Y)
    with mlflow.start_run():
        mlflow.xgboost.log_model(booster, name="model", registered_model_name="boosted")
    ours = RegistryClient(served.url, token=served.admin)
    assert ours.get_model_version("boosted", 1).artifact_format == "xgboost_ubj"
    loaded = load_model("models:/boosted/1", client=ours, raw=True)
    assert np.array_equal(predictions(loaded), predictions(booster))


def test_a_pickled_model_is_registered_for_mlflow_without_an_artifact_of_ours(
    served: Served,
) -> None:
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            served.estimator,
            name="model",
            registered_model_name="pickled",
            serialization_format="cloudpickle",
        )
    loaded = mlflow.pyfunc.load_model("models:/pickled/1")
    assert np.array_equal(predictions(loaded), predictions(served.estimator))
    ours = RegistryClient(served.url, token=served.admin)
    assert ours.get_model_version("pickled", 1).artifact_sha256 is None
    with pytest.raises(Exception, match="load it with MLflow's client") as caught:
        load_model("models:/pickled/1", client=ours)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"  # type: ignore[attr-defined]


def test_run_files_go_through_the_proxy_and_are_written_once(
    served: Served, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("trained on the churn sample\n")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(notes), artifact_path="docs")
    root = f"0/{run.info.run_id}/artifacts"
    assert [(f.path, f.file_size) for f in MlflowClient().list_artifacts(run.info.run_id)] == [
        ("docs", None)
    ]
    fetched = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="docs/notes.txt", dst_path=str(tmp_path / "out")
    )
    assert Path(fetched).read_text() == notes.read_text()
    with proxy(served) as http:
        assert (
            http.put(f"{FILES}/{root}/docs/notes.txt", content=notes.read_bytes()).status_code
            == 200
        )
        again = http.put(f"{FILES}/{root}/docs/notes.txt", content=b"something else")
        assert (again.status_code, again.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
        assert http.get(f"{FILES}/{root}/docs/missing.txt").json()["error_code"] == (
            "RESOURCE_DOES_NOT_EXIST"
        )


@pytest.mark.parametrize(
    "path",
    [
        "0/%2e%2e/escape.txt",
        "0/%252e%252e/%252e%252e/escape.txt",
        "0/run/..%2f..%2fescape.txt",
        "0/%E2%80%A5/escape.txt",
        "%2Fetc/passwd",
        "0//double-slash.txt",
        "0/run/back%5cslash.txt",
        "0/run/nul%00.txt",
    ],
)
def test_paths_that_could_leave_a_folder_are_refused(served: Served, path: str) -> None:
    with proxy(served) as http:
        for response in (
            http.put(f"{FILES}/{path}", content=b"x"),
            http.get(f"{FILES}/{path}"),
            http.get(FILES, params={"path": path.replace("%2F", "/")}),
        ):
            assert response.status_code == 400, (path, response.text)
            assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert response.json()["message"].startswith("Invalid artifact path")


def test_a_reader_downloads_but_neither_uploads_nor_logs_models(served: Served) -> None:
    model_file = f"{FILES}/0/models/{served.model_id}/artifacts/MLmodel"
    with proxy(served, served.reader) as http:
        assert http.get(model_file).status_code == 200
        assert http.get(FILES, params={"path": "0"}).json()["files"]
        refused = http.put(f"{FILES}/0/notes/new.txt", content=b"x")
        assert (refused.status_code, refused.json()["error_code"]) == (403, "PERMISSION_DENIED")
    created = httpx.post(
        f"{served.url}/api/2.0/mlflow/logged-models",
        json={"experiment_id": "0", "name": "model"},
        headers={"authorization": f"Bearer {served.reader}"},
    )
    assert created.json()["error_code"] == "PERMISSION_DENIED"


def test_an_unknown_logged_model_does_not_exist(served: Served) -> None:
    ml = MlflowClient()
    with pytest.raises(MlflowException) as missing:
        ml.get_logged_model(UNKNOWN_MODEL)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as unregistered:
        ml.create_model_version("churn", f"models:/{UNKNOWN_MODEL}", model_id=UNKNOWN_MODEL)
    assert unregistered.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as no_experiment:
        ml.create_logged_model(experiment_id="999")
    assert no_experiment.value.error_code == "RESOURCE_DOES_NOT_EXIST"


@contextmanager
def mlflow_at(url: str, back: str) -> Iterator[None]:
    """MLflow's client pointed at the server at `url` for the block, then at `back` again."""
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(back)
        mlflow.set_registry_uri(back)


def backup(served: Served, directory: Path) -> dict[str, Any]:
    """`registry backup` through the server; the dump's manifest."""
    RegistryClient(served.url, token=served.admin).export_registry(directory)
    return json.loads((directory / "manifest.json").read_text())


# Runs before the test below damages a stored file, which a backup would refuse to copy.
def test_a_restored_backup_serves_mlflow_what_it_logged(served: Served, tmp_path: Path) -> None:
    ml = MlflowClient()
    logged = ml.get_logged_model(served.model_id).to_proto()
    files = sorted(f.path for f in ml.list_logged_model_artifacts(served.model_id))
    manifest = backup(served, tmp_path / "backup")
    assert manifest["tables"]["logged_models"]["rows"] >= 1
    assert manifest["tables"]["mlflow_artifacts"]["rows"] >= len(files)

    restored = RegistryClient(tmp_path / "restored")
    assert restored.import_registry(tmp_path / "backup").mode == "identical"
    proxied = RegistryClient(served.url, token=served.admin).proxied_files()
    assert restored.proxied_files() == proxied
    assert examine(restored).ok
    restored.close()
    with running_server(tmp_path / "restored") as url, mlflow_at(url, served.url):
        again = MlflowClient()
        assert again.get_logged_model(served.model_id).to_proto() == logged
        assert sorted(f.path for f in again.list_logged_model_artifacts(served.model_id)) == files
        loaded = mlflow.pyfunc.load_model("models:/churn/1")
        assert np.array_equal(predictions(loaded), predictions(served.estimator))


def test_a_merge_import_resolves_logged_models_and_proxied_files(
    served: Served, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    manifest = backup(served, dump)
    logged_rows = manifest["tables"]["logged_models"]["rows"]
    mlmodel = f"0/models/{served.model_id}/artifacts/MLmodel"
    requirements = f"0/models/{served.model_id}/artifacts/requirements.txt"

    # Into a registry holding other things: nothing conflicts, every logged model and file loads.
    other = RegistryClient(tmp_path / "other")
    other.create_registered_model("mine")
    merged = other.import_registry(dump)
    assert merged.mode == "merged" and merged.rows["logged_models"] == logged_rows
    assert other.proxied_files() == RegistryClient(served.url, token=served.admin).proxied_files()

    # Doctor finds a proxied file whose bytes changed.
    held = other.proxied_files()
    damaged = stored_file(tmp_path / "other", held[mlmodel])
    original = damaged.read_bytes()
    damaged.write_bytes(b"altered")
    findings = examine(other).findings
    assert [(f.subject, f.error_code) for f in findings] == [
        (f"mlflow-artifacts:/{mlmodel}", DATA_LOSS)
    ]
    damaged.write_bytes(original)

    # The same dump again, its MLmodel path forged to hold other bytes the dump carries.
    sizes = {item["sha256"]: item["size"] for item in manifest["artifacts"]}
    forge_path(dump, mlmodel, sha256=held[requirements], size=sizes[held[requirements]])

    with pytest.raises(ResourceAlreadyExists) as refused:
        other.import_registry(dump)
    assert "logged model(s) m-" in refused.value.message
    assert f"proxied file(s) {mlmodel} of the export" in refused.value.message
    skipped = other.import_registry(dump, "skip")
    assert served.run_id in skipped.skipped_runs
    for name in ("logged_models", "logged_model_tags", "logged_model_outputs", "mlflow_artifacts"):
        assert skipped.rows[name] == 0, name
    assert other.proxied_files() == held
    overwritten = other.import_registry(dump, "overwrite")
    assert overwritten.rows["logged_models"] == logged_rows
    assert overwritten.rows["mlflow_artifacts"] == 1  # the others hold the same bytes already
    assert other.proxied_files() == {**held, mlmodel: held[requirements]}
    assert other.check_consistency() == []

    # A proxy path that could climb out of its folder is refused before anything is copied.
    forge_path(dump, mlmodel, path="0/%2e%2e/escape.txt")
    fresh = RegistryClient(tmp_path / "fresh")
    with pytest.raises(InvalidParameterValue, match=r"mlflow_artifacts hold .* Invalid artifact"):
        fresh.import_registry(dump)
    assert fresh.artifacts.digests() == set()


def forge_path(dump: Path, at: str, **changes: Any) -> None:
    """Change the dump's row of proxy path `at` and reseal the manifest, as a forger would."""
    table = dump / "tables" / "mlflow_artifacts.jsonl"
    rows = [json.loads(line) for line in table.read_text().splitlines()]
    for row in rows:
        if row["path"] == at:
            row.update(changes)
    table.write_text("".join(json.dumps(row) + "\n" for row in rows))
    manifest = json.loads((dump / "manifest.json").read_text())
    manifest["tables"]["mlflow_artifacts"]["sha256"] = hashlib.sha256(
        table.read_bytes()
    ).hexdigest()
    (dump / "manifest.json").write_text(json.dumps(manifest))


def test_a_changed_file_is_not_served_and_gc_keeps_proxy_files(served: Served) -> None:
    ours = RegistryClient(served.url, token=served.admin)
    removed = {ref.sha256 for ref in ours.gc(grace_seconds=0)}
    assert ours.get_model_version("churn", 1).artifact_sha256 not in removed
    assert np.array_equal(
        predictions(mlflow.sklearn.load_model("models:/churn/1")), predictions(served.estimator)
    )
    with mlflow.start_run() as run:
        mlflow.log_text("original", "note.txt")
    path = f"{FILES}/0/{run.info.run_id}/artifacts/note.txt"
    with proxy(served) as http:
        digest = hashlib.sha256(b"original").hexdigest()
        stored_file(served.registry, digest).write_bytes(b"altered!")
        damaged = http.get(path)
    assert (damaged.status_code, damaged.json()["error_code"]) == (500, "DATA_LOSS")


def test_an_upload_over_the_server_limit_is_refused(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    with running_server(registry, limits=ServerLimits(artifact_bytes=1000)) as url:
        big = httpx.put(f"{url}{MLFLOW_ARTIFACTS}/0/run/artifacts/big.bin", content=b"x" * 5000)
        assert (big.status_code, big.json()["error_code"]) == (413, "REQUEST_LIMIT_EXCEEDED")
