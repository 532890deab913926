"""`--json` anywhere on the command line, and help that shows flags as flags."""

from __future__ import annotations

import pytest

from tests.cli.conftest import MODEL


def test_json_after_the_command_is_the_same_as_before_it(cli) -> None:
    before = cli("models", "list", json_output=True)
    after = cli("models", "list", "--json")
    assert after.exit_code == 0, after.stderr
    assert after.json == before.json
    versions = cli("versions", "list", MODEL, "--json", "--stage", "Production")
    assert [mv["version"] for mv in versions.json["model_versions"]] == ["2"]
    assert cli("which", MODEL, "@champion", "--json").json["version"] == "2"
    failed = cli("versions", "show", MODEL, "99", "--json")
    assert failed.exit_code == 1 and failed.stderr.startswith("RESOURCE_DOES_NOT_EXIST: ")
    assert cli("models", "list").stdout.lstrip()[:1] != "{"


@pytest.mark.parametrize(
    "command", [[], ["gc"], ["models", "list"], ["webhooks", "create"], ["transition"]]
)
def test_help_shows_no_value_type_for_flags(cli, command: list[str]) -> None:
    shown = cli(*command, "--help")
    assert shown.exit_code == 0
    assert "<bool>" not in shown.stdout
    assert "--json" in shown.stdout
