"""MLflow itself for the import tests: its tracking server on a SQLite file, and the seed
documents' workflows run with MLflow's own client."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

_START_TIMEOUT = 180.0
MLFLOW = str(Path(sys.executable).with_name("mlflow"))
QUIET_MLFLOW = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
"""No telemetry calls, no background job runner, no download bars: a faster, quieter MLflow."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """`mlflow server` on a SQLite file and an artifact folder, until the block ends."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [
            MLFLOW,
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
        env={**os.environ, **QUIET_MLFLOW},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, folder / "server.log")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"mlflow server did not answer /health: {log.read_text()[-2000:]}")


def _leaves_no_active_experiment(seeding: Callable[[str], None]) -> Callable[[str], None]:
    """`mlflow.set_experiment` sets MLFLOW_EXPERIMENT_ID in this process's environment, which
    later tests and their subprocesses would inherit and send to another server; undo it."""

    @functools.wraps(seeding)
    def seeded(tracking_uri: str) -> None:
        try:
            seeding(tracking_uri)
        finally:
            from mlflow.tracking import fluent

            fluent._active_experiment_id = None
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
            os.environ.pop("MLFLOW_TRACKING_URI", None)

    return seeded


def _house_data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.uniform(0, 10, size=(200, 3)), columns=["f1", "f2", "f3"])
    price = 2 * frame.f1 + 3 * frame.f2 - 0.5 * frame.f3 + rng.normal(0, 1, 200) + 50
    return frame, price


def _labels(frame: pd.DataFrame) -> pd.Series:
    return (frame.f1 + frame.f2 > 10).astype(int)


@_leaves_no_active_experiment
def seed(tracking_uri: str) -> None:
    """The seed documents' workflows, with MLflow: HousePricePredictor v1 and v2 to Staging and
    Production (pickled, as MLflow 2 saved them), churn-predictor with a failed validation and
    an archived version, wine-quality-classifier with descriptions, `approved_by` and the
    `champion` alias."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    frame, price = _house_data()
    mlflow.set_experiment("house-prices")
    for run_name, model, params in (
        ("Linear_Regression_V1", LinearRegression(), {"fit_intercept": True}),
        ("Ridge_V2", Ridge(alpha=1.0), {"alpha": 1.0}),
    ):
        with mlflow.start_run(run_name=run_name):
            mlflow.log_params(params)
            model.fit(frame, price)
            for step in range(3):
                mlflow.log_metric("rmse", 3.0 - step * 0.5, step=step)
            mlflow.log_metric("r2", float(model.score(frame, price)))
            mlflow.set_tag("team", "pricing")
            mlflow.sklearn.log_model(
                model,
                name="linear_regression_model",
                registered_model_name="HousePricePredictor",
                input_example=frame[:5],
                serialization_format="cloudpickle",
                pip_requirements=["scikit-learn"],
            )
    client.transition_model_version_stage("HousePricePredictor", "1", "Staging")
    client.transition_model_version_stage("HousePricePredictor", "2", "Production")

    mlflow.set_experiment("churn")
    labels = _labels(frame)
    for c in (0.1, 1.0, 10.0):
        with mlflow.start_run(run_name=f"churn-C{c}"):
            mlflow.log_param("C", c)
            model = LogisticRegression(C=c).fit(frame, labels)
            mlflow.log_metric("accuracy", float(model.score(frame, labels)))
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name="churn-predictor",
                pip_requirements=["scikit-learn"],
            )
    client.set_model_version_tag("churn-predictor", "2", "validation", "failed")
    client.set_model_version_tag("churn-predictor", "2", "validation_reason", "recall < 0.8")
    client.transition_model_version_stage("churn-predictor", "1", "Production")
    client.transition_model_version_stage("churn-predictor", "1", "Archived")
    client.transition_model_version_stage("churn-predictor", "3", "Production")

    mlflow.set_experiment("wine")
    client.create_registered_model(
        "wine-quality-classifier",
        tags={"domain": "wine"},
        description="Predicts wine quality from its chemistry.",
    )
    for trees in (10, 20):
        with mlflow.start_run(run_name=f"forest-{trees}"):
            mlflow.log_param("n_estimators", trees)
            model = RandomForestClassifier(n_estimators=trees, random_state=0).fit(frame, labels)
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name="wine-quality-classifier",
                input_example=frame[:3],
                serialization_format="cloudpickle",
                pip_requirements=["scikit-learn"],
            )
    client.update_model_version("wine-quality-classifier", "1", "First forest, 10 trees.")
    client.update_model_version("wine-quality-classifier", "2", "Twenty trees.")
    client.set_model_version_tag("wine-quality-classifier", "1", "approved_by", "alice")
    client.set_registered_model_alias("wine-quality-classifier", "champion", "1")
    client.transition_model_version_stage("wine-quality-classifier", "1", "Production")


@_leaves_no_active_experiment
def seed_small(tracking_uri: str) -> None:
    """A small registry written by MLflow straight into its store (no server): one model, two
    versions, a stage and an alias."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.linear_model import LinearRegression

    frame, price = _house_data()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("small")
    for number in range(2):
        with mlflow.start_run(run_name=f"small-{number}"):
            mlflow.log_param("number", number)
            for step in range(2):
                mlflow.log_metric("loss", 1.0 / (step + 1 + number), step=step)
            mlflow.sklearn.log_model(
                LinearRegression().fit(frame, price),
                name="model",
                registered_model_name="small",
                pip_requirements=["scikit-learn"],
            )
    client = MlflowClient(tracking_uri)
    client.transition_model_version_stage("small", "1", "Production")
    client.set_registered_model_alias("small", "champion", "2")
