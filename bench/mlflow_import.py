"""Import rate from MLflow: versions per second and artifact MB/s of `import_mlflow`.

An MLflow registry of `--models` x `--versions` is written with MLflow's own client into a SQLite
database with a local artifact folder (each version: a run with params and a metric history, and
a model folder holding an `MLmodel` and a `--artifact-kb` model file of distinct bytes), then
imported into a fresh registry once, timed; a second, no-op import is timed too.

    .venv/bin/python bench/mlflow_import.py                       # 100 x 100 (slow to seed)
    .venv/bin/python bench/mlflow_import.py --models 10 --versions 10
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from registry_core.client import RegistryClient

MLMODEL = """flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
mlflow_version: 3.17.0
"""
METRIC_STEPS = 5


def seed(tracking_uri: str, artifacts: Path, models: int, versions: int, size: int) -> float:
    """Write the MLflow registry; the seconds it took."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    started = time.perf_counter()
    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("bench", artifact_location=artifacts.as_uri())
    folder = artifacts.parent / "model"
    folder.mkdir(exist_ok=True)
    (folder / "MLmodel").write_text(MLMODEL)
    for m in range(models):
        name = f"model-{m:03d}"
        client.create_registered_model(name, tags={"team": f"team-{m % 10}"})
        for v in range(versions):
            (folder / "model.pkl").write_bytes(os.urandom(size))
            run = client.create_run(experiment, run_name=f"{name}-{v}")
            rid = run.info.run_id
            metrics = [Metric("loss", 1 / (s + 1), 1_700_000_000_000 + s, s) for s in range(5)]
            client.log_batch(rid, metrics=metrics, params=[Param("version", str(v))])
            client.log_artifacts(rid, str(folder), "model")
            client.set_terminated(rid)
            client.create_model_version(name, f"{run.info.artifact_uri}/model", rid)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--artifact-kb", type=int, default=64)
    parser.add_argument("--out", default="bench/results/mlflow_import.json")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-import-") as work:
        root = Path(work)
        uri = f"sqlite:///{root / 'mlflow.db'}"
        seeded = seed(uri, root / "artifacts", args.models, args.versions, args.artifact_kb * 1024)
        client = RegistryClient(root / "registry")
        started = time.perf_counter()
        summary = client.import_mlflow(uri)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = client.import_mlflow(uri)
        noop = time.perf_counter() - started
    assert summary.versions == args.models * args.versions and again.versions == 0
    report = {
        "models": args.models,
        "versions_per_model": args.versions,
        "artifact_kb": args.artifact_kb,
        "seed_seconds": round(seeded, 2),
        "import_seconds": round(seconds, 2),
        "versions_per_second": round(summary.versions / seconds, 1),
        "artifact_mb_per_second": round(summary.bytes / 1e6 / seconds, 2),
        "artifact_bytes": summary.bytes,
        "runs": summary.runs,
        "metric_values": summary.metrics,
        "noop_import_seconds": round(noop, 2),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
