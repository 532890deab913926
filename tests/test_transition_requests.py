"""Transition requests, comments and protected stages on both backends: the whole request
lifecycle, its history, superseded and deleted versions closing requests."""

from __future__ import annotations

import pytest

from registry_core.client import RegistryClient
from registry_core.errors import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    PERMISSION_DENIED,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from tests.conftest import error_code


@pytest.fixture
def model(client: RegistryClient) -> str:
    client.create_registered_model("m")
    for _ in range(3):
        client.create_model_version("m", "runs:/r/model")
    return "m"


def _requests(client: RegistryClient) -> list[tuple[str, str, str]]:
    return [(r.version, r.to_stage, r.status) for r in client.list_transition_requests("m", None)]


def test_a_request_approved_moves_the_version_and_the_history_names_both(
    client: RegistryClient, model: str
) -> None:
    opened = client.create_transition_request(model, 2, "production", "beats v1", actor="wanda")
    assert (opened.to_stage, opened.status, opened.requested_by) == ("Production", "open", "wanda")
    assert [r.id for r in client.list_transition_requests(model)] == [opened.id]
    assert client.get_model_version(model, 2).current_stage == "None"

    approved = client.approve_transition_request(
        model, 2, "Production", comment="looks good", actor="pat"
    )
    assert (approved.status, approved.resolved_by, approved.resolution) == (
        "approved",
        "pat",
        "looks good",
    )
    assert client.get_model_version(model, 2).current_stage == "Production"
    assert client.list_transition_requests(model) == []
    assert client.list_transition_requests(model, "approved")[0].id == opened.id

    entries = [
        (h.event, h.actor, h.reason, h.request_id)
        for h in client.get_model_version_history(model, 2)
        if h.request_id is not None
    ]
    assert entries == [
        ("request_created", "wanda", "beats v1", opened.id),
        ("request_approved", "pat", "looks good", opened.id),
        ("stage", "pat", f"approved request #{opened.id} of wanda: looks good", opened.id),
    ]
    assert client.get_model_version_history(model, 2)[-1].change == "None -> Production"


def test_approval_archives_the_stage_holder_by_default(client: RegistryClient, model: str) -> None:
    client.transition_model_version_stage(model, 1, "Production")
    client.create_transition_request(model, 2, "Production", actor="wanda")
    client.approve_transition_request(model, 2, "Production", actor="pat")
    stages = {mv.version: mv.current_stage for mv in client.search_model_versions("name='m'")}
    assert stages == {"1": "Archived", "2": "Production", "3": "None"}


def test_reject_and_cancel_settle_a_request_and_only_its_author_cancels(
    client: RegistryClient, model: str
) -> None:
    client.create_transition_request(model, 1, "Staging", actor="wanda")
    rejected = client.reject_transition_request(model, 1, "Staging", "not yet", actor="pat")
    assert (rejected.status, rejected.resolved_by, rejected.resolution) == (
        "rejected",
        "pat",
        "not yet",
    )
    assert client.get_model_version(model, 1).current_stage == "None"
    assert error_code(lambda: client.approve_transition_request(model, 1, "Staging")) == (
        INVALID_STATE
    )

    client.create_transition_request(model, 1, "Staging", actor="wanda")
    denied = error_code(lambda: client.cancel_transition_request(model, 1, "Staging", actor="eve"))
    assert denied == PERMISSION_DENIED
    cancelled = client.cancel_transition_request(model, 1, "Staging", "wrong one", actor="wanda")
    assert cancelled.status == "cancelled"
    assert [e.event for e in client.get_model_version_history(model, 1)][-4:] == [
        "request_created",
        "request_rejected",
        "request_created",
        "request_cancelled",
    ]
    assert _requests(client) == [("1", "Staging", "cancelled"), ("1", "Staging", "rejected")]


def test_bad_requests_are_typed_errors(client: RegistryClient, model: str) -> None:
    client.create_transition_request(model, 1, "Production")
    assert error_code(lambda: client.create_transition_request(model, 1, "Production")) == (
        RESOURCE_ALREADY_EXISTS
    )
    assert error_code(lambda: client.create_transition_request(model, 1, "None")) == (
        INVALID_PARAMETER_VALUE
    )
    assert error_code(lambda: client.create_transition_request(model, 9, "Staging")) == (
        RESOURCE_DOES_NOT_EXIST
    )
    assert error_code(lambda: client.approve_transition_request(model, 2, "Staging")) == (
        RESOURCE_DOES_NOT_EXIST
    )
    client.transition_model_version_stage(model, 3, "Staging")
    assert error_code(lambda: client.create_transition_request(model, 3, "Staging")) == (
        INVALID_STATE
    )
    assert error_code(lambda: client.list_transition_requests(model, "pending")) == (
        INVALID_PARAMETER_VALUE
    )


def test_a_version_entering_the_stage_closes_older_requests_and_its_own(
    client: RegistryClient, model: str
) -> None:
    client.create_transition_request(model, 3, "Production", actor="wanda")
    client.create_transition_request(model, 1, "Production", actor="wanda")
    client.create_transition_request(model, 2, "Staging", actor="wanda")
    client.transition_model_version_stage(model, 2, "Production", actor="pat")
    assert _requests(client) == [
        ("2", "Staging", "open"),
        ("1", "Production", "closed"),
        ("3", "Production", "open"),
    ]
    closed = client.list_transition_requests(model, "closed")[0]
    assert (closed.resolved_by, closed.resolution) == (
        "pat",
        "superseded: version 2 entered Production",
    )

    client.transition_model_version_stage(model, 2, "Staging", actor="pat")
    assert client.list_transition_requests(model, "closed")[0].resolution == (
        "version 2 entered Staging without this request"
    )


def test_a_newer_request_closes_an_older_one_for_the_same_stage(
    client: RegistryClient, model: str
) -> None:
    first = client.create_transition_request(model, 1, "Production", actor="dagster")
    second = client.create_transition_request(model, 2, "Production", actor="dagster")
    assert [r.id for r in client.list_transition_requests(model)] == [second.id]
    closed = client.list_transition_requests(model, "closed")[0]
    assert (closed.id, closed.resolution) == (
        first.id,
        f"superseded by request #{second.id} for version 2",
    )


def test_deleting_a_version_closes_its_requests(client: RegistryClient, model: str) -> None:
    client.create_transition_request(model, 3, "Production", actor="wanda")
    client.create_comment(model, 3, "gone soon", actor="wanda")
    client.delete_model_version(model, 3, actor="ada")
    (closed,) = client.list_transition_requests(model, None)
    assert (closed.status, closed.resolved_by, closed.resolution) == (
        "closed",
        "ada",
        "version deleted",
    )
    assert [e.event for e in client.get_model_version_history(model, 3)][-2:] == [
        "request_closed",
        "version_deleted",
    ]
    client.delete_registered_model(model)
    assert client.list_transition_requests(None, None) == []


def test_comments_are_their_authors_to_edit_and_delete(client: RegistryClient, model: str) -> None:
    first = client.create_comment(model, 1, "AUC is up", actor="wanda")
    client.create_comment(model, 1, "latency?", actor="pat")
    assert [(c.author, c.comment) for c in client.list_comments(model, 1)] == [
        ("wanda", "AUC is up"),
        ("pat", "latency?"),
    ]
    assert error_code(lambda: client.update_comment(first.id, "mine now", actor="pat")) == (
        PERMISSION_DENIED
    )
    assert error_code(lambda: client.delete_comment(first.id, actor="pat")) == PERMISSION_DENIED
    edited = client.update_comment(first.id, "AUC is up 2 points", actor="wanda")
    assert edited.comment == "AUC is up 2 points"
    assert edited.last_updated_timestamp >= edited.creation_timestamp
    client.delete_comment(first.id, actor="wanda")
    assert [c.author for c in client.list_comments(model, 1)] == ["pat"]
    assert error_code(lambda: client.create_comment(model, 1, " ")) == INVALID_PARAMETER_VALUE
    assert error_code(lambda: client.delete_comment(first.id, actor="wanda")) == (
        RESOURCE_DOES_NOT_EXIST
    )


def test_a_protected_stage_needs_an_approved_request_from_someone_else(
    client: RegistryClient, model: str
) -> None:
    protection = client.set_stage_protection(model, ["production"])
    assert (protection.stages, protection.direct_roles) == (("Production",), ())
    assert client.get_stage_protection(model) == protection
    assert error_code(lambda: client.transition_model_version_stage(model, 1, "Production")) == (
        PERMISSION_DENIED
    )
    client.transition_model_version_stage(model, 1, "Staging")
    client.create_transition_request(model, 1, "Production", actor="wanda")
    assert (
        error_code(lambda: client.approve_transition_request(model, 1, "Production", actor="wanda"))
        == PERMISSION_DENIED
    )
    client.approve_transition_request(model, 1, "Production", actor="pat")
    assert client.get_model_version(model, 1).current_stage == "Production"

    client.set_stage_protection(model, ["Production"], ["admin"])
    client.transition_model_version_stage(model, 2, "Production")
    assert client.set_stage_protection(model, []).stages == ()
    assert error_code(lambda: client.set_stage_protection(model, ["None"])) == (
        INVALID_PARAMETER_VALUE
    )
    assert error_code(lambda: client.set_stage_protection(model, ["Staging"], ["boss"])) == (
        INVALID_PARAMETER_VALUE
    )
