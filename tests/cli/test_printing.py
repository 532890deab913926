"""What the CLI prints of user text: control and bidirectional characters escaped, in tables,
plain lines, error lines and JSON, even for rows written before the store refused them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from registry_core.client import RegistryClient
from tests.cli.conftest import invoke_cli

HOSTILE = "\x1b[31mred\u202eevil\nchurn\x85"
RAW = ("\x1b", "\u202e", "\x85")


def _legacy_registry(path: Path) -> None:
    """A model, tag and description with characters the store refuses today, written straight
    into the file as an older version or another tool could have."""
    client = RegistryClient(path)
    client.create_registered_model("m", tags={"k": "v"}, description="first line\nsecond line")
    client.create_model_version("m", "runs:/r1/model")
    client.close()
    with duckdb.connect(str(path / "registry.duckdb")) as conn:
        conn.execute("UPDATE registered_models SET name = ?", [HOSTILE])
        conn.execute("UPDATE registered_model_tags SET key = ?, value = ?", [HOSTILE, HOSTILE])


def test_tables_and_lines_escape_what_they_print(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    _legacy_registry(registry)
    listed = invoke_cli(registry, "models", "list")
    shown = invoke_cli(registry, "models", "show", HOSTILE)
    versions = invoke_cli(registry, "versions", "list", HOSTILE)
    for outcome in (listed, shown, versions):
        assert outcome.exit_code == 0, outcome.stderr
        assert not any(char in outcome.stdout for char in RAW)
    for outcome in (listed, shown):
        assert "\\x1b[31mred\\u202eevil\\nchurn\\x85" in outcome.stdout
    name_rows = [line for line in listed.stdout.splitlines() if "churn" in line]
    assert len(name_rows) == 1 and "red" in name_rows[0]
    assert "first line" in shown.stdout and "second line" in shown.stdout  # lines are kept

    renamed = invoke_cli(registry, "models", "rename", HOSTILE, "clean")
    assert renamed.exit_code == 0, renamed.stderr
    assert not any(char in renamed.stdout for char in RAW)
    assert RegistryClient(registry).get_registered_model("clean").name == "clean"


def test_error_lines_escape_the_names_they_quote(tmp_path: Path) -> None:
    missing = invoke_cli(tmp_path / "registry", "models", "show", HOSTILE)
    assert missing.exit_code == 1
    assert missing.stderr.startswith("RESOURCE_DOES_NOT_EXIST: ")
    assert not any(char in missing.stderr for char in RAW)
    assert missing.stderr.count("\n") == 1


def test_json_output_escapes_them_and_decodes_to_the_stored_text(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    _legacy_registry(registry)
    listed = invoke_cli(registry, "models", "list", json_output=True)
    assert not any(char in listed.stdout for char in RAW)
    assert json.loads(listed.stdout)["registered_models"][0]["name"] == HOSTILE
