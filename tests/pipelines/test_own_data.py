"""The lifecycle on a user's own data and training code, through real materializations: Parquet
globs, CSV, a read-only DuckDB query, a partitioned upstream asset, LightGBM, a trainer function,
a custom metric; and bad input failing its step with the model and field named, nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from registry_core.client import RegistryClient
from registry_pipelines.lifecycle import ModelLifecycle, build_lifecycle, check_names
from registry_pipelines.resources import RegistryResource
from registry_pipelines.specs import parse_spec


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def registry(registry_path: Path) -> RegistryResource:
    return RegistryResource(registry_uri=str(registry_path))


def customers(rows: int, seed: int) -> pd.DataFrame:
    """A small table with a learnable binary label, a text column and a numeric target."""
    rng = np.random.default_rng(seed)
    usage = rng.uniform(0, 10, rows)
    plan = rng.choice(["basic", "pro"], rows)
    spend = 3 * usage + 5 * (plan == "pro") + rng.normal(0, 0.5, rows)
    return pd.DataFrame(
        {
            "usage": usage,
            "tickets": rng.poisson(2, rows).astype("int64"),
            "plan": plan,
            "spend": spend,
            "churned": (usage + rng.normal(0, 1, rows) < 4).astype("int64"),
        }
    )


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    connection = duckdb.connect()
    connection.from_df(frame).write_parquet(str(path))
    connection.close()


def spec_with(data: dict[str, Any], **overrides: Any):
    options = {
        "name": "own-model",
        "task": "classification",
        "data": {"target": "churned", **data},
        "training": {
            "estimator": "lightgbm.LGBMClassifier",
            "params": {"n_estimators": 15, "num_leaves": 7, "verbose": -1, "n_jobs": 1},
        },
        "metrics": ["accuracy", "roc_auc"],
        "validation": {"thresholds": {"accuracy": {"min": 0.7}}},
        "promotion": {"policy": "auto"},
        **overrides,
    }
    return parse_spec(options)


def materialize(
    lc: ModelLifecycle,
    instance: dg.DagsterInstance,
    registry: RegistryResource,
    extra: list[dg.AssetsDefinition] = (),  # type: ignore[assignment]
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*extra, *lc.assets],
        instance=instance,
        resources={"registry": registry},
        selection=lc.keys.training_chain,
        raise_on_error=False,
    )


def assert_registered(
    result: dg.ExecuteInProcessResult, lc: ModelLifecycle, registry: RegistryResource, fmt: str
):
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == dict.fromkeys(check_names(lc.spec), True)
    mv = registry.client().get_model_version(lc.spec.name, 1)
    assert mv.artifact_format == fmt and mv.tags["validation"] == "passed"
    return mv


def test_parquet_glob_and_lightgbm(
    tmp_path: Path, instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    write_parquet(customers(150, 1).drop(columns=["plan"]), tmp_path / "part-1.parquet")
    write_parquet(customers(120, 2).drop(columns=["plan"]), tmp_path / "part-2.parquet")
    lc = build_lifecycle(spec_with({"path": str(tmp_path / "part-*.parquet")}))
    result = materialize(lc, instance, registry)
    mv = assert_registered(result, lc, registry, "lightgbm_text")
    training = instance.get_latest_materialization_event(lc.keys.training_data)
    metadata = training.asset_materialization.metadata
    assert metadata["dagster/row_count"].value == 270
    assert [c.name for c in metadata["dagster/column_schema"].value.columns] == [
        "usage",
        "tickets",
        "spend",
        "churned",
    ]
    run = registry.client().get_run(mv.run_id)
    assert run.data_fingerprint["training"]["sha256"] == metadata["fingerprint"].value


def test_csv_with_a_trainer_function_that_encodes_text(
    tmp_path: Path, instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    customers(200, 3).to_csv(tmp_path / "customers.csv", index=False)
    spec = spec_with(
        {"path": str(tmp_path / "customers.csv"), "features": ["usage", "tickets", "plan"]},
        training={
            "trainer": "tests.user_code.fit_forest",
            "params": {"n_estimators": 10, "random_state": 0},
        },
    )
    lc = build_lifecycle(spec)
    mv = assert_registered(materialize(lc, instance, registry), lc, registry, "skops")
    assert [c["name"] for c in mv.signature["inputs"]] == ["usage", "tickets", "plan"]


def test_read_only_duckdb_query_with_a_custom_metric(
    tmp_path: Path, instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    database = tmp_path / "warehouse.duckdb"
    connection = duckdb.connect(str(database))
    connection.from_df(customers(300, 4)).create("customers")
    connection.close()
    spec = spec_with(
        {
            "sql": {
                "database": str(database),
                "query": "SELECT usage, tickets, spend FROM customers WHERE usage >= 0",
            },
            "target": "spend",
        },
        task="regression",
        training={"estimator": "sklearn.linear_model.Ridge", "params": {"alpha": 0.1}},
        metrics=[
            "r2",
            {
                "name": "overestimate",
                "function": "tests.user_code.mean_overestimate",
                "better": "lower",
            },
        ],
        validation={
            "thresholds": {"r2": {"min": 0.5}, "overestimate": {"max": 5.0}},
            "max_regression": {"overestimate": 0.5},
        },
    )
    lc = build_lifecycle(spec)
    mv = assert_registered(materialize(lc, instance, registry), lc, registry, "skops")
    metrics = registry.client().get_run(mv.run_id).metrics
    assert 0 <= metrics["overestimate"] < 5.0 and "train_overestimate" in metrics
    registered = instance.get_latest_materialization_event(lc.keys.registered_version)
    assert "| overestimate |" in registered.asset_materialization.metadata["comparison"].value


def test_partitioned_upstream_asset_is_concatenated(
    instance: dg.DagsterInstance, registry: RegistryResource
) -> None:
    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["eu", "us"]))
    def regional_customers(context) -> pd.DataFrame:
        seed = 5 if context.partition_key == "eu" else 6
        return customers(100, seed).drop(columns=["plan"])

    for region in ("eu", "us"):
        dg.materialize([regional_customers], instance=instance, partition_key=region)
    lc = build_lifecycle(spec_with({"asset": "regional_customers"}))
    result = materialize(lc, instance, registry, extra=[regional_customers])
    assert_registered(result, lc, registry, "lightgbm_text")
    training = instance.get_latest_materialization_event(lc.keys.training_data)
    assert training.asset_materialization.metadata["dagster/row_count"].value == 200


def _sql_source(tmp_path: Path, query: str) -> dict[str, Any]:
    database = tmp_path / "w.duckdb"
    connection = duckdb.connect(str(database))
    connection.from_df(customers(60, 0)).create("customers")
    connection.close()
    return {"sql": {"database": str(database), "query": query}}


BAD_INPUT = [
    pytest.param(
        lambda tmp: {"path": str(tmp / "missing" / "*.parquet")},
        {},
        "training_data",
        "model 'own-model': data.path: no file matches",
        id="source-does-not-exist",
    ),
    pytest.param(
        lambda tmp: {"sql": {"database": str(tmp / "nowhere.duckdb"), "query": "SELECT 1"}},
        {},
        "training_data",
        "model 'own-model': data.sql.database: no DuckDB database file at",
        id="database-does-not-exist",
    ),
    pytest.param(
        lambda tmp: _sql_source(tmp, "DELETE FROM customers"),
        {},
        "training_data",
        "model 'own-model': data.sql.query: give exactly one SELECT statement",
        id="query-that-writes",
    ),
    pytest.param(
        lambda tmp: {**_sql_source(tmp, "SELECT usage, tickets FROM customers")},
        {},
        "training_data",
        "model 'own-model': data.target: column 'churned' is not in the training data "
        "(columns: usage, tickets)",
        id="missing-target-column",
    ),
    pytest.param(
        lambda tmp: _sql_source(
            tmp, "SELECT usage, TIMESTAMP '2024-01-01' AS signed_up, churned FROM customers"
        ),
        {},
        "trained_model",
        "model 'own-model': data.features: column 'signed_up' has dtype datetime64[us]: "
        "convert it to numbers upstream",
        id="unsupported-dtype",
    ),
    pytest.param(
        lambda tmp: _sql_source(tmp, "SELECT usage, plan, churned FROM customers"),
        {},
        "trained_model",
        "model 'own-model': data.features: column 'plan' has dtype str: encode it upstream, "
        "or train with a Pipeline or trainer function that does",
        id="text-for-a-plain-estimator",
    ),
    pytest.param(
        lambda tmp: _sql_source(tmp, "SELECT usage, churned FROM customers"),
        {"training": {"trainer": "tests.user_code.fit_that_raises"}},
        "trained_model",
        "model 'own-model': training.trainer: fitting raised RuntimeError: the solver diverged",
        id="fit-raises",
    ),
]


@pytest.mark.parametrize(("data", "overrides", "step", "message"), BAD_INPUT)
def test_bad_input_fails_its_step_naming_model_and_field_and_writes_nothing(
    tmp_path: Path,
    instance: dg.DagsterInstance,
    registry: RegistryResource,
    registry_path: Path,
    data: Any,
    overrides: dict[str, Any],
    step: str,
    message: str,
) -> None:
    lc = build_lifecycle(spec_with(data(tmp_path), **overrides))
    result = materialize(lc, instance, registry)
    assert not result.success
    failures = result.get_step_failure_events()
    assert [event.step_key for event in failures] == [f"own_model__{step}"]
    error = failures[0].step_failure_data.error
    assert error is not None and message in error.message
    client = RegistryClient(registry_path)
    assert client.search_registered_models() == []
    assert list(client.search_runs()) == []


def test_an_upstream_asset_that_never_materialized_fails_loading_it(
    instance: dg.DagsterInstance, registry: RegistryResource, registry_path: Path
) -> None:
    @dg.asset
    def features() -> pd.DataFrame:
        return customers(50, 0)

    lc = build_lifecycle(spec_with({"asset": "features"}))
    result = materialize(lc, instance, registry, extra=[features])
    assert not result.success
    assert [e.step_key for e in result.get_step_failure_events()] == ["own_model__training_data"]
    assert list(RegistryClient(registry_path).search_runs()) == []
