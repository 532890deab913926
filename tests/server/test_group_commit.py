"""Group commit on a real registry file: changes that wait together share one transaction, and a
failing change fails alone while the others of its batch still happen, once each."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from registry_core import formats
from registry_core.config import resolve_location
from registry_core.errors import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from registry_core.store.embedded import EmbeddedStore
from registry_core.store.group_commit import Combine, GroupCommitter, Once


@pytest.fixture
def store(registry_path: Path) -> Iterator[EmbeddedStore]:
    opened = EmbeddedStore(resolve_location(str(registry_path)), idle_seconds=0, lock_timeout=10)
    with opened.session():
        yield opened
    opened.close()


def _batched(
    committer: GroupCommitter, changes: list[Callable[[], Any] | tuple[Any, ...]]
) -> list[Future[Any]]:
    """Submit `changes` (each a change, or `enqueue`'s arguments) while the committer is busy,
    so that they run as one batch."""
    gate, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        gate.wait(30)

    pool = ThreadPoolExecutor(len(changes) + 1)
    pool.submit(committer.submit, hold)
    assert started.wait(30)
    futures = []
    for change in changes:
        job = change if isinstance(change, tuple) else (change,)
        futures.append(pool.submit(lambda job=job: committer.enqueue(*job).result()))
        while committer._jobs.qsize() < len(futures):
            threading.Event().wait(0.001)
    deadline = time.monotonic() + 30
    while committer._jobs.qsize() < len(changes):
        assert time.monotonic() < deadline, "the changes never reached the committer"
        threading.Event().wait(0.005)
    gate.set()
    pool.shutdown(wait=True)
    return futures


def test_a_batch_commits_every_change(store: EmbeddedStore) -> None:
    committer = GroupCommitter(store)
    names = [f"model-{i}" for i in range(5)]
    futures = _batched(
        committer, [lambda n=n: store.create_registered_model(n).name for n in names]
    )
    committer.close()
    assert [f.result() for f in futures] == names
    store.close()
    assert sorted(m.name for m in store.search_registered_models()) == names


def test_a_failing_change_fails_alone(store: EmbeddedStore) -> None:
    store.create_registered_model("taken")
    committer = GroupCommitter(store)
    futures = _batched(
        committer,
        [
            lambda: store.create_model_version("taken", "runs:/0123abcd/model").version,
            lambda: store.create_registered_model("taken"),
            lambda: store.create_model_version("taken", "runs:/0123abcd/model").version,
            lambda: store.create_registered_model("fresh").name,
        ],
    )
    committer.close()
    with pytest.raises(ResourceAlreadyExists):
        futures[1].result()
    assert [futures[0].result(), futures[2].result(), futures[3].result()] == ["1", "2", "fresh"]
    versions = store.search_model_versions("name = 'taken'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    assert store.get_registered_model("fresh").name == "fresh"


def test_a_change_reads_the_history_an_earlier_change_of_its_batch_appended(
    store: EmbeddedStore,
) -> None:
    store.create_registered_model("m")
    for _ in range(2):
        store.create_model_version("m", "runs:/0123abcd/model")
    store.transition_model_version_stage("m", 1, "Production")
    committer = GroupCommitter(store)
    futures = _batched(
        committer,
        [
            lambda: store.transition_model_version_stage(
                "m", 2, "Production", archive_existing_versions=True
            ),
            lambda: store.rollback("m", "Production", actor="oncall").version,
            lambda: [entry.version for entry in store.get_model_version_history("m")],
        ],
    )
    committer.close()
    assert futures[1].result() == "1"
    history = store.get_model_version_history("m")
    assert [entry.version for entry in history] == futures[2].result()
    assert [(e.version, e.to_stage) for e in history if e.event == "stage"] == [
        ("1", "Production"),
        ("1", "Archived"),
        ("2", "Production"),
        ("2", "Archived"),
        ("1", "Production"),
    ]
    assert [e.id for e in history] == sorted(e.id for e in history)


def test_a_key_repeated_within_a_batch_is_answered_once(store: EmbeddedStore) -> None:
    store.create_registered_model("m")
    committer = GroupCommitter(store)

    def register() -> tuple[int, str]:
        return 200, store.create_model_version("m", "runs:/0123abcd/model").version

    same, other = Once("alice:key-00000001", "fp-1"), Once("alice:key-00000001", "fp-2")
    gate, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        gate.wait(30)

    with ThreadPoolExecutor(4) as pool:
        pool.submit(committer.submit, hold)
        assert started.wait(30)
        first = pool.submit(committer.submit, register, same)
        while committer._jobs.qsize() < 1:
            threading.Event().wait(0.005)
        again = pool.submit(committer.submit, register, same)
        while committer._jobs.qsize() < 2:
            threading.Event().wait(0.005)
        misused = pool.submit(committer.submit, register, other)
        while committer._jobs.qsize() < 3:
            threading.Event().wait(0.005)
        gate.set()
    later = committer.submit(register, same)
    committer.close()
    assert first.result() == again.result() == later == (200, "1")
    with pytest.raises(InvalidParameterValue, match="already used for a different request"):
        misused.result()
    assert [v.version for v in store.search_model_versions("name = 'm'")] == ["1"]


def _registration(
    store: EmbeddedStore, sizes: list[int], name: str, run: str, key: str | None = None
) -> tuple[Any, ...]:
    """`enqueue`'s arguments for registering a version of `name` from `run` as the server
    does: alone, or combined with neighbouring registrations (`sizes` notes each combined
    call's size)."""
    call = {"name": name, "source": f"runs:/{run}/model", "run_id": run, "tags": {"run": run}}

    def perform_all(calls: list[dict[str, Any]]) -> list[tuple[int, str]]:
        sizes.append(len(calls))
        return [(200, mv.version) for mv in store.create_model_versions(calls)]

    return (
        lambda: perform_all([call])[0],
        Once(f"alice:{key}", f"fp-{run}") if key else None,
        Combine("register", perform_all, call),
    )


def test_neighbouring_registrations_run_as_one_call(store: EmbeddedStore) -> None:
    for name in ("a", "b"):
        store.create_registered_model(name)
    committer = GroupCommitter(store)
    sizes: list[int] = []
    names = ["a", "b", "a", "a", "b"]
    futures = _batched(
        committer,
        [_registration(store, sizes, n, f"{i:08x}", f"key-{i}") for i, n in enumerate(names)],
    )
    committer.close()
    assert sizes == [5]
    assert [f.result() for f in futures] == [(200, v) for v in ["1", "1", "2", "3", "2"]]
    for i, name in enumerate(names):
        mv = store.get_model_version(name, futures[i].result()[1])
        assert (mv.run_id, mv.tags) == (f"{i:08x}", {"run": f"{i:08x}"})
    assert [(e.version, e.event) for e in store.get_model_version_history("a")] == [
        ("1", "version_created"),
        ("2", "version_created"),
        ("3", "version_created"),
    ]
    assert store.get_registered_model("b").latest_versions[0].version == "2"


def test_a_repeated_key_cuts_a_combined_run(store: EmbeddedStore) -> None:
    store.create_registered_model("m")
    committer = GroupCommitter(store)
    sizes: list[int] = []
    futures = _batched(
        committer,
        [
            _registration(store, sizes, "m", "0000000a", "k1"),
            _registration(store, sizes, "m", "0000000b", "k2"),
            _registration(store, sizes, "m", "0000000a", "k1"),
            _registration(store, sizes, "m", "0000000c", "k3"),
        ],
    )
    committer.close()
    assert sizes == [2, 1]
    assert [f.result() for f in futures] == [(200, "1"), (200, "2"), (200, "1"), (200, "3")]
    assert len(store.search_model_versions("name = 'm'")) == 3


def test_a_failing_registration_fails_alone_and_its_neighbours_still_register(
    store: EmbeddedStore,
) -> None:
    store.create_registered_model("m")
    committer = GroupCommitter(store)
    sizes: list[int] = []
    futures = _batched(
        committer,
        [
            _registration(store, sizes, "m", "0000000a", "k1"),
            _registration(store, sizes, "missing", "0000000b", "k2"),
            _registration(store, sizes, "m", "0000000c", "k3"),
        ],
    )
    committer.close()
    assert sizes == [3, 1, 1, 1]
    with pytest.raises(ResourceDoesNotExist, match="name=missing not found"):
        futures[1].result()
    assert (futures[0].result(), futures[2].result()) == ((200, "1"), (200, "2"))
    assert sorted(v.version for v in store.search_model_versions("name = 'm'")) == ["1", "2"]
    assert store.recorded_answers(["alice:k2"]) == {}


def test_one_call_registers_from_runs_held_and_foreign_and_refuses_a_missing_path(
    store: EmbeddedStore,
) -> None:
    run = store.create_run()
    stored = store.artifacts.put_bytes(formats.dump_model({"w": 4}, "pickle"))
    logged = store.log_run_artifact(run.run_id, "model", stored.sha256, "pickle")
    store.create_registered_model("m")
    held = {"name": "m", "source": f"runs:/{run.run_id}/model", "run_id": run.run_id}
    foreign = {"name": "m", "source": "runs:/0123abcd/model", "run_id": "0123abcd"}
    made = store.create_model_versions([held, foreign, held])
    assert [(mv.version, mv.artifact_sha256) for mv in made] == [
        ("1", logged.sha256),
        ("2", None),
        ("3", logged.sha256),
    ]
    missing = {**held, "source": f"runs:/{run.run_id}/other"}
    with pytest.raises(ResourceDoesNotExist, match="No artifact 'other'"):
        store.create_model_versions([foreign, missing])
    assert len(store.search_model_versions("name = 'm'")) == 3
