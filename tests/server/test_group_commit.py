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
from registry_core.errors import ResourceAlreadyExists
from registry_core.store.embedded import EmbeddedStore
from registry_core.store.group_commit import GroupCommitter


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
    committer = GroupCommitter(store.manager)
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
    committer = GroupCommitter(store.manager)
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
