"""MLflow's own client, unchanged, against the registry server: the registry calls of MLflow's
documentation, MLflow's filter strings and page tokens, its exceptions, and the tracking calls a
training script makes before it registers (they land in this registry's runs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from registry_core.client import RegistryClient
from tests.server_harness import running_server


@pytest.fixture
def served(registry_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A server with auth on; MLflow's client sends the token as MLFLOW_TRACKING_TOKEN."""
    _, secret = RegistryClient(registry_path).create_token("trainer", "admin")
    RegistryClient(registry_path).close()
    with running_server(registry_path, auth=True) as url:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", secret)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        # MLflow's setters export these too; monkeypatch takes them back out after the test.
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        monkeypatch.setenv("MLFLOW_REGISTRY_URI", url)
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        try:
            yield url, secret
        finally:
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)


@pytest.fixture
def ml(served: tuple[str, str]) -> MlflowClient:
    return MlflowClient(tracking_uri=served[0], registry_uri=served[0])


def code(error: pytest.ExceptionInfo[MlflowException]) -> str:
    return error.value.error_code


def test_models_and_versions_as_mlflow_documents_them(ml: MlflowClient, served) -> None:
    model = ml.create_registered_model(
        "churn", tags={"team": "growth"}, description="Predicts churn."
    )
    assert (model.name, model.tags, model.description) == (
        "churn",
        {"team": "growth"},
        "Predicts churn.",
    )
    for run in ("r1", "r2", "r3"):
        ml.create_model_version("churn", f"runs:/{run}/model", run_id=run, tags={"run": run})
    ml.set_registered_model_tag("churn", "owner", "ml")
    ml.set_model_version_tag("churn", "2", "validation", "passed")
    ml.delete_model_version_tag("churn", "2", "run")
    ml.update_model_version("churn", "2", "the second")
    ml.update_registered_model("churn", "Predicts which customers cancel.")

    mv = ml.transition_model_version_stage("churn", "1", "Production")
    assert mv.current_stage == "Production"
    mv = ml.transition_model_version_stage(
        "churn", "2", "production", archive_existing_versions=True
    )
    assert mv.current_stage == "Production"
    assert ml.get_model_version("churn", "1").current_stage == "Archived"
    assert [v.version for v in ml.get_latest_versions("churn", stages=["Production"])] == ["2"]

    ml.set_registered_model_alias("churn", "champion", "2")
    assert ml.get_model_version_by_alias("churn", "champion").version == "2"
    got = ml.get_registered_model("churn")
    assert got.aliases == {"champion": "2"}
    assert got.tags == {"team": "growth", "owner": "ml"}
    assert got.description == "Predicts which customers cancel."
    version = ml.get_model_version("churn", "2")
    assert (version.description, version.tags, version.aliases) == (
        "the second",
        {"validation": "passed"},
        ["champion"],
    )
    assert ml.get_model_version_download_uri("churn", "2") == "runs:/r2/model"

    found = ml.search_model_versions("name = 'churn' AND tag.validation = 'passed'")
    assert [v.version for v in found] == ["2"]
    assert [m.name for m in ml.search_registered_models("name LIKE 'ch%'")] == ["churn"]

    # The history records the token's name for each move MLflow's client made.
    ours = RegistryClient(served[0], token=served[1])
    assert {event.actor for event in ours.get_model_version_history("churn")} == {"trainer"}

    ml.delete_registered_model_alias("churn", "champion")
    ml.rename_registered_model("churn", "churn-predictor")
    assert ml.get_model_version("churn-predictor", "3").source == "runs:/r3/model"
    ml.delete_model_version("churn-predictor", "3")
    ml.delete_registered_model("churn-predictor")
    assert ml.search_registered_models() == []


def test_paging_with_mlflow_page_tokens_returns_every_row_once(ml: MlflowClient) -> None:
    for index in range(7):
        ml.create_registered_model(f"m{index}")
    seen, token = [], None
    while True:
        page = ml.search_registered_models(max_results=3, page_token=token, order_by=["name DESC"])
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert seen == [f"m{index}" for index in reversed(range(7))]


def test_errors_reach_mlflow_with_mlflow_codes(ml: MlflowClient) -> None:
    with pytest.raises(MlflowException) as missing:
        ml.get_registered_model("nope")
    assert code(missing) == "RESOURCE_DOES_NOT_EXIST"
    ml.create_registered_model("m")
    with pytest.raises(MlflowException) as taken:
        ml.create_registered_model("m")
    assert code(taken) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as bad_stage:
        ml.create_model_version("m", "runs:/r/model")
        ml.transition_model_version_stage("m", "1", "Prod")
    assert code(bad_stage) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as bad_filter:
        ml.search_model_versions("name LIKE")
    assert code(bad_filter) == "INVALID_PARAMETER_VALUE"


def test_a_training_script_logs_its_run_here(served, registry_path: Path) -> None:
    with mlflow.start_run(run_name="Linear_Regression_V1") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"l1_ratio": 0.1, "fit_intercept": True})
        mlflow.log_metric("rmse", 0.9)
        mlflow.log_metric("rmse", 0.8, step=1)
        mlflow.log_metrics({"r2": 0.97})
        mlflow.set_tag("owner", "ml")
    ours = RegistryClient(served[0], token=served[1]).get_run(run.info.run_id)
    assert ours.run_name == "Linear_Regression_V1"
    assert ours.status == "FINISHED" and ours.end_time is not None
    assert ours.params == {"alpha": "0.5", "l1_ratio": "0.1", "fit_intercept": "True"}
    assert ours.metrics == {"rmse": 0.8, "r2": 0.97}
    assert ours.tags["owner"] == "ml"
    assert ours.user_id == "trainer"  # from the token, whatever MLflow claimed
    history = MlflowClient(served[0]).get_metric_history(run.info.run_id, "rmse")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.8)]
    experiment = mlflow.set_experiment("churn")
    assert MlflowClient(served[0]).get_experiment_by_name("churn").experiment_id == (
        experiment.experiment_id
    )
