"""The store's one-model import, on an embedded file and through a server: all or nothing,
version numbers and times kept, and nothing written twice."""

from __future__ import annotations

from dataclasses import replace

import pytest

from registry_core.client import RegistryClient
from registry_core.entities import Metric
from registry_core.errors import RegistryError
from registry_core.mlflow_import.bundle import (
    IMPORT_NAME_TAG,
    ImportedModel,
    ImportedRun,
    ImportedVersion,
)
from tests.conftest import error_code


def bundle(
    client: RegistryClient, numbers: tuple[int, ...], missing: int | None = None
) -> ImportedModel:
    """MLflow's `m` with the given version numbers (the `missing` one names no stored file)."""
    versions = []
    for number in numbers:
        digest = client.artifacts.put_bytes(f"model {number}".encode()).sha256
        versions.append(
            ImportedVersion(
                version=number,
                current_stage="Production" if number == 1 else "None",
                status="READY",
                description=f"v{number}",
                tags={"k": str(number)},
                run_id=f"run{number}",
                run_link=None,
                user_id="alice",
                creation_timestamp=1_000 + number,
                last_updated_timestamp=2_000 + number,
                artifact_sha256="0" * 64 if number == missing else digest,
                artifact_format="pickle",
            )
        )
    runs = tuple(
        ImportedRun(
            run_id=f"run{number}",
            run_name=f"r{number}",
            status="FINISHED",
            start_time=10,
            end_time=20,
            user_id="alice",
            experiment_name="exp",
            params={"p": str(number)},
            tags={"t": "x"},
            metrics=(Metric("loss", 1.0, 0, 11), Metric("loss", 0.5, 1, 12)),
        )
        for number in numbers
    )
    return ImportedModel(
        name="m",
        description="from MLflow",
        tags={IMPORT_NAME_TAG: "m"},
        aliases={"champion": numbers[0]},
        creation_timestamp=5,
        last_updated_timestamp=6,
        versions=tuple(versions),
        runs=runs,
        reason="imported from MLflow (test)",
    )


def test_a_model_is_imported_whole_with_its_numbers_and_times(client: RegistryClient) -> None:
    result = client.import_mlflow_model(bundle(client, (1, 3)))
    assert (result.created, result.versions, result.runs, result.metrics) == (True, 2, 2, 4)
    mv = client.get_model_version("m", 3)
    assert (mv.creation_timestamp, mv.last_updated_timestamp, mv.description) == (1003, 2003, "v3")
    assert client.get_model_version("m", 1).current_stage == "Production"
    assert client.get_model_version_by_alias("m", "champion").version == "1"
    assert [m.step for m in client.get_metric_history("run3", "loss")] == [0, 1]
    assert client.get_experiment(client.get_run("run1").experiment_id).name == "exp"
    history = client.get_model_version_history("m", 1)
    assert [(e.event, e.to_stage, e.actor) for e in history] == [
        ("imported", "Production", "alice"),
        ("alias_set", None, history[1].actor),
    ]
    assert client.create_model_version("m", f"artifacts:/{mv.artifact_sha256}").version == "4"
    assert client.check_consistency() == []


def test_a_repeat_writes_nothing_and_a_later_one_only_what_is_new(client: RegistryClient) -> None:
    client.import_mlflow_model(bundle(client, (1,)))
    again = client.import_mlflow_model(bundle(client, (1,)))
    assert (again.created, again.versions, again.runs, again.aliases) == (False, 0, 0, 0)
    more = client.import_mlflow_model(bundle(client, (1, 2)))
    assert (more.versions, more.runs) == (1, 1)
    assert len(client.get_model_version_history("m")) == 3


@pytest.mark.parametrize("broken", ["missing artifact", "alias of no version"])
def test_a_failing_model_leaves_nothing_behind(client: RegistryClient, broken: str) -> None:
    model = bundle(client, (1, 2), missing=2 if broken == "missing artifact" else None)
    if broken == "alias of no version":
        # Fails after the versions and runs are written: the transaction takes them back.
        model = replace(model, aliases={"champion": 9})
    assert error_code(lambda: client.import_mlflow_model(model)) in (
        "RESOURCE_DOES_NOT_EXIST",
        "INVALID_PARAMETER_VALUE",
    )
    assert client.search_registered_models() == []
    assert client.search_runs() == []


def test_a_model_not_from_mlflow_is_never_merged_into(client: RegistryClient) -> None:
    client.create_registered_model("m")
    with pytest.raises(RegistryError) as caught:
        client.import_mlflow_model(bundle(client, (1,)))
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert client.search_model_versions("name='m'") == []
