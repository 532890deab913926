"""The model spec file: the shipped models load, and broken files fail naming file and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline

from registry_pipelines.specs import (
    PACKAGED_SPECS,
    SPECS_PATH_ENV,
    ModelSpec,
    SpecError,
    build_estimator,
    load_specs,
)

Edit = Callable[[dict[str, Any]], None]


def _shipped() -> dict[str, Any]:
    """A fresh copy of the packaged spec file's raw data."""
    return yaml.safe_load(PACKAGED_SPECS.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: object) -> Path:
    """Dump spec data to a YAML file under tmp_path."""
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _model(data: dict[str, Any], index: int) -> dict[str, Any]:
    """The raw spec of models[index]."""
    return data["models"][index]


def test_shipped_specs_load() -> None:
    specs = load_specs()
    assert [spec.name for spec in specs] == [
        "churn-predictor",
        "wine-quality-classifier",
        "HousePricePredictor",
    ]
    assert [spec.asset_prefix for spec in specs] == [
        "churn_predictor",
        "wine_quality_classifier",
        "house_price_predictor",
    ]
    assert len({spec.retrain.cron for spec in specs}) == 3
    assert all(spec.promotion.policy == "auto" for spec in specs)
    assert all(spec.validation.max_regression for spec in specs)
    churn = specs[0]
    assert churn.validation.thresholds["accuracy"].min == 0.90
    assert churn.validation.thresholds["f1"].min == 0.88


def test_build_estimator_follows_the_spec() -> None:
    churn, wine, house = load_specs()
    churn_model = build_estimator(churn)
    assert isinstance(churn_model, GradientBoostingClassifier)
    assert churn_model.get_params()["n_estimators"] == churn.estimator.params["n_estimators"]
    assert build_estimator(churn) is not churn_model
    wine_model = build_estimator(wine)
    assert isinstance(wine_model, Pipeline)
    assert [name for name, _ in wine_model.steps] == ["scale", "model"]
    assert isinstance(build_estimator(house), LinearRegression)


def test_env_var_overrides_the_packaged_file_and_a_path_overrides_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _shipped()
    data["models"] = data["models"][2:]
    monkeypatch.setenv(SPECS_PATH_ENV, str(_write(tmp_path, data)))
    assert [spec.name for spec in load_specs()] == ["HousePricePredictor"]
    assert len(load_specs(PACKAGED_SPECS)) == 3


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("churn-predictor", "churn_predictor"),
        ("HousePricePredictor", "house_price_predictor"),
        ("XGBoostModel v2", "xg_boost_model_v2"),
        ("fraud.detector--EU", "fraud_detector_eu"),
    ],
)
def test_asset_prefix_is_a_snake_case_key_part(name: str, prefix: str) -> None:
    raw = _model(_shipped(), 2) | {"name": name}
    assert ModelSpec.model_validate(raw).asset_prefix == prefix


def _set(path: str, value: object) -> Edit:
    """An edit that sets a dotted path (`models.1.validation.thresholds`) in the raw data."""

    def edit(data: dict[str, Any]) -> None:
        *parents, last = [int(key) if key.isdigit() else key for key in path.split(".")]
        node: Any = data
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


def _remove_metric(data: dict[str, Any]) -> None:
    """Unlist f1 from the churn model's metrics while a threshold still uses it."""
    _model(data, 0)["metrics"].remove("f1")


def _copy_name(data: dict[str, Any]) -> None:
    """Give the house model the churn model's name."""
    _model(data, 2)["name"] = _model(data, 0)["name"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            _set("models.0.estimator.colour", "red"),
            "model 'churn-predictor': models[0].estimator.colour: Extra inputs are not permitted",
            id="unknown-field",
        ),
        pytest.param(
            _set("models.1.validation.thresholds.accuracy.min", "high"),
            "model 'wine-quality-classifier': "
            "models[1].validation.thresholds.accuracy.min: Input should be a valid number",
            id="wrong-type",
        ),
        pytest.param(
            _remove_metric,
            "model 'churn-predictor': models[0].validation.thresholds.f1: "
            "f1 is not listed in metrics",
            id="threshold-on-unlisted-metric",
        ),
        pytest.param(
            _set("models.1.validation.max_regression.precision", 0.1),
            "models[1].validation.max_regression.precision: precision is not listed in metrics",
            id="regression-on-unlisted-metric",
        ),
        pytest.param(
            _set("models.0.validation.thresholds.log_loss", {"max": 0.3}),
            "models[0].validation.thresholds.log_loss[key]: Input should be 'accuracy'",
            id="unsupported-metric",
        ),
        pytest.param(
            _set("models.0.retrain.cron", "0 2 * *"),
            "models[0].retrain.cron: cron must have 5 fields",
            id="cron-with-4-fields",
        ),
        pytest.param(
            _set("models.0.retrain.cron", "@daily"),
            "models[0].retrain.cron: cron must have 5 fields",
            id="cron-macro",
        ),
        pytest.param(
            _set("models.0.retrain.timezone", "Mars/Olympus"),
            "models[0].retrain.timezone: unknown time zone 'Mars/Olympus'",
            id="bad-timezone",
        ),
        pytest.param(
            _set("models.0.estimator.class", "xgboost.XGBClassifier"),
            "models[0].estimator.class: 'xgboost.XGBClassifier' is not a scikit-learn class",
            id="non-sklearn-class",
        ),
        pytest.param(
            _set("models.0.estimator.class", "sklearn.ensemble.NoSuchForest"),
            "models[0].estimator.class: 'sklearn.ensemble.NoSuchForest' is not a scikit-learn "
            "estimator class",
            id="missing-sklearn-class",
        ),
        pytest.param(
            _set("models.0.estimator.class", "sklearn.model_selection.train_test_split"),
            "is not a scikit-learn estimator class",
            id="sklearn-function",
        ),
        pytest.param(
            _set("models.0.estimator.class", "sklearn.ensemble.GradientBoostingRegressor"),
            "models[0].estimator.class: sklearn.ensemble.GradientBoostingRegressor is not a "
            "classification estimator",
            id="estimator-for-the-wrong-task",
        ),
        pytest.param(
            _set("models.0.estimator.params.n_trees", 10),
            "models[0].estimator.params.n_trees: not a parameter of GradientBoostingClassifier",
            id="unknown-estimator-param",
        ),
        pytest.param(
            _set("models.2.metrics", ["r2", "accuracy"]),
            "models[2].metrics[1]: accuracy is not a regression metric",
            id="metric-for-the-wrong-task",
        ),
        pytest.param(
            _set("models.2.dataset.kind", "sklearn_wine"),
            "models[2].dataset.rows: sklearn_wine has a fixed size; remove rows",
            id="rows-on-a-fixed-dataset",
        ),
        pytest.param(
            _set("models.0.dataset.target", "label"),
            "models[0].dataset.target: synthetic_churn has the target column 'churned'",
            id="wrong-target",
        ),
        pytest.param(
            _set("models.0.dataset.test_size", 1.5),
            "models[0].dataset.test_size: Input should be less than 1",
            id="test-size-out-of-range",
        ),
        pytest.param(
            _set("models.0.validation.max_regression.f1", -0.1),
            "models[0].validation.max_regression.f1: Input should be greater than or equal to 0",
            id="negative-tolerance",
        ),
        pytest.param(
            _set("models.0.validation.thresholds.f1", {"min": 0.9, "max": 0.8}),
            "models[0].validation.thresholds.f1: min 0.9 is greater than max 0.8",
            id="inverted-threshold",
        ),
        pytest.param(
            _set("models.1.promotion.policy", "yolo"),
            "models[1].promotion.policy: Input should be 'auto', 'staging' or 'manual'",
            id="bad-policy",
        ),
        pytest.param(
            _copy_name,
            "model 'churn-predictor': models[2].name: duplicate model name 'churn-predictor' "
            "(also models[0])",
            id="duplicate-name",
        ),
        pytest.param(
            _set("models.2.name", "Churn Predictor"),
            "models[2].name: asset prefix 'churn_predictor' clashes with models[0]",
            id="duplicate-asset-prefix",
        ),
        pytest.param(
            _set("models.2.asset_prefix", "house"),
            "models[2].asset_prefix: Extra inputs are not permitted",
            id="asset-prefix-is-derived",
        ),
        pytest.param(
            _set("models", []),
            "models: List should have at least 1 item",
            id="no-models",
        ),
    ],
)
def test_bad_spec_files_name_the_file_model_and_field(
    tmp_path: Path, edit: Edit, expected: str
) -> None:
    data = _shipped()
    edit(data)
    path = _write(tmp_path, data)
    with pytest.raises(SpecError) as caught:
        load_specs(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_missing_required_field_names_the_model(tmp_path: Path) -> None:
    data = _shipped()
    del _model(data, 1)["retrain"]
    with pytest.raises(SpecError, match=r"model 'wine-quality-classifier': models\[1\]\.retrain"):
        load_specs(_write(tmp_path, data))


def test_unreadable_or_malformed_files_raise_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the model spec file"):
        load_specs(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [\n", encoding="utf-8")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_specs(broken)
    with pytest.raises(SpecError, match=r"\(top level\): Input should be a valid dictionary"):
        load_specs(_write(tmp_path, ["not", "a", "mapping"]))


def test_spec_error_is_a_value_error() -> None:
    assert issubclass(SpecError, ValueError)
