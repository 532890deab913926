"""Approval behind the server: roles from tokens decide who requests, who approves and who may
skip a request; concurrent approvals of one request leave exactly one winner."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry_core.client import RegistryClient
from registry_core.errors import INVALID_STATE, PERMISSION_DENIED, RegistryError
from tests.conftest import error_code
from tests.server_harness import running_server

ROLES = ("reader", "writer", "promoter", "admin")


@pytest.fixture
def served(registry_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A server with auth on, one token per role and a second promoter."""
    owner = RegistryClient(registry_path)
    secrets = {role: owner.create_token(f"{role}-bot", role)[1] for role in ROLES}
    secrets["promoter-2"] = owner.create_token("promoter-2", "promoter")[1]
    owner.create_registered_model("m")
    for run in ("r1", "r2", "r3"):
        owner.create_model_version("m", f"runs:/{run}/model")
    owner.close()
    with running_server(registry_path, auth=True) as url:
        yield url, secrets


def as_role(served: tuple[str, dict[str, str]], role: str) -> RegistryClient:
    url, secrets = served
    return RegistryClient(url, token=secrets[role])


def test_a_writer_requests_production_and_a_promoter_approves(served) -> None:
    url, secrets = served
    writer, promoter = as_role(served, "writer"), as_role(served, "promoter")
    refused = httpx.post(
        f"{url}/api/2.0/mlflow/model-versions/transition-stage",
        json={"name": "m", "version": "1", "stage": "Production"},
        headers={"authorization": f"Bearer {secrets['writer']}"},
    )
    assert refused.status_code == 403 and refused.json()["error_code"] == PERMISSION_DENIED

    opened = writer.create_transition_request("m", 1, "Production", "ready", actor="someone")
    assert opened.requested_by == "writer-bot"
    assert error_code(lambda: writer.approve_transition_request("m", 1, "Production")) == (
        PERMISSION_DENIED
    )
    assert [r.id for r in as_role(served, "reader").list_transition_requests("m")] == [opened.id]
    approved = promoter.approve_transition_request("m", 1, "Production", comment="ship it")
    assert approved.resolved_by == "promoter-bot"
    assert writer.get_model_version("m", 1).current_stage == "Production"
    named = [
        (h.event, h.actor)
        for h in writer.get_model_version_history("m", 1)
        if h.request_id == opened.id
    ]
    assert named == [
        ("request_created", "writer-bot"),
        ("request_approved", "promoter-bot"),
        ("stage", "promoter-bot"),
    ]
    stage_entry = writer.get_model_version_history("m", 1)[-1]
    assert "writer-bot" in (stage_entry.reason or "")


def test_protection_is_enforced_by_token_role(served) -> None:
    writer, promoter, admin = (as_role(served, r) for r in ("writer", "promoter", "admin"))
    assert error_code(lambda: promoter.set_stage_protection("m", ["Staging", "Production"])) == (
        PERMISSION_DENIED
    )
    admin.set_stage_protection("m", ["Staging", "Production"], ["admin"])
    assert writer.get_stage_protection("m").stages == ("Staging", "Production")
    assert error_code(lambda: writer.transition_model_version_stage("m", 2, "Staging")) == (
        PERMISSION_DENIED
    )
    assert error_code(lambda: promoter.transition_model_version_stage("m", 2, "Production")) == (
        PERMISSION_DENIED
    )
    admin.transition_model_version_stage("m", 2, "Staging")

    promoter.create_transition_request("m", 2, "Production")
    assert error_code(lambda: promoter.approve_transition_request("m", 2, "Production")) == (
        PERMISSION_DENIED
    )
    as_role(served, "promoter-2").approve_transition_request("m", 2, "Production")
    assert writer.get_model_version("m", 2).current_stage == "Production"


def test_concurrent_approvals_of_one_request_have_exactly_one_winner(served) -> None:
    as_role(served, "writer").create_transition_request("m", 3, "Production")
    approvers = [as_role(served, "promoter"), as_role(served, "promoter-2")] * 4
    start = threading.Barrier(len(approvers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(approver: RegistryClient) -> None:
        start.wait()
        try:
            approver.approve_transition_request("m", 3, "Production")
            outcome = "approved"
        except RegistryError as error:
            outcome = error.error_code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=approve, args=(a,)) for a in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes) == {"approved": 1, INVALID_STATE: len(approvers) - 1}
    history = as_role(served, "reader").get_model_version_history("m", 3)
    assert [h.event for h in history].count("request_approved") == 1
    assert [h.to_stage for h in history if h.event == "stage"] == ["Production"]
