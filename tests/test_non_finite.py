"""NaN and infinity as times, steps and settings are INVALID_PARAMETER_VALUE, like `abc` and -5."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from registry_core import config
from registry_core.client import RegistryClient
from registry_core.config import resolve_location
from registry_core.entities import Metric
from registry_core.errors import INVALID_PARAMETER_VALUE
from registry_core.store.embedded import EmbeddedStore
from tests.conftest import error_code

NOT_FINITE = [math.nan, math.inf, -math.inf]
NOT_A_TIME = [*NOT_FINITE, 1e300, 2**63, -(2**63), True, "later", None, [1]]


@pytest.fixture
def model(client: RegistryClient) -> str:
    client.create_registered_model("m1")
    client.create_model_version("m1", "runs:/r1/model")
    client.transition_model_version_stage("m1", 1, "Production")
    return "m1"


@pytest.mark.parametrize("when", NOT_A_TIME, ids=repr)
def test_version_at_refuses_what_is_not_a_time(
    client: RegistryClient, registry_path: Path, model: str, when: object
) -> None:
    assert error_code(lambda: client.get_version_at(model, "Production", when)) == (
        INVALID_PARAMETER_VALUE
    )
    # The store itself refuses it too: a server hands it what a request carried.
    store = EmbeddedStore(resolve_location(registry_path), 0.25, 30)
    assert error_code(lambda: store.get_version_at(model, "Production", when)) == (
        INVALID_PARAMETER_VALUE
    )


def test_version_at_takes_whole_and_fractional_milliseconds(
    client: RegistryClient, model: str
) -> None:
    later = client.get_model_version(model, 1).last_updated_timestamp + 1
    assert client.get_version_at(model, "Production", later).version == "1"
    assert client.get_version_at(model, "Production", float(later) + 0.5).version == "1"


@pytest.mark.parametrize("value", [*NOT_FINITE, 1e300], ids=repr)
def test_metric_steps_and_times_must_be_finite(client: RegistryClient, value: float) -> None:
    run = client.create_run("r").run_id
    for metric in (Metric("m", 1.0, value, 1), Metric("m", 1.0, 0, value)):  # type: ignore[arg-type]
        assert error_code(lambda metric=metric: client.log_batch(run, [metric])) == (
            INVALID_PARAMETER_VALUE
        )
    assert error_code(lambda: client.set_terminated(run, end_time=value)) == INVALID_PARAMETER_VALUE
    client.log_metric(run, "m", math.nan)  # a NaN metric value is a value, as in MLflow
    assert math.isnan(client.get_run(run).metrics["m"])


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "abc", "-5"])
@pytest.mark.parametrize("name", [config.ENV_LOCK_TIMEOUT, config.ENV_IDLE_SECONDS])
def test_settings_from_the_environment_must_be_finite(
    registry_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, raw: str
) -> None:
    monkeypatch.setenv(name, raw)
    assert error_code(lambda: RegistryClient(registry_path)) == INVALID_PARAMETER_VALUE


@pytest.mark.parametrize("value", [*NOT_FINITE, -1.0, "30"], ids=repr)
def test_settings_given_as_arguments_must_be_finite(registry_path: Path, value: object) -> None:
    for settings in ({"lock_timeout": value}, {"idle_timeout": value}):
        assert error_code(lambda settings=settings: RegistryClient(registry_path, **settings)) == (
            INVALID_PARAMETER_VALUE
        )
