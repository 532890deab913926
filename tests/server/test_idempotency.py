"""A write sent twice with one Idempotency-Key happens once, whether its key starts with the
server's epoch or not, before and after the epoch changes; a key reused for another request is
refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry_core.api.endpoints import EPOCH_HEADER, IDEMPOTENCY_HEADER, MLFLOW
from registry_core.config import resolve_location
from registry_core.errors import InvalidParameterValue
from registry_core.store.embedded import EmbeddedStore
from registry_core.store.group_commit import GroupCommitter, Once
from tests.server_harness import running_server

CREATE = MLFLOW + "/model-versions/create"


@pytest.fixture
def server(registry_path: Path) -> Iterator[httpx.Client]:
    with running_server(registry_path) as url, httpx.Client(base_url=url) as http:
        http.post(MLFLOW + "/registered-models/create", json={"name": "m"}).raise_for_status()
        yield http


def _create(http: httpx.Client, key: str, source: str = "runs:/0123abcd/model") -> httpx.Response:
    return http.post(
        CREATE, json={"name": "m", "source": source}, headers={IDEMPOTENCY_HEADER: key}
    )


def _versions(http: httpx.Client) -> list[str]:
    found = http.get(MLFLOW + "/model-versions/search", params={"filter": "name='m'"}).json()
    return sorted(mv["version"] for mv in found["model_versions"])


@pytest.mark.parametrize("with_epoch", [False, True], ids=["plain-key", "epoch-key"])
def test_a_repeated_key_gets_the_first_answer(server: httpx.Client, with_epoch: bool) -> None:
    epoch = _create(server, "warm-up-0001").headers[EPOCH_HEADER]
    assert len(epoch) == 16
    key = f"{epoch}.retry-0001" if with_epoch else "retry-00000001"
    first, again = _create(server, key), _create(server, key)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["model_version"]["version"] == "2"
    refused = _create(server, key, source="runs:/4567cdef/model")
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert _versions(server) == ["1", "2"]


def test_keys_of_an_ended_epoch_are_still_answered_once(registry_path: Path) -> None:
    store = EmbeddedStore(resolve_location(str(registry_path)), idle_seconds=0, lock_timeout=10)
    with store.session():
        store.create_registered_model("m")
        committer = GroupCommitter(store, epoch_keys=2)

        def register() -> tuple[int, str]:
            return 200, store.create_model_version("m", "runs:/0123abcd/model").version

        first_epoch = committer.epoch
        keys = [Once(f"anonymous:{first_epoch}.key-{i}", f"fp-{i}", first_epoch) for i in (1, 2)]
        answers = [committer.submit(register, once) for once in keys]
        assert committer.epoch != first_epoch
        assert (
            [committer.submit(register, once) for once in keys]
            == answers
            == [
                (200, "1"),
                (200, "2"),
            ]
        )
        with pytest.raises(InvalidParameterValue):
            committer.submit(register, Once(keys[0].key, "another request", first_epoch))
        fresh = Once(f"anonymous:{committer.epoch}.key-3", "fp-3", committer.epoch)
        assert committer.submit(register, fresh) == committer.submit(register, fresh) == (200, "3")
        committer.close()
        assert sorted(v.version for v in store.search_model_versions("name = 'm'")) == [
            "1",
            "2",
            "3",
        ]
    store.close()
