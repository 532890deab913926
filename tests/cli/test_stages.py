"""Promotion and inspection: transition, alias, history, which, rollback and compare."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry_core.client import RegistryClient
from tests.cli.conftest import MODEL
from tests.conftest import next_millisecond


def test_transition_records_actor_and_reason(cli, client: RegistryClient) -> None:
    moved = cli(
        "transition",
        MODEL,
        "3",
        "production",
        "--archive-existing",
        "--reason",
        "wins the A/B test",
        "--actor",
        "carol",
    )
    assert moved.exit_code == 0
    assert "Production" in moved.stdout
    assert [mv.version for mv in client.get_latest_versions(MODEL, ["Production"])] == ["3"]
    assert client.get_model_version(MODEL, 2).current_stage == "Archived"
    last = client.get_model_version_history(MODEL)[-1]
    assert (last.actor, last.reason, last.to_stage) == ("carol", "wins the A/B test", "Production")

    data = cli("transition", MODEL, "1", "Staging", json_output=True).json
    assert (data["version"], data["current_stage"]) == ("1", "Staging")


def test_transition_errors(cli) -> None:
    bad = cli("transition", MODEL, "3", "Prod")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("INVALID_PARAMETER_VALUE: ")
    missing = cli("transition", MODEL, "9", "Staging")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("RESOURCE_DOES_NOT_EXIST: ")
    assert cli("transition", MODEL, "3").exit_code == 2


def test_alias_set_and_delete(cli, client: RegistryClient) -> None:
    assert cli("alias", "set", MODEL, "@challenger", "3", "--reason", "shadow").exit_code == 0
    assert client.get_model_version_by_alias(MODEL, "challenger").version == "3"
    data = cli("alias", "set", MODEL, "champion", "3", json_output=True).json
    assert data == {"name": MODEL, "alias": "champion", "version": "3"}
    assert cli("alias", "delete", MODEL, "challenger").exit_code == 0
    again = cli("alias", "delete", MODEL, "challenger")
    assert again.exit_code == 1
    assert again.stderr.startswith("RESOURCE_DOES_NOT_EXIST: ")
    reserved = cli("alias", "set", MODEL, "latest", "1")
    assert reserved.exit_code == 1


def test_history(cli, client: RegistryClient) -> None:
    table = cli("history", MODEL)
    assert table.exit_code == 0
    for text in (
        "None -> Production",
        "Production -> Archived",
        "@champion set",
        "alice",
        "better",
    ):
        assert text in table.stdout
    entries = cli("history", MODEL, json_output=True).json
    expected = client.get_model_version_history(MODEL)
    assert [e["id"] for e in entries] == [e.id for e in expected]
    stages = [e for e in entries if e["event"] == "stage"]
    assert stages[1]["reason"] == "archived: version 2 moved to Production"
    assert [e["event"] for e in entries][:3] == ["version_created"] * 3
    only = cli("history", MODEL, "--version", "1", json_output=True).json
    assert {e["version"] for e in only} == {"1"}


def test_which_now_and_in_the_past(cli) -> None:
    before = next_millisecond()
    now = cli("which", MODEL, "Production", json_output=True).json
    assert now["model_version"]["version"] == "2"
    champion = cli("which", MODEL, "@champion")
    assert champion.exit_code == 0 and "models:/churn/2" in champion.stdout
    assert cli("transition", MODEL, "3", "Production", "--archive-existing").exit_code == 0
    next_millisecond()

    assert (
        cli("which", MODEL, "Production", json_output=True).json["model_version"]["version"] == "3"
    )
    past = cli("which", MODEL, "Production", "--at", str(before), json_output=True).json
    assert (past["at"], past["model_version"]["version"]) == (before, "2")
    iso = datetime.fromtimestamp(before / 1000, tz=UTC).isoformat()
    assert cli("which", MODEL, "Production", "--at", iso, json_output=True).json["at"] == before

    never = cli("which", MODEL, "Production", "--at", "0")
    assert never.exit_code == 1
    assert never.stderr.startswith("RESOURCE_DOES_NOT_EXIST: ")
    bad_time = cli("which", MODEL, "Production", "--at", "yesterday")
    assert bad_time.exit_code == 1
    assert bad_time.stderr.startswith("INVALID_PARAMETER_VALUE: ")
    for beyond_any_date in ("99999999999999999999999", "-99999999999999999999999"):
        out_of_range = cli("which", MODEL, "Production", "--at", beyond_any_date)
        assert out_of_range.exit_code == 1
        assert out_of_range.stderr.startswith("INVALID_PARAMETER_VALUE: ")
    assert cli("which", MODEL, "None").exit_code == 1


def test_which_at_shows_the_past_holder_and_where_it_is_now(cli) -> None:
    """Regression (issue 16): the row showed the version's current stage under a heading about
    the past, e.g. `Archived` for what was in Production then."""
    before = next_millisecond()
    assert cli("transition", MODEL, "3", "Production", "--archive-existing").exit_code == 0

    past = cli("which", MODEL, "Production", "--at", str(before))
    assert past.exit_code == 0, past.stderr
    lines = {line.split()[0]: line for line in past.stdout.splitlines() if line.strip()}
    assert "Production of churn at " in past.stdout and ": version 2" in past.stdout
    assert lines["Held"].split()[1] == "Production"
    assert lines["Stage"].split()[-1] == "Archived"
    data = cli("which", MODEL, "Production", "--at", str(before), json_output=True).json
    assert (data["version"], data["model_version"]["current_stage"]) == ("2", "Archived")


def test_rollback(cli, client: RegistryClient) -> None:
    rolled = cli("rollback", MODEL, "--reason", "v2 regressed", "--actor", "dave", json_output=True)
    assert rolled.exit_code == 0
    assert (rolled.json["version"], rolled.json["current_stage"]) == ("1", "Production")
    assert client.get_model_version(MODEL, 2).current_stage == "Archived"
    assert client.get_model_version_history(MODEL)[-1].reason == "v2 regressed"

    assert cli("alias", "set", MODEL, "champion", "3").exit_code == 0
    back = cli("rollback", MODEL, "--stage", "@champion")
    assert back.exit_code == 0
    assert client.get_model_version_by_alias(MODEL, "champion").version == "2"

    nothing = cli("rollback", MODEL, "--stage", "Staging")
    assert nothing.exit_code == 1
    assert nothing.stderr.startswith("INVALID_STATE: ")


def test_compare_marks_better_and_worse(cli) -> None:
    table = cli("compare", MODEL, "2", "1", "3")
    assert table.exit_code == 0
    assert "better" in table.stdout and "worse" in table.stdout
    assert "params.C" in table.stdout and "metrics.log_loss (lower is better)" in table.stdout

    data = cli("compare", MODEL, "2", "1", "3", json_output=True).json
    assert [column["version"] for column in data["versions"]] == ["2", "1", "3"]
    metrics = {row["key"]: row for row in data["metrics"]}
    assert metrics["accuracy"]["direction"] == "higher"
    assert metrics["accuracy"]["verdicts"] == [None, "worse", "better"]
    assert metrics["log_loss"]["verdicts"] == [None, "worse", "better"]
    assert metrics["log_loss"]["deltas"] == [None, pytest.approx(0.1), pytest.approx(-0.1)]
    assert metrics["custom_score"]["direction"] is None
    assert metrics["custom_score"]["verdicts"] == [None, None, None]
    params = {row["key"]: row for row in data["params"]}
    assert params["C"]["values"] == ["1.0", "0.1", "10.0"]
    assert params["C"]["changed"] == [False, True, True]
    assert params["solver"]["changed"] == [False, False, False]


def test_compare_needs_two_existing_versions(cli) -> None:
    assert cli("compare", MODEL, "1").exit_code == 2
    missing = cli("compare", MODEL, "1", "7")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("RESOURCE_DOES_NOT_EXIST: ")
