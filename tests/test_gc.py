"""Garbage collection removes exactly the artifacts nothing references any more."""

from __future__ import annotations

import pytest

from registry_core import formats
from registry_core.client import RegistryClient


@pytest.fixture
def client(embedded_client: RegistryClient) -> RegistryClient:
    """These tests drive the embedded deliverer and artifact folder directly."""
    return embedded_client


def test_gc_removes_exactly_the_unreferenced_files(client: RegistryClient) -> None:
    kept_by_version = client.artifacts.put_bytes(formats.dump_model({"w": 1}, "pickle"))
    dropped_with_version = client.artifacts.put_bytes(formats.dump_model({"w": 2}, "pickle"))
    never_referenced = client.artifacts.put_bytes(formats.dump_model({"w": 3}, "pickle"))
    client.create_registered_model("m")
    client.create_model_version("m", kept_by_version.uri)
    client.create_model_version("m", dropped_with_version.uri)
    run = client.create_run()
    run_artifact = client.log_model_artifact(run.run_id, {"w": 4}, "model", format="pickle")
    client.delete_model_version("m", 2)

    assert client.gc(dry_run=True) == []
    dry = client.gc(dry_run=True, grace_seconds=0)
    assert {ref.sha256 for ref in dry} == {dropped_with_version.sha256, never_referenced.sha256}
    assert client.artifacts.exists(never_referenced.sha256)

    removed = client.gc(grace_seconds=0)
    assert {ref.sha256 for ref in removed} == {
        dropped_with_version.sha256,
        never_referenced.sha256,
    }
    assert client.artifacts.digests() == {kept_by_version.sha256, run_artifact.sha256}

    client.delete_run(run.run_id)
    client.delete_registered_model("m")
    assert {ref.sha256 for ref in client.gc(grace_seconds=0)} == {
        kept_by_version.sha256,
        run_artifact.sha256,
    }
    assert client.artifacts.digests() == set()
