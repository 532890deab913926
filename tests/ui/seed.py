"""A small registry as the lifecycle leaves it, built through the public client: two models with
runs (params, metrics, data fingerprints, scikit-learn artifacts, Dagster source info), stages,
aliases, validation outcomes and history; and one token per role."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from registry_core.client import RegistryClient
from registry_core.config import ENV_ACTOR
from registry_core.entities import ROLES

CHURN = "churn-predictor"
WINE = "wine-quality"
EMPTY = "empty-model"
CHURN_ACCURACY = (0.81, 0.84, 0.83, 0.87, 0.86)
CHURN_PARAMS = ("0.1", "1.0", "1.0", "3.0", "10.0")


@dataclass(frozen=True)
class Seeded:
    """Where the registry is and the secret of each role's token (named after the role)."""

    path: Path
    tokens: dict[str, str]


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"tenure": rng.normal(24, 8, 80), "spend": rng.uniform(0, 100, 80)})


def _version(client: RegistryClient, name: str, index: int, accuracy: float, c: str) -> str:
    frame = _frame(index)
    dagster_run = f"{index:08x}-aaaa-bbbb-cccc-{index:012x}"
    run = client.create_run(
        f"{name}-{index}",
        code_version=f"{index:07x}0c0ffee",
        source_info={
            "dagster_run_id": dagster_run,
            "dagster_job": f"{name.replace('-', '_')}_lifecycle",
            "asset_key": f"{name.replace('-', '_')}/trained_model",
        },
    )
    client.log_batch(
        run.run_id,
        params={"C": c, "solver": "lbfgs", "max_iter": "200"},
        tags={"model": name},
    )
    client.log_metric(run.run_id, "accuracy", accuracy)
    client.log_metric(run.run_id, "f1", round(accuracy - 0.04, 4))
    client.log_metric(run.run_id, "log_loss", round(1.2 - accuracy, 4))
    client.log_input(run.run_id, frame)
    model = LogisticRegression(C=float(c)).fit(frame, (frame.spend > 50).astype(int))
    client.log_model_artifact(run.run_id, model, "model", input_example=frame.head(3))
    client.set_terminated(run.run_id)
    mv = client.create_model_version(
        name,
        f"runs:/{run.run_id}/model",
        run_id=run.run_id,
        tags={"dagster_run_id": dagster_run},
        description=f"Trained and registered by Dagster run {dagster_run}.",
    )
    return mv.version


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Record runs under `actor`, as a Dagster deployment's own identity."""
    before = os.environ.get(ENV_ACTOR)
    os.environ[ENV_ACTOR] = actor
    try:
        yield
    finally:
        if before is None:
            del os.environ[ENV_ACTOR]
        else:
            os.environ[ENV_ACTOR] = before


def build(path: Path) -> Seeded:
    """Build the registry at `path`."""
    with acting_as("dagster"):
        return _build(path)


def _build(path: Path) -> Seeded:
    client = RegistryClient(path)
    client.create_registered_model(
        CHURN, tags={"team": "growth"}, description="Predicts which customers will churn."
    )
    for index, (accuracy, c) in enumerate(zip(CHURN_ACCURACY, CHURN_PARAMS, strict=True), 1):
        version = _version(client, CHURN, index, accuracy, c)
        client.transition_model_version_stage(CHURN, version, "Staging", actor="dagster")
        failures = [] if accuracy >= 0.83 else ["accuracy 0.81 < 0.83"]
        client.record_validation(CHURN, version, failures, {"accuracy": accuracy}, actor="dagster")
    client.transition_model_version_stage(
        CHURN, 2, "Production", archive_existing_versions=True, actor="alice", reason="first pass"
    )
    client.transition_model_version_stage(
        CHURN, 4, "Production", archive_existing_versions=True, actor="alice", reason="better f1"
    )
    client.set_registered_model_alias(CHURN, "champion", 4, actor="alice")
    client.set_registered_model_alias(CHURN, "challenger", 5, actor="bob")

    client.create_registered_model(WINE, tags={"team": "quality"}, description="Wine grades.")
    for index, accuracy in enumerate((0.71, 0.74), start=11):
        _version(client, WINE, index, accuracy, "1.0")
    client.transition_model_version_stage(WINE, 2, "Production", actor="carol")
    client.create_registered_model(EMPTY, description="No versions yet.")

    tokens = {role: client.create_token(role, role)[1] for role in ROLES}
    client.close()
    return Seeded(path, tokens)
