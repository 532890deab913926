"""The model spec (the component's schema and the factory's options): the shipped models load
through the component, and a bad option fails naming the model and the field."""

from __future__ import annotations

import copy
import sys
from typing import Any

import dagster as dg
import pytest

from registry_pipelines import model_lifecycle_defs
from registry_pipelines.definitions import SPECS
from registry_pipelines.specs import ModelSpec, SpecError, parse_spec


@pytest.fixture(autouse=True)
def initial_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check specs as a first load does: an in-process run earlier in this process leaves
    Dagster's load context at `RECONSTRUCTION`, which skips the estimator checks."""
    from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext

    monkeypatch.setattr(DefinitionsLoadContext, "_instance", None)


BASE: dict[str, Any] = {
    "name": "fraud-detector",
    "task": "classification",
    "data": {"path": "data/*.parquet", "target": "is_fraud"},
    "training": {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": 0.5}},
    "metrics": ["accuracy", "roc_auc"],
    "validation": {"thresholds": {"accuracy": {"min": 0.8}}},
}


def with_(path: str, value: object) -> dict[str, Any]:
    """BASE with one dotted path set (`data.rows`, `metrics.1`); value None deletes the key."""
    options = copy.deepcopy(BASE)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = options
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return options


def test_shipped_models_load_through_the_component() -> None:
    assert sorted(spec.name for spec in SPECS) == [
        "HousePricePredictor",
        "churn-predictor",
        "wine-quality-classifier",
    ]
    assert all(isinstance(spec, ModelSpec) for spec in SPECS)
    assert {spec.asset_prefix for spec in SPECS} == {
        "churn_predictor",
        "wine_quality_classifier",
        "house_price_predictor",
    }
    churn = next(spec for spec in SPECS if spec.name == "churn-predictor")
    assert churn.validation.thresholds["accuracy"].min == 0.90
    assert churn.training.build().get_params()["n_estimators"] == 150


def test_a_valid_spec_and_its_directions() -> None:
    options = with_(
        "metrics",
        ["accuracy", {"name": "cost", "function": "numpy.mean", "better": "lower"}],
    )
    spec = parse_spec(options)
    assert spec.metric_names == ["accuracy", "cost"]
    assert spec.directions == {"accuracy": "higher", "cost": "lower"}
    assert spec.data.source == "path"
    assert spec.retrain is None


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            with_("training.colour", "red"),
            "training.colour: Extra inputs are not permitted",
            id="unknown-field",
        ),
        pytest.param(
            with_("data.demo", "synthetic_churn"),
            "data.path: give exactly one source: demo, asset, path or sql (got demo, path)",
            id="two-sources",
        ),
        pytest.param(with_("data.path", None), "data: give exactly one source", id="no-source"),
        pytest.param(
            with_("data.rows", 500), "data.rows: rows sizes demo datasets only", id="rows-not-demo"
        ),
        pytest.param(
            with_("data.path", "data/*.json"),
            "data.path: 'data/*.json' must end in .parquet, .pq, .csv",
            id="file-suffix",
        ),
        pytest.param(
            with_("data.features", ["amount", "is_fraud"]),
            "data.features[1]: the target cannot be a feature",
            id="target-as-feature",
        ),
        pytest.param(
            with_("training", {"trainer": "no_such_package.train.fit"}),
            "training.trainer: cannot import 'no_such_package.train': No module named "
            "'no_such_package'",
            id="trainer-does-not-import",
        ),
        pytest.param(
            with_("training", {"trainer": "json.dumps"}),
            "training.trainer: json.dumps must take (X_train, y_train, params)",
            id="trainer-signature",
        ),
        pytest.param(
            with_("training", {"trainer": "json.decoder", "estimator": "x.y"}),
            "training: give exactly one of estimator or trainer",
            id="estimator-and-trainer",
        ),
        pytest.param(
            with_("training.estimator", "sklearn.ensemble.NoSuchForest"),
            "training.estimator: module 'sklearn.ensemble' has no attribute 'NoSuchForest'",
            id="missing-class",
        ),
        pytest.param(
            with_("training", {"estimator": "json.JSONDecoder"}),
            "training.estimator: json.JSONDecoder gave a JSONDecoder, not a scikit-learn-style",
            id="not-an-estimator",
        ),
        pytest.param(
            with_("training.estimator", "sklearn.linear_model.LinearRegression"),
            "training.params.C: not a parameter of LinearRegression",
            id="unknown-param",
        ),
        pytest.param(
            with_("training", {"estimator": "sklearn.linear_model.LinearRegression"}),
            "training.estimator: sklearn.linear_model.LinearRegression is not a classification "
            "estimator",
            id="wrong-task",
        ),
        pytest.param(
            with_("training", {"estimator": "xgboost.XGBClassifier", "scale": True}),
            "training.scale: XGBClassifier is saved in its library's own format",
            id="scale-native",
        ),
        pytest.param(
            with_("metrics.1", "f2"),
            "metrics[1]: unknown metric 'f2'; built-in classification metrics are accuracy, f1",
            id="unknown-metric",
        ),
        pytest.param(
            with_("metrics.1", "rmse"),
            "metrics[1]: rmse is not a classification metric",
            id="metric-for-the-wrong-task",
        ),
        pytest.param(
            with_("metrics.1", {"name": "cost", "function": "numpy.nosuch", "better": "lower"}),
            "metrics[1].function: module 'numpy' has no attribute 'nosuch'",
            id="metric-function-missing",
        ),
        pytest.param(
            with_("metrics.1", "accuracy"),
            "metrics[1]: accuracy is listed twice",
            id="metric-twice",
        ),
        pytest.param(
            with_("validation.max_regression", {"f1": 0.1}),
            "validation.max_regression.f1: f1 is not listed in metrics",
            id="regression-on-unlisted-metric",
        ),
        pytest.param(
            with_("validation.thresholds.accuracy", {"min": 0.9, "max": 0.8}),
            "validation.thresholds.accuracy: min 0.9 is greater than max 0.8",
            id="inverted-threshold",
        ),
        pytest.param(
            with_("retrain", {"cron": "@daily"}),
            "retrain.cron: cron must have 5 fields",
            id="cron-macro",
        ),
        pytest.param(
            with_("retrain", {"cron": "0 2 * * *", "timezone": "Mars/Olympus"}),
            "retrain.timezone: unknown time zone 'Mars/Olympus'",
            id="bad-timezone",
        ),
        pytest.param(
            with_("promotion", {"policy": "yolo"}),
            "promotion.policy: Input should be 'auto', 'approval', 'staging' or 'manual'",
            id="bad-policy",
        ),
        pytest.param(
            with_("asset_prefix", "fraud"),
            "asset_prefix: Extra inputs are not permitted",
            id="asset-prefix-is-derived",
        ),
    ],
)
def test_bad_options_name_the_model_and_the_field(options: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(options, source="test")
    assert f"test: model 'fraud-detector': {expected}" in str(caught.value)


def test_a_missing_optional_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # what `import` sees when not installed
    with pytest.raises(SpecError, match=r"pip install 'dagster-model-registry\[lightgbm\]'"):
        parse_spec(with_("training", {"estimator": "lightgbm.LGBMClassifier"}))


def test_the_factory_merges_with_the_projects_own_definitions() -> None:
    @dg.asset
    def transactions() -> None: ...

    fraud = model_lifecycle_defs(**with_("data", {"asset": "transactions", "target": "is_fraud"}))
    house = model_lifecycle_defs(
        name="house",
        task="regression",
        data={"demo": "synthetic_house", "rows": 200, "target": "price"},
        training={"estimator": "sklearn.linear_model.Ridge"},
        metrics=["r2"],
        promotion={"policy": "auto"},
        retrain={"cron": "0 1 * * *"},
    )
    defs = dg.Definitions.merge(dg.Definitions(assets=[transactions]), fraud, house)
    graph = defs.resolve_asset_graph()
    training = dg.AssetKey(["fraud_detector", "training_data"])
    assert graph.get(training).parent_keys == {dg.AssetKey("transactions")}
    assert {s.name for s in defs.resolve_all_job_defs()} >= {
        "fraud_detector_training",
        "house_training",
    }
    assert [s.name for s in defs.sensors or []] == ["house_promotion_sensor"]
    assert [s.name for s in defs.schedules or []] == ["house_retraining"]
    with pytest.raises(SpecError, match="model_lifecycle_defs: model 'x': task: Input should be"):
        model_lifecycle_defs(**{**BASE, "name": "x", "task": "ranking"})
