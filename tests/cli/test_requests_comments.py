"""Approval on the command line: requests list|create|approve|reject|cancel|protect, comments
add|edit|delete, and versions show listing open requests and comments."""

from __future__ import annotations

from registry_core.client import RegistryClient
from tests.cli.conftest import MODEL


def test_a_request_is_opened_listed_and_approved(cli, client: RegistryClient) -> None:
    opened = cli(
        "requests", "create", MODEL, "3", "production", "-c", "beats v2", "--actor", "wanda"
    )
    assert opened.exit_code == 0 and "Opened request #" in opened.stdout
    listed = cli("requests", "list", MODEL, "--json")
    assert [(r["version"], r["to_stage"], r["requested_by"]) for r in listed.json] == [
        ("3", "Production", "wanda")
    ]
    shown = cli("versions", "show", MODEL, "3", json_output=True).json
    assert [r["requested_by"] for r in shown["open_requests"]] == ["wanda"]
    assert "Open transition requests" in cli("versions", "show", MODEL, "3").stdout

    approved = cli("requests", "approve", MODEL, "3", "Production", "--actor", "pat", "-c", "ok")
    assert approved.exit_code == 0 and "Approved request #" in approved.stdout
    assert client.get_model_version(MODEL, 2).current_stage == "Archived"
    assert cli("requests", "list", "--json").json == []
    history = cli("history", MODEL, "--version", "3").stdout
    assert "request #" in history and "wanda" in history and "pat" in history


def test_reject_cancel_and_their_errors(cli) -> None:
    cli("requests", "create", MODEL, "1", "Staging", "--actor", "wanda")
    rejected = cli("requests", "reject", MODEL, "1", "Staging", "--actor", "pat", "--json")
    assert rejected.json["status"] == "rejected"
    cli("requests", "create", MODEL, "1", "Staging", "--actor", "wanda")
    refused = cli("requests", "cancel", MODEL, "1", "Staging", "--actor", "eve")
    assert refused.exit_code == 1 and refused.stderr.startswith("PERMISSION_DENIED: ")
    assert cli("requests", "cancel", MODEL, "1", "Staging", "--actor", "wanda").exit_code == 0
    statuses = [r["status"] for r in cli("requests", "list", "--status", "all", "--json").json]
    assert statuses == ["cancelled", "rejected"]
    bad = cli("requests", "list", "--status", "pending")
    assert bad.exit_code == 1 and bad.stderr.startswith("INVALID_PARAMETER_VALUE: ")


def test_protect_refuses_direct_transitions(cli) -> None:
    shown = cli("requests", "protect", MODEL, "--stage", "production", "--json").json
    assert (shown["stages"], shown["direct_roles"]) == (["Production"], [])
    refused = cli("transition", MODEL, "3", "Production")
    assert refused.exit_code == 1 and refused.stderr.startswith("PERMISSION_DENIED: ")
    assert "requests create" in refused.stderr
    assert "Production" in cli("requests", "protect", MODEL, "--show").stdout
    assert cli("requests", "protect", MODEL, "--json").json["stages"] == []
    assert cli("transition", MODEL, "3", "Production").exit_code == 0


def test_comments_add_edit_delete_and_show(cli) -> None:
    added = cli("comments", "add", MODEL, "2", "latency is fine", "--actor", "wanda", "--json")
    comment_id = str(added.json["id"])
    other = cli("comments", "edit", comment_id, "mine", "--actor", "eve")
    assert other.exit_code == 1 and other.stderr.startswith("PERMISSION_DENIED: ")
    edited = cli("comments", "edit", comment_id, "p99 under 20 ms", "--actor", "wanda")
    assert edited.exit_code == 0 and "p99 under 20 ms" in edited.stdout
    shown = cli("versions", "show", MODEL, "2")
    assert "Comments" in shown.stdout and "p99 under 20 ms" in shown.stdout
    assert cli("comments", "delete", comment_id, "--actor", "wanda").exit_code == 0
    assert cli("versions", "show", MODEL, "2", json_output=True).json["comments"] == []
