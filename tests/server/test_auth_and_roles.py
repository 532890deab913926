"""Who may do what behind the server: identity from the token alone, roles enforced per call,
401 and 403 as MLflow's error JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry_core.client import RegistryClient
from registry_core.errors import PERMISSION_DENIED, UNAUTHENTICATED
from tests.conftest import error_code
from tests.server_harness import running_server

ROLES = ("reader", "writer", "promoter", "admin")


@pytest.fixture
def served(registry_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A server with auth on and one token per role (created on the file before it starts)."""
    owner = RegistryClient(registry_path)
    secrets = {role: owner.create_token(f"{role}-bot", role)[1] for role in ROLES}
    owner.create_registered_model("m")
    owner.create_model_version("m", "runs:/r1/model")
    owner.create_model_version("m", "runs:/r2/model")
    owner.close()
    with running_server(registry_path, auth=True) as url:
        yield url, secrets


def as_role(served: tuple[str, dict[str, str]], role: str) -> RegistryClient:
    url, secrets = served
    return RegistryClient(url, token=secrets[role])


def test_no_token_or_a_wrong_one_is_401_with_mlflow_json(served) -> None:
    url, _ = served
    for headers in ({}, {"authorization": "Bearer mr_not-a-token"}, {"authorization": "Basic x"}):
        answer = httpx.get(f"{url}/api/2.0/mlflow/registered-models/get?name=m", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error_code"] == UNAUTHENTICATED
    assert error_code(lambda: RegistryClient(url).get_registered_model("m")) == UNAUTHENTICATED


def test_each_role_may_do_its_own_calls_and_no_more(served) -> None:
    reader, writer = as_role(served, "reader"), as_role(served, "writer")
    promoter, admin = as_role(served, "promoter"), as_role(served, "admin")
    assert reader.get_registered_model("m").name == "m"
    assert error_code(lambda: reader.set_registered_model_tag("m", "k", "v")) == PERMISSION_DENIED
    writer.set_registered_model_tag("m", "k", "v")
    writer.transition_model_version_stage("m", 1, "Staging")
    assert (
        error_code(lambda: writer.transition_model_version_stage("m", 1, "Production"))
        == PERMISSION_DENIED
    )
    assert (
        error_code(lambda: writer.set_registered_model_alias("m", "champion", 1))
        == PERMISSION_DENIED
    )
    writer.set_registered_model_alias("m", "candidate", 1)
    promoter.transition_model_version_stage("m", 1, "Production")
    promoter.set_registered_model_alias("m", "champion", 1)
    assert error_code(lambda: promoter.delete_model_version("m", 2)) == PERMISSION_DENIED
    assert error_code(lambda: promoter.list_tokens()) == PERMISSION_DENIED
    admin.delete_model_version("m", 2)
    assert {t.name for t in admin.list_tokens()} == {f"{role}-bot" for role in ROLES}


def test_the_history_names_the_token_never_the_claimed_actor(served) -> None:
    promoter = as_role(served, "promoter")
    promoter.transition_model_version_stage(
        "m", 1, "Production", actor="someone-else", reason="release"
    )
    promoter.set_registered_model_alias("m", "champion", 1, actor="mallory")
    events = as_role(served, "reader").get_model_version_history("m")
    assert [(e.event, e.actor) for e in events[-2:]] == [
        ("stage", "promoter-bot"),
        ("alias_set", "promoter-bot"),
    ]


def test_a_revoked_token_is_refused_at_once(served) -> None:
    admin, writer = as_role(served, "admin"), as_role(served, "writer")
    writer.set_registered_model_tag("m", "k", "1")
    admin.revoke_token("writer-bot")
    assert error_code(lambda: writer.set_registered_model_tag("m", "k", "2")) == UNAUTHENTICATED


def test_a_new_token_from_the_admin_works_and_only_its_hash_is_kept(
    served, registry_path: Path
) -> None:
    token, secret = as_role(served, "admin").create_token("ci", "writer")
    assert token.role == "writer" and secret.startswith("mr_")
    RegistryClient(served[0], token=secret).set_registered_model_tag("m", "ci", "yes")
    for stored in registry_path.glob("registry.duckdb*"):
        assert secret.encode() not in stored.read_bytes()
