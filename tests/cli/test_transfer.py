"""`registry export` / `registry import`: identical round trips, conflicts, damage, rollback."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb

from registry_core.client import RegistryClient
from registry_core.store.migrations import SCHEMA_VERSION
from registry_core.transfer import export_registry
from registry_core.webhooks import generate_secret
from tests.cli.conftest import MODEL, invoke_cli

MLFLOW_TABLES = (
    "logged_models",
    "logged_model_tags",
    "logged_model_params",
    "logged_model_outputs",
    "mlflow_artifacts",
)


def snapshot(client: RegistryClient) -> dict[str, Any]:
    """Everything the public client can see: models, versions, runs with their metric history,
    each model's history, and each referenced artifact's verification and checksum."""
    models = list(client.search_registered_models(max_results=1000))
    versions = list(client.search_model_versions(order_by=["name", "version_number"]))
    runs = sorted(client.search_runs(max_results=50_000), key=lambda run: run.run_id)
    digests = {mv.artifact_sha256 for mv in versions} | {
        artifact.sha256 for run in runs for artifact in run.artifacts
    }
    return {
        "models": models,
        "versions": versions,
        "runs": runs,
        "metric_history": {
            (run.run_id, key): client.get_metric_history(run.run_id, key)
            for run in runs
            for key in run.metrics
        },
        "history": {model.name: client.get_model_version_history(model.name) for model in models},
        "artifacts": {
            digest: (
                client.artifacts.verify(digest),
                hashlib.sha256(client.artifacts.path_for(digest).read_bytes()).hexdigest(),
            )
            for digest in digests
        },
    }


def manifest(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "manifest.json").read_text())


def test_round_trip_into_an_empty_registry_is_identical(
    cli, client: RegistryClient, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    exported = cli("export", str(dump), json_output=True)
    assert exported.exit_code == 0, exported.stderr
    written = manifest(dump)
    assert exported.json["rows"] == {name: t["rows"] for name, t in written["tables"].items()}
    assert written["format_version"] == 1 and written["schema_version"] == SCHEMA_VERSION
    assert written["tables"]["model_versions"]["rows"] == 4
    assert len(written["artifacts"]) == 4

    restored = tmp_path / "restored"
    imported = invoke_cli(restored, "import", str(dump), json_output=True)
    assert imported.exit_code == 0, imported.stderr
    assert imported.json["mode"] == "identical"
    target = RegistryClient(restored)
    assert snapshot(target) == snapshot(client)
    assert target.get_model_version_history(MODEL)[0].id == 1

    again = tmp_path / "again"
    assert invoke_cli(restored, "export", str(again)).exit_code == 0
    second = manifest(again)
    for key in ("tables", "sequences", "artifacts", "schema_version"):
        assert second[key] == written[key], key

    for registry in (client, target):
        registry.create_model_version(MODEL, f"models:/{MODEL}/1")
        registry.transition_model_version_stage(MODEL, 4, "Staging")
        registry.create_registered_model("next")
    assert [mv.version for mv in target.search_model_versions(f"name = '{MODEL}'")] == [
        mv.version for mv in client.search_model_versions(f"name = '{MODEL}'")
    ]
    assert (
        target.get_model_version_history(MODEL)[-1].id
        == client.get_model_version_history(MODEL)[-1].id
    )
    assert invoke_cli(restored, "doctor").exit_code == 0


def test_import_refuses_conflicts_and_changes_nothing(
    cli, client: RegistryClient, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    before = snapshot(client)
    refused = cli("import", str(dump))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("RESOURCE_ALREADY_EXISTS: The registry already holds model(s)")
    assert "churn" in refused.stderr and "on-conflict skip or overwrite" in refused.stderr
    assert snapshot(client) == before

    skipped = cli("import", str(dump), "--on-conflict", "skip", json_output=True).json
    assert skipped["mode"] == "merged"
    assert set(skipped["skipped_models"]) == {"churn", "empty", "legacy"}
    # The history of the deleted model `gone` is held already: it is not loaded a second time.
    assert sum(skipped["rows"].values()) == 0
    assert snapshot(client) == before
    again = tmp_path / "again"
    assert cli("export", str(again)).exit_code == 0
    assert manifest(again)["tables"] == manifest(dump)["tables"]
    assert cli("import", str(dump), "--on-conflict", "sideways").exit_code == 2


def test_a_refused_import_copies_no_artifact(cli, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    other = tmp_path / "other"
    mine = RegistryClient(other)
    mine.create_registered_model(MODEL)
    refused = invoke_cli(other, "import", str(dump))
    assert refused.stderr.startswith("RESOURCE_ALREADY_EXISTS: ")
    assert mine.artifacts.digests() == set()


def _without_ids(history: list) -> list:
    return [replace(entry, id=0) for entry in history]


def test_overwrite_restores_the_exported_state(cli, client: RegistryClient, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    exported = snapshot(client)
    assert cli("transition", MODEL, "3", "Production", "--archive-existing").exit_code == 0
    assert cli("versions", "delete", "legacy", "1", "--yes").exit_code == 0
    assert cli("models", "tag", "set", MODEL, "team", "other").exit_code == 0

    result = cli("import", str(dump), "--on-conflict", "OVERWRITE", json_output=True)
    assert result.exit_code == 0, result.stderr
    assert set(result.json["overwritten_models"]) == {"churn", "empty", "legacy"}
    now = snapshot(client)
    for key in ("models", "versions", "runs", "metric_history", "artifacts"):
        assert now[key] == exported[key], key
    assert _without_ids(now["history"][MODEL]) == _without_ids(exported["history"][MODEL])
    assert cli("doctor").exit_code == 0


def test_merge_into_a_registry_with_other_models(
    cli, client: RegistryClient, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    other = tmp_path / "other"
    mine = RegistryClient(other)
    mine.create_registered_model("mine")
    mine.create_model_version("mine", f"artifacts:/{mine.artifacts.put_bytes(b'x' * 10).sha256}")
    mine.transition_model_version_stage("mine", 1, "Production")

    merged = invoke_cli(other, "import", str(dump), json_output=True)
    assert merged.exit_code == 0, merged.stderr
    assert merged.json["mode"] == "merged"
    exported, now = snapshot(client), snapshot(mine)
    assert [m for m in now["models"] if m.name != "mine"] == exported["models"]
    assert [v for v in now["versions"] if v.name != "mine"] == exported["versions"]
    assert now["runs"] == exported["runs"]
    assert _without_ids(now["history"][MODEL]) == _without_ids(exported["history"][MODEL])
    assert [(e.version, e.event) for e in now["history"]["mine"]] == [
        ("1", "version_created"),
        ("1", "stage"),
    ]
    assert invoke_cli(other, "doctor").exit_code == 0


def test_damaged_dumps_are_refused_and_leave_nothing(cli, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    again = cli("export", str(dump))
    assert again.exit_code == 1 and "not an empty folder" in again.stderr

    empty = tmp_path / "empty"
    artifact = next((dump / "artifacts").glob("*/*"))
    original = artifact.read_bytes()
    artifact.write_bytes(original + b"!")
    damaged = invoke_cli(empty, "import", str(dump))
    assert damaged.exit_code == 1
    assert damaged.stderr.startswith("DATA_LOSS: The export is damaged")
    artifact.write_bytes(original)

    sealed = (dump / "manifest.json").read_text()
    data = manifest(dump)
    data["artifacts"][0]["size"] += 1
    (dump / "manifest.json").write_text(json.dumps(data))
    wrong_size = invoke_cli(empty, "import", str(dump))
    assert wrong_size.stderr.startswith("DATA_LOSS: The export is damaged")
    (dump / "manifest.json").write_text(sealed)

    data = manifest(dump)
    data["sequences"]["history_id_seq"] = 10**13
    (dump / "manifest.json").write_text(json.dumps(data))
    huge = invoke_cli(empty, "import", str(dump))
    assert huge.exit_code == 1
    assert huge.stderr.startswith("INVALID_PARAMETER_VALUE: Sequence 'history_id_seq'")
    (dump / "manifest.json").write_text(sealed)

    table = dump / "tables" / "runs.jsonl"
    table.write_text(table.read_text().replace("FINISHED", "FAILED", 1))
    edited = invoke_cli(empty, "import", str(dump))
    assert edited.exit_code == 1
    assert "does not match the manifest" in edited.stderr

    no_manifest = invoke_cli(empty, "import", str(tmp_path))
    assert no_manifest.exit_code == 1
    assert no_manifest.stderr.startswith("INVALID_PARAMETER_VALUE: ")
    assert invoke_cli(empty, "models", "list", json_output=True).json["registered_models"] == []


def test_an_inconsistent_dump_is_rolled_back(cli, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    table = dump / "tables" / "model_versions.jsonl"
    table.write_text(
        table.read_text().replace('"current_stage": "Staging"', '"current_stage": "Bogus"', 1)
    )
    data = manifest(dump)
    data["tables"]["model_versions"]["sha256"] = hashlib.sha256(table.read_bytes()).hexdigest()
    (dump / "manifest.json").write_text(json.dumps(data))

    empty = tmp_path / "empty"
    failed = invoke_cli(empty, "import", str(dump))
    assert failed.exit_code == 1
    assert failed.stderr.startswith("INVALID_STATE: The import was rolled back")
    assert "unknown stage" in failed.stderr
    target = RegistryClient(empty)
    assert list(target.search_registered_models()) == []
    assert list(target.search_runs()) == []


def test_progress_callback_reaches_every_total(client: RegistryClient, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    summary = export_registry(client, tmp_path / "dump", lambda *call: calls.append(call))
    finals = {task: (done, total) for task, done, total in calls}
    assert finals["rows"] == (sum(summary.rows.values()),) * 2
    assert finals["artifacts"] == (4, 4)


def test_progress_shows_on_a_terminal_but_never_with_json(
    cli, backend: str, tmp_path: Path
) -> None:
    terminal = {"TTY_COMPATIBLE": "1"}
    shown = cli("export", str(tmp_path / "shown"), env=terminal)
    assert shown.exit_code == 0
    if backend == "embedded":
        assert "Copying rows" in shown.stderr and "Copying artifacts" in shown.stderr
    else:
        assert "Transferring the dump" in shown.stderr
    quiet = cli("export", str(tmp_path / "quiet"), json_output=True, env=terminal)
    assert quiet.exit_code == 0
    assert quiet.stderr == ""
    assert quiet.json["artifacts"] == 4
    assert cli("export", str(tmp_path / "piped")).stderr == ""


def _rewrite(dump: Path, table: str, edit: Any) -> None:
    """Apply `edit` to a table's rows and reseal the manifest, as a careful forger would."""
    path = dump / "tables" / f"{table}.jsonl"
    rows = edit([json.loads(line) for line in path.read_text().splitlines()])
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    data = manifest(dump)
    data["tables"][table].update(
        rows=len(rows), sha256=hashlib.sha256(path.read_bytes()).hexdigest()
    )
    (dump / "manifest.json").write_text(json.dumps(data))


def _without(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != key}


def _first(changes: dict[str, Any]) -> Any:
    return lambda rows: [{**rows[0], **changes}, *rows[1:]]


def test_a_merge_refuses_rows_of_a_model_the_dump_lacks(
    cli, client: RegistryClient, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    _rewrite(dump, "model_version_tags", lambda rows: [*rows, {**rows[0], "vkey": 99 * 2**32 + 1}])
    before = snapshot(client)
    failed = cli("import", str(dump), "--on-conflict", "overwrite")
    assert failed.exit_code == 1
    assert failed.stderr.startswith("INVALID_STATE: The import was rolled back")
    assert "model id 99" in failed.stderr
    assert snapshot(client) == before


def test_dump_values_the_api_refuses_are_refused(cli, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    cases = [
        ("run_artifacts", {"path": "../../outside"}, "'..' path segments"),
        ("runs", {"run_id": "../run"}, "Invalid run id"),
        ("registered_models", {"name": "a/b"}, "must not contain '/'"),
        ("registered_model_aliases", {"alias": "latest"}, "is reserved"),
        ("model_versions", {"source": "s3://bucket/model"}, "scheme 's3' is not allowed"),
        ("registered_models", {"name": "bad/name"}, "must not contain '/'"),
        ("registered_model_tags", {"key": "\x1b[31mteam"}, "control or bidirectional"),
        ("run_params", {"value": "x" * 5001}, "Value of param"),
    ]
    for index, (table, changes, message) in enumerate(cases):
        forged = tmp_path / f"forged-{index}"
        shutil.copytree(dump, forged)
        _rewrite(forged, table, _first(changes))
        target = tmp_path / f"target-{index}"
        refused = invoke_cli(target, "import", str(forged))
        assert refused.exit_code == 1, table
        assert refused.stderr.startswith("INVALID_PARAMETER_VALUE: The export's " + table), table
        assert message in refused.stderr, table
        assert list(RegistryClient(target).search_registered_models()) == []
        assert RegistryClient(target).artifacts.digests() == set(), table  # nothing copied


def test_a_local_source_becomes_the_artifact_uri(cli, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    outside = str(tmp_path / "elsewhere" / "artifacts" / "model.skops")
    _rewrite(dump, "model_versions", _first({"source": outside}))
    target = tmp_path / "target"
    assert invoke_cli(target, "import", str(dump)).exit_code == 0
    first = RegistryClient(target).get_model_version(MODEL, 1)
    assert first.source == f"artifacts:/{first.artifact_sha256}"


def test_a_dump_of_an_older_schema_imports(cli, client: RegistryClient, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    # As if `signature`, `run_metrics` and MLflow's tables had come with later migrations.
    _rewrite(dump, "model_versions", lambda rows: [_without(row, "signature") for row in rows])
    later = ("run_metrics", *MLFLOW_TABLES)
    data = manifest(dump)
    data["schema_version"] = 2
    for table in later:
        (dump / "tables" / f"{table}.jsonl").unlink()
        del data["tables"][table]
    data["tables"]["model_versions"]["columns"].remove("signature")
    (dump / "manifest.json").write_text(json.dumps(data))

    target = tmp_path / "target"
    imported = invoke_cli(target, "import", str(dump), json_output=True)
    assert imported.exit_code == 0, imported.stderr
    assert all(imported.json["rows"][table] == 0 for table in later)
    exported, now = snapshot(client), snapshot(RegistryClient(target))
    assert [replace(v, signature=None) for v in exported["versions"]] == now["versions"]
    assert [replace(run, metrics={}) for run in exported["runs"]] == now["runs"]
    assert now["history"] == exported["history"]

    for name, change in (
        ("newer", {"schema_version": SCHEMA_VERSION + 1}),
        ("unknown table", {"tables": {**data["tables"], "users; --": data["tables"]["runs"]}}),
        (
            "unknown column",
            {"tables": {**data["tables"], "runs": {**data["tables"]["runs"], "columns": ["x"]}}},
        ),
    ):
        (dump / "manifest.json").write_text(json.dumps({**data, **change}))
        refused = invoke_cli(tmp_path / "refused", "import", str(dump))
        assert refused.stderr.startswith("INVALID_PARAMETER_VALUE: "), name


def _subscribe(client: RegistryClient) -> str:
    """A signed CI/CD webhook and an unsigned one; the signed one's secret."""
    secret = generate_secret()
    client.create_webhook(
        "deploy", "https://ci.example.com/hook", ["model_version.*"], secret=secret
    )
    client.create_webhook("audit", "http://localhost:9/audit", ["*"], description="all events")
    return secret


def test_webhooks_export_without_secrets_and_import_disabled(
    cli, client: RegistryClient, tmp_path: Path
) -> None:
    secret = _subscribe(client)
    dump = tmp_path / "dump"
    exported = cli("export", str(dump))
    assert exported.exit_code == 0, exported.stderr
    assert "Left out the signing secrets of deploy" in exported.stdout
    assert manifest(dump)["webhooks"]["rows"] == 2
    dumped = (dump / "webhooks.jsonl").read_text()
    assert secret not in dumped and '"has_secret": true' in dumped

    restored = tmp_path / "restored"
    imported = invoke_cli(restored, "import", str(dump), json_output=True)
    assert imported.exit_code == 0, imported.stderr
    assert (imported.json["webhooks"], imported.json["disabled_webhooks"]) == (2, ["deploy"])
    hooks = {hook.name: hook for hook in RegistryClient(restored).list_webhooks()}
    assert (hooks["deploy"].status, hooks["deploy"].has_secret) == ("DISABLED", False)
    assert (hooks["audit"].status, hooks["audit"].description) == ("ACTIVE", "all events")
    assert hooks["deploy"].events == ("model_version.*",)
    assert hooks["audit"].creation_timestamp == client.get_webhook("audit").creation_timestamp


def test_webhooks_export_with_secrets_keeps_them_signed(
    cli, client: RegistryClient, tmp_path: Path
) -> None:
    secret = _subscribe(client)
    dump = tmp_path / "dump"
    assert cli("export", str(dump), "--include-secrets").exit_code == 0
    assert (dump / "webhooks.jsonl").stat().st_mode & 0o777 == 0o600
    restored = tmp_path / "restored"
    assert invoke_cli(restored, "import", str(dump)).exit_code == 0
    target = RegistryClient(restored)
    assert target.get_webhook("deploy").status == "ACTIVE"
    target.close()
    with duckdb.connect(str(restored / "registry.duckdb")) as conn:
        stored = conn.execute("SELECT secret FROM webhooks WHERE name = 'deploy'").fetchone()
    assert stored == (secret,)


def test_webhook_names_conflict_as_models_do(cli, client: RegistryClient, tmp_path: Path) -> None:
    _subscribe(client)
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    other = tmp_path / "other"
    RegistryClient(other).create_webhook("deploy", "https://elsewhere.example.com/", ["*"])
    refused = invoke_cli(other, "import", str(dump))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("RESOURCE_ALREADY_EXISTS: The registry already holds ")
    assert "webhook(s) deploy" in refused.stderr
    assert list(RegistryClient(other).search_registered_models()) == []

    skipped = invoke_cli(other, "import", str(dump), "--on-conflict", "skip", json_output=True)
    assert skipped.json["skipped_webhooks"] == ["deploy"]
    assert RegistryClient(other).get_webhook("deploy").url == "https://elsewhere.example.com/"

    client.update_webhook("deploy", url="https://changed.example.com/")
    overwritten = cli("import", str(dump), "--on-conflict", "overwrite", json_output=True)
    assert overwritten.exit_code == 0, overwritten.stderr
    assert set(overwritten.json["overwritten_webhooks"]) == {"audit", "deploy"}
    assert client.get_webhook("deploy").url == "https://ci.example.com/hook"


def test_a_forged_webhook_is_refused(cli, client: RegistryClient, tmp_path: Path) -> None:
    _subscribe(client)
    dump = tmp_path / "dump"
    assert cli("export", str(dump)).exit_code == 0
    path = dump / "webhooks.jsonl"
    path.write_text(path.read_text().replace("https://ci.example.com/hook", "ftp://ci/hook"))
    data = manifest(dump)
    data["webhooks"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (dump / "manifest.json").write_text(json.dumps(data))
    target = tmp_path / "target"
    refused = invoke_cli(target, "import", str(dump))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("INVALID_PARAMETER_VALUE: The export's webhooks hold")
    assert RegistryClient(target).list_webhooks() == []
