"""`registry models ...` and `registry versions ...` against a real registry, in both modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from registry_core.cli import app
from registry_core.client import RegistryClient
from tests.cli.conftest import MODEL, invoke_cli


def test_every_command_has_help(cli) -> None:
    for command in (
        [],
        ["models"],
        ["models", "list"],
        ["models", "tag", "set"],
        ["versions", "show"],
        ["versions", "tag", "delete"],
        ["compare"],
        ["transition"],
        ["alias", "set"],
        ["history"],
        ["which"],
        ["rollback"],
        ["load-check"],
        ["gc"],
        ["doctor"],
        ["export"],
        ["import"],
    ):
        outcome = cli(*command, "--help")
        assert outcome.exit_code == 0, command
        assert "Usage" in outcome.stdout


def test_every_command_and_option_has_help_text() -> None:
    def undocumented(command: Any, path: str) -> list[str]:
        missing = [] if command.help else [path]
        missing += [
            f"{path} {param.name}"
            for param in command.params
            if param.param_type_name == "option" and not param.help
        ]
        for name, sub in getattr(command, "commands", {}).items():
            missing += undocumented(sub, f"{path} {name}")
        return missing

    assert undocumented(typer.main.get_command(app), "registry") == []


def test_models_list_table_and_json(cli) -> None:
    table = cli("models", "list")
    assert table.exit_code == 0
    assert "churn" in table.stdout and "Production v2" in table.stdout
    assert "@champion v2" in table.stdout

    data = cli("models", "list", json_output=True).json
    names = [model["name"] for model in data["registered_models"]]
    assert names == ["churn", "empty", "legacy"]
    assert data["next_page_token"] is None


def test_models_list_filter_order_and_max(cli) -> None:
    data = cli("models", "list", "--filter", "tags.team = 'growth'", json_output=True).json
    assert [m["name"] for m in data["registered_models"]] == ["churn"]
    page = cli("models", "list", "--order-by", "name DESC", "--max", "1", json_output=True).json
    assert [m["name"] for m in page["registered_models"]] == ["legacy"]
    assert page["next_page_token"]
    rest = cli(
        "models",
        "list",
        "--order-by",
        "name DESC",
        "--page-token",
        page["next_page_token"],
        json_output=True,
    ).json
    assert [m["name"] for m in rest["registered_models"]] == ["empty", "churn"]


def test_models_show(cli) -> None:
    shown = cli("models", "show", MODEL)
    assert shown.exit_code == 0
    for text in ("Predicts churn.", "growth", "@champion", "Production", "Staging", "Archived"):
        assert text in shown.stdout
    data = cli("models", "show", MODEL, json_output=True).json
    assert data["aliases"] == {"champion": "2"}
    assert {mv["current_stage"]: mv["version"] for mv in data["latest_versions"]} == {
        "Staging": "3",
        "Production": "2",
        "Archived": "1",
    }


def test_models_create_rename_describe_tag_delete(cli, client: RegistryClient) -> None:
    created = cli(
        "models", "create", "fraud", "-d", "Finds fraud.", "--tag", "team=risk", json_output=True
    )
    assert created.exit_code == 0
    assert created.json["tags"] == {"team": "risk"}
    assert cli("models", "rename", "fraud", "fraud-v2").exit_code == 0
    assert cli("models", "describe", "fraud-v2", "Finds more fraud.").exit_code == 0
    assert cli("models", "tag", "set", "fraud-v2", "tier", "gold").exit_code == 0
    assert cli("models", "tag", "delete", "fraud-v2", "team", json_output=True).json["deleted"]
    model = client.get_registered_model("fraud-v2")
    assert (model.description, model.tags) == ("Finds more fraud.", {"tier": "gold"})

    refused = cli("models", "delete", "fraud-v2", input="n\n")
    assert refused.exit_code == 1
    assert client.get_registered_model("fraud-v2")
    assert cli("models", "delete", "fraud-v2", "--yes").exit_code == 0
    gone = cli("models", "show", "fraud-v2")
    assert gone.exit_code == 1
    assert gone.stderr.startswith("RESOURCE_DOES_NOT_EXIST: ")


def test_models_create_conflict_and_bad_tag(cli) -> None:
    again = cli("models", "create", MODEL)
    assert again.exit_code == 1
    assert again.stderr.startswith("RESOURCE_ALREADY_EXISTS: ")
    assert again.stdout == ""
    assert cli("models", "create", "x", "--tag", "no-equals-sign").exit_code == 2


def test_versions_list(cli) -> None:
    listed = cli("versions", "list", MODEL)
    assert listed.exit_code == 0
    assert "@champion" in listed.stdout
    data = cli("versions", "list", MODEL, json_output=True).json
    assert [mv["version"] for mv in data["model_versions"]] == ["3", "2", "1"]
    staged = cli("versions", "list", MODEL, "--stage", "production", json_output=True).json
    assert [mv["version"] for mv in staged["model_versions"]] == ["2"]
    tagged = cli(
        "versions", "list", MODEL, "--filter", "tags.validated = 'true'", json_output=True
    ).json
    assert [mv["version"] for mv in tagged["model_versions"]] == ["2"]
    assert cli("versions", "list", "nope").exit_code == 1
    bad_stage = cli("versions", "list", MODEL, "--stage", "Prod")
    assert bad_stage.exit_code == 1
    assert bad_stage.stderr.startswith("INVALID_PARAMETER_VALUE: ")


def test_versions_show_has_lineage(cli, client: RegistryClient) -> None:
    mv = client.get_model_version(MODEL, 2)
    shown = cli("versions", "show", MODEL, "2")
    assert shown.exit_code == 0
    for text in (
        mv.artifact_sha256,
        mv.source,
        "@champion",
        "validated",
        "dagster-2",
        "log_loss",
        "training",
    ):
        assert text in shown.stdout

    data = cli("versions", "show", MODEL, "2", json_output=True).json
    assert data["model_version"]["artifact_sha256"] == mv.artifact_sha256
    assert data["model_version"]["current_stage"] == "Production"
    assert data["dagster_run_id"] == "dagster-2"
    assert data["run"]["params"] == {"C": "1.0", "solver": "lbfgs"}
    assert data["run"]["metrics"]["custom_score"] == 2.0
    assert data["run"]["data_fingerprint"]["training"]["row_count"] == 120


def test_versions_describe_tag_delete(cli, client: RegistryClient) -> None:
    assert cli("versions", "describe", MODEL, "3", "Candidate.").exit_code == 0
    assert cli("versions", "tag", "set", MODEL, "3", "reviewed", "yes").exit_code == 0
    assert cli("versions", "tag", "delete", MODEL, "2", "validated").exit_code == 0
    assert client.get_model_version(MODEL, 3).description == "Candidate."
    assert client.get_model_version(MODEL, 3).tags == {"reviewed": "yes"}
    assert client.get_model_version(MODEL, 2).tags == {}

    deleted = cli("versions", "delete", MODEL, "3", "--yes", "--actor", "bob", json_output=True)
    assert deleted.json == {"name": MODEL, "version": "3", "deleted": True}
    last = client.get_model_version_history(MODEL)[-1]
    assert (last.event, last.version, last.actor) == ("version_deleted", "3", "bob")


@pytest.mark.parametrize(
    "args",
    [
        ["models", "show"],
        ["versions", "show", MODEL, "two"],
        ["versions", "show", MODEL, "0"],
        ["models", "list", "--max", "0"],
        ["models", "frobnicate"],
        ["--no-such-option"],
    ],
)
def test_usage_errors_exit_2(cli, args: list[str]) -> None:
    assert cli(*args).exit_code == 2


def test_an_unusable_registry_location_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("not a database")
    under_a_file = tmp_path / "notes.duckdb" / "registry"
    for location in (not_duckdb, under_a_file):
        outcome = invoke_cli(location, "models", "list")
        assert outcome.exit_code == 1, location
        assert outcome.stderr.startswith("IO_ERROR: "), outcome.stderr
        assert str(not_duckdb) in outcome.stderr
        assert "Traceback" not in outcome.stderr


def test_names_with_quotes_and_brackets_are_shown_literally(cli) -> None:
    name = "o'brien [bold]x[bold]"
    assert cli("models", "create", name).exit_code == 0
    assert cli("versions", "list", name, json_output=True).json["model_versions"] == []
    assert name in cli("models", "list").stdout
