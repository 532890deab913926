"""Dataset snapshots: deterministic per seed, different across seeds, learnable for any seed."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from pandas.api.types import is_numeric_dtype

from registry_pipelines.datasets import load_demo, snapshot_seed, split
from registry_pipelines.definitions import SPECS as SHIPPED
from registry_pipelines.evaluation import check_thresholds, compute_metrics
from registry_pipelines.specs import DEMO_DATASETS

SPECS = {spec.name: spec for spec in SHIPPED}
DATASETS = {spec.data.demo: spec.data for spec in SPECS.values()}
SEEDS = [snapshot_seed(f"run-{index}") for index in range(10)]


def test_snapshot_seed_is_stable_31_bit_and_key_dependent() -> None:
    assert snapshot_seed("2024-06-01") == 999_627_609
    assert snapshot_seed("2024-06-01") == snapshot_seed("2024-06-01")
    assert len(set(SEEDS)) == len(SEEDS)
    assert all(0 <= seed < 2**31 for seed in SEEDS)


def test_every_kind_has_a_shipped_dataset() -> None:
    assert set(DATASETS) == set(DEMO_DATASETS)


@pytest.mark.parametrize("kind", sorted(DEMO_DATASETS))
def test_same_seed_same_frame_new_seed_new_frame(kind: str) -> None:
    spec = DATASETS[kind]
    frame = load_demo(spec, 7)
    pd.testing.assert_frame_equal(frame, load_demo(spec, 7))
    assert not frame.equals(load_demo(spec, 8))
    assert spec.target in frame.columns
    assert all(is_numeric_dtype(dtype) for dtype in frame.dtypes)
    assert not frame.isna().any().any()


def test_churn_table_columns_and_positive_rate() -> None:
    spec = DATASETS["synthetic_churn"]
    frame = load_demo(spec, SEEDS[0])
    assert len(frame) == spec.rows
    assert {
        "tenure_months",
        "contract_type",
        "monthly_charges",
        "total_charges",
        "support_calls",
        "num_products",
        "has_autopay",
        "late_payments",
        "churned",
    } <= set(frame.columns)
    assert set(frame["churned"].unique()) == {0, 1}
    for seed in SEEDS:
        assert 0.30 <= load_demo(spec, seed)["churned"].mean() <= 0.40


def test_wine_snapshot_is_a_90_percent_subsample() -> None:
    spec = DATASETS["sklearn_wine"]
    first, second = load_demo(spec, SEEDS[0]), load_demo(spec, SEEDS[1])
    assert len(first) == len(second) == 160
    assert not first.duplicated().any()
    assert set(first["target"].unique()) == {0, 1, 2}


def test_house_table_follows_the_formula() -> None:
    spec = DATASETS["synthetic_house"]
    frame = load_demo(spec, SEEDS[0])
    assert list(frame.columns) == ["f1", "f2", "f3", "price"]
    residual = frame["price"] - (2 * frame["f1"] + 3 * frame["f2"] - 0.5 * frame["f3"] + 50)
    assert abs(residual.mean()) < 0.1
    assert 0.9 < residual.std() < 1.1


def test_split_is_seeded_and_stratified() -> None:
    spec = DATASETS["synthetic_churn"]
    frame = load_demo(spec, 3)
    x_train, x_test, y_train, y_test = split(frame, spec, "classification", 3)
    assert len(x_test) == len(y_test) == round(spec.test_size * len(frame))
    assert len(x_train) + len(x_test) == len(frame)
    assert spec.target not in x_train.columns
    assert abs(y_train.mean() - y_test.mean()) < 0.005
    pd.testing.assert_index_equal(x_test.index, split(frame, spec, "classification", 3)[1].index)


@cache
def _holdout_metrics(name: str, seed: int) -> dict[str, float]:
    """Train the named shipped model on the seed's snapshot and score it on the holdout."""
    spec = SPECS[name]
    x_train, x_test, y_train, y_test = split(load_demo(spec.data, seed), spec.data, spec.task, seed)
    model = spec.training.build().fit(x_train, y_train)
    score = model.predict_proba(x_test) if spec.task == "classification" else None
    return compute_metrics(spec.task, spec.metrics, y_test, model.predict(x_test), score)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_shipped_models_pass_their_thresholds_for_any_seed(name: str) -> None:
    failures = {seed: check_thresholds(SPECS[name], _holdout_metrics(name, seed)) for seed in SEEDS}
    assert {seed: reasons for seed, reasons in failures.items() if reasons} == {}


def test_churn_model_lands_in_the_intended_band() -> None:
    runs = [_holdout_metrics("churn-predictor", seed) for seed in SEEDS]
    assert 0.93 <= np.mean([run["accuracy"] for run in runs]) <= 0.97
    assert 0.91 <= np.mean([run["f1"] for run in runs]) <= 0.96
