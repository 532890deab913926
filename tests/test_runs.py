"""Runs: params, metric history, tags, data fingerprints, source info and search."""

from __future__ import annotations

import pandas as pd
import pytest

from registry_core.client import RegistryClient
from registry_core.entities import Metric
from registry_core.errors import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, RegistryError


def test_run_record(client: RegistryClient) -> None:
    run = client.create_run(
        "train",
        tags={"team": "growth"},
        code_version="abc123",
        source_info={"dagster_run_id": "d-1"},
    )
    assert (run.status, run.run_name, run.code_version) == ("RUNNING", "train", "abc123")
    client.log_param(run.run_id, "alpha", 0.5)
    client.log_param(run.run_id, "alpha", 0.5)
    for step, value in enumerate([0.5, 0.7, 0.9]):
        client.log_metric(run.run_id, "accuracy", value, step=step)
    client.set_tag(run.run_id, "stage", "candidate")
    client.update_run_source_info(run.run_id, {"asset_key": "churn/trained_model"})
    fingerprint = client.log_input(run.run_id, pd.DataFrame({"a": [1, 2, 3]}))
    client.set_terminated(run.run_id)
    got = client.get_run(run.run_id)
    assert got.params == {"alpha": "0.5"}
    assert got.metrics == {"accuracy": 0.9}
    assert got.tags == {"team": "growth", "stage": "candidate"}
    assert got.source_info == {"dagster_run_id": "d-1", "asset_key": "churn/trained_model"}
    assert got.data_fingerprint == {"training": fingerprint.to_dict()}
    assert got.status == "FINISHED" and got.end_time >= got.start_time
    history = client.get_metric_history(run.run_id, "accuracy")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.7), (2, 0.9)]


def test_params_never_change(client: RegistryClient) -> None:
    run = client.create_run()
    client.log_param(run.run_id, "alpha", 1)
    with pytest.raises(RegistryError, match="alpha") as caught:
        client.log_param(run.run_id, "alpha", 2)
    assert caught.value.error_code == INVALID_PARAMETER_VALUE


def test_bad_metric_and_missing_run(client: RegistryClient) -> None:
    run = client.create_run()
    with pytest.raises(RegistryError) as caught:
        client.log_metric(run.run_id, "m", "high")
    assert caught.value.error_code == INVALID_PARAMETER_VALUE
    with pytest.raises(RegistryError) as caught:
        client.get_run("f" * 32)
    assert caught.value.error_code == RESOURCE_DOES_NOT_EXIST
    with pytest.raises(RegistryError) as caught:
        client.get_run("'; DROP TABLE runs; --")
    assert caught.value.error_code == INVALID_PARAMETER_VALUE


def test_search_runs(client: RegistryClient) -> None:
    ids = []
    for alpha, accuracy in [(0.1, 0.8), (0.5, 0.92), (1.0, 0.95)]:
        run = client.create_run(f"alpha-{alpha}")
        client.log_batch(
            run.run_id,
            metrics=[Metric("accuracy", accuracy, 0, 1)],
            params={"alpha": alpha},
            tags={"model": "churn"},
        )
        ids.append(run.run_id)
    found = client.search_runs(
        "metrics.accuracy > 0.9 AND tags.model = 'churn'", order_by=["metrics.accuracy DESC"]
    )
    assert [run.run_id for run in found] == [ids[2], ids[1]]
    assert [r.run_id for r in client.search_runs("params.alpha = '0.1'")] == [ids[0]]
    page = client.search_runs(max_results=2, order_by=["run_name ASC"])
    rest = client.search_runs(max_results=2, order_by=["run_name ASC"], page_token=page.token)
    assert [r.run_name for r in [*page, *rest]] == ["alpha-0.1", "alpha-0.5", "alpha-1.0"]
    assert rest.token is None
