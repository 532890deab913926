"""The MLflow seed workflow with only the import changed: runs, versions, stages, loading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import mean_squared_error, r2_score

import registry_core as rc


@pytest.fixture
def house_data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.uniform(0, 10, size=(400, 3)), columns=["f1", "f2", "f3"])
    price = 2 * frame.f1 + 3 * frame.f2 - 0.5 * frame.f3 + rng.normal(0, 1, 400) + 50
    return frame[:300], frame[300:], price[:300], price[300:]


@pytest.fixture(autouse=True)
def registry(registry_uri: str) -> str:
    rc.set_registry_uri(registry_uri)
    yield registry_uri
    rc.set_registry_uri(None)


def train(name: str, model, params: dict, data) -> tuple[str, object]:
    X_train, X_test, y_train, y_test = data
    with rc.start_run(run_name=name) as run:
        rc.log_params(params)
        rc.log_input(X_train)
        model.fit(X_train, y_train)
        predictions = model.predict(X_test)
        rc.log_metric("rmse", float(np.sqrt(mean_squared_error(y_test, predictions))))
        rc.log_metric("r2", float(r2_score(y_test, predictions)))
        rc.log_model(
            model,
            artifact_path="linear_regression_model",
            registered_model_name="HousePricePredictor",
            input_example=X_train[:5],
        )
    return run.info.run_id, model


def test_seed_workflow(house_data) -> None:
    run1, model1 = train("Linear_Regression_V1", LinearRegression(), {"alpha": 0.5}, house_data)
    _, model2 = train("Ridge_V2", Ridge(alpha=1.0), {"alpha": 1.0}, house_data)
    X_test = house_data[1]
    client = rc.RegistryClient()
    assert [mv.version for mv in client.search_model_versions("name='HousePricePredictor'")] == [
        "2",
        "1",
    ]
    client.transition_model_version_stage(
        "HousePricePredictor", 1, "Production", archive_existing_versions=True
    )
    client.transition_model_version_stage("HousePricePredictor", 2, "Staging")
    client.set_registered_model_alias("HousePricePredictor", "champion", 1)

    production = rc.load_model("models:/HousePricePredictor/Production")
    np.testing.assert_allclose(production.predict(X_test), model1.predict(X_test))
    staging = rc.load_model("models:/HousePricePredictor/staging")
    np.testing.assert_allclose(staging.predict(X_test), model2.predict(X_test))
    by_version = rc.load_model("models:/HousePricePredictor/2")
    np.testing.assert_allclose(by_version.predict(X_test), model2.predict(X_test))
    by_alias = rc.load_model("models:/HousePricePredictor@champion")
    np.testing.assert_allclose(by_alias.predict(X_test), model1.predict(X_test))
    latest = rc.load_model("models:/HousePricePredictor/latest")
    assert latest.info.version == "2"
    from_run = rc.load_model(f"runs:/{run1}/linear_regression_model", raw=True)
    assert isinstance(from_run, LinearRegression)

    lineage = client.get_model_version_lineage("HousePricePredictor", 1)
    assert lineage.model_version.run_id == run1
    assert lineage.run is not None
    assert lineage.run.run_name == "Linear_Regression_V1"
    assert lineage.run.params == {"alpha": "0.5"}
    assert set(lineage.run.metrics) == {"rmse", "r2"}
    assert lineage.run.status == "FINISHED"
    fingerprint = lineage.run.data_fingerprint["training"]
    assert fingerprint["row_count"] == 300
    assert lineage.model_version.signature["inputs"][0]["name"] == "f1"
    assert client.check_consistency() == []
