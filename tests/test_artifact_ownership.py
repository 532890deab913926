"""Each registry file owns its artifact folder, and gc never deletes what another registry holds.

Regression for issue 16: with `one.duckdb` and `two.duckdb` in one folder, both used to share
`<folder>/artifacts/`, and `two.gc()` deleted the model file `one.duckdb` pointed at.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sklearn.linear_model import LinearRegression

from registry_core import formats
from registry_core.artifacts import OWNER_FILE_NAME
from registry_core.client import RegistryClient
from registry_core.doctor import examine
from registry_core.errors import INVALID_STATE, ArtifactFolderConflict, ArtifactIntegrityError
from tests.conftest import error_code


def _register_model(client: RegistryClient, name: str) -> str:
    """A fitted model logged to a run and registered; its artifact's digest."""
    run = client.create_run(name)
    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    artifact = client.log_model_artifact(run.run_id, model, "model")
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run.run_id}/model", run_id=run.run_id)
    return artifact.sha256


def test_two_registry_files_in_one_folder_keep_their_artifacts_apart(tmp_path: Path) -> None:
    one = RegistryClient(tmp_path / "one.duckdb", idle_timeout=0)
    two = RegistryClient(tmp_path / "two.duckdb", idle_timeout=0)
    digest = _register_model(one, "kept")
    stray = two.artifacts.put_bytes(formats.dump_model({"w": 1}, formats.PICKLE))

    assert one.artifacts.root == tmp_path / "one.artifacts"
    assert two.artifacts.root == tmp_path / "two.artifacts"
    assert [ref.sha256 for ref in two.gc(grace_seconds=0)] == [stray.sha256]

    assert one.artifacts.read_verified(digest)
    assert examine(one).ok
    assert examine(two).ok
    assert one.gc(grace_seconds=0) == []


def test_the_default_file_keeps_artifacts_and_another_file_beside_it_its_own(
    tmp_path: Path,
) -> None:
    default = RegistryClient(tmp_path, idle_timeout=0)
    other = RegistryClient(tmp_path / "other.duckdb", idle_timeout=0)
    digest = _register_model(default, "kept")
    other.create_registered_model("empty")

    assert default.artifacts.root == tmp_path / "artifacts"
    assert other.gc(grace_seconds=0) == []
    assert default.artifacts.read_verified(digest)
    owner = json.loads((tmp_path / "artifacts" / OWNER_FILE_NAME).read_text())
    assert owner["registry_file"] == str(tmp_path / "registry.duckdb")


def test_gc_and_writes_refuse_a_folder_another_registry_owns(tmp_path: Path) -> None:
    """A registry file replaced by another one (here: a new, empty file) must not take over
    the folder and delete every model of the registry that filled it."""
    first = RegistryClient(tmp_path, idle_timeout=0)
    digest = _register_model(first, "kept")
    first.close()
    (tmp_path / "elsewhere").mkdir()
    shutil.move(tmp_path / "registry.duckdb", tmp_path / "elsewhere" / "registry.duckdb")

    second = RegistryClient(tmp_path, idle_timeout=0)
    for refused in (
        lambda: second.gc(grace_seconds=0),
        lambda: second.gc(dry_run=True, grace_seconds=0),
        lambda: second.artifacts.put_bytes(b"anything"),
    ):
        with pytest.raises(ArtifactFolderConflict) as caught:
            refused()
        assert caught.value.error_code == INVALID_STATE
        assert "belongs to registry" in caught.value.message
    assert first.artifacts.read_verified(digest)
    findings = examine(second).findings
    assert [finding.check for finding in findings] == ["artifact folder"]

    # Deleting the record, as the error says, hands the folder over.
    (tmp_path / "artifacts" / OWNER_FILE_NAME).unlink()
    assert [ref.sha256 for ref in second.gc(grace_seconds=0)] == [digest]


def test_a_folder_from_before_ownership_is_claimed_unless_other_files_may_share_it(
    tmp_path: Path,
) -> None:
    default = RegistryClient(tmp_path, idle_timeout=0)
    digest = _register_model(default, "kept")
    stray = default.artifacts.put_bytes(formats.dump_model({"w": 2}, formats.PICKLE))
    owner_file = tmp_path / "artifacts" / OWNER_FILE_NAME
    owner_file.unlink()  # as a registry written before owner records
    RegistryClient(tmp_path / "legacy.duckdb", idle_timeout=0).create_registered_model("x")
    shutil.rmtree(tmp_path / "legacy.artifacts", ignore_errors=True)

    assert error_code(lambda: default.gc(grace_seconds=0)) == INVALID_STATE
    assert error_code(lambda: default.artifacts.put_bytes(b"new")) == INVALID_STATE
    assert not owner_file.exists()

    (tmp_path / "legacy.artifacts").mkdir()  # legacy.duckdb references nothing there
    assert [ref.sha256 for ref in default.gc(grace_seconds=0)] == [stray.sha256]
    assert owner_file.exists()
    assert default.artifacts.read_verified(digest)


def test_a_non_default_file_points_at_the_folder_it_used_before(tmp_path: Path) -> None:
    client = RegistryClient(tmp_path / "team.duckdb", idle_timeout=0)
    digest = _register_model(client, "kept")
    # Before each file had its own folder, team.duckdb kept its files in artifacts/.
    shutil.move(tmp_path / "team.artifacts", tmp_path / "artifacts")

    with pytest.raises(ArtifactIntegrityError) as caught:
        client.artifacts.read_verified(digest)
    assert f"cp -r {tmp_path / 'artifacts'}/. {tmp_path / 'team.artifacts'}/" in str(caught.value)

    shutil.copytree(tmp_path / "artifacts", tmp_path / "team.artifacts")
    (tmp_path / "team.artifacts" / OWNER_FILE_NAME).unlink()
    assert client.artifacts.read_verified(digest)
    assert examine(client).ok
