"""The example user project (`examples/churn_project`), run with this venv and nothing installed:
`dg list components` lists the component, `dg scaffold defs` writes a model that loads and runs,
`dg check defs` passes (and names a bad field), the chains materialize, the sensor promotes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from registry_core.config import ENV_URI
from registry_pipelines.resources import RegistryResource

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "churn_project"
DG = Path(sys.executable).with_name("dg")
COMPONENT = "registry_pipelines.ModelLifecycleComponent"


def dg_command(project: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `dg` in the project with this venv's interpreter and the project's src on the path."""
    env = {
        **os.environ,
        "PATH": f"{DG.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(project / "src"),
        "DAGSTER_HOME": str(home),
        "DAGSTER_DISABLE_TELEMETRY": "yes",
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(DG), *args], cwd=project, env=env, capture_output=True, text=True, timeout=240
    )


@pytest.mark.timeout(600)
def test_example_project_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "churn_project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("data", "__pycache__"))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    listed = dg_command(project, home, "list", "components")
    assert listed.returncode == 0, listed.stderr
    assert COMPONENT in listed.stdout

    scaffolded = dg_command(project, home, "scaffold", "defs", COMPONENT, "house_model")
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    defs_yaml = project / "src" / "churn_project" / "defs" / "house_model" / "defs.yaml"
    assert f"type: {COMPONENT}" in defs_yaml.read_text()

    checked = dg_command(project, home, "check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout

    monkeypatch.syspath_prepend(str(project / "src"))
    from churn_project.defs.features import CUSTOMERS_ENV
    from churn_project.generate import write

    monkeypatch.setenv(CUSTOMERS_ENV, str(write(tmp_path / "customers.parquet", rows=800)))
    defs = dg.load_from_defs_folder(path_within_project=project / "src" / "churn_project")
    monkeypatch.setenv(ENV_URI, str(tmp_path / "registry"))  # what the bound resource reads
    registry = RegistryResource(registry_uri=str(tmp_path / "registry"))
    chain = [
        dg.AssetKey(["customer_churn", step])
        for step in ("training_data", "trained_model", "evaluation", "registered_version")
    ]
    graph = defs.resolve_asset_graph()
    assert graph.get(chain[0]).parent_keys == {dg.AssetKey("customer_features")}
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        job = defs.resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[
                dg.AssetKey("customer_features"),
                *chain,
                *(dg.AssetKey(["house_model", key.path[-1]]) for key in chain),
            ],
        )
        assert result.success
        checks = {
            (e.asset_key.path[0], e.check_name): e.passed
            for e in result.get_asset_check_evaluations()
        }
        assert checks and all(checks.values()), checks

        client = registry.client()
        mv = client.get_model_version("customer-churn", 1)
        assert mv.artifact_format == "xgboost_ubj"
        assert mv.tags["validation"] == "passed"
        assert "cancellations_caught" in client.get_run(mv.run_id).metrics

        sensor = defs.resolve_sensor_def("customer_churn_promotion_sensor")
        with dg.build_sensor_context(instance=instance) as context:
            requests = sensor.evaluate_tick(context).run_requests
        assert [r.run_key for r in requests] == ["promote:customer-churn:1"]
        promotion = defs.resolve_job_def(requests[0].job_name).execute_in_process(
            run_config=requests[0].run_config,
            instance=instance,
            tags={**requests[0].tags, "dagster/sensor_name": sensor.name},
        )
        assert promotion.success
    assert client.get_model_version("customer-churn", 1).current_stage == "Production"
    assert client.get_model_version_by_alias("customer-churn", "champion").version == "1"
    assert client.get_model_version("house_model", 1).current_stage == "Staging"

    model_yaml = project / "src" / "churn_project" / "defs" / "churn_model" / "defs.yaml"
    model_yaml.write_text(model_yaml.read_text().replace("test_size: 0.25", "test_size: 2"))
    broken = dg_command(project, home, "check", "defs")
    assert broken.returncode == 1
    assert "attributes.data.test_size" in broken.stdout + broken.stderr
    model_yaml.write_text(
        model_yaml.read_text()
        .replace("test_size: 2", "test_size: 0.25")
        .replace("- f1\n", "- f2\n")
    )
    broken = dg_command(project, home, "check", "defs")
    assert broken.returncode == 1
    assert "metrics[2]: unknown metric 'f2'" in broken.stdout + broken.stderr
