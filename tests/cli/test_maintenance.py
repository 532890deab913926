"""`load-check`, `gc` and `doctor` on real artifacts: verified, tampered, missing and untrusted."""

from __future__ import annotations

import operator
from pathlib import Path

import duckdb
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from registry_core.client import RegistryClient
from tests.cli.conftest import MODEL


def _tamper(client: RegistryClient, digest: str) -> None:
    path = client.artifacts.path_for(digest)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_load_check_passes_and_reports_what_it_loaded(cli, client: RegistryClient) -> None:
    mv = client.get_model_version(MODEL, 2)
    table = cli("load-check", f"models:/{MODEL}/Production")
    assert table.exit_code == 0
    assert mv.artifact_sha256 in table.stdout and "LogisticRegression" in table.stdout

    data = cli("load-check", f"models:/{MODEL}@champion", json_output=True).json
    assert (data["name"], data["version"], data["stage"]) == (MODEL, "2", "Production")
    assert (data["sha256"], data["format"]) == (mv.artifact_sha256, "skops")
    assert data["model_class"] == "sklearn.linear_model._logistic.LogisticRegression"

    by_run = cli("load-check", f"runs:/{mv.run_id}/model", json_output=True).json
    assert (by_run["name"], by_run["run_id"]) == (None, mv.run_id)


def test_load_check_refuses_pickle_unless_allowed(cli) -> None:
    refused = cli("load-check", "models:/legacy/1")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("INVALID_PARAMETER_VALUE: Refusing to load a pickle model")
    allowed = cli("load-check", "models:/legacy/1", "--allow-pickle", json_output=True)
    assert allowed.exit_code == 0
    assert allowed.json["format"] == "pickle"


def test_load_check_trust_option(cli, client: RegistryClient) -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    model = make_pipeline(FunctionTransformer(operator.neg), LogisticRegression())
    model.fit(frame, [0, 0, 1, 1])
    run = client.create_run("custom")
    client.log_model_artifact(run.run_id, model, "model", input_example=frame)
    client.create_registered_model("negated")
    client.create_model_version("negated", f"runs:/{run.run_id}/model")

    untrusted = cli("load-check", "models:/negated/1")
    assert untrusted.exit_code == 1
    assert "_operator.neg" in untrusted.stderr
    assert cli("load-check", "models:/negated/1", "--trust", "_operator.neg").exit_code == 0


def test_load_check_fails_on_tampered_or_unknown_models(cli, client: RegistryClient) -> None:
    _tamper(client, client.get_model_version(MODEL, 3).artifact_sha256)
    tampered = cli("load-check", f"models:/{MODEL}/Staging")
    assert tampered.exit_code == 1
    assert tampered.stderr.startswith("DATA_LOSS: ") and "checksum mismatch" in tampered.stderr
    assert cli("load-check", f"models:/{MODEL}/7").exit_code == 1
    assert cli("load-check", "s3://bucket/model").exit_code == 1


def test_doctor_passes_on_a_sound_registry(cli) -> None:
    table = cli("doctor")
    assert table.exit_code == 0, table.stdout
    assert "No problems found." in table.stdout
    data = cli("doctor", json_output=True).json
    assert data["ok"] is True
    assert (data["versions"], data["runs"], data["artifacts"]) == (4, 4, 4)


def test_doctor_finds_tampered_and_missing_artifacts(cli, client: RegistryClient) -> None:
    tampered = client.get_model_version(MODEL, 2)
    missing = client.get_model_version(MODEL, 1)
    _tamper(client, tampered.artifact_sha256)
    client.artifacts.path_for(missing.artifact_sha256).unlink()

    outcome = cli("doctor", json_output=True)
    assert outcome.exit_code == 1
    assert outcome.stderr.startswith("DATA_LOSS: doctor found 4 problem(s).")
    findings = {(f["check"], f["subject"]): f["message"] for f in outcome.json["findings"]}
    assert "checksum mismatch" in findings[("artifact", tampered.uri)]
    assert "checksum mismatch" in findings[("artifact", f"runs:/{tampered.run_id}/model")]
    assert "is missing" in findings[("artifact", missing.uri)]
    assert "is missing" in findings[("artifact", f"runs:/{missing.run_id}/model")]

    table = cli("doctor")
    assert table.exit_code == 1
    assert "checksum mismatch" in table.stdout and tampered.uri in table.stdout


def test_doctor_finds_two_production_versions_after_an_archiving_promotion(
    cli, registry: Path
) -> None:
    RegistryClient(registry).close()
    with duckdb.connect(str(registry / "registry.duckdb")) as conn:
        conn.execute(
            "UPDATE model_versions SET current_stage = 'Production' WHERE version = 1 AND "
            "model_id = (SELECT id FROM registered_models WHERE name = ?)",
            [MODEL],
        )
    outcome = cli("doctor", json_output=True)
    assert outcome.exit_code == 1
    assert outcome.stderr.startswith("INVALID_STATE: ")
    checks = {finding["check"]: finding for finding in outcome.json["findings"]}
    assert checks["production"]["subject"] == f"model {MODEL}"
    assert "versions 1, 2 are all in Production" in checks["production"]["message"]
    assert "disagrees with the history" in checks["consistency"]["message"]


def test_doctor_accepts_two_production_versions_without_archiving(cli) -> None:
    assert cli("transition", MODEL, "3", "Production").exit_code == 0
    assert cli("doctor").exit_code == 0


def test_gc_dry_run_then_removal(cli, client: RegistryClient) -> None:
    orphan = client.artifacts.put_bytes(b"left behind by a crashed writer")
    assert cli("gc", "--dry-run", json_output=True).json["count"] == 0
    planned = cli("gc", "--dry-run", "--grace-seconds", "0", json_output=True).json
    assert planned["dry_run"] is True
    assert [ref["sha256"] for ref in planned["removed"]] == [orphan.sha256]
    assert client.artifacts.exists(orphan.sha256)

    removed = cli("gc", "--grace-seconds", "0")
    assert removed.exit_code == 0
    assert orphan.sha256 in removed.stdout and "Removed 1 artifact file(s)" in removed.stdout
    assert not client.artifacts.exists(orphan.sha256)
    assert cli("doctor").exit_code == 0
    assert cli("gc", "--grace-seconds", "-1").exit_code == 2
