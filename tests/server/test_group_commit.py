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

from registry_core.config import resolve_location
from registry_core.errors import InvalidParameterValue, ResourceAlreadyExists
from registry_core.store.embedded import EmbeddedStore
from registry_core.store.group_commit import GroupCommitter, Once


@pytest.fixture
def store(registry_path: Path) -> Iterator[EmbeddedStore]:
    opened = EmbeddedStore(resolve_location(str(registry_path)), idle_seconds=0, lock_timeout=10)
    with opened.session():
        yield opened
    opened.close()


def _batched(committer: GroupCommitter, changes: list[Callable[[], Any]]) -> list[Future[Any]]:
    """Submit `changes` while the committer is busy, so that they run as one batch."""
    gate, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        gate.wait(30)

    pool = ThreadPoolExecutor(len(changes) + 1)
    pool.submit(committer.submit, hold)
    assert started.wait(30)
    futures = [pool.submit(committer.submit, change) for change in changes]
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
