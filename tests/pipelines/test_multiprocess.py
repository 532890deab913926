"""Every model's training chain at once under Dagster's multiprocess executor, one registry file:
step subprocesses overlap in time and all register their versions without lock failures.

Steps start through a forkserver that has already imported the code location, so each step
process costs a fork instead of a fresh interpreter importing Dagster, pandas and scikit-learn
(about 5 s each on two idle cores, several times that on a busy machine). A forkserver keeps the
environment it started with, so the test stops any forkserver before and after it runs: the
step processes then see this test's `MODEL_REGISTRY_URI`.
"""

from __future__ import annotations

import multiprocessing.forkserver
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from registry_core.client import RegistryClient
from registry_core.config import ENV_URI
from registry_pipelines.definitions import SPECS, all_models_training_job
from registry_pipelines.lifecycle import lifecycle_keys

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


@pytest.fixture
def fresh_forkserver() -> Iterator[None]:
    """No forkserver started with another environment before this test, none left after it."""
    multiprocessing.forkserver._forkserver._stop()
    yield
    multiprocessing.forkserver._forkserver._stop()


def step_intervals(
    instance: dg.DagsterInstance, run_id: str
) -> dict[str, tuple[float, float, int]]:
    """Each step's (start, success) timestamps and the pid of the process that ran it."""
    starts: dict[str, tuple[float, int]] = {}
    intervals: dict[str, tuple[float, float, int]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[entry.step_key] = (entry.timestamp, event.pid)
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            start, pid = starts[entry.step_key]
            intervals[entry.step_key] = (start, entry.timestamp, pid)
    return intervals


def overlapping_pairs(intervals: dict[str, tuple[float, float, int]]) -> list[tuple[str, str]]:
    """Pairs of steps that ran in different processes at the same time."""
    keys = sorted(intervals)
    pairs = []
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            start_a, end_a, pid_a = intervals[first]
            start_b, end_b, pid_b = intervals[second]
            if pid_a != pid_b and start_a < end_b and start_b < end_a:
                pairs.append((first, second))
    return pairs


@pytest.mark.timeout(240)
def test_all_models_train_in_parallel_against_one_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_forkserver: None
) -> None:
    """One multiprocess run of every chain: all steps succeed, overlap, and register v1 each."""
    registry_dir = tmp_path / "registry"
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    monkeypatch.setenv(ENV_URI, str(registry_dir))
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        with dg.execute_job(
            dg.reconstructable(all_models_training_job), instance=instance, run_config=MULTIPROCESS
        ) as result:
            assert result.success
            run_id = result.run_id
            expected_steps = {
                key.to_python_identifier()
                for spec in SPECS
                for key in lifecycle_keys(spec).training_chain
            }
            succeeded = {e.step_key for e in result.get_step_success_events()}
            assert succeeded == expected_steps
            assert result.get_step_failure_events() == []
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        intervals = step_intervals(instance, run_id)
        file_costs = {
            entry.step_key: entry.user_message
            for entry in instance.all_logs(run_id)
            if entry.step_key and entry.user_message.startswith("Registry file: ")
        }

    assert set(intervals) == expected_steps
    assert len({pid for _, _, pid in intervals.values()}) > 1
    overlaps = overlapping_pairs(intervals)
    print(f"steps that overlapped in time: {overlaps}")
    assert overlaps, f"no two steps overlapped: {intervals}"
    # Each step that used the registry logged what the file cost it, the waits included.
    print("\n".join(f"{step}: {cost}" for step, cost in sorted(file_costs.items())))
    assert {step.rsplit("__", 1)[-1] for step in file_costs} >= {"trained_model", "evaluation"}
    assert all(" waited " in cost for cost in file_costs.values())

    client = RegistryClient(registry_dir, idle_timeout=0)
    found = client.search_model_versions()
    versions: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
    for mv in found:
        versions[mv.name].append((mv.version, mv.current_stage, mv.tags.get("validation")))
    assert dict(versions) == {spec.name: [("1", "Staging", "passed")] for spec in SPECS}
    assert len({mv.run_id for mv in found}) == len(SPECS)
    assert {mv.tags["dagster_run_id"] for mv in found} == {run_id}
    assert client.check_consistency() == []
